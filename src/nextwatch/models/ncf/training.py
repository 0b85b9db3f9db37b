"""The training loop: stages of epochs, a checkpoint after every epoch, exact resume.

A run is a list of :class:`Stage` s (NeuMF with pretraining: GMF, then MLP, then NeuMF started from
both). Each stage's module is built under a seed derived from ``(seed, stage index)``, trained by an
:class:`~nextwatch.models.ncf.trainer.EpochTrainer`, and checkpointed after every epoch to
``checkpoint_dir/<index>-<stage>.pt`` (atomically; ``torch.save`` of state dicts, read back with
``weights_only=True``). Resuming loads the newest checkpoint of each stage and continues; because every
epoch's randomness is a function of ``(seed, stage, epoch)``, the result equals an uninterrupted run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nextwatch.errors import NextwatchError
from nextwatch.io import atomic_path
from nextwatch.models.config import EpochConfig
from nextwatch.models.ncf.trainer import CHECKPOINT_FORMAT, EpochStats, EpochTrainer, Parallel, TrainData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """One module trained for ``config.epochs`` epochs."""

    name: str
    config: EpochConfig
    build: Callable[[], nn.Module]
    #: initialise the fresh module from the finished modules of earlier stages (by stage name)
    init: Callable[[nn.Module, dict[str, nn.Module]], None] | None = None


class Callbacks:
    """Hooks for progress display; the defaults do nothing."""

    def stage_start(self, stage: Stage, index: int, n_stages: int, samples_per_epoch: int) -> None:
        pass

    def epoch_start(self, stage: Stage, epoch: int) -> None:
        pass

    def batch_progress(self, done: int, total: int, loss: float) -> None:
        pass

    def epoch_end(self, stage: Stage, stats: EpochStats, module: nn.Module) -> None:
        """After each epoch (and its checkpoint); ``module`` is the one being trained (do not modify)."""


def stage_seed(seed: int, stage: int) -> int:
    """Torch seed for building stage ``stage``'s module."""
    return int(np.random.SeedSequence([seed, stage, 0x6E77]).generate_state(1, np.uint64)[0] >> 1)


def _checkpoint_path(folder: Path, index: int, stage: Stage) -> Path:
    return folder / f"{index}-{stage.name}.pt"


def write_checkpoint(path: Path, state: dict[str, Any], config: EpochConfig) -> None:
    """Write ``state`` (tensors, numbers, strings) with the run's ``config`` atomically to ``path``."""
    state = {**state, "format": CHECKPOINT_FORMAT, "config": config.to_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, device: torch.device, config: EpochConfig) -> dict[str, Any]:
    """Read a checkpoint written by :func:`write_checkpoint` for a run with this ``config``; a foreign,
    truncated or differently configured file is a clear error."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise NextwatchError(
            f"cannot read checkpoint {path}: {e}", hint="start afresh without --resume"
        ) from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise NextwatchError(f"{path} is not a nextwatch checkpoint of format {CHECKPOINT_FORMAT}")
    if state.get("config") != config.to_dict():
        raise NextwatchError(
            f"checkpoint {path} was written with other settings than this run's",
            hint="resume with the original settings, or start afresh without --resume",
        )
    return state


def _save_checkpoint(path: Path, trainer: EpochTrainer, stage: Stage, done: bool) -> None:
    write_checkpoint(path, {**trainer.state_dict(), "done": done}, stage.config)


def run_stages(
    stages: list[Stage],
    data: TrainData,
    *,
    device: torch.device,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    parallel: Parallel | None = None,
    callbacks: Callbacks | None = None,
) -> tuple[dict[str, nn.Module], list[EpochStats]]:
    """Train every stage in order; return the finished modules (by stage name) and the epoch history.

    With ``checkpoint_dir`` the main rank writes a checkpoint after every epoch; with ``resume`` the
    newest checkpoint of each stage is loaded first (a finished stage is not retrained).
    """
    parallel = parallel or Parallel()
    callbacks = callbacks or Callbacks()
    folder = None if checkpoint_dir is None else Path(checkpoint_dir)
    if folder is not None and parallel.is_main:
        folder.mkdir(parents=True, exist_ok=True)
    finished: dict[str, nn.Module] = {}
    history: list[EpochStats] = []
    for index, stage in enumerate(stages):
        ckpt_path = None if folder is None else _checkpoint_path(folder, index, stage)
        state = None
        if resume and ckpt_path is not None and ckpt_path.is_file():
            state = load_checkpoint(ckpt_path, device, stage.config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stage_seed(stage.config.seed, index))
            module = stage.build()
        if stage.init is not None and state is None:
            stage.init(module, finished)
        trainer = EpochTrainer(
            module, stage.config, data, device=device, stage=index, stage_name=stage.name, parallel=parallel
        )
        if state is not None:
            trainer.load_state_dict(state)
            log.info("resumed stage %s after epoch %d", stage.name, trainer.epoch)
        callbacks.stage_start(stage, index, len(stages), trainer.samples_per_epoch)
        while trainer.epoch < stage.config.epochs:
            callbacks.epoch_start(stage, trainer.epoch + 1)
            stats = trainer.train_epoch(callbacks.batch_progress)
            log.info(
                "%s epoch %d/%d: loss %.4f, %.1f s, %.0f samples/s",
                stage.name,
                stats.epoch,
                stage.config.epochs,
                stats.loss,
                stats.seconds,
                stats.samples_per_s,
            )
            if ckpt_path is not None and parallel.is_main:
                _save_checkpoint(ckpt_path, trainer, stage, done=trainer.epoch >= stage.config.epochs)
            callbacks.epoch_end(stage, stats, trainer.module)
        if ckpt_path is not None and parallel.is_main and stage.config.epochs == 0:
            _save_checkpoint(ckpt_path, trainer, stage, done=True)
        history.extend(trainer.history)
        finished[stage.name] = trainer.finalize()
    return finished, history
