"""A PDF page's text lines in reading order: a column read to its end before the next.

The order in which a PDF draws its text is not always the order of reading (a generator may draw
a two-column page row by row), and pdfminer's own box ordering puts a column's last paragraphs
first on some pages; so lines are ordered from their positions, by cutting the page at gutters.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from assistant.ingest.cleaning import CELL_SEPARATOR

# A gutter is a vertical strip this wide (points) that no line of a column crosses, with at least
# this many lines on each side, each side's lines at least this share of the text's width at the
# median: a narrower gap is a space inside a line, short lines side by side are a table's cells.
MIN_GUTTER = 8.0
MIN_COLUMN_LINES = 3
MIN_COLUMN_SHARE = 0.25
# A gap inside a line this many times its type size may part two cells (a word space is a quarter).
CELL_GAP = 1.0
# Type this much larger than the page's body text is a heading's.
HEADING_SCALE = 1.15
# A gap between lines this many times the page's usual line pitch parts two paragraphs: word
# processors put space after a paragraph (Word's default about 1.5 times the pitch, reportlab's
# 1.5), while a superscript or a larger word raises a line by less.
PARAGRAPH_GAP = 1.35
# pdfminer's stand-in for a glyph with no character behind it (a bullet, an ornament, or every
# glyph of a font that maps none): one replacement character each, so it can be counted and dropped.
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")
# Bullet glyphs (and an unmapped glyph) set apart from the words of their line: not a table's "✓" or "−".
_BULLETS = frozenset("•▪◦●‣∙·■□\ufffd")
# Such a glyph opening a line, apart from the words, is a list item's bullet.
_LEADING_GLYPH = re.compile(r"^\ufffd\s+")


@dataclass(frozen=True)
class Line:
    x0: float
    x1: float
    top: float  # distance from the bottom of the page: larger is higher up
    text: str
    size: float = 0.0  # the font size of most of its characters
    # Where a word after a gap of at least CELL_GAP starts: (x, its offset in text). A table's
    # header row can be set with gaps too narrow for pdfminer to part its cells.
    breaks: tuple[tuple[float, int], ...] = ()

    @property
    def width(self) -> float:
        return self.x1 - self.x0


def _gutter(lines: list[Line]) -> float | None:
    """The x of the first gap between columns of lines, if the lines have columns."""
    if len(lines) < 2 * MIN_COLUMN_LINES:
        return None
    width = max(line.x1 for line in lines) - min(line.x0 for line in lines)
    # A line as wide as most of the text (a title, a full-width heading) spans any gutter.
    narrow = sorted((line for line in lines if line.width < 0.6 * width), key=lambda line: line.x0)
    reach = narrow[0].x1 if narrow else 0.0
    for line in narrow[1:]:
        if line.x0 - reach >= MIN_GUTTER:
            cut = (reach + line.x0) / 2
            sides = [line for line in narrow if line.x1 < cut], [line for line in narrow if line.x0 > cut]
            if all(len(side) >= MIN_COLUMN_LINES and median(line.width for line in side) >= MIN_COLUMN_SHARE * width
                   for side in sides):
                return cut
        reach = max(reach, line.x1)
    return None


def reading_order(lines: list[Line]) -> list[Line]:
    """Lines top to bottom; where they stand in columns, each column in turn, left first.

    A line across the gutter (a title, a full-width heading) closes the columns above it.
    """
    lines = sorted(lines, key=lambda line: -line.top)
    cut = _gutter(lines)
    if cut is None:
        return _rows(lines)
    ordered: list[Line] = []
    block: list[Line] = []
    for line in lines:
        if line.x0 < cut < line.x1:
            ordered += _columns(block, cut) + [line]
            block = []
        else:
            block.append(line)
    return ordered + _columns(block, cut)


def _columns(block: list[Line], cut: float) -> list[Line]:
    """Each side of the gutter in its own reading order (a column can hold columns)."""
    return reading_order([line for line in block if line.x1 <= cut]) + reading_order(
        [line for line in block if line.x1 > cut]
    )


def _rows(lines: list[Line]) -> list[Line]:
    """Lines printed side by side on one baseline (a table's cells) as one line, cells joined by " | "."""
    rows: list[list[Line]] = []
    for line in lines:
        if rows and abs(rows[-1][0].top - line.top) < 0.5 * max(line.size, 1.0):
            rows[-1].append(line)
        else:
            rows.append([line])
    cells = [sorted(row, key=lambda c: c.x0) for row in rows]
    for number, row in enumerate(cells):
        # A header row set close ("Students Staff Host city" as one piece over four columns) is
        # parted where the cells of the row beside it start.
        beside = [cells[n] for n in (number - 1, number + 1) if 0 <= n < len(cells) and len(cells[n]) > len(row)]
        if beside and any(cell.breaks for cell in row):
            cells[number] = [piece for cell in row for piece in _parted_like(cell, _under(cell, beside[0]))]
    return [_row_line(row) for row in cells]


def _under(cell: Line, row: list[Line]) -> list[Line]:
    """The cells of ``row`` that start within ``cell``'s width (a type size's leeway either side)."""
    return [other for other in row if cell.x0 - cell.size <= other.x0 <= cell.x1 + cell.size]


def _parted_like(line: Line, row: list[Line]) -> list[Line]:
    """``line`` parted into cells where ``row``'s cells start (a header row above its table's first
    row), at wide gaps only; ``line`` whole if a cell has no gap to start at."""
    offsets = []
    for before, cell in zip(row, row[1:], strict=False):
        starts = [offset for x, offset in line.breaks if before.x1 < x <= cell.x0 + line.size]
        if not starts:
            return [line]
        offsets.append(starts[-1])
    bounds = [0, *offsets, len(line.text)]
    xs = [line.x0, *(cell.x0 for cell in row[1:]), line.x1]
    return [
        Line(xs[n], xs[n + 1], line.top, line.text[bounds[n]:bounds[n + 1]].strip(), line.size)
        for n in range(len(bounds) - 1)
    ]


def _row_line(cells: list[Line]) -> Line:
    """One baseline's pieces as one line: a list item when the first is a lone bullet glyph (often
    set apart, and in a larger type, than the item's words), else a row of table cells. Its type
    size is its words', not a bullet's."""
    texts = [c.text for c in cells]
    if len(cells) > 1 and texts[0] in _BULLETS:
        text = "• " + CELL_SEPARATOR.join(texts[1:])
    else:
        text = CELL_SEPARATOR.join(texts)
    size = max(cells, key=lambda c: len(c.text) if len(c.text) > 1 else 0).size
    return Line(cells[0].x0, max(c.x1 for c in cells), cells[0].top, text, size)


# A numbered heading ("1. Background", "3.2 Costs") opens a heading of its own, never the second
# line of the one above (a title set in the same type as the first section's heading).
_NUMBERED = re.compile(r"\d+(?:\.\d+)*\.?\s")


def _paragraph_starts(lines: list[Line]) -> set[int]:
    """Which lines (in reading order) open a paragraph set apart by space above it; none where the
    page's paragraphs have no space between them. Table rows are never parted: they are boundaries
    already, and their header is found by the rows around it."""
    gaps = [above.top - line.top for above, line in zip(lines, lines[1:], strict=False)]
    # A line's pitch is its baseline's distance from the line above, in the same column (a gap
    # within a few type sizes, not the jump to a column's top).
    usual = [gap for gap, line in zip(gaps, lines[1:], strict=False) if 0.5 * line.size < gap < 3 * line.size]
    if not usual:
        return set()
    pitch = median(usual)
    return {
        number + 1
        for number, gap in enumerate(gaps)
        if gap > PARAGRAPH_GAP * pitch and CELL_SEPARATOR not in lines[number].text + lines[number + 1].text
    }


def _marked_headings(lines: list[Line]) -> list[str]:
    """Line texts, those in a larger type than the page's body text marked "# ", a heading set on
    two lines joined into one, a blank line where space above a line opens a paragraph."""
    sizes = Counter(round(line.size, 1) for line in lines for _ in line.text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    starts = _paragraph_starts(lines)
    texts: list[str] = []
    previous_heading: Line | None = None
    for number, line in enumerate(lines):
        if body and line.size >= HEADING_SCALE * body:
            if previous_heading and abs(previous_heading.size - line.size) < 0.5 and not _NUMBERED.match(line.text):
                texts[-1] += " " + line.text
            else:
                texts.append(f"# {line.text}")
            previous_heading = line
        else:
            if number in starts and texts and texts[-1]:
                texts.append("")
            texts.append(line.text)
            previous_heading = None
    return texts


def page_texts(path: Path) -> Iterator[str]:
    """Each page's text, its lines in reading order, one line of text per line of the page
    (a row of table cells on one line), headings in a larger type marked "# "."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar, LTTextContainer, LTTextLine

    def breaks(element: LTTextLine, text: str) -> tuple[tuple[float, int], ...]:
        found, built, reach = [], "", None
        for child in element:
            if isinstance(child, LTChar):
                if reach is not None and built.endswith(" ") and child.x0 - reach >= CELL_GAP * child.size:
                    found.append((child.x0, len(built)))
                reach = child.x1
            built += child.get_text()
        lead = len(built) - len(built.lstrip())
        # Offsets hold only while the text is the line's own (no glyph stood in for, no bullet).
        return tuple((x, at - lead) for x, at in found) if built.strip() == text else ()

    def lines_of(element: object) -> Iterator[Line]:
        if isinstance(element, LTTextLine):
            if text := _LEADING_GLYPH.sub("• ", _UNMAPPED_GLYPH.sub("\ufffd", element.get_text()).strip()):
                sizes = [round(char.size, 1) for char in element if isinstance(char, LTChar)]
                size = Counter(sizes).most_common(1)[0][0] if sizes else 0.0
                yield Line(element.x0, element.x1, element.y1, text, size, breaks(element, text))
        elif isinstance(element, LTTextContainer):
            for child in element:
                yield from lines_of(child)

    for page in extract_pages(path):
        lines = [line for element in page for line in lines_of(element)]
        yield "\n".join(_marked_headings(reading_order(lines)))
