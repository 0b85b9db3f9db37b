"""``optimizer=sparse_adam`` ("lazy Adam") and ``optimizer=auto``: embeddings get sparse gradients and
only the rows a batch looked up move; it learns as dense Adam does; ``auto`` picks dense Adam for
ML-1M-sized tables (bit-identical training) and sparse Adam for Netflix-sized ones on the CPU; a
checkpointed sparse run resumes exactly."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nextwatch.data.dataset import Dataset
from nextwatch.errors import InputError, NextwatchError
from nextwatch.evaluation.protocols import evaluate
from nextwatch.evaluation.splits import compute_split, train_view
from nextwatch.models import create_model
from nextwatch.models.config import GMFConfig, MFConfig, NeuMFConfig
from nextwatch.models.ncf.modules import GMF, MF, MLP, NeuMF
from nextwatch.models.ncf.trainer import (
    AUTO_SPARSE_MIN_ROWS,
    AUTO_SPARSE_ROWS_PER_SAMPLE,
    EpochTrainer,
    Parallel,
    TrainData,
    resolve_optimizer,
)
from nextwatch.models.ncf.training import Callbacks, Stage, run_stages

CPU = torch.device("cpu")
LR = 0.1


def state_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def tiny_data(n_users: int = 10, n_items: int = 8) -> TrainData:
    """A placeholder training set (the step tests feed their own batches)."""
    users = np.arange(n_users, dtype=np.int64)
    items = users % n_items
    keys = np.sort(users * n_items + items)
    return TrainData(users, items, np.ones(n_users, np.float32), n_users, n_items, "implicit", keys)


def gmf_trainer(optimizer: str, **parallel: object) -> EpochTrainer:
    torch.manual_seed(0)
    cfg = GMFConfig(embedding_size=3, batch_size=2, learning_rate=LR, reg=0.01, optimizer=optimizer)
    return EpochTrainer(GMF(10, 8, 3), cfg, tiny_data(), device=CPU, parallel=Parallel(**parallel))  # type: ignore[arg-type]


def step(trainer: EpochTrainer, users: list[int], items: list[int], targets: list[float]) -> None:
    trainer.train_batch(torch.tensor(users), torch.tensor(items), torch.tensor(targets))


def weights(trainer: EpochTrainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.module.state_dict().items()}


def test_sparse_adam_moves_only_the_rows_a_batch_touched() -> None:
    sparse, dense = gmf_trainer("sparse_adam"), gmf_trainer("adam")
    assert (sparse.optimizer_name, dense.optimizer_name) == ("sparse_adam", "adam")
    assert isinstance(sparse.sparse_optimizer, torch.optim.SparseAdam) and dense.sparse_optimizer is None
    with torch.no_grad():  # unit-sized rows: gradients far above Adam's eps
        for t in (sparse, dense):
            torch.manual_seed(1)
            t.module.user_embedding.weight.normal_()
            t.module.item_embedding.weight.normal_()
    w0 = weights(sparse)
    step(sparse, [0, 1], [0, 1], [1.0, 0.0])
    step(dense, [0, 1], [0, 1], [1.0, 0.0])
    emb = sparse.module.user_embedding
    assert emb.weight.grad is not None and emb.weight.grad.is_sparse
    assert sorted(emb.weight.grad.coalesce().indices()[0].tolist()) == [0, 1]
    assert not dense.module.user_embedding.weight.grad.is_sparse  # type: ignore[union-attr]
    assert not sparse.module.predict.weight.grad.is_sparse  # type: ignore[union-attr]
    w1 = weights(sparse)
    for table in ("user_embedding", "item_embedding"):
        # SparseAdam's first step: m = (1 - b1) g, v = (1 - b2) g^2, step lr sqrt(1 - b2) / (1 - b1), so
        # each coordinate moves by -lr g / (|g| + eps / sqrt(1 - b2)), i.e. by lr against the gradient
        g = getattr(sparse.module, table).weight.grad.to_dense()
        name = table + ".weight"
        expected = -LR * g[:2] / (g[:2].abs() + 1e-8 / 0.001**0.5)
        torch.testing.assert_close(w1[name][:2] - w0[name][:2], expected, rtol=1e-5, atol=1e-7)
        assert (g[:2].abs() > 1e-3).all()
        assert torch.equal(w1[name][2:], w0[name][2:])  # rows 2.. were not in the batch
    # one step of lazy Adam is one step of Adam (untouched rows have no moments yet; the two place eps
    # differently, which these gradients do not feel)
    for name, value in dense.module.state_dict().items():
        torch.testing.assert_close(w1[name], value, rtol=1e-5, atol=1e-5)  # steps are 0.1

    step(sparse, [2, 3], [2, 3], [1.0, 0.0])
    step(dense, [2, 3], [2, 3], [1.0, 0.0])
    w2, d2 = weights(sparse), weights(dense)
    for table in ("user_embedding.weight", "item_embedding.weight"):
        assert torch.equal(w2[table][:2], w1[table][:2])  # lazy: last step's rows keep their values
        assert torch.equal(w2[table][4:], w0[table][4:])
        assert not torch.equal(w2[table][2:4], w1[table][2:4])
        # dense Adam's momentum moves the rows of the first batch again: the two really differ
        assert not torch.equal(d2[table][:2], w1[table][:2])
    assert not torch.equal(w2["predict.weight"], w1["predict.weight"])  # Adam on the dense layer


def test_finished_module_has_its_embeddings_dense_again(clustered: Dataset) -> None:
    model = create_model(
        "gmf", "implicit", device="cpu", epochs=1, embedding_size=4, batch_size=64, optimizer="sparse_adam"
    ).fit(clustered)
    module = model.module  # type: ignore[attr-defined]
    assert [m.sparse for m in module.modules() if isinstance(m, nn.Embedding)] == [False, False]
    assert [h.optimizer for h in model.history] == ["sparse_adam"]  # type: ignore[attr-defined]


def test_a_dense_trainer_takes_a_module_left_sparse() -> None:
    left = gmf_trainer("sparse_adam").module  # never finalised: its embeddings still say sparse
    cfg = GMFConfig(embedding_size=3, batch_size=2, optimizer="adam")
    dense = EpochTrainer(left, cfg, tiny_data(), device=CPU)
    step(dense, [0, 1], [0, 1], [1.0, 0.0])
    assert not left.user_embedding.weight.grad.is_sparse  # type: ignore[union-attr]


def test_sparse_adam_learns_the_clustered_tastes(clustered: Dataset) -> None:
    # the settings and bounds of the dense test in test_ncf_training.py
    split = compute_split(clustered, "loo")
    train = train_view(clustered, split, "test")
    settings = {
        "embedding_size": 8,
        "layers": [16, 8],
        "batch_size": 16,
        "learning_rate": 0.01,
        "seed": 1,
        "pretrain": False,
        "optimizer": "sparse_adam",
    }
    trained = create_model("neumf", "implicit", device="cpu", epochs=2, **settings).fit(train)
    untrained = create_model("neumf", "implicit", device="cpu", epochs=0, **settings).fit(train)
    hr_trained = evaluate(trained, clustered, "loo-full", split=split)["HR@10"]
    hr_untrained = evaluate(untrained, clustered, "loo-full", split=split)["HR@10"]
    assert hr_untrained < 0.5
    assert hr_trained > 0.6
    assert hr_trained > hr_untrained + 0.25
    history = trained.history  # type: ignore[attr-defined]
    assert [(h.epoch, h.optimizer) for h in history] == [(1, "sparse_adam"), (2, "sparse_adam")]
    assert history[1].loss < history[0].loss
    assert history[0].to_dict()["optimizer"] == "sparse_adam"


def meta(build: type[nn.Module], *args: object) -> nn.Module:
    """A module without storage: resolving ``auto`` looks at table sizes only."""
    with torch.device("meta"):
        return build(*args)


ML1M = (6040, 3706)
NETFLIX = (480_189, 17_770)


def test_auto_is_dense_for_ml1m_sized_tables_and_sparse_for_netflix_on_the_cpu() -> None:
    cfg = NeuMFConfig()  # the defaults: optimizer auto in every stage
    assert cfg.optimizer == "auto"
    gmf_cfg, mlp_cfg = cfg.gmf_config(), cfg.mlp_config()
    assert gmf_cfg.optimizer == mlp_cfg.optimizer == "auto"

    def stages(n_users: int, n_items: int) -> list[tuple[nn.Module, int]]:
        return [
            (meta(GMF, n_users, n_items, gmf_cfg.embedding_size), gmf_cfg.batch_size),
            (meta(MLP, n_users, n_items, mlp_cfg.layers), mlp_cfg.batch_size),
            (meta(NeuMF, n_users, n_items, cfg.embedding_size, cfg.layers), cfg.batch_size),
            (meta(MF, n_users, n_items, 64), 1024),
        ]

    for module, batch in stages(*ML1M):
        assert resolve_optimizer("auto", module, CPU, batch_size=batch) == "adam"
    for module, batch in stages(*NETFLIX):
        assert resolve_optimizer("auto", module, CPU, batch_size=batch) == "sparse_adam"
        assert resolve_optimizer("auto", module, torch.device("cuda"), batch_size=batch) == "adam"
        assert resolve_optimizer("auto", module, CPU, batch_size=batch, sparse_gradients=False) == "adam"
        for fixed in ("adam", "sgd", "sparse_adam"):
            assert resolve_optimizer(fixed, module, CPU, batch_size=batch) == fixed


def test_auto_thresholds() -> None:
    netflix = meta(NeuMF, *NETFLIX, 32, (64, 32, 16, 8))  # 4 tables, 2 x (480,189 + 17,770) = 995,918 rows
    assert AUTO_SPARSE_ROWS_PER_SAMPLE * 16384 * 4 < 995_918 < AUTO_SPARSE_ROWS_PER_SAMPLE * 32768 * 4
    assert resolve_optimizer("auto", netflix, CPU, batch_size=16384) == "sparse_adam"
    # a step this big touches so many rows that the dense kernel wins (measured: see the trainer)
    assert resolve_optimizer("auto", netflix, CPU, batch_size=32768) == "adam"
    # the total-rows floor: 2 tables, batch 1 (the per-sample rule alone would say sparse)
    at = meta(GMF, AUTO_SPARSE_MIN_ROWS - 10, 10, 2)
    above = meta(GMF, AUTO_SPARSE_MIN_ROWS - 9, 10, 2)
    assert resolve_optimizer("auto", at, CPU, batch_size=1) == "adam"
    assert resolve_optimizer("auto", above, CPU, batch_size=1) == "sparse_adam"


def test_auto_trains_small_tables_exactly_as_adam(clustered: Dataset) -> None:
    def fit(optimizer: str) -> object:
        return create_model(
            "neumf", "implicit", device="cpu", epochs=1, embedding_size=4, layers=[8, 4], batch_size=64,
            pretrain_epochs=1, optimizer=optimizer,
        ).fit(clustered)  # fmt: skip

    auto, adam = fit("auto"), fit("adam")
    assert state_equal(auto.module, adam.module)  # type: ignore[attr-defined]
    assert [h.loss for h in auto.history] == [h.loss for h in adam.history]  # type: ignore[attr-defined]
    assert [(h.stage, h.optimizer) for h in auto.history] == [  # type: ignore[attr-defined]
        ("gmf", "adam"),
        ("mlp", "adam"),
        ("neumf", "adam"),
    ]


def test_sparse_adam_is_refused_where_gradients_cannot_be_sparse() -> None:
    with pytest.raises(InputError, match="NCCL"):
        gmf_trainer("sparse_adam", rank=0, world_size=2, sparse_gradients=False)
    assert gmf_trainer("auto", rank=0, world_size=2, sparse_gradients=False).optimizer_name == "adam"


def mf_trainer(ds: Dataset) -> EpochTrainer:
    # explicit MF: four tables (vectors and biases), a dense global bias, and the L2 penalty
    data = TrainData.build(ds.interactions, ds.n_users, ds.n_items, "explicit", ds.rating_scale)
    cfg = MFConfig(
        objective="explicit", embedding_size=4, batch_size=32, reg=0.01, lr_decay=0.8, optimizer="sparse_adam"
    )
    torch.manual_seed(0)
    return EpochTrainer(MF(ds.n_users, ds.n_items, 4), cfg, data, device=CPU)


def test_checkpointed_sparse_trainer_continues_exactly(clustered: Dataset) -> None:
    straight = mf_trainer(clustered)
    for _ in range(3):
        straight.train_epoch()
    first = mf_trainer(clustered)
    first.train_epoch()
    state = first.state_dict()
    assert state["optimizer_name"] == "sparse_adam"
    assert len(state["sparse_optimizer"]["state"]) == 4 and len(state["optimizer"]["state"]) == 1
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    resumed = mf_trainer(clustered)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    resumed.train_epoch()
    resumed.train_epoch()
    assert state_equal(resumed.module, straight.module)
    assert [(h.loss, h.optimizer) for h in resumed.history] == [
        (h.loss, h.optimizer) for h in straight.history
    ]

    dense = mf_trainer(clustered)
    dense_state = {**state, "optimizer_name": "adam"}
    with pytest.raises(NextwatchError, match="trained with optimizer adam"):
        dense.load_state_dict(dense_state)


class Crash(Exception):
    pass


class CrashAfter(Callbacks):
    """Stops the run (as a kill would) once ``stage``'s epoch ``epoch`` is checkpointed."""

    def __init__(self, stage: str, epoch: int) -> None:
        self.at = (stage, epoch)

    def epoch_end(self, stage: Stage, stats: object, module: nn.Module) -> None:
        if (stage.name, stats.epoch) == self.at:  # type: ignore[attr-defined]
            raise Crash


def test_staged_sparse_run_resumed_from_its_checkpoints_equals_the_uninterrupted_run(
    clustered: Dataset, tmp_path: Path
) -> None:
    model = create_model(
        "neumf", "implicit", device="cpu", embedding_size=4, layers=[8, 4], epochs=2, batch_size=32,
        pretrain_epochs=2, pretrain_batch_size=32, optimizer="sparse_adam", seed=2,
    )  # fmt: skip
    data = TrainData.build(clustered.interactions, clustered.n_users, clustered.n_items, "implicit", None)

    def run(folder: Path, *, resume: bool = False, callbacks: Callbacks | None = None) -> tuple:  # type: ignore[type-arg]
        return run_stages(
            model.stages(clustered.n_users, clustered.n_items), data, device=CPU,
            checkpoint_dir=folder, resume=resume, callbacks=callbacks,
        )  # fmt: skip

    done, history = run(tmp_path / "straight")
    with pytest.raises(Crash):
        run(tmp_path / "killed", callbacks=CrashAfter("mlp", 1))
    again, history_again = run(tmp_path / "killed", resume=True)
    assert state_equal(again["neumf"], done["neumf"])
    assert [(h.stage, h.epoch, h.loss, h.optimizer) for h in history_again] == [
        (h.stage, h.epoch, h.loss, h.optimizer) for h in history
    ]
    assert {h.optimizer for h in history} == {"sparse_adam"} and len(history) == 6
