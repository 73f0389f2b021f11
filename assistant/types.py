"""The types every layer shares: retrieved passages, answers and their sources, the engine protocol."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

NOT_FOUND = "I could not find this in the documents."
NOT_FOUND_ZH = "在文档中没有找到这个问题的答案。"
# How every engine cites a passage: its number in square brackets.
CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass
class Passage:
    """Retrieved text: one chunk, or neighbouring chunks of one file merged."""

    ids: list[str]
    text: str
    metadata: dict
    similarity: float  # cosine between question and passage embeddings
    coverage: float  # share of the question's words (idf-weighted) that the passage contains
    relevance: float = 0.0  # what the answer gate compares with min_relevance
    neighbours: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    """A passage an answer cites, numbered as cited."""

    number: int
    path: str
    title: str
    page: int | None
    snippet: str
    score: float
    # The answer's sentences that cite this source, as the answer gives them (marks taken off): the
    # extractive engine quotes them word for word, so a UI can highlight them in the snippet.
    sentences: tuple[str, ...] = ()
    # A passage of neighbouring chunks can run on over a page break: its last page.
    last_page: int | None = None

    @property
    def pages(self) -> str:
        """Where the passage is: ", page 3", ", pages 3–4", or nothing for a file without pages."""
        if not self.page:
            return ""
        return f", pages {self.page}–{self.last_page}" if self.last_page else f", page {self.page}"


@dataclass(frozen=True)
class Answer:
    text: str
    sources: list[Source] = field(default_factory=list)
    found: bool = True
    query: str = ""  # the standalone question that was searched for
    # For a language model's answer: what the grounding check found ("passed", "removed ...", or why
    # the model's text was not shown and the quoted answer stands in), and the model's own text.
    grounding: str | None = None
    model_text: str | None = None
    # The words of the answer that answer the question (a date, a number, a sum), for a UI to mark.
    phrase: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class Engine(Protocol):
    """Writes an answer from numbered passages, citing them as [1], [2] ..."""

    name: str

    def condense(self, question: str, history: list[tuple[str, str]]) -> str: ...

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]: ...
