"""Keep the index in step with the documents folder, through LangChain's indexing API."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chromadb.errors import ChromaError
from langchain_core.documents import Document
from langchain_core.indexing import index as langchain_index

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings
from assistant.errors import ConfigError, DocumentError
from assistant.ingest.chunks import make_splitter, split_documents
from assistant.ingest.loaders import discover, load_file
from assistant.store.connection import unusable
from assistant.store.index import Index, forget_scope, ids_by_source, record_manager, wipe, writer_lock

if TYPE_CHECKING:
    from assistant.store.chunkstore import ChunkStore

# Chunks handed to the vector store at a time: large enough for efficient encoder batches.
INDEX_BATCH_SIZE = 256


@dataclass
class SyncReport:
    """What a sync did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, deleted {len(self.deleted)}, "
            f"unchanged {len(self.unchanged)}, failed {len(self.failed)}"
        )


def load_folder(
    settings: Settings, paths: list[Path], splitter: Any
) -> tuple[list[Document], list[tuple[str, str]]]:
    """Every readable document's chunks, and (file, reason) for each one that failed."""
    root = settings.docs_dir
    chunks: list[Document] = []
    failed: list[tuple[str, str]] = []
    for path in paths:
        source = path.relative_to(root).as_posix()
        try:
            docs = load_file(path, root, settings.max_file_bytes, settings.file_seconds)
            chunks.extend(split_documents(docs, splitter, max_chunks=settings.max_chunks_per_file))
        except DocumentError as exc:
            failed.append((source, str(exc)))
        except OSError as exc:
            failed.append((source, f"cannot read: {exc.strerror}"))
    return chunks, failed


def _reconcile(store: ChunkStore, manager: Any, scope: str | None) -> None:
    """Repair what a killed sync left half-written: each side keeps only what the other has."""
    in_store = set(store.get(where={"scope": scope} if scope else None, include=[])["ids"])
    recorded = set(manager.list_keys())
    if stray := list(in_store - recorded):
        store.delete(stray)
    if lost := list(recorded - in_store):
        manager.delete_keys(lost)
    store.sweep()


def documents_to_remove(settings: Settings, names: list[str]) -> list[Path]:
    """The files ``names`` point to: paths inside the documents folder, or names as the index shows
    them (relative to the folder). A DocumentError names the first that is not a document there."""
    root = settings.docs_dir.resolve()
    found = []
    for name in names:
        path = Path(name)
        if not path.is_absolute() and not path.exists():
            path = root / path
        if not path.resolve().is_relative_to(root):
            raise DocumentError(f"{name}: not in the documents folder {settings.docs_dir}")
        if not path.is_file():
            raise DocumentError(f"{name}: no such document in {settings.docs_dir}")
        found.append(path)
    return found


def sync(
    settings: Settings | None = None,
    *,
    rebuild: bool = False,
    remove: list[str] | None = None,
    embeddings: LocalEmbeddings | None = None,
    on_chunks: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Bring the index up to date with the documents folder, after deleting the documents ``remove``
    names (under the same lock, so no other indexer sees the folder half-changed).

    New files are added, changed files' chunks replaced, deleted files' chunks removed;
    unchanged files cost no embedding. A file that fails is reported and keeps whatever
    it had in the index. ``on_chunks(done, total)`` is called as chunks are embedded.
    """
    settings = settings or Settings()
    if not settings.docs_dir.is_dir():
        raise ConfigError(f"documents folder {settings.docs_dir} does not exist")
    doomed = documents_to_remove(settings, remove or [])
    embeddings = embeddings or load_embeddings(settings)
    try:
        with writer_lock(settings):
            for path in doomed:
                path.unlink()
            if rebuild and not settings.chroma_url:
                wipe(settings)
            index = Index(settings, embeddings.model_name, create=True)
            # Readers in this process keep this client open (not reopened under us) until the sync ends.
            with index.holding_client():
                return _sync_locked(settings, index, embeddings, rebuild, on_chunks)
    except (OSError, sqlite3.Error, ChromaError) as exc:  # the disk, or the index's own files, failed
        raise unusable(settings, exc, "cannot be updated") from None


def _sync_locked(
    settings: Settings,
    index: Index,
    embeddings: LocalEmbeddings,
    rebuild: bool,
    on_chunks: Callable[[int, int], None] | None,
) -> SyncReport:
    splitter = make_splitter(embeddings.tokenizer, settings.chunk_tokens, settings.chunk_overlap)
    # One listing of the folder serves both loading and spotting deleted files.
    paths = discover(settings.docs_dir)
    chunks, failed = load_folder(settings, paths, splitter)
    if settings.scope:
        # Part of each chunk's id too: two scopes holding the same file never share chunks.
        for chunk in chunks:
            chunk.metadata["scope"] = settings.scope
    report = SyncReport(failed=failed)
    done = 0

    def count(n: int) -> None:
        nonlocal done
        done += n
        if on_chunks:
            on_chunks(done, len(chunks))

    store = index.writer(embeddings, on_embedded=count)
    manager = record_manager(settings)
    if rebuild and settings.chroma_url:
        forget_scope(store, manager, settings.scope)
    _reconcile(store, manager, settings.scope)
    before = ids_by_source(store, settings.scope)
    langchain_index(
        chunks,
        manager,
        store,
        cleanup="scoped_full",
        source_id_key="source",
        batch_size=INDEX_BATCH_SIZE,
        key_encoder="sha256",
    )
    on_disk = {p.relative_to(settings.docs_dir).as_posix() for p in paths}
    for source in set(before) - on_disk:
        keys = manager.list_keys(group_ids=[source])
        store.delete(list(before[source] | set(keys)))
        manager.delete_keys(keys)
    after = ids_by_source(store, settings.scope)
    failed_sources = {name for name, _ in failed}
    for source in sorted(set(before) | set(after)):
        if source in failed_sources:
            continue
        if source not in after:
            report.deleted.append(source)
        elif source not in before:
            report.added.append(source)
        elif before[source] != after[source]:
            report.updated.append(source)
        else:
            report.unchanged.append(source)
    report.chunks_embedded = done
    index.stamp_sync()
    return report
