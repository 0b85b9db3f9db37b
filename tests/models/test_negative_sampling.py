"""Vectorised negative sampling: never a positive, uniform over the rest, distinct where asked."""

from __future__ import annotations

import numpy as np
import pytest

from nextwatch.errors import NextwatchError
from nextwatch.models.ncf.sampling import (
    is_positive,
    pair_keys,
    positive_keys,
    sample_distinct_negatives,
    sample_negatives,
)


def test_pair_keys_and_membership() -> None:
    keys = positive_keys(np.array([1, 0, 1, 1]), np.array([2, 3, 0, 2]), n_items=5)
    assert keys.tolist() == [3, 5, 7]  # sorted, duplicates (1, 2) merged
    probe = pair_keys(np.array([0, 1, 1, 2]), np.array([3, 1, 2, 0]), 5)
    assert is_positive(keys, probe).tolist() == [True, False, True, False]
    assert is_positive(np.empty(0, np.int64), probe).tolist() == [False] * 4


def test_sampled_negatives_are_never_positives() -> None:
    rng = np.random.default_rng(1)
    n_users, n_items = 30, 12
    # dense positives: each user has 9 of the 12 items, so most first draws are rejected
    users = np.repeat(np.arange(n_users), 9)
    items = np.concatenate([rng.choice(n_items, 9, replace=False) for _ in range(n_users)])
    keys = positive_keys(users, items, n_items)
    query = np.repeat(np.arange(n_users), 200)
    neg = sample_negatives(query, n_items, keys, np.random.default_rng(7))
    assert neg.shape == query.shape
    assert not is_positive(keys, pair_keys(query, neg, n_items)).any()
    # every user's 3 free items all turn up (uniform over the complement, not stuck on one)
    for u in range(n_users):
        free = set(range(n_items)) - set(items[users == u].tolist())
        assert set(neg[query == u].tolist()) == free


def test_sampling_is_a_pure_function_of_the_generator() -> None:
    keys = positive_keys(np.array([0, 0, 1]), np.array([0, 1, 2]), 6)
    q = np.array([0, 1, 0, 1, 0])
    a = sample_negatives(q, 6, keys, np.random.default_rng(3))
    b = sample_negatives(q, 6, keys, np.random.default_rng(3))
    assert a.tolist() == b.tolist()


def test_user_with_every_item_is_an_error_not_a_hang() -> None:
    keys = positive_keys(np.array([0, 0, 0]), np.array([0, 1, 2]), 3)
    with pytest.raises(NextwatchError, match="every item"):
        sample_negatives(np.array([0]), 3, keys, np.random.default_rng(0))


def test_distinct_negatives_are_distinct_unseen_and_padded_when_short() -> None:
    n_items = 50
    users = np.array([0, 1, 2])
    pos_u = np.array([0] * 10 + [1] * 46 + [2] * 1)
    pos_i = np.concatenate([np.arange(10), np.arange(46), [7]])
    keys = positive_keys(pos_u, pos_i, n_items)
    out = sample_distinct_negatives(users, 20, n_items, keys, np.random.default_rng(0), chunk=2)
    assert out.shape == (3, 20)
    for row, u in zip(out, users, strict=True):
        got = row[row >= 0]
        assert len(set(got.tolist())) == len(got)
        assert not is_positive(keys, pair_keys(np.full(len(got), u), got, n_items)).any()
    assert (out[0] >= 0).all() and (out[2] >= 0).all()
    # user 1 has only 4 unseen items: all of them, then -1 padding
    assert sorted(out[1][out[1] >= 0].tolist()) == [46, 47, 48, 49]
    assert (out[1][4:] == -1).all()


def test_distinct_negatives_come_from_the_pool_only() -> None:
    keys = positive_keys(np.array([0, 0]), np.array([1, 3]), 10)
    pool = np.array([1, 2, 3, 5, 8])
    out = sample_distinct_negatives(np.array([0, 1]), 4, 10, keys, np.random.default_rng(2), pool=pool)
    assert sorted(out[0][out[0] >= 0].tolist()) == [2, 5, 8] and out[0][3] == -1
    assert sorted(out[1].tolist()) != sorted(out[0].tolist()) and set(out[1].tolist()) <= set(pool.tolist())
