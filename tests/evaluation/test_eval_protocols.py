"""Protocols against a scorer whose every score is written out, so each rank is known by hand."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from nextwatch.errors import InputError, NextwatchError
from nextwatch.evaluation.protocols import (
    Scorer,
    evaluate,
    evaluate_holdout_ratings,
    evaluate_loo_full,
    evaluate_loo_sampled,
)
from nextwatch.evaluation.splits import TEST, TRAIN, Split, compute_split

NAN = np.nan


class TableScorer:
    """Scores read from a fixed [n_users, n_items] table (NaN = impossible)."""

    def __init__(self, table: list[list[float]], objective: str = "implicit") -> None:
        self.table = np.array(table, np.float32)
        self.objective = objective

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.table[np.asarray(users), np.asarray(items)]

    def score_all(self, users: np.ndarray) -> np.ndarray:
        return self.table[np.asarray(users)]


# user 0: items 0, 1 (train), 4 (valid), 5 (test); user 1: items 1, 2 (train), 3 (valid), 0 (test)
USERS = [0, 0, 0, 0, 1, 1, 1, 1]
ITEMS = [0, 1, 4, 5, 1, 2, 3, 0]
TIMES = [1, 2, 3, 4, 1, 2, 3, 4]
TABLE = [
    [9.0, 9.0, 0.9, 0.1, 9.0, 0.7],
    [0.5, 9.0, 9.0, 9.0, 0.6, NAN],
]


@pytest.fixture
def loo(make_dataset):  # type: ignore[no-untyped-def]
    ds = make_dataset(USERS, ITEMS, timestamps=TIMES, n_items=6)
    return ds, compute_split(ds, "loo")


def test_table_scorer_satisfies_the_protocol() -> None:
    assert isinstance(TableScorer(TABLE), Scorer)


def test_loo_sampled_ranks_among_the_stored_negatives(loo) -> None:  # type: ignore[no-untyped-def]
    ds, split = loo
    split = dataclasses.replace(
        split, negative_users=np.array([0, 1]), negatives=np.array([[2, 3, -1], [5, -1, -1]])
    )
    # user 0: target 5 (0.7) below item 2 (0.9), above 3 (0.1) -> rank 1
    # user 1: target 0 (0.5) above item 5 (NaN, impossible) -> rank 0; padding ignored
    out = evaluate_loo_sampled(TableScorer(TABLE), ds, split, "test", k=2)
    assert out["HR@2"] == pytest.approx(1.0)
    assert out["NDCG@2"] == pytest.approx((1 / math.log2(3) + 1) / 2)
    out1 = evaluate_loo_sampled(TableScorer(TABLE), ds, split, "test", k=1)
    assert out1["HR@1"] == pytest.approx(0.5)
    assert out1["n_users"] == 2 and out1["n_candidates"] == 4 and out1["n_impossible"] == 0


def test_loo_full_excludes_training_items(loo) -> None:  # type: ignore[no-untyped-def]
    ds, split = loo
    # test part: training = train + valid, so user 0's 0, 1, 4 (all 9.0) are not candidates:
    # target 5 (0.7) is below item 2 (0.9) only -> rank 1; user 1: 1, 2, 3 excluded, target 0 (0.5)
    # below item 4 (0.6), above 5 (NaN) -> rank 1
    out = evaluate_loo_full(TableScorer(TABLE), ds, split, "test", ks=(1, 2), chunk=1)
    assert out["HR@1"] == 0.0 and out["HR@2"] == 1.0
    assert out["NDCG@2"] == pytest.approx(1 / math.log2(3))
    assert out["Recall@2"] == 1.0
    assert out["n_candidates_mean"] == pytest.approx(3.0)
    # valid part: training = train only; user 0's target 4 (9.0) beats items 2, 3, 5 -> rank 0;
    # user 1's target 3 (9.0) beats items 0 (0.5), 4 (0.6), 5 (NaN) -> rank 0
    val = evaluate_loo_full(TableScorer(TABLE), ds, split, "valid", ks=(1,))
    assert val["HR@1"] == 1.0


def test_loo_full_ties_count_against_the_target(loo) -> None:  # type: ignore[no-untyped-def]
    ds, split = loo
    flat = [[1.0] * 6, [1.0] * 6]
    out = evaluate_loo_full(TableScorer(flat), ds, split, "test", ks=(2,))
    assert out["HR@2"] == 0.0  # 2 other candidates tie with the target: rank 2


def test_holdout_ratings_with_fallback_and_clipping(make_dataset) -> None:  # type: ignore[no-untyped-def]
    # training: item 0 rated 4 and 2, item 1 rated 3 (global mean 3); test rows below
    ds = make_dataset(
        users=[0, 1, 0, 0, 1, 1],
        items=[0, 0, 1, 1, 0, 2],
        ratings=[4, 2, 3, 5, 2, 4],
        n_items=3,
    )
    part = np.array([TRAIN, TRAIN, TRAIN, TEST, TEST, TEST], np.int8)
    split = Split("ratings-holdout", 0, ds.fingerprint, part)
    table = [[NAN, 4.5, NAN], [NAN, NAN, 6.0]]
    out = evaluate_holdout_ratings(TableScorer(table, "explicit"), ds, split, "test")
    # (0,1): 4.5 vs 5 -> -0.5; (1,0): impossible -> damped mean (4+2+5*3)/(2+5) = 3 vs 2 -> +1;
    # (1,2): 6.0 clipped to 5 vs 4 -> +1
    assert out["RMSE"] == pytest.approx(math.sqrt((0.25 + 1 + 1) / 3))
    assert out["MAE"] == pytest.approx(2.5 / 3)
    assert out["n_ratings"] == 3 and out["n_impossible"] == 1


def test_evaluate_checks_protocol_split_and_objective(loo) -> None:  # type: ignore[no-untyped-def]
    ds, split = loo
    with pytest.raises(NextwatchError, match="implicit"):
        evaluate(TableScorer(TABLE, "implicit"), ds, "holdout-ratings")
    with pytest.raises(InputError, match="needs the ratings-holdout split"):
        evaluate(TableScorer(TABLE, "explicit"), ds, "holdout-ratings", split=split)
    with pytest.raises(InputError, match="unknown protocol"):
        evaluate(TableScorer(TABLE), ds, "auc")
    out = evaluate(TableScorer(TABLE), ds, "loo-full", split=split)
    assert out["protocol"] == "loo-full" and out["part"] == "test" and out["split"] == "loo"
