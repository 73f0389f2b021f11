"""Regenerate BENCHMARKS.md from runs of the committed code (`make benchmarks`).

Runs `assistant eval` on XQuAD English (with the tutorial baseline and BM25), XQuAD Chinese,
the cross-language negatives, the gate calibration, COVID-QA's long papers, every document format,
and the indexing benchmark; then the same
evaluations with multilingual-e5-small, across languages too; and, where llama.cpp's server is
installed, SmolLM2 answering through it. Writes every table with the command that produced it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "bench-data"
EN, ZH, COVID = DATA / "xquad.en.json", DATA / "xquad.zh.json", DATA / "covidqa-dev.json"


E5 = {"ASSISTANT_EMBEDDING_MODEL": "multilingual-e5-small"}


def runs(limit: list[str]) -> list[tuple[str, list[str], dict[str, str]]]:
    """(title, command, environment) of every benchmark; the SmolLM2 run only where llama.cpp's
    server is installed (`make test-llm`)."""
    plain = [(title, command, {}) for title, command in _default_model_runs(limit)]
    multilingual = [
        ("multilingual-e5-small: XQuAD English", ["assistant", "eval", str(EN), *limit], E5),
        ("multilingual-e5-small: XQuAD Chinese", ["assistant", "eval", str(ZH), *limit], E5),
        ("multilingual-e5-small: Chinese questions against the English articles",
         ["assistant", "eval", str(ZH), "--documents", str(EN), *limit], E5),
        ("multilingual-e5-small: the answer gate, Chinese questions about the English articles",
         [sys.executable, "benchmarks/calibrate_gate.py", str(EN), "--asked-in", str(ZH)], E5),
        ("multilingual-e5-small: the answer gate, English questions about the Chinese articles",
         [sys.executable, "benchmarks/calibrate_gate.py", str(ZH), "--asked-in", str(EN)], E5),
        ("multilingual-e5-small: English questions against the Chinese articles",
         ["assistant", "eval", str(EN), "--documents", str(ZH), *limit], E5),
        ("multilingual-e5-small: the collection's own question set",
         ["assistant", "eval", "--corpus", "benchmarks/corpus_qa.json", "--docs", "documents"], E5),
    ]
    llm = [
        ("SmolLM2-135M through llama.cpp's server (`eval --llm`), 200 XQuAD English questions",
         [sys.executable, "benchmarks/llm_eval.py", str(EN), "--limit", "200"], {}),
    ] if importlib.util.find_spec("llama_cpp") else []
    return plain + multilingual + llm


def _default_model_runs(limit: list[str]) -> list[tuple[str, list[str]]]:
    # The negatives are COVID-QA's questions, on another subject: XQuAD's other language asks the
    # same questions of the same articles, which a question read through the dictionary answers.
    return [
        (
            "XQuAD English, with the LangChain-tutorial baseline and BM25 alone",
            ["assistant", "eval", str(EN), *limit, "--baseline", "--negatives", str(COVID), "--index-runs", "3"],
        ),
        (
            "XQuAD Chinese: Chinese questions against the Chinese articles",
            ["assistant", "eval", str(ZH), *limit, "--baseline", "--negatives", str(COVID), "--index-runs", "3"],
        ),
        (
            "Answer gate calibration, English (every other article indexed; questions about the rest must be declined)",
            [sys.executable, "benchmarks/calibrate_gate.py", str(EN)],
        ),
        ("Answer gate calibration, Chinese", [sys.executable, "benchmarks/calibrate_gate.py", str(ZH)]),
        (
            "Chinese questions against the English articles, read through CC-CEDICT",
            ["assistant", "eval", str(ZH), "--documents", str(EN), *limit],
        ),
        (
            "Answer gate calibration, Chinese questions about the English articles",
            [sys.executable, "benchmarks/calibrate_gate.py", str(EN), "--asked-in", str(ZH)],
        ),
        (
            "English questions against the Chinese articles, read through CC-CEDICT",
            ["assistant", "eval", str(EN), "--documents", str(ZH), *limit],
        ),
        (
            "Answer gate calibration, English questions about the Chinese articles",
            [sys.executable, "benchmarks/calibrate_gate.py", str(ZH), "--asked-in", str(EN)],
        ),
        (
            "The collection's own question set (benchmarks/corpus_qa.json) against the shipped documents",
            ["assistant", "eval", "--corpus", "benchmarks/corpus_qa.json", "--docs", "documents"],
        ),
        (
            "COVID-QA development half (49 long papers), with the tutorial baseline and BM25",
            ["assistant", "eval", str(COVID), *limit, "--baseline"],
        ),
        (
            "Document formats, XQuAD English: the articles as wrapped Markdown, PDF, Word and HTML",
            [sys.executable, "benchmarks/formats.py", str(EN), *limit],
        ),
        (
            "Document formats, COVID-QA development half",
            [sys.executable, "benchmarks/formats.py", str(COVID), *limit],
        ),
        ("Indexing throughput and no-change re-index", [sys.executable, "benchmarks/indexing.py", "--data", str(EN)]),
        (
            "Chunking alone: the tutorial's 1000-character chunks against ours, same model, same searches",
            [sys.executable, "benchmarks/chunking.py", str(EN), str(ZH)],
        ),
        ("Start-up: fresh processes, the ONNX query path against torch", [sys.executable, "benchmarks/startup.py"]),
    ]


def _shown(command: list[str]) -> str:
    return " ".join(Path(c).name if c == sys.executable else c.replace(str(REPO.parent), "..") for c in command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, help="ask only N questions per evaluation (spread evenly)")
    args = parser.parse_args()
    venv_bin = Path(sys.executable).parent
    env = os.environ | {"PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "TQDM_DISABLE": "1"}
    limit_shown = f" --limit {args.limit}" if args.limit else ""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    lines = [
        "# Benchmarks",
        "",
        f"Regenerated by `make benchmarks` (`python benchmarks/report.py{limit_shown}`) from a run of commit "
        f"`{commit.strip()}`. Machine: {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.machine()}, Python {platform.python_version()}, "
        "no GPU. Times on these shared machines drift: compare the ratios measured in the same process.",
        "",
        "Figures: `recall_at_k` a retrieved passage holds a gold answer; `mrr` mean reciprocal rank; "
        "`answer_hit` a gold answer inside the answer text; `exact_match`/`f1` SQuAD v1.1 scores (our answers "
        "are whole cited sentences, so exact match is 0 by design); `false_refusal` answerable questions "
        "declined; `negatives_declined` the other file's questions declined; `query_p50_ms` retrieval plus "
        "answer for ours, retrieval alone for the others.",
    ]
    for title, command, extra in runs(["--limit", str(args.limit)] if args.limit else []):
        shown = " ".join([*(f"{k}={v}" for k, v in extra.items()), _shown(command)])
        print(f"running: {shown}", file=sys.stderr)
        out = subprocess.run(command, cwd=REPO, env=env | extra, capture_output=True, text=True, check=True).stdout
        lines += ["", f"## {title}", "", f"`{shown}`", "", "```", out.strip(), "```"]
    (REPO / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
