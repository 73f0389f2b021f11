"""Concurrency: answers keep coming while another process indexes, and a document indexed by another
process is answered without a restart. `assistant index` runs as a real subprocess on the index being read."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.answering.chain import Assistant
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.sync import sync
from assistant.types import Answer
from tests.conftest import SHIPPED_DOCS, write
from tests.index_runs import finish, lock_is_held, start_index_run, write_notes

WHILE_INDEXING = [
    ("When did T Levels launch?", "September 2020"),
    ("When did the RQF start?", "1 October 2015"),
    ("Which UK minister signed the 2011 vocational education memorandum?", "John Hayes"),
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
