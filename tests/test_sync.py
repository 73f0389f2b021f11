import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.errors import IndexStateError
from assistant.store.index import Index, record_manager, writer_lock
from assistant.store.sync import sync
from tests.conftest import open_store, write
from tests.samples import make_pdf

RQF = "The Regulated Qualifications Framework started on 1 October 2015 and replaced the QCF."
LEVY = "The apprenticeship levy started on 6 April 2017 at 0.5% of an employer's pay bill."


def chunk_ids(settings: Settings, embeddings: LocalEmbeddings) -> list[str]:
    return sorted(open_store(settings, embeddings).get(include=[])["ids"])


def test_round_trip_and_incremental_counts(settings: Settings, embeddings: LocalEmbeddings) -> None:
    docs = settings.docs_dir
    write(docs, "rqf.md", RQF)
    write(docs, "levy.md", LEVY)
    first = sync(settings, embeddings=embeddings)
    assert first.summary() == "added 2, updated 0, deleted 0, unchanged 0, failed 0"
    assert first.chunks_embedded == 2

    hits = open_store(settings, embeddings).similarity_search("When did the levy start?", k=1)
    assert hits[0].metadata["source"] == "levy.md" and "6 April 2017" in hits[0].page_content

    write(docs, "rqf.md", RQF + " It has Entry levels 1-3 and Levels 1-8.")
    (docs / "levy.md").unlink()
    write(docs, "tlevels.md", "T Levels launched in September 2020.")
    write(docs, "same.md", "Unchanged text stays.")
    second = sync(settings, embeddings=embeddings)
    assert (second.added, second.updated, second.deleted) == (["same.md", "tlevels.md"], ["rqf.md"], ["levy.md"])
    assert second.chunks_embedded == 3

    third = sync(settings, embeddings=embeddings)
    assert third.summary() == "added 0, updated 0, deleted 0, unchanged 3, failed 0"
    assert third.chunks_embedded == 0
    assert len(chunk_ids(settings, embeddings)) == 3
    assert sorted(record_manager(settings).list_keys()) == chunk_ids(settings, embeddings)


def test_bad_files_are_reported_and_the_rest_indexed(settings: Settings, embeddings: LocalEmbeddings) -> None:
    docs = settings.docs_dir
    write(docs, "good.md", RQF)
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4 broken")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(bytes(range(256)))
    (docs / "latin1.txt").write_bytes("Universit\xe9".encode("latin-1"))
    (docs / "table.xlsx").write_bytes(b"x")
    make_pdf(docs / "scan.pdf", [""])
    make_pdf(docs / "paged.pdf", ["Page one text about T Levels.", "Page two about the levy."])
    report = sync(settings, embeddings=embeddings)
    assert sorted(report.added) == ["good.md", "paged.pdf"]
    reasons = dict(report.failed)
    assert reasons.pop("corrupt.pdf").startswith("cannot parse .pdf file")
    assert reasons == {
        "binary.txt": "binary file, not text",
        "empty.txt": "empty file",
        "latin1.txt": "not UTF-8 text (byte 0xe9 at offset 9)",
        "scan.pdf": "PDF has no extractable text (scanned images?)",
        "table.xlsx": "unsupported file type '.xlsx'",
    }
    stored = open_store(settings, embeddings).get()["metadatas"]
    assert {m.get("page") for m in stored if m["source"] == "paged.pdf"} == {1, 2}


def test_a_file_that_breaks_keeps_its_previous_chunks(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "rqf.md", RQF)
    sync(settings, embeddings=embeddings)
    before = chunk_ids(settings, embeddings)
    (settings.docs_dir / "rqf.md").write_bytes(b"\xff\xfe broken")
    report = sync(settings, embeddings=embeddings)
    assert [name for name, _ in report.failed] == ["rqf.md"]
    assert chunk_ids(settings, embeddings) == before


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
    assert info.documents == len(list(shipped_docs.docs_dir.glob("*.md"))) >= 12
    assert info.chunks >= info.documents
    assert info.embedding_model == "sentence-transformers/all-MiniLM-L6-v2@onnx-int8"
    assert info.last_sync is not None


def test_another_model_is_refused_with_rebuild_hint(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "rqf.md", RQF)
    sync(settings, embeddings=embeddings)
    impostor = LocalEmbeddings.__new__(LocalEmbeddings)
    impostor.model, impostor.model_name = embeddings.model, "/models/other"
    with pytest.raises(IndexStateError, match=r"built with embedding model .*--rebuild"):
        open_store(settings, impostor)


def test_rebuild_gives_the_same_index(shipped_docs: Settings, embeddings: LocalEmbeddings) -> None:
    sync(shipped_docs, embeddings=embeddings)
    before = chunk_ids(shipped_docs, embeddings)
    report = sync(shipped_docs, rebuild=True, embeddings=embeddings)
    assert len(report.added) == len(list(shipped_docs.docs_dir.glob("*.md")))
    assert chunk_ids(shipped_docs, embeddings) == before


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
