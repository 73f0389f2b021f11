from pathlib import Path

import pytest

from assistant.config import MB
from assistant.errors import DocumentError
from assistant.ingest.chunks import make_splitter, split_documents
from assistant.ingest.cleaning import join_across_pages, join_paragraph_lines, join_pdf_lines
from assistant.ingest.loaders import discover, load_file
from assistant.ingest.pdf_layout import Line, reading_order
from assistant.text import section_context, sentences
from tests.conftest import write
from tests.samples import make_docx, make_pdf


def test_markdown_front_matter_becomes_metadata_not_text(tmp_path: Path) -> None:
    text = '---\ntitle: "The levy"\nsource: "gov.uk"\ndate: "2017-04-06"\n---\n# Levy\nIt is 0.5%.\n'
    path = write(tmp_path, "sub/levy.md", text)
    [doc] = load_file(path, tmp_path, MB)
    assert doc.metadata == {
        "title": "The levy", "origin": "gov.uk", "date": "2017-04-06", "language": "en", "source": "sub/levy.md"
    }
    assert "title:" not in doc.page_content and "It is 0.5%." in doc.page_content


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    html = (
        "<html><head><title>T Levels</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><p>T Levels launched in 2020.</p><noscript>enable js</noscript></body></html>"
    )
    [doc] = load_file(write(tmp_path, "t.html", html), tmp_path, MB)
    assert doc.page_content == "T Levels launched in 2020."
    assert doc.metadata["title"] == "T Levels"


def test_html_byline_is_kept_under_the_heading(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Silver in Jinhua | College News</title></head><body><nav>Home | News</nav><article>"
        "<header><h1>Students take silver in Jinhua</h1>"
        "<p class='byline'>By Sarah Okafor, Communications Officer | Published 27 November 2024</p></header>"
        "<p>A mixed team of students won a silver medal in industrial robotics on 22 November 2024.</p>"
        "<p>The competition was held in Jinhua and attracted 41 teams from across the province.</p>"
        "<p>The team had to program a six-axis robot arm to sort and assemble components in 90 minutes.</p>"
        "<p>Both colleges coached the team over six weeks, online and in person, before the contest.</p>"
        "</article><footer>Contact us</footer></body></html>"
    )
    [doc] = load_file(write(tmp_path, "news.html", html), tmp_path, MB)
    assert doc.page_content.splitlines()[:3] == [
        "# Students take silver in Jinhua", "", "By Sarah Okafor, Communications Officer | Published 27 November 2024",
    ]
    assert doc.page_content.count("Sarah Okafor") == 1 and "Home" not in doc.page_content


def test_pdf_pages_are_numbered_from_one(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "two.pdf", ["First page about RQF.", "Second page about levy."])
    docs = load_file(path, tmp_path, MB)
    assert [(d.metadata["page"], d.page_content.strip()) for d in docs] == [
        (1, "First page about RQF."),
        (2, "Second page about levy."),
    ]


def test_docx_text(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "memo.docx", ["Memorandum signed in 2026.", "Second paragraph."])
    [doc] = load_file(path, tmp_path, MB)
    assert "Memorandum signed in 2026." in doc.page_content and doc.metadata["title"] == "memo"
    # python-docx's template date is not the document's.
    assert "date" not in doc.metadata


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("binary.txt", b"\x00\x01\x02garbage\x00", "binary file"),
        ("latin1.txt", "café".encode("latin-1"), "not UTF-8"),
        ("corrupt.pdf", b"%PDF-1.4\nthis is not really a pdf", "cannot parse .pdf"),
        ("corrupt.docx", b"PK\x03\x04 not a zip", "cannot parse .docx"),
        ("sheet.xlsx", b"whatever", "unsupported file type '.xlsx'"),
        ("blank.md", b"   \n\n  ", "no text"),
    ],
)
def test_bad_files_name_their_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason.replace(".", r"\.").replace("(", r"\(")):
        load_file(path, tmp_path, MB)


def test_pdf_without_text_is_reported(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", ["", ""])
    with pytest.raises(DocumentError, match=r"^no text layer \(scanned\?\)"):
        load_file(path, tmp_path, MB)


def test_pdf_whose_text_is_glyph_codes_is_refused(tmp_path: Path) -> None:
    """A font that maps its glyphs to private-use code points gives text no one can read."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

    readable = make_pdf(tmp_path / "readable.pdf", ["The Wexcombe college trains apprentices in rail signalling."])
    writer = PdfWriter(clone_from=PdfReader(readable))
    for font in writer.pages[0]["/Resources"]["/Font"].values():
        glyphs = ArrayObject([NumberObject(33), *(NameObject(f"/uniE0{code:02X}") for code in range(33, 127))])
        font.get_object()[NameObject("/Encoding")] = DictionaryObject(
            {NameObject("/Type"): NameObject("/Encoding"), NameObject("/Differences"): glyphs}
        )
    writer.write(tmp_path / "glyphs.pdf")
    with pytest.raises(DocumentError, match=r"^no usable text layer \(scanned\?\): \d+% of its characters"):
        load_file(tmp_path / "glyphs.pdf", tmp_path, MB)


LEFT = " ".join(f"Left sentence {n} says the Wexcombe college trains rail apprentices in signalling." for n in range(9))
RIGHT = " ".join(f"Right sentence {n} says the Harrowgate institute teaches welding at night." for n in range(9))


def test_two_column_pdf_drawn_row_by_row_reads_column_by_column(tmp_path: Path) -> None:
    """The generator draws line 1 of both columns, then line 2...: the text must still read each
    column to its end, under a title set in larger type across both."""
    import itertools
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "columns.pdf"), pagesize=A4)
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(40, 790, "Rail and welding apprenticeships in two colleges:")
    pdf.drawString(40, 768, "a joint report")
    pdf.setFont("Helvetica", 10)
    for row, (left, right) in enumerate(itertools.zip_longest(textwrap.wrap(LEFT, 45), textwrap.wrap(RIGHT, 45))):
        pdf.drawString(40, 730 - 14 * row, left or "")
        pdf.drawString(310, 730 - 14 * row, right or "")
    pdf.showPage()
    pdf.save()

    text = load_file(tmp_path / "columns.pdf", tmp_path, MB)[0].page_content
    lines = text.splitlines()
    assert lines[0] == "# Rail and welding apprenticeships in two colleges: a joint report"
    for sentence in [*LEFT.split(". "), *RIGHT.split(". ")]:
        assert sentence.rstrip(".") in text
    assert text.index("Left sentence 8") < text.index("Right sentence 0")


def test_pdf_table_row_is_one_line_of_cells(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rows = [
        ("Date", "Event"), ("1996", "Vocational Education Law first promulgated"),
        ("20 April 2022", "NPC Standing Committee adopts the revised law"), ("1 May 2022", "Revised law takes effect"),
    ]
    pdf = canvas.Canvas(str(tmp_path / "table.pdf"), pagesize=A4)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(40, 800, "The law was revised after 26 years, as the table of key dates shows.")
    for number, (date, event) in enumerate(rows):
        pdf.drawString(40, 770 - 16 * number, date)
        pdf.drawString(200, 770 - 16 * number, event)
    pdf.showPage()
    pdf.save()

    lines = load_file(tmp_path / "table.pdf", tmp_path, MB)[0].page_content.splitlines()
    assert "20 April 2022 | NPC Standing Committee adopts the revised law" in lines
    assert "1 May 2022 | Revised law takes effect" in lines


def test_pdf_bullet_list_is_list_items_with_their_wrapped_lines_joined(tmp_path: Path) -> None:
    # The bullet comes out as a glyph with no character behind it, dropped as such: the items ran
    # into one paragraph. (Set apart in a larger type, see the shipped PDFs, it made a table row.)
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    style = getSampleStyleSheet()["BodyText"]
    item_style = ParagraphStyle("item", parent=style, leftIndent=18, bulletIndent=6)
    items = [
        "<b>Legal basis.</b> Article 68 confirms that foreign organisations can run vocational schools under "
        "the law, and partners should check the implementing rules that apply to a specific model first.",
        "<b>Progression.</b> Article 53 guarantees equal chances for further study.",
    ]
    story = [Paragraph("The revised law matters to partners in three ways, set out below for UK colleges.", style)]
    story += [Paragraph(item, item_style, bulletText="\u2022") for item in items]
    SimpleDocTemplate(str(tmp_path / "bullets.pdf"), pagesize=A4).build(story)

    lines = load_file(tmp_path / "bullets.pdf", tmp_path, MB)[0].page_content.splitlines()
    assert lines[1:] == [
        "• Legal basis. Article 68 confirms that foreign organisations can run vocational schools under the law, "
        "and partners should check the implementing rules that apply to a specific model first.",
        "• Progression. Article 53 guarantees equal chances for further study.",
    ]


def test_pdf_title_and_a_numbered_heading_in_the_same_type_stay_two_headings(tmp_path: Path) -> None:
    # reportlab's Title and Heading1 are both 18 pt: read as one heading set on two lines, they made
    # "# Rail Skills Review 1. Background".
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    SimpleDocTemplate(str(tmp_path / "review.pdf")).build([
        Paragraph("Rail Skills Review", styles["Title"]),
        Paragraph("1. Background", styles["Heading1"]),
        Paragraph("The partnership began in 2022 with two colleges and one shared laboratory.", styles["BodyText"]),
    ])
    text = load_file(tmp_path / "review.pdf", tmp_path, MB)[0].page_content
    assert [line for line in text.splitlines() if line.startswith("#")] == ["# Rail Skills Review", "# 1. Background"]


def test_pdf_paragraphs_set_apart_by_space_stay_apart_without_a_full_stop(tmp_path: Path) -> None:
    # A paragraph that ends without a full stop ("... the CBSE and the CISCE") ran into the next one,
    # so the two made one sentence; the space a word processor leaves between paragraphs parts them.
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    style = getSampleStyleSheet()["BodyText"]  # 12 pt leading, 6 pt before a paragraph
    paragraphs = [
        "Among other things, this has resulted in 30 different examination boards that conduct examinations "
        "for school leaving certificates. Boards present in several states are the CBSE and the CISCE",
        "Some of the oldest schools in South Africa are private church schools that were established by "
        "missionaries in the early nineteenth century and have grown ever since.",
    ]
    SimpleDocTemplate(str(tmp_path / "boards.pdf"), pagesize=A4).build([Paragraph(p, style) for p in paragraphs])

    text = load_file(tmp_path / "boards.pdf", tmp_path, MB)[0].page_content
    assert [line for line in text.splitlines() if line] == paragraphs


def test_pdf_bullet_set_apart_in_a_larger_type_is_a_list_item_not_a_heading_or_a_row(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "apart.pdf"), pagesize=A4)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(40, 800, "Three things follow for partners, each with a reason, as listed here for colleges.")
    items = ["Legal basis. Article 68 allows foreign schools.", "Progression. Article 53 helps."]
    for number, item in enumerate(items):
        pdf.setFont("Helvetica", 14)
        pdf.drawString(44, 780 - 16 * number, "\u2022")
        pdf.setFont("Helvetica", 10)
        pdf.drawString(60, 780 - 16 * number, item)
    pdf.showPage()
    pdf.save()

    lines = load_file(tmp_path / "apart.pdf", tmp_path, MB)[0].page_content.splitlines()
    assert lines[1:] == ["• Legal basis. Article 68 allows foreign schools.", "• Progression. Article 53 helps."]


def test_pdf_paragraph_over_a_page_break_stays_whole_on_its_first_page(tmp_path: Path, embeddings) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "pages.pdf"), pagesize=A4)
    for page, lines in enumerate([
        ["Within the Union, the court holds that where its law conflicts with national law, then EU"],
        ["law has primacy over national provisions of every kind.", "", "# Second part", "A new paragraph here."],
    ]):
        pdf.setFont("Helvetica", 10)
        for number, line in enumerate(lines):
            pdf.setFont("Helvetica", 14 if line.startswith("# ") else 10)
            pdf.drawString(40, 800 - 20 * number, line.removeprefix("# "))
        pdf.drawString(280, 30, f"Page {page + 1}")
        pdf.showPage()
    pdf.save()

    pages = load_file(tmp_path / "pages.pdf", tmp_path, MB)
    first, second = (page.page_content for page in pages)
    assert first.endswith("then EU law has primacy over national provisions of every kind.")
    assert second.startswith("# Second part")
    # Its chunk is cited as pages 1-2: half of what it quotes is on page 2.
    chunks = split_documents(pages, make_splitter(embeddings.tokenizer, 200, 40))
    assert [(c.metadata["page"], c.metadata.get("last_page")) for c in chunks] == [(1, 2), (2, None)]


def test_pdf_lines_ending_on_a_semicolon_or_opening_lower_case_go_on_with_their_sentence() -> None:
    page = (
        "Networks move data in packets, each a small unit with a header and a body of data,\n"
        "and routers forward them.\n"
        "Each packet is labelled and sent;\n"
        "each may take another route.\n"
        "Boards present in several states at once, for school leaving certificates, are\n"
        "the CBSE and the CISCE\n"
    )
    assert join_pdf_lines(page, page).splitlines() == [
        "Networks move data in packets, each a small unit with a header and a body of data, and routers forward them.",
        "Each packet is labelled and sent; each may take another route.",
        "Boards present in several states at once, for school leaving certificates, are the CBSE and the CISCE",
    ]


def test_wrapped_text_keeps_its_compounds_and_numbers_and_its_lists() -> None:
    # A wrapping tool breaks at a compound's hyphen and may start a line with "27)"; only a list's
    # items (a numbered one inside a paragraph only from 1, as in CommonMark) start lines of their own.
    text = (
        "Virus RNA (Ct = 23 +\n27) was found in the non-\nspecific sample, under-\nstanding the understanding, "
        "by African-\nAmerican staff, pre-\n1990.\n1. First item\n2. Second item\nwrapped on.\n- bullet"
    )
    assert join_paragraph_lines(text).splitlines() == [
        "Virus RNA (Ct = 23 + 27) was found in the non-specific sample, understanding the understanding, by "
        "African-American staff, pre-1990.",
        "1. First item", "2. Second item wrapped on.", "- bullet",
    ]


def test_a_word_broken_at_a_line_end_is_mended_when_english_has_it() -> None:
    # The document need not use the whole word elsewhere: "provisional" and "apprenticeships" are
    # English words; "industry-education" and "non-specific" are compounds.
    text = "Figures are provi-\nsional for Apprentice-\nships in industry-\neducation and non-\nspecific work."
    assert join_paragraph_lines(text) == (
        "Figures are provisional for Apprenticeships in industry-education and non-specific work."
    )


def test_docx_line_break_inside_a_paragraph_goes_on_with_it(tmp_path: Path) -> None:
    # Text pasted into Word from a PDF keeps the PDF's line ends as breaks inside one paragraph.
    path = make_docx(tmp_path / "pasted.docx", ["Illness rates were high, but death rates\nwere not above normal."])
    text = load_file(path, tmp_path, MB)[0].page_content
    assert text == "Illness rates were high, but death rates were not above normal."


def test_a_paragraph_over_several_page_breaks_is_whole_on_its_first_page() -> None:
    pages = [
        "Intro.\nA long sentence that", "goes on over a whole page without", "ending here; the main-",
        "tenance of maintenance.\nNext.",
    ]
    assert join_across_pages(pages, "\n".join(pages)) == [
        ("Intro.\nA long sentence that goes on over a whole page without ending here; the maintenance of maintenance.",
         3),
        ("", 1), ("", 2), ("Next.", 3),
    ]


def test_pdf_table_cell_of_one_sign_is_a_cell_not_a_bullet() -> None:
    row = [Line(40, 52, 700, "−", 10.0), Line(60, 200, 700, "Offline mode", 10.0), Line(300, 360, 700, "5", 10.0)]
    bullet = [Line(40, 46, 680, "•", 14.0), Line(60, 300, 680, "An item of the list", 10.0)]
    assert [line.text for line in reading_order(row + bullet)] == ["− | Offline mode | 5", "• An item of the list"]


def test_file_over_size_cap_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "word " * 1000)
    with pytest.raises(DocumentError, match="size cap"):
        load_file(path, tmp_path, 1000)


def test_discover_skips_hidden_files(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "x")
    write(tmp_path, ".hidden.md", "x")
    write(tmp_path, ".git/config.txt", "x")
    write(tmp_path, "sub/b.txt", "x")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == ["a.md", "sub/b.txt"]


def test_pdf_table_rows_opening_with_a_year_are_rows_not_headings(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "figures.pdf"), pagesize=A4)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(40, 800, "The table below shows participation in partnership activities over three years.")
    for number, row in enumerate([("2022", "0", "45", "6"), ("2023", "12", "80", "10"), ("2024", "24", "112", "16")]):
        for column, cell in enumerate(row):
            pdf.drawString(60 + 100 * column, 770 - 18 * number, cell)
    pdf.drawString(40, 700, "Participation in 2022 was limited by travel restrictions for most of that year.")
    pdf.showPage()
    pdf.save()

    lines = load_file(tmp_path / "figures.pdf", tmp_path, MB)[0].page_content.splitlines()
    assert "2023 | 12 | 80 | 10" in lines and "2024 | 24 | 112 | 16" in lines


def test_docx_table_is_read_as_a_table_whose_header_names_each_rows_cells(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("The programme has three modules.")
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(table.rows, [("Module", "Credits", "Taught by"), ("Engineering Maths", "15", "Ningzhou"),
                                        ("Engineering Science", "15", "Hollinsbrook")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    layout = document.add_table(rows=1, cols=1)
    layout.rows[0].cells[0].text = "Contact the programme office for timetables."
    document.save(str(tmp_path / "handbook.docx"))

    text = load_file(tmp_path / "handbook.docx", tmp_path, MB)[0].page_content
    assert sentences(text) == [
        "The programme has three modules.",
        "Engineering Maths | 15 | Ningzhou",
        "Engineering Science | 15 | Hollinsbrook",
        "Contact the programme office for timetables.",
    ]
    assert section_context(text, "Engineering Science | 15 | Hollinsbrook")[1] == "| Module | Credits | Taught by |"


def test_pdf_table_header_set_close_is_parted_like_the_rows_below_it(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

    rows = [["Year", "UK students abroad", "Chinese students (online)", "Staff trained"],
            ["2022", "0", "45", "6"], ["2023", "12", "80", "10"], ["2024", "24", "112", "16"]]
    style = getSampleStyleSheet()["Normal"]
    SimpleDocTemplate(str(tmp_path / "report.pdf"), pagesize=A4).build([
        Paragraph("The table below shows participation in partnership activities over three years.", style),
        Table(rows),
        Paragraph("Participation in 2022 was limited because travel was restricted for most of that year.", style),
    ])

    lines = load_file(tmp_path / "report.pdf", tmp_path, MB)[0].page_content.splitlines()
    assert lines[1:5] == [" | ".join(row) for row in rows]


def test_pdf_table_header_set_close_only_in_its_last_columns_is_parted_there(tmp_path: Path) -> None:
    # Short numeric columns leave their header words close together while the first columns stand
    # apart: "Exchange | Dates | Students Staff Host city Cost (GBP)" named no column of the figures.
    from reportlab.platypus import SimpleDocTemplate, Table

    rows = [["Exchange", "Dates", "Students", "Staff", "Host city", "Cost (GBP)"],
            ["Spring exchange", "8-26 April 2024", "16", "3", "Derby", "41,500"],
            ["Summer school", "1-19 July 2024", "22", "4", "Zhuzhou", "38,200"]]
    SimpleDocTemplate(str(tmp_path / "review.pdf")).build([Table(rows, hAlign="LEFT")])

    lines = load_file(tmp_path / "review.pdf", tmp_path, MB)[0].page_content.splitlines()
    assert lines == [" | ".join(row) for row in rows]
