"""I-AutoRec (Sedhain et al., "AutoRec: Autoencoders Meet Collaborative Filtering", WWW 2015): rating
prediction by an item-based autoencoder.

Each item is the vector of its training ratings over all users (zero where unrated). The encoder maps it
to ``h_i = sigmoid(r_i W + c)`` (``W``: ``n_users x hidden``), the decoder reconstructs every user's rating
as ``r_hat(u, i) = V_u . h_i + b_u``. Training minimises the squared error on the *observed* ratings only
plus ``reg / 2 * (|W|^2 + |V|^2)``, with Adam over mini-batches of items.

The reconstruction is only ever computed at observed ratings (a gather of ``V`` rows), and the encoder
reads a sparse batch, so an epoch costs O(ratings x hidden), not O(items x users x hidden). After
training the item codes ``h_i`` are computed once and stored: scoring is then a dot product of a user's
decoder row with the item codes, the same shape as matrix factorisation.

Explicit objective only (it predicts ratings, on the dataset's scale, clipped to it). It trains in one
process; checkpoints after every epoch make ``--resume`` continue exactly.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nextwatch.data.dataset import Dataset
from nextwatch.errors import NextwatchError
from nextwatch.models.config import AutoRecConfig
from nextwatch.models.ncf.trainer import EpochStats, Parallel
from nextwatch.models.ncf.training import Callbacks, Stage, load_checkpoint, stage_seed, write_checkpoint
from nextwatch.models.torch_model import TorchRecommender

log = logging.getLogger(__name__)

#: items encoded per forward pass when computing every item's code
ENCODE_CHUNK = 2048
#: early stopping needs at least this many held-out ratings; with fewer, every epoch is run
MIN_STOP_RATINGS = 20


class ItemRatings:
    """Training ratings grouped by item (CSR over items), one rating per (user, item): the mean of any
    repeats."""

    def __init__(self, n_users: int, n_items: int, items: np.ndarray, users: np.ndarray, ratings: np.ndarray):
        """From one rating per (item, user) pair, sorted by item, then user."""
        self.n_users, self.n_items = n_users, n_items
        self.items = items
        self.users = torch.from_numpy(users)
        self.ratings = torch.from_numpy(ratings)
        self.indptr = np.zeros(n_items + 1, np.int64)
        np.cumsum(np.bincount(items, minlength=n_items), out=self.indptr[1:])

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> ItemRatings:
        inter = dataset.interactions
        n_users, n_items = dataset.n_users, dataset.n_items
        keys = inter.item_idx.astype(np.int64) * n_users + inter.user_idx.astype(np.int64)
        pairs, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=inter.rating.astype(np.float64), minlength=len(pairs))
        return cls(n_users, n_items, pairs // n_users, pairs % n_users, (sums / counts).astype(np.float32))

    def subset(self, keep: np.ndarray) -> ItemRatings:
        """The ratings where the boolean mask ``keep`` is true."""
        return ItemRatings(
            self.n_users, self.n_items, self.items[keep], self.users.numpy()[keep], self.ratings.numpy()[keep]
        )

    def __len__(self) -> int:
        return len(self.ratings)

    def batch(self, items: np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """For ``items``: the sparse ``[len(items), n_users]`` rating matrix, and the observed entries as
        (row in the batch, user, rating)."""
        lo, hi = self.indptr[items], self.indptr[items + 1]
        n = hi - lo
        # positions of the items' ratings in the CSR arrays, without a Python loop per item
        starts = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
        pos = torch.from_numpy(starts + np.arange(int(n.sum())))
        rows = torch.from_numpy(np.repeat(np.arange(len(items)), n))
        users, ratings = self.users[pos], self.ratings[pos]
        x = torch.sparse_coo_tensor(
            torch.stack([rows, users]),
            ratings,
            (len(items), self.n_users),
            is_coalesced=True,  # rows ascending, users ascending within a row
            check_invariants=False,
        )
        return x, rows, users, ratings


@dataclass
class _Run:
    """Where a training run stands: epochs done, their history and the best held-out epoch so far."""

    epoch: int = 0
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = 0
    best_rmse: float = float("inf")
    best_state: dict[str, Tensor] | None = None
    stopped: bool = False


class AutoRecNet(nn.Module):
    """Encoder ``W, c``, decoder ``V, b`` (module docstring); ``item_codes`` holds every item's ``h_i``
    once training is done."""

    def __init__(self, n_users: int, n_items: int, hidden: int) -> None:
        super().__init__()
        # the uniform(+-1/sqrt(fan_in)) initialisation of nn.Linear, for both layers
        enc, dec = 1.0 / np.sqrt(n_users), 1.0 / np.sqrt(hidden)
        self.encoder = nn.Parameter(torch.empty(n_users, hidden).uniform_(-enc, enc))
        self.encoder_bias = nn.Parameter(torch.empty(hidden).uniform_(-enc, enc))
        self.decoder = nn.Parameter(torch.empty(n_users, hidden).uniform_(-dec, dec))
        self.decoder_bias = nn.Parameter(torch.empty(n_users).uniform_(-dec, dec))
        self.register_buffer("item_codes", torch.zeros(n_items, hidden))

    def encode(self, x: Tensor) -> Tensor:
        """Codes ``[B, hidden]`` of a sparse ``[B, n_users]`` batch of item rating vectors."""
        return torch.sigmoid(torch.sparse.mm(x, self.encoder) + self.encoder_bias)

    def reconstruct(self, codes: Tensor, rows: Tensor, users: Tensor) -> Tensor:
        """Predicted ratings at (row of ``codes``, user) pairs."""
        return (codes[rows] * self.decoder[users]).sum(1) + self.decoder_bias[users]

    def penalty(self) -> Tensor:
        return self.encoder.pow(2).sum() + self.decoder.pow(2).sum()


class AutoRecModel(TorchRecommender):
    """I-AutoRec behind the shared model shape (module docstring)."""

    name = "autorec"
    config_class = AutoRecConfig
    config: AutoRecConfig

    def build_module(self, n_users: int, n_items: int) -> AutoRecNet:
        return AutoRecNet(n_users, n_items, self.config.hidden)

    def _require_module(self) -> AutoRecNet:
        module = super()._require_module()
        assert isinstance(module, AutoRecNet)
        return module

    # -- training -------------------------------------------------------------------------------------

    def _fit(
        self,
        dataset: Dataset,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        parallel: Parallel | None = None,
        callbacks: Callbacks | None = None,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(f"unknown fit options: {', '.join(options)}")
        if parallel is not None and parallel.world_size > 1:
            raise NextwatchError(
                "autorec trains in one process",
                hint="run nextwatch train without torchrun for --model autorec",
            )
        cfg = self.config
        callbacks = callbacks or Callbacks()
        full = ItemRatings.from_dataset(dataset)
        # early stopping: a seeded share of the ratings is held out of the inputs and the loss, and the
        # epoch that predicts it best is kept (the right epoch count differs widely between data sets)
        held = np.random.default_rng([cfg.seed, 0x5709]).random(len(full)) < cfg.stop_fraction
        stopping = cfg.stop_fraction > 0 and held.sum() >= MIN_STOP_RATINGS
        data = full.subset(~held) if stopping else full
        stop_set = full.subset(held) if stopping else None
        device = self.device
        stage = Stage(self.name, cfg, lambda: self.build_module(dataset.n_users, dataset.n_items))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stage_seed(cfg.seed, 0))
            module = stage.build().to(device)
        optimizer = torch.optim.Adam(module.parameters(), lr=cfg.learning_rate)
        run = _Run()
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"0-{self.name}.pt"
        if resume and ckpt is not None and ckpt.is_file():
            run = self._load_checkpoint(ckpt, module, optimizer, device)
            log.info("resumed %s after epoch %d", self.name, run.epoch)
        callbacks.stage_start(stage, 0, 1, len(data))
        while run.epoch < cfg.epochs and not run.stopped:
            callbacks.epoch_start(stage, run.epoch + 1)
            stats = self._train_epoch(module, optimizer, data, run.epoch, callbacks)
            run.epoch += 1
            run.history.append(stats)
            message = (
                f"{self.name} epoch {run.epoch}/{cfg.epochs}: loss {stats.loss:.4f}, {stats.seconds:.1f} s"
            )
            if stop_set is not None:
                rmse = self._rmse(module, data, stop_set)
                if rmse < run.best_rmse:
                    run.best_rmse, run.best_epoch = rmse, run.epoch
                    run.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                run.stopped = run.epoch - run.best_epoch >= cfg.patience
                message += f", held-out RMSE {rmse:.4f} (best {run.best_rmse:.4f} at epoch {run.best_epoch})"
            log.info("%s", message)
            if ckpt is not None:
                self._save_checkpoint(ckpt, module, optimizer, run)
            callbacks.epoch_end(stage, stats, module)
        if run.best_state is not None:
            module.load_state_dict(run.best_state)
            self.provenance["early_stopping"] = {
                "held_out_ratings": len(stop_set) if stop_set is not None else 0,
                "best_epoch": run.best_epoch,
                "held_out_rmse": round(run.best_rmse, 5),
                "epochs_run": run.epoch,
            }
        self._store_codes(module, full)
        self.module = module.eval()
        self.history = run.history

    @torch.no_grad()
    def _rmse(self, module: AutoRecNet, inputs: ItemRatings, target: ItemRatings) -> float:
        """RMSE of the ratings in ``target``, predicted from the codes of ``inputs``, clipped to the scale."""
        module.eval()
        codes = self._codes(module, inputs)
        rows = torch.from_numpy(target.items).to(codes.device)
        pred = module.reconstruct(codes, rows, target.users.to(codes.device))
        scale = self._require_fitted().rating_scale
        if scale:
            pred = pred.clamp(*scale)
        return float((pred.cpu() - target.ratings).pow(2).mean().sqrt())

    def _save_checkpoint(
        self, path: Path, module: AutoRecNet, optimizer: torch.optim.Optimizer, run: _Run
    ) -> None:
        state = {
            "epochs_done": run.epoch,
            "module": module.state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": [h.to_dict() for h in run.history],
            "best": {"epoch": run.best_epoch, "rmse": run.best_rmse, "stopped": run.stopped},
            "best_module": run.best_state if run.best_state is not None else {},
        }
        write_checkpoint(path, state, self.config)

    def _train_epoch(
        self,
        module: AutoRecNet,
        optimizer: torch.optim.Optimizer,
        data: ItemRatings,
        epoch: int,
        callbacks: Callbacks,
    ) -> EpochStats:
        cfg = self.config
        for group in optimizer.param_groups:
            group["lr"] = cfg.learning_rate * cfg.lr_decay**epoch
        # the item order of epoch e depends on (seed, e) only, so a resumed run repeats it exactly
        order = np.random.default_rng([cfg.seed, epoch, 0xA7]).permutation(data.n_items)
        order = order[data.indptr[order + 1] > data.indptr[order]]  # items with ratings
        dev = next(module.parameters()).device
        module.train()
        t0 = time.perf_counter()
        total, done = 0.0, 0
        for start in range(0, len(order), cfg.batch_size):
            items = order[start : start + cfg.batch_size]
            x, rows, users, ratings = (t.to(dev) for t in data.batch(items))
            pred = module.reconstruct(module.encode(x), rows, users)
            sq = (pred - ratings).pow(2).sum()
            # the penalty spread over the batches of an epoch in proportion to their items
            loss = sq + cfg.reg / 2 * module.penalty() * (len(items) / len(order))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(sq.detach())
            done += len(ratings)
            callbacks.batch_progress(done, len(data), total / max(1, done))
        return EpochStats(
            self.name, epoch + 1, total / max(1, done), done, time.perf_counter() - t0, optimizer="adam"
        )

    def _load_checkpoint(
        self, path: Path, module: AutoRecNet, optimizer: torch.optim.Optimizer, device: torch.device
    ) -> _Run:
        state = load_checkpoint(path, device, self.config)
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        best = state["best"]
        return _Run(
            epoch=int(state["epochs_done"]),
            history=[EpochStats.from_dict(h) for h in state["history"]],
            best_epoch=int(best["epoch"]),
            best_rmse=float(best["rmse"]),
            best_state=state["best_module"] or None,
            stopped=bool(best["stopped"]),
        )

    @torch.no_grad()
    def _codes(self, module: AutoRecNet, data: ItemRatings) -> Tensor:
        """Every item's code ``h_i`` from the ratings in ``data``."""
        dev = next(module.parameters()).device
        parts = []
        for start in range(0, data.n_items, ENCODE_CHUNK):
            items = np.arange(start, min(data.n_items, start + ENCODE_CHUNK))
            parts.append(module.encode(data.batch(items)[0].to(dev)))
        return torch.cat(parts)

    def _store_codes(self, module: AutoRecNet, data: ItemRatings) -> None:
        module.eval()
        module.item_codes.copy_(self._codes(module, data))

    # -- scoring --------------------------------------------------------------------------------------

    def _clip(self, pred: Tensor) -> np.ndarray:
        out = pred.float().cpu().numpy()
        scale = self._require_fitted().rating_scale
        return np.clip(out, *scale) if scale else out

    @torch.no_grad()
    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        m = self._require_module()
        dev = m.item_codes.device
        u = torch.as_tensor(users, dtype=torch.int64, device=dev)
        i = torch.as_tensor(items, dtype=torch.int64, device=dev)
        return self._clip(m.reconstruct(m.item_codes, i, u))

    @torch.no_grad()
    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        m = self._require_module()
        u = torch.as_tensor(users, dtype=torch.int64, device=m.item_codes.device)
        return self._clip(m.decoder[u] @ m.item_codes.T + m.decoder_bias[u, None])
