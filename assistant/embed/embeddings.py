"""The local sentence-transformers model, loaded once per process, as LangChain Embeddings."""

from __future__ import annotations

import functools
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.config import DEFAULT_EMBEDDING_BACKEND, EMBEDDING_BACKENDS, Settings
from assistant.embed import e5_model
from assistant.embed.model_files import max_seq_length, model_folder, model_id, pools_by_mean
from assistant.errors import ConfigError
from assistant.text import has_cjk, sentence_spans

# Texts per forward pass. onnxruntime keeps hold of the most working memory a pass needed, so
# its passes are smaller: 16 full-length chunks peak 0.8 GB lower than 64, at the same speed.
ENCODE_BATCH_SIZES = {"onnx-int8": 16, "torch": 64}
CHINESE_PROBE = "中英职业教育合作与交流，学徒制与技能培训。"
UNKNOWN_PIECES = ("[UNK]", "<unk>")
# Where a model's scale of meaning starts and where it reaches 1, per (question, passage) language:
# e5's similarities all sit high, higher within one language than across two. Measured on XQuAD
# (150 questions, 240 paragraphs each side). Within one language shared words count as much as
# meaning, and the floor is that of a typical unrelated paragraph. Across languages the words
# shared are the question's read through the dictionary (glossary); each pair's scale is set by the
# answer gate of benchmarks/calibrate_gate.py to decline about 13% of answerable questions
# (false refusal / negatives declined): Chinese questions about English articles 0.32 / 0.77 on
# meaning alone, 0.133 / 0.65 with the dictionary on (0.73, 0.83); English questions about
# Chinese articles 0.30 / 0.79 on meaning alone, 0.133 / 0.64 with it on (0.70, 0.81), 0.28 /
# 0.90 on (0.72, 0.83).
SIMILARITY_SCALES = {
    e5_model.MODEL_ID: {
        ("en", "en"): (0.74, 0.93), ("zh", "zh"): (0.80, 0.94),
        ("zh", "en"): (0.73, 0.83), ("en", "zh"): (0.70, 0.81),
    },
}


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class LocalEmbeddings(Embeddings):
    """Normalised sentence-transformers embeddings; cosine similarity is a dot product.

    Cheap to create: the word-piece tokenizer is read from the model folder, the model itself is
    loaded when documents are first embedded. With the onnx-int8 backend a question is embedded by
    onnxruntime alone, so answering never imports torch or sentence-transformers.
    """

    def __init__(
        self,
        folder: Path,
        model_name: str,
        backend: str = DEFAULT_EMBEDDING_BACKEND,
        cache: Path | None = None,
    ) -> None:
        if backend not in EMBEDDING_BACKENDS:
            raise ConfigError(f"embedding backend {backend!r} is not one of {', '.join(EMBEDDING_BACKENDS)}")
        from tokenizers import Tokenizer

        self.folder, self.model_name, self.backend = folder, model_name, backend
        self.cache = cache or Settings().model_cache
        self.batch_size = ENCODE_BATCH_SIZES[backend]
        self.max_tokens = max_seq_length(folder)
        # The model's word pieces, uncut and unpadded: chunks are measured with them.
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._scales = SIMILARITY_SCALES.get(model_name.split("@")[0], {})
        # A model trained with prefixes (e5: "query: ", "passage: ") is given them; others get none.
        prompts = _prompts(folder)
        self.query_prefix, self.passage_prefix = prompts.get("query", ""), prompts.get("document", "")
        # A model whose word pieces cover Chinese can embed Chinese questions and passages; an
        # English-only one turns most characters into its unknown piece and its vectors are noise.
        probe = self.tokenizer.encode(CHINESE_PROBE, add_special_tokens=False)
        unknown = {self.tokenizer.token_to_id(piece) for piece in UNKNOWN_PIECES} - {None}
        self.reads_chinese = sum(i in unknown for i in probe.ids) < 0.1 * max(len(probe.ids), 1)
        self._lock = threading.Lock()
        self._model: Any = None
        self._query_encoder: Any = None

    @property
    def model(self) -> Any:  # a SentenceTransformer
        """The sentence-transformers model (torch, or the int8 export in its place), loaded on first use."""
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> Any:
        # Never reach for a hub: the model is a local folder on air-gapped machines.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # Loading bars, and the tokenizer's warning when a long text is measured, are noise:
        # chunks are cut to the model's limit before they are embedded.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
        if self.backend == "onnx-int8":
            from assistant.embed.onnx_model import use_int8_onnx

            use_int8_onnx(model, self.folder, self.cache)
        return model

    def _query_model(self) -> Any:
        """What embeds a question: onnxruntime alone when the int8 export exists, else the model."""
        with self._lock:
            if self._query_encoder is None and self.backend == "onnx-int8" and pools_by_mean(self.folder):
                from assistant.embed.onnx_model import OnnxQueryEncoder, int8_path

                if (path := int8_path(self.folder, self.cache)).is_file():
                    self._query_encoder = OnnxQueryEncoder(path, self.tokenizer, self.max_tokens)
            return self._query_encoder

    def similarity_scale(self, question_language: str, passage_language: str) -> tuple[float, float]:
        """(unrelated, fully related) similarity for a question and passage in these languages:
        (0, 1), similarity as it is, for a model with no measured scale."""
        return self._scales.get((question_language, passage_language), (0.0, 1.0))

    def reads(self, text: str) -> bool:
        """Whether the model's vectors for ``text`` mean anything (Chinese needs a model that reads it)."""
        return self.reads_chinese or not has_cjk(text)

    def encode(self, texts: list[str], prefix: str | None = None) -> np.ndarray:
        """Unit vectors of ``texts`` as passages (or with ``prefix``, e.g. the query prefix)."""
        prefix = self.passage_prefix if prefix is None else prefix
        return self.model.encode(
            [prefix + text for text in texts],
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
        prefixed = [self.passage_prefix + text for text in texts]
        outputs = self.model.encode(
            prefixed, batch_size=self.batch_size, output_value=None, convert_to_numpy=True, show_progress_bar=False
        )
        chunk_vectors = _unit(np.stack([np.asarray(o["sentence_embedding"], dtype=np.float32) for o in outputs]))
        # The model's own cut: [CLS], the first max_tokens - 2 word pieces, [SEP].
        every_offsets = [e.offsets[: self.max_tokens - 1] for e in self.tokenizer.encode_batch(prefixed)]
        shift = len(self.passage_prefix)  # offsets into the text, not the prefixed text: the prefix's go below 0
        per_chunk = []
        for text, output, offsets in zip(texts, outputs, every_offsets, strict=True):
            # Token embeddings come padded to the longest text of the batch.
            pieces = np.asarray(output["token_embeddings"], dtype=np.float32)[: len(offsets)]
            starts = np.array([a for a, _ in offsets]) - shift
            ends = np.array([b for _, b in offsets]) - shift
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
        encoder = self._query_model()
        query = self.query_prefix + text
        return (encoder.encode(query) if encoder is not None else self.encode([query], prefix="")[0]).tolist()


def _prompts(folder: Path) -> dict[str, str]:
    """The prefixes a sentence-transformers folder declares for queries and documents."""
    config = folder / "config_sentence_transformers.json"
    if not config.is_file():
        return {}
    try:
        prompts = json.loads(config.read_text()).get("prompts") or {}
        return {key: value for key, value in prompts.items() if isinstance(value, str)}
    except (OSError, ValueError, AttributeError):
        return {}


def load_embeddings(settings: Settings | None = None) -> LocalEmbeddings:
    """The embedding model ``settings`` name (a folder, or the shipped one) run by their backend; one per process."""
    settings = settings or Settings()
    # Cached on what picks the model, not on the whole Settings: every index and folder shares it.
    return _loaded(settings.embedding_model, settings.embedding_backend, settings.model_cache)


@functools.cache
def _loaded(name: str | None, backend: str, cache: Path) -> LocalEmbeddings:
    return LocalEmbeddings(model_folder(name, cache), model_id(name, backend), backend, cache)
