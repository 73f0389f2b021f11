"""The "openai" engine: any server that speaks the OpenAI chat API (vLLM, llama.cpp, Ollama, LM Studio ...)."""

from __future__ import annotations

from collections.abc import Callable

from assistant.answering.prompting import ANSWER_TOKENS, LLMEngine, count_estimated
from assistant.config import Settings
from assistant.errors import AssistantError, ConfigError

# Seconds; a server that cannot even be connected to should fail fast, a slow answer should not.
REQUEST_TIMEOUT = 120.0
CONNECT_TIMEOUT = 5.0


def _openai_failure(base_url: str) -> Callable[[Exception], AssistantError | None]:
    import openai

    def describe(exc: Exception) -> AssistantError | None:
        if isinstance(exc, openai.APITimeoutError):
            return AssistantError(f"the LLM server at {base_url} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return AssistantError(f"could not connect to the LLM server at {base_url} (ASSISTANT_LLM_BASE_URL)")
        if isinstance(exc, openai.APIStatusError):
            return AssistantError(
                f"the LLM server at {base_url} refused the request ({exc.status_code}): {exc.message}"
            )
        return None

    return describe


def make_openai_engine(settings: Settings) -> LLMEngine:
    """An engine over an OpenAI-compatible chat server."""
    if not settings.llm_model:
        raise ConfigError("ASSISTANT_LLM=openai needs a model name: set ASSISTANT_LLM_MODEL")
    import httpx
    from langchain_openai import ChatOpenAI

    base_url = settings.llm_base_url or "https://api.openai.com/v1"
    model = ChatOpenAI(
        base_url=base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key or "not-needed",  # local servers ignore it; the client insists on one
        streaming=True,
        timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
        max_retries=1,
        temperature=0,
        max_tokens=ANSWER_TOKENS,
    )
    return LLMEngine(
        model,
        name="openai",
        count_tokens=count_estimated,
        context_tokens=settings.llm_context_tokens,
        answer_tokens=ANSWER_TOKENS,
        describe_failure=_openai_failure(base_url),
    )


