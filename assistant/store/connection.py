"""Where the index lives: Chroma embedded in the index folder, or a Chroma server.

One client per place per process. An embedded client keeps the vector segment it loaded,
so it does not see what another process wrote (chroma-core/chroma#3792); readers reopen it
when another process has finished a sync, under a read-write lock so no reader is cut off.
"""

from __future__ import annotations

import contextlib
import errno
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

from readerwriterlock import rwlock

from assistant.config import Settings
from assistant.errors import IndexStateError

HEARTBEAT_PATH = "/api/v2/heartbeat"
DATABASE_FILE = "chroma.sqlite3"
# A reader waits this long for in-flight queries before it reopens; else it tries again later.
REOPEN_WAIT_SECONDS = 0.5


def rebuild_hint(settings: Settings) -> str:
    return f"run `assistant index --rebuild --index {settings.index_dir}`"


def unusable(settings: Settings, exc: BaseException, failed: str = "cannot be read") -> IndexStateError:
    """Chroma's (or the disk's) failure as one line with the fix that fits it: rebuilding cures a
    damaged index, not a read-only folder or a full disk."""
    place, detail = describe(settings), f"{exc.__class__.__name__}: {exc}".lower()
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "disk is full" in detail:
        return IndexStateError(f"{place}: the disk is full; free some space and try again")
    if isinstance(exc, PermissionError) or "readonly" in detail or "read-only" in detail:
        return IndexStateError(f"{place} cannot be written (a read-only folder?); make {settings.index_dir} writable")
    reason = (str(exc).strip().splitlines() or [""])[0][:200]
    shown = f"{exc.__class__.__name__}: {reason}" if reason else exc.__class__.__name__
    return IndexStateError(f"{place} {failed} ({shown}); {rebuild_hint(settings)}")


def describe(settings: Settings) -> str:
    """The index's place, for messages: its folder, or the server URL and collection."""
    if settings.chroma_url:
        return f"Chroma server {settings.chroma_url} (collection {settings.collection})"
    return f"index at {settings.index_dir}"


def _auth_headers(settings: Settings) -> dict[str, str]:
    # Chroma's token convention; a proxy or Chroma Cloud in front of the server checks it.
    return {"Authorization": f"Bearer {settings.chroma_token}"} if settings.chroma_token else {}


def _check_server(settings: Settings) -> None:
    """Fail fast, naming the URL, when the server is down, slow or refuses the token."""
    import httpx

    url = settings.chroma_url.rstrip("/")
    try:
        reply = httpx.get(url + HEARTBEAT_PATH, headers=_auth_headers(settings), timeout=settings.chroma_timeout)
    except httpx.TimeoutException:
        raise IndexStateError(
            f"Chroma server {url} did not answer within {settings.chroma_timeout:g} s (ASSISTANT_CHROMA_TIMEOUT)"
        ) from None
    except httpx.HTTPError as exc:
        raise IndexStateError(f"Chroma server {url} is unreachable ({exc.__class__.__name__}: {exc})") from None
    if reply.status_code in (401, 403):
        raise IndexStateError(
            f"Chroma server {url} refused the token (HTTP {reply.status_code}); check ASSISTANT_CHROMA_TOKEN"
        )
    if reply.status_code != 200:
        raise IndexStateError(f"Chroma server {url} answered its heartbeat with HTTP {reply.status_code}")


def _server_client(settings: Settings) -> Any:  # a chromadb client
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    _check_server(settings)
    parts = urllib.parse.urlsplit(settings.chroma_url)
    ssl = parts.scheme == "https"
    try:
        client = chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if ssl else 8000),
            ssl=ssl,
            headers=_auth_headers(settings),
            settings=ChromaSettings(anonymized_telemetry=False),
        )
    except Exception as exc:
        raise IndexStateError(
            f"Chroma server {settings.chroma_url} cannot be used ({exc.__class__.__name__}: {exc})"
        ) from None
    # chromadb's HTTP session never times out by itself; a hung server would hang every caller.
    client._server._session.timeout = httpx.Timeout(settings.chroma_timeout)
    return client


def _embedded_client(settings: Settings) -> Any:  # a chromadb client
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path = str(settings.index_dir.resolve())
    try:
        return chromadb.PersistentClient(path=path, settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:
        # chromadb keeps a system that failed to start under its path, and every later client
        # for that path would get it: forget it, so a repaired index opens in this process.
        _evict_shared_system(path)
        raise unusable(settings, exc, "cannot be opened") from None


def _evict_shared_system(path: str) -> None:
    """Make chromadb start a new system for ``path`` next time, instead of handing back the one it keeps."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)


def _database_identity(settings: Settings) -> tuple[int, int] | None:
    """Which file the embedded index's database is (None when there is none): a rebuild or a deletion changes it."""
    try:
        found = (settings.index_dir / DATABASE_FILE).stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def current_sync(collection: Any) -> str | None:  # a chromadb collection
    """The id of the last finished sync of ``collection``: changes whenever its contents did."""
    return (collection.metadata or {}).get("sync_id")


class Connection:
    """A client for one index, and what this process knows about how fresh it is."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded = not settings.chroma_url
        self._rw = rwlock.RWLockFair()
        self.generation = 0
        self.client = self._open()
        self.identity = _database_identity(settings) if self.embedded else None
        # Syncs whose writes this client has seen: this process's own, and those before it opened.
        self.seen_syncs: set[str | None] = {self._latest_sync()}

    def _open(self) -> Any:  # a chromadb client
        return _embedded_client(self.settings) if self.embedded else _server_client(self.settings)

    def _latest_sync(self) -> str | None:
        try:
            return current_sync(self.client.get_collection(self.settings.collection))
        except Exception:  # no collection yet: nothing to have missed
            return None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """The client, which is not closed or replaced until the block ends."""
        with self._rw.gen_rlock():
            yield self.client

    def catch_up(self, sync_id: str | None) -> None:
        """Make the client see sync ``sync_id`` (which another process may have written)."""
        if not self.embedded or sync_id in self.seen_syncs:
            return  # a server client always sees the latest writes
        writer = self._rw.gen_wlock()
        if not writer.acquire(blocking=True, timeout=REOPEN_WAIT_SECONDS):
            return  # readers are busy: answers come from the previous index until the next try
        try:
            if sync_id in self.seen_syncs:  # another thread caught up while we waited
                return
            self.client.close()
            self.client = self._open()
            self.generation += 1
            self.seen_syncs.add(self._latest_sync())
            self.seen_syncs.add(sync_id)
        finally:
            writer.release()

    def close(self) -> None:
        with self._rw.gen_wlock():
            if self.embedded:
                self.client.close()


_connections: dict[tuple, Connection] = {}
_connections_lock = threading.RLock()


def _key(settings: Settings) -> tuple:
    if settings.chroma_url:
        return ("server", settings.chroma_url, settings.chroma_token)
    return ("embedded", str(settings.index_dir.resolve()))


def connect(settings: Settings) -> Connection:
    """This process's connection to the index ``settings`` name (opened on first use).

    An embedded index whose database file was replaced (rebuilt by another process) or deleted
    since its connection opened gets a new connection: the old one reads a file that is gone.
    """
    key = _key(settings)
    with _connections_lock:
        known = _connections.get(key)
        if known is not None and known.embedded and known.identity != _database_identity(settings):
            forget(settings)
            known = None
        if known is None:
            known = _connections[key] = Connection(settings)
        return known


def forget(settings: Settings) -> None:
    """Drop this process's connection without closing it under readers still using it; the next
    ``connect`` opens the index afresh (after a failure, or when its files were replaced)."""
    with _connections_lock:
        connection = _connections.pop(_key(settings), None)
        if connection is not None and connection.embedded:
            _evict_shared_system(str(settings.index_dir.resolve()))


def disconnect(settings: Settings) -> None:
    """Close and forget the connection, e.g. before the index folder is deleted."""
    with _connections_lock:
        connection = _connections.pop(_key(settings), None)
    if connection is not None:
        connection.close()
