"""What every model must do, whatever it is: the same checks run against each registered model.

Unknown users and items never crash (NaN scores, a fallback list that says why), a user without
training data is treated like an unknown one, seen items are excluded on request, and a saved model
loads back to identical scores.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from nextwatch.data.dataset import Dataset
from nextwatch.models import create_model, load_model, names
from nextwatch.models.base import Recommender

TINY = {"epochs": 2, "batch_size": 64, "learning_rate": 0.01}
CASES = [
    ("pop", "implicit", {}),
    ("pop", "explicit", {}),
    ("mf", "implicit", {**TINY, "embedding_size": 4}),
    ("mf", "explicit", {**TINY, "embedding_size": 4}),
    ("gmf", "implicit", {**TINY, "embedding_size": 4}),
    ("mlp", "implicit", {**TINY, "layers": [8, 4]}),
    ("neumf", "implicit", {**TINY, "embedding_size": 4, "layers": [8, 4], "pretrain": False}),
    ("autorec", "explicit", {**TINY, "hidden": 6, "batch_size": 8}),
    (
        "neumf",
        "explicit",
        {**TINY, "embedding_size": 4, "layers": [8, 4], "pretrain": True, "pretrain_epochs": 1},
    ),
]
IDS = [f"{m}-{o}" for m, o, _ in CASES]
#: user 47 is in the users table but all its interactions are dropped before training
EMPTY_USER = 47


def test_every_registered_model_is_covered() -> None:
    assert {m for m, _, _ in CASES} == set(names())


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def fitted(request, clustered_module: Dataset) -> tuple[Recommender, Dataset]:  # type: ignore[no-untyped-def]
    """Each model trained once for the module (the tests only read it)."""
    name, objective, settings = request.param
    dataset = clustered_module
    keep = dataset.interactions.user_idx != EMPTY_USER
    train = dataclasses.replace(dataset, interactions=dataset.interactions.subset(keep))
    model = create_model(name, objective, device="cpu", **settings)
    return model.fit(train), dataset


def test_scores_are_finite_for_known_pairs_and_nan_for_unknown(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    s = model.score([0, 1, 2], [0, 1, 2])
    assert s.shape == (3,) and s.dtype == np.float32 and np.isfinite(s).all()
    # out-of-range users and items: NaN, no exception
    odd = model.score([ds.n_users, -1, 0, 0], [0, 0, ds.n_items, -5])
    personal = model.known_users(np.array([ds.n_users]))[0]
    assert np.isnan(odd[2:]).all()
    assert np.isnan(odd[:2]).all() != bool(personal)  # pop scores anyone; the others cannot
    # a scalar user broadcasts over items
    assert model.score(3, np.arange(5)).shape == (5,)


def test_unknown_and_empty_users_get_an_explained_fallback(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    for user in (ds.n_users + 5, EMPTY_USER):
        rec = model.recommend(user, k=5)
        assert len(rec.items) == 5 and len(set(rec.items.tolist())) == 5
        if model.name == "pop":
            assert rec.impossible is None  # popularity is what it always recommends
        else:
            assert rec.impossible is not None and str(user) in rec.impossible
            assert np.isnan(model.score([user], [0])).all()
    assert model.recommend(0, k=5).impossible is None


def test_recommend_excludes_seen_and_orders_by_score(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    user = 3
    seen = set(model.state.seen(user).tolist())  # type: ignore[union-attr]
    rec = model.recommend(user, k=10)
    assert not seen & set(rec.items.tolist())
    assert (np.diff(rec.scores) <= 0).all()
    np.testing.assert_allclose(rec.scores, model.score(np.full(len(rec.items), user), rec.items), rtol=1e-6)
    everything = model.recommend(user, k=ds.n_items, exclude_seen=False)
    assert seen <= set(everything.items.tolist())
    # never more than the catalogue, never an error for a large k
    assert len(model.recommend(user, k=10_000).items) == ds.n_items - len(seen)


def test_score_all_agrees_with_pairwise_scores(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    users = np.array([0, 5, EMPTY_USER])
    rows = model.score_all(users)
    assert rows.shape == (3, ds.n_items)
    uu, ii = np.meshgrid(users, np.arange(ds.n_items), indexing="ij")
    pairs = model.score(uu.ravel(), ii.ravel()).reshape(rows.shape)
    np.testing.assert_allclose(rows, pairs, rtol=1e-5, atol=1e-5)


def test_explicit_models_predict_on_the_rating_scale(fitted) -> None:  # type: ignore[no-untyped-def]
    model, _ds = fitted
    s = model.score_all(np.arange(10))
    if model.objective == "implicit":  # logits: unbounded, but the trained ones are not all equal
        assert np.nanstd(s) > 0
        return
    s = s[np.isfinite(s)]
    assert s.min() >= 1.0 and s.max() <= 5.0


def test_save_load_gives_identical_scores(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    model.save(tmp_path / "m")
    back = load_model(tmp_path / "m", device="cpu")
    assert type(back) is type(model) and back.config == model.config
    assert back.provenance["dataset"]["fingerprint"] == ds.fingerprint
    users = np.arange(ds.n_users + 2)
    np.testing.assert_array_equal(back.score_all(users), model.score_all(users))
    a, b = model.recommend(2, k=7), back.recommend(2, k=7)
    assert a.items.tolist() == b.items.tolist() and a.impossible == b.impossible
    assert back.state.user_ids.tolist() == ds.user_ids().tolist()  # type: ignore[union-attr]
    # the training users' seen items live outside state.npz and are memory-mapped, not read, on load
    with np.load(tmp_path / "m" / "state.npz") as z:
        assert "seen_indices" not in z.files and "seen_indptr" not in z.files
    assert isinstance(back.state.seen_indices, np.memmap)  # type: ignore[union-attr]
    for u in range(ds.n_users):
        assert back.state.seen(u).tolist() == model.state.seen(u).tolist()  # type: ignore[union-attr]
    # no pickle anywhere: the arrays load with allow_pickle=False (load_model did) and the weights
    # with weights_only=True
    if (tmp_path / "m" / "weights.pt").exists():
        import torch

        state = torch.load(tmp_path / "m" / "weights.pt", weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_fold_in_hook_scores_given_vectors_without_touching_weights(fitted) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted
    if model.name in ("pop", "autorec"):
        # pop: nothing per user to fold in; autorec: rating prediction, not served to new people
        assert not hasattr(model, "score_user_vectors")
        return
    import torch

    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    users = np.array([1, 4])
    vectors = model.user_vectors(users)
    items = np.arange(ds.n_items)
    from_vectors = model.score_user_vectors(vectors, items)
    np.testing.assert_allclose(from_vectors, model.score_all(users), rtol=1e-5, atol=1e-5)
    # a new person: vectors of their own (here: the mean of two users'), scored against stored items
    mean = tuple(v.mean(axis=0, keepdims=True) for v in vectors)
    new = model.score_user_vectors(mean, items[:7])
    assert new.shape == (1, 7) and np.isfinite(new).all()
    after = model.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    weights = model.item_weights()
    assert weights and not any("user" in name for name in weights)
