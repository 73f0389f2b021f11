"""Recovery: a killed index run resumes, a second writer is refused, a damaged index or record file is
one line that says how to rebuild, and a failed open does not spoil the next one.

Real model, real Chroma on disk under tmp_path; `assistant index` runs as a real subprocess where a
second process is the point (a SIGKILL, a lock held by someone else).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.answering.chain import Assistant
from assistant.cli import cli
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings
from assistant.errors import IndexStateError
from assistant.store.index import Index
from assistant.store.sync import INDEX_BATCH_SIZE, sync
from tests.conftest import SHIPPED_DOCS, open_store, write
from tests.index_runs import (
    assert_one_line_error,
    chroma_rows,
    finish,
    index_contents,
    lock_is_held,
    start_index_run,
    wait_for,
    write_notes,
)
from tests.samples import LEVY, LEVY_DOC, RQF

# ---------------------------------------------------------------------------------------------
# a killed index run

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
# two writers

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
    shipped = len([p for p in SHIPPED_DOCS.iterdir() if p.is_file()])
    assert stdout.strip().splitlines()[-1] == f"added {shipped}, updated 0, deleted 0, unchanged 0, failed 0"
    assert Index(settings, embeddings.model_name).status().documents == shipped
    contents = index_contents(settings, embeddings)
    assert contents.record_keys == contents.chunk_ids



# ---------------------------------------------------------------------------------------------
# a damaged index or record file, a failed open

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
# a partly overwritten or deleted index, and a running assistant


def _scramble_the_middle(index_dir: Path) -> None:
    database = index_dir / "chroma.sqlite3"
    with open(database, "r+b") as handle:
        handle.seek(database.stat().st_size // 3)
        handle.write(os.urandom(64 * 1024))


def test_a_damaged_index_is_one_line_with_the_rebuild_command(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    sync(settings, embeddings=embeddings)
    _scramble_the_middle(settings.index_dir)
    rebuild = f"assistant index --rebuild --index {settings.index_dir}"
    for command in (["status"], ["ask", "When did the levy start?"], ["index"]):
        assert_one_line_error(CliRunner().invoke(cli, command), str(settings.index_dir), rebuild)


def test_a_running_assistant_follows_a_deleted_and_rebuilt_index(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    sync(settings, embeddings=embeddings)
    assistant = Assistant(settings, embeddings=embeddings)
    assert assistant.answer("When did the apprenticeship levy start?").found
    (settings.index_dir / "chroma.sqlite3").unlink()
    with pytest.raises(IndexStateError, match="run `assistant index` to build it"):
        assistant.answer("When did the apprenticeship levy start?")
    assert sync(settings, embeddings=embeddings).added == ["levy.md"]  # not "a readonly database"
    assert assistant.answer("When did the apprenticeship levy start?").found
