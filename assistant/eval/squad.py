"""SQuAD v1.1 files: articles become documents, questions become test cases."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigError


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    source: str  # the document file the article was written to


@dataclass(frozen=True)
class Article:
    title: str
    text: str
    file_name: str


def _file_name(title: str, number: int) -> str:
    slug = re.sub(r"[^\w]+", "-", title, flags=re.UNICODE).strip("-").lower()[:60] or "article"
    return f"{number:03d}-{slug}.md"


def load_squad(path: Path) -> tuple[list[Article], list[Question]]:
    """Each article (its paragraphs joined by blank lines) and every question about it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a SQuAD v1.1 JSON file ({exc.__class__.__name__}: {exc})") from None
    articles, questions = [], []
    for number, entry in enumerate(data):
        name = _file_name(entry.get("title", "article"), number)
        contexts = [p["context"] for p in entry["paragraphs"]]
        articles.append(Article(entry.get("title", name), "\n\n".join(contexts), name))
        for paragraph in entry["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                questions.append(Question(qa["id"], qa["question"], answers, name))
    return articles, questions


def write_articles(articles: list[Article], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for article in articles:
        title = json.dumps(article.title, ensure_ascii=False)
        (folder / article.file_name).write_text(f"---\ntitle: {title}\n---\n{article.text}\n", encoding="utf-8")
