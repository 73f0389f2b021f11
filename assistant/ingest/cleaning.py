"""Text as loaders find it -> text as it was written: a paragraph's wrapped lines joined into one line,
PDF line-end hyphenation undone where it is only a break, and running headers, footers and page
numbers dropped. A line break that is left ends a paragraph, a heading, a list item or a table row."""

from __future__ import annotations

import functools
import re
from collections import Counter

from assistant.glossary import english_vocabulary
from assistant.text import CJK_CHARS

# A line that starts a block of its own in Markdown or plain text: heading, list item, quote, table row, fence.
_BLOCK_START = re.compile(r"^\s*(#{1,6}\s|[-*+•▪◦●]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|>|\||```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|")
_NUMBERED = re.compile(r"^\s*(\d{1,3}|[a-zA-Z])[.)]\s")
_FIRST_NUMBER = re.compile(r"^\s*[1aA][.)]\s")
# Where a sentence (or a clause that introduces a list) ends.
_ENDS_SENTENCE = re.compile(r"[.!?:;。！？：；…][\"'”’)\]]*\s*$")
# Where a paragraph may end: not at a semicolon, which a line of running text often ends on.
_ENDS_PARAGRAPH = re.compile(r"[.!?:。！？：…][\"'”’)\]]*\s*$")
# A line that opens a heading (or a new paragraph): a capital, a digit or a Chinese character.
_OPENS = re.compile(f"^[A-Z0-9{CJK_CHARS}（「『\"“]")
_CJK_EDGE = re.compile(f"[{CJK_CHARS}，、。；：！？）」』]$")
_CJK_START = re.compile(f"^[{CJK_CHARS}（「『]")
# "main-" + "tenance": a word broken at the end of a line.
_BROKEN_WORD = re.compile(r"([A-Za-z]{2,})-$")
_WORD_START = re.compile(r"^([a-z][a-z]*)")
# Page numbers as printed: "7", "- 7 -", "Page 7", "Page 7 of 12", "7 / 12", "p. 7".
_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-–—]\s*)?(?:page|p\.|第)?\s*\d{1,4}\s*(?:(?:of|/)\s*\d{1,4})?(?:\s*页)?(?:\s*[-–—])?\s*$", re.IGNORECASE
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufffd]")
# Between the cells of a table row written on one line (a Word table, a PDF row of cells).
CELL_SEPARATOR = " | "
# Lines within this many of a page's top or bottom are where running headers and footers are printed.
RUNNING_LINES = 4


def _joined(previous: str, line: str) -> str:
    """Two lines of one paragraph as one: no space between Chinese characters."""
    if _CJK_EDGE.search(previous) and _CJK_START.search(line):
        return previous + line
    return previous + " " + line


def _interrupts(line: str, in_list: bool) -> bool:
    """The line starts a block of its own, even inside a paragraph. As in CommonMark, a numbered
    item interrupts a paragraph only from 1 (a wrapped line may well begin "27) was detected ..."),
    and any item follows the one before it in a list."""
    if not _BLOCK_START.match(line):
        return False
    return in_list or not _NUMBERED.match(line) or bool(_FIRST_NUMBER.match(line))


def join_paragraph_lines(text: str) -> str:
    """Markdown or plain text with each paragraph on one line; blank lines, headings, list items,
    quotes, table rows and fenced code keep their own lines. A word broken at a line-end hyphen is
    mended as in a PDF (see ``_unbroken``): text copied out of PDFs keeps their breaks."""
    out: list[list[str]] = []  # each output line as its pieces, joined once at the end
    fenced = open_paragraph = in_list = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            fenced = not fenced
            out.append([raw])
            open_paragraph = False
            continue
        if fenced:
            out.append([raw])
            continue
        if not line:
            out.append([""])
            open_paragraph = False
            continue
        hard_break = raw.endswith("  ")  # Markdown's explicit line break
        if open_paragraph and not _interrupts(line, in_list) and not _TABLE_ROW.match(out[-1][0]):
            tail = out[-1][-1]
            joined = _unbroken(tail, line, text) or _joined(tail, line)
            out[-1][-1] = joined[: len(joined) - len(line)]  # the tail, mended or spaced; the line apart
            out[-1].append(line)
        else:
            out.append([line])
            in_list = bool(_BLOCK_START.match(line))
        open_paragraph = not hard_break and not line.startswith("#") and not _TABLE_ROW.match(line)
    return "\n".join("".join(pieces) for pieces in out)


def _normal(line: str) -> str:
    """A line with its numbers blanked: "Page 3 of 9" and "Page 4 of 9" are one running line."""
    return re.sub(r"\d+", "#", line.strip().lower())


def drop_running_lines(pages: list[str]) -> list[str]:
    """Each page without the headers, footers and page numbers printed on many pages.

    A line near a page's top or bottom counts as running when (numbers aside) it is printed on
    at least half of the pages, two at least; a line that is only a page number always does.
    Control characters (a PDF's bullet glyphs often come out as one) go too.
    """
    split = [_CONTROL.sub("", page).splitlines() for page in pages]
    edges = Counter()
    for lines in split:
        edge = {_normal(x) for x in lines[:RUNNING_LINES] + lines[-RUNNING_LINES:] if x.strip()}
        edges.update(edge)
    threshold = max(2, (len(pages) + 1) // 2)
    running = {line for line, count in edges.items() if count >= threshold}
    return ["\n".join(_without_running(lines, running)) for lines in split]


def _without_running(lines: list[str], running: set[str]) -> list[str]:
    """``lines`` without the run of running lines at its top and at its bottom, each at most once
    an edge: a title that repeats the running header just below it is the page's own text."""
    def edge_length(edge: list[str]) -> int:
        seen: set[str] = set()
        for number, line in enumerate(edge):
            normal = _normal(line)
            if not (_PAGE_NUMBER.match(line) or (normal in running and normal not in seen)) and line.strip():
                return number
            seen.add(normal)
        return len(edge)

    top = edge_length(lines[:RUNNING_LINES])
    bottom = edge_length(lines[::-1][:RUNNING_LINES])
    return lines[top:len(lines) - bottom] if top + bottom < len(lines) else []


def _typical_width(lines: list[str]) -> int:
    """The length of a full line of the body text (a high percentile: most lines of a paragraph are full)."""
    lengths = sorted(len(line) for line in lines if line.strip())
    return lengths[int(0.8 * (len(lengths) - 1))] if lengths else 0


def _unbroken(previous: str, line: str, text: str) -> str | None:
    """``previous`` and ``line`` joined across a word broken by a hyphen, or None when it is a real hyphen.

    The break is undone only on evidence: the whole word appears elsewhere in the text
    ("main-" + "tenance" where "maintenance" is used) or is an English word ("provi-" + "sional",
    "Apprentice-" + "ships"); "industry-" + "education" keeps its hyphen.
    """
    # Only the end of ``previous`` is looked at: it may be a whole paragraph joined so far.
    broken, rest = _BROKEN_WORD.search(previous[-64:]), _WORD_START.match(line)
    if not broken:
        return None
    if not rest:
        # No word broken by a hyphen goes on with a capital or a digit: "African-" + "American",
        # "pre-" + "1990" keep their hyphen, with no space.
        return previous + line if line[:1].isupper() or line[:1].isdigit() else None
    if _is_word((broken.group(1) + rest.group(1)).lower(), text):
        return previous[:-1] + line
    return previous + line


def _is_word(word: str, text: str) -> bool:
    """``word`` is used in ``text`` or is an English word, or the plural of one."""
    if word in _words_of(text):
        return True
    forms = {word, word.removesuffix("s"), word.removesuffix("es"), re.sub(r"ies$", "y", word)}
    return not forms.isdisjoint(english_vocabulary())


@functools.lru_cache(maxsize=1)  # the text at hand only: a file's text is not kept once it is loaded
def _words_of(text: str) -> frozenset[str]:
    """The words of a text, lower-cased, found once for all its line-end hyphens."""
    return frozenset(re.findall(r"[a-z]+", text.lower()))


def join_pdf_lines(page: str, full_text: str) -> str:
    """A PDF page's lines as paragraphs: a line is joined to the one before unless that one ended a
    sentence short of the margin, or either is a heading, a list item or a table-like row.

    Short lines with no closing punctuation, followed by a capitalised line, are taken as headings
    and marked with "# ", so they are never quoted as sentences.
    """
    lines = [line.strip() for line in page.splitlines()]
    width = _typical_width(lines)
    out: list[str] = []
    last = ""  # the last physical line added: where the margin test looks
    for number, line in enumerate(lines):
        if not line:
            if out and out[-1]:
                out.append("")
            last = ""
            continue
        following = next((x for x in lines[number + 1 :] if x), "").removeprefix("# ")
        marked = line.startswith("# ")  # by its type size
        row = CELL_SEPARATOR in line  # a table's cells, on one line since they share a baseline
        heading = marked or (
            line.count(CELL_SEPARATOR) < 2  # a row of three cells or more is a table's ("2023 | 12 | 80")
            and _OPENS.match(line) is not None
            and len(line) < 0.6 * width
            and not _ENDS_SENTENCE.search(line)
            and not line.endswith(("-", ","))
            and (not following or following[:1].isupper() or following[:1].isdigit() or _CJK_START.search(following))
        )
        previous = out[-1] if out else ""
        ended = _ENDS_PARAGRAPH.search(last) and len(last) < 0.9 * width
        if previous and last and not previous.startswith("# ") and not heading and not ended \
                and not _BLOCK_START.match(line) and not row and CELL_SEPARATOR not in last:
            out[-1] = _unbroken(previous, line, full_text) or _joined(previous, line)
        else:
            out.append(f"# {line}" if heading and not marked else line)
        last = line
    return "\n".join(out).strip()


_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)(]|\([^)]*\))*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)([^*_\n]+?)(?<=\S)\1(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")


def plain_markdown(text: str) -> str:
    """Markdown's inline marks taken off: emphasis, code ticks, links (their text kept), images (gone).

    Chunks hold the words a reader sees; block structure (headings, lists, tables) stays.
    """
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(r"\2", text)
    return _CODE.sub(r"\1", text)


def join_across_pages(pages: list[str], full_text: str) -> list[tuple[str, int]]:
    """Pages (each already joined into paragraphs) with a paragraph that runs over page breaks
    kept whole on the page where it starts: its sentences are never cut at a break. Each page's
    text comes with the index of the page its text ends on (its own, or a later one's where its
    last paragraph ends). ``full_text`` is the evidence for mending a word hyphenated across a
    break, as in ``join_pdf_lines``."""
    pages = list(pages)
    ends_on = list(range(len(pages)))
    start = 0  # the page the paragraph at the end of the pages so far starts on
    for number in range(1, len(pages)):
        last = pages[start].rstrip().rsplit("\n", 1)[-1]
        head, _, rest = pages[number].lstrip().partition("\n")
        if last and head and _continues(last, head):
            kept = pages[start].rstrip()[: -len(last)]
            pages[start] = kept + (_unbroken(last, head, full_text) or _joined(last, head))
            pages[number] = rest
            ends_on[start] = number
            if not rest.strip():  # the paragraph filled the page: it may go on over the next break
                continue
        start = number
    return list(zip(pages, ends_on, strict=True))


def _continues(last: str, head: str) -> bool:
    """The first line of a page goes on with the last line of the page before: that one stops
    short of a full stop, and neither is a heading, a table row or a list item."""
    if any(line.startswith("# ") or CELL_SEPARATOR in line for line in (last, head)) or _BLOCK_START.match(head):
        return False
    return not _ENDS_PARAGRAPH.search(last)
