"""`assistant eval`: retrieval quality, answer quality and speed on a SQuAD-format file,
optionally beside the LangChain RAG-tutorial pipeline and BM25 alone, in the same process."""

from __future__ import annotations

import re
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from langchain_chroma import Chroma
from langchain_core.documents import Document

from assistant.answering.chain import Assistant
from assistant.answering.citations import sentences_by_source
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings
from assistant.errors import ConfigError
from assistant.eval.metrics import (
    contains_answer,
    exact_match,
    f1,
    first_hit_rank,
    mean_reciprocal_rank,
    recall_at_k,
)
from assistant.eval.render import write_as
from assistant.eval.squad import Article, Question, load_squad
from assistant.store.index import drop_server_index
from assistant.store.sync import sync
from assistant.text import CJK_CHARS, bare_line, has_cjk, without_reference_marks, word_count
from assistant.types import CITATION, Answer

FIGURES = (
    "recall_at_k",
    "mrr",
    "answer_hit",
    "exact_match",
    "f1",
    "answer_words_median",
    "false_refusal",
    "whole_sentence_rate",
    "negatives_declined",
    "grounded_rate",
    "fallback_rate",
    "unsupported_numbers_shown",
    "index_chunks_per_s",
    "query_p50_ms",
    "query_p95_ms",
    "peak_rss_mb",
)
# The LangChain RAG tutorial's splitter settings.
TUTORIAL_CHUNK_CHARS, TUTORIAL_OVERLAP_CHARS = 1000, 200

Progress = Callable[[Iterable, str, int], Iterable]


def _no_progress(items: Iterable, _label: str, _total: int) -> Iterable:
    return items


def spread(items: list, limit: int | None) -> list:
    """``limit`` items taken evenly across the list (all of them without a limit)."""
    if not limit or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _speed(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"query_p50_ms": round(_percentile(ms, 0.5), 2), "query_p95_ms": round(_percentile(ms, 0.95), 2)}


def _retrieval(ranks: list[int | None], k: int) -> dict:
    return {"recall_at_k": round(recall_at_k(ranks, k), 4), "mrr": round(mean_reciprocal_rank(ranks, k), 4)}


def _empty() -> dict:
    return dict.fromkeys(FIGURES)


def _plain(text: str) -> str:
    return re.sub(rf"\s*{CITATION.pattern}", "", text).strip()


@contextmanager
def _scratch_index(work: Path, name: str, llm: bool = False) -> Iterator[Settings]:
    """Settings for a fresh index of the articles in ``work``: a folder of its own, or a
    collection of its own on the server, dropped afterwards. Its records stay in the folder,
    whatever ASSISTANT_RECORD_DB says: the user's index and records are never touched.

    The engine is the extractive default unless ``llm``: then the one ASSISTANT_LLM configures.
    """
    settings = Settings(docs_dir=work / "documents", index_dir=work / name, record_db=None)
    if not llm:
        settings = settings.model_copy(update={"llm": "extractive"})
    elif settings.llm == "extractive":
        raise ConfigError("eval --llm measures a language model: set ASSISTANT_LLM (openai or local) and its settings")
    if settings.chroma_url:
        settings = settings.model_copy(update={"collection": f"assistant-eval-{uuid.uuid4().hex[:12]}"})
    try:
        yield settings
    finally:
        if settings.chroma_url:
            drop_server_index(settings)


def _engine_name(settings: Settings, llm: bool) -> str:
    if not llm:
        return "extractive"
    return f"{settings.llm} ({settings.llm_model})" if settings.llm_model else settings.llm


def _timed_sync(settings: Settings, embeddings: LocalEmbeddings) -> float:
    """Chunks per second of one sync of the documents into an empty index."""
    start = time.perf_counter()
    report = sync(settings, embeddings=embeddings)
    return report.chunks_embedded / (time.perf_counter() - start)


def _ours(
    articles: list[Article],
    questions: list[Question],
    negatives: list[Question],
    k: int,
    work: Path,
    embeddings: LocalEmbeddings,
    progress: Progress,
    form: str = "md",
    llm: bool = False,
) -> dict:
    write_as(articles, work / "documents", form)
    with _scratch_index(work, "index", llm) as settings:
        return _measure(settings, questions, negatives, k, embeddings, progress)


def _measure(
    settings: Settings,
    questions: list[Question],
    negatives: list[Question],
    k: int,
    embeddings: LocalEmbeddings,
    progress: Progress,
) -> dict:
    # The baseline's imports happen before its clock starts; an empty sync does ours before ours starts.
    work = settings.docs_dir.parent
    warm = settings.model_copy(update={"docs_dir": work / "empty", "index_dir": work / "warm"})
    warm.docs_dir.mkdir()
    sync(warm, embeddings=embeddings)
    index_rate = _timed_sync(settings, embeddings)
    assistant = Assistant(settings, embeddings=embeddings)
    return _answers(assistant, questions, negatives, k, progress) | {
        "index_chunks_per_s": round(index_rate, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _answers(
    assistant: Assistant, questions: list[Question], negatives: list[Question], k: int, progress: Progress
) -> dict:
    """Retrieval, answer and refusal figures of a running assistant on ``questions`` (and ``negatives``,
    which it should decline)."""
    assistant.answer(questions[0].text)  # warm: the figures are for a running assistant
    ranks, seconds, answers = [], [], []
    for question in progress(questions, "asking", len(questions)):
        start = time.perf_counter()
        passages = assistant.retriever.search(question.text, k)
        *_, final = assistant.respond(question.text, passages)
        seconds.append(time.perf_counter() - start)
        ranks.append(first_hit_rank([p.text for p in passages], question.answers))
        answers.append(final)
    declined = [assistant.answer(q.text) for q in progress(negatives, "negatives", len(negatives))]
    found = [(a, q) for a, q in zip(answers, questions, strict=True) if a.found]
    figures = _empty() | _retrieval(ranks, k) | _speed(seconds)
    return figures | {
        "answer_hit": round(sum(contains_answer(_plain(a.text), q.answers) for a, q in found) / len(questions), 4),
        "exact_match": round(sum(exact_match(_plain(a.text), q.answers) for a, q in found) / len(questions), 4),
        "f1": round(sum(f1(_plain(a.text), q.answers) for a, q in found) / len(questions), 4),
        "answer_words_median": statistics.median(word_count(_plain(a.text)) for a, _ in found) if found else None,
        "false_refusal": round(1 - len(found) / len(questions), 4),
        "whole_sentence_rate": (
            round(sum(_whole_sentences(a) for a, _ in found) / len(found), 4) if found else None
        ),
        "negatives_declined": (
            round(sum(not a.found for a in declined) / len(declined), 4) if declined else None
        ),
    } | (_grounding(answers) if assistant.engine.name != "extractive" else {})


def _grounding(answers: list[Answer]) -> dict:
    """How a language model's answers fared: passed every check, replaced by the quoted answer,
    and shown sentences stating a number that none of the passages they cite holds (should be 0)."""
    unsupported = 0
    for answer in answers:
        passages = {source.number: _digits(source.snippet) for source in answer.sources}
        for number, pieces in sentences_by_source(answer.text).items():
            unsupported += sum(
                any(n not in passages.get(number, "") for n in _NUMBER.findall(_digits(piece))) for piece in pieces
            )
    grounded = [a.grounding or "" for a in answers]
    return {
        "grounded_rate": round(sum(g == "passed" for g in grounded) / len(answers), 4),
        "fallback_rate": round(sum(g.startswith("fallback") for g in grounded) / len(answers), 4),
        "unsupported_numbers_shown": unsupported,
    }


_NUMBER = re.compile(r"\d+")


def _digits(text: str) -> str:
    """Thousands separators out, so "2,000" and "2000" are one number."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


# A sentence starts with a capital, a digit or a Chinese character, or with a name in lower case
# that has a capital inside ("rVSV vectors ...", "mRNA ...").
_SENTENCE_START = re.compile(rf"^[\"'“‘(\[]?(?:[A-Z0-9{CJK_CHARS}]|[a-z]+[A-Z])")
_SENTENCE_STOP = re.compile(r"[.!?。！？][\"'”’)\]]*$")


def _whole_sentences(answer: Answer) -> bool:
    """Every cited piece of the answer starts where a sentence starts and ends where one ends. A
    line of the passage it cites (a paragraph, list item or table row, without its bullet or outer
    bars) starts and ends one too, whatever its first letter or last sign: a formula cut from a
    paper's paragraph leaves "where ... is the area" behind, and a row has no full stop."""
    lines = {
        source.number: [without_reference_marks(bare_line(line)) for line in source.snippet.splitlines()]
        for source in answer.sources
    }
    pieces = [(n, p) for n, found in sentences_by_source(answer.text).items() for p in found]
    return bool(pieces) and all(
        (_SENTENCE_START.search(p) or any(line.startswith(p) for line in lines.get(n, [])))
        and (_SENTENCE_STOP.search(p) or any(line.endswith(p) for line in lines.get(n, [])))
        for n, p in pieces
    )


def evaluate_corpus(
    data: Path,
    documents: Path,
    *,
    k: int = 5,
    llm: bool = False,
    embeddings: LocalEmbeddings | None = None,
    progress: Progress = _no_progress,
) -> dict:
    """The collection's own question set (``data``, SQuAD form; unanswerable questions marked
    ``is_impossible``) asked of ``documents`` as the assistant indexes them, figures per language.

    The documents are copied and indexed in a temporary folder; your own index is never touched.
    """
    _, questions = load_squad(data)
    answerable = [q for q in questions if q.answers]
    unanswerable = [q for q in questions if not q.answers]
    settings = Settings()
    embeddings = embeddings or load_embeddings(settings)
    result: dict = {"dataset": str(data), "documents": str(documents), "k": k, "questions": len(questions),
                    "index_runs": 1, "embedding_model": embeddings.model_name,
                    "engine": _engine_name(settings, llm)}
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as folder:
        work = Path(folder)
        shutil.copytree(documents, work / "documents")
        with _scratch_index(work, "index", llm) as scratch:
            report = sync(scratch, embeddings=embeddings)
            if report.failed:
                raise ConfigError(f"{len(report.failed)} documents failed to index: {report.failed[:3]}")
            assistant = Assistant(scratch, embeddings=embeddings)
            for language in ("en", "zh"):
                asked = [q for q in answerable if has_cjk(q.text) == (language == "zh")]
                if asked:
                    declined = [q for q in unanswerable if has_cjk(q.text) == (language == "zh")]
                    result[language] = _answers(assistant, asked, declined, k, progress)
    return result


def tutorial_chunks(articles: list[Article]) -> tuple[list[Document], float]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    start = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=TUTORIAL_CHUNK_CHARS, chunk_overlap=TUTORIAL_OVERLAP_CHARS)
    docs = [Document(page_content=a.text, metadata={"source": a.file_name}) for a in articles]
    return splitter.split_documents(docs), time.perf_counter() - start


def _ask(search: Callable[[str], list[Document]], questions: list[Question], progress: Progress, label: str) -> dict:
    search(questions[0].text)
    ranks, seconds = [], []
    for question in progress(questions, label, len(questions)):
        start = time.perf_counter()
        hits = search(question.text)
        seconds.append(time.perf_counter() - start)
        ranks.append(first_hit_rank([d.page_content for d in hits], question.answers))
    return {"ranks": ranks, "seconds": seconds}


def tutorial_index(articles: list[Article], folder: Path, embeddings: LocalEmbeddings) -> tuple[Chroma, int, float]:
    """The LangChain RAG tutorial's indexing: 1000/200 character chunks into Chroma.

    Returns the store, its number of chunks, and the seconds splitting and storing took.
    """
    import chromadb

    chunks, split_seconds = tutorial_chunks(articles)
    start = time.perf_counter()
    store = Chroma(
        collection_name="tutorial",
        embedding_function=embeddings,
        client=chromadb.PersistentClient(path=str(folder)),
    )
    store.add_documents(chunks)
    return store, len(chunks), split_seconds + time.perf_counter() - start


def _baseline(
    articles: list[Article], questions: list[Question], k: int, work: Path, embeddings: LocalEmbeddings,
    progress: Progress,
) -> dict:
    """The LangChain RAG tutorial: 1000/200 character chunks, Chroma, similarity search."""
    # Our run already embedded these questions; the baseline must pay for its own.
    embeddings.clear_query_cache()
    store, chunks, index_seconds = tutorial_index(articles, work / "baseline", embeddings)
    asked = _ask(lambda q: store.similarity_search(q, k=k), questions, progress, "baseline")
    return _empty() | _retrieval(asked["ranks"], k) | _speed(asked["seconds"]) | {
        "index_chunks_per_s": round(chunks / index_seconds, 2)
    }


def _bm25(articles: list[Article], questions: list[Question], k: int, progress: Progress) -> dict:
    """BM25 alone (LangChain's BM25Retriever) over the tutorial's chunks."""
    from langchain_community.retrievers import BM25Retriever

    chunks, split_seconds = tutorial_chunks(articles)
    start = time.perf_counter()
    retriever = BM25Retriever.from_documents(chunks, k=k)
    index_seconds = split_seconds + time.perf_counter() - start
    asked = _ask(retriever.invoke, questions, progress, "bm25")
    return _empty() | _retrieval(asked["ranks"], k) | _speed(asked["seconds"]) | {
        "index_chunks_per_s": round(len(chunks) / index_seconds, 2)
    }


def evaluate(
    data: Path,
    *,
    limit: int | None = None,
    k: int = 5,
    baseline: bool = False,
    negatives: Path | None = None,
    index_runs: int = 1,
    as_format: str = "md",
    llm: bool = False,
    documents: Path | None = None,
    embeddings: LocalEmbeddings | None = None,
    progress: Progress = _no_progress,
) -> dict:
    """Index ``data``'s articles in a temporary index and measure every system on its questions.

    ``as_format`` writes ours as PDF, Word, HTML or wrapped Markdown files first (see ``render``);
    the baselines always read the plain text. Answers come from the extractive default, or with
    ``llm`` from the language model ASSISTANT_LLM configures, with its grounding figures.

    With ``documents`` (a SQuAD file of the same questions in another language, as XQuAD's are),
    ``data``'s questions are asked of ``documents``' articles, and its answers are the gold ones.

    With ``index_runs`` above 1, ours and the tutorial index the articles that many times in
    turn, and indexing speed is the median of the runs. The user's own index is never touched.
    """
    articles, questions = load_squad(data)
    if documents is not None:
        articles, questions = _asked_of(documents, questions)
    questions = spread(questions, limit)
    other = spread(load_squad(negatives)[1], len(questions)) if negatives else []
    settings = Settings()
    embeddings = embeddings or load_embeddings(settings)
    result: dict = {
        "dataset": str(data) + (f" against {documents}" if documents else "")
        + ("" if as_format == "md" else f" as {as_format}"), "k": k,
        "questions": len(questions), "index_runs": index_runs,
        "embedding_model": embeddings.model_name, "engine": _engine_name(settings, llm),
    }
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as folder:
        work = Path(folder)
        result["ours"] = _ours(articles, questions, other, k, work, embeddings, progress, as_format, llm)
        if baseline:
            # The tutorial embeds with plain sentence-transformers on torch (HuggingFaceEmbeddings):
            # the same model as ours, run the tutorial's way whichever backend ours uses.
            tutorial = load_embeddings(settings.model_copy(update={"embedding_backend": "torch"}))
            result["baseline"] = _baseline(articles, questions, k, work, tutorial, progress)
            result["bm25"] = _bm25(articles, questions, k, progress)
        rates = {"ours": [result["ours"]["index_chunks_per_s"]]}
        if baseline:
            rates["baseline"] = [result["baseline"]["index_chunks_per_s"]]
        for run in progress(range(1, index_runs), "indexing again", index_runs - 1):
            with _scratch_index(work, f"index-{run}") as again:
                rates["ours"].append(_timed_sync(again, embeddings))
            if baseline:
                _, chunks, seconds = tutorial_index(articles, work / f"baseline-{run}", tutorial)
                rates["baseline"].append(chunks / seconds)
        for system, values in rates.items():
            result[system]["index_chunks_per_s"] = round(statistics.median(values), 2)
    return result


def _asked_of(documents: Path, questions: list[Question]) -> tuple[list[Article], list[Question]]:
    """``documents``' articles, and ``questions`` with the gold answers and article of the question
    of ``documents`` that has the same id (cross-language evaluation); questions without one are left out."""
    articles, theirs = load_squad(documents)
    by_id = {q.id: q for q in theirs}
    asked = [Question(q.id, q.text, by_id[q.id].answers, by_id[q.id].source) for q in questions if q.id in by_id]
    if not asked:
        raise ConfigError(f"no question of the evaluated file has an id in {documents}")
    return articles, asked


def format_table(result: dict) -> str:
    """The figures side by side, with ours ÷ baseline where both exist."""
    systems = [s for s in ("ours", "baseline", "bm25", "en", "zh") if s in result]
    header = f"{'figure':<22}" + "".join(f"{s:>12}" for s in systems)
    if "baseline" in result:
        header += f"{'ours/base':>12}"
    lines = [
        f"{result['dataset']}: {result['questions']} questions, k={result['k']}, ours embedding with "
        f"{result['embedding_model']}, answers by {result.get('engine', 'extractive')}" + (
            f", indexing the median of {result['index_runs']} runs" if result["index_runs"] > 1 else ""
        ),
        header,
    ]
    for name in FIGURES:
        values = [result[s][name] for s in systems]
        if all(v is None for v in values):
            continue
        row = f"{name:<22}" + "".join(f"{'-' if v is None else v:>12}" for v in values)
        if "baseline" in result:
            ours, base = result["ours"][name], result["baseline"][name]
            row += f"{ours / base:>12.2f}" if ours is not None and base else f"{'-':>12}"
        lines.append(row)
    return "\n".join(lines)

