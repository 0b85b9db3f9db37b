"""Training beyond one process: ``nextwatch train`` under ``torchrun``, with DistributedDataParallel.

``torchrun --nproc_per_node=N -m nextwatch train DATASET --out MODEL`` runs the very same command in N
workers; :func:`open_session` notices the launcher's environment and joins the process group (gloo on
CPU, NCCL on GPU). See ``docs/distributed.md`` for running on a multi-GPU node and across nodes.
"""

from nextwatch.distributed.ddp import (
    DistributedSession,
    LocalSession,
    open_session,
    weights_digest,
    worker_device,
)
from nextwatch.distributed.env import ENV_RANK_WEIGHTS, ENV_TIMEOUT, LaunchEnv, collective_timeout

__all__ = [
    "ENV_RANK_WEIGHTS",
    "ENV_TIMEOUT",
    "DistributedSession",
    "LaunchEnv",
    "LocalSession",
    "collective_timeout",
    "open_session",
    "weights_digest",
    "worker_device",
]
