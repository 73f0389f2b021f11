"""The same articles as the files people have: plain Markdown against wrapped Markdown, PDF, Word and HTML.

Usage: python benchmarks/formats.py DATA.json [--limit N]

Each format is written out (`assistant eval --as FORMAT`, see assistant/eval/render.py), indexed
and asked the same questions; one row per format, so what the loaders and the text cleaning lose
shows as the difference from the plain row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.config import Settings
from assistant.embed.embeddings import load_embeddings
from assistant.eval.evaluate import evaluate
from assistant.eval.render import FORMATS

COLUMNS = ("recall_at_k", "mrr", "answer_hit", "answer_words_median", "whole_sentence_rate", "false_refusal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int, help="ask only N questions, spread evenly over the file")
    args = parser.parse_args()
    embeddings = load_embeddings(Settings())
    rows = {form: evaluate(args.data, limit=args.limit, as_format=form, embeddings=embeddings) for form in FORMATS}
    first = rows[FORMATS[0]]
    print(f"{first['dataset']}: {first['questions']} questions, k={first['k']}, {first['embedding_model']}")
    print(f"{'format':<10}" + "".join(f"{c:>22}" for c in COLUMNS) + f"{'hit vs plain':>14}")
    for form, result in rows.items():
        ours = result["ours"]
        change = ours["answer_hit"] - first["ours"]["answer_hit"]
        print(f"{form:<10}" + "".join(f"{ours[c]:>22}" for c in COLUMNS) + f"{change:>+14.3f}")


if __name__ == "__main__":
    main()
