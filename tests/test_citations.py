"""Citation numbering: the model's [n] become sources numbered in order of first use."""

from assistant.answering.citations import CitationNumbering
from assistant.types import Passage


def _passage(source: str, text: str) -> Passage:
    return Passage(ids=[source], text=text, metadata={"source": source, "title": source},
                   similarity=0.5, coverage=0.5)


def test_citations_are_renumbered_in_order_of_first_use_even_when_split() -> None:
    numbering = CitationNumbering([_passage("a.md", "A"), _passage("b.md", "B"), _passage("c.md", "C")])
    out = "".join(numbering.feed(p) for p in ["First [", "3] then [1", "] again [3] and [9] gone."])
    out += numbering.flush()
    assert out == "First [1] then [2] again [1] and  gone."
    assert [(s.number, s.path) for s in numbering.sources()] == [(1, "c.md"), (2, "a.md")]


def test_each_source_names_the_answer_sentences_that_cite_it() -> None:
    numbering = CitationNumbering([_passage("a.md", "A"), _passage("b.md", "B")])
    text = numbering.feed("The levy is 0.5%. [2] It began in 2017. [1][2] Closing words.") + numbering.flush()
    first, second = numbering.sources(text)
    assert (first.path, first.sentences) == ("b.md", ("The levy is 0.5%.", "It began in 2017."))
    assert (second.path, second.sentences) == ("a.md", ("It began in 2017.",))
