"""Calibrate the answer gate (ASSISTANT_MIN_RELEVANCE) on a SQuAD-format file.

Every other article is indexed; questions about indexed articles should be answered, and
questions about the held-out articles (same language, same kind of text: hard negatives)
should be declined. Prints, per threshold, the false-refusal and negatives-declined rates.

Usage: python benchmarks/calibrate_gate.py ../shared/bench-data/xquad.en.json [--questions 300]
       [--asked-in ../shared/bench-data/xquad.zh.json]

With --asked-in, the questions come from that file (the same question ids in another language, as
XQuAD's are): the gate across a language pair, e.g. Chinese questions about English articles.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from assistant.answering.chain import Assistant
from assistant.config import Settings
from assistant.eval.evaluate import spread
from assistant.eval.squad import Question, load_squad, write_articles
from assistant.store.sync import sync

THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--asked-in", type=Path, help="ask this file's questions (same ids) instead")
    args = parser.parse_args()

    articles, questions = load_squad(args.data)
    if args.asked_in:
        source_of = {q.id: q.source for q in questions}
        questions = [q for q in load_squad(args.asked_in)[1] if q.id in source_of]
        questions = [Question(q.id, q.text, q.answers, source_of[q.id]) for q in questions]
    indexed = {a.file_name for a in articles[::2]}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(docs_dir=Path(folder) / "docs", index_dir=Path(folder) / "index")
        write_articles([a for a in articles if a.file_name in indexed], settings.docs_dir)
        sync(settings)
        assistant = Assistant(settings)

        def best(items: list) -> np.ndarray:
            # A question sharing no word with the index retrieves nothing: relevance 0.
            return np.array(
                [max((p.relevance for p in assistant.retriever.search(q.text)), default=0.0) for q in items]
            )

        answerable = best(spread([q for q in questions if q.source in indexed], args.questions))
        held_out = best(spread([q for q in questions if q.source not in indexed], args.questions))
    asked = f", questions from {args.asked_in.name}" if args.asked_in else ""
    print(f"{args.data.name}{asked}: {len(answerable)} answerable, {len(held_out)} held-out questions, "
          f"model {assistant.embeddings.model_name}")
    print(f"{'threshold':>10} {'false_refusal':>14} {'negatives_declined':>19}")
    for threshold in THRESHOLDS:
        print(f"{threshold:>10} {np.mean(answerable < threshold):>14.3f} {np.mean(held_out < threshold):>19.3f}")


if __name__ == "__main__":
    main()
