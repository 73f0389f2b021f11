"""Start-up of fresh processes: the ONNX query path (onnx-int8, the default) against torch.

Usage: python benchmarks/startup.py [--runs 5] [--app-runs 3] [--docs documents/] [--question "..."]

The documents are copied to a temporary folder and indexed once per embedding backend (not timed),
each into its own index folder. Then every command below runs as a new process, N times, the two
backends taking turns in every run; the table gives wall-clock medians, each as a ratio to the
floor (a Python process that imports numpy), and old/new. Peak RSS is the child's own ru_maxrss,
read with os.wait4 when it is reaped. The temporary folder and any app server are removed on exit,
also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from gradio_client import Client

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = sys.executable
ASSISTANT = str(BIN / "assistant")
PATHS = {"new": "onnx-int8", "old": "torch"}
# Seconds an app server may take to serve its page, and a command to finish, before the run fails.
SERVE_TIMEOUT = 180.0
COMMAND_TIMEOUT = 300.0
POLL_SECONDS = 0.05
# Exit codes that count as success: `assistant ask` exits 1 when the documents hold no answer.
ASK_OK = (0, 1)


class BenchmarkError(RuntimeError):
    pass


@dataclass
class Result:
    seconds: float
    peak_rss_kb: int
    stdout: str


class Children:
    """Every process this script starts, each in its own process group, so all can be ended on exit."""

    def __init__(self) -> None:
        self.live: set[subprocess.Popen] = set()

    def start(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.live.add(process)
        return process

    def reap(self, process: subprocess.Popen, timeout: float) -> int:
        """Wait for ``process`` and return its peak RSS in KiB (ru_maxrss of that one child)."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                self.live.discard(process)
                return usage.ru_maxrss
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{shlex.join(process.args)} still running after {timeout:.0f} s")
            time.sleep(0.002)

    def stop(self, process: subprocess.Popen) -> None:
        """End the process group (SIGTERM, then SIGKILL after 10 s) and reap it."""
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.live.discard(process)

    def stop_all(self) -> None:
        for process in list(self.live):
            self.stop(process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def timed(children: Children, command: list[str], env: dict[str, str], log: Path, ok: tuple[int, ...] = (0,)) -> Result:
    """One fresh process, wall clock from start to reaped."""
    start = time.perf_counter()
    process = children.start(command, env, log)
    rss = children.reap(process, COMMAND_TIMEOUT)
    seconds = time.perf_counter() - start
    if process.returncode not in ok:
        raise BenchmarkError(f"{shlex.join(command)} exited {process.returncode}:\n{tail(log)}")
    return Result(seconds, rss, log.read_text(errors="replace"))


def timed_app(children: Children, env: dict[str, str], log: Path, question: str) -> tuple[float, float, str]:
    """`python app.py` on a free port: seconds until GET / returns 200, and until /ask returns an answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    served_env = env | {"ASSISTANT_HOST": "127.0.0.1", "ASSISTANT_PORT": str(port)}
    process = children.start([PYTHON, "app.py"], served_env, log)
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        with httpx.Client(timeout=5.0) as http:
            while True:
                if process.poll() is not None:
                    raise BenchmarkError(f"app.py exited {process.returncode} before serving:\n{tail(log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(url).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise BenchmarkError(f"app.py did not serve {url} within {SERVE_TIMEOUT:.0f} s:\n{tail(log)}")
                time.sleep(POLL_SECONDS)
        served = time.perf_counter() - start
        result = Client(url, verbose=False).predict(question, api_name="/ask")
        answered = time.perf_counter() - start
        if not isinstance(result, dict) or "text" not in result:
            raise BenchmarkError(f"/ask returned {result!r}")
        return served, answered, result["text"]
    finally:
        children.stop(process)


def path_env(work: Path, backend: str) -> dict[str, str]:
    """The inherited environment without any ASSISTANT_* setting (but the model cache), pointed at this path's
    copy of the documents and its own index."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_") or k == "ASSISTANT_MODEL_CACHE"}
    return keep | {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ASSISTANT_DOCS_DIR": str(work / "documents"),
        "ASSISTANT_INDEX_DIR": str(work / f"index-{backend}"),
        "ASSISTANT_EMBEDDING_BACKEND": backend,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TQDM_DISABLE": "1",
    }


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """A SIGTERM (or SIGHUP) unwinds like Ctrl-C, so the cleanup below runs."""
    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def one_line(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per command and path (default 5)")
    parser.add_argument("--app-runs", type=int, default=3, help="app.py starts per path, at most --runs (default 3)")
    parser.add_argument("--docs", type=Path, default=REPO / "documents", help="documents folder (copied)")
    parser.add_argument("--question", default="When did T Levels launch?")
    args = parser.parse_args()
    if args.runs < 1 or args.app_runs < 1:
        parser.error("--runs and --app-runs must be at least 1")
    app_runs = min(args.app_runs, args.runs)
    question = args.question

    commands = {
        "import numpy (floor)": [PYTHON, "-c", "import numpy"],
        "assistant status": [ASSISTANT, "status"],
        "assistant ask": [ASSISTANT, "ask", question],
        "assistant index (no change)": [ASSISTANT, "index"],
        "python -c answer()": [PYTHON, "-c", f"from assistant import answer; answer({json.dumps(question)})"],
    }
    app_rows = ("app.py: page served", "app.py: first answer")
    times: dict[str, dict[str, list[float]]] = {row: {p: [] for p in PATHS} for row in [*commands, *app_rows]}
    ask_rss: dict[str, list[int]] = {p: [] for p in PATHS}
    floor_rss: list[int] = []
    samples: dict[str, dict[str, str]] = {p: {} for p in PATHS}

    children = Children()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    total = time.perf_counter()
    try:
        with sigterm_as_exit():
            shutil.copytree(args.docs, work / "documents")
            envs = {p: path_env(work, backend) for p, backend in PATHS.items()}
            logs = work / "logs"
            logs.mkdir()
            for p, backend in PATHS.items():
                built = timed(children, [ASSISTANT, "index"], envs[p], logs / f"build-{p}.log")
                print(f"index built ({backend}, not timed): {one_line(built.stdout)}", file=sys.stderr)

            for run in range(args.runs):
                print(f"run {run + 1}/{args.runs}", file=sys.stderr)
                floor = timed(children, commands["import numpy (floor)"], envs["new"], logs / "numpy.log")
                floor_rss.append(floor.peak_rss_kb)
                for p in PATHS:  # the floor does not depend on the path: one measurement for both columns
                    times["import numpy (floor)"][p].append(floor.seconds)
                for row, command in list(commands.items())[1:]:
                    for p in PATHS:
                        ok = ASK_OK if row == "assistant ask" else (0,)
                        result = timed(children, command, envs[p], logs / f"{p}.log", ok)
                        times[row][p].append(result.seconds)
                        if row == "assistant ask":
                            ask_rss[p].append(result.peak_rss_kb)
                        if row == "assistant index (no change)" and not result.stdout.startswith(
                            "added 0, updated 0, deleted 0"
                        ):
                            raise BenchmarkError(f"the no-change index changed something: {one_line(result.stdout)}")
                        samples[p].setdefault(row, one_line(result.stdout))
                if run < app_runs:
                    for p in PATHS:
                        served, answered, text = timed_app(children, envs[p], logs / f"app-{p}.log", question)
                        times[app_rows[0]][p].append(served)
                        times[app_rows[1]][p].append(answered)
                        samples[p].setdefault("app /ask", one_line(text))
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    report(args, app_runs, commands, times, ask_rss, floor_rss, samples, time.perf_counter() - total)


def report(
    args: argparse.Namespace,
    app_runs: int,
    commands: dict[str, list[str]],
    times: dict[str, dict[str, list[float]]],
    ask_rss: dict[str, list[int]],
    floor_rss: list[int],
    samples: dict[str, dict[str, str]],
    seconds: float,
) -> None:
    docs = sorted(p for p in args.docs.rglob("*") if p.is_file())
    print(
        f"start-up of fresh processes: {len(docs)} documents from {shown(str(args.docs))}, "
        f"median of {args.runs} runs ({app_runs} for app.py), question {args.question!r}"
    )
    print(f"new = ASSISTANT_EMBEDDING_BACKEND={PATHS['new']}, old = ASSISTANT_EMBEDDING_BACKEND={PATHS['old']}")
    floor = statistics.median(times["import numpy (floor)"]["new"])
    header = f"{'':30}{'new s':>9}{'/floor':>8}{'old s':>9}{'/floor':>8}{'old/new':>9}"
    print(header)
    for row, values in times.items():
        new, old = statistics.median(values["new"]), statistics.median(values["old"])
        print(f"{row:30}{new:9.2f}{new / floor:8.1f}{old:9.2f}{old / floor:8.1f}{old / new:9.2f}")
    floor_mb = statistics.median(floor_rss) / 1024
    new_mb, old_mb = (statistics.median(ask_rss[p]) / 1024 for p in PATHS)
    print(
        f"{'assistant ask: peak RSS, MB':30}{new_mb:9.0f}{new_mb / floor_mb:8.1f}{old_mb:9.0f}"
        f"{old_mb / floor_mb:8.1f}{old_mb / new_mb:9.2f}"
    )
    print(
        f"floor: import numpy, {floor:.3f} s and {floor_mb:.0f} MB peak RSS; /floor = a median divided by the floor's; "
        "peak RSS = the child's own ru_maxrss from os.wait4, median of the runs"
    )
    print("answers:")
    for p, backend in PATHS.items():
        print(f"  {backend}, assistant ask: {samples[p].get('assistant ask', '')}")
        print(f"  {backend}, app.py /ask: {samples[p].get('app /ask', '')}")
    print("commands (each a new process; cwd the repository; env ASSISTANT_DOCS_DIR=<tmp>/documents, "
          "ASSISTANT_INDEX_DIR=<tmp>/index-<backend>, ASSISTANT_EMBEDDING_BACKEND=<backend>, other ASSISTANT_* unset"
          " but ASSISTANT_MODEL_CACHE):")
    print(f"  index build, once per backend, not timed: {shown_command([ASSISTANT, 'index'])}")
    for row, command in commands.items():
        print(f"  {row}: {shown_command(command)}")
    print(
        f"  app.py: ASSISTANT_PORT=<free port> {shown_command([PYTHON, 'app.py'])}; poll GET http://127.0.0.1:<port>/ "
        f"every {POLL_SECONDS} s until 200 (page served), then "
        f"gradio_client.Client(url).predict({args.question!r}, api_name='/ask') returns (first answer); "
        "then SIGTERM to its process group"
    )
    print(f"total benchmark time {seconds:.0f} s")


def shown(path: str) -> str:
    """A path inside the repository relative to it, others as they are."""
    return path.replace(f"{REPO}{os.sep}", "")


def shown_command(command: list[str]) -> str:
    return shlex.join(shown(c) for c in command)


if __name__ == "__main__":
    try:
        main()
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
