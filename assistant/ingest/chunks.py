"""Documents -> chunks that fit the embedding model, each with its citation metadata."""

from __future__ import annotations

import functools
import hashlib
import re

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter
from tokenizers import Tokenizer

from assistant.errors import DocumentError
from assistant.text import CJK_CHARS

# Paragraphs first, then sentences (English and Chinese punctuation), then words.
SEPARATORS = ["\n\n", "\n", ". ", "。", "? ", "! ", "？", "！", "; ", "；", ", ", "，", " ", ""]


# Text that is not language, left out before splitting: each kind would otherwise become
# thousands of chunks no question can match, all embedded (2 MB of random letters on one line:
# 9,300 chunks, a quarter of an hour on 2 cores). Real words are far shorter: the longest in a
# dictionary has 45 letters, a SHA-256 digest 64 hex digits.
# Scripts written without spaces between words (Thai, Lao, Tibetan, Myanmar, Khmer, kana,
# Chinese, full-width forms): a long run of these is a sentence.
_UNSPACED = f"\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u3000-\u30ff{CJK_CHARS}\uff00-\uffef"
_NOT_LANGUAGE = re.compile(
    r"(\S)\1{31,}+"  # one character over and over: "xxxx", "====", "....."
    r"|(?<!\S)(\S+\s+)\2{31,}+"  # one word over and over: "a a a", "N/A\nN/A\n"
    r"|(?<![A-Za-z0-9+/=])[A-Za-z0-9+/=]{65,}"  # letters and digits unbroken: base64, hex dumps, random strings
    rf"|(?<![^\s{_UNSPACED}])[^\s{_UNSPACED}]{{201,}}"  # anything else with no space for 200 characters
)


# Set by a loader on a page whose last paragraph goes on over the page break (kept whole on this
# page): the page it ends on. The chunk that ends the page is cited with that page as its last.
RUNS_ONTO_PAGE = "runs_onto_page"


def make_splitter(tokenizer: Tokenizer, chunk_tokens: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    """A splitter that measures length in the embedding model's own word pieces (``tokenizer``: uncut, unpadded)."""

    # The splitter measures every piece, often the same ones again: the Rust tokenizer
    # directly (3x faster than the Python wrapper) and a cache make large files cheap.
    @functools.lru_cache(maxsize=65536)
    def word_pieces(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_tokens,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",
        length_function=word_pieces,
    )


def split_documents(
    docs: list[Document], splitter: RecursiveCharacterTextSplitter, *, max_chunks: int | None = None
) -> list[Document]:
    """One file's chunks, numbered, each carrying a hash of its text; text that is not language left out.

    Raises DocumentError when nothing but such text is left, or when the file makes more than
    ``max_chunks`` chunks.
    """
    characters = sum(len(doc.page_content) for doc in docs)
    for doc in docs:
        doc.page_content = _NOT_LANGUAGE.sub(" ", doc.page_content)
    if not any(doc.page_content.strip() for doc in docs):
        raise DocumentError(f"no words: all {characters:,} characters are repeats or strings too long to be words")
    chunks = [c for c in splitter.split_documents(docs) if c.page_content.strip()]
    if max_chunks is not None and len(chunks) > max_chunks:
        raise DocumentError(
            f"{len(chunks):,} chunks, over the cap of {max_chunks:,} per file (ASSISTANT_MAX_CHUNKS_PER_FILE)"
        )
    for number, chunk in enumerate(chunks):
        runs_onto = chunk.metadata.pop(RUNS_ONTO_PAGE, None)
        following = chunks[number + 1].metadata if number + 1 < len(chunks) else {}
        ends_its_page = following.get("page") != chunk.metadata.get("page")
        if runs_onto is not None and ends_its_page:
            chunk.metadata["last_page"] = runs_onto
        chunk.page_content = chunk.page_content.strip()
        chunk.metadata["chunk"] = number
        chunk.metadata["content_hash"] = hashlib.sha256(chunk.page_content.encode()).hexdigest()[:16]
    return chunks
