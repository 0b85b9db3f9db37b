"""Neighbour indexes: exact search equals brute force, HNSW recall, exclusions, save/load, auto choice."""

from __future__ import annotations

import numpy as np
import pytest

from nextwatch.content.config import ContentConfig
from nextwatch.content.encoder import l2_normalize
from nextwatch.content.index import ExactIndex, FaissHNSWIndex, choose_kind, normalize_exclude
from nextwatch.content.model import make_index


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return l2_normalize(rng.standard_normal((n, d)).astype(np.float32))


def _clustered(rng: np.random.Generator, n: int, d: int, clusters: int) -> np.ndarray:
    centres = rng.standard_normal((clusters, d))
    which = rng.integers(0, clusters, n)
    return l2_normalize((centres[which] + 0.6 * rng.standard_normal((n, d))).astype(np.float32))


def _brute(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries.astype(np.float64) @ vectors.astype(np.float64).T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def test_exact_search_equals_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    v, q = _unit(rng, 3000, 24), _unit(rng, 40, 24)
    # small chunks, so that several chunks are stitched together
    monkeypatch.setattr("nextwatch.content.index.CHUNK_SCORES", 3000 * 7)
    res = ExactIndex().build(v).search(q, 10)
    assert res.indices.shape == (40, 10) and res.scores.shape == (40, 10)
    np.testing.assert_array_equal(res.indices, _brute(v, q, 10))
    expected_scores = np.take_along_axis(q @ v.T, res.indices, axis=1)
    np.testing.assert_allclose(res.scores, expected_scores, rtol=1e-6)
    assert (np.diff(res.scores, axis=1) <= 0).all()


def test_exact_search_single_vector_and_k_larger_than_catalogue() -> None:
    v = np.eye(4, dtype=np.float32)
    q = np.array([0.6, 0.8, 0.0, 0.0], np.float32)
    res = ExactIndex().build(v).search(q, 10)
    assert res.indices.tolist() == [[1, 0, 2, 3]]
    np.testing.assert_allclose(res.scores[0], [0.8, 0.6, 0.0, 0.0], atol=1e-7)


def test_hnsw_recall_at_10_on_a_small_synthetic_set() -> None:
    rng = np.random.default_rng(1)
    v = _clustered(rng, 4000, 32, clusters=40)
    q = _clustered(rng, 200, 32, clusters=40)
    idx = FaissHNSWIndex().build(v)  # the default settings
    found = idx.search(q, 10).indices
    truth = _brute(v, q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.95, recall


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_excluded_items_never_come_back_and_k_results_remain(kind: str) -> None:
    rng = np.random.default_rng(2)
    v = _unit(rng, 2000, 16)
    q = _unit(rng, 8, 16)
    index = ExactIndex().build(v) if kind == "exact" else FaissHNSWIndex(m=16, ef_search=32).build(v)
    top = _brute(v, q, 60)
    # shared exclusion: every query's 30 best (the union is excluded for all)
    shared = np.unique(top[:, :30])
    res = index.search(q, 10, exclude=shared)
    assert (res.indices >= 0).all() and res.indices.shape == (8, 10)
    assert not np.isin(res.indices, shared).any()
    # the answer is the exact answer among the allowed items (all 8 queries)
    allowed = np.setdiff1d(np.arange(2000), shared)
    sub = _brute(v[allowed], q, 10)
    recall = np.mean([len(set(a) & set(allowed[b])) / 10 for a, b in zip(res.indices, sub, strict=True)])
    assert recall >= (1.0 if kind == "exact" else 0.95)
    # one exclusion list per query
    per_query = [set(row[:40].tolist()) for row in top]
    res = index.search(q, 10, exclude=per_query)
    assert (res.indices >= 0).all()
    for row, ex in zip(res.indices, per_query, strict=True):
        assert not ex & set(row.tolist())
    # nearly everything excluded: the rest comes back, padded with -1 / -inf
    res = index.search(q[:2], 10, exclude=np.arange(1994))
    assert sorted(res.indices[0, :6].tolist()) == [1994, 1995, 1996, 1997, 1998, 1999]
    assert (res.indices[:, 6:] == -1).all() and np.isneginf(res.scores[:, 6:]).all()


def test_hnsw_refills_rows_left_short_by_the_graph_search() -> None:
    rng = np.random.default_rng(3)
    v = _unit(rng, 3000, 16)
    q = _unit(rng, 4, 16)
    index = FaissHNSWIndex(m=4, ef_construction=8, ef_search=10).build(v)
    # exclude a third of the catalogue around the queries: the small graph search runs short
    ex = np.unique(_brute(v, q, 1000))
    res = index.search(q, 10, exclude=ex)
    assert (res.indices >= 0).all() and not np.isin(res.indices, ex).any()


def test_save_and_load_give_the_same_answers(tmp_path) -> None:
    rng = np.random.default_rng(4)
    v, q = _unit(rng, 1500, 16), _unit(rng, 20, 16)
    for index in (ExactIndex().build(v), FaissHNSWIndex(m=8).build(v)):
        path = tmp_path / f"index-{index.kind}.bin"
        index.save(path, {"vectors_sha256": "abc"})
        back = type(index).load(path)
        assert back.meta["vectors_sha256"] == "abc" and back.meta["kind"] == index.kind
        assert back.n == 1500 and back.dim == 16
        a, b = index.search(q, 10, exclude=[3, 4]), back.search(q, 10, exclude=[3, 4])
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert not list(tmp_path.glob(".*.tmp"))


def test_auto_choice_by_catalogue_size_and_override() -> None:
    assert choose_kind("auto", 49_999, 50_000) == "exact"
    assert choose_kind("auto", 50_000, 50_000) == "hnsw"
    assert choose_kind("hnsw", 10, 50_000) == "hnsw"
    assert isinstance(make_index(ContentConfig(exact_below=100), 99), ExactIndex)
    hnsw = make_index(ContentConfig(exact_below=100, hnsw_m=12, hnsw_ef_search=50), 100)
    assert isinstance(hnsw, FaissHNSWIndex) and hnsw.m == 12 and hnsw.ef_search == 50
    assert isinstance(make_index(ContentConfig(index="exact", exact_below=10), 10**6), ExactIndex)


def test_exclude_forms() -> None:
    shared = normalize_exclude([5, 1, 1, 99], 2, 10)
    assert [e.tolist() for e in shared] == [[1, 5], [1, 5]]
    per = normalize_exclude([[1], {2, 3}], 2, 10)
    assert [e.tolist() for e in per] == [[1], [2, 3]]
    assert [e.tolist() for e in normalize_exclude(np.array([[0, 1], [2, 3]]), 2, 10)] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="2 queries"):
        normalize_exclude([[1]], 2, 10)
    with pytest.raises(ValueError):
        normalize_exclude([1, [2]], 2, 10)


def test_one_blas_thread_nests_and_restores() -> None:
    from threadpoolctl import threadpool_info

    from nextwatch.content.index import one_blas_thread

    def numpy_blas_threads() -> list[int]:
        return [
            i["num_threads"]
            for i in threadpool_info()
            if i["user_api"] == "blas" and "numpy" in i["filepath"]
        ]

    before = numpy_blas_threads()
    with one_blas_thread():
        assert set(numpy_blas_threads()) <= {1}
        with one_blas_thread():
            assert set(numpy_blas_threads()) <= {1}
        assert set(numpy_blas_threads()) <= {1}  # the outer block still holds the limit
    assert numpy_blas_threads() == before
