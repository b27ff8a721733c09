"""The shared tie rule: expected hit@k under a uniformly random order of equal scores."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from synthmphn.eval.ranking import expected_hits_at_k, expected_top_k, pairwise_wins


def test_distinct_scores_are_plain_recall() -> None:
    scores = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.1]])
    positives = np.array([[False, True, False], [False, False, True]])
    assert expected_hits_at_k(scores, positives, 1).tolist() == [0.0, 0.0]
    assert expected_hits_at_k(scores, positives, 2).tolist() == [1.0, 0.0]
    assert expected_hits_at_k(scores, positives, 3).tolist() == [1.0, 1.0]


def test_all_tied_single_positive_is_k_over_n() -> None:
    scores = np.zeros((1, 8))
    positives = np.eye(8, dtype=bool)[:1]
    for k in (1, 3, 8, 10):
        assert expected_hits_at_k(scores, positives, k)[0] == pytest.approx(min(1.0, k / 8))


def test_all_tied_several_positives_is_hypergeometric() -> None:
    # 8 candidates, 2 positives, all tied: P(no positive in top k) = C(6, k) / C(8, k)
    scores = np.zeros((1, 8))
    positives = np.array([[True, True] + [False] * 6])
    for k in (1, 2, 5, 7):
        assert expected_hits_at_k(scores, positives, k)[0] == pytest.approx(1 - comb(6, k) / comb(8, k))


def test_partial_tie_behind_better_candidates() -> None:
    # one candidate strictly above, then 3 tied (one positive): hit@1 = 0, hit@2 = 1/3, hit@3 = 2/3
    scores = np.array([[2.0, 1.0, 1.0, 1.0]])
    positives = np.array([[False, True, False, False]])
    got = [expected_hits_at_k(scores, positives, k)[0] for k in (1, 2, 3, 4)]
    assert got == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])


def test_best_positive_counts_when_another_is_low() -> None:
    scores = np.array([[0.1, 0.9, 0.5]])
    positives = np.array([[True, True, False]])
    assert expected_hits_at_k(scores, positives, 1)[0] == 1.0


def test_top_k_from_labels_and_query_without_positive() -> None:
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 3.0, 2.0, 0.0]])
    assert expected_top_k(logits, np.array([2, 2]), 1).tolist() == pytest.approx([0.25, 0.0])
    assert expected_top_k(logits, np.array([2, 2]), 2).tolist() == pytest.approx([0.5, 1.0])
    with pytest.raises(ValueError, match="at least one positive"):
        expected_hits_at_k(np.zeros((1, 2)), np.zeros((1, 2), dtype=bool), 1)


def test_pairwise_wins_tie_is_half() -> None:
    assert pairwise_wins(np.array([1.0, 0.0, 0.5]), np.array([0.0, 1.0, 0.5])).tolist() == [1.0, 0.0, 0.5]
