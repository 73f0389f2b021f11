"""Indexing throughput and query embedding time for each embedding backend, same chunks, same process,
and against the LangChain tutorial's indexing (1000/200-character chunks, Chroma, torch).

Usage: python benchmarks/indexing.py [--data ../shared/bench-data/xquad.en.json] [--repeats 3]
The backends and the tutorial take turns in every run; medians and ratios are reported, since
absolute times drift on shared machines.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from assistant.config import DEFAULT_EMBEDDING_BACKEND, EMBEDDING_BACKENDS, Settings
from assistant.embed.embeddings import load_embeddings
from assistant.eval.evaluate import spread, tutorial_index
from assistant.eval.squad import load_squad, write_articles
from assistant.store.index import Index
from assistant.store.sync import sync

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "bench-data" / "xquad.en.json"
QUERIES = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    backends = {name: load_embeddings(Settings(embedding_backend=name)) for name in EMBEDDING_BACKENDS}
    for embeddings in backends.values():
        embeddings.encode(["warm up"] * 64)
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    docs = work / "documents"
    articles, questions = load_squad(args.data)
    write_articles(articles, docs)
    queries = [q.text for q in spread(questions, QUERIES)]

    pipeline: dict[str, list[float]] = {name: [] for name in backends}
    raw: dict[str, list[float]] = {name: [] for name in backends}
    query: dict[str, list[float]] = {name: [] for name in backends}
    texts: list[str] = []
    tutorial_rates: list[float] = []
    for run in range(args.repeats):
        for name, embeddings in backends.items():
            settings = Settings(docs_dir=docs, index_dir=work / f"index-{name}-{run}")
            start = time.perf_counter()
            report = sync(settings, embeddings=embeddings)
            pipeline[name].append(time.perf_counter() - start)
            with Index(settings, embeddings.model_name).reading() as snapshot:
                _, texts, _ = snapshot.contents()
            assert report.chunks_embedded == len(texts)
            start = time.perf_counter()
            embeddings.encode(texts)
            raw[name].append(time.perf_counter() - start)
            # encode(), not embed_query(): its cache would hide the model from the second run on.
            for text in queries:
                start = time.perf_counter()
                embeddings.encode([text])
                query[name].append(time.perf_counter() - start)
        _, tutorial_chunks, seconds = tutorial_index(articles, work / f"tutorial-{run}", backends["torch"])
        tutorial_rates.append(tutorial_chunks / seconds)

    default = backends[DEFAULT_EMBEDDING_BACKEND]
    shipped = Settings(docs_dir=REPO / "documents", index_dir=work / "shipped")
    sync(shipped, embeddings=default)
    no_change = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        report = sync(shipped, embeddings=default)
        no_change.append(time.perf_counter() - start)
        assert report.chunks_embedded == 0, "a no-change re-index embedded chunks"

    chunks = len(texts)
    pipe_rate = {n: chunks / statistics.median(s) for n, s in pipeline.items()}
    raw_rate = {n: chunks / statistics.median(s) for n, s in raw.items()}
    rows = {
        "pipeline (load+split+embed+Chroma+records), chunks/s": pipe_rate,
        "raw SentenceTransformer.encode, chunks/s": raw_rate,
        "pipeline overhead vs raw encode, %": {n: 100 * (raw_rate[n] / pipe_rate[n] - 1) for n in backends},
        "one question embedded, ms (median)": {n: 1000 * statistics.median(s) for n, s in query.items()},
    }
    first, second = EMBEDDING_BACKENDS
    print(f"corpus: {args.data.name}, {len(list(docs.iterdir()))} documents, {chunks} chunks, {args.repeats} runs")
    print(f"{'':54}{first:>10}{second:>10}{first + '/' + second:>17}")
    for label, values in rows.items():
        print(f"{label:54}{values[first]:10.1f}{values[second]:10.1f}{values[first] / values[second]:17.2f}")
    ours = [len(texts) / s for s in pipeline[DEFAULT_EMBEDDING_BACKEND]]
    ratios = sorted(o / t for o, t in zip(ours, tutorial_rates, strict=True))
    print(
        f"tutorial indexing (1000/200 chars, Chroma, torch): {statistics.median(tutorial_rates):.1f} chunks/s; "
        f"ours ({DEFAULT_EMBEDDING_BACKEND}) / tutorial, run by run: {', '.join(f'{r:.2f}' for r in ratios)} "
        f"(median {statistics.median(ratios):.2f})"
    )
    print(
        f"no-change re-index of shipped corpus ({DEFAULT_EMBEDDING_BACKEND}): "
        f"{statistics.median(no_change):.3f} s (median), 0 embeddings"
    )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
