"""Chinese questions read through CC-CEDICT: the dictionary's words, and English documents found
and quoted for a Chinese question with the default, English-only model."""

from __future__ import annotations

from assistant.answering.chain import QUOTED_FROM_ENGLISH, Assistant
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.glossary import english_words
from assistant.store.sync import sync
from tests.conftest import write


def test_a_chinese_word_stands_for_its_english_senses() -> None:
    words = english_words("英国的学徒税是哪一年开始征收的？")
    assert any("apprentice" in word for word in words)
    assert any({"tax", "levy"} & word for word in words)
    # Question words ("哪一年") and particles ("的") are not looked for.
    assert all(not word & {"which", "year"} for word in words)
    # A sense comes in every form of its words: "to win" is found in "won".
    assert any("won" in word for word in english_words("谁赢得了金牌？"))


def test_a_name_the_dictionary_lacks_is_read_as_pinyin() -> None:
    # English writes a Chinese given name as one word: "Wang Xiaoping", "Liu Jing".
    assert english_words("王晓萍签署了什么？")[:2] == [frozenset({"wang"}), frozenset({"xiaoping", "xiao", "ping"})]
    assert english_words("刘婧是谁？") == [frozenset({"liu"}), frozenset({"jing"})]


def test_english_words_and_numbers_in_a_chinese_question_stay_as_they_are() -> None:
    assert [frozenset({"level"}), frozenset({"2020"})] == [w for w in english_words("T Level 2020年") if len(w) == 1]


LEVY_DOC = """---
title: The apprenticeship levy
---

# The apprenticeship levy

The apprenticeship levy is a tax on UK employers with an annual pay bill over £3 million. It has
been paid since 6 April 2017, at 0.5% of the pay bill, through PAYE. Employers in England use
the funds in their apprenticeship service account to pay for training and assessment.
"""

PARTNERSHIP_DOC = """---
title: Harbourside College and Ningbo Polytechnic
---

# A college partnership

Harbourside College signed a partnership agreement with Ningbo Polytechnic in March 2019. The
two colleges run a joint programme in marine engineering, and twelve lecturers have visited
each other's workshops since then. The programme director is Dr Alison Grey.
"""


def test_a_chinese_question_finds_english_documents_with_the_default_model(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    write(settings.docs_dir, "partnership.md", PARTNERSHIP_DOC)
    assert not sync(settings, embeddings=embeddings).failed
    assistant = Assistant(settings, embeddings=embeddings)

    answer = assistant.answer("英国的学徒税是哪一年开始征收的？")
    assert answer.found and answer.text.startswith(QUOTED_FROM_ENGLISH), answer.text
    assert "6 April 2017" in answer.text and answer.sources[0].path == "levy.md"

    answer = assistant.answer("宁波职业技术学院和哪所英国学院签订了合作协议？")
    assert answer.found and "Harbourside College" in answer.text, answer.text
    assert answer.sources[0].path == "partnership.md"

    # One word in common is no sign of an answer: "Frances" is not France, nor 学院 a capital.
    for question in ["法国的首都是哪里？", "火星上有水吗？", "谁发明了电话？"]:
        assert not assistant.answer(question).found, question
