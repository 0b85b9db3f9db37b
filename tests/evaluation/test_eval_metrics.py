"""Metric functions against rankings and errors worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nextwatch.evaluation.metrics import hit_rate, mae, ndcg, ranks_of_targets, recall, rmse


def test_single_target_hr_and_ndcg() -> None:
    # three users, held-out item at ranks 0, 3 and 12 (0-based)
    ranks = np.array([0, 3, 12])
    assert hit_rate(ranks, 10) == pytest.approx(2 / 3)
    assert hit_rate(ranks, 1) == pytest.approx(1 / 3)
    # NDCG: 1/log2(2) = 1, 1/log2(5), 0
    assert ndcg(ranks, 10) == pytest.approx((1 + 1 / math.log2(5)) / 3)
    assert ndcg(ranks, 20) == pytest.approx((1 + 1 / math.log2(5) + 1 / math.log2(14)) / 3)
    assert recall(ranks, 10) == pytest.approx(hit_rate(ranks, 10))


def test_several_relevant_items_with_padding() -> None:
    inf = np.inf
    # user 0: relevant at ranks 1 and 4; user 1: one relevant item at rank 0; user 2: none (left out)
    ranks = np.array([[1, 4], [0, inf], [inf, inf]])
    assert hit_rate(ranks, 2) == pytest.approx(1.0)
    assert recall(ranks, 2) == pytest.approx((1 / 2 + 1) / 2)
    # user 0: DCG@5 = 1/log2(3) + 1/log2(6), IDCG = 1 + 1/log2(3); user 1: 1
    u0 = (1 / math.log2(3) + 1 / math.log2(6)) / (1 + 1 / math.log2(3))
    assert ndcg(ranks, 5) == pytest.approx((u0 + 1) / 2)
    # k=2 cuts user 0's second item and its ideal list at two entries
    assert ndcg(ranks, 2) == pytest.approx(((1 / math.log2(3)) / (1 + 1 / math.log2(3)) + 1) / 2)


def test_ranks_count_ties_against_the_target_and_nan_as_worst() -> None:
    target = np.array([0.5, 0.5, np.nan, 2.0])
    cands = np.array(
        [
            [0.9, 0.1, 0.2],  # one above -> rank 1
            [0.5, 0.1, 0.5],  # two ties -> rank 2
            [0.1, np.nan, 0.3],  # NaN target ranks below all real scores and ties with NaN -> 3
            [1.0, 3.0, 9.0],  # padding masks the 9.0 out -> rank 1
        ]
    )
    valid = np.array([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 0]], bool)
    assert ranks_of_targets(target, cands, valid).tolist() == [1, 2, 3, 1]


def test_constant_scores_earn_nothing() -> None:
    ranks = ranks_of_targets(np.zeros(4), np.zeros((4, 100)))
    assert hit_rate(ranks, 10) == 0.0 and ndcg(ranks, 10) == 0.0


def test_rmse_and_mae() -> None:
    pred, true = np.array([3.0, 4.0, 1.0]), np.array([4.0, 4.0, 3.0])
    assert rmse(pred, true) == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert mae(pred, true) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rmse(pred, true[:2])
