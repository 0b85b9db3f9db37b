"""The epoch trainer shared by the single-process loop and the distributed (DDP) wrapper.

:class:`EpochTrainer` owns one module, its optimiser and the training arrays. ``train_epoch()`` runs
one epoch over this process's shard of the samples; ``state_dict()`` / ``load_state_dict()`` checkpoint
it; ``finalize()`` hands back the trained module in eval mode.

Reproducibility: nothing depends on a random state carried from one epoch to the next. Epoch ``e`` of
stage ``s`` draws from generators derived from ``(seed, s, e)`` (the shard permutation, identical on
every rank) and ``(seed, s, e, rank)`` (negatives and the in-chunk shuffle). A run resumed after epoch
``e`` therefore replays exactly what an uninterrupted run would have done.

Optimisers (``TrainConfig.optimizer``): ``adam`` (dense Adam, fused on CPU and CUDA) and ``sgd`` update
every parameter every step. ``sparse_adam`` makes every :class:`~torch.nn.Embedding` emit sparse
gradients (only the rows a batch looked up) and steps them with :class:`torch.optim.SparseAdam`
("lazy Adam": untouched rows and their moments stay as they are), the other parameters with dense
Adam. ``auto`` resolves, per stage, to ``sparse_adam`` on the CPU when the module's embedding tables
are big (:func:`resolve_optimizer`), else to ``adam`` (always on CUDA). The resolved name is recorded
in every :class:`EpochStats` and in the checkpoint.

User-sharded data parallelism (``sparse_adam`` under DDP, ``world_size > 1``): all-reducing the sparse
gradients of the big user tables every step is slow (gloo gathers every rank's indices and values), so
the ranks split the *users* instead. Rank ``r`` trains on the positives of the users with
``user % world_size == r`` (its own permutation of them per epoch, drawn from the ``(seed, stage, epoch,
r)`` generator, padded by wrapping round so every rank runs the same number of steps); every user row
is therefore read and written by one rank only. The user tables (those ``user_vectors`` looks up:
:func:`user_tables`) are excluded from DDP's all-reduce and keep sparse gradients and SparseAdam, locally;
the item tables switch to dense gradients and join the other parameters in the dense (fused) Adam, which
DDP all-reduces as before. At the end of every epoch (so before every checkpoint, evaluation and the
final comparison of the ranks' weights) each user table and its SparseAdam moments are all-reduced so
that every rank holds every owner's rows. The recorded optimiser is ``sparse_adam+user_shard``. Metrics
are identical in expectation to a single-process run (every positive once per epoch, the same global
batch), not bit-identical; a run resumed from a checkpoint still reproduces the uninterrupted run
exactly. One process, a dense optimiser, or NCCL train as without it.

Data path: samples never go through a per-row ``__getitem__``. Each epoch permutes the positives,
takes this rank's shard, and walks it in chunks (bounded memory at Netflix scale): negatives for a
chunk are sampled in one vectorised call, the chunk is shuffled, moved to the device once, and sliced
into batches.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from nextwatch.data.dataset import Interactions
from nextwatch.errors import InputError, NextwatchError
from nextwatch.models.config import TrainConfig
from nextwatch.models.ncf.modules import TrainStep
from nextwatch.models.ncf.sampling import positive_keys, sample_negatives

if TYPE_CHECKING:
    from nextwatch.models.ncf.modules import Vectors

log = logging.getLogger(__name__)

#: positives per chunk of an epoch (x (1 + n_negatives) samples held in memory at once)
CHUNK_POSITIVES = 1 << 20
CHECKPOINT_FORMAT = 1

OptimizerName = Literal["adam", "sgd", "sparse_adam"]
#: the optimiser name recorded (history, checkpoints) for ``sparse_adam`` trained user-sharded
USER_SHARD_SUFFIX = "+user_shard"
#: ``optimizer="auto"`` stays dense at or below this many embedding rows (all tables together). Dense
#: Adam's step costs O(rows), SparseAdam's O(batch) but several times more per row; measured on 2
#: shared cores (one torch thread), NeuMF/GMF 32 factors, 17,770 items: below ~75k rows dense was as
#: fast or faster at every batch size. ML-1M's NeuMF has 19,492 rows, so it keeps the dense Adam it was
#: tuned with; Netflix's NeuMF has 995,918 (GMF 497,959).
AUTO_SPARSE_MIN_ROWS = 100_000
#: ... and above it, ``auto`` goes sparse only when the tables hold more than this many rows per table
#: per sample of a (per-rank) step: the measured break-even was 10-18 (batch 16,384: 150k users dense
#: 1.4x faster at 5.1, Netflix sparse 1.6-1.8x faster at 15.2; batch 1,024: Netflix sparse 8x faster at 117)
AUTO_SPARSE_ROWS_PER_SAMPLE = 12


def epoch_rng(seed: int, stage: int, epoch: int, *extra: int) -> np.random.Generator:
    """The generator of one epoch: a pure function of ``(seed, stage, epoch, *extra)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stage, epoch, *extra])))


def scale_ratings(ratings: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Map ratings on ``[lo, hi]`` linearly to ``[-1, 1]`` (the explicit objective's tanh range)."""
    lo, hi = scale
    half = (hi - lo) / 2 or 1.0
    return ((ratings - (lo + hi) / 2) / half).astype(np.float32)


def unscale_ratings(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Inverse of :func:`scale_ratings`."""
    lo, hi = scale
    half = (hi - lo) / 2 or 1.0
    return (values * half + (lo + hi) / 2).astype(np.float32)


@dataclass(frozen=True)
class TrainData:
    """The training interactions as flat arrays, ready for sampling."""

    users: np.ndarray  # int64 [n]
    items: np.ndarray  # int64 [n]
    targets: np.ndarray  # float32 [n]: scaled ratings (explicit) or ones (implicit)
    n_users: int
    n_items: int
    objective: str
    #: sorted ``user * n_items + item`` keys of every positive (implicit objective)
    keys: np.ndarray

    @classmethod
    def build(
        cls,
        interactions: Interactions,
        n_users: int,
        n_items: int,
        objective: str,
        rating_scale: tuple[float, float] | None,
    ) -> TrainData:
        users = interactions.user_idx.astype(np.int64)
        items = interactions.item_idx.astype(np.int64)
        if objective == "explicit":
            if rating_scale is None:
                lo, hi = float(interactions.rating.min()), float(interactions.rating.max())
                rating_scale = (lo, hi)
            targets = scale_ratings(interactions.rating, rating_scale)
            keys = np.empty(0, np.int64)
        else:
            # one positive per (user, item), however often it was rated
            keys = positive_keys(users, items, n_items)
            users, items = keys // n_items, keys % n_items
            targets = np.ones(len(keys), np.float32)
        return cls(users, items, targets, n_users, n_items, objective, keys)

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Parallel:
    """How this process takes part in a (possibly distributed) run; the defaults mean a single process.

    A DDP launcher passes its rank and world size, ``wrap`` (e.g. ``DistributedDataParallel``) and
    ``reduce_mean`` (an all-reduce of a float, for logging the global loss), whether ``wrap`` can
    all-reduce sparse gradients (``sparse_gradients``: gloo can, NCCL cannot), and ``all_reduce`` (an
    in-place sum of a tensor over the ranks, which user-sharded ``sparse_adam`` uses to share the user
    rows). Checkpoints are written by the main rank only.
    """

    rank: int = 0
    world_size: int = 1
    wrap: Callable[[nn.Module], nn.Module] = field(default=lambda m: m)
    reduce_mean: Callable[[float], float] = field(default=lambda x: x)
    sparse_gradients: bool = True
    all_reduce: Callable[[Tensor], None] | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class EpochStats:
    """One finished epoch, as recorded in the history and on the loss plot."""

    stage: str
    epoch: int  # 1-based
    loss: float
    samples: int  # this rank's samples
    seconds: float
    #: the optimiser that ran (``auto`` resolved); None in checkpoints written before it was recorded
    optimizer: str | None = None

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("nan")

    @classmethod
    def from_dict(cls, h: dict[str, Any]) -> EpochStats:
        """Read back :meth:`to_dict` (as stored in checkpoints)."""
        return cls(
            h["stage"],
            int(h["epoch"]),
            float(h["loss"]),
            int(h["samples"]),
            float(h["seconds"]),
            h.get("optimizer"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "epoch": self.epoch,
            "loss": self.loss,
            "samples": self.samples,
            "seconds": round(self.seconds, 4),
            "samples_per_s": round(self.samples_per_s, 1),
            "optimizer": self.optimizer,
        }


def embedding_tables(module: nn.Module) -> list[nn.Embedding]:
    """Every :class:`~torch.nn.Embedding` of ``module`` with trainable weights, in module order."""
    return [m for m in module.modules() if isinstance(m, nn.Embedding) and m.weight.requires_grad]


def user_tables(module: nn.Module) -> list[nn.Embedding]:
    """The trainable embedding tables indexed by user: those ``module.user_vectors`` looks up.

    Found by running ``user_vectors`` on user 0 with a forward hook on every table, so it follows the
    module's own structure (GMF/MLP: ``user_embedding``; NeuMF: both branches'; MF: also ``user_bias``).
    Empty for a module without ``user_vectors``.
    """
    tables = embedding_tables(module)
    user_vectors: Callable[[Tensor], Vectors] | None = getattr(module, "user_vectors", None)
    if not tables or user_vectors is None:
        return []
    seen: set[int] = set()
    hooks = [emb.register_forward_hook(lambda m, _i, _o: seen.add(id(m))) for emb in tables]
    try:
        with torch.no_grad():
            user_vectors(torch.zeros(1, dtype=torch.long, device=tables[0].weight.device))
    finally:
        for h in hooks:
            h.remove()
    return [emb for emb in tables if id(emb) in seen]


def resolve_optimizer(
    setting: str,
    module: nn.Module,
    device: torch.device,
    *,
    batch_size: int,
    sparse_gradients: bool = True,
) -> OptimizerName:
    """The optimiser ``setting`` means for ``module`` on ``device`` stepping on ``batch_size`` samples.

    ``auto`` is ``sparse_adam`` on the CPU when the embedding tables hold more than
    :data:`AUTO_SPARSE_MIN_ROWS` rows in total and more than :data:`AUTO_SPARSE_ROWS_PER_SAMPLE` x
    ``batch_size`` rows per table, else ``adam``: on CUDA always ``adam`` (a GPU streams the dense
    tables fast, and NCCL does not all-reduce sparse gradients). ``sparse_gradients`` is False when
    the distributed wrapper cannot all-reduce sparse gradients (NCCL): ``auto`` then stays dense and
    an explicit ``sparse_adam`` is an error.
    """
    if setting in ("adam", "sgd"):
        return setting  # type: ignore[return-value]
    if setting == "sparse_adam":
        if not sparse_gradients:
            raise InputError(
                "optimizer sparse_adam needs sparse gradients all-reduced across the ranks, which the NCCL "
                "backend (torchrun on CUDA) does not do",
                hint="use optimizer=adam or auto on GPUs, or run the distributed job on the CPU (gloo)",
            )
        return "sparse_adam"
    if setting != "auto":
        raise InputError(f"unknown optimizer {setting!r}; choose from adam, sgd, sparse_adam, auto")
    tables = embedding_tables(module)
    rows = sum(emb.num_embeddings for emb in tables)
    big = rows > max(AUTO_SPARSE_MIN_ROWS, AUTO_SPARSE_ROWS_PER_SAMPLE * batch_size * len(tables))
    return "sparse_adam" if device.type == "cpu" and sparse_gradients and big else "adam"


ProgressFn = Callable[[int, int, float], None]
"""``progress(samples_done, samples_total, running_loss)``, called every few batches."""


class EpochTrainer:
    """Trains one module for one stage, an epoch at a time."""

    def __init__(
        self,
        module: nn.Module,
        config: TrainConfig,
        data: TrainData,
        *,
        device: torch.device,
        stage: int = 0,
        stage_name: str = "train",
        parallel: Parallel | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.device = device
        self.stage = stage
        self.stage_name = stage_name
        self.parallel = parallel or Parallel()
        self.module = module.to(device)
        self.module.train()
        #: the optimiser that runs (``config.optimizer`` with ``auto`` resolved)
        self.optimizer_name: OptimizerName = resolve_optimizer(
            config.optimizer,
            self.module,
            device,
            batch_size=self.batch_size,
            sparse_gradients=self.parallel.sparse_gradients,
        )
        sparse = self.optimizer_name == "sparse_adam"
        tables = embedding_tables(self.module)
        #: the user tables trained user-sharded (module docstring); empty unless that mode runs
        self.user_tables: list[nn.Embedding] = self._user_shard_tables() if sparse else []
        #: the rows of the positives this rank trains on in user-sharded mode
        self._own_rows: np.ndarray | None = None
        if self.user_tables:
            sparse_tables = self.user_tables
            owner = self.data.users % self.parallel.world_size
            self._own_rows = np.flatnonzero(owner == self.parallel.rank)
            self._user_shard_size = int(np.bincount(owner, minlength=self.parallel.world_size).max())
        else:
            sparse_tables = tables if sparse else []
        # restored by finalize(); set before wrapping: DDP decides per parameter at construction
        # whether to expect sparse gradients
        self._sparse_flags = [(emb, emb.sparse) for emb in tables]
        for emb in tables:
            emb.sparse = any(emb is t for t in sparse_tables)
        step = TrainStep(self.module, with_penalty=config.reg > 0)
        if self.user_tables:
            # DDP leaves these out of its all-reduce (and of its start-up broadcast): each rank updates
            # only its own users' rows, and _sync_user_rows() shares them after every epoch
            ids = {id(emb.weight) for emb in self.user_tables}
            ignore = [name for name, p in step.named_parameters() if id(p) in ids]
            DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(step, ignore)
        self.step_module = self.parallel.wrap(step)
        #: the dense optimiser (every parameter, or every non-embedding one under sparse_adam)
        self.optimizer: torch.optim.Optimizer | None
        #: SparseAdam over the embedding weights (sparse_adam only)
        self.sparse_optimizer: torch.optim.SparseAdam | None
        self.optimizer, self.sparse_optimizer = self._make_optimizers([emb.weight for emb in sparse_tables])
        #: epochs completed so far
        self.epoch = 0
        self.history: list[EpochStats] = []

    def _user_shard_tables(self) -> list[nn.Embedding]:
        """The user tables when this ``sparse_adam`` trainer runs user-sharded, else ``[]``.

        User-sharded needs more than one rank, user tables with one row per user, and at least one
        positive on every rank (else that rank could not run its steps); otherwise the sparse
        gradients of every table are all-reduced by DDP as in a plain data-parallel run.
        """
        world = self.parallel.world_size
        if world == 1:
            return []
        tables = user_tables(self.module)
        if not tables or any(emb.num_embeddings != self.data.n_users for emb in tables):
            return []
        counts = np.bincount(self.data.users % world, minlength=world)
        if counts.min() == 0:
            log.warning("some rank has no users with positives: sparse_adam runs without user sharding")
            return []
        return tables

    @property
    def user_shard(self) -> bool:
        """Whether this trainer runs user-sharded (module docstring)."""
        return bool(self.user_tables)

    @property
    def optimizer_label(self) -> str:
        """The optimiser name recorded in the history and checkpoints (``sparse_adam+user_shard`` when
        user-sharded: its optimiser state is laid out differently from a plain ``sparse_adam`` run's)."""
        return self.optimizer_name + (USER_SHARD_SUFFIX if self.user_shard else "")

    def _make_optimizers(
        self, sparse_params: list[nn.Parameter]
    ) -> tuple[torch.optim.Optimizer | None, torch.optim.SparseAdam | None]:
        lr = self.config.learning_rate
        skip = {id(p) for p in sparse_params}
        params = [p for p in self.module.parameters() if p.requires_grad and id(p) not in skip]
        if self.optimizer_name == "sgd":
            return torch.optim.SGD(params, lr=lr), None
        # the fused kernel does one pass over each (dense, embedding-sized) tensor per step
        fused = self.device.type in ("cpu", "cuda")
        dense = torch.optim.Adam(params, lr=lr, fused=fused) if params else None
        sparse = torch.optim.SparseAdam(sparse_params, lr=lr) if sparse_params else None
        return dense, sparse

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimisers that step every batch (one, or two under sparse_adam)."""
        return [o for o in (self.optimizer, self.sparse_optimizer) if o is not None]

    # -- sampling ------------------------------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        """This rank's batch: the configured (global) batch split over the ranks."""
        return max(1, math.ceil(self.config.batch_size / self.parallel.world_size))

    @property
    def samples_per_epoch(self) -> int:
        """Samples this rank sees in one epoch."""
        per_pos = 1 + self.config.n_negatives if self.data.objective == "implicit" else 1
        return self._shard_size() * per_pos

    def _shard_size(self) -> int:
        if self._own_rows is not None:
            return self._user_shard_size
        return math.ceil(len(self.data) / self.parallel.world_size)

    def _shard(self, epoch: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """This rank's rows of the epoch's permutation, padded (wrapping round) to an equal size per rank.

        User-sharded: the rows of this rank's users, permuted by ``rng`` (the rank's generator of the
        epoch, fresh when None; the caller goes on to draw the negatives from it), padded to the largest
        rank's count. Otherwise: every ``world_size``-th row of one permutation shared by all ranks.
        """
        if self._own_rows is not None:
            if rng is None:
                rng = epoch_rng(self.config.seed, self.stage, epoch, self.parallel.rank)
            own = self._own_rows[rng.permutation(len(self._own_rows))]
            return np.resize(own, self._user_shard_size)
        perm = epoch_rng(self.config.seed, self.stage, epoch).permutation(len(self.data))
        world = self.parallel.world_size
        if world == 1:
            return perm
        size = self._shard_size()
        padded = np.resize(perm, size * world)  # repeats from the start, like DistributedSampler
        return padded[self.parallel.rank :: world]

    def epoch_chunks(self, epoch: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """(users, items, targets) device tensors for this rank's samples of ``epoch``, chunk by chunk."""
        rng = epoch_rng(self.config.seed, self.stage, epoch, self.parallel.rank)
        rows = self._shard(epoch, rng)
        implicit = self.data.objective == "implicit"
        k = self.config.n_negatives
        for start in range(0, len(rows), CHUNK_POSITIVES):
            r = rows[start : start + CHUNK_POSITIVES]
            users, items, targets = self.data.users[r], self.data.items[r], self.data.targets[r]
            if implicit:
                neg_users = np.repeat(users, k)
                neg_items = sample_negatives(neg_users, self.data.n_items, self.data.keys, rng)
                users = np.concatenate([users, neg_users])
                items = np.concatenate([items, neg_items])
                targets = np.concatenate([targets, np.zeros(len(neg_users), np.float32)])
                order = rng.permutation(len(users))
                users, items, targets = users[order], items[order], targets[order]
            yield (
                torch.from_numpy(users).to(self.device, non_blocking=True),
                torch.from_numpy(items).to(self.device, non_blocking=True),
                torch.from_numpy(targets).to(self.device, non_blocking=True),
            )

    # -- training ------------------------------------------------------------------------------------

    def _loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        if self.data.objective == "implicit":
            return F.binary_cross_entropy_with_logits(logits, targets)
        return F.mse_loss(torch.tanh(logits), targets)

    def train_batch(self, users: Tensor, items: Tensor, targets: Tensor) -> Tensor:
        """One optimiser step on one batch (device tensors); returns its loss (detached).

        The gradients stay on the parameters until the next step (sparse for the embeddings under
        ``sparse_adam``).
        """
        logits, penalty = self.step_module(users, items)
        loss = self._loss(logits, targets)
        if self.config.reg:
            loss = loss + self.config.reg * penalty
        optimizers = self.optimizers
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in optimizers:
            opt.step()
        return loss.detach()

    def train_epoch(self, progress: ProgressFn | None = None, *, report_every: int = 50) -> EpochStats:
        """Run the next epoch over this rank's shard; return its mean loss (over all ranks) and timing."""
        epoch = self.epoch
        t0 = time.perf_counter()
        self.module.train()
        # a pure function of the epoch (no scheduler state), so a resumed run gets the same rate
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = self.config.learning_rate * self.config.lr_decay**epoch
        total = self.samples_per_epoch
        bs = self.batch_size
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        done = 0
        n_batches = 0
        for users, items, targets in self.epoch_chunks(epoch):
            for start in range(0, len(users), bs):
                u, i, y = users[start : start + bs], items[start : start + bs], targets[start : start + bs]
                loss = self.train_batch(u, i, y)
                loss_sum += loss * len(u)
                done += len(u)
                n_batches += 1
                if progress is not None and n_batches % report_every == 0:
                    progress(done, total, float(loss_sum) / done)
        mean_loss = float(loss_sum) / max(1, done)
        if self.user_shard:
            self._sync_user_rows()
        mean_loss = self.parallel.reduce_mean(mean_loss)
        self.epoch += 1
        stats = EpochStats(
            self.stage_name, self.epoch, mean_loss, done, time.perf_counter() - t0, self.optimizer_label
        )
        self.history.append(stats)
        if progress is not None:
            progress(done, total, mean_loss)
        return stats

    @torch.no_grad()
    def _sync_user_rows(self) -> None:
        """User-sharded: give every rank every owner's user rows and SparseAdam moments.

        Rank ``r`` owns the rows ``u`` with ``u % world_size == r`` (users without positives too: their
        rows never change). Each rank zeroes the rows it does not own in a copy, the copies are summed
        over the ranks, and the sum (the owners' rows, exactly) replaces the table. SparseAdam's ``step``
        is per table and equal on every rank (every rank runs every step).
        """
        reduce = self.parallel.all_reduce
        if reduce is None:
            raise NextwatchError("user-sharded sparse_adam needs the distributed hook's all_reduce")
        world, rank = self.parallel.world_size, self.parallel.rank
        state = self.sparse_optimizer.state if self.sparse_optimizer is not None else {}
        for emb in self.user_tables:
            weight = emb.weight
            owned = (torch.arange(weight.shape[0], device=weight.device) % world == rank).unsqueeze(1)
            moments = state.get(weight, {})
            for t in (weight, moments.get("exp_avg"), moments.get("exp_avg_sq")):
                if t is None:
                    continue
                buf = torch.where(owned, t, torch.zeros((), dtype=t.dtype, device=t.device))
                reduce(buf)
                t.copy_(buf)

    def finalize(self) -> nn.Module:
        """The trained module, in eval mode, its embeddings' ``sparse`` flags as they were built (no
        further training through this trainer)."""
        for emb, flag in self._sparse_flags:
            emb.sparse = flag
        self.module.eval()
        return self.module

    # -- checkpoints ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimisers, epoch, history, torch RNG.

        The dense optimiser stays under ``"optimizer"`` (the layout of format 1); ``sparse_adam`` adds
        the embeddings' SparseAdam under ``"sparse_optimizer"``, and ``"optimizer_name"`` says which ran
        (:attr:`optimizer_label`). User-sharded, the state is the same on every rank (synchronised after
        each epoch), so the main rank's checkpoint holds every user row and its moments.
        """
        return {
            "format": CHECKPOINT_FORMAT,
            "stage": self.stage_name,
            "epochs_done": self.epoch,
            "module": self.module.state_dict(),
            "optimizer_name": self.optimizer_label,
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "sparse_optimizer": None if self.sparse_optimizer is None else self.sparse_optimizer.state_dict(),
            "history": [h.to_dict() for h in self.history],
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # checkpoints from before sparse_adam hold one dense optimiser (adam or sgd, as configured)
        stored = state.get("optimizer_name", self.optimizer_name)
        if stored != self.optimizer_label:
            raise NextwatchError(
                f"the checkpoint of stage {self.stage_name} was trained with optimizer {stored}, but this "
                f"run resolves optimizer={self.config.optimizer} to {self.optimizer_label} (another device "
                "or number of workers?)",
                hint="resume on the original device with as many workers, or start afresh without --resume",
            )
        self.module.load_state_dict(state["module"])
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.sparse_optimizer is not None:
            self.sparse_optimizer.load_state_dict(state["sparse_optimizer"])
        self.epoch = int(state["epochs_done"])
        self.history = [EpochStats.from_dict(h) for h in state["history"]]
        torch.set_rng_state(state["torch_rng"])
