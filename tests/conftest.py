"""Shared fixtures: all on-disk state in a temp folder, the real model loaded once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings
from assistant.store.chunkstore import ChunkStore
from assistant.store.index import Index
from assistant.store.sync import sync

pytest_plugins = ["tests.servers", "tests.engines"]

REPO = Path(__file__).resolve().parent.parent
SHIPPED_DOCS = REPO / "documents"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own documents and index folders; nothing touches the repo's."""
    docs, index = tmp_path / "documents", tmp_path / "index"
    docs.mkdir()
    monkeypatch.setenv("ASSISTANT_DOCS_DIR", str(docs))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(index))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Tests build and open indexes with the default backend, whatever the developer's shell says.
    monkeypatch.delenv("ASSISTANT_EMBEDDING_BACKEND", raising=False)
    return tmp_path


@pytest.fixture(scope="session", autouse=True)
def model_cache(pytestconfig: pytest.Config) -> Iterator[Path]:
    """The int8 ONNX export lives in pytest's cache, not the user's: made once (~20 s), reused by later runs."""
    folder = pytestconfig.cache.mkdir("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSISTANT_MODEL_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def embeddings(model_cache: Path) -> LocalEmbeddings:
    return load_embeddings()


@pytest.fixture
def settings(isolated_state: Path) -> Settings:
    return Settings()


@pytest.fixture
def shipped_docs(settings: Settings) -> Settings:
    """The shipped corpus copied into the test's documents folder."""
    shutil.copytree(SHIPPED_DOCS, settings.docs_dir, dirs_exist_ok=True)
    return settings


@pytest.fixture(scope="session")
def shipped_index(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Settings:
    """The shipped corpus indexed once per session, for tests that only read it."""
    root = tmp_path_factory.mktemp("shipped")
    shutil.copytree(SHIPPED_DOCS, root / "documents")
    settings = Settings(docs_dir=root / "documents", index_dir=root / "index")
    sync(settings, embeddings=embeddings)
    return settings


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def open_store(settings: Settings, embeddings: LocalEmbeddings) -> ChunkStore:
    """The index's LangChain vector store, for tests that look inside it."""
    return Index(settings, embeddings.model_name).writer(embeddings)
