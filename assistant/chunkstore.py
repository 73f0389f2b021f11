"""The Chroma vector store of chunks, with a companion collection of their sentences' vectors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_chroma import Chroma

from assistant.embeddings import LocalEmbeddings

SENTENCES_SUFFIX = "-sentences"


class ChunkStore(Chroma):
    """Chroma whose writes also store each chunk's sentence vectors, from one model pass.

    Sentences are written before their chunk and deleted with it, so a chunk in the index
    always has its sentences; sentences left by an interrupted write are swept by ``sweep``.
    """

    def __init__(
        self,
        client: Any,  # noqa: ANN401 - a chromadb client
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
        **kwargs: Any,  # noqa: ANN401
    ) -> list[str]:
        texts = list(texts)
        if ids is None or metadatas is None:
            raise ValueError("ChunkStore.add_texts needs ids and metadatas for every text")
        chunk_vectors, per_chunk = self.local_embeddings.encode_with_sentences(texts)
        sentence_ids, sentence_texts, sentence_vectors, sentence_meta = [], [], [], []
        for chunk_id, found in zip(ids, per_chunk, strict=True):
            for number, (sentence, vector) in enumerate(found):
                sentence_ids.append(f"{chunk_id}:{number}")
                sentence_texts.append(sentence)
                sentence_vectors.append(vector)
                sentence_meta.append({"chunk_id": chunk_id, "n": number})
        if sentence_ids:
            self.sentences.upsert(
                ids=sentence_ids, documents=sentence_texts, embeddings=sentence_vectors, metadatas=sentence_meta
            )
        self._collection.upsert(ids=ids, documents=texts, embeddings=chunk_vectors, metadatas=metadatas)
        if self.on_embedded:
            self.on_embedded(len(texts))
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> None:  # noqa: ANN401
        if ids:
            super().delete(ids)
            self.sentences.delete(where={"chunk_id": {"$in": list(ids)}})

    def sentences_of(self, chunk_ids: list[str]) -> dict[str, list[tuple[str, Any]]]:
        """Each chunk's sentences in reading order, with their vectors."""
        if not chunk_ids:
            return {}
        found = self.sentences.get(
            where={"chunk_id": {"$in": chunk_ids}}, include=["documents", "embeddings", "metadatas"]
        )
        grouped: dict[str, list[tuple[int, str, Any]]] = {}
        for text, vector, meta in zip(found["documents"], found["embeddings"], found["metadatas"], strict=True):
            grouped.setdefault(meta["chunk_id"], []).append((meta["n"], text, vector))
        return {cid: [(t, v) for _, t, v in sorted(items, key=lambda x: x[0])] for cid, items in grouped.items()}

    def sweep(self) -> None:
        """Remove sentences whose chunk is gone (left by a write that was interrupted)."""
        chunk_ids = set(self._collection.get(include=[])["ids"])
        stored = self.sentences.get(include=["metadatas"])
        stray = [sid for sid, meta in zip(stored["ids"], stored["metadatas"], strict=True)
                 if meta["chunk_id"] not in chunk_ids]
        if stray:
            self.sentences.delete(ids=stray)
