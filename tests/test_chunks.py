import random
import string

import pytest
from langchain_core.documents import Document

from assistant.config import MODEL_MAX_TOKENS
from assistant.errors import DocumentError
from assistant.ingest.chunks import make_splitter, split_documents
from tests.conftest import SHIPPED_DOCS


def test_no_chunk_exceeds_the_model_limit(embeddings) -> None:
    tokenizer = embeddings.tokenizer
    long_text = "\n\n".join(
        [p.read_text() for p in sorted(SHIPPED_DOCS.glob("*.md"))]
        # Unbroken runs must still be cut: Chinese with no punctuation, and word after word.
        + ["".join(chr(0x4E00 + i * 7919 % 20000) for i in range(3000)), "word " * 2000]
    )
    splitter = make_splitter(tokenizer, 200, 40)
    chunks = split_documents([Document(page_content=long_text, metadata={"source": "a.md"})], splitter)
    lengths = [len(tokenizer.encode(c.page_content).ids) for c in chunks]  # with [CLS] and [SEP]
    assert len(chunks) > 20
    assert max(lengths) <= MODEL_MAX_TOKENS
    assert max(len(tokenizer.encode(c.page_content, add_special_tokens=False).ids) for c in chunks) <= 200
    assert embeddings.max_tokens == MODEL_MAX_TOKENS


def test_chunks_carry_number_hash_and_source(embeddings) -> None:
    splitter = make_splitter(embeddings.tokenizer, 50, 10)
    text = " ".join(f"Sentence number {i} about apprenticeships." for i in range(40))
    chunks = split_documents([Document(page_content=text, metadata={"source": "x.md", "title": "X"})], splitter)
    assert [c.metadata["chunk"] for c in chunks] == list(range(len(chunks)))
    assert all(c.metadata["source"] == "x.md" and c.metadata["title"] == "X" for c in chunks)
    assert len({c.metadata["content_hash"] for c in chunks}) == len(chunks)


_rng = random.Random(0)
JUNK = {
    "one character": "x" * 20_000,
    "a rule": "=" * 80,
    "one word": "ha " * 500,
    "one line": "N/A\n" * 40,
    "random letters": "".join(_rng.choices(string.ascii_letters + string.digits, k=20_000)),
    "base64 in lines": "\n".join("".join(_rng.choices(string.ascii_letters + "+/", k=76)) for _ in range(200)),
    "symbols": "".join(_rng.choices(string.punctuation + string.ascii_letters, k=20_000)),
}
REAL = [
    "The apprenticeship levy started on 6 April 2017.",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # 64 hex digits: kept
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "https://www.gov.uk/government/publications/apprenticeship-funding-rules-2024-to-2025",
    "《中华人民共和国职业教育法》于二零二二年五月一日起施行这是一部关于职业教育的法律" * 8,  # 320 characters, no break
    "การศึกษาด้านอาชีวศึกษาเป็นความร่วมมือระหว่างประเทศไทยและสหราชอาณาจักร" * 3,  # Thai: no spaces
    "Contents .......... 5",
    "| Year | Event |\n|------|-------|",
]


def squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("kind", JUNK)
def test_text_that_is_not_language_is_left_out_and_real_text_kept(embeddings, kind: str) -> None:
    splitter = make_splitter(embeddings.tokenizer, 200, 0)  # no overlap: the chunks add up to the text
    text = "\n\n".join([REAL[0], JUNK[kind], *REAL[1:]])
    chunks = split_documents([Document(page_content=text, metadata={"source": "a.md"})], splitter)
    assert squeezed("".join(c.page_content for c in chunks)) == squeezed("".join(REAL))


def test_the_shipped_corpus_loses_nothing(embeddings) -> None:
    splitter = make_splitter(embeddings.tokenizer, 200, 0)
    for path in sorted(SHIPPED_DOCS.glob("*.md")):
        text = path.read_text()
        chunks = split_documents([Document(page_content=text, metadata={"source": path.name})], splitter)
        assert squeezed("".join(c.page_content for c in chunks)) == squeezed(text), path.name


def test_a_file_of_nothing_but_junk_is_refused_with_its_size(embeddings) -> None:
    splitter = make_splitter(embeddings.tokenizer, 200, 40)
    docs = [Document(page_content=JUNK["one character"]), Document(page_content=JUNK["random letters"])]
    with pytest.raises(DocumentError, match="^no words: all 40,000 characters are repeats or strings too long to be"):
        split_documents(docs, splitter)


def test_a_file_over_the_chunk_cap_is_refused_with_the_figures(embeddings) -> None:
    splitter = make_splitter(embeddings.tokenizer, 50, 10)
    text = " ".join(f"Sentence number {i} about apprenticeships." for i in range(40))
    docs = [Document(page_content=text, metadata={"source": "x.md"})]
    assert len(split_documents([docs[0].model_copy()], splitter, max_chunks=7)) == 7
    refused = r"^7 chunks, over the cap of 6 per file \(ASSISTANT_MAX_CHUNKS_PER_FILE\)$"
    with pytest.raises(DocumentError, match=refused):
        split_documents(docs, splitter, max_chunks=6)
