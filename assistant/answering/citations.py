"""Citation numbering in front of every engine: [n] by passage position becomes [n] by order of first citation."""

from __future__ import annotations

import re

from assistant.types import CITATION, Passage, Source


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
        return CITATION.sub(self._renumber, text)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return CITATION.sub(self._renumber, rest)

    def sources(self, answer: str = "") -> list[Source]:
        """The cited passages in citation order, each with the sentences of ``answer`` that cite it."""
        quoted = sentences_by_source(answer)
        return [
            Source(
                number=n,
                path=self.passages[p].metadata.get("source", ""),
                title=self.passages[p].metadata.get("title", ""),
                page=self.passages[p].metadata.get("page"),
                snippet=self.passages[p].text,
                score=round(self.passages[p].relevance, 4),
                sentences=tuple(quoted.get(n, ())),
                last_page=self.passages[p].metadata.get("last_page"),
            )
            for n, p in enumerate(self.cited, start=1)
        ]


# A stretch of answer text and the citation marks that close it: "Sentence one. [1][2]".
_CITED_STRETCH = re.compile(r"(.*?)((?:\s*\[\d{1,3}\])+)", re.DOTALL)


def sentences_by_source(answer: str) -> dict[int, list[str]]:
    """Each citation number's stretches of ``answer`` (the text before its mark), in order."""
    found: dict[int, list[str]] = {}
    for stretch in _CITED_STRETCH.finditer(answer):
        text = stretch.group(1).strip()
        for number in CITATION.findall(stretch.group(2)):
            if text:
                found.setdefault(int(number), []).append(text)
    return found
