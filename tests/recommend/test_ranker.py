"""HybridRanker on tiny hand-made parts: a GMF with set weights, unit embeddings chosen by hand.

The CF fixture is built so that its fold-in is predictable: the prior (mean trained user vector) is
zero, the liked item's GMF vector lies on one axis, so Adam moves the user vector along that axis
only and every item's CF score is ordered by its first GMF coordinate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextwatch.content.index import ExactIndex
from nextwatch.models.ncf.modules import GMF
from nextwatch.recommend.foldin import FoldInConfig, FoldInScorer
from nextwatch.recommend.fusion import FusionSchedule
from nextwatch.recommend.ranker import MODES, HybridRanker, RankerConfig


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return (v / np.linalg.norm(v)).astype(np.float32)


def with_cos(cos: float, axis: int, dim: int) -> np.ndarray:
    """A unit vector at cosine ``cos`` to e_0, the rest of it on its own axis ``axis``."""
    v = np.zeros(dim)
    v[0] = cos
    v[axis] = np.sqrt(1.0 - cos**2)
    return unit(v)


def gmf_scorer(rows: list[list[float]]) -> FoldInScorer:
    """A GMF with item vectors ``rows``, prediction weights 1 and a zero mean user vector."""
    model = GMF(2, len(rows), 3)
    with torch.no_grad():
        model.item_embedding.weight.copy_(torch.tensor(rows, dtype=torch.float32))
        model.user_embedding.weight.copy_(torch.tensor([[0.5, -0.2, 0.1], [-0.5, 0.2, -0.1]]))
        model.predict.weight.fill_(1.0)
        model.predict.bias.zero_()
    return FoldInScorer(model)


# ------------------------------------------------------------------------------------------------
# the "modes differ" case: item 1 is content's pick, item 2 CF's, item 3 good on both sides

#                 item:   0     1     2     3     4     5     6     7
CONTENT_COS = [1.0, 0.95, 0.10, 0.80, -1.0, -1.0, -1.0, -1.0]
CF_FIRST = [1.0, 0.10, 0.95, 0.80, -1.0, -1.0, -1.0, -1.0]
N = len(CONTENT_COS)


def mode_case_vectors() -> np.ndarray:
    return np.stack([with_cos(c, axis=j + 1, dim=N + 1) for j, c in enumerate(CONTENT_COS)])


def first_axis_scorer(first: list[float]) -> FoldInScorer:
    """Item 0's GMF vector is ``[1, 0, 0]``, item ``j``'s ``[first[j], 0.3, 0.3]``: liking item 0 moves
    the (zero) user vector along the first axis only, so CF orders items by ``first``."""
    return gmf_scorer([[1.0, 0.0, 0.0]] + [[c, 0.3, 0.3] for c in first[1:]])


def mode_case_ranker(mode: str, **config) -> HybridRanker:
    cfg = RankerConfig(
        mode=mode,  # type: ignore[arg-type]
        schedule=FusionSchedule(cf_min=0.5, cf_max=0.5),
        foldin=FoldInConfig(sampled_negatives=0, reg=0.0),
        **config,
    )
    popularity = np.arange(N, 0, -1, dtype=np.float64)
    return HybridRanker(popularity, cf=first_axis_scorer(CF_FIRST), vectors=mode_case_vectors(), config=cfg)


def test_the_fixture_is_what_the_case_says():
    v = mode_case_vectors()
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(v @ v[0], CONTENT_COS, atol=1e-6)
    r = mode_case_ranker("cf")
    s = r.cf_scores(np.array([0]), np.array([0]))
    # CF scores after folding in "liked item 0" are ordered by the first GMF coordinate
    assert list(np.argsort(-s[1:4]) + 1) == [2, 3, 1]


def test_modes_differ_as_constructed():
    """Liked item 0: content's nearest is 1, CF's is 2; the 50/50 blend prefers 3 (0.92 on both
    sides after min-max, against 1.0 + 0.56 for the one-sided picks)."""
    picks = {m: mode_case_ranker(m).rank([0], [0], k=1) for m in ("content", "cf", "hybrid")}
    assert [picks[m][0].item_idx for m in ("content", "cf", "hybrid")] == [1, 2, 3]
    assert picks["content"][0].reason_kind == "content"
    assert picks["cf"][0].reason_kind == "cf"
    for m, (r,) in picks.items():
        assert r.because == 0, m
    # the hybrid pick's fused score is the hand-computed blend (min-max over all 7 unseen candidates)
    cf_n = (0.80 + 1.0) / (0.95 + 1.0)
    ct_n = (0.80 + 1.0) / (0.95 + 1.0)
    assert picks["hybrid"][0].score == pytest.approx(0.5 * cf_n + 0.5 * ct_n, abs=1e-4)
    assert set(picks["hybrid"][0].scores) == {"weight_cf", "cf", "content"}
    assert picks["hybrid"][0].scores["content"] == pytest.approx(0.80, abs=1e-5)


def test_content_and_cf_modes_rank_by_their_own_side():
    assert [r.item_idx for r in mode_case_ranker("content").rank([0], [0], k=3)] == [1, 3, 2]
    assert [r.item_idx for r in mode_case_ranker("cf").rank([0], [0], k=3)] == [2, 3, 1]
    assert "cf" not in mode_case_ranker("content").rank([0], [], k=1)[0].scores
    assert "content" not in mode_case_ranker("cf").rank([0], [], k=1)[0].scores


@pytest.mark.parametrize("use_index", [False, True], ids=["scan", "exact-index"])
def test_content_candidates_through_an_index_skip_seen_items(use_index):
    v = mode_case_vectors()
    ranker = HybridRanker(
        np.ones(N),
        cf=None,
        vectors=v,
        index=ExactIndex().build(v) if use_index else None,
        config=RankerConfig(mode="content"),
    )
    assert [r.item_idx for r in ranker.rank([0], [1], k=2)] == [3, 2]


# ------------------------------------------------------------------------------------------------
# shown and liked never come back


def cluster_catalogue(n: int = 23, seed: int = 0) -> tuple[np.ndarray, FoldInScorer, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 6))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    torch.manual_seed(seed)
    model = GMF(4, n, 4)
    with torch.no_grad():
        model.item_embedding.weight.mul_(50.0)
        model.user_embedding.weight.mul_(50.0)
    popularity = rng.integers(1, 100, size=n).astype(np.float64)
    return vectors.astype(np.float32), FoldInScorer(model), popularity


@pytest.mark.parametrize("mode", MODES)
def test_shown_and_liked_items_never_return_until_the_catalogue_is_exhausted(mode):
    vectors, cf, popularity = cluster_catalogue()
    n = len(popularity)
    ranker = HybridRanker(popularity, cf=cf, vectors=vectors, config=RankerConfig(mode=mode, candidates=5))
    liked: list[int] = []
    shown: list[int] = []
    rounds = 0
    while True:
        recs = ranker.rank(liked, shown, k=4)
        items = [r.item_idx for r in recs]
        if not items:
            break
        rounds += 1
        assert len(set(items)) == len(items)
        assert not set(items) & (set(shown) | set(liked)), f"round {rounds} repeats a seen item"
        # tick every other one; also like one item from "search" that was never shown
        liked += items[::2]
        shown += items
        if rounds == 2:
            extra = next(i for i in range(n) if i not in shown)
            liked.append(extra)
        assert rounds <= n
    assert sorted(set(shown) | set(liked)) == list(range(n))
    assert len(shown) == len(set(shown))


@pytest.mark.parametrize("mode", MODES)
def test_allowed_mask_is_respected_including_the_fallbacks(mode):
    vectors, cf, popularity = cluster_catalogue()
    n = len(popularity)
    allowed = np.zeros(n, dtype=bool)
    allowed[::3] = True
    allowed[np.argmax(popularity)] = False  # the most popular item must never be offered
    ranker = HybridRanker(
        popularity,
        cf=cf,
        vectors=vectors,
        index=ExactIndex().build(vectors),
        allowed=allowed,
        config=RankerConfig(mode=mode),
    )
    liked: list[int] = []
    shown: list[int] = []
    offered: list[int] = []
    for _ in range(n):
        items = [r.item_idx for r in ranker.rank(liked, shown, k=3)]
        if not items:
            break
        assert allowed[items].all(), items
        offered += items
        shown += items
        liked += items[:1]
    assert sorted(offered) == list(np.flatnonzero(allowed))


# ------------------------------------------------------------------------------------------------
# the fusion weight follows its schedule


def test_weight_cf_follows_the_schedule():
    """cf_min 0.1, cf_max 0.9, min_likes 2, ramp 4: weight = 0.1 + 0.8 * min(1, max(0, n - 1) / 4)."""
    vectors, cf, popularity = cluster_catalogue()
    schedule = FusionSchedule(cf_min=0.1, cf_max=0.9, min_likes=2, ramp_likes=4)
    ranker = HybridRanker(popularity, cf=cf, vectors=vectors, config=RankerConfig(schedule=schedule))
    expected = {1: 0.1, 2: 0.3, 3: 0.5, 4: 0.7, 5: 0.9, 8: 0.9}
    for n_likes, w in expected.items():
        recs = ranker.rank(list(range(n_likes)), list(range(n_likes)), k=3)
        assert len(recs) == 3
        for r in recs:
            assert r.scores["weight_cf"] == pytest.approx(w), n_likes
            # the fused score is the schedule's blend of the two (min-max normalised) sides
            assert 0.0 <= r.score <= 1.0


def test_weight_cf_is_one_for_cf_and_zero_for_content():
    vectors, cf, popularity = cluster_catalogue()
    for mode, w in (("cf", 1.0), ("content", 0.0)):
        ranker = HybridRanker(popularity, cf=cf, vectors=vectors, config=RankerConfig(mode=mode))
        assert {r.scores["weight_cf"] for r in ranker.rank([0, 1, 2], [0, 1, 2, 3], k=4)} == {w}


def test_without_a_cf_model_hybrid_ranks_by_content_alone():
    v = mode_case_vectors()
    ranker = HybridRanker(np.ones(N), cf=None, vectors=v, config=RankerConfig(mmr_lambda=1.0))
    recs = ranker.rank([0], [], k=3)
    assert [r.item_idx for r in recs] == [1, 3, 2]
    assert {r.scores["weight_cf"] for r in recs} == {0.0}


# ------------------------------------------------------------------------------------------------
# no likes: popular, with MMR diversity


def duplicate_catalogue() -> tuple[np.ndarray, np.ndarray]:
    """Items 0 and 1 are the two most popular and near-duplicates (cos 0.9999); item 2 is third."""
    n = 8
    vectors = np.eye(n, dtype=np.float32)
    vectors[1] = unit(np.eye(n)[0] + 0.01 * np.eye(n)[1])
    popularity = np.array([100, 99, 50, 40, 30, 20, 10, 1], dtype=np.float64)
    return vectors, popularity


def test_no_likes_gives_popular_movies_without_near_duplicates():
    vectors, popularity = duplicate_catalogue()
    ranker = HybridRanker(popularity, cf=None, vectors=vectors, config=RankerConfig(mmr_lambda=0.75))
    recs = ranker.rank([], [], k=3)
    # MMR: 0 first; then 1 scores 0.75 * 0.9975 - 0.25 * 0.99995 = 0.498 < 2's 0.75 * 0.826 = 0.62
    assert [r.item_idx for r in recs] == [0, 2, 3]
    assert all(r.reason_kind == "popular" and r.because is None for r in recs)
    # once 0 has been shown (and not liked), its twin is fine to show
    assert ranker.rank([], [0], k=1)[0].item_idx == 1


def test_popularity_mode_is_plain_popularity_order():
    vectors, popularity = duplicate_catalogue()
    ranker = HybridRanker(popularity, cf=None, vectors=vectors, config=RankerConfig(mode="popularity"))
    assert [r.item_idx for r in ranker.rank([], [], k=4)] == [0, 1, 2, 3]
    # popularity ignores likes but never repeats them
    assert [r.item_idx for r in ranker.rank([0], [2], k=3)] == [1, 3, 4]


@pytest.mark.parametrize("mode", ["cf", "content"])
def test_one_sided_modes_start_from_plain_popularity(mode):
    vectors, popularity = duplicate_catalogue()
    cf = first_axis_scorer([0.0] * 8)
    ranker = HybridRanker(popularity, cf=cf, vectors=vectors, config=RankerConfig(mode=mode))
    assert [r.item_idx for r in ranker.rank([], [], k=3)] == [0, 1, 2]


# ------------------------------------------------------------------------------------------------
# reasons


def test_content_reasons_name_the_nearest_liked_item():
    """Liked 0 and 4; 1 is near 0 (cos 0.95), 5 near 4 (cos 0.9): each names its own liked item."""
    dim = 8
    e = np.eye(dim)
    vectors = np.stack(
        [
            e[0],
            unit(0.95 * e[0] + np.sqrt(1 - 0.95**2) * e[1]),
            e[2],
            e[3],
            e[4],
            unit(0.9 * e[4] + np.sqrt(1 - 0.81) * e[5]),
            e[6],
        ]
    ).astype(np.float32)
    ranker = HybridRanker(np.ones(7), cf=None, vectors=vectors, config=RankerConfig(mode="content"))
    recs = {r.item_idx: r for r in ranker.rank([0, 4], [0, 4], k=2)}
    assert set(recs) == {1, 5}
    assert recs[1].because == 0 and recs[5].because == 4
    assert {r.reason_kind for r in recs.values()} == {"content"}


def test_cf_reasons_name_the_liked_item_most_similar_in_cf_space():
    """Liked 0 ([1,0,0]) and 5 ([0,1,0]); 2 lies along 0, 6 along 5, the rest along the third axis."""
    rows = [[0.0, -0.1 * j, 1.0] for j in range(8)]
    rows[0], rows[5] = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    rows[2], rows[6] = [0.9, 0.1, 0.0], [0.1, 0.9, 0.0]
    ranker = HybridRanker(
        np.ones(8),
        cf=gmf_scorer(rows),
        vectors=None,
        config=RankerConfig(mode="cf", foldin=FoldInConfig(sampled_negatives=0)),
    )
    recs = {r.item_idx: r for r in ranker.rank([0, 5], [0, 5], k=2)}
    assert set(recs) == {2, 6}
    assert recs[2].because == 0 and recs[6].because == 5
    assert {r.reason_kind for r in recs.values()} == {"cf"}


def test_the_catalogue_sizes_must_agree():
    vectors, cf, popularity = cluster_catalogue()
    with pytest.raises(ValueError, match="CF model knows"):
        HybridRanker(popularity[:-1], cf=cf, vectors=None)
    with pytest.raises(ValueError, match="embeddings"):
        HybridRanker(popularity, cf=None, vectors=vectors[:-1])
