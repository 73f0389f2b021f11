import errno
import shutil
from pathlib import Path

import pytest

from assistant.errors import DocumentError
from assistant.ingest.intake import accept_file, safe_name
from tests.conftest import write
from tests.samples import LEVY_DOC


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/evil.md", "evil.md"),
        ("/abs/path/notes.txt", "notes.txt"),
        ("C:\\Users\\x\\memo.docx", "memo.docx"),
        ("a<b>c|d?.md", "a_b_c_d_.md"),
        ("职业教育.md", "职业教育.md"),
    ],
)
def test_safe_name_keeps_only_a_plain_name(given: str, expected: str) -> None:
    assert safe_name(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("bad\x00.md", "NUL byte"),
        ("..", "not usable"),
        (".md", "unsupported file type"),
        ("run.exe", "unsupported file type '.exe'"),
        ("noext", "unsupported file type '(none)'"),
    ],
)
def test_unsafe_names_are_refused(given: str, reason: str) -> None:
    with pytest.raises(DocumentError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        safe_name(given)


def test_accept_file_never_writes_outside_and_never_silently_replaces(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    upload = write(tmp_path / "upload", "tmp123", "New memo.")
    target = accept_file(upload, docs, name="../../escape.md")
    assert target == docs / "escape.md" and not (tmp_path / "escape.md").exists()
    other = write(tmp_path / "upload", "tmp456", "Another text.")
    with pytest.raises(DocumentError, match="already exists"):
        accept_file(other, docs, name="escape.md")
    assert target.read_text() == "New memo."
    with pytest.raises(DocumentError, match="size cap"):
        accept_file(other, docs, name="big.md", max_bytes=3)


# Adding or replacing a document is all or nothing


def test_a_failed_replace_leaves_the_original_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    original = write(docs, "levy.md", LEVY_DOC)
    changed = write(tmp_path, "levy.md", LEVY_DOC + "\nChanged.\n")

    def disk_full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", disk_full)
    with pytest.raises(DocumentError, match=r"^levy\.md: could not be written to .*No space left on device"):
        accept_file(changed, docs, replace=True)
    assert original.read_text() == LEVY_DOC
    assert sorted(p.name for p in docs.iterdir()) == ["levy.md"]  # no half-written copy left beside it
