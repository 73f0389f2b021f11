"""Putting a user's file into the documents folder safely (CLI `add` and UI upload)."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import tempfile
from pathlib import Path

from assistant.config import MB
from assistant.errors import DocumentError, DocumentExistsError
from assistant.ingest.loaders import SUPPORTED_SUFFIXES

# Letters (any script), digits, and a few harmless marks; anything else becomes "_".
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_name(name: str) -> str:
    """A plain file name from whatever a user or browser sent: no folders, no tricks."""
    if "\x00" in name:
        raise DocumentError(f"file name {name!r} contains a NUL byte")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    suffix = Path(cleaned).suffix.lower()
    if not cleaned or cleaned.startswith(".") or not Path(cleaned).stem.strip("_"):
        raise DocumentError(f"file name {name!r} is not usable")
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{name!r}: unsupported file type {suffix or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return cleaned


def accept_file(
    source: Path, docs_dir: Path, *, name: str | None = None, replace: bool = False, max_bytes: int | None = None
) -> Path:
    """Copy ``source`` into ``docs_dir`` under a safe name and return where it went.

    An existing file with other contents is only replaced when ``replace`` is true.
    """
    target_name = safe_name(name or source.name)
    if not source.is_file():
        raise DocumentError(f"{source}: no such file")
    if max_bytes is not None and source.stat().st_size > max_bytes:
        raise DocumentError(f"{target_name}: over the {max_bytes / MB:.2g} MB size cap")
    docs_dir.mkdir(parents=True, exist_ok=True)
    target = docs_dir / target_name
    # Belt and braces: the resolved target must sit directly in the documents folder.
    if target.resolve().parent != docs_dir.resolve():
        raise DocumentError(f"{target_name}: would be written outside {docs_dir}")
    if target.exists() and not replace and not filecmp.cmp(source, target, shallow=False):
        raise DocumentExistsError(f"{target_name} already exists in {docs_dir} with other contents")
    _copy_atomically(source, target)
    return target


def _copy_atomically(source: Path, target: Path) -> None:
    """``target`` ends up the whole of ``source`` or as it was: a full disk or a kill never leaves half a file.

    The copy is written beside the target (hidden, so a sync running meanwhile skips it), flushed
    to disk, then renamed over it in one step.
    """
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, open(source, "rb") as given:
            shutil.copyfileobj(given, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise DocumentError(f"{target.name}: could not be written to {target.parent} ({exc.strerror or exc})") from None
