"""The answer chain (the `Assistant` Runnable and `answer()`/`stream_answer()`): real model, real Chroma index."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from langchain_core.runnables import RunnableLambda

from assistant.answering.chain import Assistant
from assistant.cli import cli
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.errors import QuestionError
from assistant.store.sync import sync
from assistant.types import NOT_FOUND, NOT_FOUND_ZH, Answer
from tests.conftest import write
from tests.index_runs import assert_one_line_error
from tests.samples import LEVY, LEVY_DOC, RQF


@pytest.fixture(scope="module")
def assistant(shipped_index: Settings) -> Assistant:
    return Assistant(shipped_index)


@pytest.mark.parametrize(
    ("question", "fact", "source"),
    [
        ("When did T Levels launch?", "September 2020", "t-levels-guide-for-partners.html"),
        ("When did the RQF start?", "1 October 2015", "regulated-qualifications-framework-explainer.md"),
        ("When did the revised Vocational Education Law take effect?", "1 May 2022",
         "china-vocational-education-law-2022-briefing.pdf"),
        ("Which award did the UK receive at the 2021 China International Education Annual Conference?",
         "Excellent Partner", "2021-excellent-partner-award-china-international-education-conference.md"),
        ("Which UK minister signed the 2011 vocational education memorandum?", "John Hayes",
         "2011-uk-china-vocational-education-mou-john-hayes.md"),
        ("What share of trainees in the hospitality skills project understood the UK apprenticeship model better?",
         "97%", "uk-china-global-hospitality-skills-modern-apprenticeships-project.md"),
        ("英国在2021年中国国际教育年会上获得了什么称号？", "优秀合作伙伴", "zhong-ying-zhiye-jiaoyu-hezuo-dashiji.md"),
    ],
)
def test_answers_hold_the_fact_and_cite_its_document(assistant: Assistant, question: str, fact: str,
                                                      source: str) -> None:
    result = assistant.answer(question)
    assert result.found
    assert fact in result.text
    assert "[1]" in result.text
    assert result.sources[0].number == 1
    cited = {s.path for s in result.sources}
    assert source in cited
    # the sentence holding the fact cites a source whose snippet holds it too
    assert any(fact in s.snippet for s in result.sources)
    assert len(result.text.split()) <= 100


def test_the_answer_says_which_of_its_words_answer(assistant: Assistant) -> None:
    result = assistant.answer("When did the RQF start?")
    assert result.phrase == "1 October 2015" and result.phrase in result.text


@pytest.mark.parametrize(
    "question",
    ["What is the capital of France?", "How do I bake sourdough bread?", "Who won the 1998 football World Cup?"],
)
def test_out_of_domain_questions_are_declined(assistant: Assistant, question: str) -> None:
    result = assistant.answer(question)
    assert (result.found, result.text, result.sources) == (False, NOT_FOUND, [])


@pytest.mark.parametrize(
    ("near_miss", "answerable"),
    [
        ("What was agreed at the sixth UK–China High-Level People to People Dialogue?",
         "When was the fifth UK–China High-Level People to People Dialogue held?"),
        ("Where will the 2026 World Vocational and Technical Education Development Conference be held?",
         "Where was the 2022 World Vocational and Technical Education Development Conference held?"),
        ("中英高级别人文交流机制第六次会议是在什么时间召开的？",
         "中英高级别人文交流机制第五次会议是在什么时间召开的？"),
        ("How many Double High colleges are located in Jiangsu province?",
         "How many high-level higher vocational colleges would the Double High plan develop?"),
        ("What did Margaret Thornton say about T Levels?", "What did Gavin Williamson say about T Levels?"),
    ],
)
def test_a_year_ordinal_or_name_the_documents_never_mention_is_declined(
    assistant: Assistant, near_miss: str, answerable: str
) -> None:
    assert not assistant.answer(near_miss).found
    assert assistant.answer(answerable).found


@pytest.mark.parametrize(
    ("title", "found"),
    [("The 2022 Tianjin conference", True), ("A conference in Tianjin", False), ("The 2022 conference", False)],
)
def test_a_document_title_holds_figures_and_names_for_its_passages(
    settings: Settings, embeddings: LocalEmbeddings, title: str, found: bool
) -> None:
    body = "The conference adopted a declaration on vocational skills. Delegates from 32 countries attended."
    write(settings.docs_dir, "conference.md", f"---\ntitle: {title}\n---\n\n{body}\n")
    sync(settings, embeddings=embeddings)
    result = Assistant(settings, embeddings=embeddings).answer("What did the 2022 Tianjin conference adopt?")
    assert result.found is found


def test_a_chinese_question_is_declined_in_chinese(assistant: Assistant) -> None:
    result = assistant.answer("法国的首都是哪里？")
    assert (result.found, result.text, result.sources) == (False, NOT_FOUND_ZH, [])


def test_follow_up_carries_the_subject(assistant: Assistant) -> None:
    first = assistant.answer("What is the RQF?")
    follow = assistant.answer("When did it start?", history=[("What is the RQF?", first.text)])
    assert "RQF" in follow.query
    assert "1 October 2015" in follow.text
    assert follow.sources[0].path == "regulated-qualifications-framework-explainer.md"


def test_stream_yields_pieces_then_the_answer(assistant: Assistant) -> None:
    items = list(assistant.stream("What is the apprenticeship levy?"))
    *pieces, final = items
    assert isinstance(final, Answer) and pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip() == final.text


# -- bad questions


@pytest.mark.parametrize(
    ("question", "reason"),
    [("", "empty"), ("   \n ", "empty"), ("x" * 2001, "limit is 2000"), ("\x00\x01\x02\x03", "not readable"),
     (b"bytes", "must be text")],
)
def test_bad_questions_get_a_clear_error(assistant: Assistant, question: object, reason: str) -> None:
    with pytest.raises(QuestionError, match=reason):
        assistant.answer(question)


@pytest.fixture(scope="module")
def levy_index(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Path:
    root = tmp_path_factory.mktemp("levy")
    write(root / "documents", "levy.md", LEVY)
    settings = Settings(docs_dir=root / "documents", index_dir=root / "index")
    sync(settings, embeddings=embeddings)
    return settings.index_dir


LONG_QUESTION = "When did the apprenticeship levy start " + "and why " * 620 + "?"


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "the question is empty"),
        (" \t\n  ", "the question is empty"),
        ("x" * 5000, "the question is 5000 characters long; the limit is 2000"),
        (LONG_QUESTION, f"the question is {len(LONG_QUESTION.strip())} characters long; the limit is 2000"),
        ("\x00\x01\x02\x03\x04\x05", "the question is not readable text"),
        ("\x7f\x1b[2J\x1b[31m\x08\x08", "the question is not readable text"),
        ("?!... ---", "the question is not readable text"),
    ],
)
def test_a_bad_question_is_refused_in_one_short_line(
    levy_index: Path, embeddings: LocalEmbeddings, monkeypatch: pytest.MonkeyPatch, question: str, message: str
) -> None:
    assistant = Assistant(Settings(index_dir=levy_index), embeddings=embeddings)
    with pytest.raises(QuestionError, match=re.escape(message)):
        assistant.answer(question)
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(levy_index))
    result = CliRunner().invoke(cli, ["ask", question])
    line = assert_one_line_error(result, message)
    assert len(line) < 200  # the question itself is never echoed back
    assert result.stdout == ""


# -- the Python API and the LangChain face, as users call them


@pytest.fixture
def two_facts(settings: Settings, embeddings: LocalEmbeddings) -> Settings:
    """Two small documents, indexed in this test's own folders."""
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    write(settings.docs_dir, "rqf.md", f"# Regulated Qualifications Framework\n\n{RQF}\n")
    assert sync(settings, embeddings=embeddings).failed == []
    return settings


def test_the_readme_python_api_in_a_fresh_process(two_facts: Settings) -> None:
    # Exactly the README's calls, in an interpreter that has loaded nothing yet.
    code = textwrap.dedent(
        """
        import json
        from assistant import answer, stream_answer, Answer, Source

        a = answer("When did the apprenticeship levy start?")
        pieces = list(stream_answer("When did the apprenticeship levy start?"))
        *text, final = pieces
        print(json.dumps({
            "found": a.found, "text": a.text, "sources": [s.path for s in a.sources],
            "pieces_are_text": bool(text) and all(isinstance(p, str) for p in text),
            "final_is_answer": isinstance(final, Answer), "final_found": final.found,
            "final_text": final.text, "joined": "".join(text).strip(),
        }))
        """
    )
    env = {**os.environ, "ASSISTANT_DOCS_DIR": str(two_facts.docs_dir),
           "ASSISTANT_INDEX_DIR": str(two_facts.index_dir)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["found"] and "6 April 2017" in result["text"]
    assert result["sources"][0] == "levy.md"
    assert result["pieces_are_text"] and result["final_is_answer"] and result["final_found"]
    assert result["joined"] == result["final_text"] == result["text"]


def test_the_assistant_composes_in_an_lcel_chain(two_facts: Settings, embeddings: LocalEmbeddings) -> None:
    assistant = Assistant(two_facts, embeddings=embeddings)
    chain = RunnableLambda(str.strip) | assistant | RunnableLambda(lambda answer: answer.text)

    levy = chain.invoke("  When did the apprenticeship levy start?\n")
    assert "6 April 2017" in levy and "[1]" in levy

    both = chain.batch(["When did the apprenticeship levy start?",
                        "When did the Regulated Qualifications Framework start?"])
    assert both[0] == levy and "1 October 2015" in both[1]

    streamed = list(chain.stream("When did the apprenticeship levy start?"))
    assert streamed and streamed[-1] == levy

    answered = asyncio.run(assistant.ainvoke("When did the apprenticeship levy start?"))
    assert isinstance(answered, Answer) and answered.found and answered.text == levy
    assert answered.sources[0].path == "levy.md"


# -- chat history is bounded and checked like a question


def test_history_is_checked_and_bounded_like_a_question(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    sync(settings, embeddings=embeddings)
    assistant = Assistant(settings, embeddings=embeddings)
    start = time.monotonic()
    with pytest.raises(QuestionError, match="chat history turn 1: the question is 10,?000,?000 characters long"):
        assistant.invoke({"question": "And when?", "history": [("x" * 10_000_000, "y")]})
    assert time.monotonic() - start < 2
    for history, reason in (
        ("not a list", "must be a list of"),
        ([["only one"]], r"is not a \[question, answer\] pair"),
        ([["When?", "\ud800"]], "lone surrogate"),
    ):
        with pytest.raises(QuestionError, match=reason):
            assistant.invoke({"question": "And when?", "history": history})
    with pytest.raises(QuestionError, match="lone surrogate"):
        assistant.invoke("When did the levy start?\ud800")
    long_answer = assistant.invoke({"question": "When did it start?", "history": [("The levy?", "z" * 10_000_000)]})
    assert long_answer.found
