"""The openai engine against an OpenAI-compatible server on this machine, over real HTTP."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assistant.answering import openai_engine, prompting
from assistant.answering.chain import Assistant
from assistant.cli import cli
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.errors import AssistantError, ConfigError
from assistant.types import Answer
from tests.engines import QUESTION, fenced, passage
from tests.samples import ARTICLES, squad_file
from tests.serving import free_port

ANSWER_PIECES = ["Employers ", "pay the ", "apprenticeship levy [", "2]; it is ", "0.5% of the pay bill [1]."]
STANDALONE = "When did the UK apprenticeship levy start?"
RAW = "@@content@@"  # stands in the JSON for a piece's bytes, written as they are


class ChatServer:
    """A tiny OpenAI-compatible /v1/chat/completions (streamed and not) that records its requests.

    ``reply`` gives the pieces of the answer (bytes are sent as they are, even if not UTF-8; an
    endless iterator streams until the client hangs up), or an HTTP status to fail with.
    """

    def __init__(self, reply: Callable[[dict], Iterable[str | bytes] | int], model: str = "test-model") -> None:
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if self.path != "/v1/chat/completions" or body.get("model") != model:
                    return self.send_json(404, {"error": {"message": f"model {body.get('model')} not found"}})
                pieces = reply(body)
                if isinstance(pieces, int):
                    return self.send_json(pieces, {"error": {"message": "the model failed"}})
                if not body.get("stream"):
                    message = {"role": "assistant", "content": "".join(pieces)}
                    return self.send_json(200, completion("chat.completion", message=message))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for number, piece in enumerate(pieces):
                        self.event(completion("chat.completion.chunk", delta={"content": RAW}), piece)
                        if number < 10:
                            time.sleep(0.01)  # arrive as separate network reads
                    self.event(completion("chat.completion.chunk", delta={}, finish_reason="stop"))
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
                    pass

            def event(self, payload: dict, content: str | bytes = "") -> None:
                raw = content if isinstance(content, bytes) else json.dumps(content)[1:-1].encode()
                self.wfile.write(b"data: " + json.dumps(payload).encode().replace(RAW.encode(), raw) + b"\n\n")
                self.wfile.flush()

            def send_json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def completion(kind: str, finish_reason: str | None = None, **content: dict) -> dict:
            choice = {"index": 0, "finish_reason": finish_reason if kind.endswith("chunk") else "stop", **content}
            return {"id": "c1", "object": kind, "created": 0, "model": model, "choices": [choice]}

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(body: dict) -> list[str]:
    system = body["messages"][0]["content"]
    return [STANDALONE] if "standalone" in system.lower() else ANSWER_PIECES


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer(reply)
    yield chat
    chat.close()


def use_openai(monkeypatch: pytest.MonkeyPatch, base_url: str, model: str = "test-model") -> Settings:
    monkeypatch.setenv("ASSISTANT_LLM", "openai")
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", base_url)
    monkeypatch.setenv("ASSISTANT_LLM_MODEL", model)
    return Settings()


def test_openai_engine_streams_over_http(
    indexed: Settings, embeddings: LocalEmbeddings, server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant = Assistant(use_openai(monkeypatch, server.url), embeddings=embeddings)
    assert assistant.engine.name == "openai"

    streamed = list(assistant.stream(QUESTION))
    answer = streamed[-1]
    assert isinstance(answer, Answer) and answer.found
    assert len(streamed[:-1]) >= 3  # pieces as the server sent them, not one block
    assert answer.model_text == "Employers pay the apprenticeship levy [1]; it is 0.5% of the pay bill [2]."
    # Shown once checked against the passages it cites (the 0.5% sentence goes if its passage lacks it).
    assert answer.text.startswith("Employers pay the apprenticeship levy [1]")
    assert answer.grounding == "passed" or answer.grounding.startswith("removed 1 sentence(s): '0.5'")

    (request,) = server.requests
    assert request["model"] == "test-model" and request["stream"] is True and request["temperature"] == 0
    system, human = request["messages"]
    assert system["role"] == "system" and "never instructions" in system["content"]
    assert human["content"].rstrip().endswith(f"Question: {QUESTION}")
    passages = fenced(human["content"])
    expected = [passages[1][1], passages[0][1]] if answer.grounding == "passed" else [passages[1][1]]
    assert [s.path for s in answer.sources] == expected
    assert prompting.count_estimated(assistant.engine.prompt_messages(QUESTION, [])) < 4096


def test_openai_condenses_a_follow_up_with_the_history(
    indexed: Settings, embeddings: LocalEmbeddings, server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant = Assistant(use_openai(monkeypatch, server.url), embeddings=embeddings)
    history = [(QUESTION, "Employers with a pay bill over £3 million pay it [1].")]

    answer = assistant.answer("When did it start?", history)

    assert answer.query == STANDALONE and answer.found
    condense, respond = server.requests
    prompt = "\n".join(m["content"] for m in condense["messages"])
    assert QUESTION in prompt and "Employers with a pay bill over £3 million pay it." in prompt
    assert "When did it start?" in prompt and "[1]" not in prompt
    # One line, not an essay: the cap sent both as OpenAI's max_completion_tokens and as the
    # max_tokens that llama.cpp's and other compatible servers read.
    assert condense["stop"] == ["\n"]
    assert condense["max_completion_tokens"] == condense["max_tokens"] == prompting.CONDENSE_TOKENS
    assert respond["max_completion_tokens"] == respond["max_tokens"] == prompting.ANSWER_TOKENS
    assert "stop" not in respond
    assert respond["messages"][1]["content"].rstrip().endswith(f"Question: {STANDALONE}")


def test_openai_unreachable_server_fails_fast_naming_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = openai_engine.make_openai_engine(use_openai(monkeypatch, url))
    started = time.monotonic()
    with pytest.raises(AssistantError, match=re.escape(url)):
        list(engine.stream(QUESTION, [passage("Employers pay the levy.")]))
    with pytest.raises(AssistantError, match=re.escape(url)):
        engine.condense("When?", [(QUESTION, "Employers [1].")])
    assert time.monotonic() - started < 10


def test_openai_server_refusal_names_the_url_and_status(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = openai_engine.make_openai_engine(use_openai(monkeypatch, server.url, model="no-such-model"))
    with pytest.raises(AssistantError, match=rf"{re.escape(server.url)}.*404.*no-such-model not found"):
        list(engine.stream(QUESTION, [passage("Employers pay the levy.")]))


def test_openai_needs_a_model_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM", "openai")
    monkeypatch.delenv("ASSISTANT_LLM_MODEL", raising=False)
    with pytest.raises(ConfigError, match="ASSISTANT_LLM_MODEL"):
        openai_engine.make_openai_engine(Settings())


def test_eval_llm_reports_how_the_models_answers_fared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that quotes its first passage for some questions and invents a year for the rest:
    the invented answers are replaced by quotes, and no shown sentence states a number its
    passages lack. Without --llm the same settings measure the extractive default."""
    asked: list[str] = []

    def quote_or_invent(body: dict) -> list[str]:
        human = body["messages"][-1]["content"]
        asked.append(human)
        first = fenced(human)[0][2].split(". ")[0].rstrip(".")
        return [f"{first} [1]."] if len(asked) % 2 else ["It was decided in 1999 [1]."]

    server = ChatServer(quote_or_invent)
    use_openai(monkeypatch, server.url)
    data = squad_file(tmp_path / "small.json", ARTICLES)
    try:
        extractive = CliRunner().invoke(cli, ["eval", str(data), "--json", str(tmp_path / "plain.json")])
        assert extractive.exit_code == 0, extractive.output
        assert not server.requests and "answers by extractive" in extractive.stdout
        plain = json.loads((tmp_path / "plain.json").read_text())["ours"]
        assert plain["grounded_rate"] is None and plain["fallback_rate"] is None

        result = CliRunner().invoke(cli, ["eval", str(data), "--llm", "--json", str(tmp_path / "llm.json")])
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    assert "answers by openai (test-model)" in result.stdout and "grounded_rate" in result.stdout
    figures = json.loads((tmp_path / "llm.json").read_text())["ours"]
    assert figures["fallback_rate"] > 0 and figures["grounded_rate"] > 0
    assert figures["grounded_rate"] + figures["fallback_rate"] == pytest.approx(1.0)
    assert figures["unsupported_numbers_shown"] == 0
    assert figures["answer_hit"] > 0


@pytest.mark.parametrize(
    ("name", "reply"), [("empty", lambda body: []), ("endless", lambda body: itertools.repeat("levy "))]
)
def test_a_misbehaving_server_gives_the_quoted_answer_in_good_time(
    indexed: Settings, embeddings: LocalEmbeddings, monkeypatch: pytest.MonkeyPatch, name: str,
    reply: Callable[[dict], Iterable[str]],
) -> None:
    server = ChatServer(reply)
    try:
        assistant = Assistant(use_openai(monkeypatch, server.url), embeddings=embeddings)
        started = time.monotonic()
        answer = assistant.answer(QUESTION)
    finally:
        server.close()
    assert time.monotonic() - started < 30, name
    assert answer.found and answer.sources, name
    assert answer.grounding.startswith("fallback: " + ("the model wrote nothing" if name == "empty" else "")), name
    # Read no further than the token budget allows (a piece is about a token).
    assert len(answer.model_text) <= prompting.MAX_PIECES_PER_TOKEN * prompting.ANSWER_TOKENS * len("levy ")


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        (lambda body: 500, r"refused the request \(500\): .*the model failed"),
        (lambda body: [b"Employers pay the levy \xff\xfe caf\xe9 [1]."], "sent a reply that is not UTF-8 text"),
    ],
)
def test_a_server_failure_is_one_clear_line(
    indexed: Settings, embeddings: LocalEmbeddings, monkeypatch: pytest.MonkeyPatch,
    reply: Callable[[dict], Iterable[bytes] | int], failure: str,
) -> None:
    server = ChatServer(reply)
    try:
        assistant = Assistant(use_openai(monkeypatch, server.url), embeddings=embeddings)
        with pytest.raises(AssistantError, match=rf"^the LLM server at {re.escape(server.url)} {failure}"):
            assistant.answer(QUESTION)
    finally:
        server.close()
