"""Words and sentences for the lexical side: English by letters, Chinese by jieba."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections import Counter
from typing import Any

# Chinese characters (CJK ideographs, their extension A and compatibility forms): the one definition.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_CHARS}]")
_WORD = f"[^\\W_{CJK_CHARS}]+"
_TOKEN = re.compile(f"[{CJK_CHARS}]+|{_WORD}(?:['’]{_WORD})?")
# A note number set straight after a word's full stop, as papers print a superscript in plain
# text: "... be contained.5 Since 2012 ...". A decimal has a digit before its point.
GLUED_NOTE = r"(?<=[a-z)][.!?])\d{1,3}(?:[,–-]\d{1,3})*(?=\s|$)"
# A sentence ends at . ! ? (a closing quote or bracket may follow, and reference marks such as
# "[12]" or "[citation needed]", which belong to neither sentence) before a space and a capital,
# digit or Chinese character; at Chinese 。！？; and at a line break, which after cleaning (see
# ingest.cleaning) ends a paragraph, heading, list item or table row, never a sentence halfway.
_SENTENCE_END = re.compile(
    rf"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))(?:\[[^\]\n]{{1,40}}\]|{GLUED_NOTE})*\s+(?=[\"'“‘(\[]?[A-Z0-9{CJK_CHARS}])"
    rf"|(?<=[。！？])(?![”’」』）])|\n+"
)
# A line with no closing punctuation and few words is a heading or a title, not a sentence.
_CLOSES = re.compile(r"[.!?。！？;；:：][\"'”’)\]」』）]*$")
# A bullet, or an item's number or letter: "- ", "2. ", "a) ", "(iii) ".
_LIST_MARKER = re.compile(r"([-*+•]|\d{1,3}[.)]|[a-z]\)|\((?:\d{1,3}|[a-z]|[ivx]{1,4})\))\s+")
_LIST_OR_ROW = re.compile(rf"^{_LIST_MARKER.pattern}|\|")
HEADING_MAX_WORDS = 15
# A run-in label is this short: "Legal basis for foreign participation.", "定位与主题。".
RUN_IN_MAX_WORDS = 5
_COMMON_VERB = re.compile(
    r"\b(?:is|are|was|were|be|been|has|have|had|will|would|can|could|do|does|did|said|says)\b|是", re.I
)
# The line under a Markdown table's header row: "|---|:--:|".
_TABLE_RULE = re.compile(r"[\s|:-]+")
# A full stop after an initial ("John C. Messenger") or a common abbreviation ("St. Johns",
# "et al. 1998") ends no sentence: splitting there cut names out of the answers.
_ABBREVIATION = re.compile(r"\b([A-Z]|Mr|Mrs|Ms|Dr|St|Mt|Jr|Sr|Prof|Gen|Col|Lt|Capt|Gov|Rev|Fr|No|vs|al|ca|c)\.$")

STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being between both but by can could did
    do does doing during each for from had has have having he her here hers him his how i if in into is
    it its itself just me more most my no nor not of on once only or other our out over own same she
    should so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your s t 的 了
    是 在 和 与 及 或 有 也 都 而 之 其 于 被 把 对 从 这 那 哪 哪个 哪些 什么 谁 何 何时 多少 几 吗 呢 吧
    啊 个 中 为 为了 以 将 由 等 到 就 又 还 并 该 所 上 下 年 月 日 是否 如何 怎么 怎样""".split()
) | frozenset(
    # How a question asks, not what it asks about: "how many", "how long", "哪天", "一共" would
    # otherwise count as words an answer must share.
    """many much long often roughly approximately exactly 哪天 哪年 哪一年 哪所 哪一所 哪位 哪家 哪里 哪儿
    哪种 哪项 几年 几个 几所 几届 几次 一共 多长 多久 多大 大约 大概 为什么 时候""".split()
)


# A document's own reference marks ("[12]", "[3, 4]", "[5–7]", a paper's "contained.5") look like
# citations: quoted as they are, "[3]" would cite the answer's third source. Quotes and shown
# passages leave them out, with the notes a page copied from Wikipedia carries beside them
# ("[citation needed]", "modern[vague]").
_REFERENCE_MARK = re.compile(
    r"[ \t]?\[(?:\d{1,3}(?:\s*[,–-]\s*\d{1,3})*|citation needed|not in citation given|clarification needed"
    r"|verification needed|failed verification|better source needed|dubious[^\]]{0,20}|when\?|who\?|which\?)\]"
    rf"|(?<=\S)\[(?!sic\])[a-z][a-z ]{{2,30}}\??\](?!\()|{GLUED_NOTE}"
)


def without_reference_marks(text: str) -> str:
    return _REFERENCE_MARK.sub("", text)


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@functools.cache
def jieba_module() -> Any:
    """The jieba module, imported and quietened once: its dictionary takes a second to load, so
    only text with Chinese in it pays for it."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def _stem(word: str) -> str:
    """A light English stemmer: "started", "starts" and "starting" all match "start"."""
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


# "California's" is a form of "California", not a word of its own ("california'" once stemmed).
_POSSESSIVE_END = re.compile(r"['’]s$")


def tokens(text: str, *, chinese: bool = True) -> list[str]:
    """Lower-cased content words: English words, and jieba's words inside Chinese runs (left out
    with ``chinese=False``, when only English words are looked for: jieba costs a second to load)."""
    out: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        piece = match.group()
        if _CJK.match(piece):
            if chinese:
                out.extend(w for w in jieba_module().cut_for_search(piece) if w.strip() and w not in STOPWORDS)
        elif (word := _POSSESSIVE_END.sub("", piece)) not in STOPWORDS:
            out.append(_stem(word))
    return out


def _content_words(text: str) -> int:
    """Content words as ``tokens`` would find them, counting each Chinese character as one.

    Enough to tell a sentence from a fragment, without loading jieba's dictionary (over a
    second) just to split passages into sentences.
    """
    count = 0
    for match in _TOKEN.finditer(text.lower()):
        piece = match.group()
        count += sum(c not in STOPWORDS for c in piece) if _CJK.match(piece) else piece not in STOPWORDS
    return count


# A quotation of a few sentences is kept whole: cut inside, it leaves one part with an opening
# quotation mark that never closes ('"I want to specialise in brake systems now.'). A longer one
# (a speech quoted at length) is split like any text.
QUOTATION_MAX_CHARS = 400
_QUOTE_PAIRS = (("“", "”"), ("「", "」"), ("『", "』"))
# A straight quotation mark that opens or closes words; not one astray between spaces (', ". ').
_STRAIGHT_QUOTE = re.compile(r'(?<=[\w.!?,;:])"|"(?=[\w(\[])')


class _Quotations:
    """Where a text's lines and quotation marks are, found once: each sentence boundary is then
    checked in log time (reading each line again per boundary made a long one-line file quadratic)."""

    def __init__(self, text: str) -> None:
        self.length = len(text)
        self.newlines = _places("\n", text)
        self.straight = _places(_STRAIGHT_QUOTE, text)
        self.pairs = [(_places(opening, text), _places(closing, text)) for opening, closing in _QUOTE_PAIRS]

    def around(self, boundary: re.Match) -> bool:
        """The boundary falls inside a quotation that closes on the same line, within QUOTATION_MAX_CHARS."""
        if "\n" in boundary.group():
            return False
        start, end = boundary.start(), boundary.end()
        line = bisect.bisect_left(self.newlines, start)
        line_start = self.newlines[line - 1] + 1 if line else 0
        line_end = self.newlines[line] if line < len(self.newlines) else self.length
        reach = min(line_end, end + QUOTATION_MAX_CHARS)

        def between(marks: list[int], low: int, high: int) -> int:
            return bisect.bisect_left(marks, high) - bisect.bisect_left(marks, low)

        if between(self.straight, line_start, start) % 2 == 1 and between(self.straight, end, reach):
            return True
        return any(
            between(opening, line_start, start) > between(closing, line_start, start) and between(closing, end, reach)
            for opening, closing in self.pairs
        )


def _places(pattern: str | re.Pattern, text: str) -> list[int]:
    return [found.start() for found in re.finditer(pattern, text)]


def _after_abbreviation(text: str, boundary: re.Match) -> bool:
    before = text[max(0, boundary.start() - 8) : boundary.start()]
    return "\n" not in boundary.group() and bool(_ABBREVIATION.search(before))


def _is_heading(line: str) -> bool:
    return line.startswith("#") or (
        not _CLOSES.search(line) and not _LIST_OR_ROW.search(line) and word_count(line) < HEADING_MAX_WORDS
        and not BYLINE.match(line)
    )


# A byline, which says who wrote the text: "By Sarah Lindqvist | Published ...", "By Tomasz Nowak,
# 18 July 2024", "Author: ...", "Prepared by ...", "Minutes: ...", "作者：张三", "记者 王芳"; not "By
# January 2020, ..." (no name follows "By"). Short and unpunctuated like a heading, it is no heading.
BYLINE = re.compile(
    r"(?:(?:(?:[Ww]ritten|[Pp]repared|[Cc]ompiled|[Rr]eported|[Ee]dited)\s+)?[Bb]y|(?:[Aa]uthors?|[Mm]inutes|[Rr]apporteur):)"
    r"\s+(?:the\s+)?[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+\s*(?:$|[|,;(]|and\b)"
    r"|(?:作者|撰稿|记者|文)\s*[：:/／\s]"
)


# A timeline's entry opens with its date: "20 November 2017. The forum met ...", "2011年7月。……".
_DATE_LABEL = re.compile(
    r"(?:\d{1,2}(?:[–-]\d{1,2})?\s+)?(?:[A-Z][a-z]{2,8}\s+)?\d{4}[.:]|\d{4}\s*年(?:\d{1,2}\s*月(?:\d{1,2}\s*日)?)?[。：:]"
)


def _is_run_in_label(piece: str) -> bool:
    """A paragraph's first words set off as a label ("**Scale.** Delegates came from ..."), which
    formatting once showed and plain text no longer does. A short sentence with a figure or a verb
    ("Prices rose 2.5%.", "The speaker was Liu Jing.") stands alone; one taken for a label anyway is
    only quoted with the next."""
    label = _LIST_MARKER.sub("", piece, count=1)  # "• Staff exchange. Six lecturers ..."
    return 0 < word_count(label) <= RUN_IN_MAX_WORDS and not _COMMON_VERB.search(label) and (
        not re.search(r"\d", label) or bool(_DATE_LABEL.fullmatch(label))
    )


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a passage; headings, titles and fragments are left out."""
    spans, start, line_start, in_heading = [], 0, True, False
    quotations = _Quotations(text)
    ends = [b for b in _SENTENCE_END.finditer(text) if not _after_abbreviation(text, b) and not quotations.around(b)]
    for boundary in [*ends, None]:
        end = boundary.start() if boundary else len(text)
        # A Chinese full stop ends a sentence without a space, so a line break may come just after it.
        line_end = boundary is None or "\n" in boundary.group() or text.startswith("\n", boundary.end())
        piece = text[start:end]
        stripped = piece.strip()
        whole_line = line_start and line_end
        if line_start:  # a Markdown heading is no sentence, however many full stops it holds
            in_heading = stripped.startswith("#")
        if boundary and line_start and not line_end and _is_run_in_label(stripped):
            continue  # "Theme. ..." / "主题。……": the label opens the sentence after it
        # A table's header row names its columns; it says nothing.
        header_row = whole_line and stripped.startswith("|") and _TABLE_RULE.fullmatch(_next_line(text, end))
        if stripped and not in_heading and not header_row and _content_words(stripped) >= 2 \
                and not (whole_line and _is_heading(stripped)):
            left = start + len(piece) - len(piece.lstrip())
            if whole_line and stripped.startswith("|"):  # a table row: its cells, not the outer bars
                inner = stripped.strip("| ")
                left += stripped.index(inner)
                stripped = inner
            elif line_start and (marker := _LIST_MARKER.match(stripped)):  # a list item: its words, not its bullet
                left += marker.end()
                stripped = stripped[marker.end():]
            spans.append((left, left + len(stripped)))
        if boundary:
            start = boundary.end()
        line_start = line_end
    return spans


def _next_line(text: str, at: int) -> str:
    return text[at:].lstrip("\n").split("\n", 1)[0].strip()


def bare_line(line: str) -> str:
    """A line's words without its list bullet, or a table row's cells without the outer bars."""
    line = line.strip()
    if line.startswith("|"):
        return line.strip("| ")
    return line[marker.end():] if (marker := _LIST_MARKER.match(line)) else line


def section_context(text: str, sentence: str) -> tuple[list[str], str]:
    """What a reader takes ``sentence`` in ``text`` with: the headings of its section and of the
    sections it belongs to (outermost first), and for a table row the table's header row
    ("Maximum course length | 16 weeks" under "## Skills Bootcamps" says how long a bootcamp lasts)."""
    at = text.find(sentence)
    if at < 0:
        return [], ""
    above = text[:at].split("\n")[:-1]
    header = ""
    if "|" in sentence:
        table = list(itertools.takewhile(lambda line: "|" in line, reversed(above)))
        header = next((row for row in reversed(table) if not _TABLE_RULE.fullmatch(row)), "")
    headings: list[str] = []
    level = 7  # deeper than any Markdown heading
    for line in filter(None, map(str.strip, reversed(above))):
        if line.startswith("#"):
            depth = len(line) - len(line.lstrip("#"))
            if depth < level:  # the nearest heading, then the headings of the sections around it
                headings.insert(0, line.lstrip("# "))
                level = depth
        elif level == 7 and _is_heading(line):  # a heading without levels (PDF, Word): the nearest only
            headings.insert(0, line)
            break
        if level == 1:
            break
    return headings, header


# "World Vocational and Technical Education Development Conference (WVTEDC)": a name, then the
# acronym it goes by in brackets. Small words inside a name have no letter in the acronym.
_BRACKETED_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,9})\)")
ACRONYM = re.compile(r"\b[A-Z][A-Za-z]*[A-Z][A-Za-z]*\b")
_UNLETTERED = frozenset("and of for the in on to at a an &".split())
# How far before the bracket the name is looked for: a dozen words.
_NAME_REACH = 160


def acronym_definitions(texts: list[str]) -> dict[str, str]:
    """Each acronym the texts define, with the name it stands for:
    {"WVTEDC": "World Vocational and Technical Education Development Conference", ...}.
    An acronym whose letters the words before it do not spell is no definition."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _BRACKETED_ACRONYM.finditer(text):
            acronym = match.group(1)
            if acronym not in found and sum(ch.isupper() for ch in acronym) >= 2 and (
                name := _spelled_by(text[max(0, match.start() - _NAME_REACH) : match.start()].split(), acronym)
            ):
                found[acronym] = name
    return found


def mostly_spelled_out(definitions: dict[str, str], texts: list[str]) -> dict[str, str]:
    """The acronyms the texts go on to leave for their names. One they use more often than its
    name (a paper's "MERS-CoV") finds its passages by itself: its name would dilute a question."""
    if not definitions:
        return {}
    used = Counter(word for text in texts for word in ACRONYM.findall(text) if word in definitions)
    lowered = [text.lower() for text in texts]
    return {
        acronym: name for acronym, name in definitions.items()
        if sum(text.count(name.lower()) for text in lowered) > used[acronym]
    }


def _spelled_by(words: list[str], acronym: str) -> str | None:
    """The last words of ``words`` whose initials spell ``acronym`` (capitals only: "TVET" from
    "technical and vocational education and training"), or None."""
    letters = [ch.lower() for ch in acronym if ch.isupper()]
    at = len(words)
    while letters and at > 0:
        at -= 1
        word = words[at]
        if word[:1].lower() == letters[-1]:
            letters.pop()
        elif word.lower() not in _UNLETTERED:  # "and" may have no letter; "of" may have one (MOHRSS)
            return None
    return " ".join(words[at:]) if not letters else None


def sentences(text: str) -> list[str]:
    """The sentences of a passage, headings and blank lines dropped."""
    return [text[a:b] for a, b in sentence_spans(text)]


_COUNTED = re.compile(f"[{CJK_CHARS}]|{_WORD}")


def word_count(text: str) -> int:
    """Words as a reader counts them: each Chinese character counts as one."""
    return len(_COUNTED.findall(text))


def cut_words(text: str, limit: int) -> str:
    """``text`` up to its ``limit``-th word as word_count counts them, marked with … when cut."""
    ends = [m.end() for m in _COUNTED.finditer(text)]
    return text if len(ends) <= limit else text[: ends[limit - 1]] + " …"
