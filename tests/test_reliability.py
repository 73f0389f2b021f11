"""Reliability: killed and concurrent index runs, damaged indexes, hostile documents and questions.

Real model, real Chroma on disk under tmp_path; `assistant index` runs as a real subprocess where a
second process is the point (a SIGKILL, a lock held by someone else, answering while it writes).
"""

from __future__ import annotations

import contextlib
import html
import io
import itertools
import random
import re
import shutil
import signal
import sqlite3
import string
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from assistant.answering.chain import Assistant
from assistant.cli import cli
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings
from assistant.errors import DocumentError, QuestionError
from assistant.ingest.loaders import load_file
from assistant.store.index import LOCK_FILE, Index, record_manager
from assistant.store.sync import INDEX_BATCH_SIZE, sync
from assistant.types import Answer
from tests.conftest import SHIPPED_DOCS, open_store, write

RQF = "The Regulated Qualifications Framework started on 1 October 2015 and replaced the QCF."
LEVY = "The apprenticeship levy started on 6 April 2017 at 0.5% of an employer's pay bill."
MB = 1024 * 1024
# Longest wait for a subprocess to reach a state; generous because a shared 2-core CI box is slow.
PATIENCE_S = 300

# ---------------------------------------------------------------------------------------------
# helpers

_SUBJECTS = (
    "The Tianjin vocational college", "A Sheffield further education college", "The Ministry of Education",
    "The Department for Education", "A Chengdu training centre", "The British Council",
    "An employer panel in Leeds", "The Shenzhen polytechnic", "A group of hospitality trainers",
    "The Chongqing skills bureau", "Ofqual", "A Welsh apprenticeship provider", "The Guangdong teaching team",
    "An engineering lecturer from Coventry",
)
_VERBS = (
    "signed an agreement on", "piloted a course in", "published a report about", "reviewed standards for",
    "hosted a workshop on", "trained forty teachers in", "shared its curriculum for", "funded research into",
    "opened a laboratory for", "assessed apprentices in", "translated materials about", "benchmarked outcomes in",
)
_TOPICS = (
    "advanced manufacturing", "railway signalling", "early years care", "culinary arts", "logistics",
    "automotive maintenance", "nursing assistance", "digital marketing", "construction safety", "cyber security",
    "renewable energy installation", "hotel management", "precision welding", "software testing",
)
_WHEN = (
    "during the spring term of {y}", "after a visit in {y}", "with support from local employers in {y}",
    "as part of a two-year plan agreed in {y}", "before the national review of {y}",
    "in a joint pilot launched in {y}",
)


def write_notes(folder: Path, count: int, *, paragraphs: int, seed: int) -> list[Path]:
    """``count`` Markdown files of varied, real-looking sentences about vocational cooperation."""
    rng = random.Random(seed)

    def sentence() -> str:
        text = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_TOPICS)} "
        text += rng.choice(_WHEN).format(y=rng.randint(2005, 2026))
        if rng.random() < 0.3:
            text += f", reaching {rng.randint(12, 950)} learners"
        return text + "."

    paths = []
    for n in range(count):
        body = "\n\n".join(" ".join(sentence() for _ in range(rng.randint(4, 6))) for _ in range(paragraphs))
        paths.append(write(folder, f"note-{n:02d}.md", f"# Cooperation note {n}\n\n{body}\n"))
    return paths


def start_index_run(*args: str, log_dir: Path) -> subprocess.Popen:
    """`python -m assistant index ...` in a new process; output goes to files so a full pipe never blocks it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "stdout", "w") as stdout, open(log_dir / "stderr", "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "assistant", "index", *args], stdout=stdout, stderr=stderr)


def finish(run: subprocess.Popen, log_dir: Path, timeout: float = PATIENCE_S) -> tuple[int, str, str]:
    try:
        run.wait(timeout=timeout)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return run.returncode, (log_dir / "stdout").read_text(), (log_dir / "stderr").read_text()


def wait_for(condition: Callable[[], bool], timeout: float = PATIENCE_S, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def chroma_rows(index_dir: Path) -> int:
    """Rows Chroma has committed to its write log, read without going through (or disturbing) Chroma."""
    db = index_dir / "chroma.sqlite3"
    if not db.is_file():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)) as con:
            return con.execute("SELECT count(*) FROM embeddings_queue").fetchone()[0]
    except sqlite3.Error:  # not created yet, or busy for a moment: ask again on the next poll
        return 0


def lock_is_held(index_dir: Path) -> bool:
    """Whether some process holds the index's writer lock (flock), seen in /proc/locks without taking it."""
    try:
        inode = (index_dir / LOCK_FILE).stat().st_ino
    except FileNotFoundError:
        return False
    held = re.compile(rf"\bFLOCK\s+\S+\s+WRITE\s+\d+\s+[0-9a-f]+:[0-9a-f]+:{inode}\s")
    return any(held.search(line) and "->" not in line for line in Path("/proc/locks").read_text().splitlines())


@dataclass
class IndexContents:
    chunk_ids: list[str]
    positions: list[tuple[str, int]]  # (file, chunk number) of every stored chunk
    sentence_rows: list[str]  # the chunk each stored row of sentences belongs to
    record_keys: list[str]


def index_contents(settings: Settings, embeddings: LocalEmbeddings) -> IndexContents:
    store = open_store(settings, embeddings)
    chunks = store.get(include=["metadatas"])
    return IndexContents(
        chunk_ids=sorted(chunks["ids"]),
        positions=sorted((m["source"], m["chunk"]) for m in chunks["metadatas"]),
        sentence_rows=sorted(store.sentences.get(include=[])["ids"]),
        record_keys=sorted(record_manager(settings).list_keys()),
    )


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Exit code 2 and a single stderr line holding ``fragments``; never a traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


class PeakMemory:
    """Peak growth of this process's resident memory while the block runs, sampled every 20 ms."""

    def __enter__(self) -> PeakMemory:
        self._process = psutil.Process()
        self._base = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self._base) / MB


# ---------------------------------------------------------------------------------------------
# 1. crash safety


@pytest.mark.slow
def test_a_killed_index_run_resumes_to_what_a_clean_rebuild_gives(
    settings: Settings, embeddings: LocalEmbeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks: more than one INDEX_BATCH_SIZE batch from a modest corpus, so the kill below
    # always leaves work undone, at a bounded cost in embedding time.
    monkeypatch.setenv("ASSISTANT_CHUNK_TOKENS", "64")
    monkeypatch.setenv("ASSISTANT_CHUNK_OVERLAP", "8")
    settings = Settings()
    write_notes(settings.docs_dir, 60, paragraphs=2, seed=3)

    run = start_index_run(log_dir=tmp_path / "killed")
    try:
        # The first rows in Chroma's log are the first batch's sentences, written just before its
        # chunks and its record-manager keys: killing now cuts a batch in half.
        wrote = wait_for(lambda: chroma_rows(settings.index_dir) > 0 or run.poll() is not None)
        run.send_signal(signal.SIGKILL)
    finally:
        code, _, stderr = finish(run, tmp_path / "killed")
    assert wrote, "the index run wrote nothing to Chroma in time"
    assert code == -signal.SIGKILL, f"the index run ended on its own (exit {code}) before it was killed: {stderr}"
    killed = index_contents(settings, embeddings)

    resumed_report = sync(settings, embeddings=embeddings)
    resumed = index_contents(settings, embeddings)
    clean_settings = Settings(index_dir=tmp_path / "clean")
    clean_report = sync(clean_settings, rebuild=True, embeddings=embeddings)
    clean = index_contents(clean_settings, embeddings)

    total = len(clean.chunk_ids)
    assert total > INDEX_BATCH_SIZE
    assert len(killed.record_keys) < total, "the kill left nothing undone"
    assert resumed_report.failed == [] and clean_report.failed == []
    assert len(resumed_report.added) + len(resumed_report.unchanged) == 60
    assert resumed.chunk_ids == clean.chunk_ids
    assert len(resumed.positions) == len(set(resumed.positions)) == total  # no chunk of a file stored twice
    assert resumed.positions == clean.positions
    assert resumed.sentence_rows == resumed.chunk_ids  # every chunk has its sentences, none orphaned
    assert resumed.record_keys == resumed.chunk_ids == clean.record_keys
    # The vector side agrees too, not only the ids: the same nearest chunk for the same question.
    resumed_store, clean_store = open_store(settings, embeddings), open_store(clean_settings, embeddings)
    for question in ("Who trained teachers in railway signalling?", "Which pilot covered hotel management?"):
        assert [d.metadata["source"] for d in resumed_store.similarity_search(question, k=3)] == [
            d.metadata["source"] for d in clean_store.similarity_search(question, k=3)
        ]
    assert Index(settings, embeddings.model_name).status().last_sync is not None


# ---------------------------------------------------------------------------------------------
# 2. two writers


@pytest.mark.slow
def test_a_second_writer_exits_2_while_another_index_run_holds_the_lock(
    shipped_docs: Settings, embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    settings = shipped_docs
    # The in-process second writer must reach the lock at once.
    load_embeddings(settings)
    run = start_index_run(log_dir=tmp_path / "first")
    try:
        locked = wait_for(lambda: lock_is_held(settings.index_dir) or run.poll() is not None)
        assert locked and run.poll() is None, "the first index run never held the lock"
        second = CliRunner().invoke(cli, ["index"])
        rebuild = CliRunner().invoke(cli, ["index", "--rebuild"])
    finally:
        code, stdout, stderr = finish(run, tmp_path / "first")
    for refused in (second, rebuild):
        assert_one_line_error(refused, "another `assistant index` is updating", str(settings.index_dir))
    # The refused --rebuild wiped nothing: the first run finished and its index is whole.
    assert code == 0, stderr
    shipped = len(list(SHIPPED_DOCS.glob("*.md")))
    assert stdout.strip().splitlines()[-1] == f"added {shipped}, updated 0, deleted 0, unchanged 0, failed 0"
    assert Index(settings, embeddings.model_name).status().documents == shipped
    contents = index_contents(settings, embeddings)
    assert contents.record_keys == contents.chunk_ids


# ---------------------------------------------------------------------------------------------
# 3. damaged index


def _damage(db: Path, how: str) -> None:
    data = db.read_bytes()
    if how == "deleted":
        db.unlink()
    elif how == "emptied":
        db.write_bytes(b"")
    elif how == "truncated":
        db.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        db.write_bytes(random.Random(0).randbytes(len(data)))


@pytest.fixture
def small_index(settings: Settings, embeddings: LocalEmbeddings, tmp_path: Path) -> Settings:
    """A two-document index built in this process, then copied to a path this process never opened,
    as if another process had made it (Chroma caches one open database per path and process)."""
    write(settings.docs_dir, "rqf.md", RQF)
    write(settings.docs_dir, "levy.md", LEVY)
    built = Settings(index_dir=tmp_path / "built")
    sync(built, embeddings=embeddings)
    shutil.copytree(built.index_dir, settings.index_dir)
    return settings


@pytest.mark.parametrize("how", ["deleted", "emptied", "truncated", "garbage"])
def test_a_damaged_index_is_one_line_that_says_how_to_rebuild(small_index: Settings, how: str) -> None:
    settings = small_index
    _damage(settings.index_dir / "chroma.sqlite3", how)
    run = CliRunner().invoke
    # A missing database is "no index yet" (plain `assistant index` builds it); anything else is damage.
    if how == "deleted":
        fix, hint = ["index"], "run `assistant index` to build it"
    else:
        fix, hint = ["index", "--rebuild"], f"run `assistant index --rebuild --index {settings.index_dir}`"
    assert_one_line_error(run(cli, ["status"]), str(settings.index_dir), hint)
    assert_one_line_error(run(cli, ["ask", "When did the levy start?"]), str(settings.index_dir), hint)

    rebuilt = run(cli, fix)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "added 2" in rebuilt.stdout
    after = run(cli, ["status", "--json"])
    assert after.exit_code == 0 and '"documents": 2, "chunks": 2' in after.stdout
    answered = run(cli, ["ask", "When did the levy start?"])
    assert answered.exit_code == 0 and "6 April 2017" in answered.stdout


def test_a_damaged_record_file_is_one_line_that_says_how_to_rebuild(small_index: Settings) -> None:
    _damage(small_index.index_dir / "records.sqlite", "garbage")
    result = CliRunner().invoke(cli, ["index"])
    assert_one_line_error(result, str(small_index.index_dir), "--rebuild")


def test_rebuild_recovers_from_a_damaged_record_file(small_index: Settings, embeddings: LocalEmbeddings) -> None:
    _damage(small_index.index_dir / "records.sqlite", "garbage")
    result = CliRunner().invoke(cli, ["index", "--rebuild"])
    assert result.exit_code == 0, result.output
    contents = index_contents(small_index, embeddings)
    assert len(contents.chunk_ids) == 2 and contents.record_keys == contents.chunk_ids


def test_a_failed_open_does_not_spoil_the_next_one_in_the_same_process(small_index: Settings) -> None:
    db = small_index.index_dir / "chroma.sqlite3"
    good = db.read_bytes()
    _damage(db, "garbage")
    first = CliRunner().invoke(cli, ["status"])
    assert_one_line_error(first, "file is not a database")
    db.write_bytes(good)  # repaired, e.g. by `assistant index --rebuild` in another terminal
    again = CliRunner().invoke(cli, ["status", "--json"])  # the app's next attempt, in the same process
    assert again.exit_code == 0, again.output


# ---------------------------------------------------------------------------------------------
# 4. hostile documents


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
    assert {m["title"] for m in chunks["metadatas"]} == {"Hospitality skills"}


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
    assert re.fullmatch(r"unzips to 128 MB of XML, over the 1 MB size cap \(the file is 0\.2\d+ MB\)", message), message


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


# ---------------------------------------------------------------------------------------------
# 5. questions


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


# ---------------------------------------------------------------------------------------------
# 6. answering while another process indexes

WHILE_INDEXING = [
    ("When did T Levels launch?", "September 2020"),
    ("When did the RQF start?", "1 October 2015"),
    ("What is the rate of the apprenticeship levy?", "0.5%"),
]
ADDED_DOCUMENT = "welding-pilot.md"
ADDED_FACT = "The Shenzhen–Leeds welding pilot enrolled 412 apprentices in March 2024."
ADDED_QUESTION = "How many apprentices did the Shenzhen–Leeds welding pilot enrol?"


@dataclass
class Meanwhile:
    """What happened while `assistant index` ran in another process on the index being read."""

    settings: Settings
    assistant: Assistant  # created before the other process started, still the same object
    answers: list[tuple[str, str, Answer | Exception, bool]]  # question, fact, outcome, lock held
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def indexing_meanwhile(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Meanwhile:
    root = tmp_path_factory.mktemp("meanwhile")
    settings = Settings(docs_dir=root / "documents", index_dir=root / "index")
    shutil.copytree(SHIPPED_DOCS, settings.docs_dir)
    sync(settings, embeddings=embeddings)
    assistant = Assistant(settings, embeddings=embeddings)
    assistant.answer(WHILE_INDEXING[0][0])  # warm, as a running app is

    write_notes(settings.docs_dir, 15, paragraphs=3, seed=11)  # enough for the other process to write a while
    write(settings.docs_dir, ADDED_DOCUMENT, f"# Welding pilot\n\n{ADDED_FACT} Leeds City College ran it.\n")
    run = start_index_run("--docs", str(settings.docs_dir), "--index", str(settings.index_dir), log_dir=root / "run")
    answers = []
    try:
        for question, fact in itertools.cycle(WHILE_INDEXING):
            if run.poll() is not None:
                break
            held = lock_is_held(settings.index_dir)
            try:
                outcome: Answer | Exception = assistant.answer(question)
            except Exception as exc:
                outcome = exc
            answers.append((question, fact, outcome, held))
    finally:
        code, stdout, stderr = finish(run, root / "run")
    return Meanwhile(settings, assistant, answers, code, stdout, stderr)


@pytest.mark.slow
def test_answers_keep_coming_while_another_process_indexes(
    indexing_meanwhile: Meanwhile, embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    meanwhile = indexing_meanwhile
    assert meanwhile.returncode == 0, meanwhile.stderr
    assert "added 16, updated 0, deleted 0" in meanwhile.stdout
    errors = [f"{q!r}: {o.__class__.__name__}: {o}" for q, _, o, _ in meanwhile.answers if isinstance(o, Exception)]
    assert errors == []
    assert sum(held for *_, held in meanwhile.answers) >= 3, "too few answers overlapped the other process's run"
    for question, fact, outcome, _ in meanwhile.answers:
        assert outcome.found and fact in outcome.text, (question, outcome.text)
    # The other process's writes are complete on disk: an Assistant that opens a copy of the index
    # (a path this process has no cached Chroma client for) answers from the added document.
    copy = Settings(docs_dir=meanwhile.settings.docs_dir, index_dir=tmp_path / "copy")
    shutil.copytree(meanwhile.settings.index_dir, copy.index_dir)
    fresh = Assistant(copy, embeddings=embeddings).answer(ADDED_QUESTION)
    assert fresh.found and "412" in fresh.text and ADDED_DOCUMENT in {s.path for s in fresh.sources}


@pytest.mark.slow
def test_a_document_indexed_by_another_process_is_answered_without_restart(indexing_meanwhile: Meanwhile) -> None:
    assistant = indexing_meanwhile.assistant
    try:
        result, error = assistant.answer(ADDED_QUESTION), None
    except Exception as exc:
        result, error = None, exc
    assert error is None, f"the running Assistant raised {error.__class__.__name__}: {error}"
    assert result.found and "412" in result.text, result.text
    assert ADDED_DOCUMENT in {s.path for s in result.sources}
