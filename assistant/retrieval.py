"""Hybrid retrieval over the index: Chroma's dense search and BM25, fused by reciprocal rank."""

from __future__ import annotations

import contextlib
import math
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.chunkstore import ChunkStore
from assistant.config import Settings
from assistant.connection import Connection, connect, current_sync
from assistant.embeddings import LocalEmbeddings
from assistant.index import open_store
from assistant.text import has_cjk, tokens

DEFAULT_K = 5
# Each side proposes this many candidates before fusion.
CANDIDATES = 20
# The usual constant of reciprocal rank fusion (Cormack et al., 2009).
RRF_K = 60


@dataclass
class Passage:
    """Retrieved text: one chunk, or neighbouring chunks of one file merged."""

    ids: list[str]
    text: str
    metadata: dict
    fused: float
    similarity: float  # cosine between question and passage embeddings
    coverage: float  # share of the question's words (idf-weighted) that the passage contains
    relevance: float = 0.0  # what the answer gate compares with min_relevance
    neighbours: list[int] = field(default_factory=list)


def relevance(query: str, similarity: float, coverage: float) -> float:
    """Meaning and shared words, equally weighted; words alone for Chinese, which the
    English-only embedding model cannot read (its similarities there are noise)."""
    return coverage if has_cjk(query) else (similarity + coverage) / 2


class LexicalIndex:
    """BM25 (bm25s) over every chunk in the store, with idf weights for word coverage."""

    def __init__(self, ids: list[str], texts: list[str], metadatas: list[dict]) -> None:
        import bm25s

        self.ids, self.texts, self.metadatas = ids, texts, metadatas
        corpus = [tokens(t) for t in texts]
        self.bm25 = bm25s.BM25()
        if corpus:
            self.bm25.index(corpus, show_progress=False)
        df = Counter(word for doc in corpus for word in set(doc))
        self.total = max(len(corpus), 1)
        self.idf = {word: math.log(1 + self.total / n) for word, n in df.items()}
        self.unseen_idf = math.log(1 + self.total)

    def top(self, query_tokens: list[str], n: int) -> list[int]:
        known = [t for t in query_tokens if t in self.idf]
        if not known or not self.ids:
            return []
        scores = self.bm25.get_scores(known)
        best = np.argsort(-scores)[:n]
        return [int(i) for i in best if scores[i] > 0]

    def coverage(self, query_tokens: list[str], text: str) -> float:
        wanted = set(query_tokens)
        if not wanted:
            return 0.0
        present = set(tokens(text))
        weight = {w: self.idf.get(w, self.unseen_idf) for w in wanted}
        return sum(weight[w] for w in wanted & present) / sum(weight.values())


def _merge_text(first: str, second: str) -> str:
    """Join neighbouring chunks, dropping the overlap the splitter repeated."""
    probe = second[:40]
    at = first.find(probe) if probe else -1
    if at >= 0 and second.startswith(first[at:]):
        return first[:at] + second
    return first + "\n" + second


class HybridRetriever:
    """Dense plus BM25 retrieval; both sides follow the index as it is re-synced, by any process."""

    def __init__(self, settings: Settings, embeddings: LocalEmbeddings, *, k: int | None = None) -> None:
        self.settings, self.embeddings, self.k = settings, embeddings, k or settings.top_k
        # Opened now, so a missing or unusable index fails here with a clear message (before
        # connect, which would create an empty database where the index's file is missing).
        self._store = open_store(settings, embeddings)
        connection = connect(settings)
        self._opened = (connection, connection.generation)  # what the store was opened on
        self._lexical: LexicalIndex | None = None
        self._stamp: tuple | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self) -> Iterator[tuple[ChunkStore, LexicalIndex]]:
        """The store and BM25 side as of the latest finished sync; neither closes during the block."""
        connection = connect(self.settings)
        with connection.reading() as client:
            collection = client.get_collection(self.settings.collection)
            latest = current_sync(collection)
            # A server shows another machine's chunks as they are written; an embedded client
            # only after it reopened, so there the BM25 side waits for the sync to finish too.
            version = (latest, None if connection.embedded else collection.count())
        connection.catch_up(latest)
        with connection.reading() as client:
            yield self._refreshed(connection, client, version)

    def _refreshed(
        self, connection: Connection, client: Any, version: tuple  # noqa: ANN401 - a chromadb client
    ) -> tuple[ChunkStore, LexicalIndex]:
        with self._lock:
            if self._opened != (connection, connection.generation):
                self._store = open_store(self.settings, self.embeddings)
                self._opened = (connection, connection.generation)
            stamp = (version, self._opened)
            if self._lexical is None or stamp != self._stamp:
                data = client.get_collection(self.settings.collection).get(include=["documents", "metadatas"])
                self._lexical = LexicalIndex(data["ids"], data["documents"], data["metadatas"])
                self._stamp = stamp
            return self._store, self._lexical

    def lexical(self) -> LexicalIndex:
        """The BM25 side (and its word weights) as of the latest search."""
        if self._lexical is None:
            with self.reading() as (_, lexical):
                return lexical
        return self._lexical

    def sentences_of(self, chunk_ids: list[str]) -> dict[str, list[tuple[str, Any]]]:
        with self.reading() as (store, _):
            return store.sentences_of(chunk_ids)

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first."""
        with self.reading() as (store, lexical):
            return self._search(store, lexical, query, k or self.k)

    def _search(self, store: ChunkStore, lexical: LexicalIndex, query: str, k: int) -> list[Passage]:
        query_tokens = tokens(query)
        found: dict[str, dict] = {}
        # The English-only model cannot read Chinese: measured on XQuAD-zh, its votes halve MRR.
        reads_query = not has_cjk(query)
        if reads_query:
            query_vector = np.asarray(self.embeddings.embed_query(query))
            dense = store._collection.query(
                query_embeddings=[query_vector.tolist()],
                n_results=min(CANDIDATES, max(len(lexical.ids), 1)),
                include=["documents", "metadatas", "embeddings"],
            )
            for rank, (cid, text, meta, vector) in enumerate(
                zip(dense["ids"][0], dense["documents"][0], dense["metadatas"][0], dense["embeddings"][0], strict=True)
            ):
                if text is None:  # deleted by another process's sync that this client has not caught up with
                    continue
                found[cid] = {"text": text, "meta": meta, "fused": 1 / (RRF_K + rank + 1),
                              "similarity": float(np.dot(query_vector, vector))}
        for rank, i in enumerate(lexical.top(query_tokens, CANDIDATES)):
            entry = found.setdefault(lexical.ids[i], {"text": lexical.texts[i], "meta": lexical.metadatas[i],
                                                      "fused": 0.0, "similarity": None})
            entry["fused"] += 1 / (RRF_K + rank + 1)
        best = sorted(found, key=lambda cid: -found[cid]["fused"])[:k]
        missing = [cid for cid in best if found[cid]["similarity"] is None]
        if missing and reads_query:
            stored = store._collection.get(ids=missing, include=["embeddings"])
            for cid, vector in zip(stored["ids"], stored["embeddings"], strict=True):
                found[cid]["similarity"] = float(np.dot(query_vector, vector))
        passages = []
        for cid in best:
            coverage = lexical.coverage(query_tokens, found[cid]["text"])
            similarity = found[cid]["similarity"] or 0.0
            passages.append(Passage(
                ids=[cid],
                text=found[cid]["text"],
                metadata=found[cid]["meta"],
                fused=found[cid]["fused"],
                similarity=similarity,
                coverage=coverage,
                relevance=relevance(query, similarity, coverage),
            ))
        return _merge_neighbours(passages)


def _merge_neighbours(passages: list[Passage]) -> list[Passage]:
    """Adjacent chunks of one file become one passage, in the place of the better of them."""
    merged: list[Passage] = []
    for passage in passages:
        meta = passage.metadata
        partner = next(
            (
                m
                for m in merged
                if m.metadata.get("source") == meta.get("source")
                and meta.get("chunk") is not None
                and (meta["chunk"] == max(m.neighbours) + 1 or meta["chunk"] == min(m.neighbours) - 1)
            ),
            None,
        )
        if partner is None:
            passage.neighbours = [meta.get("chunk", -1)]
            merged.append(passage)
            continue
        if meta["chunk"] > max(partner.neighbours):
            partner.text = _merge_text(partner.text, passage.text)
        else:
            partner.text = _merge_text(passage.text, partner.text)
            partner.metadata = meta
        partner.ids.append(passage.ids[0])
        partner.neighbours.append(meta["chunk"])
        partner.similarity = max(partner.similarity, passage.similarity)
        partner.coverage = max(partner.coverage, passage.coverage)
        partner.relevance = max(partner.relevance, passage.relevance)
    return merged
