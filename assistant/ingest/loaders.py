"""Files -> LangChain Documents: one loader per format, each failure named by reason."""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from langchain_core.documents import Document

from assistant.config import MB
from assistant.errors import DocumentError
from assistant.ingest.chunks import RUNS_ONTO_PAGE
from assistant.ingest.cleaning import (
    CELL_SEPARATOR,
    drop_running_lines,
    join_across_pages,
    join_paragraph_lines,
    join_pdf_lines,
    plain_markdown,
)
from assistant.ingest.pdf_layout import page_texts
from assistant.text import CJK_CHARS

FRONT_MATTER_KEYS = ("title", "source", "date", "language", "summary")
MAX_META_CHARS = 300
# A PDF whose text is more than this share of unmapped glyphs and control codes has no usable text.
MAX_JUNK_SHARE = 0.3
MAX_FRONT_MATTER_CHARS = 16_000
# Parts of a page that are never its content: navigation, site chrome, forms, cookie banners.
_BYLINE_NAMES = re.compile(r"byline|author|dateline", re.I)
MAX_BYLINE_CHARS = 200
_CHROME_TAGS = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button", "svg"]
_CHROME_NAMES = re.compile(r"cookie|consent|banner|navbar|breadcrumb|menu|sidebar|share|newsletter|skip-link",
                           re.IGNORECASE)
_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# "source: a; b; date: 2021; language: en" in a PDF's keywords or a Word file's: the fields this
# collection's own files carry there.
_KEYWORD_FIELDS = re.compile(r"(?:^|;\s*)(source|date|language):\s*", re.IGNORECASE)
_SENTENCE_LIKE = re.compile(rf"(\w+\W+){{3,}}\w+[.!?]|[{CJK_CHARS}]{{6,}}")


def _read_utf8(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise DocumentError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def _plain(meta: dict) -> dict[str, str]:
    """The document fields the index keeps, as short strings; ``source`` (where the facts come from)
    is kept as ``origin``, since a chunk's ``source`` is its file."""
    kept = {k: str(v).strip()[:MAX_META_CHARS] for k, v in meta.items() if k in FRONT_MATTER_KEYS and v}
    if "source" in kept:
        kept["origin"] = kept.pop("source")
    if "language" in kept:
        kept["language"] = kept["language"].split("-")[0].lower()  # zh-CN -> zh
    return {k: v for k, v in kept.items() if v}


def _split_front_matter(text: str) -> tuple[dict, str]:
    """Markdown front matter becomes metadata, never chunk text."""
    if not text.startswith("---"):
        return {}, text
    head, sep, body = text[3:].partition("\n---")
    if not sep:
        return {}, text
    if len(head) > MAX_FRONT_MATTER_CHARS:  # a few short fields; YAML's cost grows fast with size
        raise DocumentError(f"front matter of {len(head):,} characters, over the limit of {MAX_FRONT_MATTER_CHARS:,}")
    try:
        meta = yaml.safe_load(head)
    except yaml.YAMLError as exc:
        raise DocumentError(f"bad front matter: {exc.__class__.__name__}") from None
    if not isinstance(meta, dict):
        return {}, text
    _, _, body = body.partition("\n")
    # Plain values only: a list or mapping (a YAML alias bomb) is never stringified.
    plain = (str, int, float, dt.date)
    return _plain({k: meta[k] for k in FRONT_MATTER_KEYS if isinstance(meta.get(k), plain)}), body


def _first_heading(text: str) -> str | None:
    found = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    return found.group(1).strip() if found else None


def _load_text(path: Path) -> list[Document]:
    meta, body = _split_front_matter(_read_utf8(path))
    body = join_paragraph_lines(body)
    if path.suffix.lower() in (".md", ".markdown"):
        body = plain_markdown(body)
    if "title" not in meta and (heading := _first_heading(body)):
        meta["title"] = heading[:MAX_META_CHARS]
    return [Document(page_content=body, metadata=meta)]


def _is_hidden(tag: Any) -> bool:  # a BeautifulSoup Tag
    hiding_style = bool(_HIDING_STYLE.search(tag.get("style", "")))
    return tag.has_attr("hidden") or tag.get("aria-hidden") == "true" or hiding_style


def _is_chrome(tag: Any) -> bool:
    names = " ".join([tag.get("id") or "", *(tag.get("class") or []), tag.get("role") or ""])
    return tag.name in ("div", "section", "ul", "p", "span") and bool(_CHROME_NAMES.search(names))


def _is_chrome_tag(tag: Any) -> bool:
    """The site's navigation, header, footer and scripts; an article's own <header> (its heading
    and byline) is the article's."""
    return tag.name in _CHROME_TAGS and not (tag.name == "header" and tag.find_parent(["article", "main"]))


def _load_html(path: Path) -> list[Document]:
    """The page's main content (trafilatura), without what the page hides or its site chrome; headings as "# "."""
    import trafilatura
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_utf8(path), "html.parser")
    head = soup.head
    meta = {
        "title": soup.title.get_text(" ", strip=True) if soup.title else None,
        "summary": _meta_content(head, "description"),
        "date": _meta_content(head, "date") or _meta_content(head, "article:published_time"),
        "source": _meta_content(head, "source"),
        "language": soup.html.get("lang") if soup.html else None,
    }
    for element in soup.find_all(lambda tag: _is_hidden(tag) or _is_chrome(tag) or _is_chrome_tag(tag)):
        if not element.decomposed:  # inside an element already removed
            element.decompose()
    byline = _byline(soup)
    # The page's own heading before its <title>, which often adds the site's name ("... | Site News").
    heading = h1.get_text(" ", strip=True) if (h1 := soup.find("h1")) else ""
    if heading:
        meta["title"] = heading
    text = trafilatura.extract(
        str(soup), output_format="markdown", include_tables=True, include_links=False, include_images=False,
        include_formatting=True, include_comments=False, favor_recall=True,
    ) or ""
    text = plain_markdown(text)
    if not _SENTENCE_LIKE.search(text):
        raise DocumentError("no main content: the page holds only navigation, menus or other boilerplate")
    text = text.strip()
    if heading and not text.startswith("#"):  # trafilatura leaves the page's own heading out
        text = f"# {heading}\n\n{text}"
    if byline and byline not in text:  # trafilatura takes the byline for metadata and leaves it out
        first, _, rest = text.partition("\n")
        text = f"{first}\n\n{byline}\n{rest}" if first.startswith("#") else f"{byline}\n\n{text}"
    return [Document(page_content=text, metadata=_plain(meta))]


def _byline(soup: Any) -> str:
    """The page's byline ("By Sarah Okafor | Published 27 November 2024"): who wrote it, and when."""
    for tag in soup.find_all(["p", "div", "span", "address"]):
        names = " ".join([tag.get("id") or "", *(tag.get("class") or []), tag.get("itemprop") or ""])
        if _BYLINE_NAMES.search(names) and 0 < len(text := tag.get_text(" ", strip=True)) <= MAX_BYLINE_CHARS:
            return text
    return ""


def _meta_content(head: Any, name: str) -> str | None:
    if head is None:
        return None
    tag = head.find("meta", attrs={"name": name}) or head.find("meta", attrs={"property": name})
    return tag.get("content") if tag else None


def _keyword_fields(keywords: str | None) -> dict[str, str]:
    """"source: ...; date: ...; language: ..." as fields; other keywords say nothing we keep."""
    if not keywords or not _KEYWORD_FIELDS.match(keywords):
        return {}
    parts = _KEYWORD_FIELDS.split(keywords)[1:]
    return {key.lower(): value.strip().rstrip(";") for key, value in zip(parts[::2], parts[1::2], strict=True)}


def _load_pdf(path: Path) -> Iterator[Document]:
    from pypdf import PdfReader

    info = PdfReader(path).metadata or {}  # pypdf decodes the PDF's text strings for us
    meta = _plain({
        "title": info.get("/Title"), "summary": info.get("/Subject"), **_keyword_fields(info.get("/Keywords")),
    })
    # Page by page, so a PDF whose streams inflate to far more text than its size stops early.
    for number, text in enumerate(page_texts(path), start=1):  # people count pages from 1
        yield Document(page_content=text, metadata={**meta, "page": number})


def _check_text_layer(pages: list[Document]) -> None:
    """Refuse a PDF with no text behind its pages (a scan) or one whose text is glyph codes, not
    characters (a font with no character map): indexed, either would be junk."""
    chars = [ch for page in pages for ch in page.page_content if not ch.isspace()]
    if not chars:
        raise DocumentError("no text layer (scanned?): its pages hold no text to read")
    junk = sum(ch == "\ufffd" or unicodedata.category(ch) in ("Co", "Cc", "Cs", "Cn") for ch in chars)
    if junk > MAX_JUNK_SHARE * len(chars):
        raise DocumentError(
            f"no usable text layer (scanned?): {junk / len(chars):.0%} of its characters are glyph codes, not text"
        )


def _tidy_pdf(pages: list[Document]) -> list[Document]:
    """Running headers, footers and page numbers out; each paragraph's lines joined (one that runs
    over a page break, on the page where it starts), headings marked."""
    texts = drop_running_lines([page.page_content for page in pages])
    whole = "\n".join(texts)
    joined = join_across_pages([join_pdf_lines(text, whole) for text in texts], whole)
    for page, (text, ends_on) in zip(pages, joined, strict=True):
        page.page_content = text
        if pages[ends_on] is not page:  # its last paragraph goes on over the break: cited "pages 2–3"
            page.metadata[RUNS_ONTO_PAGE] = pages[ends_on].metadata["page"]
    return pages


def _load_docx(path: Path) -> list[Document]:
    """Paragraphs and tables in reading order (a table as in Markdown: a row a line, its cells
    joined by " | ", the first row its header), headings marked "# "; title, summary, date and
    language from the file's properties."""
    import docx

    document = docx.Document(str(path))
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            lines.extend([*_markdown_table([[cell.text.strip() for cell in row.cells] for row in block.rows]), ""])
            continue
        text = join_paragraph_lines(block.text.strip())  # a line break inside a paragraph goes on with it
        style = (block.style.name if block.style is not None else "") or ""
        if text:
            lines.extend([f"# {text}" if style.startswith(("Heading", "Title")) else text, ""])
    core = document.core_properties
    created = core.created if core.created != _PYTHON_DOCX_TEMPLATE_DATE else None
    meta = {
        "title": core.title, "summary": core.subject or core.comments, "language": core.language,
        "date": created.date().isoformat() if created else None,
        **({"source": core.keywords} if core.keywords else {}),
        **_keyword_fields(core.keywords),
    }
    if not meta["title"]:
        meta["title"] = next((line[2:] for line in lines if line.startswith("# ")), None)
    return [Document(page_content="\n".join(lines).strip(), metadata=_plain(meta))]


# python-docx's blank template carries the date it was made: a file generated with python-docx
# and never given its own would claim to date from 23 December 2013.
_PYTHON_DOCX_TEMPLATE_DATE = dt.datetime(2013, 12, 23, 23, 15, tzinfo=dt.UTC)


def _markdown_table(rows: list[list[str]]) -> list[str]:
    """A table's rows as Markdown's, its first row the header (read with each row, never quoted);
    a table of one row or one column (a layout box) has none."""
    lines = [f"| {CELL_SEPARATOR.join(' '.join(cell.split()) for cell in row)} |" for row in rows]
    if len(rows) < 2 or len(rows[0]) < 2:
        return lines
    return [lines[0], "|" + "---|" * len(rows[0]), *lines[1:]]


def _unzipped_bytes(path: Path) -> int:
    """What every member of a .docx unzips to, as its zip directory declares (zipfile reads no more).

    Every member counts, whatever its name: docx2txt reads parts by patterns that match more
    than ``.xml`` names (``word/header1.xmlx``).
    """
    with zipfile.ZipFile(path) as package:
        return sum(info.file_size for info in package.infolist())


LOADERS: dict[str, Callable[[Path], Iterable[Document]]] = {
    ".md": _load_text,
    ".markdown": _load_text,
    ".txt": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".docx": _load_docx,
}
SUPPORTED_SUFFIXES = tuple(LOADERS)


def _size(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB / 10 else f"{n / 1024:.3g} KB"


def _within_budget(docs: Iterable[Document], size: int, max_bytes: int, seconds: float | None) -> list[Document]:
    """The documents, read no further than ``max_bytes`` of text (a small file can expand to far
    more) and for no longer than ``seconds`` (a small PDF can point at one costly page 90,000 times).

    The clock is read between documents, so a PDF stops within a page of its budget.
    """
    deadline = time.monotonic() + seconds if seconds else None
    kept, text_bytes = [], 0
    for doc in docs:
        text_bytes += len(doc.page_content.encode())
        where = f" by page {doc.metadata['page']}" if "page" in doc.metadata else ""
        if text_bytes > max_bytes:
            raise DocumentError(
                f"yields {_size(text_bytes)} of text{where}, over the {max_bytes / MB:.2g} MB size cap "
                f"(the file is {_size(size)})"
            )
        if deadline is not None and time.monotonic() > deadline:
            raise DocumentError(f"took over {seconds:g} s to read{where} (ASSISTANT_FILE_SECONDS); left out")
        kept.append(doc)
    return kept


def load_file(path: Path, root: Path, max_bytes: int, seconds: float | None = None) -> list[Document]:
    """Read one file into Documents whose metadata names it relative to ``root``.

    The size cap holds for the file, for what a .docx unzips to, and for the text any file yields;
    reading stops after ``seconds``.
    Raises DocumentError with the reason when the file cannot give any text.
    """
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DocumentError(f"unsupported file type {path.suffix or '(none)'!r}")
    if not path.resolve().is_relative_to(root.resolve()):
        raise DocumentError(f"a link to {path.resolve()}, outside the documents folder; links out are not followed")
    size = path.stat().st_size
    if size == 0:
        raise DocumentError("empty file")
    if size > max_bytes:
        raise DocumentError(f"{size / MB:.3g} MB is over the {max_bytes / MB:.2g} MB size cap")
    try:
        # A 10 KB .docx can unzip to gigabytes of XML: refused from its zip directory, before inflating.
        if path.suffix.lower() == ".docx" and (unzipped := _unzipped_bytes(path)) > max_bytes:
            raise DocumentError(
                f"unzips to {_size(unzipped)}, over the {max_bytes / MB:.2g} MB size cap "
                f"(the file is {_size(size)})"
            )
        docs = _within_budget(loader(path), size, max_bytes, seconds)
        if path.suffix.lower() == ".pdf":
            _check_text_layer(docs)
            docs = _tidy_pdf(docs)
    except DocumentError:
        raise
    except Exception as exc:  # a parser's failure on a malformed file is that file's problem
        raise DocumentError(f"cannot parse {path.suffix} file: {exc.__class__.__name__}: {exc}"[:300]) from None
    docs = [d for d in docs if d.page_content.strip()]
    if not docs:
        raise DocumentError("no text")
    source = path.relative_to(root).as_posix()
    language = docs[0].metadata.get("language") or _language_of(" ".join(d.page_content[:2000] for d in docs[:3]))
    for doc in docs:
        # The document's own title where it has one; its file name only as the last resort.
        doc.metadata.setdefault("title", path.stem.replace("-", " ").replace("_", " "))
        doc.metadata.setdefault("language", language)
        doc.metadata["source"] = source
    return docs


def _language_of(text: str) -> str:
    """"zh" for text mostly in Chinese characters, else "en" (the two languages of this collection)."""
    letters = sum(ch.isalpha() for ch in text)
    return "zh" if letters and len(re.findall(f"[{CJK_CHARS}]", text)) > 0.3 * letters else "en"


def discover(root: Path) -> list[Path]:
    """Every file under ``root`` that a user put there, hidden ones excluded, sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
