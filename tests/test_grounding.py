"""A language model's answer is shown only as far as the passages it cites bear it out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.answering import grounding
from assistant.answering.chain import UNGROUNDED_NOTICE, Assistant
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.sync import sync
from assistant.types import NOT_FOUND, Passage
from tests.conftest import write

AWARD = (
    "At the China International Education Annual Conference in October 2021, the United Kingdom received "
    "the title Excellent Partner for its cooperation with Chinese institutions, about 2,000 of them."
)


def _passage(text: str, source: str = "award.md") -> Passage:
    return Passage(ids=[source], text=text, metadata={"source": source, "title": source}, similarity=1.0,
                   coverage=1.0, relevance=1.0)


@pytest.mark.parametrize(
    ("answer", "shown", "found"),
    [
        ("The UK was named Excellent Partner in October 2021 [1].",
         "The UK was named Excellent Partner in October 2021. [1]", "passed"),
        # Numbers and months as people write them: 2000 ~ 2,000, Oct ~ October.
        ("It cooperates with 2000 Chinese institutions and won the title in Oct 2021. [1]",
         "It cooperates with 2000 Chinese institutions and won the title in Oct 2021. [1]", "passed"),
        # An invented year goes, and with it the only sentence: nothing is shown.
        ("The UK was named Excellent Partner in October 2011. [1]", None, "'2011' is in none of the passages"),
        # A name the passage does not hold.
        ("Wang Xiaoping presented the Excellent Partner title. [1]", None, "'xiaoping' is in none of the passages"),
        # Nothing cited at all.
        ("The UK was named Excellent Partner in October 2021.", None, "the answer cites no passage"),
        # A citation of a passage that shares no word with its sentence.
        ("Penguins live in Antarctica. [1]", None, "cites no passage that shares its words"),
        # One bad sentence of two is removed, the good one stays.
        ("The UK was named Excellent Partner. [1] It won in October 2011. [1]",
         "The UK was named Excellent Partner. [1]", "removed 1 sentence(s): '2011'"),
    ],
)
def test_each_sentence_is_checked_against_what_it_cites(answer: str, shown: str | None, found: str) -> None:
    checked = grounding.check(answer, {1: _passage(AWARD)})
    assert checked.text == shown
    assert found in checked.grounding


class ScriptedModel:
    """An LLM engine's face with a fixed reply: for the wiring of the check into the chain only."""

    name = "openai"

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def condense(self, question: str, history: list[tuple[str, str]]) -> str:
        return question

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        yield from (word + " " for word in self.reply.split(" "))  # word by word, as a server streams


@pytest.fixture
def award_index(settings: Settings, embeddings: LocalEmbeddings) -> Settings:
    write(settings.docs_dir, "award.md", f"# Excellent Partner\n\n{AWARD}\n")
    sync(settings, embeddings=embeddings)
    return settings


def _ask(settings: Settings, embeddings: LocalEmbeddings, reply: str) -> tuple[list[str], object]:
    assistant = Assistant(settings, embeddings=embeddings, engine=ScriptedModel(reply))
    *pieces, answer = assistant.stream("When was the UK named Excellent Partner?")
    return pieces, answer


def test_an_invention_is_never_shown_as_the_answer(award_index: Settings, embeddings: LocalEmbeddings) -> None:
    pieces, answer = _ask(award_index, embeddings, "The UK was named Excellent Partner in October 2011. [1]")
    assert answer.found and answer.text.startswith(UNGROUNDED_NOTICE)
    assert "October 2021" in answer.text and "2011" not in answer.text
    assert answer.grounding.startswith("fallback: '2011' is in none of the passages")
    assert "2011" in answer.model_text  # kept for those who want to see it
    assert [s.path for s in answer.sources] == ["award.md"]
    assert "".join(pieces).endswith(answer.text)  # the stream ends with what is shown


def test_an_uncited_answer_gives_way_to_the_quoted_one(award_index: Settings, embeddings: LocalEmbeddings) -> None:
    _, answer = _ask(award_index, embeddings, "The T Levels launched in September 2020.")
    assert answer.found and answer.text.startswith(UNGROUNDED_NOTICE)
    assert answer.grounding == "fallback: the answer cites no passage"


def test_a_model_that_says_it_cannot_find_it_declines(award_index: Settings, embeddings: LocalEmbeddings) -> None:
    _, answer = _ask(award_index, embeddings, NOT_FOUND)
    assert (answer.found, answer.text, answer.sources) == (False, NOT_FOUND, [])


def test_a_grounded_answer_is_shown_with_its_check(award_index: Settings, embeddings: LocalEmbeddings) -> None:
    _, answer = _ask(award_index, embeddings, "The UK was named Excellent Partner in October 2021. [1]")
    assert answer.text == "The UK was named Excellent Partner in October 2021. [1]"
    assert answer.grounding == "passed" and answer.as_dict()["grounding"] == "passed"


def test_the_chat_keeps_the_models_text_collapsed_under_a_quoted_answer() -> None:
    import app
    from assistant.types import Answer, Source

    source = Source(number=1, path="award.md", title="Award", page=None, snippet=AWARD, score=1.0)
    quoted = Answer(f"{UNGROUNDED_NOTICE}\n\nAt the conference in October 2021 ... [1]", [source],
                    grounding="fallback: '2011' is in none of the passages", model_text="In October 2011. [1]")
    answer, sources, model = app.answer_messages(quoted)
    assert model["metadata"]["title"].startswith("The model's answer")
    assert "2011" in model["content"] and "2011" not in answer["content"]
    grounded = Answer("In October 2021. [1]", [source], grounding="passed", model_text="In October 2021. [1]")
    assert len(app.answer_messages(grounded)) == 2


def test_the_chat_shows_a_models_text_only_as_a_draft_until_checked(
    award_index: Settings, embeddings: LocalEmbeddings
) -> None:
    import app

    engine = ScriptedModel("The UK was named Excellent Partner in October 2011. [1]")
    ui = app.AssistantUI(assistant=Assistant(award_index, embeddings=embeddings, engine=engine))
    *drafts, final = list(ui.chat("When was the UK named Excellent Partner?", []))
    assert drafts and all(d[0]["metadata"]["status"] == "pending" for d in drafts)
    answer, _sources, model = final
    assert "2011" not in answer["content"] and "October 2021" in answer["content"]
    assert "2011" in model["content"] and model["metadata"]["status"] == "done"
