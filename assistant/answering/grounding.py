"""Whether a language model's answer is tied to the passages it cites, sentence by sentence.

A citation counts only when its sentence shares words with the cited passage, and a sentence stays
only when every number, date and name in it appears in one of the passages it cites. An answer
with nothing left, or with more sentences removed than kept, is not shown as an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import has_cjk, tokens
from assistant.types import CITATION, Passage

# A stretch of answer text, the citation marks that close it and the full stop a model may put after
# them: "Sentence one. [1][2]" or "Sentence one [1][2].".
_STRETCH = re.compile(r"(.*?)((?:\s*\[\d{1,3}\])+)([.!?。！？]?)", re.DOTALL)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# A capitalised word that does not open its sentence: most often a name, a place or an organisation.
_NAME = re.compile(r"(?<=[\s(\"“‘'])[A-Z][a-zA-Z'’-]{2,}")
_MONTHS = {
    "jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june", "jul": "july",
    "aug": "august", "sep": "september", "sept": "september", "oct": "october", "nov": "november",
    "dec": "december",
}
_MONTH_ABBREVIATION = re.compile(rf"\b({'|'.join(_MONTHS)})\b\.?", re.IGNORECASE)
# Capitalised words that are names of nothing in particular.
_PLAIN_CAPITALS = frozenset(
    "The This That These Those There Their They It Its In On At For From With And But Or If When While "
    "After Before Since During According However Also Both Each Every All Some Many Most".split()
)


@dataclass(frozen=True)
class Checked:
    """The answer as it may be shown (None: not at all), and what the check found."""

    text: str | None
    grounding: str


def _normal(text: str) -> str:
    """Lower case, thousands separators dropped, month abbreviations spelled out: "Oct 2,000" ~ "october 2000"."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return _MONTH_ABBREVIATION.sub(lambda m: _MONTHS[m.group(1).lower()], text).lower()


def facts(sentence: str) -> list[str]:
    """The numbers, dates and names a sentence states, normalised, that its passages must hold too."""
    found = [_normal(n).rstrip(".,") for n in _NUMBER.findall(sentence)]
    found += [_normal(month) for month in _MONTH_ABBREVIATION.findall(sentence)]
    found += [_normal(name) for name in _NAME.findall(sentence) if name not in _PLAIN_CAPITALS]
    return list(dict.fromkeys(f for f in found if f))


def _same_script(sentence: str, passage: Passage) -> bool:
    return has_cjk(sentence) == has_cjk(passage.text[:2000])


def check(answer: str, passages: dict[int, Passage]) -> Checked:
    """``answer`` with its citations (numbered as ``passages`` are) checked sentence by sentence."""
    kept: list[str] = []
    reasons: list[str] = []
    for stretch in _STRETCH.finditer(answer):
        sentence = (stretch.group(1).strip() + stretch.group(3)).strip()
        if not sentence:
            continue
        words = set(tokens(sentence))
        cited = [int(n) for n in CITATION.findall(stretch.group(2))]
        # Across languages (a Chinese answer from English passages) no words are shared; the
        # numbers and names below are still checked.
        valid = [
            n for n in dict.fromkeys(cited)
            if n in passages and (words & set(tokens(passages[n].text)) or not _same_script(sentence, passages[n]))
        ]
        if not valid:
            reasons.append(f"a sentence cites no passage that shares its words: {sentence[:80]!r}")
            continue
        held = " ".join(_normal(passages[n].text) for n in valid)
        missing = [fact for fact in facts(sentence) if fact not in held]
        if missing:
            reasons.append(f"{missing[0]!r} is in none of the passages its sentence cites")
            continue
        kept.append(sentence + " " + "".join(f"[{n}]" for n in valid))
    if not kept:
        return Checked(None, reasons[0] if reasons else "the answer cites no passage")
    if len(reasons) > len(kept):
        return Checked(None, f"{len(reasons)} of {len(reasons) + len(kept)} sentences failed; first: {reasons[0]}")
    if reasons:
        return Checked(" ".join(kept), f"removed {len(reasons)} sentence(s): {reasons[0]}")
    return Checked(" ".join(kept), "passed")
