"""Documents -> chunks that fit the embedding model, each with its citation metadata."""

from __future__ import annotations

import functools
import hashlib
import re

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

# Paragraphs first, then sentences (English and Chinese punctuation), then words.
SEPARATORS = ["\n\n", "\n", ". ", "。", "? ", "! ", "？", "！", "; ", "；", ", ", "，", " ", ""]


# A run this long with no space or punctuation (a pasted hash, a line of one repeated
# character) would be split character by character, each measured by the tokenizer: minutes
# for a few MB. Breaking it into lines first keeps the splitter linear.
_UNBROKEN_RUN = re.compile(r"[^\s.,;:!?。，；：！？]{200,}")
_RUN_PIECE = 100


def _break_runs(text: str) -> str:
    return _UNBROKEN_RUN.sub(
        lambda m: "\n".join(m.group()[i : i + _RUN_PIECE] for i in range(0, len(m.group()), _RUN_PIECE)), text
    )


def make_splitter(tokenizer, chunk_tokens: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:  # noqa: ANN001
    """A splitter that measures length in the embedding model's own word pieces."""
    from tokenizers import Tokenizer

    # A copy without the model's truncation, which would cap every count at 128.
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()

    # The splitter measures every piece, often the same ones again: the Rust tokenizer
    # directly (3x faster than the Python wrapper) and a cache make large files cheap.
    @functools.lru_cache(maxsize=65536)
    def word_pieces(text: str) -> int:
        return len(backend.encode(text, add_special_tokens=False).ids)

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_tokens,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",
        length_function=word_pieces,
    )


def split_documents(docs: list[Document], splitter: RecursiveCharacterTextSplitter) -> list[Document]:
    """Chunks numbered per file, each carrying a hash of its text."""
    for doc in docs:
        doc.page_content = _break_runs(doc.page_content)
    chunks = [c for c in splitter.split_documents(docs) if c.page_content.strip()]
    for number, chunk in enumerate(chunks):
        chunk.page_content = chunk.page_content.strip()
        chunk.metadata["chunk"] = number
        chunk.metadata["content_hash"] = hashlib.sha256(chunk.page_content.encode()).hexdigest()[:16]
    return chunks
