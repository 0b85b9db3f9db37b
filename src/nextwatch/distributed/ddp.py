"""One process's part in a training run: alone, or as a rank of a ``torchrun`` job under DDP.

:func:`open_session` reads the launcher's environment (:class:`~nextwatch.distributed.env.LaunchEnv`)
and returns a :class:`LocalSession` for a plain run or a :class:`DistributedSession` under torchrun.
Both offer what ``nextwatch train`` needs, so the command runs unchanged either way:

- ``device`` and ``threads``: under torchrun each worker takes ``cuda:LOCAL_RANK`` on a GPU node (NCCL)
  or the CPU (gloo), and by default its share of the node's cores (one thread each for 2 workers on 2
  cores); ``--threads`` / ``$NEXTWATCH_THREADS`` override;
- ``main_first()``: rank 0 does the work (e.g. computing and storing a split) while the others wait,
  then they read what it wrote;
- ``fit_options()``: the :class:`~nextwatch.models.ncf.trainer.Parallel` hook for the epoch trainer:
  the step module wrapped in :class:`torch.nn.parallel.DistributedDataParallel` (gradients all-reduced
  and averaged across ranks during ``backward``), an all-reduce of the epoch loss, and an in-place
  all-reduce of a tensor (user-sharded ``sparse_adam`` shares its user rows with it);
- ``finish(module)``: after training, every rank hashes its weights and the hashes are compared (DDP
  keeps the replicas bit-identical; a difference is a bug and fails the run); only rank 0 goes on to
  write the model folder and evaluate, the others return;
- ``close()``: after a clean run, wait for every rank (the main one arrives after writing), then
  ``destroy_process_group``.

The sharding itself lives in the epoch trainer: every epoch's permutation of the positives is the same
on all ranks (seeded by ``(seed, stage, epoch)``), rank ``r`` takes rows ``r, r + W, r + 2W, ...``,
and samples its negatives from a generator seeded by ``(seed, stage, epoch, r)``; under
``sparse_adam`` rank ``r`` instead trains on the positives of the users ``u % W == r`` (user-sharded,
see :mod:`nextwatch.models.ncf.trainer`). The configured
``batch_size`` is the *global* batch: each rank steps on ``ceil(batch_size / W)`` samples, so one
optimiser step sees the same number of samples as a single-process step, and an epoch has the same
number of steps.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from nextwatch.device import ENV_THREADS, configure_threads, resolve_device
from nextwatch.distributed.env import ENV_RANK_WEIGHTS, LaunchEnv, collective_timeout
from nextwatch.errors import InputError, NextwatchError
from nextwatch.models.ncf.trainer import Parallel

log = logging.getLogger(__name__)
#: how long, at the end of a clean run, the other ranks wait for the main rank to write and evaluate
END_WAIT = timedelta(hours=24)


def weights_digest(module: nn.Module) -> str:
    """sha256 of a module's state dict (names, dtypes, shapes and bytes, in key order)."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


class LocalSession:
    """A plain single-process run: no process group, every hook a no-op."""

    rank = 0
    world_size = 1

    def __init__(self, device: torch.device, threads: int) -> None:
        self.device = device
        self.threads = threads

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Run the block on rank 0 first; the other ranks run it after rank 0 finished it."""
        yield

    def barrier(self) -> None:
        """Wait for every rank."""

    def fit_options(self) -> dict[str, Any]:
        """Extra keyword arguments for ``NCFModel.fit`` (the ``parallel`` hook under torchrun)."""
        return {}

    def finish(self, module: nn.Module | None) -> bool:
        """After training: check the replicas agree; True where this rank writes and evaluates."""
        return True

    def describe(self) -> dict[str, Any]:
        """Facts about the run for the model's provenance (empty for a single process)."""
        return {}

    def close(self) -> None:
        """Leave the process group (nothing to do for a single process)."""

    def __enter__(self) -> LocalSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def worker_device(setting: str | None, launch: LaunchEnv) -> torch.device:
    """The device of one torchrun worker: ``cuda:LOCAL_RANK`` when CUDA is chosen, else the CPU.

    ``setting`` follows :func:`nextwatch.device.resolve_device` (``--device``, ``$NEXTWATCH_DEVICE``,
    CUDA if present). A bare ``cuda`` becomes ``cuda:LOCAL_RANK``; an explicit ``cuda:N`` is honoured
    only with one worker on the node (several workers cannot share one named GPU).
    """
    base = resolve_device(setting)
    if base.type != "cuda":
        return base
    n_gpus = torch.cuda.device_count()
    if base.index is None:
        if launch.local_rank >= n_gpus:
            raise NextwatchError(
                f"worker LOCAL_RANK={launch.local_rank} has no GPU of its own: this node has {n_gpus}",
                hint="start at most one worker per GPU (torchrun --nproc_per_node), or use --device cpu",
            )
        return torch.device("cuda", launch.local_rank)
    if launch.local_world_size > 1:
        raise InputError(
            f"--device {base} names one GPU, but torchrun started {launch.local_world_size} workers "
            "on this node",
            hint="use --device cuda: each worker then takes cuda:LOCAL_RANK",
        )
    return base


class DistributedSession(LocalSession):
    """One rank of a torchrun job: the process group, its device, the DDP hook (module docstring)."""

    def __init__(self, launch: LaunchEnv, device: torch.device, threads: int, backend: str) -> None:
        super().__init__(device, threads)
        self.launch = launch
        self.rank = launch.rank
        self.world_size = launch.world_size
        self.backend = backend
        self.digest: str | None = None

    @classmethod
    def start(cls, launch: LaunchEnv, device: str | None, threads: int | None) -> DistributedSession:
        """Join the job: pick the device and backend, set the threads, ``init_process_group``."""
        if threads is None and not os.environ.get(ENV_THREADS, "").isdigit():
            threads = launch.default_threads()
        n_threads = configure_threads(threads)
        dev = worker_device(device, launch)
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(
            backend=backend,
            init_method="env://",
            rank=launch.rank,
            world_size=launch.world_size,
            timeout=collective_timeout(),
            device_id=dev if dev.type == "cuda" else None,
        )
        session = cls(launch, dev, n_threads, backend)
        if not launch.is_main:
            session._quiet()
        log.info(
            "rank %d of %d (local %d of %d) on %s, %s backend, %d thread(s)",
            launch.rank,
            launch.world_size,
            launch.local_rank,
            launch.local_world_size,
            dev,
            backend,
            n_threads,
        )
        return session

    @staticmethod
    def _quiet() -> None:
        """Only rank 0 shows progress and informational logs; warnings and errors still show everywhere."""
        os.environ["NEXTWATCH_PROGRESS"] = "0"
        logger = logging.getLogger("nextwatch")
        logger.setLevel(max(logging.WARNING, logger.getEffectiveLevel()))

    # -- collectives ---------------------------------------------------------------------------------

    def barrier(self) -> None:
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        # no ``finally``: if rank 0 fails, it exits, and the others are stopped rather than released
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def _reduce_mean(self, value: float) -> float:
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return float(t.item()) / self.world_size

    def _all_reduce_sum(self, tensor: torch.Tensor) -> None:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)

    def _wrap(self, module: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, output_device=ids[0] if ids else None)

    def parallel(self) -> Parallel:
        """The epoch trainer's hook: rank, world size, the DDP wrapper, the loss and tensor all-reduces.

        ``optimizer=sparse_adam`` trains user-sharded (see :mod:`nextwatch.models.ncf.trainer`): the
        user tables stay out of DDP and are shared with ``all_reduce`` after every epoch; the other
        parameters, item tables included, are all-reduced densely by DDP every step. That needs gloo's
        sparse-gradient support only where user sharding does not apply (then DDP all-reduces every
        table's sparse gradient); NCCL has none, so there ``auto`` stays dense and ``sparse_adam`` is
        refused.
        """
        return Parallel(
            rank=self.rank,
            world_size=self.world_size,
            wrap=self._wrap,
            reduce_mean=self._reduce_mean,
            sparse_gradients=self.backend != "nccl",
            all_reduce=self._all_reduce_sum,
        )

    def fit_options(self) -> dict[str, Any]:
        return {"parallel": self.parallel()}

    # -- after training ------------------------------------------------------------------------------

    def finish(self, module: nn.Module | None) -> bool:
        """Compare the ranks' weight hashes (all ranks take part); True on rank 0 only."""
        if module is not None:
            digest = weights_digest(module)
            folder = os.environ.get(ENV_RANK_WEIGHTS)
            if folder:
                os.makedirs(folder, exist_ok=True)
                state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
                torch.save(state, os.path.join(folder, f"rank-{self.rank}.pt"))
            digests: list[Any] = [None] * self.world_size
            dist.all_gather_object(digests, digest)
            if len(set(digests)) != 1:
                raise NextwatchError(
                    "the ranks finished training with different weights: "
                    + ", ".join(f"rank {r} {d[:12]}" for r, d in enumerate(digests))
                )
            self.digest = digest
        return self.is_main

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "world_size": self.world_size,
            "nodes": self.world_size // self.launch.local_world_size,
            "backend": self.backend,
            "threads_per_rank": self.threads,
        }
        if self.digest is not None:
            out["replicas_identical"] = True
            out["weights_sha256"] = self.digest
        return {"distributed": out}

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(clean=exc_type is None)

    def close(self, clean: bool = True) -> None:
        """Leave the job. After a clean run every rank first waits for the others (the main rank
        arrives once it has written and evaluated the model), so that no process tears its connections
        down while a peer still holds them; then the group is destroyed and the objects that hold it
        collected while the interpreter is fully alive. A gloo worker that exited early, with its peer
        still connected, was seen to abort ("terminate called without an active exception"): once in
        some 190 runs here, and once in a CI run. After an error nothing is awaited: the peer may never
        arrive."""
        if not (dist.is_available() and dist.is_initialized()):
            return
        if clean:
            if self.backend == "gloo":
                # not the group's collective timeout: the main rank may evaluate for a long time
                dist.monitored_barrier(timeout=END_WAIT, wait_all_ranks=True)
            else:
                self.barrier()
        dist.destroy_process_group()
        gc.collect()


def open_session(device: str | None = None, threads: int | None = None) -> LocalSession:
    """This process's session: a :class:`DistributedSession` under torchrun, else a :class:`LocalSession`.

    ``device`` and ``threads`` are the ``--device`` / ``--threads`` options (None: the defaults).
    """
    launch = LaunchEnv.from_environ()
    if launch is None:
        return LocalSession(resolve_device(device), configure_threads(threads))
    return DistributedSession.start(launch, device, threads)
