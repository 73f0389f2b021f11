"""The embedding model's transformer exported once to int8 ONNX, and run with onnxruntime in its place."""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

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


def int8_model(folder: Path, cache: Path) -> Path:
    """The int8 ONNX file for the model in ``folder``, exported into ``cache`` the first time (~20 s)."""
    target = cache / f"int8-{model_digest(folder)}.onnx"
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


class OnnxTransformer(torch.nn.Module):
    """Stands in for the Hugging Face model inside sentence-transformers' Transformer module."""

    def __init__(self, path: Path, config: object) -> None:
        super().__init__()
        import onnxruntime

        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.config = config  # sentence-transformers reads the Hugging Face config from its model
        # A parameter, so that SentenceTransformer.device still finds where the model lives.
        self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        **_unused: object,
    ) -> dict[str, torch.Tensor]:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        feed = {name: given[name].numpy() for name in self.inputs}
        (hidden,) = self.session.run(["last_hidden_state"], feed)
        return {"last_hidden_state": torch.from_numpy(hidden)}


def use_int8_onnx(model: SentenceTransformer, folder: Path, cache: Path) -> None:
    """Swap the transformer inside a loaded SentenceTransformer for its int8 ONNX export."""
    transformer = model[0]  # sentence-transformers 6 keeps the Hugging Face model in `.model`
    transformer.model = OnnxTransformer(int8_model(folder, cache), transformer.model.config)
