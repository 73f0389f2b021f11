from langchain_core.documents import Document

from assistant.chunks import make_splitter, split_documents
from assistant.config import MODEL_MAX_TOKENS
from tests.conftest import SHIPPED_DOCS


def test_no_chunk_exceeds_the_model_limit(embeddings) -> None:
    tokenizer = embeddings.tokenizer
    long_text = "\n\n".join(
        [p.read_text() for p in sorted(SHIPPED_DOCS.glob("*.md"))]
        + ["x" * 5000, "一" * 3000, "word " * 2000]  # unbroken runs must still be cut
    )
    splitter = make_splitter(tokenizer, 200, 40)
    chunks = split_documents([Document(page_content=long_text, metadata={"source": "a.md"})], splitter)
    lengths = [len(tokenizer.encode(c.page_content)) for c in chunks]  # with [CLS] and [SEP]
    assert len(chunks) > 20
    assert max(lengths) <= MODEL_MAX_TOKENS
    assert max(len(tokenizer.tokenize(c.page_content)) for c in chunks) <= 200
    assert embeddings.max_tokens == MODEL_MAX_TOKENS


def test_chunks_carry_number_hash_and_source(embeddings) -> None:
    splitter = make_splitter(embeddings.tokenizer, 50, 10)
    text = " ".join(f"Sentence number {i} about apprenticeships." for i in range(40))
    chunks = split_documents([Document(page_content=text, metadata={"source": "x.md", "title": "X"})], splitter)
    assert [c.metadata["chunk"] for c in chunks] == list(range(len(chunks)))
    assert all(c.metadata["source"] == "x.md" and c.metadata["title"] == "X" for c in chunks)
    assert len({c.metadata["content_hash"] for c in chunks}) == len(chunks)
