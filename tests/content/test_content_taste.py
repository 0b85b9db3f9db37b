"""TasteVector: the seed's equation 1 (a running mean), recency weighting, exact undo, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nextwatch.content.taste import TasteVector


def test_mean_of_likes_matches_hand_computed_values() -> None:
    t = TasteVector(3)
    t.add("a", np.array([1.0, 0.0, 0.0]))
    t.add("b", np.array([0.0, 1.0, 0.0]))
    t.add("c", np.array([0.0, 1.0, 1.0]))
    # (1+0+0)/3, (0+1+1)/3, (0+0+1)/3
    np.testing.assert_allclose(t.vector(), [1 / 3, 2 / 3, 1 / 3], rtol=0, atol=1e-7)
    assert t.vector().dtype == np.float32
    norm = np.sqrt(1 + 4 + 1) / 3
    np.testing.assert_allclose(t.query(), np.array([1 / 3, 2 / 3, 1 / 3]) / norm, atol=1e-7)
    assert t.keys == ["a", "b", "c"] and len(t) == 3 and "b" in t


def test_running_mean_after_each_like_is_the_mean_so_far() -> None:
    rng = np.random.default_rng(1)
    vs = rng.standard_normal((6, 8)).astype(np.float32)
    t = TasteVector(8)
    for n, v in enumerate(vs, start=1):
        t.add(n, v)
        expected = vs[:n].astype(np.float64).sum(axis=0) / n
        np.testing.assert_array_equal(t.vector(), expected.astype(np.float32))


def test_undo_restores_the_previous_vector_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    vs = rng.standard_normal((5, 16)).astype(np.float32)
    t = TasteVector(16)
    for i, v in enumerate(vs[:4]):
        t.add(i, v)
    before = t.vector().copy()
    t.add(4, vs[4])
    assert not np.array_equal(t.vector(), before)
    t.remove(4)
    assert np.array_equal(t.vector(), before)  # bitwise
    # removing one from the middle equals a fresh mean of the rest
    t.remove(1)
    fresh = TasteVector(16)
    for i in (0, 2, 3):
        fresh.add(i, vs[i])
    assert np.array_equal(t.vector(), fresh.vector())
    assert t.pop() == 3 and t.keys == [0, 2]


def test_remove_undoes_the_latest_like_of_a_repeated_key() -> None:
    t = TasteVector(2)
    t.add("x", np.array([1.0, 0.0]))
    t.add("y", np.array([0.0, 1.0]))
    t.add("x", np.array([3.0, 0.0]))
    t.remove("x")
    assert t.keys == ["x", "y"]
    np.testing.assert_array_equal(t.vector(), np.array([0.5, 0.5], np.float32))
    with pytest.raises(KeyError):
        t.remove("z")


def test_recency_weighting_with_a_half_life() -> None:
    t = TasteVector(2, half_life=1.0)
    t.add("old", np.array([1.0, 0.0]))
    t.add("new", np.array([0.0, 1.0]))
    # weights: old 2^-1 = 0.5, new 1 -> (0.5, 1) / 1.5
    np.testing.assert_allclose(t.vector(), [1 / 3, 2 / 3], atol=1e-7)
    t.add("newest", np.array([0.0, 0.0]))
    # weights 0.25, 0.5, 1 -> (0.25, 0.5) / 1.75
    np.testing.assert_allclose(t.vector(), [0.25 / 1.75, 0.5 / 1.75], atol=1e-7)


def test_empty_and_bad_input() -> None:
    t = TasteVector(4)
    with pytest.raises(ValueError, match="no likes"):
        t.vector()
    with pytest.raises(ValueError, match="shape"):
        t.add("a", np.zeros(3))
    with pytest.raises(IndexError):
        t.pop()
    with pytest.raises(ValueError):
        TasteVector(4, half_life=0)


def test_json_round_trip_is_exact() -> None:
    rng = np.random.default_rng(3)
    t = TasteVector(12, half_life=3.5)
    for i, v in enumerate(rng.standard_normal((4, 12)).astype(np.float32)):
        t.add(f"item-{i}" if i % 2 else i, v)
    back = TasteVector.from_dict(json.loads(json.dumps(t.to_dict())))
    assert back == t
    assert np.array_equal(back.vector(), t.vector())
    with pytest.raises(ValueError, match="format"):
        TasteVector.from_dict({"format": "other"})
