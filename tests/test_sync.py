"""Syncing a documents folder into the index: added, updated, deleted and unchanged files, bad files
reported by name, a rebuild."""

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.index import record_manager
from assistant.store.sync import sync
from tests.conftest import open_store, write
from tests.index_runs import chunk_ids
from tests.samples import LEVY, RQF, make_pdf


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
        "scan.pdf": "no text layer (scanned?): its pages hold no text to read",
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


def test_rebuild_gives_the_same_index(shipped_docs: Settings, embeddings: LocalEmbeddings) -> None:
    sync(shipped_docs, embeddings=embeddings)
    before = chunk_ids(shipped_docs, embeddings)
    report = sync(shipped_docs, rebuild=True, embeddings=embeddings)
    assert len(report.added) == len([p for p in shipped_docs.docs_dir.iterdir() if p.is_file()])
    assert chunk_ids(shipped_docs, embeddings) == before
