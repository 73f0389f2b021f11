"""Where chunking matters: the tutorial's 1000-character chunks against ours, with everything else held equal.

Usage: python benchmarks/chunking.py [DATA.json ...]   (default: XQuAD English and Chinese)

For each corpus: how many chunks each splitter makes, the share the embedding model silently
cuts (longer than its word-piece limit), and recall@5 / MRR of the same dense search (same
model, exact cosine) and of the same BM25 over each set of chunks. `assistant eval --baseline`
measures the whole systems; this isolates the chunking.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings
from assistant.eval.evaluate import tutorial_chunks
from assistant.eval.metrics import first_hit_rank, mean_reciprocal_rank, recall_at_k
from assistant.eval.squad import Article, Question, load_squad, write_articles
from assistant.ingest.chunks import make_splitter
from assistant.ingest.loaders import discover
from assistant.search.retriever import LexicalIndex
from assistant.store.sync import load_folder
from assistant.text import tokens

REPO = Path(__file__).resolve().parent.parent
BENCH_DATA = REPO.parent / "shared" / "bench-data"
K = 5


def our_chunks(articles: list[Article], embeddings: LocalEmbeddings) -> list[str]:
    """The project's own loader and splitter, run on the articles written out as documents."""
    with tempfile.TemporaryDirectory(prefix="bench-chunking-") as folder:
        settings = Settings(docs_dir=Path(folder), index_dir=Path(folder) / "unused")
        write_articles(articles, settings.docs_dir)
        splitter = make_splitter(embeddings.tokenizer, settings.chunk_tokens, settings.chunk_overlap)
        chunks, failed = load_folder(settings, discover(settings.docs_dir), splitter)
    assert not failed, failed
    return [c.page_content for c in chunks]


def measure(texts: list[str], questions: list[Question], question_vectors: np.ndarray,
            embeddings: LocalEmbeddings) -> dict[str, float]:
    limit = embeddings.max_tokens
    lengths = [len(e.ids) for e in embeddings.tokenizer.encode_batch(texts)]  # with [CLS] and [SEP]
    vectors = embeddings.encode(texts)
    dense = [
        first_hit_rank([texts[i] for i in np.argsort(-(vectors @ q))[:K]], question.answers)
        for q, question in zip(question_vectors, questions, strict=True)
    ]
    lexical = LexicalIndex([str(i) for i in range(len(texts))], texts, [{}] * len(texts))
    bm25 = [
        first_hit_rank([texts[i] for i in lexical.top(tokens(question.text), K)], question.answers)
        for question in questions
    ]
    return {
        "chunks": len(texts),
        "word_pieces_median": float(np.median(lengths)),
        "cut_by_model": round(sum(n > limit for n in lengths) / len(lengths), 3),
        "dense_recall@5": round(recall_at_k(dense, K), 4),
        "dense_mrr": round(mean_reciprocal_rank(dense, K), 4),
        "bm25_recall@5": round(recall_at_k(bm25, K), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="*", type=Path,
                        default=[BENCH_DATA / "xquad.en.json", BENCH_DATA / "xquad.zh.json"])
    args = parser.parse_args()
    embeddings = load_embeddings()
    columns = ["chunks", "word_pieces_median", "cut_by_model", "dense_recall@5", "dense_mrr", "bm25_recall@5"]
    widths = [max(10, len(c) + 2) for c in columns]
    print(f"{'corpus':<16}{'chunking':<10}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for data in args.data:
        articles, questions = load_squad(data)
        question_vectors = embeddings.encode([q.text for q in questions])
        splits = {
            "tutorial": [c.page_content for c in tutorial_chunks(articles)[0]],
            "ours": our_chunks(articles, embeddings),
        }
        for name, texts in splits.items():
            row = measure(texts, questions, question_vectors, embeddings)
            cells = "".join(f"{row[c]:>{w}}" for c, w in zip(columns, widths, strict=True))
            print(f"{data.name:<16}{name:<10}{cells}", flush=True)


if __name__ == "__main__":
    main()
