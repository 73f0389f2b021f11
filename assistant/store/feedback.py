"""Readers' thumbs up and down on answers, kept as JSON lines in the index folder for maintainers."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from pathlib import Path

from assistant.config import Settings
from assistant.errors import AssistantError

FEEDBACK_FILE = "feedback.jsonl"
RATINGS = ("up", "down")
# One record holds what was shown; a page can send anything, so each part is bounded.
MAX_FIELD_CHARS = 20_000


def feedback_path(settings: Settings) -> Path:
    return settings.index_dir / FEEDBACK_FILE


def record_feedback(settings: Settings, rating: str, question: str, answer: str, sources: str = "") -> dict:
    """Append one rating of an answer, with the question, answer and sources exactly as shown."""
    if rating not in RATINGS:
        raise AssistantError(f"rating {rating!r} is not one of {', '.join(RATINGS)}")
    record = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rating": rating,
        "question": question[:MAX_FIELD_CHARS],
        "answer": answer[:MAX_FIELD_CHARS],
        "sources": sources[:MAX_FIELD_CHARS],
    }
    path = feedback_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two answers rated at once stay two whole lines
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record


def read_feedback(settings: Settings) -> list[dict]:
    """Every rating so far, oldest first (none when nobody has rated an answer yet)."""
    path = feedback_path(settings)
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssistantError(f"{path}: line {number} is not JSON") from None
    return records
