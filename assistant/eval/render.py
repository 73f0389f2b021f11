"""Benchmark articles written out as the files people actually have: a PDF with a running header,
a Word file, a web page inside its site's boilerplate, or Markdown wrapped at 72 columns.

`assistant eval --as FORMAT` indexes these instead of plain Markdown, so the loaders, the text
cleaning and the sentence splitter are measured end to end.
"""

from __future__ import annotations

import functools
import html
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.eval.squad import Article, write_articles
from assistant.text import CJK_CHARS

FORMATS = ("md", "wrapped", "pdf", "docx", "html")
WRAP_COLUMNS = 72
SITE = "Skills Partnerships News"
# A word processor embeds a font that has every letter of the text. reportlab's built-in Helvetica
# has only Latin-1, so "Rāzi" would be written "Rnzi" and a benchmark would blame the PDF loader
# for the renderer's loss: Debian's fonts-dejavu-core (`make fonts`) is used where installed.
UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CJK_FONT = "STSong-Light"  # reportlab's own CID font: Chinese without a font file
_CHINESE_RUN = re.compile(f"[{CJK_CHARS}\u3000-\u303f\uff00-\uffef]+")


def _paragraphs(article: Article) -> list[str]:
    return [p.strip() for p in article.text.split("\n\n") if p.strip()]


def _wrapped(article: Article, path: Path) -> None:
    # Wrapping adds line breaks; the ones the text already has stay (COVID-QA's lines are its headings).
    body = "\n\n".join(
        "\n".join(textwrap.fill(line, WRAP_COLUMNS) for line in p.splitlines()) for p in _paragraphs(article)
    )
    path.write_text(f"# {article.title}\n\n{body}\n", encoding="utf-8")


@functools.cache  # once per process, not once per article
def _registered_fonts() -> bool:
    """reportlab's CJK font, and DejaVu where installed; whether DejaVu is."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    if not UNICODE_FONT.is_file():
        return False
    pdfmetrics.registerFont(TTFont("Unicode", str(UNICODE_FONT)))
    pdfmetrics.registerFont(TTFont("Unicode-Bold", str(UNICODE_FONT.with_name(f"{UNICODE_FONT.stem}-Bold.ttf"))))
    return True


def _pdf(article: Article, path: Path) -> None:
    try:
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import getSampleStyleSheet
        from reportlab.platypus import Paragraph, SimpleDocTemplate
    except ImportError:
        raise ConfigError("eval --as pdf needs reportlab: pip install -e '.[test]'") from None
    styles = getSampleStyleSheet()
    body_style, title_style = styles["BodyText"], styles["Title"]
    chinese = bool(_CHINESE_RUN.search(article.text[:2000]))
    marked: Callable[[str], str] = html.escape
    if _registered_fonts():
        body_style = body_style.clone("unicode", fontName="Unicode")
        title_style = title_style.clone("unicode-title", fontName="Unicode-Bold")

        def marked(text: str) -> str:  # Chinese runs in the CJK font, the rest (Vietnamese too) in DejaVu
            return _CHINESE_RUN.sub(lambda run: f'<font name="{CJK_FONT}">{run.group()}</font>', html.escape(text))
    elif chinese:
        body_style = body_style.clone("cjk", fontName=CJK_FONT)
    if chinese:
        body_style = body_style.clone("cjk-wrap", wordWrap="CJK")

    def running_lines(canvas: Any, document: Any) -> None:  # reportlab's callback arguments
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(72, 810, f"{SITE} | Briefing series")
        canvas.drawString(500, 30, f"Page {document.page}")
        canvas.restoreState()

    story = [Paragraph(marked(article.title), title_style)]
    story += [Paragraph(marked(p), body_style) for p in _paragraphs(article)]
    SimpleDocTemplate(str(path), pagesize=A4, title=article.title).build(
        story, onFirstPage=running_lines, onLaterPages=running_lines
    )


def _docx(article: Article, path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = article.title
    document.add_heading(article.title, 0)
    for paragraph in _paragraphs(article):
        document.add_paragraph(paragraph)
    document.save(str(path))


def _html(article: Article, path: Path) -> None:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in _paragraphs(article))
    path.write_text(
        f"<!DOCTYPE html><html lang='en'><head><title>{html.escape(article.title)} | {SITE}</title>"
        "<script>window.analytics = {track() {}};</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/about'>About us</a></nav>"
        "<div class='cookie-banner'>We use cookies to improve this site. Accept all cookies?</div>"
        f"<main><article><h1>{html.escape(article.title)}</h1>\n{body}\n</article></main>"
        "<footer><a href='/privacy'>Privacy</a> · <a href='/contact'>Contact</a> · © Skills Partnerships</footer>"
        "</body></html>",
        encoding="utf-8",
    )


_WRITERS: dict[str, tuple[str, Callable[[Article, Path], None]]] = {
    "wrapped": (".md", _wrapped),
    "pdf": (".pdf", _pdf),
    "docx": (".docx", _docx),
    "html": (".html", _html),
}


def write_as(articles: list[Article], folder: Path, form: str = "md") -> None:
    """Each article as one file of ``form`` in ``folder``."""
    if form == "md":
        write_articles(articles, folder)
        return
    if form not in _WRITERS:
        raise ConfigError(f"--as {form!r} is not one of {', '.join(FORMATS)}")
    suffix, write = _WRITERS[form]
    folder.mkdir(parents=True, exist_ok=True)
    for article in articles:
        write(article, folder / Path(article.file_name).with_suffix(suffix).name)
