"""Files -> LangChain Documents: one loader per format, each failure named by reason."""

from __future__ import annotations

import datetime as dt
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from langchain_core.documents import Document

from assistant.config import MB
from assistant.errors import DocumentError

FRONT_MATTER_KEYS = ("title", "source", "date")
MAX_META_CHARS = 300
MAX_FRONT_MATTER_CHARS = 16_000


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
    # Plain values only, kept short: a list or mapping (a YAML alias bomb) is never stringified.
    plain = (str, int, float, dt.date)
    return {k: str(meta[k])[:MAX_META_CHARS] for k in FRONT_MATTER_KEYS if isinstance(meta.get(k), plain)}, body


def _load_text(path: Path) -> list[Document]:
    meta, body = _split_front_matter(_read_utf8(path))
    if "source" in meta:  # the file's own path is the citation; keep where the text came from
        meta["origin"] = meta.pop("source")
    return [Document(page_content=body, metadata=meta)]


def _load_html(path: Path) -> list[Document]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_utf8(path), "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else None
    # Only what a reader sees: scripts, styles and templates are not content, nor is what the page hides.
    for hidden in soup(["script", "style", "noscript", "template", "head"]):
        hidden.decompose()
    for hidden in soup.find_all(_is_hidden):
        if not hidden.decomposed:  # inside a hidden element already removed
            hidden.decompose()
    text = "\n".join(line.strip() for line in soup.get_text("\n").splitlines() if line.strip())
    return [Document(page_content=text, metadata={"title": title} if title else {})]


_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _is_hidden(tag: Any) -> bool:  # a BeautifulSoup Tag
    hiding_style = bool(_HIDING_STYLE.search(tag.get("style", "")))
    return tag.has_attr("hidden") or tag.get("aria-hidden") == "true" or hiding_style


def _load_pdf(path: Path) -> Iterator[Document]:
    from langchain_community.document_loaders import PyPDFLoader

    # Page by page, so a PDF whose streams inflate to far more text than its size stops early.
    for page in PyPDFLoader(str(path)).lazy_load():
        # PyPDF counts pages from 0; people count from 1.
        yield Document(page_content=page.page_content, metadata={"page": int(page.metadata["page"]) + 1})


def _load_docx(path: Path) -> list[Document]:
    from langchain_community.document_loaders import Docx2txtLoader

    return [Document(page_content=d.page_content) for d in Docx2txtLoader(str(path)).load()]


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
    except DocumentError:
        raise
    except Exception as exc:  # a parser's failure on a malformed file is that file's problem
        raise DocumentError(f"cannot parse {path.suffix} file: {exc.__class__.__name__}: {exc}"[:300]) from None
    docs = [d for d in docs if d.page_content.strip()]
    if not docs:
        kind = "PDF has no extractable text (scanned images?)" if path.suffix.lower() == ".pdf" else "no text"
        raise DocumentError(kind)
    source = path.relative_to(root).as_posix()
    for doc in docs:
        doc.metadata.setdefault("title", path.stem.replace("-", " ").replace("_", " "))
        doc.metadata["source"] = source
    return docs


def discover(root: Path) -> list[Path]:
    """Every file under ``root`` that a user put there, hidden ones excluded, sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
