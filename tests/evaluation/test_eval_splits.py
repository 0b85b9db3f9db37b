"""Splits: which interaction is held out, determinism, storage beside the dataset, sampled negatives."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from nextwatch.evaluation.splits import (
    TEST,
    TRAIN,
    VALID,
    compute_split,
    get_split,
    heldout,
    holdout_parts,
    split_paths,
    train_view,
)
from nextwatch.models.ncf.sampling import is_positive, pair_keys, positive_keys


def test_loo_holds_out_latest_then_second_latest_with_ties_by_item(make_dataset) -> None:  # type: ignore[no-untyped-def]
    # user 0: times 10, 20, 20, 30 -> test item 9 (t=30); the tie at t=20 between items 2 and 5 is
    # ordered by item index, so item 5 counts as later and is the validation item.
    # user 1: two items -> test only; user 2: one item -> all training.
    # user 3: item 4 twice (t=5 and t=50): the pair dates from t=50, both rows held out together.
    ds = make_dataset(
        users=[0, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3],
        items=[1, 5, 2, 9, 3, 4, 0, 4, 7, 8, 4],
        timestamps=[10, 20, 20, 30, 1, 2, 5, 5, 10, 20, 50],
        n_items=10,
    )
    part = compute_split(ds, "loo").part
    assert part.tolist() == [
        TRAIN, VALID, TRAIN, TEST,
        TRAIN, TEST,
        TRAIN,
        TEST, TRAIN, VALID, TEST,
    ]  # fmt: skip


def test_loo_negatives_are_distinct_never_interacted_items(make_dataset) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(20), 30)
    items = np.concatenate([rng.choice(150, 30, replace=False) for _ in range(20)])
    # 20 more catalogue items that nobody rated: never candidates (they would be free wins)
    ds = make_dataset(users, items, timestamps=rng.integers(0, 1000, len(users)), n_items=170)
    rated = set(items.tolist())
    split = compute_split(ds, "loo", seed=4)
    assert split.negatives is not None and split.negative_users is not None
    assert split.negative_users.tolist() == list(range(20))
    assert split.negatives.shape == (20, 100)
    keys = positive_keys(ds.interactions.user_idx, ds.interactions.item_idx, 170)
    for u, row in zip(split.negative_users, split.negatives, strict=True):
        assert len(set(row.tolist())) == 100
        assert set(row.tolist()) <= rated
        assert not is_positive(keys, pair_keys(np.full(100, u), row, 170)).any()
    again = compute_split(ds, "loo", seed=4)
    other = compute_split(ds, "loo", seed=5)
    assert np.array_equal(again.negatives, split.negatives)
    assert not np.array_equal(other.negatives, split.negatives)
    assert np.array_equal(other.part, split.part)  # the held-out items do not depend on the seed


def test_holdout_is_seeded_disjoint_and_sized() -> None:
    a, b, c = holdout_parts(1000, 0), holdout_parts(1000, 0), holdout_parts(1000, 1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a == TEST).sum() == 100 and (a == VALID).sum() == 100 and (a == TRAIN).sum() == 800


def test_train_view_and_heldout_by_target(make_dataset) -> None:  # type: ignore[no-untyped-def]
    ds = make_dataset(users=[0, 0, 0, 1, 1, 1], items=[0, 1, 2, 0, 1, 2], timestamps=[1, 2, 3, 3, 2, 1])
    split = compute_split(ds, "loo")
    test_view, valid_view = train_view(ds, split, "test"), train_view(ds, split, "valid")
    assert test_view.n_interactions == 4 and valid_view.n_interactions == 2
    held = heldout(ds, split, "test")
    assert sorted(zip(held.user_idx.tolist(), held.item_idx.tolist(), strict=True)) == [(0, 2), (1, 0)]
    assert test_view.fingerprint == ds.fingerprint and test_view.n_items == ds.n_items


def test_split_is_stored_once_and_read_back(make_dataset, caplog) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    ds = make_dataset(np.repeat(np.arange(10), 8), rng.integers(0, 300, 80), n_items=300)
    first = get_split(ds, "loo")
    paths = split_paths(ds.path, "loo")
    assert all(p.is_file() for p in paths.values())
    meta = json.loads(paths["meta"].read_text())
    assert meta["dataset_fingerprint"] == ds.fingerprint and meta["seed"] == 0
    mtime = paths["parts"].stat().st_mtime_ns
    second = get_split(ds, "loo")
    assert paths["parts"].stat().st_mtime_ns == mtime  # read, not recomputed
    assert np.array_equal(first.part, second.part)
    assert np.array_equal(first.negatives, second.negatives)
    assert np.array_equal(first.negative_users, second.negative_users)
    # a damaged file is noticed and the split recomputed (to the same content)
    paths["negatives"].write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        third = get_split(ds, "loo")
    assert "recomputing" in caplog.text
    assert np.array_equal(first.negatives, third.negatives)
    # a non-default seed is stored beside, under its own name
    get_split(ds, "ratings-holdout", seed=3)
    assert split_paths(ds.path, "ratings-holdout", 3)["meta"].name == "ratings-holdout-s3.json"
    assert split_paths(ds.path, "ratings-holdout", 3)["meta"].is_file()


def test_split_of_another_dataset_version_is_recomputed(make_dataset) -> None:  # type: ignore[no-untyped-def]
    ds = make_dataset([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], name="versioned")
    get_split(ds, "loo")
    # rewrite the same folder with one more interaction: the stored split no longer fits
    ds2 = make_dataset([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], name="versioned")
    assert ds2.path == ds.path and ds2.fingerprint != ds.fingerprint
    split = get_split(ds2, "loo")
    assert len(split.part) == 6 and split.fingerprint == ds2.fingerprint


def test_unknown_split_name(make_dataset) -> None:  # type: ignore[no-untyped-def]
    from nextwatch.errors import InputError

    ds = make_dataset([0, 0], [0, 1])
    with pytest.raises(InputError, match="unknown split"):
        get_split(ds, "kfold")
