"""A document-grounded assistant for China–UK vocational education cooperation.

The public API is loaded on first use, so ``import assistant.config`` (or the CLI's
``status``) does not pay for the answer chain's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.answering.chain import Assistant, answer, stream_answer
    from assistant.types import Answer, Source

__all__ = ["Answer", "Assistant", "Source", "answer", "stream_answer"]

_HOMES = {
    "Answer": "assistant.types",
    "Source": "assistant.types",
    "Assistant": "assistant.answering.chain",
    "answer": "assistant.answering.chain",
    "stream_answer": "assistant.answering.chain",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
