"""Indexing throughput beside raw SentenceTransformer.encode on the same chunks, same process.

Usage: python benchmarks/indexing.py [--data ../shared/bench-data/xquad.en.json] [--repeats 3]
Reports medians and the ratio; absolute times drift on shared machines.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from assistant.config import Settings
from assistant.embeddings import load_embeddings
from assistant.index import open_store
from assistant.squad import load_squad, write_articles
from assistant.sync import sync

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "bench-data" / "xquad.en.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    embeddings = load_embeddings()
    embeddings.encode(["warm up"] * 64)
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    docs = work / "documents"
    write_articles(load_squad(args.data)[0], docs)

    pipeline, raw, texts = [], [], []
    for run in range(args.repeats):
        settings = Settings(docs_dir=docs, index_dir=work / f"index-{run}")
        start = time.perf_counter()
        report = sync(settings, embeddings=embeddings)
        pipeline.append(time.perf_counter() - start)
        texts = open_store(settings, embeddings).get(include=["documents"])["documents"]
        assert report.chunks_embedded == len(texts)
        start = time.perf_counter()
        embeddings.encode(texts)
        raw.append(time.perf_counter() - start)

    shipped = Settings(docs_dir=REPO / "documents", index_dir=work / "shipped")
    sync(shipped, embeddings=embeddings)
    no_change = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        report = sync(shipped, embeddings=embeddings)
        no_change.append(time.perf_counter() - start)
        assert report.chunks_embedded == 0, "a no-change re-index embedded chunks"

    chunks = len(texts)
    pipe_rate = chunks / statistics.median(pipeline)
    raw_rate = chunks / statistics.median(raw)
    print(f"corpus: {args.data.name}, {len(list(docs.iterdir()))} documents, {chunks} chunks, {args.repeats} runs")
    print(f"pipeline (load+split+embed+Chroma+records): {pipe_rate:8.1f} chunks/s (median)")
    print(f"raw SentenceTransformer.encode:             {raw_rate:8.1f} chunks/s (median)")
    print(f"pipeline overhead vs raw encode:            {100 * (raw_rate / pipe_rate - 1):8.1f} %")
    print(f"no-change re-index of shipped corpus:       {statistics.median(no_change):8.3f} s (median), 0 embeddings")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
