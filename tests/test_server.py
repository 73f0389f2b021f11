"""Server mode against real servers: `chroma run` from the installed package, and PostgreSQL."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from click.testing import CliRunner
from gradio_client import Client

from assistant.answering.chain import Assistant
from assistant.cli import cli
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.errors import ConfigError
from assistant.store.index import record_manager
from tests.conftest import open_store, write
from tests.samples import ARTICLES, LEVY, RQF, WELDING, squad_file
from tests.serving import free_port, serving_shipped_corpus

pytestmark = pytest.mark.slow

CLI_TIMEOUT_S = 300


@pytest.fixture
def server(chroma_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Server mode, in a collection of this test's own."""
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", chroma_url)
    monkeypatch.setenv("ASSISTANT_COLLECTION", f"test-{uuid.uuid4().hex[:12]}")
    return Settings()


def index_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, ["index", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m assistant ...` in its own process, as another machine would run it."""
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, env=env)


def chunks_by_source(settings: Settings, embeddings: LocalEmbeddings) -> dict[str, list[int]]:
    stored = open_store(settings, embeddings).get(include=["metadatas"])["metadatas"]
    grouped: dict[str, list[int]] = {}
    for meta in stored:
        grouped.setdefault(meta["source"], []).append(meta["chunk"])
    return {source: sorted(chunks) for source, chunks in grouped.items()}


def test_index_reindex_and_answer_live_in_the_server(server: Settings, embeddings: LocalEmbeddings) -> None:
    write(server.docs_dir, "rqf.md", RQF)
    write(server.docs_dir, "levy.md", LEVY)
    assert index_cli() == "added 2, updated 0, deleted 0, unchanged 0, failed 0"
    assert not (server.index_dir / "chroma.sqlite3").exists(), "the vectors belong in the server, not index/"
    status = json.loads(CliRunner().invoke(cli, ["status", "--json"]).stdout)
    assert status["documents"] == 2 and status["chroma_url"] == server.chroma_url
    answered = Assistant(server, embeddings=embeddings).answer("When did the apprenticeship levy start?")
    assert answered.found and "6 April 2017" in answered.text and answered.sources[0].path == "levy.md"

    write(server.docs_dir, "rqf.md", RQF + " It has eight levels above entry level.")
    (server.docs_dir / "levy.md").unlink()
    write(server.docs_dir, "welding.md", WELDING)
    assert index_cli() == "added 1, updated 1, deleted 1, unchanged 0, failed 0"
    assert index_cli() == "added 0, updated 0, deleted 0, unchanged 2, failed 0"
    assert set(chunks_by_source(server, embeddings)) == {"rqf.md", "welding.md"}


def test_a_running_assistant_follows_a_reindex_by_another_process(
    server: Settings, embeddings: LocalEmbeddings
) -> None:
    write(server.docs_dir, "rqf.md", RQF)
    index_cli()
    assistant = Assistant(server, embeddings=embeddings)
    assert not assistant.answer("How many apprentices did the welding pilot enrol?").found

    write(server.docs_dir, "welding.md", WELDING)
    other = run_cli("index")
    assert other.returncode == 0, other.stderr
    result = assistant.answer("How many apprentices did the Shenzhen–Leeds welding pilot enrol?")
    assert result.found and "412" in result.text and result.sources[0].path == "welding.md"


def test_two_indexers_share_one_collection_and_keep_each_others_documents(
    server: Settings, embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    folders = {name: tmp_path / name for name in ("college", "ministry")}
    write(folders["college"], "rqf.md", RQF)
    write(folders["college"], "notes/welding.md", WELDING)
    write(folders["ministry"], "levy.md", LEVY)
    write(folders["ministry"], "rqf.md", RQF + " Ofqual regulates it.")  # same name, different text
    runs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "assistant", "index", "--docs", str(docs), "--index", str(tmp_path / f"{name}-idx")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, docs in folders.items()
    }
    outputs = {name: run.communicate(timeout=CLI_TIMEOUT_S) for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, outputs[name][1]
        assert outputs[name][0].strip().endswith("added 2, updated 0, deleted 0, unchanged 0, failed 0")

    stored = open_store(server, embeddings).get(include=["metadatas"])["metadatas"]
    positions = [(m["scope"], m["source"], m["chunk"]) for m in stored]
    assert len(positions) == len(set(positions)) == 4, "each indexer's chunks once, nothing lost or doubled"
    assert {m["source"] for m in stored} == {"rqf.md", "notes/welding.md", "levy.md"}

    # The college deletes a file: only its own copy goes; the ministry's files stay.
    (folders["college"] / "rqf.md").unlink()
    again = run_cli("index", "--docs", str(folders["college"]), "--index", str(tmp_path / "college-idx"))
    assert again.stdout.strip().endswith("added 0, updated 0, deleted 1, unchanged 1, failed 0"), again.stderr
    remaining = sorted(m["source"] for m in open_store(server, embeddings).get(include=["metadatas"])["metadatas"])
    assert remaining == ["levy.md", "notes/welding.md", "rqf.md"]


def test_the_ui_answers_from_the_server(server: Settings, embeddings: LocalEmbeddings, tmp_path: Path) -> None:
    with serving_shipped_corpus(tmp_path / "ui", embeddings) as (url, settings):
        assert settings.chroma_url == server.chroma_url
        result = Client(url, verbose=False).predict("When did T Levels launch?", api_name="/ask")
    assert result["found"] is True and "September 2020" in result["text"]
    assert result["sources"][0]["file"] == "t-levels-guide-for-partners.html"


def test_eval_uses_a_temporary_collection_on_the_server(server: Settings, chroma_url: str, tmp_path: Path) -> None:
    host, port = chroma_url.rsplit(":", 1)
    client = chromadb.HttpClient(host=host.removeprefix("http://"), port=int(port))
    before = {c.name for c in client.list_collections()}
    data = squad_file(tmp_path / "small.json", ARTICLES)
    result = CliRunner().invoke(cli, ["eval", str(data), "--json", str(tmp_path / "out.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text())["ours"]["recall_at_k"] == 1.0
    assert {c.name for c in client.list_collections()} == before


@pytest.fixture
def postgres_records(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ASSISTANT_RECORD_DB", postgres_url)
    return postgres_url


def test_record_manager_on_postgresql(
    server: Settings, postgres_records: str, embeddings: LocalEmbeddings, tmp_path: Path
) -> None:
    write(server.docs_dir, "rqf.md", RQF)
    write(server.docs_dir, "levy.md", LEVY)
    assert index_cli() == "added 2, updated 0, deleted 0, unchanged 0, failed 0"
    assert not (server.index_dir / "records.sqlite").exists(), "records belong in PostgreSQL"
    settings = Settings()
    keys = sorted(record_manager(settings).list_keys())
    assert keys == sorted(open_store(settings, embeddings).get(include=[])["ids"])
    # A fresh machine (no local index folder at all) sees the same records: nothing to re-embed.
    elsewhere = index_cli("--index", str(tmp_path / "fresh-machine"))
    assert elsewhere == "added 0, updated 0, deleted 0, unchanged 2, failed 0"


def test_a_bad_record_db_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_RECORD_DB", "not a url")
    with pytest.raises(ConfigError, match="ASSISTANT_RECORD_DB"):
        record_manager(Settings())


def one_line_error(args: list[str], env: dict[str, str]) -> str:
    import os

    result = run_cli(*args, env={**os.environ, **env})
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_an_unreachable_server_is_one_line_naming_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(["status"], {"ASSISTANT_CHROMA_URL": url})
    assert url in line and "unreachable" in line


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_server_that_never_answers_times_out_with_its_url(silent_server: str) -> None:
    line = one_line_error(["ask", "What is the RQF?"],
                          {"ASSISTANT_CHROMA_URL": silent_server, "ASSISTANT_CHROMA_TIMEOUT": "1"})
    assert silent_server in line and "did not answer within 1 s" in line


class RefusingHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401 if self.headers.get("Authorization") != "Bearer right" else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def token_checking_proxy() -> Iterator[str]:
    """Stands for the auth proxy in front of a Chroma server: only 'right' gets through."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_refused_token_is_one_line_naming_the_url(token_checking_proxy: str) -> None:
    line = one_line_error(["status"], {"ASSISTANT_CHROMA_URL": token_checking_proxy, "ASSISTANT_CHROMA_TOKEN": "wrong"})
    assert token_checking_proxy in line and "refused the token" in line and "wrong" not in line
