"""The DDP hook tells the epoch trainer whether sparse gradients can be all-reduced: gloo can, NCCL
cannot; so under NCCL ``auto`` stays dense and ``sparse_adam`` is refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextwatch.distributed import DistributedSession, LaunchEnv
from nextwatch.errors import InputError
from nextwatch.models.config import GMFConfig
from nextwatch.models.ncf.modules import GMF
from nextwatch.models.ncf.trainer import EpochTrainer, Parallel, TrainData

LAUNCH = LaunchEnv(rank=1, world_size=2, local_rank=1, local_world_size=2, master_addr="h", master_port="1")


def trainer(backend: str, optimizer: str) -> EpochTrainer:
    hook = DistributedSession(LAUNCH, torch.device("cpu"), 1, backend).parallel()
    assert (hook.rank, hook.world_size) == (1, 2)
    # no process group is joined here: the same hook, but without the DDP wrapper
    parallel = Parallel(hook.rank, hook.world_size, sparse_gradients=hook.sparse_gradients)
    users = np.arange(4, dtype=np.int64)
    data = TrainData(users, users, np.ones(4, np.float32), 4, 4, "implicit", users * 4 + users)
    cfg = GMFConfig(embedding_size=2, optimizer=optimizer)
    return EpochTrainer(GMF(4, 4, 2), cfg, data, device=torch.device("cpu"), parallel=parallel)


def test_gloo_carries_sparse_gradients_and_nccl_does_not() -> None:
    assert DistributedSession(LAUNCH, torch.device("cpu"), 1, "gloo").parallel().sparse_gradients
    assert not DistributedSession(LAUNCH, torch.device("cpu"), 1, "nccl").parallel().sparse_gradients
    assert trainer("gloo", "sparse_adam").optimizer_name == "sparse_adam"
    assert trainer("nccl", "auto").optimizer_name == "adam"
    with pytest.raises(InputError, match="NCCL") as err:
        trainer("nccl", "sparse_adam")
    assert "optimizer=adam or auto" in (err.value.hint or "")
