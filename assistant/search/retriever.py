"""Hybrid retrieval over the index: Chroma's dense search and BM25, fused by reciprocal rank.

``HybridRetriever`` is a LangChain retriever, so it composes into anyone's chain; the answer chain
uses its ``search``, which returns ``Passage``s with the scores the relevance gate needs.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
import threading
from collections import Counter
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.embed.model_files import model_id_of
from assistant.glossary import translated
from assistant.store.index import Index, Snapshot
from assistant.text import ACRONYM, acronym_definitions, has_cjk, mostly_spelled_out, tokens
from assistant.types import Passage

# Each side proposes this many candidates before fusion.
CANDIDATES = 20
# Reciprocal rank fusion (Cormack et al., 2009), calibrated so that the hybrid is never worse than
# its better side. Measured, recall@5 over our chunks (dense / BM25 / fused): COVID-QA's long papers
# 0.575 / 0.805 / 0.77 with the usual k=60 and equal votes, 0.805 with these; XQuAD-en 0.982 /
# 0.992 / 0.995 either way; the collection's own questions 0.605 / 0.976 / 0.976 -> 0.982.
RRF_K = 10
BM25_WEIGHT = 2.0
# A question's words read through the dictionary vote for passages in the other language as the
# dense side votes: less than words that are the question's own, so that a passage in the question's
# language comes first where there is one (the collection's Chinese questions: 0.852 answered with
# 2.0, 0.944 with 1.0, as many as before the dictionary).
TRANSLATED_WEIGHT = 1.0
# A word read through the dictionary stands for every sense and form of it, so a passage on another
# subject shares more of them than of a question's own words: they count for less. Measured, the
# answer gate on XQuAD's Chinese questions about English articles (false refusal / negatives
# declined): the default model 0.067 / 0.30 at 1.0, 0.127 / 0.43 at 0.875; e5 0.107 / 0.58 at
# 1.0, 0.133 / 0.65 at 0.9, 0.173 / 0.74 at 0.8.
TRANSLATED_SHARE = 0.875

# A question's word of this many letters or more is found in the documents' words that begin with
# it, for relevance (not for choosing sentences). Measured (XQuAD-en, default model): answer hit
# 0.9175 -> 0.92, false refusal 0.0125 -> 0.010, the gate's negatives declined unchanged (0.937 at
# 0.35); COVID-QA and the collection's questions unchanged. Choosing sentences by them too cost
# COVID-QA 0.5625 -> 0.5525.
DERIVATION_MIN_LETTERS = 6

# A question's words, each as the set of words that count as finding it (itself, or its meanings in
# the other language; see glossary), with its weight.
Weighed = list[tuple[frozenset[str], float]]


def language_of(text: str) -> str:
    """"zh" or "en", the two languages of this collection, by script: on short questions a script
    test is exact where statistical detectors guess."""
    return "zh" if has_cjk(text) else "en"


def other_language(language: str) -> str:
    return "en" if language == "zh" else "zh"


def relevance(meaning: float | None, coverage: float, words_compared: bool) -> float:
    """Meaning and shared words, equally weighted, when their words can be compared (one language,
    or the question read through the dictionary); meaning alone otherwise (names and numbers are all
    two languages share without it); words alone when the model cannot read the question or the
    passage (``meaning`` None: an English-only model and Chinese)."""
    if meaning is None:
        return coverage
    return (meaning + coverage) / 2 if words_compared else meaning


def share(weighed: Weighed, present: set[str]) -> float:
    """The weighted share of the question's words found among ``present`` (words as ``tokens``
    finds them), a word being found when any of its set is."""
    total = sum(weight for _, weight in weighed)
    return sum(weight for word, weight in weighed if word & present) / total if total else 0.0


def chunk_language(text: str, metadata: dict) -> str:
    """The language a chunk was indexed in; a chunk indexed before chunks had one is told by its script."""
    return metadata.get("language") or language_of(text)


def _found_words(weighed: Weighed, present: set[str]) -> int:
    return sum(bool(word & present) for word, _ in weighed)


class LexicalIndex:
    """BM25 (bm25s) over every chunk in the store, with idf weights for word coverage."""

    def __init__(self, ids: list[str], texts: list[str], metadatas: list[dict]) -> None:
        import bm25s

        self.ids, self.texts, self.metadatas = ids, texts, metadatas
        self.position = {cid: i for i, cid in enumerate(ids)}
        corpus = [_words_of(text, meta) for text, meta in zip(texts, metadatas, strict=True)]
        self.words = [set(words) for words in corpus]
        self.language = np.array([chunk_language(t, m) for t, m in zip(texts, metadatas, strict=True)])
        self.languages = set(self.language.tolist())
        self.bm25 = bm25s.BM25()
        if corpus:
            self.bm25.index(corpus, show_progress=False)
        # Acronyms are read in their long form too: an English-only model does not know "WVTEDC".
        self.acronyms = mostly_spelled_out(acronym_definitions(texts), texts)
        df = Counter(word for doc in self.words for word in doc)
        self.total = max(len(corpus), 1)
        self.idf = {word: math.log(1 + self.total / n) for word, n in df.items()}
        self.vocabulary = sorted(self.idf)
        self.unseen_idf = math.log(1 + self.total)

    def top(self, query_tokens: list[str], n: int, language: str | None = None) -> list[int]:
        """The ``n`` best chunks by BM25 (only those in ``language``, when given)."""
        known = [t for t in query_tokens if t in self.idf]
        if not known or not self.ids:
            return []
        scores = self.bm25.get_scores(known)
        if language is not None:
            scores = np.where(self.language == language, scores, 0.0)
        best = np.argsort(-scores)[:n]
        return [int(i) for i in best if scores[i] > 0]

    def weigh(self, words: list[frozenset[str]]) -> Weighed:
        """Each of the question's words with its weight: its idf, or for a word read through the
        dictionary the median idf of its meanings found in the documents (most of its senses and
        forms are found nowhere and say nothing of how common the word is)."""
        weighed = []
        for word in words:
            known = [self.idf[w] for w in word if w in self.idf]
            weighed.append((word, statistics.median(known) if known else self.unseen_idf))
        return weighed

    def with_derivations(self, word: str) -> frozenset[str]:
        """``word`` and the documents' words that begin with it ("accredit": "accreditation",
        "complet": "completion"), for a word long enough to say so: the light stemmer leaves a
        word's derivations apart."""
        if len(word) < DERIVATION_MIN_LETTERS or has_cjk(word):
            return frozenset([word])
        start = bisect.bisect_left(self.vocabulary, word)
        return frozenset([word, *itertools.takewhile(lambda w: w.startswith(word), self.vocabulary[start:])])

    def top_by_share(self, weighed: Weighed, n: int, language: str) -> list[int]:
        """The ``n`` chunks in ``language`` holding the largest share of the question's words read
        through their meanings: BM25 over every meaning finds candidates, the share orders them
        (BM25 would favour a chunk holding many senses of one word)."""
        candidates = self.top(sorted(set().union(*(word for word, _ in weighed))), 4 * n, language)
        shares = {i: share(weighed, self.words[i]) for i in candidates}
        return sorted(candidates, key=lambda i: -shares[i])[:n]


def _merge_text(first: str, second: str) -> str:
    """Join neighbouring chunks, dropping the overlap the splitter repeated."""
    probe = second[:40]
    at = first.find(probe) if probe else -1
    if at >= 0 and second.startswith(first[at:]):
        return first[:at] + second
    return first + "\n" + second


class HybridRetriever(BaseRetriever):
    """Dense plus BM25 retrieval; both sides follow the index as it is re-synced, by any process.

    As a LangChain retriever it returns Documents whose metadata also holds ``ids``, ``similarity``,
    ``coverage`` and ``relevance``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: Settings
    embeddings: LocalEmbeddings
    index: Index
    _lexical: LexicalIndex | None = PrivateAttr(default=None)
    _version: tuple | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings, embeddings: LocalEmbeddings) -> HybridRetriever:
        """A retriever over the index ``settings`` name; a missing or unusable index fails here, clearly."""
        return cls(settings=settings, embeddings=embeddings, index=Index(settings, model_id_of(settings)))

    def _lexical_side(self, snapshot: Snapshot) -> LexicalIndex:
        """BM25 over the snapshot's chunks, rebuilt only when the index has changed."""
        with self._lock:
            if self._lexical is None or snapshot.version != self._version:
                self._lexical = LexicalIndex(*snapshot.contents())
                self._version = snapshot.version
            return self._lexical

    def lexical(self) -> LexicalIndex:
        """The BM25 side (and its word weights) as of the latest search."""
        if self._lexical is None:
            with self.index.reading() as snapshot:
                return self._lexical_side(snapshot)
        return self._lexical

    def sentences_of(self, chunk_ids: list[str]) -> dict[str, list[tuple[str, Any]]]:
        with self.index.reading() as snapshot:
            return snapshot.sentences_of(chunk_ids)

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """The ``k`` (default: ASSISTANT_TOP_K) best passages for ``query``, best first."""
        with self.index.reading() as snapshot:
            lexical = self._lexical_side(snapshot)
            return self._search(snapshot, lexical, _expanded(query, lexical.acronyms), k or self.settings.top_k)

    def expand(self, query: str) -> str:
        """``query`` with the long form of each acronym in it that the documents define:
        "How often is the WVTEDC held? (WVTEDC: World Vocational and Technical ... Conference)"."""
        return _expanded(query, self.lexical().acronyms)

    def _meaning(self, similarity: float, language: str, metadata: dict) -> float:
        """``similarity`` on the 0-1 scale of the question's and the passage's languages (see
        LocalEmbeddings.similarity_scale)."""
        floor, top = self.embeddings.similarity_scale(language, metadata.get("language") or language)
        return min(1.0, max(0.0, (similarity - floor) / (top - floor)))

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(
                page_content=p.text,
                metadata={**p.metadata, "ids": p.ids, "similarity": p.similarity, "coverage": p.coverage,
                          "relevance": p.relevance},
            )
            for p in self.search(query)
        ]

    def _search(self, snapshot: Snapshot, lexical: LexicalIndex, query: str, k: int) -> list[Passage]:
        query_tokens = tokens(query)
        language = language_of(query)
        own_words = lexical.weigh([lexical.with_derivations(word) for word in dict.fromkeys(query_tokens)])
        # Against passages in the other language the question is read through the dictionary.
        across_language = other_language(language)
        meanings = lexical.weigh(translated(query)) if across_language in lexical.languages else []
        reads_query = self.embeddings.reads(query)
        query_vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32) if reads_query else None

        def scored(text: str, meta: dict, words: set[str], similarity: float | None) -> tuple[float, float]:
            """A passage's relevance and the share of the question's words it holds."""
            passage_language = chunk_language(text, meta)
            across = passage_language != language and bool(meanings)
            # Where words cannot be compared, the names and numbers both languages write alike are all
            # there is to share.
            asked = meanings if across else own_words
            shared = share(asked, words) * (TRANSLATED_SHARE if across else 1.0)
            # An English-only model's vector of Chinese is noise: words alone count.
            readable = reads_query and similarity is not None and self.embeddings.reads(text)
            meaning = self._meaning(similarity, language, meta) if readable else None
            # Where a dictionary's senses are all there is, one of them shared is no sign of an answer
            # ("Frances" for France in "法国的首都是哪里？").
            if meaning is None and across and _found_words(asked, words) < min(2, len(asked)):
                shared = 0.0
            compared = passage_language == language or across
            return relevance(meaning, shared, compared), shared

        found: dict[str, dict] = {}
        if query_vector is not None:
            # Ranked by meaning on the scale of each language pair, not raw similarity: a multilingual
            # model rates any two texts in one language closer than a question and its answer across
            # two. Across languages the question's words read through the dictionary count as much.
            hits = []
            for hit in snapshot.nearest(query_vector, min(2 * CANDIDATES, len(lexical.ids))):
                similarity = float(np.dot(query_vector, hit.vector))
                if chunk_language(hit.text, hit.metadata) == language:
                    key = self._meaning(similarity, language, hit.metadata)
                else:
                    key, _ = scored(hit.text, hit.metadata, _chunk_words(lexical, hit.id, hit.text, hit.metadata),
                                    similarity)
                hits.append((key, similarity, hit))
            hits.sort(key=lambda ranked: -ranked[0])
            for rank, (_, similarity, hit) in enumerate(hits[:CANDIDATES]):
                found[hit.id] = {"text": hit.text, "meta": hit.metadata, "fused": 1 / (RRF_K + rank + 1),
                                 "similarity": similarity}
        # Shared words between languages are names and numbers at best: when the model reads the
        # question or the dictionary does, BM25 votes only for passages in its language (measured:
        # its cross-language votes cost e5 en->zh R@1 0.72 -> 0.68), and the question's words read
        # through the dictionary vote for passages in the other.
        same_language = lexical.top(query_tokens, CANDIDATES, language if reads_query or meanings else None)
        across = lexical.top_by_share(meanings, CANDIDATES, across_language) if meanings else []
        for side, weight in ((same_language, BM25_WEIGHT), (across, TRANSLATED_WEIGHT)):
            for rank, i in enumerate(side):
                entry = found.setdefault(lexical.ids[i], {"text": lexical.texts[i], "meta": lexical.metadatas[i],
                                                          "fused": 0.0, "similarity": None})
                entry["fused"] += weight / (RRF_K + rank + 1)
        best = sorted(found, key=lambda cid: -found[cid]["fused"])[:k]
        missing = [cid for cid in best if found[cid]["similarity"] is None]
        if missing and query_vector is not None:
            for cid, vector in snapshot.vectors(missing).items():
                found[cid]["similarity"] = float(np.dot(query_vector, vector))
        passages = []
        for cid in best:
            similarity, meta, text = found[cid]["similarity"], found[cid]["meta"], found[cid]["text"]
            passage_relevance, shared = scored(text, meta, _chunk_words(lexical, cid, text, meta), similarity)
            passages.append(Passage(
                ids=[cid], text=text, metadata=meta, similarity=similarity or 0.0, coverage=shared,
                relevance=passage_relevance,
            ))
        return _merge_neighbours(passages)


def _chunk_words(lexical: LexicalIndex, cid: str, text: str, metadata: dict) -> set[str]:
    """A chunk's words as the lexical index holds them (a chunk added since is read afresh)."""
    i = lexical.position.get(cid)
    return lexical.words[i] if i is not None else set(_words_of(text, metadata))


def _words_of(text: str, metadata: dict) -> list[str]:
    """A chunk's words, as found once at indexing ("words"), or read again for an older chunk."""
    stored = metadata.get("words")
    return stored.split() if isinstance(stored, str) else tokens(text)


def _expanded(query: str, acronyms: dict[str, str]) -> str:
    spelled = [
        f"{word}: {acronyms[word]}" for word in dict.fromkeys(ACRONYM.findall(query))
        if word in acronyms and acronyms[word].lower() not in query.lower()
    ]
    return f"{query} ({'; '.join(spelled)})" if spelled else query


def in_language(metadata: dict, language: str) -> bool:
    """The chunk is in ``language``, or its language is not known."""
    return metadata.get("language") in (language, None)


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
        pages = [m["page"] for m in (partner.metadata, meta) if m.get("page")]
        pages += [partner.metadata["last_page"]] if partner.metadata.get("last_page") else []
        if meta["chunk"] > max(partner.neighbours):
            partner.text = _merge_text(partner.text, passage.text)
        else:
            partner.text = _merge_text(passage.text, partner.text)
            partner.metadata = meta
        if pages and min(pages) != max(pages):  # a passage over a page break cites both pages
            partner.metadata = {**partner.metadata, "page": min(pages), "last_page": max(pages)}
        partner.ids.append(passage.ids[0])
        partner.neighbours.append(meta["chunk"])
        partner.similarity = max(partner.similarity, passage.similarity)
        partner.coverage = max(partner.coverage, passage.coverage)
        partner.relevance = max(partner.relevance, passage.relevance)
    return merged
