"""Concurrent chat sessions against the Gradio app: answered / declined / failed, and latency percentiles.

Usage: python benchmarks/load.py [--url http://127.0.0.1:7860/] [--sessions 16] [--questions 10]
                                 [--endpoint chat|ask] [--auth user:password] [--reindex]

Without --url it starts `python app.py` in a subprocess on a free port, over a copy of the shipped documents
and a temporary index (built at start-up), reports the app's peak resident memory, and stops it afterwards.
Each session is its own gradio_client Client, so /chat keeps one conversation per session, as browser tabs
would. With --reindex, while the sessions run, `assistant index` runs again and again in another process on
the app's documents and index, each time after changing a few documents so their chunks are re-embedded.
Exit code 1 when any question or re-index run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from gradio_client import Client

REPO = Path(__file__).resolve().parent.parent
# Standalone questions, so a session's answers do not depend on where in the list it starts.
QUESTIONS = [
    "When did T Levels launch?",
    "What is the UK apprenticeship levy?",
    "When did the UK apprenticeship levy start?",
    "How long is the industry placement in a T Level?",
    "When did China's revised Vocational Education Law take effect?",
    "What did the 2011 UK–China vocational education memorandum of understanding cover?",
    "When was the UK–China High-Level People to People Dialogue set up?",
    "What did Wang Xiaojun forecast about the manufacturing talent gap?",
    "What is the Regulated Qualifications Framework?",
    "When was the UK named Excellent Partner at the China International Education Annual Conference?",
    "What was agreed in the January 2026 memorandum on vocational skills?",
    "What happened at the 2014 Chengdu coordinators' workshop?",
]
STARTUP_SECONDS = 300
# One re-index run changes this many documents (and restores the ones the run before changed).
REINDEX_CHANGES = 3
REINDEX_SECONDS = 600  # a run taking longer is stopped and counted as failed
RSS_EVERY_SECONDS = 0.1


@dataclass
class Tally:
    answered: int = 0
    declined: int = 0
    failed: list[str] = field(default_factory=list)
    first_piece: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class App:
    """The app under load; ``pid`` and the folders only when this script started it."""

    url: str
    pid: int | None = None
    docs_dir: Path | None = None
    index_dir: Path | None = None
    log: Path | None = None


class PeakRSS:
    """Peak resident memory of one process, sampled in a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_EVERY_SECONDS):
            with contextlib.suppress(psutil.Error):  # it exited: the peak so far stands
                self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Reindexer:
    """`assistant index` in another process, again and again, each run after changing a few documents."""

    docs_dir: Path
    index_dir: Path
    summaries: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def run(self) -> None:
        paths = sorted(self.docs_dir.glob("*.md"))
        originals = {path: path.read_text(encoding="utf-8") for path in paths}
        changed: list[Path] = []
        number = 0
        while not self._stop.is_set():
            number += 1
            try:
                for path in changed:  # the last run's changes undone: those files are re-embedded too
                    path.write_text(originals[path], encoding="utf-8")
                changed = [paths[(number * REINDEX_CHANGES + i) % len(paths)] for i in range(REINDEX_CHANGES)]
                for path in changed:
                    path.write_text(f"{originals[path]}\nLoad-test revision {number}: this copy was changed.\n")
                self._index(number)
            except Exception as exc:
                self.failed.append(f"re-index run {number}: {exc.__class__.__name__}: {exc}")
                return

    def _index(self, number: int) -> None:
        command = [sys.executable, "-m", "assistant", "index", "--docs", str(self.docs_dir)]
        command += ["--index", str(self.index_dir)]
        began = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=REINDEX_SECONDS)
        except subprocess.TimeoutExpired:
            self.failed.append(f"re-index run {number}: no result in {REINDEX_SECONDS} s")
            return
        self.seconds.append(time.perf_counter() - began)
        if done.returncode == 0:
            self.summaries.append(done.stdout.strip().splitlines()[-1])
        else:
            last = (done.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
            self.failed.append(f"re-index run {number}: exit {done.returncode}: {last}")

    def stop(self) -> None:
        """Start no more runs; the one under way finishes."""
        self._stop.set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def started_app() -> Iterator[App]:
    """`python app.py` on a free port over a copy of the shipped documents, with its own temporary index."""
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    docs = work / "documents"
    shutil.copytree(REPO / "documents", docs)
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_DOCS_DIR": str(docs),
        "ASSISTANT_INDEX_DIR": str(work / "index"),
        "ASSISTANT_HOST": "127.0.0.1",
        "ASSISTANT_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("ASSISTANT_AUTH", None)
    log = (work / "app.log").open("w")
    server = subprocess.Popen([sys.executable, str(REPO / "app.py")], cwd=REPO, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                raise SystemExit(f"app.py exited with {server.returncode}; see {work / 'app.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "config", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"app.py did not come up in {STARTUP_SECONDS} s; see {work / 'app.log'}")
            time.sleep(1)
        yield App(url, server.pid, docs, work / "index", work / "app.log")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def ask_chat(client: Client, question: str) -> tuple[bool, float | None]:
    """One /chat turn: whether it was answered with sources, and when the first piece arrived."""
    start = time.perf_counter()
    first = None
    job = client.submit(question, api_name="/chat")
    for _ in job:  # each streamed update; the first one is what a reader sees first
        if first is None:
            first = time.perf_counter() - start
    final = job.result()
    return isinstance(final, list) and len(final) == 2, first


def ask_api(client: Client, question: str) -> tuple[bool, float | None]:
    return bool(client.predict(question, api_name="/ask")["found"]), None


def session(number: int, url: str, args: argparse.Namespace, start: threading.Barrier, tally: Tally) -> None:
    try:
        client = Client(url, auth=args.auth, verbose=False)
    except Exception as exc:
        with tally.lock:
            tally.failed.extend([f"session {number}: connect: {exc}"] * args.questions)
        start.wait()
        return
    ask = ask_chat if args.endpoint == "chat" else ask_api
    start.wait()  # every session connected before the clock starts
    for turn in range(args.questions):
        question = QUESTIONS[(number + turn) % len(QUESTIONS)]
        began = time.perf_counter()
        try:
            found, first = ask(client, question)
        except Exception as exc:
            with tally.lock:
                tally.failed.append(f"session {number}: {question!r}: {exc.__class__.__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - began
        with tally.lock:
            tally.total.append(elapsed)
            if first is not None:
                tally.first_piece.append(first)
            if found:
                tally.answered += 1
            else:
                tally.declined += 1


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:.2f} s, p95 {cuts[94]:.2f} s, max {max(values):.2f} s"


def run(app: App, args: argparse.Namespace) -> int:
    """Run the sessions (and the re-index runs), print the figures, and return how many things failed."""
    url = app.url
    # One question first, so the model load and cold caches are not counted as load.
    Client(url, auth=args.auth, verbose=False).predict(QUESTIONS[0], api_name="/ask")
    tally = Tally()
    start = threading.Barrier(args.sessions + 1)
    workers = [
        threading.Thread(target=session, args=(n, url, args, start, tally), daemon=True) for n in range(args.sessions)
    ]
    reindexer = None
    if args.reindex:
        reindexer = Reindexer(app.docs_dir, app.index_dir)
        workers.append(threading.Thread(target=reindexer.run, daemon=True))
    with PeakRSS(app.pid) if app.pid else contextlib.nullcontext() as rss:
        for worker in workers:
            worker.start()
        start.wait()
        began = time.perf_counter()
        for worker in workers[: args.sessions]:
            worker.join()
        wall = time.perf_counter() - began
        if reindexer:
            reindexer.stop()
            workers[-1].join()
    asked = args.sessions * args.questions
    print(f"{args.sessions} sessions x {args.questions} questions via /{args.endpoint} against {url}")
    print(f"asked {asked}: answered {tally.answered}, declined {tally.declined}, failed {len(tally.failed)}")
    print(f"wall time {wall:.1f} s, throughput {len(tally.total) / wall:.2f} answers/s")
    print(f"latency (submit to final answer): {percentiles(tally.total)}")
    if tally.first_piece:
        print(f"first streamed piece:             {percentiles(tally.first_piece)}")
    if rss:
        print(f"peak RSS of the app process: {rss.peak / 2**20:.0f} MB (sampled every {RSS_EVERY_SECONDS} s)")
    failures = tally.failed
    if reindexer:
        took = f", {statistics.median(reindexer.seconds):.0f} s each (median)" if reindexer.seconds else ""
        print(f"re-index runs meanwhile: {len(reindexer.summaries)} done, {len(reindexer.failed)} failed{took}")
        for summary in sorted(set(reindexer.summaries)):
            print(f"  {reindexer.summaries.count(summary)} x {summary}")
        failures = failures + reindexer.failed
    for line in failures[:10]:
        print(f"failed: {line}")
    if tally.failed and app.log:
        for count, error in server_errors(app.log):
            print(f"server log: {count} x {error}")
    return len(failures)


def server_errors(log: Path) -> list[tuple[int, str]]:
    """The exceptions in the app's log (the last line of each traceback), most frequent first."""
    lines = log.read_text(errors="replace").splitlines()
    ends = [line for line in lines if re.match(r"[\w.]+(Error|Exception)\b.*:", line)]
    return sorted(((ends.count(end), end[:300]) for end in set(ends)), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app; without it, one is started and stopped")
    parser.add_argument("--sessions", type=int, default=16, help="concurrent sessions (default 16)")
    parser.add_argument("--questions", type=int, default=10, help="questions per session (default 10)")
    parser.add_argument("--endpoint", choices=["chat", "ask"], default="chat", help="/chat streams (default)")
    parser.add_argument("--auth", type=lambda raw: tuple(raw.split(":", 1)), help="user:password")
    parser.add_argument(
        "--reindex", action="store_true", help="re-index the app's documents in another process meanwhile"
    )
    args = parser.parse_args()
    if args.url and args.reindex:
        parser.error("--reindex needs the app this script starts (its documents and index): drop --url")
    if args.url:
        failures = run(App(args.url), args)
    else:
        with started_app() as app:
            failures = run(app, args)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
