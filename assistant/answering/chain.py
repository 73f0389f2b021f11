"""The retrieval chain (condense -> retrieve -> gate -> engine -> citations) as a LangChain Runnable,
and the Python API over it: answer() and stream_answer()."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypedDict

from langchain_core.runnables import Runnable, RunnableConfig

from assistant.answering import cues, grounding
from assistant.answering.citations import CitationNumbering
from assistant.answering.engines import make_engine, make_extractive_engine
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings
from assistant.errors import QuestionError
from assistant.search.retriever import HybridRetriever, in_language, language_of
from assistant.text import has_cjk
from assistant.types import CITATION, NOT_FOUND, NOT_FOUND_ZH, Answer, Engine, Passage, Source

History = list[tuple[str, str]]
# A server that cannot fit the prompt in its context window may reply with nothing at all.
EMPTY_REPLY = "the model wrote nothing (is ASSISTANT_LLM_CONTEXT_TOKENS within the server's context window?)"
# A passage given to the engine is at least this share of the way to the gate's threshold.
PASSAGE_SHARE_OF_GATE = 0.5
QUOTED_FROM_ENGLISH = "以下回答引自英文文档原文："
UNGROUNDED_NOTICE = "The model's answer could not be tied to the documents; these are their own words:"
# Follow-ups lean on the latest turns only; older ones are never read.
HISTORY_TURNS = 20
# An earlier answer is context for a follow-up, never searched whole.
MAX_ANSWER_CHARS = 4000


class Question(TypedDict, total=False):
    """What the chain takes: a question, and earlier (question, answer) turns it may lean on."""

    question: str
    history: History


def check_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    cleaned = _valid_text(question, "question").strip()
    if not cleaned:
        raise QuestionError("the question is empty")
    if len(cleaned) > max_chars:
        raise QuestionError(f"the question is {len(cleaned)} characters long; the limit is {max_chars}")
    printable = sum(ch.isprintable() or ch.isspace() for ch in cleaned)
    if printable < 0.9 * len(cleaned) or not re.search(r"\w", cleaned):
        raise QuestionError("the question is not readable text")
    return cleaned


def check_history(history: object, max_chars: int) -> History:
    """The latest turns of a chat history, each checked as a question is; anything else is a QuestionError.

    Bounded like a question: a client can send any history, and it is searched and prompted with.
    """
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise QuestionError("the chat history must be a list of [question, answer] pairs")
    turns: History = []
    for number, turn in enumerate(history[-HISTORY_TURNS:], start=1):
        if not isinstance(turn, list | tuple) or len(turn) != 2 or not all(isinstance(t, str) for t in turn):
            raise QuestionError(f"chat history turn {number} is not a [question, answer] pair of texts")
        try:
            asked = check_question(turn[0], max_chars)
        except QuestionError as exc:
            raise QuestionError(f"chat history turn {number}: {exc}") from None
        turns.append((asked, _valid_text(turn[1], "answer")[: MAX_ANSWER_CHARS]))
    return turns


def _valid_text(text: str, what: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionError(f"the {what} is not valid text (it holds a lone surrogate)") from None
    return text


def _question_and_history(given: str | Question, max_chars: int) -> tuple[str, History]:
    if isinstance(given, dict):
        return check_question(given.get("question"), max_chars), check_history(given.get("history"), max_chars)
    return check_question(given, max_chars), []


class Assistant(Runnable[str | Question, Answer]):
    """The retrieval chain over one index: condense, retrieve, gate, answer, cite.

    ``invoke("...")`` or ``invoke({"question": "...", "history": [(q, a), ...]})`` gives the Answer;
    ``stream`` yields the answer's text in pieces and then the complete Answer.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: LocalEmbeddings | None = None,
        retriever: HybridRetriever | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.embeddings = embeddings or load_embeddings(self.settings)
        self.retriever = retriever or HybridRetriever.open(self.settings, self.embeddings)
        self.engine = engine or make_engine(self.settings, self.embeddings, self.retriever)
        # What stands in when a language model's answer cannot be tied to the passages.
        self.fallback = make_extractive_engine(self.embeddings, self.retriever)

    def stream(
        self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str | Answer]:
        question, history = _question_and_history(input, self.settings.max_question_chars)
        query = self.engine.condense(question, history) if history else question
        yield from self.respond(query, self.retriever.search(cues.searched_for(query)))

    def invoke(self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        *_, final = self.stream(input, config)
        return final

    def answer(self, question: str, history: History | None = None) -> Answer:
        """The Answer to ``question``, following on from ``history``."""
        return self.invoke({"question": question, "history": history or []})

    def respond(self, query: str, passages: list[Passage]) -> Iterator[str | Answer]:
        """The answer from already retrieved passages, or a refusal when none is relevant enough.

        A language model's answer is checked against the passages it cites (see ``grounding``)
        before it counts as an answer; when it cannot be tied to them, the quoted (extractive)
        answer from the same passages stands in, with a line saying so.
        """
        if not passages or max(p.relevance for p in passages) < self.settings.min_relevance \
                or _about_something_else(query, passages):
            yield declined(query)
            yield Answer(declined(query), [], found=False, query=query)
            return
        # Retrieval fills its k places whatever their worth; one far below the gate is left out
        # rather than quoted (a passage in the question's language can share a word and nothing else).
        passages = [p for p in passages if p.relevance >= PASSAGE_SHARE_OF_GATE * self.settings.min_relevance]
        numbering = CitationNumbering(passages)
        pieces: list[str] = []
        raws: Iterable[str] = self.engine.stream(query, passages)
        if self.engine.name == "extractive":
            # Quoting needs no model, so the answer is read whole first: its opening line says when
            # a Chinese question's quotes are all English.
            raws = list(raws)
            if note := _quoted_across_languages(query, passages, "".join(raws)):
                pieces.append(note)
                yield note
        for raw in raws:
            if piece := numbering.feed(raw):
                pieces.append(piece)
                yield piece
        if tail := numbering.flush():
            pieces.append(tail)
            yield tail
        text = "".join(pieces).strip()
        if self.engine.name == "extractive":
            if not numbering.cited:  # nothing grounded in a passage is not an answer
                yield Answer(declined(query), [], found=False, query=query)
                return
            yield _found(text, numbering.sources(text), query)
            return
        if not numbering.cited and NOT_FOUND.rstrip(".").lower() in text.lower():
            yield Answer(declined(query), [], found=False, query=query, grounding="declined by the model",
                         model_text=text)
            return
        if not text:
            yield from self._quoted_instead(query, passages, text, EMPTY_REPLY)
            return
        cited = {n: passages[position] for n, position in enumerate(numbering.cited, start=1)}
        checked = grounding.check(text, cited)
        if checked.text is None:
            yield from self._quoted_instead(query, passages, text, checked.grounding)
            return
        # Renumbered again: a removed sentence may have been a source's only citation.
        shown = CitationNumbering([cited[n] for n in sorted(cited)])
        final = shown.feed(checked.text) + shown.flush()
        yield _found(final, shown.sources(final), query, grounding=checked.grounding,
                     model_text=text)

    def _quoted_instead(self, query: str, passages: list[Passage], model_text: str, reason: str) -> Iterator:
        """The extractive answer over the same passages, after a line saying the model's could not be used."""
        numbering = CitationNumbering(passages)
        quoted = numbering.feed("".join(self.fallback.stream(query, passages))) + numbering.flush()
        if not numbering.cited:
            yield Answer(declined(query), [], found=False, query=query, grounding=f"fallback: {reason}",
                         model_text=model_text)
            return
        text = f"{UNGROUNDED_NOTICE}\n\n{quoted.strip()}"
        yield "\n\n" + text
        yield _found(text, numbering.sources(quoted), query, grounding=f"fallback: {reason}",
                     model_text=model_text)


def _found(text: str, sources: list[Source], query: str, **checks: str | None) -> Answer:
    """An answer, with the words in it that answer the question (a date, a number, a sum)."""
    return Answer(text, sources, found=True, query=query, phrase=cues.phrase(query, CITATION.sub("\n", text)), **checks)


def declined(question: str) -> str:
    """The decline, in the question's language."""
    return NOT_FOUND_ZH if has_cjk(question) else NOT_FOUND


def _about_something_else(question: str, passages: list[Passage]) -> bool:
    """The question gives a year, number, ordinal or name that no passage holds: the passages are
    about the fifth dialogue, not the sixth; 2021, not 2026; colleges, but none in Jiangsu. A
    passage's document title counts as its text ("The 2022 conference" over "The conference ...")."""
    texts = [p.text for p in passages] + [str(p.metadata.get("title", "")) for p in passages]
    if cues.unmatched_figures(question, texts):
        return True
    # Names are compared word for word, so only with passages in the question's language.
    language = language_of(question)
    if not all(in_language(p.metadata, language) for p in passages):
        return False
    return bool(cues.unmatched_names(question, texts))


def _quoted_across_languages(question: str, passages: list[Passage], quoted: str) -> str | None:
    """The line that opens a Chinese question's answer quoted from English passages only (the
    quotes stay as written: translating them would put words in the documents' mouths)."""
    cited = {int(n) for n in CITATION.findall(quoted)}
    sources = [p for n, p in enumerate(passages, start=1) if n in cited]
    if has_cjk(question) and sources and not any(in_language(p.metadata, "zh") for p in sources):
        return QUOTED_FROM_ENGLISH + "\n\n"
    return None


_default_lock = threading.Lock()


@functools.cache
def _assistant_for(settings: Settings) -> Assistant:
    return Assistant(settings)


def default_assistant() -> Assistant:
    """One Assistant per configuration, per process: the model and index load once."""
    with _default_lock:
        return _assistant_for(Settings())


def stream_answer(question: str, history: History | None = None) -> Iterator[str | Answer]:
    """Yield the answer's text pieces as they are produced, then the complete Answer."""
    return default_assistant().stream({"question": question, "history": history or []})


def answer(question: str, history: History | None = None) -> Answer:
    """Answer ``question`` from the indexed documents, citing them; ``found`` is False when it declines."""
    return default_assistant().answer(question, history)
