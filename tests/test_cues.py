"""Question-type cues, on hand-made questions and sentences."""

import pytest

from assistant.answering import cues


@pytest.mark.parametrize(
    ("question", "sentence", "offered"),
    [
        ("When did the war end?", "The war ended in 1453 after a long siege.", True),
        ("When did the war end?", "The war ended after a long siege.", False),
        ("When did the 1992 reform start?", "The 1992 reform made polytechnics universities.", False),
        ("How many plays did Denver run?", "Denver ran three plays from the goal line.", True),
        ("How many plays did Denver run?", "Denver ran plays from the goal line.", False),
        ("Who authored the Liber servitoris?", "It was written by Abu al-Qasim al-Zahrawi.", True),
        ("Who authored the Liber servitoris?", "His Liber servitoris is of particular interest.", False),
        ("Where is the river?", "The city lies on the banks of the St. Johns River.", True),
        ("哪一年建成的？", "该桥于1937年建成。", True),
    ],
)
def test_a_sentence_offers_what_the_question_asks_for(question: str, sentence: str, offered: bool) -> None:
    pattern = cues.wanted(question)
    assert pattern is not None
    assert cues.offers(pattern, sentence, question) is offered


@pytest.mark.parametrize("question", ["What is the term for such a task?", "Why did it fail?", "解释一下原因"])
def test_other_questions_want_nothing_in_particular(question: str) -> None:
    assert cues.wanted(question) is None
