"""Sentence splitting and word finding, on hand-made passages."""

import subprocess
import sys

import pytest

from assistant.text import (
    acronym_definitions,
    bare_line,
    cut_words,
    mostly_spelled_out,
    section_context,
    sentences,
    tokens,
    without_reference_marks,
    word_count,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The city lies on the St. Johns River. It floods in storms.",
         ["The city lies on the St. Johns River.", "It floods in storms."]),
        ("Nixon named William E. Simon as administrator. Simon served a year.",
         ["Nixon named William E. Simon as administrator.", "Simon served a year."]),
        ("It was supported by Jones et al. 1998 and others. Later work agreed.",
         ["It was supported by Jones et al. 1998 and others.", "Later work agreed."]),
        ("Prices rose 2.5 percent. Mr. Smith left early. He went home.",
         ["Prices rose 2.5 percent.", "Mr. Smith left early.", "He went home."]),
        ("A line ending in B.\nThe next line starts anew.", ["A line ending in B.", "The next line starts anew."]),
        ("该桥于1937年建成。它很长很长。", ["该桥于1937年建成。", "它很长很长。"]),
        # Headings, and fragments of fewer than two content words, are no sentences.
        ("# Funding\nThe levy funds training.\nOf the.\n是。", ["The levy funds training."]),
        # A run-in label, its bold lost in plain text, opens the sentence after it.
        ("Scale. Delegates came from 123 countries. They met in Tianjin.\n规模。 来自全球123个国家。",
         ["Scale. Delegates came from 123 countries.", "They met in Tianjin.", "规模。 来自全球123个国家。"]),
        ("The speaker was Liu Jing. She spoke first.", ["The speaker was Liu Jing.", "She spoke first."]),
        ("- Staff exchange. Six lecturers will teach abroad.", ["Staff exchange. Six lecturers will teach abroad."]),
        # A reference mark after the full stop belongs to neither sentence.
        ("The bridge opened in 1937.[12] It carries a road.[citation needed] Trains use it.",
         ["The bridge opened in 1937.", "It carries a road.", "Trains use it."]),
        ("# 这是什么？——一份解读\n## 问：这项制度从何而来？\n它始于2019年。", ["它始于2019年。"]),
        # A list item's sentences start after its bullet or number.
        ("Three rules apply:\n- an industry placement of 315 hours.\n2. Exams sit in June. Resits follow.",
         ["Three rules apply:", "an industry placement of 315 hours.", "Exams sit in June.", "Resits follow."]),
        ("a) The mean incubation period was 5.2 days.\n(ii) Cases doubled in a week.",
         ["The mean incubation period was 5.2 days.", "Cases doubled in a week."]),
        # A paper's note number after a full stop ends the sentence and belongs to neither.
        ("The outbreak was contained.5 Since 2012 it caused 2494 cases.4,5 Version 2.5 Was released.",
         ["The outbreak was contained.", "Since 2012 it caused 2494 cases.", "Version 2.5 Was released."]),
        # A timeline's date opens its entry's sentence.
        ("20 November 2017. The forum met in Beijing.\n2011年7月。双方签署备忘录。",
         ["20 November 2017. The forum met in Beijing.", "2011年7月。双方签署备忘录。"]),
        # A byline is no heading, though short and unpunctuated like one.
        ("# Summer school\nBy Tomasz Nowak, 18 July 2024\nTwenty-six students arrived in Sheffield.",
         ["By Tomasz Nowak, 18 July 2024", "Twenty-six students arrived in Sheffield."]),
        # A quotation of a few sentences stays whole: cut, it leaves a quotation mark that never closes.
        ('She said: "I want to work on brakes now. The depot showed me how." She returns in July.',
         ['She said: "I want to work on brakes now. The depot showed me how."', "She returns in July."]),
        ("他说：“我们明天出发。时间到了。”随后他离开了会场。", ["他说：“我们明天出发。时间到了。”随后他离开了会场。"]),
        # ... but a quotation mark astray between spaces opens none.
        ('We showed that the threshold is raised at high values, ". The model has many parameters. The "best" won.',
         ['We showed that the threshold is raised at high values, ".', "The model has many parameters.",
          'The "best" won.']),
    ],
)
def test_sentences_end_at_full_stops_but_not_after_initials_or_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_cut_words_counts_as_word_count_does() -> None:
    text = "It had 1,345,596 residents in 2011, more than any other city in the region."
    cut = cut_words(text, 6)
    assert cut == "It had 1,345,596 residents …" and word_count(cut.removesuffix(" …")) == 6
    assert cut_words("短句。", 80) == "短句。"
    assert word_count(cut_words("职业教育合作" * 30, 80).removesuffix(" …")) == 80


def test_splitting_chinese_sentences_loads_no_dictionary() -> None:
    # jieba's dictionary takes over a second to load; indexing needs sentences, not words.
    probe = (
        "import sys; from assistant.text import sentences; "
        "assert sentences('该桥于1937年建成。它很长。') == ['该桥于1937年建成。', '它很长。']; "
        "print('jieba' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"


TABLE_PAGE = """# Courses for adults

Two routes are described here.

## T Levels

T Levels are two-year courses.

| Figure | Value |
|---|---|
| Maximum course length | 2 years |

## Skills Bootcamps

Bootcamps are free courses for adults.

### Key figures

| Figure | Value |
|---|---|
| Maximum course length | 16 weeks |
| Guaranteed interview | yes |
"""


def test_a_sentence_is_read_with_its_headings_and_a_table_row_with_its_header() -> None:
    assert section_context(TABLE_PAGE, "Bootcamps are free courses") == (["Courses for adults", "Skills Bootcamps"], "")
    assert section_context(TABLE_PAGE, "Guaranteed interview | yes") == (
        ["Courses for adults", "Skills Bootcamps", "Key figures"], "| Figure | Value |"
    )
    assert section_context("Key facts\nThe levy started in 2017.", "The levy") == (["Key facts"], "")
    assert section_context(TABLE_PAGE, "not in the page") == ([], "")
    # A table's header row is no sentence.
    assert "Figure | Value" not in sentences(TABLE_PAGE)


def test_a_bare_line_has_no_bullet_and_no_outer_bars() -> None:
    assert bare_line("  - an item, lower case") == "an item, lower case"
    assert bare_line("| 16 weeks | yes |") == "16 weeks | yes"
    assert bare_line("1,288 colleges in all.") == "1,288 colleges in all."


def test_an_acronym_is_defined_by_the_words_before_it_that_spell_it() -> None:
    texts = [
        "The World Vocational and Technical Education Development Conference (WVTEDC) met.",
        "The World Vocational and Technical Education Development Conference meets again in 2026.",
        "China's Ministry of Human Resources and Social Security (MOHRSS) signed.",
        "The Ministry of Human Resources and Social Security runs skills competitions.",
        "In England (UK) and in Wales (ENG) they differ.",  # letters not spelled: no definition
        "Middle East respiratory syndrome (MERS) spread. MERS cases rose. MERS is a coronavirus.",
    ]
    defined = acronym_definitions(texts)
    assert defined == {
        "WVTEDC": "World Vocational and Technical Education Development Conference",
        "MOHRSS": "Ministry of Human Resources and Social Security",
        "MERS": "Middle East respiratory syndrome",
    }
    # Used more often than its name after it is defined, an acronym needs no spelling out in a search.
    assert mostly_spelled_out(defined, texts) == {k: v for k, v in defined.items() if k != "MERS"}


def test_reference_marks_and_inline_notes_are_left_out_but_brackets_that_say_something_stay() -> None:
    assert without_reference_marks(
        "It opened in 1937.[12] It is the first modern[vague] bridge [citation needed]. Prices fell.[3, 4]"
    ) == "It opened in 1937. It is the first modern bridge. Prices fell."
    assert without_reference_marks("It has been contained.5 Since then, version 2.5 is out.") == (
        "It has been contained. Since then, version 2.5 is out."
    )
    kept = "He wrote that their [sic] plan, see [the annex](annex.md), cost [about] £5."
    assert without_reference_marks(kept) == kept


def test_a_possessive_is_a_form_of_its_word() -> None:
    # BM25, word coverage and the answer's word overlap all read words through ``tokens``.
    assert tokens("California's coast, Tesla’s award, the Broncos' defence") == tokens(
        "California coast, Tesla award, the Broncos defence"
    )
