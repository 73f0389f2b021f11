"""Answering and describing an existing index load only what they need: no torch, no sentence-transformers,
and for an English question no jieba."""

from __future__ import annotations

import json
import subprocess
import sys

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.sync import sync
from tests.conftest import write
from tests.samples import LEVY_DOC

HEAVY = ("torch", "sentence_transformers", "transformers", "jieba")


def _run(code: str) -> dict:
    """``code`` in a fresh interpreter (environment as the test set it); its last line of output, as JSON."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _answered_and_loaded() -> dict:
    return _run(
        "import json, sys; from assistant import answer; a = answer('When did the apprenticeship levy start?');"
        f"print(json.dumps({{'found': a.found, 'text': a.text, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )


def test_answering_from_python_never_imports_torch(settings: Settings, embeddings: LocalEmbeddings) -> None:
    # An English question about English documents does not load jieba's dictionary either.
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    sync(settings, embeddings=embeddings)
    found = _answered_and_loaded()
    assert found["found"] and "6 April 2017" in found["text"]
    assert found["heavy"] == []
    # With Chinese documents beside them it may (their sentences are read for the question's
    # Chinese meanings), but never the model's torch.
    write(settings.docs_dir, "xuetu.md", "# 学徒制\n\n英国的学徒税于2017年4月开始征收，适用于工资总额较高的雇主。\n")
    sync(settings, embeddings=embeddings)
    found = _answered_and_loaded()
    assert found["found"] and "6 April 2017" in found["text"]
    assert set(found["heavy"]) <= {"jieba"}


def test_status_and_a_no_change_index_never_load_the_model(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    write(settings.docs_dir, "xuetu.md", "# 学徒制\n\n英国的学徒税于2017年4月开始征收，适用于工资总额较高的雇主。\n")
    sync(settings, embeddings=embeddings)
    for command in (["status"], ["index"]):
        found = _run(
            "import json, sys, contextlib, io; from assistant.cli import cli;"
            f"out = io.StringIO()\nwith contextlib.redirect_stdout(out), contextlib.suppress(SystemExit): "
            f"cli.main({command!r}, standalone_mode=True)\n"
            f"print(json.dumps({{'out': out.getvalue(), 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))"
        )
        assert found["heavy"] == [], (command, found)
    assert "unchanged 2" in found["out"]
