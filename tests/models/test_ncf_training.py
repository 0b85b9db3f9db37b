"""Training: it learns, it is a pure function of the seed, epochs shard cleanly across ranks, and a
checkpointed trainer continues exactly where an uninterrupted one would be."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from nextwatch.data.dataset import Dataset
from nextwatch.evaluation.protocols import evaluate
from nextwatch.evaluation.splits import compute_split, train_view
from nextwatch.models import create_model
from nextwatch.models.config import GMFConfig
from nextwatch.models.ncf.modules import GMF
from nextwatch.models.ncf.trainer import EpochTrainer, Parallel, TrainData

CPU = torch.device("cpu")


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_two_epochs_beat_an_untrained_model(clustered: Dataset) -> None:
    split = compute_split(clustered, "loo")
    train = train_view(clustered, split, "test")
    settings = {
        "embedding_size": 8,
        "layers": [16, 8],
        "batch_size": 16,
        "learning_rate": 0.01,
        "seed": 1,
        "pretrain": False,
    }
    trained = create_model("neumf", "implicit", device="cpu", epochs=2, **settings).fit(train)
    untrained = create_model("neumf", "implicit", device="cpu", epochs=0, **settings).fit(train)
    hr_trained = evaluate(trained, clustered, "loo-full", split=split)["HR@10"]
    hr_untrained = evaluate(untrained, clustered, "loo-full", split=split)["HR@10"]
    # about 30 candidates per user, so a random ranking hits ~1/3 of the time; the taste groups are
    # easy to learn (1 held-out item in 6 is from the other group, so ~0.8 is the ceiling)
    assert hr_untrained < 0.5
    assert hr_trained > 0.6
    assert hr_trained > hr_untrained + 0.25
    assert [h.epoch for h in trained.history] == [1, 2]  # type: ignore[attr-defined]
    assert trained.history[1].loss < trained.history[0].loss  # type: ignore[attr-defined]


def test_explicit_mf_beats_the_global_mean(clustered_large: Dataset) -> None:
    clustered = clustered_large
    split = compute_split(clustered, "ratings-holdout")
    train = train_view(clustered, split, "test")
    model = create_model(
        "mf",
        "explicit",
        device="cpu",
        epochs=30,
        embedding_size=4,
        batch_size=32,
        learning_rate=0.02,
        reg=0.01,
    ).fit(train)
    rmse = evaluate(model, clustered, "holdout-ratings", split=split)["RMSE"]
    held = clustered.interactions.rating[split.rows("test")]
    mean_rmse = float(np.sqrt(np.mean((held - train.interactions.rating.mean()) ** 2)))
    # the groups rate their own items 4-5 and the others' 1-2: a learned model must see that
    assert rmse < 0.75 * mean_rmse


def test_same_seed_same_weights_other_seed_other_weights(clustered: Dataset) -> None:
    def fit(seed: int) -> torch.nn.Module:
        m = create_model(
            "neumf",
            "implicit",
            device="cpu",
            epochs=2,
            embedding_size=4,
            layers=[8, 4],
            batch_size=64,
            seed=seed,
            pretrain_epochs=1,  # three stages: GMF, MLP, NeuMF
        )
        return m.fit(clustered).module  # type: ignore[attr-defined,no-any-return]

    assert state_equal(fit(3), fit(3))
    assert not state_equal(fit(3), fit(4))


def _trainer(ds: Dataset, *, rank: int = 0, world: int = 1, seed: int = 0) -> EpochTrainer:
    data = TrainData.build(ds.interactions, ds.n_users, ds.n_items, "implicit", None)
    cfg = GMFConfig(embedding_size=4, batch_size=64, seed=seed)
    torch.manual_seed(0)
    return EpochTrainer(GMF(ds.n_users, ds.n_items, 4), cfg, data, device=CPU, parallel=Parallel(rank, world))


def _epoch_samples(trainer: EpochTrainer, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = list(trainer.epoch_chunks(epoch))
    return tuple(torch.cat([p[j] for p in parts]).numpy() for j in range(3))  # type: ignore[return-value]


def test_epoch_samples_depend_only_on_seed_and_epoch(clustered: Dataset) -> None:
    a, b = _trainer(clustered), _trainer(clustered)
    a.train_epoch()  # training history must not leak into later epochs' samples
    for x, y in zip(_epoch_samples(a, 2), _epoch_samples(b, 2), strict=True):
        np.testing.assert_array_equal(x, y)
    u2, i2, _ = _epoch_samples(b, 2)
    u3, i3, _ = _epoch_samples(b, 3)
    assert not (np.array_equal(u2, u3) and np.array_equal(i2, i3))


def test_implicit_epoch_has_every_positive_once_and_k_negatives_each(clustered: Dataset) -> None:
    trainer = _trainer(clustered)
    users, items, labels = _epoch_samples(trainer, 0)
    n_items = clustered.n_items
    pos_keys = np.sort(users[labels == 1] * n_items + items[labels == 1])
    np.testing.assert_array_equal(pos_keys, trainer.data.keys)
    k = trainer.config.n_negatives
    assert k == 8  # GMF's default
    assert (labels == 0).sum() == k * len(trainer.data)
    neg_keys = users[labels == 0] * n_items + items[labels == 0]
    assert not np.isin(neg_keys, trainer.data.keys).any()


def test_ranks_split_each_epoch_into_equal_disjoint_shards(clustered: Dataset) -> None:
    single = _trainer(clustered)
    r0, r1 = _trainer(clustered, rank=0, world=2), _trainer(clustered, rank=1, world=2)
    assert r0.batch_size == r1.batch_size == 32  # the global batch of 64, halved
    s0, s1 = r0._shard(5), r1._shard(5)
    assert len(s0) == len(s1) == r0.samples_per_epoch // (1 + r0.config.n_negatives)
    n = len(single.data)
    # together the two shards are the whole epoch (padding wraps round when n is odd)
    assert set(s0.tolist()) | set(s1.tolist()) == set(range(n))
    assert len(s0) + len(s1) - n == n % 2
    assert r0.samples_per_epoch == r1.samples_per_epoch
    # each rank draws its own negatives
    n0 = _epoch_samples(r0, 5)
    n1 = _epoch_samples(r1, 5)
    assert not np.array_equal(n0[1], n1[1])


def test_checkpointed_trainer_continues_exactly(clustered: Dataset) -> None:
    straight = _trainer(clustered)
    for _ in range(3):
        straight.train_epoch()
    first = _trainer(clustered)
    first.train_epoch()
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = _trainer(clustered)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    assert resumed.epoch == 1
    resumed.train_epoch()
    resumed.train_epoch()
    assert state_equal(resumed.module, straight.module)
    assert [h.loss for h in resumed.history] == pytest.approx(
        [h.loss for h in straight.history], rel=0, abs=0
    )
