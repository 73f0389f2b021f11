"""Answer and Source, the retrieval chain, and the Python API: answer() and stream_answer()."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

from assistant.config import Settings
from assistant.embeddings import LocalEmbeddings, load_embeddings
from assistant.errors import QuestionError
from assistant.retrieval import HybridRetriever, Passage

NOT_FOUND = "I could not find this in the documents."
_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Source:
    """A passage an answer cites, numbered as cited."""

    number: int
    path: str
    title: str
    page: int | None
    snippet: str
    score: float


@dataclass(frozen=True)
class Answer:
    text: str
    sources: list[Source] = field(default_factory=list)
    found: bool = True
    query: str = ""  # the standalone question that was searched for

    def as_dict(self) -> dict:
        return asdict(self)


class Engine(Protocol):
    """Writes an answer from numbered passages, citing them as [1], [2] ..."""

    name: str

    def condense(self, question: str, history: list[tuple[str, str]]) -> str: ...

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]: ...


class CitationNumbering:
    """Renumbers an engine's [n] (n = passage position) into the order sources are first cited.

    Works on streamed pieces: a marker split across pieces is held back until it is complete.
    """

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self.cited: list[int] = []
        self._pending = ""

    def _renumber(self, match: re.Match) -> str:
        position = int(match.group(1)) - 1
        if not 0 <= position < len(self.passages):
            return ""  # a citation of nothing is dropped, never shown
        if position not in self.cited:
            self.cited.append(position)
        return f"[{self.cited.index(position) + 1}]"

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and len(text) - cut <= 5:
            text, self._pending = text[:cut], text[cut:]
        else:
            self._pending = ""
        return _CITATION.sub(self._renumber, text)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return _CITATION.sub(self._renumber, rest)

    def sources(self) -> list[Source]:
        return [
            Source(
                number=n,
                path=self.passages[p].metadata.get("source", ""),
                title=self.passages[p].metadata.get("title", ""),
                page=self.passages[p].metadata.get("page"),
                snippet=self.passages[p].text,
                score=round(self.passages[p].relevance, 4),
            )
            for n, p in enumerate(self.cited, start=1)
        ]


def check_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    cleaned = question.strip()
    if not cleaned:
        raise QuestionError("the question is empty")
    if len(cleaned) > max_chars:
        raise QuestionError(f"the question is {len(cleaned)} characters long; the limit is {max_chars}")
    printable = sum(ch.isprintable() or ch.isspace() for ch in cleaned)
    if printable < 0.9 * len(cleaned) or not re.search(r"\w", cleaned):
        raise QuestionError("the question is not readable text")
    return cleaned


class Assistant:
    """The retrieval chain over one index: condense, retrieve, gate, answer, cite."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: LocalEmbeddings | None = None,
        retriever: HybridRetriever | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.embeddings = embeddings or load_embeddings(self.settings.embedding_model, self.settings.embedding_backend)
        self.retriever = retriever or HybridRetriever(self.settings, self.embeddings)
        if engine is None:
            from assistant.engines import make_engine

            engine = make_engine(self.settings, self.embeddings, self.retriever)
        self.engine = engine

    def stream(
        self,
        question: str,
        history: list[tuple[str, str]] | None = None,
        *,
        k: int | None = None,
        min_relevance: float | None = None,
    ) -> Iterator[str | Answer]:
        """Yields the answer's text in pieces, then the complete Answer."""
        question = check_question(question, self.settings.max_question_chars)
        query = self.engine.condense(question, history) if history else question
        yield from self.respond(query, self.retriever.search(query, k), min_relevance=min_relevance)

    def respond(
        self, query: str, passages: list[Passage], *, min_relevance: float | None = None
    ) -> Iterator[str | Answer]:
        """The answer from already retrieved passages, or a refusal when none is relevant enough."""
        threshold = self.settings.min_relevance if min_relevance is None else min_relevance
        if not passages or max(p.relevance for p in passages) < threshold:
            yield NOT_FOUND
            yield Answer(NOT_FOUND, [], found=False, query=query)
            return
        numbering = CitationNumbering(passages)
        pieces: list[str] = []
        for raw in self.engine.stream(query, passages):
            if piece := numbering.feed(raw):
                pieces.append(piece)
                yield piece
        if tail := numbering.flush():
            pieces.append(tail)
            yield tail
        text = "".join(pieces).strip()
        if not numbering.cited:  # nothing grounded in a passage is not an answer
            yield Answer(text or NOT_FOUND, [], found=False, query=query)
            return
        yield Answer(text, numbering.sources(), found=True, query=query)

    def answer(self, question: str, history: list[tuple[str, str]] | None = None, **options: object) -> Answer:
        final = None
        for final in self.stream(question, history, **options):  # noqa: B007 - the last item is the Answer
            pass
        assert isinstance(final, Answer)
        return final


_default_lock = threading.Lock()


@functools.cache
def _assistant_for(settings: Settings) -> Assistant:
    return Assistant(settings)


def default_assistant() -> Assistant:
    """One Assistant per configuration, per process: the model and index load once."""
    with _default_lock:
        return _assistant_for(Settings())


def stream_answer(
    question: str, history: list[tuple[str, str]] | None = None, **options: object
) -> Iterator[str | Answer]:
    """Yield the answer's text pieces as they are produced, then the complete Answer."""
    return default_assistant().stream(question, history, **options)


def answer(question: str, history: list[tuple[str, str]] | None = None, **options: object) -> Answer:
    """Answer ``question`` from the indexed documents, citing them; ``found`` is False when it declines."""
    return default_assistant().answer(question, history, **options)
