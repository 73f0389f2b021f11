"""Sentence splitting, on hand-made passages."""

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
