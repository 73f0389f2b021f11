"""The command line: thin commands over the core, errors turned into one clear line."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click
import httpx

from assistant.config import Settings
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.store.sync import SyncReport

PARTIAL_EXIT = 1
ERROR_EXIT = 2


class CLIError(click.ClickException):
    exit_code = ERROR_EXIT


def _expected_errors(command: Callable) -> Callable:
    """Expected failures become one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except AssistantError as exc:
            raise CLIError(str(exc)) from None
        except httpx.HTTPError as exc:
            # A Chroma or model server that went away or stalled in the middle of a command.
            raise CLIError(f"request to {_url_of(exc)} failed ({exc.__class__.__name__}: {exc})") from None

    return wrapper


def _url_of(error: httpx.HTTPError) -> str:
    try:
        return str(error.request.url)
    except RuntimeError:  # raised before a request was made
        return "a server"


def _settings(docs: Path | None, index_dir: Path | None) -> Settings:
    overrides = {k: v for k, v in {"docs_dir": docs, "index_dir": index_dir}.items() if v}
    return Settings(**overrides)


docs_option = click.option(
    "--docs",
    type=click.Path(path_type=Path),
    help="Documents folder [env ASSISTANT_DOCS_DIR; default documents/]",
)
index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    help="Index folder [env ASSISTANT_INDEX_DIR; default index/]",
)


@click.group()
@click.version_option(package_name="vocational-assistant")
def cli() -> None:
    """Answers questions about China–UK vocational education cooperation from your documents."""


def run_sync(
    settings: Settings,
    *,
    rebuild: bool = False,
    remove: list[str] | None = None,
    echo: Callable[[str], None] = click.echo,
) -> SyncReport:
    """Sync the index with a progress bar on stderr, then the summary line and each failure, through ``echo``."""
    from tqdm import tqdm

    from assistant.store.sync import sync

    bar = tqdm(total=0, unit="chunk", desc="embedding", file=sys.stderr, leave=False, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        report = sync(settings, rebuild=rebuild, remove=remove, on_chunks=progress)
    finally:
        bar.close()
    echo(report.summary())
    for source, reason in report.failed:
        echo(f"failed: {source}: {reason}")
    return report


def _sync_and_exit(settings: Settings, rebuild: bool) -> None:
    if run_sync(settings, rebuild=rebuild, echo=_echo_failures_to_stderr).failed:
        sys.exit(PARTIAL_EXIT)


def _echo_failures_to_stderr(line: str) -> None:
    click.echo(line, err=line.startswith("failed: "))


@cli.command("index")
@docs_option
@index_option
@click.option("--rebuild", is_flag=True, help="Delete the index and build it again from the documents.")
@_expected_errors
def index_command(docs: Path | None, index_dir: Path | None, rebuild: bool) -> None:
    """Bring the index up to date with the documents folder.

    Exit code 0 when every document was indexed, 1 when some failed (each is listed), 2 on error.
    """
    _sync_and_exit(_settings(docs, index_dir), rebuild)


@cli.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@docs_option
@index_option
@click.option("--replace", is_flag=True, help="Overwrite a different file of the same name.")
@_expected_errors
def add_command(files: tuple[Path, ...], docs: Path | None, index_dir: Path | None, replace: bool) -> None:
    """Copy FILES into the documents folder and index them."""
    from assistant.errors import DocumentExistsError
    from assistant.ingest.intake import accept_file

    settings = _settings(docs, index_dir)
    for file in files:
        try:
            target = accept_file(file, settings.docs_dir, replace=replace, max_bytes=settings.max_file_bytes)
        except DocumentExistsError as exc:
            raise DocumentExistsError(f"{exc}; use --replace to overwrite it") from None
        click.echo(f"copied {file} -> {target}", err=True)
    _sync_and_exit(settings, rebuild=False)


@cli.command("remove")
@click.argument("files", nargs=-1, required=True)
@docs_option
@index_option
@_expected_errors
def remove_command(files: tuple[str, ...], docs: Path | None, index_dir: Path | None) -> None:
    """Delete FILES (names as `status`/the Documents tab show them, or paths inside the documents
    folder) and their chunks, then print the sync's summary line."""
    if run_sync(_settings(docs, index_dir), remove=list(files), echo=_echo_failures_to_stderr).failed:
        sys.exit(PARTIAL_EXIT)


@cli.command("feedback")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print every rating as one JSON object per line.")
@_expected_errors
def feedback_command(index_dir: Path | None, as_json: bool) -> None:
    """The thumbs up and down readers gave answers in the chat, with the question and answer shown."""
    from assistant.store.feedback import read_feedback

    records = read_feedback(_settings(None, index_dir))
    for record in records:
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(f"{record['time']}  {record['rating']:<4}  {record['question'][:100]}")
    if not records and not as_json:
        click.echo("no feedback yet", err=True)


@cli.command("status")
@docs_option
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_expected_errors
def status_command(docs: Path | None, index_dir: Path | None, as_json: bool) -> None:
    """Documents, chunks, embedding model, index folder and time of the last sync."""
    from assistant.embed.model_files import model_id_of
    from assistant.store.index import Index

    settings = _settings(docs, index_dir)
    # The index is checked against the model's id; the model itself is not loaded.
    info = Index(settings, model_id_of(settings)).status()
    if as_json:
        click.echo(json.dumps(info.as_dict()))
        return
    for key, value in info.as_dict().items():
        click.echo(f"{key.replace('_', ' ')}: {_shown(key, value)}")


def _shown(key: str, value: object) -> object:
    if value is not None:
        return value
    return "never" if key == "last_sync" else "none"


@cli.command("ask")
@click.argument("question")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as one JSON object.")
@_expected_errors
def ask_command(question: str, index_dir: Path | None, as_json: bool) -> None:
    """Answer QUESTION from the indexed documents and list the numbered sources.

    Exit code 0 when answered, 1 when the documents do not contain the answer, 2 on error.
    """
    from assistant.answering.chain import Assistant
    from assistant.types import Answer

    assistant = Assistant(_settings(None, index_dir))
    # A language model's text is printed once it has been checked against its passages, not as it streams.
    streaming = not as_json and assistant.engine.name == "extractive"
    final = None
    for piece in assistant.stream(question):
        if isinstance(piece, Answer):
            final = piece
        elif streaming:
            click.echo(piece, nl=False)
    if as_json:
        click.echo(json.dumps(final.as_dict(), ensure_ascii=False))
    else:
        click.echo("" if streaming else final.text)
        for source in final.sources:
            click.echo(f"[{source.number}] {source.title} ({source.path}{source.pages})")
    if not final.found:
        sys.exit(PARTIAL_EXIT)


@cli.command("eval")
@click.argument("data", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ask this question set (SQuAD form) of the documents folder as it is, instead of DATA's articles.",
)
@docs_option
@click.option("--limit", type=click.IntRange(min=1), help="Ask only N questions, spread evenly over the file.")
@click.option("--k", type=click.IntRange(min=1), default=5, show_default=True, help="Passages retrieved.")
@click.option("--baseline", is_flag=True, help="Also measure the LangChain-tutorial pipeline and BM25 alone.")
@click.option(
    "--negatives",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another SQuAD file whose questions should be declined against DATA's index.",
)
@click.option(
    "--index-runs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Index N times (ours and the baseline in turn) and report the median speed; times drift on busy machines.",
)
@click.option(
    "--as", "as_format", type=click.Choice(["md", "wrapped", "pdf", "docx", "html"]), default="md", show_default=True,
    help="Write DATA's articles as these files before indexing: loaders and cleaning measured end to end.",
)
@click.option(
    "--documents", "documents", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ask DATA's questions of this file's articles (same question ids, e.g. XQuAD in another language): "
    "cross-language retrieval and answers, scored with this file's answers.",
)
@click.option(
    "--llm", is_flag=True,
    help="Answer with the language model ASSISTANT_LLM configures, not the extractive default; adds "
    "grounded_rate, fallback_rate and unsupported_numbers_shown.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@_expected_errors
def eval_command(
    data: Path | None,
    corpus: Path | None,
    docs: Path | None,
    limit: int | None,
    k: int,
    baseline: bool,
    negatives: Path | None,
    index_runs: int,
    as_format: str,
    documents: Path | None,
    llm: bool,
    json_out: Path | None,
) -> None:
    """Measure retrieval, answers and speed on DATA, a SQuAD v1.1 JSON file, or with --corpus on the
    documents folder and its own question set (figures per language; unanswerable questions count
    as negatives).

    Everything is indexed into a temporary index; your own index is never touched.
    """
    from tqdm import tqdm

    from assistant.eval.evaluate import evaluate, evaluate_corpus, format_table

    def progress(items: Iterable, label: str, total: int) -> Iterable:
        return tqdm(items, desc=label, total=total, file=sys.stderr, leave=False, disable=None)

    if (data is None) == (corpus is None):
        raise CLIError("give either DATA (a SQuAD file whose articles are indexed) or --corpus QUESTIONS")
    if corpus is not None:
        result = evaluate_corpus(corpus, _settings(docs, None).docs_dir, k=k, llm=llm, progress=progress)
    else:
        result = evaluate(
            data, limit=limit, k=k, baseline=baseline, negatives=negatives, index_runs=index_runs,
            as_format=as_format, llm=llm, documents=documents, progress=progress,
        )
    click.echo(format_table(result))
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))


def main() -> None:
    cli(prog_name="assistant")
