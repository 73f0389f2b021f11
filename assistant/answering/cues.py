"""Question-type cues: the kind of answer a question asks for, and whether a sentence offers one."""

from __future__ import annotations

import re

_WHEN = re.compile(
    r"^\s*(when|what (year|date|day|month|century|decade)|in (what|which) (year|century|decade))\b"
    r"|何时|什么时候|哪一?年",
    re.I,
)
_HOW_MANY = re.compile(
    r"^\s*(how (many|much|long|old|large|big|far|often)|what (percentage|proportion|share|number|amount))\b"
    r"|多少|几",
    re.I,
)
_WHO_WHERE = re.compile(r"\b(who|whom|whose)\b|^\s*where\b", re.I)

_DATE = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b(January|February|March|April|May|June|July|August|September|October|"
    r"November|December|century)\b|\d+\s*年"
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half)\b",
    re.I,
)
# A capitalised word inside a sentence (not its first word): most often a name or a place.
_NAME = re.compile(r"(?<=[\s(\"“])[A-Z][\w'’.-]+")


def wanted(question: str) -> re.Pattern | None:
    """What an answer to ``question`` must hold: a date, a number, a name, or no telling."""
    if _WHEN.search(question):
        return _DATE
    if _HOW_MANY.search(question):
        return _NUMBER
    if _WHO_WHERE.search(question):
        return _NAME
    return None


def leading(question: str) -> re.Pattern | None:
    """What the first sentence of an answer should hold: the date or number ``question`` asks for.
    Not a name: any capitalised word passes for one, so it is too loose a sign to reorder by."""
    pattern = wanted(question)
    return None if pattern is _NAME else pattern


def offers(pattern: re.Pattern, sentence: str, question: str) -> bool:
    """The sentence holds a date, number or name that the question does not already state:
    "What happened in 1992?" is not answered by any sentence that mentions 1992."""
    asked = question.lower()
    return any(match.group().lower() not in asked for match in pattern.finditer(sentence))


# "Who is X?", "What is a Y?", "X是谁？", "什么是Y？": the question asks what its subject is.
_DEFINITION = re.compile(
    r"^\s*(?:who|what)\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?P<subject>[^?]+?)\s*\??\s*$", re.I
)
_DEFINITION_ZH = re.compile(r"^\s*(?:什么是(?P<what>[^？?]+)|(?P<who>[^？?]+?)是(?:谁|什么))\s*[？?]?\s*$")


def subject(question: str) -> str | None:
    """What a "who is" or "what is" question asks about, or None for other questions."""
    if found := _DEFINITION.match(question):
        return found.group("subject")
    if found := _DEFINITION_ZH.match(question):
        return found.group("what") or found.group("who")
    return None


def defines(subject: str, sentence: str, before: str = "") -> bool:
    """The sentence opens by saying what ``subject`` is: "Liu Jing, who led ...", "A Luban Workshop
    is ...", "鲁班工坊是……"; or, after a sentence (``before``) that names it, "At the time she was
    director of ..."."""
    name = re.escape(subject)
    if before and re.search(name, before, re.I) and _SAYS_WHAT_IT_IS.match(sentence):
        return True
    return bool(
        re.match(rf"(?:the\s+|an?\s+)?{name}(?:\s*\([^)]*\))?(?:,|\s+(?:is|was|are|were|has been)\b)", sentence, re.I)
        or re.match(rf"{name}(?:（[^）]*）)?[，,]?(?:是|为|现任|担任|曾任)", sentence)
        or re.search(rf"{_CHINESE_TITLE_END}{name}", sentence)
    )


# A pronoun in a sentence's first words, then what it is: "At the time she was director of ...".
_SAYS_WHAT_IT_IS = re.compile(
    r"^(?:[\w,]+\s+){0,4}?(?:he|she|it|they)\s+(?:is|was|are|were|has been|served as)\b", re.I
)
# Chinese puts a person's post straight before the name ("……处处长刘婧", "部长王晓萍"): the last
# character of the common titles (处长, 主任, 大臣, 主席, 总理, 首相, 教授, 院士, 委员, 理事, 大使, 书记, 总监).
_CHINESE_TITLE_END = "[长任臣席理相授士员事使记监]"
