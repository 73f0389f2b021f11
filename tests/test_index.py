"""The store (store.index.Index): reopening, status, the embedding-model and layout checks, the writer
lock, and what a rebuild may delete."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.errors import IndexStateError
from assistant.store.index import Index, writer_lock
from assistant.store.sync import sync
from tests.conftest import open_store, write
from tests.index_runs import chunk_ids
from tests.samples import LEVY, RQF


def test_index_reopens_in_a_new_process(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "levy.md", LEVY)
    sync(settings, embeddings=embeddings)
    code = (
        "import json; from assistant.config import Settings; from assistant.embed.embeddings import load_embeddings;"
        "from assistant.search.retriever import HybridRetriever;"
        "hit = HybridRetriever.open(Settings(), load_embeddings()).invoke('apprenticeship levy')[0];"
        "print(json.dumps(hit.metadata))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["source"] == "levy.md"


def test_status_reports_counts_model_and_last_sync(shipped_docs: Settings, embeddings: LocalEmbeddings) -> None:
    sync(shipped_docs, embeddings=embeddings)
    info = Index(shipped_docs, embeddings.model_name).status()
    assert info.documents == len([p for p in shipped_docs.docs_dir.iterdir() if p.is_file()]) >= 12
    assert info.chunks >= info.documents
    assert info.embedding_model == "sentence-transformers/all-MiniLM-L6-v2@onnx-int8"
    assert info.last_sync is not None


def test_another_model_is_refused_with_rebuild_hint(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "rqf.md", RQF)
    sync(settings, embeddings=embeddings)
    impostor = LocalEmbeddings.__new__(LocalEmbeddings)
    impostor.model_name = "/models/other"
    with pytest.raises(IndexStateError, match=r"built with embedding model .*--rebuild"):
        open_store(settings, impostor)


def test_rebuild_refuses_a_folder_that_is_not_an_index(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    precious = tmp_path / "precious"
    write(precious, "thesis.txt", "do not delete")
    with pytest.raises(IndexStateError, match="does not look like an assistant index"):
        sync(Settings(index_dir=precious), rebuild=True, embeddings=embeddings)
    assert (precious / "thesis.txt").exists()


def test_second_writer_is_refused(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "rqf.md", RQF)
    with writer_lock(settings), pytest.raises(IndexStateError, match="another `assistant index` is updating"):
        sync(settings, embeddings=embeddings)


def test_an_index_in_an_older_layout_is_refused_until_rebuilt(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "levy.md", LEVY)
    sync(settings, embeddings=embeddings)
    collection = open_store(settings, embeddings)._collection
    # An index written before sentence rows were grouped per chunk has no layout on record.
    collection.modify(metadata={k: v for k, v in collection.metadata.items() if k != "layout"})
    refused = r"index layout 1, this version reads 2\); run `assistant index --rebuild"
    with pytest.raises(IndexStateError, match=refused):
        open_store(settings, embeddings)
    with pytest.raises(IndexStateError, match="index layout 1"):
        sync(settings, embeddings=embeddings)
    assert sync(settings, rebuild=True, embeddings=embeddings).added == ["levy.md"]
    ids = chunk_ids(settings, embeddings)
    with Index(settings, embeddings.model_name).reading() as snapshot:
        sentences = snapshot.sentences_of(ids + ids)  # two passages may share a chunk
    assert [s for found in sentences.values() for s, _ in found] == [LEVY]
