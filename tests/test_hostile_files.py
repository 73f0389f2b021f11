"""Hostile files: size caps, .docx and PDF expansion, text that is not language, the chunk cap, front
matter, hidden HTML, and fuzzed files of every supported type. Real model, real Chroma under tmp_path."""

from __future__ import annotations

import html
import io
import itertools
import random
import re
import string
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from assistant.cli import cli
from assistant.config import MB, Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.errors import DocumentError
from assistant.ingest.loaders import load_file
from assistant.store.index import Index
from assistant.store.sync import sync
from tests.conftest import open_store, write
from tests.index_runs import PeakMemory, index_contents, write_notes
from tests.samples import LEVY, LEVY_DOC, RQF


def test_a_file_over_the_size_cap_is_refused_by_name(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_MAX_FILE_MB", "0.01")
    write(settings.docs_dir, "small.md", RQF)
    write(settings.docs_dir, "sub/big.md", LEVY + " " + "More detail follows here. " * 800)
    result = CliRunner().invoke(cli, ["index"])
    assert result.exit_code == 1, result.output
    assert result.stdout.strip().splitlines()[-1] == "added 1, updated 0, deleted 0, unchanged 0, failed 1"
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("failed: sub/big.md: ") and "size cap" in line
    stored = CliRunner().invoke(cli, ["status", "--json"])
    assert '"documents": 1' in stored.stdout


@pytest.mark.parametrize(("cap", "size"), [("2", 3 * MB), ("0.01", 20 * 1024)])
def test_the_size_cap_message_states_the_cap_as_configured(tmp_path: Path, cap: str, size: int) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * (size // 5))
    with pytest.raises(DocumentError) as refused:
        load_file(path, tmp_path, int(float(cap) * MB))
    assert re.search(rf"over the {re.escape(cap)}(\.0+)? MB size cap", str(refused.value)), str(refused.value)


HIDDEN_HTML = """<!DOCTYPE html>
<html><head><title>Hospitality skills</title>
<style>body { font-family: qqstylehead; }</style>
<script>var qqscripthead = "never shown";</script>
<script type="application/ld+json">{"qqjsonld": "metadata"}</script>
</head><body>
<!-- qqcomment: a note for editors -->
<noscript>qqnoscript please enable JavaScript</noscript>
<template><p>qqtemplate row</p></template>
<h1>Hospitality skills project</h1>
<p>The project trained 120 hotel staff in Chengdu in 2019.</p>
<script>document.write("qqscriptbody");</script>
<style>.banner::after { content: "qqstylebody"; }</style>
<p>Trainers from Sheffield visited the hotels twice.</p>
<svg><style>.a{fill:red}/* qqsvgstyle */</style><text>Chart</text></svg>
</body></html>
"""


def test_html_indexes_only_visible_text(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "hospitality.html", HIDDEN_HTML)
    report = sync(settings, embeddings=embeddings)
    assert report.added == ["hospitality.html"]
    store = open_store(settings, embeddings)
    chunks = store.get(include=["documents", "metadatas"])
    with Index(settings, embeddings.model_name).reading() as snapshot:
        sentences = [s for found in snapshot.sentences_of(chunks["ids"]).values() for s, _ in found]
    text = "\n".join(chunks["documents"] + sentences)
    assert "The project trained 120 hotel staff in Chengdu in 2019." in text
    assert "Trainers from Sheffield visited the hotels twice." in text
    assert "Hospitality skills project" in text
    assert re.findall(r"qq\w+", text) == []
    assert {m["title"] for m in chunks["metadatas"]} == {"Hospitality skills project"}  # its <h1>, before <title>


def test_one_huge_line_and_one_repeated_character_finish_in_bounded_time_and_memory(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    budget_s = 60
    letters = string.ascii_letters + string.digits
    write(settings.docs_dir, "one-line.txt", "".join(random.Random(0).choices(letters, k=2_000_000)))
    write(settings.docs_dir, "one-char.txt", "x" * 2_000_000)
    write(settings.docs_dir, "control.md", RQF)
    start = time.monotonic()

    def on_course(done: int, total: int) -> None:
        # Fail at the first batch when the run is bound to overrun, instead of sitting through it.
        elapsed = time.monotonic() - start
        projected = elapsed * total / done
        assert projected <= budget_s, (
            f"{done} of {total} chunks embedded after {elapsed:.0f} s: on course for {projected / 60:.0f} min"
        )

    with PeakMemory() as memory:
        report = sync(settings, embeddings=embeddings, on_chunks=on_course)
    assert time.monotonic() - start < budget_s
    assert memory.growth_mb < 1024
    assert report.added == ["control.md"] and report.chunks_embedded == 1
    assert dict(report.failed) == {
        name: "no words: all 2,000,000 characters are repeats or strings too long to be words"
        for name in ("one-line.txt", "one-char.txt")
    }


def test_a_file_over_the_chunk_cap_is_refused_by_name(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_MAX_CHUNKS_PER_FILE", "3")
    write(settings.docs_dir, "small.md", RQF)
    write_notes(settings.docs_dir / "sub", 1, paragraphs=12, seed=5)
    result = CliRunner().invoke(cli, ["index"])
    assert result.exit_code == 1, result.output
    assert result.stdout.strip().splitlines()[-1] == "added 1, updated 0, deleted 0, unchanged 0, failed 1"
    [line] = result.stderr.strip().splitlines()
    assert re.fullmatch(r"failed: sub/note-00\.md: \d+ chunks, over the cap of 3 per file \(\w+\)", line), line


def _alias_bomb(levels: int) -> str:
    """Markdown whose YAML front matter nests aliases: each level repeats the one below nine times."""
    lines = ["---", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    lines.append("title: [" + ", ".join([f"*l{levels - 1}"] * 9) + "]")
    return "\n".join([*lines, "---", "", LEVY, ""])


def test_front_matter_aliases_cannot_blow_up_the_title(tmp_path: Path) -> None:
    path = write(tmp_path, "laughs.md", _alias_bomb(levels=5))
    assert path.stat().st_size < 500
    try:
        [doc] = load_file(path, tmp_path, MB)
    except DocumentError:
        return  # refusing such a file is as good as ignoring its title
    assert len(doc.metadata["title"]) <= 1000, f"title is {len(doc.metadata['title']):,} characters"


def _docx(xml_body: bytes, repeat: int = 1) -> bytes:
    """A minimal .docx (what docx2txt reads): one word/document.xml, ``xml_body`` in it ``repeat`` times."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/></Types>',
        )
        with package.open("word/document.xml", "w") as xml:  # streamed: a bomb never sits in memory whole
            xml.write(
                b'<?xml version="1.0" encoding="UTF-8"?><w:document '
                b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            )
            for _ in range(repeat):
                xml.write(xml_body)
            xml.write(b"</w:body></w:document>")
    return buffer.getvalue()


def _docx_paragraph(text: str) -> bytes:
    return b"<w:p><w:r><w:t>" + html.escape(text).encode() + b"</w:t></w:r></w:p>"


def _pdf(text: str, pages: int = 1, lines: int = 1) -> bytes:
    """A real, compressed PDF: ``pages`` pages of ``lines`` lines of ``text`` (characters its standard font
    lacks come out as boxes)."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pageCompression=1)
    for _ in range(pages):
        pdf.setFont("Helvetica", 6)
        for line in range(lines):
            pdf.drawString(20, 820 - 8 * line, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_a_small_docx_cannot_expand_past_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(_docx(_docx_paragraph("The levy. " * MB)))
    assert path.stat().st_size < 64 * 1024
    try:
        docs = load_file(path, tmp_path, MB)
    except DocumentError:
        return
    assert sum(len(d.page_content) for d in docs) <= MB


def test_a_docx_bomb_is_refused_from_its_zip_directory_before_anything_is_inflated(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(_docx(_docx_paragraph("The levy. " * (MB // 10)), repeat=128))
    assert path.stat().st_size < MB // 2
    with PeakMemory() as memory, pytest.raises(DocumentError) as refused:
        load_file(path, tmp_path, MB)
    assert memory.growth_mb < 32  # inflating it would take 128 MB for the XML alone
    message = str(refused.value)
    assert re.fullmatch(r"unzips to 128 MB, over the 1 MB size cap \(the file is 0\.2\d+ MB\)", message), message


def test_a_small_pdf_cannot_expand_past_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "dense.pdf"
    path.write_bytes(_pdf("The levy. " * 18, pages=40, lines=100))  # 18 KB of text a page
    assert path.stat().st_size < 0.1 * MB
    with pytest.raises(DocumentError) as refused:
        load_file(path, tmp_path, int(0.1 * MB))
    # Read page by page, it stops at the page that passes the cap, long before the 40th.
    assert re.fullmatch(
        r"yields 0\.1\d* MB of text by page 6, over the 0\.1 MB size cap \(the file is \d+(\.\d)? KB\)",
        str(refused.value),
    ), str(refused.value)


FUZZ_SUFFIXES = (".md", ".txt", ".pdf", ".docx", ".html", ".htm")
# Real headers get random bytes past the first check of each parser.
_HEADERS = {".md": b"---\ntitle: ", ".txt": b"\xef\xbb\xbf", ".pdf": b"%PDF-1.4\n", ".docx": b"PK\x03\x04",
            ".html": b"<html><body><p>", ".htm": b"<!DOCTYPE html><script>"}


def _fuzzed(suffix: str) -> st.SearchStrategy[bytes]:
    options = [
        st.binary(max_size=2048),
        st.text(max_size=1500).map(str.encode),
        st.binary(max_size=1024).map(lambda data: _HEADERS[suffix] + data),
    ]
    if suffix == ".docx":
        options.append(st.binary(max_size=1024).map(_docx))
        xml_text = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")), max_size=800)  # XML 1.0 allows these
        options.append(xml_text.map(lambda text: _docx(_docx_paragraph(text))))
    if suffix == ".pdf":
        options.append(st.text(max_size=300).map(_pdf))
    return st.one_of(options)


_fuzz_run = itertools.count()


@pytest.mark.slow
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(contents=st.fixed_dictionaries({suffix: _fuzzed(suffix) for suffix in FUZZ_SUFFIXES}))
def test_fuzzed_files_are_indexed_or_reported_and_never_break_a_sync(
    settings: Settings, embeddings: LocalEmbeddings, contents: dict[str, bytes]
) -> None:
    # One index across all examples: each one replaces the last one's files, so deletions are exercised too.
    docs = settings.docs_dir
    if not (docs / "control.md").exists():
        write(docs, "control.md", RQF)
    for old in docs.glob("fuzz-*"):
        old.unlink()
    run = next(_fuzz_run)
    names = set()
    for suffix, data in contents.items():
        (docs / f"fuzz-{run}{suffix}").write_bytes(data)
        names.add(f"fuzz-{run}{suffix}")

    report = sync(settings, embeddings=embeddings)

    indexed = set(report.added) | set(report.updated) | set(report.unchanged)
    failed = dict(report.failed)
    assert "control.md" in indexed
    assert not indexed & failed.keys()
    assert indexed | failed.keys() == names | {"control.md"}
    assert all(reason.strip() and "\n" not in reason for reason in failed.values()), failed
    for name in names:  # what the examples reached, for --hypothesis-show-statistics
        event(f"{Path(name).suffix} " + ("indexed" if name in indexed else re.split(r"[:(]", failed[name])[0].strip()))
    contents_now = index_contents(settings, embeddings)
    assert {source for source, _ in contents_now.positions} == indexed
    assert contents_now.record_keys == contents_now.chunk_ids
    assert contents_now.sentence_rows == contents_now.chunk_ids


# A .docx member of any name, a slow PDF, huge front matter, a link out of the folder, hidden HTML


def test_a_docx_member_of_any_name_counts_towards_the_unzip_cap(tmp_path: Path) -> None:
    path = tmp_path / "headers.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("word/document.xml", b"<w:document><w:body/></w:document>")
        with package.open("word/header1.xmlx", "w") as member:  # docx2txt's pattern has no end anchor
            for _ in range(5):
                member.write(b"<w:t>" + b"a" * MB + b"</w:t>")
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(DocumentError, match=r"^unzips to 5 MB, over the 1 MB size cap"):
        load_file(path, tmp_path, MB)


def _pdf_pointing_at_one_page(path: Path, copies: int) -> Path:
    """A small PDF whose pages all share one costly content stream."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pageCompression=1)
    pdf.setFont("Helvetica", 4)
    for line in range(200):
        for column in range(10):
            pdf.drawString(10 + 58 * column, 820 - 4 * line, "levy apprenticeship")
    pdf.showPage()
    pdf.save()
    page = PdfReader(io.BytesIO(buffer.getvalue())).pages[0]
    writer = PdfWriter()
    for _ in range(copies):
        writer.add_page(page)
    writer.write(path)
    return path


def test_a_pdf_over_its_time_budget_is_reported_and_the_rest_indexed(
    settings: Settings, embeddings: LocalEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = _pdf_pointing_at_one_page(settings.docs_dir / "pages.pdf", 400)
    assert pdf.stat().st_size < 200 * 1024
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    monkeypatch.setenv("ASSISTANT_FILE_SECONDS", "0.5")
    start = time.monotonic()
    report = sync(Settings(), embeddings=embeddings)
    assert time.monotonic() - start < 30
    assert report.added == ["levy.md"]
    [(name, reason)] = report.failed
    assert name == "pages.pdf" and "took over 0.5 s to read" in reason and "ASSISTANT_FILE_SECONDS" in reason


def test_huge_front_matter_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "meta.md"
    path.write_text("---\n" + "".join(f"key{i}: [{'a, ' * 20}b]\n" for i in range(20_000)) + "---\nBody text here.\n")
    start = time.monotonic()
    with pytest.raises(DocumentError, match="front matter of .* characters, over the limit"):
        load_file(path, tmp_path, 50 * MB)
    assert time.monotonic() - start < 2


def test_a_link_out_of_the_documents_folder_is_not_followed(settings: Settings, embeddings: LocalEmbeddings) -> None:
    secret = write(settings.docs_dir.parent, "secret.txt", "The password of the server is hunter2 and more words.")
    (settings.docs_dir / "passwd.txt").symlink_to(secret)
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    report = sync(settings, embeddings=embeddings)
    assert report.added == ["levy.md"]
    [(name, reason)] = report.failed
    assert name == "passwd.txt" and "outside the documents folder" in reason


def test_hidden_html_is_not_indexed(tmp_path: Path) -> None:
    page = write(tmp_path, "page.html", (
        "<html><head><title>Levy</title></head><body><p>The levy started in 2017 for large employers.</p>"
        "<div hidden><p>qqhidden one</p></div><span style='display : none'>qqhidden two</span>"
        "<p style='visibility:hidden'>qqhidden three</p><div aria-hidden='true'>qqhidden four</div></body></html>"
    ))
    [doc] = load_file(page, tmp_path, MB)
    assert "levy started in 2017" in doc.page_content and "qq" not in doc.page_content
