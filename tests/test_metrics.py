import pytest

from assistant.eval.metrics import (
    contains_answer,
    exact_match,
    f1,
    first_hit_rank,
    mean_reciprocal_rank,
    normalize_answer,
    recall_at_k,
)


def test_normalisation_follows_squad() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("An apple, a pear") == "apple pear"


@pytest.mark.parametrize(
    ("prediction", "golds", "em", "score"),
    [
        ("Denver Broncos", ["Denver Broncos"], 1.0, 1.0),
        ("the Denver Broncos.", ["Denver Broncos"], 1.0, 1.0),
        ("Broncos", ["Denver Broncos"], 0.0, 2 * (1 * 0.5) / 1.5),  # precision 1, recall 1/2
        ("Denver Broncos won", ["Carolina Panthers", "Denver Broncos"], 0.0, 2 * (2 / 3 * 1) / (2 / 3 + 1)),
        ("nothing alike", ["Denver Broncos"], 0.0, 0.0),
        ("丹佛野马队", ["丹佛野马"], 0.0, 2 * (4 / 5 * 1) / (4 / 5 + 1)),
    ],
)
def test_exact_match_and_f1(prediction: str, golds: list[str], em: float, score: float) -> None:
    assert exact_match(prediction, golds) == em
    assert f1(prediction, golds) == pytest.approx(score)


def test_retrieval_ranks() -> None:
    texts = ["nothing here", "The levy is 0.5% of pay.", "0.5% again"]
    assert first_hit_rank(texts, ["0.5%"]) == 2
    assert first_hit_rank(texts, ["absent"]) is None
    assert contains_answer("Started on 6 April 2017.", ["6 april 2017"])
    ranks = [1, 2, None, 6]
    assert recall_at_k(ranks, 5) == 0.5
    assert mean_reciprocal_rank(ranks, 5) == pytest.approx((1 + 0.5) / 4)
    assert recall_at_k([], 5) == 0.0
