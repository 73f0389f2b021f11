"""Chinese questions read through CC-CEDICT: the dictionary's words, and English documents found
and quoted for a Chinese question with the default, English-only model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import glossary
from assistant.answering.chain import QUOTED_FROM_ENGLISH, Assistant
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.glossary import chinese_words, english_words
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


def test_an_english_word_stands_for_the_chinese_words_with_its_sense() -> None:
    first, _, workshop, built = chinese_words("Where was the first Luban Workshop built?")[:4]
    assert "第一" in first and "工坊" in workshop and "建成" in built  # through its lemma, "build"
    # A place is named before what it is ("Tianjin, a municipality ..."), a name keeps its own spelling.
    assert "天津" in chinese_words("Tianjin")[0] and "luban" in chinese_words("Luban")[0]


def test_the_english_to_chinese_table_is_kept_in_the_model_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE", str(tmp_path))
    glossary._chinese_for.cache_clear()
    try:
        made = glossary._chinese_for()
        [kept] = tmp_path.glob("cedict-chinese-for-*.json")
        glossary._chinese_for.cache_clear()
        assert glossary._chinese_for() == made
        # A damaged file is made again, not trusted.
        kept.write_text('{"first": ["', encoding="utf-8")
        glossary._chinese_for.cache_clear()
        assert glossary._chinese_for() == made and json.loads(kept.read_text(encoding="utf-8"))
    finally:
        glossary._chinese_for.cache_clear()


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


def _assistant_over(settings: Settings, embeddings: LocalEmbeddings, documents: dict[str, str]) -> Assistant:
    """An assistant over an index of just ``documents`` (file name: text), with the default model."""
    for name, text in documents.items():
        write(settings.docs_dir, name, text)
    assert not sync(settings, embeddings=embeddings).failed
    return Assistant(settings, embeddings=embeddings)


def test_a_chinese_question_finds_english_documents_with_the_default_model(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    assistant = _assistant_over(settings, embeddings, {"levy.md": LEVY_DOC, "partnership.md": PARTNERSHIP_DOC})

    answer = assistant.answer("英国的学徒税是哪一年开始征收的？")
    assert answer.found and answer.text.startswith(QUOTED_FROM_ENGLISH), answer.text
    assert "6 April 2017" in answer.text and answer.sources[0].path == "levy.md"

    answer = assistant.answer("宁波职业技术学院和哪所英国学院签订了合作协议？")
    assert answer.found and "Harbourside College" in answer.text, answer.text
    assert answer.sources[0].path == "partnership.md"

    # One word in common is no sign of an answer: "Frances" is not France, nor 学院 a capital.
    for question in ["法国的首都是哪里？", "火星上有水吗？", "谁发明了电话？"]:
        assert not assistant.answer(question).found, question


LUBAN_DOC_ZH = """---
title: 鲁班工坊
language: zh
---

# 鲁班工坊

鲁班工坊是天津市首创的职业教育国际合作品牌。第一家鲁班工坊于2016年3月在泰国大城技术学院建成，由天津渤海职业技术学院与泰方合作建设。此后，天津的职业院校在亚洲、非洲和欧洲的多个国家陆续建成了鲁班工坊。
"""


def test_an_english_question_finds_chinese_documents_with_the_default_model(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    assistant = _assistant_over(settings, embeddings, {"luban.md": LUBAN_DOC_ZH, "levy.md": LEVY_DOC})

    answer = assistant.answer("In which country was the first Luban Workshop built?")
    assert answer.found and "泰国" in answer.text and answer.sources[0].path == "luban.md", answer.text
    # An English answer comes first where an English passage answers.
    answer = assistant.answer("When did employers start paying the apprenticeship levy?")
    assert answer.sources[0].path == "levy.md" and "6 April 2017" in answer.text
