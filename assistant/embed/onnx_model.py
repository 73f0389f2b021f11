"""The embedding model's transformer exported once to int8 ONNX (the one use of torch on this path), and
run with onnxruntime: in sentence-transformers' place when indexing, on its own for a question."""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

# Part of the cache key: change it when the export or quantisation below changes, so old files are left alone.
EXPORT_RECIPE = "opset17-qint8-per-channel-matmul-v1"
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

log = logging.getLogger(__name__)


def model_digest(folder: Path) -> str:
    """A hash of the model folder's files, so an export is never reused for another model."""
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:20]


def _export(folder: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager", local_files_only=True).eval()
    names = [n for n in INPUT_NAMES if n in inspect.signature(model.forward).parameters]

    class ByKeyword(torch.nn.Module):
        # The tracer passes inputs by position; transformers' forward takes them by name.
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, tensors, strict=True))).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # a padded row, so the trace keeps the attention-mask path
    sample = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    # The tracer warns about shape checks it freezes; they hold for any batch (tests compare padded batches).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            ByKeyword(),
            tuple(sample[n] for n in names),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = source.with_name("prepared.onnx")
    # The symbolic shape pass stops on this graph ("Incomplete symbolic shape inference"); ONNX's own is enough.
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    # Per-channel signed int8 weights on the matrix products keep cosine to fp32 above 0.98.
    quantize_dynamic(
        str(prepared),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gemm"],
    )


def int8_path(folder: Path, cache: Path) -> Path:
    """Where the int8 ONNX file of the model in ``folder`` is kept (it may not be made yet)."""
    return cache / f"int8-{model_digest(folder)}.onnx"


def int8_model(folder: Path, cache: Path) -> Path:
    """The int8 ONNX file for the model in ``folder``, exported into ``cache`` the first time (~20 s)."""
    target = int8_path(folder, cache)
    if target.is_file():
        return target
    log.info("exporting embedding model %s to %s, once", folder, target)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        # Build in a private folder and move in with one rename: a process racing us, or one
        # killed halfway, never leaves or reads a half-written file.
        with tempfile.TemporaryDirectory(dir=cache, prefix=".export-") as work:
            exported, quantized = Path(work) / "model.onnx", Path(work) / "int8.onnx"
            _export(folder, exported)
            _quantize(exported, quantized)
            os.replace(quantized, target)
    except Exception as exc:  # any failure of the exporters means this backend cannot be used
        raise ConfigError(
            f"cannot export embedding model {folder} to int8 ONNX in {cache} "
            f"({exc.__class__.__name__}: {exc}); set ASSISTANT_EMBEDDING_BACKEND=torch to run it as it is"
        ) from exc
    return target


class OnnxQueryEncoder:
    """One text at a time through the int8 model, pooled as sentence-transformers pools it (mean of the
    word pieces, then unit length): the question's vector without loading torch or sentence-transformers."""

    def __init__(self, path: Path, tokenizer: Tokenizer, max_tokens: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        # Cut as sentence-transformers cuts: at the model's limit, [SEP] kept last.
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()

    def encode(self, text: str) -> np.ndarray:
        ids = np.array([self.tokenizer.encode(text).ids], dtype=np.int64)
        given = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self.session.run(["last_hidden_state"], {name: given[name] for name in self.inputs})
        vector = hidden[0].mean(axis=0)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


def use_int8_onnx(model: SentenceTransformer, folder: Path, cache: Path) -> None:
    """Swap the transformer inside a loaded SentenceTransformer for its int8 ONNX export."""
    from assistant.embed.onnx_module import OnnxTransformer

    transformer = model[0]  # sentence-transformers 6 keeps the Hugging Face model in `.model`
    transformer.model = OnnxTransformer(int8_model(folder, cache), transformer.model.config)
