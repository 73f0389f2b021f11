"""The app serving the shipped corpus on a free local port, for UI tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import app
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.sync import sync
from tests.conftest import SHIPPED_DOCS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving_shipped_corpus(root: Path, embeddings: LocalEmbeddings) -> Iterator[tuple[str, Settings]]:
    """The shipped corpus indexed under ``root`` and the app serving it; yields (url, settings)."""
    settings = Settings(docs_dir=root / "documents", index_dir=root / "index")
    shutil.copytree(SHIPPED_DOCS, settings.docs_dir)
    sync(settings, embeddings=embeddings)
    ui = app.build_app(settings)
    try:
        yield app.launch(ui, settings, host="127.0.0.1", port=free_port(), prevent_thread_lock=True), settings
    finally:
        ui.close()
