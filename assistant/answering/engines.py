"""Choosing the answer engine named by ASSISTANT_LLM."""

from __future__ import annotations

from assistant.answering.extractive import ExtractiveEngine
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.search.retriever import HybridRetriever
from assistant.types import Engine


def make_extractive_engine(embeddings: LocalEmbeddings, retriever: HybridRetriever) -> ExtractiveEngine:
    """The default engine, over the retriever's word weights and stored sentence vectors."""
    return ExtractiveEngine(
        embeddings, lambda words: retriever.lexical().weigh(words), retriever.sentences_of
    )


def make_engine(settings: Settings, embeddings: LocalEmbeddings, retriever: HybridRetriever) -> Engine:
    """The extractive engine, or the LLM engine ASSISTANT_LLM names (its imports only when chosen)."""
    if settings.llm == "extractive":
        return make_extractive_engine(embeddings, retriever)
    if settings.llm == "openai":
        from assistant.answering.openai_engine import make_openai_engine

        return make_openai_engine(settings)
    from assistant.answering.local_engine import make_local_engine

    return make_local_engine(settings)
