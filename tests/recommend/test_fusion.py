import numpy as np
import pytest

from nextwatch.recommend.fusion import FusionSchedule, blend, intra_list_similarity, minmax, mmr


def test_minmax_hand_computed():
    np.testing.assert_allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(minmax(np.array([7.0, 7.0])), [0.5, 0.5])
    np.testing.assert_allclose(minmax(np.array([1.0, np.nan, 3.0])), [0.0, 0.0, 1.0])


def test_schedule_moves_from_content_to_cf():
    s = FusionSchedule(cf_min=0.2, cf_max=0.6, min_likes=2, ramp_likes=4)
    # below min_likes: floor; then +0.1 per like until the ceiling
    assert [round(s.weight_cf(n), 6) for n in range(8)] == [0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6]
    with pytest.raises(ValueError):
        FusionSchedule(cf_min=0.8, cf_max=0.5)


def test_blend_weights_normalised_sides():
    cf = np.array([0.0, 10.0, 5.0])  # -> 0, 1, .5
    content = np.array([0.9, 0.1, 0.5])  # -> 1, 0, .5
    np.testing.assert_allclose(blend(cf, content, 0.25), [0.75, 0.25, 0.5])


def test_mmr_skips_near_duplicates():
    # items 0 and 1 are the same direction; 2 is orthogonal and a bit less relevant
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    rel = np.array([1.0, 0.95, 0.6])
    assert list(mmr(rel, emb, 2, lambda_=0.7)) == [0, 2]
    # with lambda = 1 it is plain relevance order
    assert list(mmr(rel, emb, 3, lambda_=1.0)) == [0, 1, 2]
    assert list(mmr(rel, emb, 10)) and len(mmr(rel, emb, 10)) == 3


def test_intra_list_similarity():
    e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # pairs: (0,1)=0, (0,2)=1, (1,2)=0 -> mean 1/3
    assert intra_list_similarity(e) == pytest.approx(1 / 3)
    assert intra_list_similarity(e[:1]) == 0.0
