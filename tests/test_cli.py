"""The CLI in-process: exit codes, summary lines, one-line errors."""

import errno
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.sync import sync
from assistant.types import NOT_FOUND
from tests.conftest import write
from tests.index_runs import assert_one_line_error
from tests.samples import LEVY_DOC


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_index_then_status_json(run, settings: Settings) -> None:
    write(settings.docs_dir, "levy.md", "The apprenticeship levy started on 6 April 2017.")
    result = run("index")
    assert result.exit_code == 0
    assert result.stdout.strip().splitlines()[-1] == "added 1, updated 0, deleted 0, unchanged 0, failed 0"
    info = json.loads(run("status", "--json").stdout)
    assert {"documents", "chunks", "embedding_model", "index_dir", "last_sync"} <= info.keys()
    assert (info["documents"], info["chunks"]) == (1, 1)
    assert "documents: 1" in run("status").stdout


def test_partial_failure_exits_1_and_names_the_file(run, settings: Settings) -> None:
    write(settings.docs_dir, "ok.md", "Fine text.")
    (settings.docs_dir / "broken.pdf").write_bytes(b"%PDF-1.7 nope")
    result = run("index")
    assert result.exit_code == 1
    assert "added 1, updated 0, deleted 0, unchanged 0, failed 1" in result.stdout
    assert "failed: broken.pdf: cannot parse .pdf file" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "--docs", "/no/such/folder"], "documents folder /no/such/folder does not exist"),
        (["status"], "no index at"),
        (["add", "/no/such/file.md"], "/no/such/file.md: no such file"),
        (["add", "notes.exe"], "unsupported file type '.exe'"),
    ],
)
def test_expected_errors_are_one_line_without_traceback(run, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_chunk_setting_is_one_line(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CHUNK_TOKENS", "300")
    result = run("index")
    assert result.exit_code == 2 and "exceeds the embedding model's 254 word-piece limit" in result.stderr


def test_unknown_embedding_backend_is_one_line(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_EMBEDDING_BACKEND", "tensorflow")
    result = run("index")
    assert result.exit_code == 2
    assert "ASSISTANT_EMBEDDING_BACKEND='tensorflow' is not one of onnx-int8, torch" in result.stderr


def test_add_copies_indexes_and_guards_overwrites(run, settings: Settings, tmp_path: Path) -> None:
    incoming = write(tmp_path / "inbox", "memo.md", "A memorandum was signed on 29 January 2026.")
    result = run("add", str(incoming))
    assert result.exit_code == 0, result.output
    assert "added 1, updated 0, deleted 0, unchanged 0, failed 0" in result.stdout
    assert (settings.docs_dir / "memo.md").read_text() == incoming.read_text()

    assert run("add", str(incoming)).exit_code == 0  # the same file again is harmless

    changed = write(tmp_path / "other", "memo.md", "Different text.")
    refused = run("add", str(changed))
    assert refused.exit_code == 2 and "already exists" in refused.stderr and "--replace" in refused.stderr
    assert (settings.docs_dir / "memo.md").read_text() == incoming.read_text()

    replaced = run("add", "--replace", str(changed))
    assert replaced.exit_code == 0 and "updated 1" in replaced.stdout
    assert (settings.docs_dir / "memo.md").read_text() == "Different text."


def test_python_dash_m_and_console_script_help() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "assistant", "--help"], capture_output=True, text=True, check=True)
    assert "index" in out.stdout and "status" in out.stdout and "add" in out.stdout


def test_cli_ask_json(shipped_index: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(shipped_index.index_dir))
    result = CliRunner().invoke(cli, ["ask", "--json", "When did T Levels launch?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["found"] and "September 2020" in data["text"]
    assert {"number", "path", "title", "page", "snippet", "score"} <= data["sources"][0].keys()
    plain = CliRunner().invoke(cli, ["ask", "What is the capital of France?"])
    assert plain.exit_code == 1 and NOT_FOUND in plain.stdout


# A full disk, and settings that are not set


def test_cli_add_replace_on_a_full_disk_is_one_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    changed = write(settings.docs_dir.parent, "levy.md", LEVY_DOC + "\nChanged.\n")
    monkeypatch.setattr(shutil, "copyfileobj", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    refused = CliRunner().invoke(cli, ["add", "--replace", str(changed)])
    assert_one_line_error(refused, "levy.md", "could not be written")
    assert (settings.docs_dir / "levy.md").read_text() == LEVY_DOC


def test_status_says_none_for_a_setting_that_is_not_set(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    sync(settings, embeddings=embeddings)
    shown = CliRunner().invoke(cli, ["status"])
    assert shown.exit_code == 0 and "chroma url: none" in shown.output and "never" not in shown.output


def test_remove_deletes_the_file_and_its_chunks(run, settings: Settings) -> None:
    write(settings.docs_dir, "levy.md", "The apprenticeship levy started on 6 April 2017 for large employers.")
    write(settings.docs_dir, "rqf.md", "The RQF started on 1 October 2015 and has nine levels.")
    assert run("index").exit_code == 0
    removed = run("remove", "levy.md")
    assert removed.exit_code == 0
    assert removed.stdout.strip().splitlines()[-1] == "added 0, updated 0, deleted 1, unchanged 1, failed 0"
    assert not (settings.docs_dir / "levy.md").exists()
    assert json.loads(run("status", "--json").stdout)["documents"] == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.md", "missing.md: no such document in"),
        ("../outside.md", "../outside.md: not in the documents folder"),
    ],
)
def test_remove_refuses_what_is_not_a_document_of_the_folder(run, settings: Settings, name: str, message: str) -> None:
    write(settings.docs_dir, "rqf.md", "The RQF started on 1 October 2015 and has nine levels.")
    outside = write(settings.docs_dir.parent, "outside.md", "Not a document of the folder, but a file all the same.")
    assert run("index").exit_code == 0
    result = run("remove", name)
    assert_one_line_error(result, message)
    assert outside.exists() and (settings.docs_dir / "rqf.md").exists()


def test_remove_waits_for_no_one_while_another_index_run_writes(run, settings: Settings) -> None:
    from assistant.store.index import writer_lock

    write(settings.docs_dir, "rqf.md", "The RQF started on 1 October 2015 and has nine levels.")
    assert run("index").exit_code == 0
    with writer_lock(settings):  # as another `assistant index` would hold it
        result = run("remove", "rqf.md")
    assert_one_line_error(result, "another `assistant index` is updating")
    assert (settings.docs_dir / "rqf.md").exists()


def test_feedback_lists_what_readers_rated(run, settings: Settings) -> None:
    from assistant.store.feedback import record_feedback

    assert run("feedback").stderr.strip() == "no feedback yet"
    record_feedback(settings, "down", "When did T Levels launch?", "In 2019. [1]", "**[1] T Levels**")
    record_feedback(settings, "up", "Who is Liu Jing?", "A director at DIT. [1]")
    lines = run("feedback", "--json").stdout.strip().splitlines()
    assert [json.loads(line)["rating"] for line in lines] == ["down", "up"]
    assert json.loads(lines[0])["answer"] == "In 2019. [1]" and json.loads(lines[0])["sources"] == "**[1] T Levels**"
    assert "down  When did T Levels launch?" in run("feedback").stdout
