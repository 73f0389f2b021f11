"""Concurrent chat sessions against the Gradio app: answered / declined / failed, and latency percentiles.

Usage: python benchmarks/load.py [--url http://127.0.0.1:7860/] [--sessions 16] [--questions 10]
                                 [--endpoint chat|ask] [--auth user:password]

Without --url it starts `python app.py` in a subprocess on a free port, over the shipped documents and a
temporary index (built at start-up), and stops it afterwards. Each session is its own gradio_client
Client, so /chat keeps one conversation per session, as browser tabs would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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


@dataclass
class Tally:
    answered: int = 0
    declined: int = 0
    failed: list[str] = field(default_factory=list)
    first_piece: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def started_app() -> Iterator[str]:
    """`python app.py` on a free port over the shipped documents, with its own temporary index."""
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_DOCS_DIR": str(REPO / "documents"),
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
        yield url
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
    except Exception as exc:  # noqa: BLE001 - counted and reported, not raised in a worker thread
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
        except Exception as exc:  # noqa: BLE001
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


def run(url: str, args: argparse.Namespace) -> Tally:
    # One question first, so the model load and cold caches are not counted as load.
    Client(url, auth=args.auth, verbose=False).predict(QUESTIONS[0], api_name="/ask")
    tally = Tally()
    start = threading.Barrier(args.sessions + 1)
    workers = [
        threading.Thread(target=session, args=(n, url, args, start, tally), daemon=True) for n in range(args.sessions)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - began
    asked = args.sessions * args.questions
    print(f"{args.sessions} sessions x {args.questions} questions via /{args.endpoint} against {url}")
    print(f"asked {asked}: answered {tally.answered}, declined {tally.declined}, failed {len(tally.failed)}")
    print(f"wall time {wall:.1f} s, throughput {len(tally.total) / wall:.2f} answers/s")
    print(f"latency (submit to final answer): {percentiles(tally.total)}")
    if tally.first_piece:
        print(f"first streamed piece:             {percentiles(tally.first_piece)}")
    for line in tally.failed[:10]:
        print(f"failed: {line}")
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app; without it, one is started and stopped")
    parser.add_argument("--sessions", type=int, default=16, help="concurrent sessions (default 16)")
    parser.add_argument("--questions", type=int, default=10, help="questions per session (default 10)")
    parser.add_argument("--endpoint", choices=["chat", "ask"], default="chat", help="/chat streams (default)")
    parser.add_argument("--auth", type=lambda raw: tuple(raw.split(":", 1)), help="user:password")
    args = parser.parse_args()
    if args.url:
        tally = run(args.url, args)
    else:
        with started_app() as url:
            tally = run(url, args)
    sys.exit(1 if tally.failed else 0)


if __name__ == "__main__":
    main()
