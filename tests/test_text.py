"""Sentence splitting, on hand-made passages."""

import subprocess
import sys

import pytest

from assistant.text import cut_words, sentences, word_count


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
