"""`assistant eval` end to end on a small SQuAD-format file made here."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.eval.evaluate import FIGURES, spread
from tests.samples import ARTICLES, squad_file


def test_eval_reports_every_figure_for_every_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own record database is named here; the evaluation must leave it alone.
    users_records = tmp_path / "users-records.sqlite"
    monkeypatch.setenv("ASSISTANT_RECORD_DB", f"sqlite:///{users_records}")
    data = squad_file(tmp_path / "small.json", ARTICLES)
    negatives = squad_file(tmp_path / "other.json", {"Cooking": [(
        "Sourdough bread rises because of wild yeast.",
        [("How do I make a souffle rise in the oven?", "eggs"), ("What is the boiling point of olive oil?", "300")])]})
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(
        cli, ["eval", str(data), "--baseline", "--k", "3", "--negatives", str(negatives), "--index-runs", "2",
              "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert (figures["k"], figures["questions"], figures["dataset"], figures["index_runs"]) == (3, 5, str(data), 2)
    for system in ("ours", "baseline", "bm25"):
        assert set(figures[system]) == set(FIGURES)
        assert figures[system]["recall_at_k"] == 1.0  # every answer is plainly in its article
    ours = figures["ours"]
    assert ours["answer_hit"] >= 0.8 and ours["false_refusal"] == 0.0
    assert ours["negatives_declined"] == 1.0
    assert ours["index_chunks_per_s"] > 0 and ours["query_p95_ms"] >= ours["query_p50_ms"] > 0
    assert figures["baseline"]["answer_hit"] is None  # the tutorial pipeline has no answerer here
    assert "recall_at_k" in result.stdout and "ours/base" in result.stdout
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").iterdir())  # user's index untouched
    assert not users_records.exists()
    assert "median of 2 runs" in result.stdout


def test_spread_takes_evenly() -> None:
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread([1, 2], None) == [1, 2]
    assert spread([1, 2], 5) == [1, 2]


@pytest.mark.skipif(not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file(), reason="make fonts")
def test_a_pdf_written_for_the_benchmark_keeps_every_letter(tmp_path: Path) -> None:
    # reportlab's Helvetica has Latin-1 only: "Rāzi" came back as "Rnzi", a loss the PDF loader was blamed for.
    from assistant.eval.render import write_as
    from assistant.eval.squad import Article
    from assistant.ingest.loaders import load_file

    text = "Rāzi (865–925) worked in Baghdad.\n\nThe Battle of Bạch Đằng (1288) ended the invasion. 元朝在1271年建立。"
    write_as([Article("Rāzi", text, "002-razi.md")], tmp_path, "pdf")
    read = load_file(tmp_path / "002-razi.pdf", tmp_path, 10 * 2**20)[0].page_content
    assert "Rāzi (865–925) worked in Baghdad." in read
    assert "The Battle of Bạch Đằng (1288) ended the invasion. 元朝在1271年建立。" in read


@pytest.mark.parametrize("form", ["wrapped", "pdf", "docx", "html"])
def test_an_article_written_as_a_file_reads_back_as_its_sentences(tmp_path: Path, form: str) -> None:
    from assistant.eval.render import write_as
    from assistant.eval.squad import Article
    from assistant.ingest.loaders import load_file
    from assistant.text import sentences

    paragraphs = [
        "The Rail Skills Alliance was founded in March 2029 by Wexcombe College of Further Education and the "
        "Xi'an Railway Vocational and Technical Institute, after two years of talks between the colleges.",
        "In its first year the alliance enrolled 142 apprentices in track maintenance and signalling. "
        "Of these, 131 completed the first stage of their training by June 2030.",
    ] * 6  # long enough for a PDF of two pages, with its running header on each
    write_as([Article("Rail Skills Alliance report", "\n\n".join(paragraphs), "001-rail.md")], tmp_path, form)
    [path] = [p for p in tmp_path.iterdir() if p.is_file()]
    docs = load_file(path, tmp_path, 10 * 2**20)
    read = [s for doc in docs for s in sentences(doc.page_content)]
    for paragraph in paragraphs[:2]:
        for sentence in sentences(paragraph):
            assert sentence in read, (form, sentence)  # whole, never cut at a wrapped line
    assert not [s for s in read if "Briefing series" in s or s.startswith("Page ")]
    assert {doc.metadata["title"] for doc in docs} == {"Rail Skills Alliance report"}
