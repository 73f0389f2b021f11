"""The Chroma vector store of chunks, with a companion collection of their sentences' vectors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_chroma import Chroma

from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.layout import SENTENCES_SUFFIX, pack_sentences
from assistant.text import tokens


class ChunkStore(Chroma):
    """Chroma whose writes also store each chunk's sentence vectors, from one model pass.

    A chunk's sentences are one row of the companion collection, under the chunk's id:
    written before their chunk and deleted with it, so a chunk in the index always has its
    sentences; rows left by an interrupted write are swept by ``sweep``. The companion is only
    ever read by id, so a row per sentence would fill a vector index nobody searches.
    """

    def __init__(
        self,
        client: Any,  # a chromadb client
        collection_name: str,
        embeddings: LocalEmbeddings,
        on_embedded: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(client=client, collection_name=collection_name, embedding_function=embeddings)
        self.local_embeddings = embeddings
        self.sentences = client.get_or_create_collection(
            collection_name + SENTENCES_SUFFIX, configuration={"hnsw": {"space": "cosine"}}
        )
        self.on_embedded = on_embedded

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        if ids is None or metadatas is None:
            raise ValueError("ChunkStore.add_texts needs ids and metadatas for every text")
        chunk_vectors, per_chunk = self.local_embeddings.encode_with_sentences(texts)
        # The lexical side's words, found once as the chunk is written: answering a question need not
        # load jieba to search Chinese chunks (nor does a sync that finds nothing to write).
        metadatas = [{**meta, "words": " ".join(tokens(text))} for meta, text in zip(metadatas, texts, strict=True)]
        # Chroma wants a vector for every row; the chunk's own is at hand.
        rows = [pack_sentences(found) for found in per_chunk]
        self.sentences.upsert(ids=ids, embeddings=chunk_vectors, metadatas=rows)
        self._collection.upsert(ids=ids, documents=texts, embeddings=chunk_vectors, metadatas=metadatas)
        if self.on_embedded:
            self.on_embedded(len(texts))
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> None:
        if ids:
            super().delete(ids)
            self.sentences.delete(ids=list(ids))

    def sweep(self) -> None:
        """Remove sentence rows whose chunk is gone (left by a write that was interrupted)."""
        chunk_ids = set(self._collection.get(include=[])["ids"])
        if stray := [sid for sid in self.sentences.get(include=[])["ids"] if sid not in chunk_ids]:
            self.sentences.delete(ids=stray)
