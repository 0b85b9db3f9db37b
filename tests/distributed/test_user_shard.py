"""User-sharded ``sparse_adam`` under DDP, without a process group: the user tables are found from the
modules' ``user_vectors``; each rank's epoch holds exactly the positives of its users (``u % W == r``),
padded to equal step counts; the user tables are left out of DDP and stay sparse, the item tables go
dense; one process, or a dense optimiser, shards as before."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from nextwatch.models.config import GMFConfig, NeuMFConfig
from nextwatch.models.ncf.modules import GMF, MF, MLP, NeuMF
from nextwatch.models.ncf.trainer import EpochTrainer, Parallel, TrainData, user_tables

CPU = torch.device("cpu")
N_ITEMS = 6


def uneven_data() -> TrainData:
    """7 users with 3, 1, 4, 2, 5, 0, 2 positives (user 5 has none); items ``(u + j) % 6``."""
    counts = [3, 1, 4, 2, 5, 0, 2]
    users = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    items = np.concatenate([(u + np.arange(c)) % N_ITEMS for u, c in enumerate(counts)]).astype(np.int64)
    keys = users * N_ITEMS + items
    assert len(np.unique(keys)) == len(keys)
    return TrainData(users, items, np.ones(len(users), np.float32), 7, N_ITEMS, "implicit", np.sort(keys))


def trainer(rank: int, world: int, optimizer: str = "sparse_adam", model: str = "gmf") -> EpochTrainer:
    data = uneven_data()
    torch.manual_seed(0)
    if model == "neumf":
        cfg = NeuMFConfig(embedding_size=2, layers=(4, 2), batch_size=4, optimizer=optimizer, pretrain=False)
        module: torch.nn.Module = NeuMF(data.n_users, N_ITEMS, 2, (4, 2))
    else:
        cfg = GMFConfig(embedding_size=2, batch_size=4, n_negatives=2, optimizer=optimizer, seed=5)
        module = GMF(data.n_users, N_ITEMS, 2)
    return EpochTrainer(module, cfg, data, device=CPU, parallel=Parallel(rank, world))


def positives(t: EpochTrainer, epoch: int) -> tuple[list[tuple[int, int]], list[int]]:
    """The (user, item) positives of the rank's epoch, and the users of all its samples."""
    pos, all_users = [], []
    for u, i, y in t.epoch_chunks(epoch):
        pos += [(a, b) for a, b, c in zip(u.tolist(), i.tolist(), y.tolist(), strict=True) if c == 1.0]
        all_users += u.tolist()
    return pos, all_users


def test_user_tables_follow_user_vectors() -> None:
    gmf, mlp = GMF(5, 4, 2), MLP(5, 4, (4, 2))
    assert user_tables(gmf) == [gmf.user_embedding]
    assert user_tables(mlp) == [mlp.user_embedding]
    neumf = NeuMF(5, 4, 2, (4, 2))
    assert user_tables(neumf) == [neumf.gmf.user_embedding, neumf.mlp.user_embedding]
    mf = MF(5, 4, 2)
    assert user_tables(mf) == [mf.user_embedding, mf.user_bias]
    assert user_tables(torch.nn.Linear(2, 2)) == []


@pytest.mark.parametrize("world", [2, 3])
def test_every_positive_lands_on_the_rank_of_its_user_and_steps_are_equal(world: int) -> None:
    data = uneven_data()
    every = Counter(zip(data.users.tolist(), data.items.tolist(), strict=True))
    per_rank = [np.bincount(data.users % world, minlength=world)[r] for r in range(world)]
    largest = max(per_rank)  # world 2: users 0,2,4,6 hold 14 positives, users 1,3,5 hold 3
    for epoch in (0, 1):
        seen: Counter[tuple[int, int]] = Counter()
        for rank in range(world):
            t = trainer(rank, world)
            assert t.user_shard and t.optimizer_label == "sparse_adam+user_shard"
            pos, users = positives(t, epoch)
            # every sample (negatives too) is of one of this rank's users
            assert {u % world for u in users} == {rank}
            # equal steps: the same number of positives (padded) and samples on every rank
            assert len(pos) == largest and len(users) == largest * 3 == t.samples_per_epoch
            mine = Counter(pos)
            assert set(mine) == {p for p in every if p[0] % world == rank}  # all of them
            # the padding repeats this rank's positives (wrapping round): each at most once more
            assert sum(mine.values()) - len(mine) == largest - per_rank[rank]
            assert max(mine.values()) <= 1 + (largest - 1) // per_rank[rank]
            seen.update(set(mine))
        assert seen == Counter(set(every))  # every positive on exactly one rank


def test_user_tables_leave_ddp_and_stay_sparse_item_tables_go_dense() -> None:
    t = trainer(1, 2, model="neumf")
    module = t.module
    # the wrapper is the identity here; the names are the TrainStep's, as DDP sees them
    assert t.step_module._ddp_params_and_buffers_to_ignore == [  # type: ignore[union-attr]
        "model.gmf.user_embedding.weight",
        "model.mlp.user_embedding.weight",
    ]
    assert [m.sparse for m in (module.gmf.user_embedding, module.mlp.user_embedding)] == [True, True]
    assert [m.sparse for m in (module.gmf.item_embedding, module.mlp.item_embedding)] == [False, False]
    assert t.sparse_optimizer is not None and t.optimizer is not None
    sparse_ids = {id(p) for g in t.sparse_optimizer.param_groups for p in g["params"]}
    assert sparse_ids == {id(module.gmf.user_embedding.weight), id(module.mlp.user_embedding.weight)}
    dense_ids = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    assert id(module.gmf.item_embedding.weight) in dense_ids and not dense_ids & sparse_ids
    t.finalize()
    assert not any(m.sparse for m in module.modules() if isinstance(m, torch.nn.Embedding))


def test_one_process_dense_adam_or_a_rank_without_users_is_not_user_sharded() -> None:
    single, dense = trainer(0, 1), trainer(1, 2, optimizer="adam")
    assert not single.user_shard and single.optimizer_label == "sparse_adam"
    assert not dense.user_shard and dense.optimizer_label == "adam"
    assert not hasattr(dense.step_module, "_ddp_params_and_buffers_to_ignore")
    # the plain split: every 2nd row of one shared permutation, samples of both parities of users
    _, users = positives(dense, 0)
    assert {u % 2 for u in users} == {0, 1}
    assert dense.samples_per_epoch == 9 * 3  # ceil(17 / 2) positives, 2 negatives each
    # 7 ranks: user 5 (rank 5's only user) has no positives, so rank 5 could not step: not user-sharded
    seventh = trainer(5, 7)
    assert not seventh.user_shard and seventh.optimizer_label == "sparse_adam"
    assert seventh.samples_per_epoch == 3 * 3  # ceil(17 / 7)
