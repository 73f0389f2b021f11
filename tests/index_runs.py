"""Shared by the recovery, hostile-file and concurrency tests: `assistant index` in another process and
probes of its progress (Chroma's write log, the writer lock), what an index holds, peak memory, one-line
CLI errors, and synthetic notes to index."""

from __future__ import annotations

import contextlib
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from click.testing import Result

from assistant.config import MB, Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.index import LOCK_FILE, record_manager
from tests.conftest import open_store, write

# Longest wait for a subprocess to reach a state; generous because a shared 2-core CI box is slow.
PATIENCE_S = 300

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


def chunk_ids(settings: Settings, embeddings: LocalEmbeddings) -> list[str]:
    return sorted(open_store(settings, embeddings).get(include=[])["ids"])


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
