"""Choosing the answer engine named by ASSISTANT_LLM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.embeddings import LocalEmbeddings
from assistant.extractive import ExtractiveEngine
from assistant.retrieval import HybridRetriever

if TYPE_CHECKING:
    from assistant.answer import Engine


def make_engine(settings: Settings, embeddings: LocalEmbeddings, retriever: HybridRetriever) -> Engine:
    if settings.llm == "extractive":
        return ExtractiveEngine(
            embeddings,
            lambda words, text: retriever.lexical().coverage(words, text),
            retriever.sentences_of,
        )
    from assistant import llm

    return llm.make_llm_engine(settings)
