"""`assistant eval --llm` with SmolLM2 served by llama.cpp's `llama_cpp.server` (needs `make test-llm`'s
install): the answers shown when a small model writes them, checked by the grounding policy.

    python benchmarks/llm_eval.py ../shared/bench-data/xquad.en.json --limit 200

Starts the server on a free port, runs the evaluation against it, stops it; prints the table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from assistant.answering.local_engine import local_model_path

CONTEXT_TOKENS = 2048


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = Path(tempfile.mkdtemp(prefix="llama-server-")) / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(local_model_path(None)),
             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", str(CONTEXT_TOKENS), "--verbose", "False"],
            stdout=output, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        while server.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            sys.exit(f"llama_cpp.server did not start; see {log}")
        env = os.environ | {
            "ASSISTANT_LLM": "openai", "ASSISTANT_LLM_BASE_URL": url, "ASSISTANT_LLM_MODEL": "smollm2",
            "ASSISTANT_LLM_CONTEXT_TOKENS": str(CONTEXT_TOKENS),
        }
        command = ["assistant", "eval", str(args.data), "--limit", str(args.limit), "--llm"]
        subprocess.run(command, env=env, check=True)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
