"""The index and its one owner, ``Index``: open and check it, read it as of the latest sync, describe it,
write to it under a lock with LangChain's record manager, wipe or drop it.

Every use of Chroma's client and collections is in this sub-package; nothing above it sees them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.config import RECORD_DB_FILE, Settings
from assistant.errors import ConfigError, IndexStateError
from assistant.store.connection import (
    Connection,
    connect,
    current_sync,
    describe,
    disconnect,
    forget,
    rebuild_hint,
    unusable,
)
from assistant.store.feedback import FEEDBACK_FILE
from assistant.store.layout import INDEX_LAYOUT, SENTENCES_SUFFIX, unpack_sentences

if TYPE_CHECKING:
    from assistant.embed.embeddings import LocalEmbeddings
    from assistant.store.chunkstore import ChunkStore

LOCK_FILE = ".sync.lock"
# Files that mark a folder as an index this program made, so --rebuild never wipes anything else.
INDEX_MARKERS = ("chroma.sqlite3", RECORD_DB_FILE)


def index_exists(settings: Settings) -> bool:
    """Whether an index has been built where ``settings`` point (without creating anything)."""
    if not settings.chroma_url:
        return (settings.index_dir / INDEX_MARKERS[0]).is_file()
    with connect(settings).reading() as client:
        return settings.collection in _collection_names(client)


def _collection_names(client: Any) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


@dataclass(frozen=True)
class IndexedDocument:
    source: str
    title: str
    date: str | None
    chunks: int
    language: str | None = None
    summary: str | None = None


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


@dataclass(frozen=True)
class Hit:
    """A chunk found by dense search, with its stored vector."""

    id: str
    text: str
    metadata: dict
    vector: np.ndarray


class Snapshot:
    """The index as one reader sees it: nothing it reads is closed or replaced until the reading ends.

    A read that Chroma fails (a damaged database) is an IndexStateError naming the fix, and the
    connection is dropped, so the next reading opens the index afresh (repaired by then, perhaps).
    """

    def __init__(self, chunks: Any, sentences: Any, version: tuple, settings: Settings) -> None:
        self._chunks, self._sentences = chunks, sentences  # chromadb collections
        # Changes whenever the contents may have: readers rebuild what they derived from them.
        self.version = version
        self._settings = settings

    def _read(self, what: Callable[[], Any]) -> Any:
        try:
            return what()
        except Exception as exc:
            forget(self._settings)
            raise unusable(self._settings, exc) from None

    def count(self) -> int:
        return self._read(self._chunks.count)

    def nearest(self, vector: np.ndarray, n: int) -> list[Hit]:
        """The ``n`` chunks nearest ``vector`` by cosine, best first (``n`` at most the chunks there are)."""
        found = self._read(lambda: self._chunks.query(
            query_embeddings=[np.asarray(vector).tolist()],
            n_results=max(1, n),
            include=["documents", "metadatas", "embeddings"],
        ))
        return [
            Hit(cid, text, meta or {}, np.asarray(vec, dtype=np.float32))
            for cid, text, meta, vec in zip(
                found["ids"][0], found["documents"][0], found["metadatas"][0], found["embeddings"][0], strict=True
            )
            if text is not None  # deleted by another process's sync that this client has not caught up with
        ]

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the chunks ``ids`` (those still in the index)."""
        if not ids:
            return {}
        stored = self._read(lambda: self._chunks.get(ids=list(dict.fromkeys(ids)), include=["embeddings"]))
        pairs = zip(stored["ids"], stored["embeddings"], strict=True)
        return {cid: np.asarray(vector, dtype=np.float32) for cid, vector in pairs}

    def contents(self) -> tuple[list[str], list[str], list[dict]]:
        """Every chunk's id, text and metadata."""
        data = self._read(lambda: self._chunks.get(include=["documents", "metadatas"]))
        return data["ids"], data["documents"], [m or {} for m in data["metadatas"]]

    def sentences_of(self, chunk_ids: list[str]) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Each chunk's sentences in reading order, with the vectors stored at indexing time."""
        if not chunk_ids:
            return {}
        # Chroma refuses a repeated id; passages may share a chunk.
        found = self._read(lambda: self._sentences.get(ids=list(dict.fromkeys(chunk_ids)), include=["metadatas"]))
        return {cid: unpack_sentences(meta) for cid, meta in zip(found["ids"], found["metadatas"], strict=True)}

    def documents(self) -> list[IndexedDocument]:
        """One row per indexed file, sorted by path."""
        rows: dict[str, IndexedDocument] = {}
        for meta in self._read(lambda: self._chunks.get(include=["metadatas"]))["metadatas"]:
            meta = meta or {}
            source = meta.get("source", "")
            seen = rows.get(source)
            rows[source] = IndexedDocument(
                source, meta.get("title", source), meta.get("date"), (seen.chunks if seen else 0) + 1,
                meta.get("language"), meta.get("summary"),
            )
        return [rows[s] for s in sorted(rows)]

    def chunks_of(self, source: str) -> list[str]:
        """The chunks of the file ``source`` in reading order: its text as the index holds it."""
        found = self._read(lambda: self._chunks.get(where={"source": source}, include=["documents", "metadatas"]))
        ordered = sorted(zip(found["metadatas"], found["documents"], strict=True), key=lambda m: m[0].get("chunk", 0))
        return [text for _, text in ordered]

    def last_sync(self) -> str | None:
        return (self._chunks.metadata or {}).get("last_sync")


class Index:
    """One index (a folder, or a collection on a Chroma server), checked to be built by ``model_id``.

    Opening loads no model: the model is checked by the id the index records. Reading follows
    syncs by any process: an embedded client keeps the vectors it loaded, so after another
    process's sync it is reopened (see ``connection``) and the collections fetched again.
    """

    def __init__(self, settings: Settings, model_id: str, *, create: bool = False) -> None:
        self.settings, self.model_id = settings, model_id
        self.place = describe(settings)
        # Checked before connecting, which would create an empty database where the index's file is missing.
        if not create and not settings.chroma_url and not index_exists(settings):
            raise IndexStateError(f"no {self.place}: run `assistant index` to build it")
        self._lock = threading.Lock()
        self._sentences: tuple[tuple, Any] | None = None  # ((connection, generation), collection)
        self._opened = False
        with self._connection().reading() as client:
            self._collection(client, create=create)
        self._opened = True

    def _connection(self) -> Connection:
        """This process's connection, opened afresh when the index's files were replaced or deleted."""
        if self._opened and not self.settings.chroma_url and not index_exists(self.settings):
            forget(self.settings)  # deleted under us: never recreate an empty index by reading it
            raise IndexStateError(f"no {self.place}: run `assistant index` to build it")
        return connect(self.settings)

    def _collection(self, client: Any, *, create: bool = False) -> Any:  # a chromadb collection
        """The chunk collection, checked to be one this model and this version of the program can read."""
        name = self.settings.collection
        try:
            if name in _collection_names(client):
                collection = client.get_collection(name)
            elif create:
                collection = self._create(client, name)
            elif self.settings.chroma_url:
                raise IndexStateError(f"nothing indexed yet in {self.place}: run `assistant index` to build it")
            else:
                raise IndexStateError(f"{self.place} holds no documents collection; {rebuild_hint(self.settings)}")
        except IndexStateError:
            raise
        except Exception as exc:
            forget(self.settings)
            raise unusable(self.settings, exc, "is damaged") from None
        metadata = collection.metadata or {}
        built_with = metadata.get("embedding_model")
        if built_with != self.model_id:
            raise IndexStateError(
                f"{self.place} was built with embedding model {built_with!r}, not {self.model_id!r}; "
                + rebuild_hint(self.settings)
            )
        layout = metadata.get("layout", 1)
        if layout != INDEX_LAYOUT:
            raise IndexStateError(
                f"{self.place} was written by another version of the assistant (index layout {layout}, "
                f"this version reads {INDEX_LAYOUT}); " + rebuild_hint(self.settings)
            )
        return collection

    def _create(self, client: Any, name: str) -> Any:
        try:
            return client.create_collection(
                name,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": self.model_id, "layout": INDEX_LAYOUT},
            )
        except Exception as exc:
            if "already exists" not in str(exc):
                raise
            # Another indexer sharing the server created it a moment ago: it is checked like any other.
            return client.get_collection(name)

    def _fetch(self, client: Any) -> Any:
        """The chunk collection as it is now (its metadata carries the latest sync's stamp)."""
        try:
            return client.get_collection(self.settings.collection)
        except Exception as exc:
            forget(self.settings)
            raise unusable(self.settings, exc) from None

    def _sentence_collection(self, client: Any, opened: tuple) -> Any:
        with self._lock:
            if self._sentences is None or self._sentences[0] != opened:
                name = self.settings.collection + SENTENCES_SUFFIX
                self._sentences = (opened, client.get_or_create_collection(
                    name, configuration={"hnsw": {"space": "cosine"}}
                ))
            return self._sentences[1]

    @contextlib.contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """The index as of the latest finished sync, by whichever process ran it."""
        connection = self._connection()
        with connection.reading() as client:
            collection = self._fetch(client)
            latest = current_sync(collection)
            # A server shows another machine's chunks as they are written; an embedded client
            # only after it reopened, so there readers wait for the sync to finish too.
            contents = (latest, None if connection.embedded else collection.count())
            generation = connection.generation
        connection.catch_up(latest)
        with connection.reading() as client:
            if connection.generation != generation:  # reopened: the collection objects are the old client's
                generation = connection.generation
                collection = self._collection(client)
            opened = (id(connection), generation)
            yield Snapshot(
                collection, self._sentence_collection(client, opened), (contents, opened), self.settings
            )

    def documents(self) -> list[IndexedDocument]:
        with self.reading() as snapshot:
            return snapshot.documents()

    def chunks_of(self, source: str) -> list[str]:
        with self.reading() as snapshot:
            return snapshot.chunks_of(source)

    def status(self) -> IndexStatus:
        with self.reading() as snapshot:
            return IndexStatus(
                documents=len(snapshot.documents()),
                chunks=snapshot.count(),
                embedding_model=self.model_id,
                index_dir=str(Path(self.settings.index_dir).resolve()),
                chroma_url=self.settings.chroma_url,
                collection=self.settings.collection,
                last_sync=snapshot.last_sync(),
            )

    # -- writing: only `sync` writes, under `writer_lock`

    def writer(self, embeddings: LocalEmbeddings, on_embedded: Callable[[int], None] | None = None) -> ChunkStore:
        """The LangChain vector store that indexing writes through, embedding with ``embeddings``."""
        if getattr(embeddings, "model_name", None) != self.model_id:
            raise IndexStateError(
                f"{self.place} is built with {self.model_id!r}, not {getattr(embeddings, 'model_name', '?')!r}"
            )
        from assistant.store.chunkstore import ChunkStore  # LangChain's Chroma: only writers need it

        return ChunkStore(self._connection().client, self.settings.collection, embeddings, on_embedded)

    def stamp_sync(self) -> None:
        """Mark the end of a sync, so readers (in any process) know to refresh."""
        sync_id = uuid.uuid4().hex
        connection = self._connection()
        connection.seen_syncs.add(sync_id)  # this process's client has seen its own writes
        with connection.reading() as client:
            collection = client.get_collection(self.settings.collection)
            collection.modify(
                metadata={
                    **(collection.metadata or {}),
                    "last_sync": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "sync_id": sync_id,
                }
            )

    @contextlib.contextmanager
    def holding_client(self) -> Iterator[None]:
        """Keep this process's client open (not reopened by readers) for the block, e.g. a sync."""
        with self._connection().reading():
            yield


def record_manager(settings: Settings) -> Any:  # a LangChain SQLRecordManager
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


def _create_schema(manager: Any) -> None:
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
    kept = {LOCK_FILE, FEEDBACK_FILE}  # readers' ratings outlive a rebuild
    entries = {p.name for p in folder.iterdir()} - kept
    if entries and not entries & set(INDEX_MARKERS):
        raise IndexStateError(f"{folder} does not look like an assistant index; not deleting it")
    disconnect(settings)  # the open client holds the database files
    for entry in folder.iterdir():
        if entry.name in kept:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def drop_server_index(settings: Settings) -> None:
    """Delete the collection and its sentences from the Chroma server (e.g. a temporary one)."""
    with connect(settings).reading() as client:
        for name in (settings.collection, settings.collection + SENTENCES_SUFFIX):
            if name in _collection_names(client):
                client.delete_collection(name)


def ids_by_source(store: ChunkStore, scope: str | None = None) -> dict[str, set[str]]:
    """Chunk ids in the store (of one indexer's scope, if given), grouped by the document they came from."""
    stored = store.get(where={"scope": scope} if scope else None, include=["metadatas"])
    grouped: dict[str, set[str]] = {}
    for chunk_id, meta in zip(stored["ids"], stored["metadatas"], strict=True):
        grouped.setdefault((meta or {}).get("source", ""), set()).add(chunk_id)
    return grouped


def forget_scope(store: ChunkStore, manager: Any, scope: str | None) -> None:
    """Remove this indexer's chunks and records from a shared collection, leaving the others'."""
    ids = set().union(*ids_by_source(store, scope).values())
    store.delete(list(ids))
    manager.delete_keys(manager.list_keys())
