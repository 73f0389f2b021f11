"""The answer chain on the shipped corpus, with the real model and a real Chroma index."""

import json
import shutil

import pytest
from click.testing import CliRunner

from assistant.answering.chain import Assistant
from assistant.answering.citations import CitationNumbering
from assistant.cli import cli
from assistant.config import Settings
from assistant.errors import QuestionError
from assistant.store.sync import sync
from assistant.types import NOT_FOUND, Answer, Passage
from tests.conftest import SHIPPED_DOCS


@pytest.fixture(scope="module")
def shipped_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("shipped")
    shutil.copytree(SHIPPED_DOCS, root / "documents")
    settings = Settings(docs_dir=root / "documents", index_dir=root / "index")
    sync(settings)
    return settings


@pytest.fixture(scope="module")
def assistant(shipped_settings: Settings) -> Assistant:
    return Assistant(shipped_settings)


@pytest.mark.parametrize(
    ("question", "fact", "source"),
    [
        ("When did T Levels launch?", "September 2020", "t-levels.md"),
        ("When did the RQF start?", "1 October 2015", "regulated-qualifications-framework-rqf.md"),
        ("What is the rate of the apprenticeship levy?", "0.5%", "apprenticeship-levy.md"),
        ("When did the revised Vocational Education Law take effect?", "1 May 2022",
         "china-vocational-education-law-2022.md"),
        ("Which award did the UK receive at the 2021 China International Education Annual Conference?",
         "Excellent Partner", "excellent-partner-award-2021.md"),
        ("Who signed the 2026 memorandum on vocational skills?", "Peter Kyle",
         "vocational-skills-memorandum-2026.md"),
        ("What share of trainees in the hospitality skills project understood the UK apprenticeship model better?",
         "97%", "modern-apprenticeships-and-hospitality-skills-project.md"),
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


@pytest.mark.parametrize(
    "question",
    ["What is the capital of France?", "How do I bake sourdough bread?", "Who won the 1998 football World Cup?"],
)
def test_out_of_domain_questions_are_declined(assistant: Assistant, question: str) -> None:
    result = assistant.answer(question)
    assert (result.found, result.text, result.sources) == (False, NOT_FOUND, [])


def test_follow_up_carries_the_subject(assistant: Assistant) -> None:
    first = assistant.answer("What is the RQF?")
    follow = assistant.answer("When did it start?", history=[("What is the RQF?", first.text)])
    assert "RQF" in follow.query
    assert "1 October 2015" in follow.text
    assert follow.sources[0].path == "regulated-qualifications-framework-rqf.md"


def test_stream_yields_pieces_then_the_answer(assistant: Assistant) -> None:
    items = list(assistant.stream("What is the apprenticeship levy?"))
    *pieces, final = items
    assert isinstance(final, Answer) and pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip() == final.text


@pytest.mark.parametrize(
    ("question", "reason"),
    [("", "empty"), ("   \n ", "empty"), ("x" * 2001, "limit is 2000"), ("\x00\x01\x02\x03", "not readable"),
     (b"bytes", "must be text")],
)
def test_bad_questions_get_a_clear_error(assistant: Assistant, question: object, reason: str) -> None:
    with pytest.raises(QuestionError, match=reason):
        assistant.answer(question)


def _passage(source: str, text: str) -> Passage:
    return Passage(ids=[source], text=text, metadata={"source": source, "title": source},
                   similarity=0.5, coverage=0.5)


def test_citations_are_renumbered_in_order_of_first_use_even_when_split() -> None:
    numbering = CitationNumbering([_passage("a.md", "A"), _passage("b.md", "B"), _passage("c.md", "C")])
    out = "".join(numbering.feed(p) for p in ["First [", "3] then [1", "] again [3] and [9] gone."])
    out += numbering.flush()
    assert out == "First [1] then [2] again [1] and  gone."
    assert [(s.number, s.path) for s in numbering.sources()] == [(1, "c.md"), (2, "a.md")]


def test_cli_ask_json(shipped_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(shipped_settings.index_dir))
    result = CliRunner().invoke(cli, ["ask", "--json", "When did T Levels launch?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["found"] and "September 2020" in data["text"]
    assert {"number", "path", "title", "page", "snippet", "score"} <= data["sources"][0].keys()
    plain = CliRunner().invoke(cli, ["ask", "What is the capital of France?"])
    assert plain.exit_code == 1 and NOT_FOUND in plain.stdout
