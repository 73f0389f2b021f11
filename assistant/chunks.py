"""Documents -> chunks that fit the embedding model, each with its citation metadata."""

from __future__ import annotations

import hashlib

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

# Paragraphs first, then sentences (English and Chinese punctuation), then words.
SEPARATORS = ["\n\n", "\n", ". ", "。", "? ", "! ", "？", "！", "; ", "；", ", ", "，", " ", ""]


def make_splitter(tokenizer, chunk_tokens: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:  # noqa: ANN001
    """A splitter that measures length in the embedding model's own word pieces."""
    return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        tokenizer,
        chunk_size=chunk_tokens,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",
    )


def split_documents(docs: list[Document], splitter: RecursiveCharacterTextSplitter) -> list[Document]:
    """Chunks numbered per file, each carrying a hash of its text."""
    chunks = [c for c in splitter.split_documents(docs) if c.page_content.strip()]
    for number, chunk in enumerate(chunks):
        chunk.page_content = chunk.page_content.strip()
        chunk.metadata["chunk"] = number
        chunk.metadata["content_hash"] = hashlib.sha256(chunk.page_content.encode()).hexdigest()[:16]
    return chunks
