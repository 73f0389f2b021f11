"""The command line: thin commands over the core, errors turned into one clear line."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from assistant.config import Settings
from assistant.errors import AssistantError

PARTIAL_EXIT = 1
ERROR_EXIT = 2


class CLIError(click.ClickException):
    exit_code = ERROR_EXIT


def _expected_errors(command: Callable) -> Callable:
    """Expected failures become one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return command(*args, **kwargs)
        except AssistantError as exc:
            raise CLIError(str(exc)) from None

    return wrapper


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


def _run_sync(settings: Settings, rebuild: bool) -> None:
    from tqdm import tqdm

    from assistant.sync import sync

    bar = tqdm(total=0, unit="chunk", desc="embedding", file=sys.stderr, leave=False, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        report = sync(settings, rebuild=rebuild, on_chunks=progress)
    finally:
        bar.close()
    click.echo(report.summary())
    for source, reason in report.failed:
        click.echo(f"failed: {source}: {reason}", err=True)
    if report.failed:
        sys.exit(PARTIAL_EXIT)


@cli.command("index")
@docs_option
@index_option
@click.option("--rebuild", is_flag=True, help="Delete the index and build it again from the documents.")
@_expected_errors
def index_command(docs: Path | None, index_dir: Path | None, rebuild: bool) -> None:
    """Bring the index up to date with the documents folder.

    Exit code 0 when every document was indexed, 1 when some failed (each is listed), 2 on error.
    """
    _run_sync(_settings(docs, index_dir), rebuild)


@cli.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@docs_option
@index_option
@click.option("--replace", is_flag=True, help="Overwrite a different file of the same name.")
@_expected_errors
def add_command(files: tuple[Path, ...], docs: Path | None, index_dir: Path | None, replace: bool) -> None:
    """Copy FILES into the documents folder and index them."""
    from assistant.intake import accept_file

    settings = _settings(docs, index_dir)
    for file in files:
        target = accept_file(file, settings.docs_dir, replace=replace, max_bytes=settings.max_file_bytes)
        click.echo(f"copied {file} -> {target}", err=True)
    _run_sync(settings, rebuild=False)


@cli.command("status")
@docs_option
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_expected_errors
def status_command(docs: Path | None, index_dir: Path | None, as_json: bool) -> None:
    """Documents, chunks, embedding model, index folder and time of the last sync."""
    from assistant.embeddings import load_embeddings
    from assistant.index import status

    settings = _settings(docs, index_dir)
    info = status(settings, load_embeddings(settings.embedding_model))
    if as_json:
        click.echo(json.dumps(info.as_dict()))
        return
    for key, value in info.as_dict().items():
        click.echo(f"{key.replace('_', ' ')}: {value if value is not None else 'never'}")


def main() -> None:
    cli(prog_name="assistant")
