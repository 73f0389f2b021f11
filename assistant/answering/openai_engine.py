"""The "openai" engine: any server that speaks the OpenAI chat API (vLLM, llama.cpp, Ollama, LM Studio ...)."""

from __future__ import annotations

from collections.abc import Callable

from assistant.answering.prompting import ANSWER_TOKENS, CONDENSE_TOKENS, LLMEngine, count_estimated
from assistant.config import Settings
from assistant.errors import AssistantError, ConfigError

# Seconds; a server that cannot even be connected to should fail fast, a slow answer should not.
REQUEST_TIMEOUT = 120.0
CONNECT_TIMEOUT = 5.0
OPENAI_URL = "https://api.openai.com/v1"


def _openai_failure(base_url: str) -> Callable[[Exception], AssistantError | None]:
    import openai

    def describe(exc: Exception) -> AssistantError | None:
        if isinstance(exc, openai.APITimeoutError):
            return AssistantError(f"the LLM server at {base_url} did not answer in time")
        if isinstance(exc, openai.APIConnectionError) and _dropped_mid_reply(exc):
            return AssistantError(f"the LLM server at {base_url} closed the connection in the middle of its answer")
        if isinstance(exc, openai.APIConnectionError):
            return AssistantError(f"could not connect to the LLM server at {base_url} (ASSISTANT_LLM_BASE_URL)")
        if isinstance(exc, UnicodeDecodeError):
            return AssistantError(f"the LLM server at {base_url} sent a reply that is not UTF-8 text")
        if isinstance(exc, openai.APIStatusError):
            return AssistantError(
                f"the LLM server at {base_url} refused the request ({exc.status_code}): {exc.message}"
            )
        return None

    return describe


def _dropped_mid_reply(exc: Exception) -> bool:
    """Whether the connection broke after the reply began (HTTP's "incomplete message body"),
    rather than never being made."""
    cause = exc.__cause__
    while cause is not None:
        if type(cause).__name__ == "RemoteProtocolError":
            return True
        cause = cause.__cause__
    return False


def make_openai_engine(settings: Settings) -> LLMEngine:
    """An engine over an OpenAI-compatible chat server."""
    if not settings.llm_model:
        raise ConfigError("ASSISTANT_LLM=openai needs a model name: set ASSISTANT_LLM_MODEL")
    import httpx
    from langchain_openai import ChatOpenAI

    base_url = settings.llm_base_url or OPENAI_URL
    openai_itself = base_url.startswith(OPENAI_URL)
    model = ChatOpenAI(
        base_url=base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key or "not-needed",  # local servers ignore it; the client insists on one
        streaming=True,
        timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
        max_retries=1,
        temperature=0,
        max_tokens=ANSWER_TOKENS,
        # LangChain sends the cap as OpenAI's max_completion_tokens, which llama.cpp's and other
        # compatible servers ignore (they read max_tokens): sent both ways to any server but OpenAI's.
        extra_body=None if openai_itself else {"max_tokens": ANSWER_TOKENS},
    )
    return LLMEngine(
        model,
        name="openai",
        count_tokens=count_estimated,
        context_tokens=settings.llm_context_tokens,
        answer_tokens=ANSWER_TOKENS,
        describe_failure=_openai_failure(base_url),
        condense_options=None if openai_itself else {"extra_body": {"max_tokens": CONDENSE_TOKENS}},
    )


