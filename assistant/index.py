"""The Chroma store and its indexing record manager: open, check, lock, describe."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.chunkstore import ChunkStore
from assistant.config import COLLECTION_NAME, RECORD_DB_FILE, Settings
from assistant.embeddings import LocalEmbeddings
from assistant.errors import IndexStateError

LOCK_FILE = ".sync.lock"
# Files that mark a folder as an index this program made, so --rebuild never wipes anything else.
INDEX_MARKERS = ("chroma.sqlite3", RECORD_DB_FILE)


def _rebuild_hint(settings: Settings) -> str:
    return f"run `assistant index --rebuild --index {settings.index_dir}`"


_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def _client(settings: Settings):  # noqa: ANN202 - a chromadb client
    """One client per index folder per process: chromadb fails when two threads create one at once."""
    import chromadb

    key = str(settings.index_dir.resolve())
    try:
        with _clients_lock:
            if key not in _clients:
                _clients[key] = chromadb.PersistentClient(path=key)
            return _clients[key]
    except Exception as exc:
        raise IndexStateError(
            f"index at {settings.index_dir} cannot be opened ({exc.__class__.__name__}: {exc}); "
            + _rebuild_hint(settings)
        ) from None


def open_store(
    settings: Settings,
    embeddings: LocalEmbeddings,
    *,
    create: bool = False,
    on_embedded: Callable[[int], None] | None = None,
) -> ChunkStore:
    """The index's vector store; refuses an index built by another embedding model."""
    if not create and not (settings.index_dir / "chroma.sqlite3").is_file():
        raise IndexStateError(
            f"no index at {settings.index_dir}: run `assistant index` to build it"
        )
    client = _client(settings)
    try:
        names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if COLLECTION_NAME in names:
            collection = client.get_collection(COLLECTION_NAME)
        elif create:
            collection = client.create_collection(
                COLLECTION_NAME,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": embeddings.model_name},
            )
        else:
            raise IndexStateError(
                f"index at {settings.index_dir} holds no documents collection; {_rebuild_hint(settings)}"
            )
    except IndexStateError:
        raise
    except Exception as exc:
        raise IndexStateError(
            f"index at {settings.index_dir} is damaged ({exc.__class__.__name__}); {_rebuild_hint(settings)}"
        ) from None
    built_with = (collection.metadata or {}).get("embedding_model")
    if built_with != embeddings.model_name:
        raise IndexStateError(
            f"index at {settings.index_dir} was built with embedding model {built_with!r}, "
            f"not {embeddings.model_name!r}; {_rebuild_hint(settings)}"
        )
    return ChunkStore(client, COLLECTION_NAME, embeddings, on_embedded)


def record_manager(settings: Settings):  # noqa: ANN201 - a LangChain SQLRecordManager
    """LangChain's SQL record manager, kept inside the index folder."""
    from langchain_classic.indexes import SQLRecordManager
    from sqlalchemy.exc import SQLAlchemyError

    path = (settings.index_dir / RECORD_DB_FILE).resolve()
    try:
        manager = SQLRecordManager(f"chroma/{COLLECTION_NAME}", db_url=f"sqlite:///{path}")
        manager.create_schema()
        manager.list_keys(limit=1)  # a damaged file fails here, not halfway through a sync
    except SQLAlchemyError as exc:
        raise IndexStateError(
            f"record file {path} is damaged ({exc.__class__.__name__}); {_rebuild_hint(settings)}"
        ) from None
    return manager


@contextlib.contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer per index: a second sync refuses at once instead of interleaving writes."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    path = settings.index_dir / LOCK_FILE
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexStateError(
                f"another `assistant index` is updating {settings.index_dir} (lock {path}); "
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
    # The open client holds the database files; close it before they go.
    with _clients_lock:
        client = _clients.pop(str(folder.resolve()), None)
    if client is not None:
        client.close()
    for entry in folder.iterdir():
        if entry.name == LOCK_FILE:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


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


def ids_by_source(store: ChunkStore) -> dict[str, set[str]]:
    """Chunk ids in the store, grouped by the document they came from."""
    stored = store.get(include=["metadatas"])
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
        last_sync=(store._collection.metadata or {}).get("last_sync"),
    )
