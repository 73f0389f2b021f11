"""The Chroma store and its indexing record manager: open, check, lock, describe."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.chunkstore import INDEX_LAYOUT, SENTENCES_SUFFIX, ChunkStore
from assistant.config import RECORD_DB_FILE, Settings
from assistant.connection import connect, describe, disconnect, rebuild_hint
from assistant.embeddings import LocalEmbeddings
from assistant.errors import ConfigError, IndexStateError

LOCK_FILE = ".sync.lock"
# Files that mark a folder as an index this program made, so --rebuild never wipes anything else.
INDEX_MARKERS = ("chroma.sqlite3", RECORD_DB_FILE)


def index_exists(settings: Settings) -> bool:
    """Whether an index has been built where ``settings`` point (without creating anything)."""
    if not settings.chroma_url:
        return (settings.index_dir / INDEX_MARKERS[0]).is_file()
    with connect(settings).reading() as client:
        return settings.collection in _collection_names(client)


def _collection_names(client) -> set[str]:  # noqa: ANN001 - a chromadb client
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def open_store(
    settings: Settings,
    embeddings: LocalEmbeddings,
    *,
    create: bool = False,
    on_embedded: Callable[[int], None] | None = None,
) -> ChunkStore:
    """The index's vector store; refuses an index built by another embedding model."""
    place = describe(settings)
    if not create and not settings.chroma_url and not index_exists(settings):
        raise IndexStateError(f"no {place}: run `assistant index` to build it")
    client = connect(settings).client
    try:
        if settings.collection in _collection_names(client):
            collection = client.get_collection(settings.collection)
        elif create:
            collection = client.create_collection(
                settings.collection,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": embeddings.model_name, "layout": INDEX_LAYOUT},
            )
        elif settings.chroma_url:
            raise IndexStateError(f"nothing indexed yet in {place}: run `assistant index` to build it")
        else:
            raise IndexStateError(f"{place} holds no documents collection; {rebuild_hint(settings)}")
    except IndexStateError:
        raise
    except Exception as exc:
        raise IndexStateError(f"{place} is damaged ({exc.__class__.__name__}); {rebuild_hint(settings)}") from None
    built_with = (collection.metadata or {}).get("embedding_model")
    if built_with != embeddings.model_name:
        raise IndexStateError(
            f"{place} was built with embedding model {built_with!r}, not {embeddings.model_name!r}; "
            + rebuild_hint(settings)
        )
    layout = (collection.metadata or {}).get("layout", 1)
    if layout != INDEX_LAYOUT:
        raise IndexStateError(
            f"{place} was written by another version of the assistant (index layout {layout}, "
            f"this version reads {INDEX_LAYOUT}); " + rebuild_hint(settings)
        )
    return ChunkStore(client, settings.collection, embeddings, on_embedded)


def record_manager(settings: Settings):  # noqa: ANN201 - a LangChain SQLRecordManager
    """LangChain's SQL record manager: in the index folder, or the database ASSISTANT_RECORD_DB names.

    Its namespace is the collection and this indexer's scope, so indexers sharing a collection
    (and a record database) each keep and clean up only the records of their own documents.
    """
    from langchain_classic.indexes import SQLRecordManager
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    namespace = f"chroma/{settings.collection}" + (f"/{settings.scope}" if settings.scope else "")
    if settings.record_db:
        url = settings.record_db
        try:
            place = f"record store {make_url(url).render_as_string(hide_password=True)}"
        except ArgumentError:
            raise ConfigError(f"ASSISTANT_RECORD_DB is not a SQLAlchemy database URL: {url!r}") from None
    else:
        path = (settings.index_dir / RECORD_DB_FILE).resolve()
        url, place = f"sqlite:///{path}", f"record file {path}"
    try:
        manager = SQLRecordManager(namespace, db_url=url)
        _create_schema(manager)
        manager.list_keys(limit=1)  # a damaged or unreachable store fails here, not halfway through a sync
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
        hint = rebuild_hint(settings) if not settings.record_db else "check ASSISTANT_RECORD_DB"
        raise IndexStateError(f"{place} cannot be used ({exc.__class__.__name__}: {reason}); {hint}") from None
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"ASSISTANT_RECORD_DB needs the database driver {exc.name!r}: pip install 'vocational-assistant[server]'"
        ) from None
    return manager


def _create_schema(manager) -> None:  # noqa: ANN001 - a SQLRecordManager
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    try:
        manager.create_schema()
    except (IntegrityError, ProgrammingError):
        # Two indexers creating the table at once in PostgreSQL: one of them loses; it exists now.
        manager.create_schema()


@contextlib.contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer per index (per scope, in a shared collection): a second sync refuses at once."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    name = LOCK_FILE
    if settings.scope:
        name = f".sync-{hashlib.sha256(settings.scope.encode()).hexdigest()[:16]}.lock"
    path = settings.index_dir / name
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexStateError(
                f"another `assistant index` is updating {describe(settings)} (lock {path}); "
                "try again when it has finished"
            ) from None
        yield


def wipe(settings: Settings) -> None:
    """Delete the index folder, but only if it is one this program made (or empty)."""
    folder = settings.index_dir
    if not folder.exists():
        return
    entries = {p.name for p in folder.iterdir()} - {LOCK_FILE}
    if entries and not entries & set(INDEX_MARKERS):
        raise IndexStateError(f"{folder} does not look like an assistant index; not deleting it")
    disconnect(settings)  # the open client holds the database files
    for entry in folder.iterdir():
        if entry.name == LOCK_FILE:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def drop_collection(settings: Settings) -> None:
    """Delete the collection and its sentences from the Chroma server (e.g. a temporary one)."""
    with connect(settings).reading() as client:
        for name in (settings.collection, settings.collection + SENTENCES_SUFFIX):
            if name in _collection_names(client):
                client.delete_collection(name)


def forget_scope(store: ChunkStore, manager, scope: str | None) -> None:  # noqa: ANN001 - a record manager
    """Remove this indexer's chunks and records from a shared collection, leaving the others'."""
    ids = set().union(*ids_by_source(store, scope).values())
    store.delete(list(ids))
    manager.delete_keys(manager.list_keys())


@dataclass(frozen=True)
class IndexedDocument:
    source: str
    title: str
    date: str | None
    chunks: int


def list_documents(store: ChunkStore) -> list[IndexedDocument]:
    """One row per indexed file, sorted by path."""
    rows: dict[str, IndexedDocument] = {}
    for meta in store.get(include=["metadatas"])["metadatas"]:
        source = meta.get("source", "")
        seen = rows.get(source)
        rows[source] = IndexedDocument(
            source, meta.get("title", source), meta.get("date"), (seen.chunks if seen else 0) + 1
        )
    return [rows[s] for s in sorted(rows)]


def ids_by_source(store: ChunkStore, scope: str | None = None) -> dict[str, set[str]]:
    """Chunk ids in the store (of one indexer's scope, if given), grouped by the document they came from."""
    stored = store.get(where={"scope": scope} if scope else None, include=["metadatas"])
    grouped: dict[str, set[str]] = {}
    for chunk_id, meta in zip(stored["ids"], stored["metadatas"], strict=True):
        grouped.setdefault((meta or {}).get("source", ""), set()).add(chunk_id)
    return grouped


@dataclass(frozen=True)
class IndexStatus:
    documents: int
    chunks: int
    embedding_model: str
    index_dir: str
    chroma_url: str | None
    collection: str
    last_sync: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def status(settings: Settings, embeddings: LocalEmbeddings) -> IndexStatus:
    store = open_store(settings, embeddings)
    return IndexStatus(
        documents=len(ids_by_source(store)),
        chunks=store._collection.count(),
        embedding_model=embeddings.model_name,
        index_dir=str(Path(settings.index_dir).resolve()),
        chroma_url=settings.chroma_url,
        collection=settings.collection,
        last_sync=(store._collection.metadata or {}).get("last_sync"),
    )
