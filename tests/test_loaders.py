from pathlib import Path

import pytest

from assistant.config import MB
from assistant.errors import DocumentError
from assistant.ingest.loaders import discover, load_file
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
    with pytest.raises(DocumentError, match="no extractable text"):
        load_file(path, tmp_path, MB)


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
