"""Small real inputs made on the fly: facts to index, documents of every supported format, SQuAD files."""

from __future__ import annotations

import json
from pathlib import Path

RQF = "The Regulated Qualifications Framework started on 1 October 2015 and replaced the QCF."
LEVY = "The apprenticeship levy started on 6 April 2017 at 0.5% of an employer's pay bill."
WELDING = "The Shenzhen–Leeds welding pilot enrolled 412 apprentices in March 2024."
# A whole Markdown document around LEVY.
LEVY_DOC = f"# Apprenticeship levy\n\n{LEVY}\n"

# Articles for a small SQuAD-format file: each answer plainly in its article.
ARTICLES = {
    "Apprenticeship levy": [
        ("The apprenticeship levy started on 6 April 2017. It is charged at 0.5% of an employer's pay bill.",
         [("When did the apprenticeship levy start?", "6 April 2017"),
          ("What rate is the apprenticeship levy charged at?", "0.5%")]),
    ],
    "T Levels": [
        ("T Levels launched in September 2020. Each T Level is worth three A levels.",
         [("When did T Levels launch?", "September 2020")]),
        ("Every T Level includes an industry placement of at least 315 hours.",
         [("How long is the T Level industry placement?", "315 hours")]),
    ],
    "Lighthouses": [
        ("The Bell Rock Lighthouse was built between 1807 and 1810 off the coast of Angus.",
         [("When was the Bell Rock Lighthouse built?", "between 1807 and 1810")]),
    ],
}


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF with one text page per entry (an empty string gives a page with no text)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        if text:
            pdf.drawString(72, 770, text)
        pdf.showPage()
    pdf.save()
    return path


def make_docx(path: Path, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def squad_file(path: Path, articles: dict) -> Path:
    """``articles`` ({title: [(context, [(question, answer), ...]), ...]}) as a SQuAD 1.1 JSON file."""
    data = []
    for number, (title, paragraphs) in enumerate(articles.items()):
        entries = []
        for p, (context, qas) in enumerate(paragraphs):
            entries.append({
                "context": context,
                "qas": [{"id": f"{number}-{p}-{q}", "question": question,
                         "answers": [{"text": gold, "answer_start": context.find(gold)}]}
                        for q, (question, gold) in enumerate(qas)],
            })
        data.append({"title": title, "paragraphs": entries})
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path
