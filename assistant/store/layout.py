"""How the index is laid out in Chroma: the chunk collection and its companion of sentence rows."""

from __future__ import annotations

import base64
import json

import numpy as np

SENTENCES_SUFFIX = "-sentences"
# Recorded on the chunk collection; an index written in another layout must be rebuilt.
# Layout 2: one companion row per chunk, holding all its sentences (layout 1 had a row per sentence).
INDEX_LAYOUT = 2
# Sentence vectors only rank a chunk's own sentences against the question: half precision is plenty.
_VECTOR_DTYPE = np.float16


def pack_sentences(found: list[tuple[str, np.ndarray]]) -> dict[str, str]:
    vectors = np.stack([v for _, v in found]).astype(_VECTOR_DTYPE) if found else np.zeros((0, 0), _VECTOR_DTYPE)
    return {
        "sentences": json.dumps([s for s, _ in found], ensure_ascii=False),
        "vectors": base64.b64encode(vectors.tobytes()).decode("ascii"),
    }


def unpack_sentences(meta: dict[str, str]) -> list[tuple[str, np.ndarray]]:
    texts = json.loads(meta["sentences"])
    if not texts:
        return []
    vectors = np.frombuffer(base64.b64decode(meta["vectors"]), dtype=_VECTOR_DTYPE).reshape(len(texts), -1)
    return list(zip(texts, vectors.astype(np.float32), strict=True))
