"""The extractive engine's choice of sentences, on hand-made passages and vectors, and on a real index."""

import re

import numpy as np

from assistant.answering.chain import Assistant
from assistant.answering.extractive import ExtractiveEngine
from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.store.sync import sync
from assistant.text import sentences
from assistant.types import Passage
from tests.conftest import write
from tests.engines import EVIL_DOC, QUESTION
from tests.test_text import TABLE_PAGE


class _FlatEmbeddings:
    """Every sentence as near the question as every other: only words and cues decide."""

    def embed_query(self, text: str) -> list[float]:
        return list(np.eye(9)[0])

    def reads(self, text: str) -> bool:
        return True


def _engine(passage: Passage) -> ExtractiveEngine:
    # Every sentence equally near the question.
    vectors = [(np.eye(9)[0] + np.eye(9)[i + 1]) / np.sqrt(2) for i in range(8)]
    stored = {cid: list(zip(sentences(passage.text), vectors, strict=False)) for cid in passage.ids}

    def weigh(words: list[frozenset[str]]) -> list[tuple[frozenset[str], float]]:
        return [(word, 1.0) for word in words]

    return ExtractiveEngine(_FlatEmbeddings(), weigh, lambda ids: {c: stored[c] for c in ids})


def _answer(question: str, text: str) -> str:
    passage = Passage(ids=["a"], text=text, metadata={"source": "a.md"}, similarity=0.5, coverage=0.5)
    return "".join(_engine(passage).stream(question, [passage]))


def test_a_when_question_prefers_the_sentence_with_a_date() -> None:
    answer = _answer(
        "When did the museum open its new wing?",
        "The museum built a new wing for modern art. The new wing opened in March 1998.",
    )
    assert answer.startswith("The new wing opened in March 1998.")


def test_the_sentence_after_a_restatement_of_the_question_can_join_the_answer() -> None:
    answer = _answer(
        "Which tests check the primality of large numbers quickly?",
        "Several tests check the primality of large numbers quickly. "
        "These tests for large ones include Miller-Rabin and AKS. Trial division is slow.",
    )
    assert "Miller-Rabin" in answer and "Trial division" not in answer


def test_a_sentence_said_twice_is_given_once() -> None:
    answer = _answer(
        "Which tests check the primality of large numbers quickly?",
        "Fast tests check the primality of large numbers quickly. Fast tests check primality of large numbers quickly.",
    )
    assert answer.count("primality") == 1


def test_the_extractive_engine_only_quotes_a_document_that_gives_orders(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    write(settings.docs_dir, "levy-notes.md", EVIL_DOC)
    sync(settings, embeddings=embeddings)
    result = Assistant(settings, embeddings=embeddings).answer(QUESTION)
    assert result.found
    assert result.text.startswith("The apprenticeship levy is paid by employers with a large pay bill.")
    # Whatever it picks is the document's own words, cited: an order in the text is never carried out.
    for quoted in re.split(r"\s*\[\d+\]\s*", result.text):
        assert quoted.removesuffix(" …") in EVIL_DOC


def test_a_sentence_leaning_on_the_one_before_comes_after_it() -> None:
    text = (
        "The Wexcombe alliance was founded in March 2029 by two colleges. "
        "Its director is Captain Mara Okafor, a former signalling engineer. "
        "Trainers visit both depots twice a year."
    )
    answer = _answer("Who is the director of the Wexcombe alliance?", text)
    # "Its director ..." names nobody without the sentence it leans on, which comes first.
    assert answer.startswith("The Wexcombe alliance was founded in March 2029 by two colleges. [1] Its director")


def test_a_sentence_whose_object_pronoun_names_the_subject_is_read_with_the_sentence_before() -> None:
    text = (
        "The Council publishes a yearly report on training. "
        "The basic rules are the Regulations on Cooperation in Running Schools. "
        "The State Council adopted them in February 2003 and brought them into force on 1 September 2003."
    )
    answer = _answer("When did the Regulations on Cooperation in Running Schools come into force?", text)
    # "them" are the Regulations: the date answers only when read with the sentence that names them.
    assert answer == (
        "The basic rules are the Regulations on Cooperation in Running Schools. [1] The State Council adopted them "
        "in February 2003 and brought them into force on 1 September 2003. [1]"
    )


def test_a_when_question_is_answered_by_a_date_first() -> None:
    text = (
        "The RQF is the framework for every qualification regulated by Ofqual in England. "
        "It came into use on 1 October 2015. "
        "The RQF sorts qualifications by level and by size."
    )
    answer = _answer("When did the RQF start?", text)
    dated = answer.index("1 October 2015")
    assert all(answer.index(s) < dated for s in ("The RQF is the framework",))  # only its antecedent before it
    assert "Ofqual in England. [1] It came into use on 1 October 2015. [1]" in answer


def test_a_chinese_sentence_that_refers_back_brings_in_the_one_before() -> None:
    answer = _answer(
        "英国被授予了什么称号？",
        "2021年10月，中国国际教育年会在北京举行。会上，英国被授予优秀合作伙伴称号。",
    )
    assert answer.index("2021年10月") < answer.index("会上，英国被授予优秀合作伙伴称号")


def test_a_who_is_question_leads_with_the_sentence_that_says_who() -> None:
    answer = _answer(
        "Who is Liu Jing?",
        "Liu Jing, who led the UK trade department's education work in China, gave the interview. "
        "Liu Jing spoke in Beijing about skills. "
        "Liu Jing said China and Britain both value vocational education.",
    )
    assert answer.startswith("Liu Jing, who led")


def test_a_table_row_is_read_with_its_section_headings() -> None:
    # Both rows say the same words; only the headings above them say which course each is about.
    answer = _answer("What is the maximum course length of a Skills Bootcamp?", TABLE_PAGE)
    assert answer.startswith("Maximum course length | 16 weeks [1]")


def test_a_documents_own_reference_marks_are_not_quoted_as_citations() -> None:
    # Quoted as written, "[2]" would cite the answer's second source.
    answer = _answer("When did the bridge open?", "The bridge opened in 1937 [2]. It carries a road [3, 4].")
    assert answer.startswith("The bridge opened in 1937. [1]") and "[2]" not in answer
    answer = _answer("When did the bridge open?", "The bridge opened in 1937.[citation needed] It is long.")
    assert answer.startswith("The bridge opened in 1937. [1]")


def test_a_documents_list_of_sources_is_never_quoted() -> None:
    answer = _answer(
        "When did the rules on cooperation in running schools come into force?",
        "## The rules\nThe rules were adopted in February and came into force that autumn, on 1 September 2003.\n\n"
        "## Sources\nXinhua, 5 April 2003, on the rules on cooperation in running schools and when they came"
        " into force.",
    )
    assert answer.startswith("The rules were adopted") and "Xinhua" not in answer


def test_a_section_called_notes_is_quoted_like_any_other() -> None:
    answer = _answer("How long does the warranty last?", "## Notes\nThe warranty lasts two years from the sale.")
    assert answer.startswith("The warranty lasts two years")


def test_a_how_many_question_is_answered_by_the_sentence_with_a_number_over_one_with_more_of_its_words() -> None:
    answer = _answer(
        "How many people attended the coordinators' workshop in Chengdu?",
        "The coordinators' workshop in Chengdu was attended by people from partner colleges in the west. "
        "Twenty-nine coordinators took part.",
    )
    assert answer.startswith("Twenty-nine coordinators took part.")


def test_a_lead_in_to_a_list_is_quoted_with_the_list() -> None:
    answer = _answer(
        "What were the people divided into?",
        "The people were divided into five compartments:\n"
        "susceptible people, exposed people, infected people, asymptomatic people and removed people.\n"
        "The birth rate was fixed.",
    )
    assert answer.startswith("The people were divided into five compartments: [1] susceptible people")


def test_an_acronym_the_passage_defines_counts_as_its_name() -> None:
    answer = _answer(
        "When did the Regulated Qualifications Framework come into use?",
        "This note is about the Regulated Qualifications Framework (RQF) and its levels. "
        "Qualifications have levels and sizes. The RQF came into use in 2015. Levels run from 1 to 8.",
    )
    assert answer.startswith("The RQF came into use in 2015.")


def test_a_table_row_is_quoted_after_the_header_that_names_its_cells() -> None:
    answer = _answer(
        "How many staff were trained in 2023?",
        "Participation grew each year.\n\n"
        "| Year | Students abroad | Students online | Staff trained |\n|---|---|---|---|\n"
        "| 2022 | 0 | 45 | 6 |\n| 2023 | 12 | 80 | 10 |\n",
    )
    assert answer.startswith("Year | Students abroad | Students online | Staff trained [1] 2023 | 12 | 80 | 10 [1]")
    assert answer.count("Staff trained") == 1


def test_a_question_after_a_sum_no_sentence_states_gets_no_answer() -> None:
    text = "The memorandum was signed in Beijing in July 2011. It ran for three years and covered five areas."
    assert _answer("What was the budget of the July 2011 memorandum?", text) == ""
    assert "It ran for three years" in _answer("How long did the memorandum run?", text)


def test_a_question_that_names_its_own_subject_is_not_taken_for_a_follow_up() -> None:
    # "What is the capital of France?" after a question about a laboratory was asked as a question
    # about the laboratory: two words were enough to count as a follow-up.
    engine = _engine(Passage(ids=["a"], text="", metadata={}, similarity=0.0, coverage=0.0))
    history = [("How many workstations does the battery laboratory have?", "Sixteen [1].")]
    for question in ("What is the capital of France?", "Who is Liu Jing?", "刘婧是谁？", "法国的首都是哪里？"):
        assert engine.condense(question, history) == question
    for question in ("When did it start?", "And in 2019?", "What about Jiangsu?", "When?", "The budget for 2019?",
                     "那2019年呢？", "它是什么时候启用的？", "资金多少？"):
        assert engine.condense(question, history) == f"{question} ({history[0][0]})"
    # A follow-up of a follow-up carries the question the first one leaned on.
    chat = [("What is the Joint Training Centre?", "A centre [1]."), ("When did it open?", "In 2024 [1].")]
    assert engine.condense("And how many workstations?", chat) == (
        "And how many workstations? (When did it open? (What is the Joint Training Centre?))"
    )


def test_a_question_about_one_year_is_not_answered_by_sentences_about_others() -> None:
    text = "The partnership's total budget for 2024 was £186,000. Spending on exchanges came to £99,450 in 2024."
    assert _answer("What was the total budget for 2023?", text) == ""
    assert _answer("What was the total budget for 2024?", text).startswith("The partnership's total budget for 2024")
    # A year the sentence's heading gives is its year too.
    assert _answer("What was the budget in 2023?", "# Budget 2023\nThe budget was £120,000, up from 2022.") != ""
