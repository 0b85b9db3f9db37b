"""Typed model configurations: the single home of every hyperparameter.

Each model has one frozen dataclass. Settings have standard names (``embedding_size``, ``layers``,
``epochs``, ``learning_rate``, ``reg``, ``batch_size``, ``n_negatives``, ``seed``), are type-checked
when built, reject unknown keys (a typo is an error, never a silently ignored setting) and round-trip
through JSON (:meth:`Config.to_dict` / :meth:`Config.from_dict`).

Defaults were tuned on the ML-1M half (users 1-2999) on the *validation* part of the leave-one-out
split (each user's second-to-last interaction), never on the test items; see :data:`TUNING_NOTES`.
The explicit (rating) objective has its own defaults, given by :meth:`Config.defaults`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Self, get_args, get_origin, get_type_hints

from nextwatch.errors import InputError

Objective = Literal["implicit", "explicit"]
OBJECTIVES: tuple[str, ...] = get_args(Objective)

TUNING_NOTES = """\
How the defaults were chosen: ML-1M half (users 1-2999), each run trained on the *train* part and
scored on the *validation* part (each user's second-to-last interaction; for ratings a random 10%),
never on test. Seed 0, Adam unless noted, CPU. HR@10 / NDCG@10 among 100 sampled negatives:

  GMF 32 factors, batch 1024, 15 epochs ........................... 0.717 / 0.433
  GMF 64 factors, batch 2048, 12 epochs ........................... 0.709 / 0.429
  MLP 64-32-16-8, batch 2048, 12 epochs (still rising) .............. 0.654 / 0.381
  NeuMF 16 factors, tower 128-64-32-16, no pretraining, 3 epochs .... 0.658 / 0.377
  NeuMF from GMF-32 + MLP (12 + 12 epochs), then Adam 1e-3 .......... 0.708 at once, then overfits
  NeuMF from GMF-64 + MLP (12 + 12 epochs), then Adam 1e-4, 3 epochs  0.721 / 0.436   (earlier default)
      ... then SGD 0.05 ............................................. 0.713 / 0.430
      ... then Adam 5e-4, reg 1e-5 .................................. 0.718 / 0.435

  With 8 sampled negatives per positive, L2 on the touched rows and the rate decaying 0.85 per epoch
  (GMF, 10-12 epochs; best epoch shown):
  GMF 64 factors, reg 1e-3, 4 negatives, no decay (peaks at epoch 8, then overfits) 0.723 / 0.438
  GMF 64 factors, reg 1e-2, 4 negatives, no decay .................. 0.723 / 0.434
  GMF 64 factors, reg 3e-3 ......................................... 0.729 / 0.444
  GMF 128 factors, reg 3e-3 (epoch 10) ............................. 0.737 / 0.453
  GMF 128 factors, reg 5e-3 ........................................ 0.739 / 0.452
  GMF 128 factors, reg 3e-3, 12 negatives .......................... 0.725 / 0.447
  GMF 256 factors, reg 5e-3 (overfits sooner) ...................... 0.730 / 0.445
  MLP 64-32-16-8, reg 3e-3, 10 epochs .............................. 0.659 / 0.383
  NeuMF from GMF-128 + MLP (10 + 10 epochs), then Adam 1e-4, 2 epochs 0.737 / 0.452   (earlier default)
      ... 3 epochs ................................................. 0.736 / 0.450
  (implicit's ALS was quoted here at 0.737 / 0.461 on the same validation part: a figure scored on
  the split's earlier sampled negatives, which could be never-rated movies; see below)
  Test part, 3 seeds: NeuMF 0.707 / 0.430 (earlier default 0.690 / 0.413). These settings were chosen
  on ML-1M: on ml-latest-small (610 users) they score 0.691 / 0.452 against the earlier defaults'
  0.728 / 0.480 (benchmarks/results/quality.md).

  Second round (seed 0; the joined NeuMF evaluated after every final-stage epoch, and also as
  initialised, before any joint training; sampled HR / NDCG, then full-ranking HR@10 / NDCG@10):
  GMF 128, reg 3e-3, 10 epochs .......................... 0.729 / 0.447   full 0.100 / 0.049
  GMF 128, reg 5e-3, 10 epochs .......................... 0.735 / 0.450   full 0.098 / 0.050  <- GMF default
  GMF 192, reg 5e-3 (best epoch 9, then overfits) ....... 0.732 / 0.449   full 0.097 / 0.049
  GMF 128, reg 5e-3, rate decaying 0.9 (not 0.85) per epoch: best at epoch 9, 0.727 / 0.446, then
      overfits (epoch 16: 0.702 / 0.427): the faster decay's annealing is what lets 10+ epochs help
  MLP 64-32-16-8, reg 5e-3 .............................. 0.677 / 0.397   full 0.080 / 0.039
  MLP 128-64-32-16, reg 3e-3 (two seeds) ................ 0.702 / 0.413 ; 0.693 / 0.412
  MLP 128-64-32-16, reg 5e-3 ............................ 0.692 / 0.413   full 0.086 / 0.042
  MLP 256-128-64-32, reg 3e-3 (2x slower) ............... 0.688 / 0.419   full 0.085 / 0.043
  NeuMF (reg 3e-3 pretraining, tower 128-64-32-16) joined with alpha 0.3 / 0.5 / 0.7, untrained:
      0.722 / 0.440 ; 0.732 / 0.451 ; 0.735 / 0.453 (full 0.102 / 0.051)
      alpha 0.5 then Adam 1e-4, epochs 1-4: 0.728 / 0.449, 0.726 / 0.446, 0.725 / 0.446, 0.722 / 0.445
      alpha 0.5 then Adam 3e-4, epochs 1-3: 0.728 / 0.449, 0.725 / 0.445, 0.720 / 0.441
      alpha 0.7 then Adam 1e-4, epochs 1-3: 0.733 / 0.453, 0.730 / 0.450, 0.726 / 0.448
  NeuMF, reg 5e-3 pretraining, tower 128-64-32-16, alpha 0.7, untrained / 1 epoch at 3e-5:
      0.741 / 0.454 (full 0.100 / 0.051) ; 0.737 / 0.452 (full 0.099 / 0.051)
  NeuMF, reg 5e-3 pretraining, tower 64-32-16-8 (the paper's, 1.6x faster per epoch):
      alpha 0.5 / 0.7 / 0.8, untrained: 0.731 / 0.443 ; 0.742 / 0.453 ; 0.737 / 0.452
      alpha 0.7, 1 epoch at 3e-5, reg 5e-3 .............. 0.738 / 0.451   full 0.099 / 0.052  <- default
  (ALS, same part and negatives, its best of 18 settings in benchmarks/quality.py: 0.724 / 0.454
  sampled (64 factors, reg 0.2, alpha 4); full NDCG@10 at most 0.052 (128 factors, reg 0.05, alpha 2))

Explicit objective, RMSE on the validation ratings (trained on 80% of the ratings):

  MF 64 factors, reg 0.005 ........................................ 0.906 (overfits after 7 epochs)
  MF 64 factors, reg 0.025 ........................................ 0.873
  MF 64 factors, reg 0.04, 25-45 epochs ........................... 0.868-0.869  <- default
  MF 64, reg 0.04, lr 3e-3 decaying 0.85/epoch; batch 256 lr 5e-4 ... 0.869; 0.871
  MF 32 factors reg 0.035; 128 reg 0.04; 128 reg 0.05; 256 reg 0.06  0.869; 0.867; 0.878; 0.887
  MF 64, plain SGD (batch 128, lr 0.5-1.0) ........................ > 0.905
  NeuMF 64 / 64-32-16-8, reg 0.04 or 0.08 ......................... 0.888 at epoch 7, then overfits

GMF / MLP explicit defaults (reg 0.04, 10 epochs) follow MF's and NeuMF's, untuned.

I-AutoRec (hidden 500, Adam 1e-3, 256 items per batch; validation RMSE by epoch, same split):

  reg (lambda) 1, dense prototype ................................. 0.867 at epoch 30, then overfits
  reg 50, dense prototype ......................................... 0.862 at epoch 40, then overfits
  reg 500, dense prototype ........................................ 0.870 at epoch 70 (underfits)
  reg 150, rate decaying 0.97/epoch ............................... 0.861 at epoch 45, still falling
  reg 150 ......................................................... 0.855 at epoch 40, 0.853-0.855 at 43-48
  reg 150 with early stopping (5% of the training ratings held out, patience 6)  <- default
      ........................................................... 0.855 (kept epoch 43 of 49 run)
  The fixed 45 epochs overfit ml-latest-small badly (test RMSE 1.098; its best epoch there is about 12),
  so the epoch count is left to early stopping: ml-latest-small validation 0.872 (kept epoch 13 of 19).
"""


def _check_value(name: str, value: Any, hint: Any) -> Any:
    """Return ``value`` converted to ``hint`` (JSON lists -> tuples, ints -> floats) or raise InputError."""
    origin = get_origin(hint)
    if origin is Literal:
        if value not in get_args(hint):
            raise InputError(
                f"setting {name}={value!r} must be one of {', '.join(map(repr, get_args(hint)))}"
            )
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        for opt in options:
            if opt is type(None):
                continue
            try:
                return _check_value(name, value, opt)
            except InputError:
                continue
        raise InputError(f"setting {name}={value!r} has the wrong type (expected {hint})")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise InputError(f"setting {name}={value!r} must be a list")
        (item_hint, _ellipsis) = get_args(hint)
        return tuple(_check_value(f"{name}[{i}]", v, item_hint) for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise InputError(f"setting {name}={value!r} must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"setting {name}={value!r} must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"setting {name}={value!r} must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InputError(f"setting {name}={value!r} must be a string")
        return value
    raise TypeError(f"unsupported config type {hint} for {name}")  # a bug in a config class


@dataclass(frozen=True)
class Config:
    """Base of every model configuration: validation, JSON round-trip, per-objective defaults."""

    #: defaults that replace the class defaults for the explicit (rating) objective
    EXPLICIT_DEFAULTS: ClassVar[Mapping[str, Any]] = {}

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = _check_value(f.name, getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Range checks beyond types; subclasses extend."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from a mapping (e.g. parsed JSON); unknown keys are an error naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"unknown setting(s) for {cls.__name__}: {', '.join(unknown)}",
                hint="known settings: " + ", ".join(sorted(known)),
            )
        return cls(**dict(data))

    @classmethod
    def defaults(cls, objective: str | None = None, **overrides: Any) -> Self:
        """The tuned defaults for ``objective`` (None: the class's own, ``implicit`` for most), with
        ``overrides`` (``None`` values are ignored) applied."""
        if objective is None:
            field = {f.name: f for f in fields(cls)}.get("objective")
            objective = str(field.default) if field is not None else "implicit"
        if objective not in OBJECTIVES:
            raise InputError(f"unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")
        values: dict[str, Any] = {}
        if objective == "explicit":
            values.update(cls.EXPLICIT_DEFAULTS)
        if "objective" in {f.name for f in fields(cls)}:
            values["objective"] = objective
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied and validated."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class EpochConfig(Config):
    """Settings of every model trained by gradient descent in epochs (the NCF family, AutoRec)."""

    epochs: int = 20
    learning_rate: float = 0.001
    #: L2 penalty (what it weighs is the model's: see its config)
    reg: float = 0.0
    batch_size: int = 1024
    #: the learning rate of epoch e (0-based) is ``learning_rate * lr_decay ** e``
    lr_decay: float = 1.0
    seed: int = 0

    def validate(self) -> None:
        if not 0.0 < self.lr_decay <= 1.0:
            raise InputError(f"setting lr_decay={self.lr_decay} must be in (0, 1]")
        if self.seed < 0:
            raise InputError(f"setting seed={self.seed} must be >= 0")
        if self.epochs < 0:
            raise InputError(f"setting epochs={self.epochs} must be >= 0")
        if self.learning_rate <= 0:
            raise InputError(f"setting learning_rate={self.learning_rate} must be > 0")
        if self.reg < 0:
            raise InputError(f"setting reg={self.reg} must be >= 0")
        if self.batch_size < 1:
            raise InputError(f"setting batch_size={self.batch_size} must be >= 1")


@dataclass(frozen=True)
class TrainConfig(EpochConfig):
    """Settings shared by the NCF family (GMF, MLP, NeuMF, MF).

    ``optimizer`` defaults to ``auto``, which is the dense Adam the defaults were tuned with for
    ML-1M-sized data (and on GPUs), and sparse ("lazy") Adam on the CPU for tables as big as
    Netflix's, where a dense step over every user row is what limits training.
    """

    #: ``implicit``: log loss with sampled negatives; ``explicit``: ratings scaled to [-1, 1], tanh, MSE
    objective: Objective = "implicit"
    #: L2 penalty on the embeddings (and biases) a batch touches, per sample
    reg: float = 0.0
    #: sampled negatives per positive each epoch (implicit objective only)
    n_negatives: int = 4
    #: ``adam``: dense Adam over every parameter (each step reads and writes every embedding row);
    #: ``sgd``: plain SGD; ``sparse_adam``: the embeddings get sparse gradients and SparseAdam updates
    #: only the rows a batch looked up ("lazy Adam"), dense Adam the rest (CPU, or gloo under torchrun;
    #: refused under NCCL); ``auto``: ``sparse_adam`` on the CPU when the embedding tables are big for
    #: the batch (over 100k rows, e.g. Netflix's 480k users; see
    #: :func:`nextwatch.models.ncf.trainer.resolve_optimizer`), else ``adam`` (ML-1M-sized data, CUDA).
    #: The optimiser that ran is recorded per epoch in the history.
    optimizer: Literal["adam", "sgd", "sparse_adam", "auto"] = "auto"

    def validate(self) -> None:
        super().validate()
        if self.n_negatives < 1:
            raise InputError(f"setting n_negatives={self.n_negatives} must be >= 1")


def tower_for(factors: int) -> tuple[int, ...]:
    """The paper's MLP tower for ``factors`` predictive factors: 8f -> 4f -> 2f -> f (f=8: 64-32-16-8).

    The first number is the width of the concatenated user+item embedding (each half of it).
    """
    return (8 * factors, 4 * factors, 2 * factors, factors)


def _check_layers(layers: tuple[int, ...]) -> None:
    if len(layers) < 2 or any(n < 1 for n in layers):
        raise InputError(f"setting layers={list(layers)} needs at least two positive widths")
    if layers[0] % 2:
        raise InputError(f"setting layers={list(layers)}: the first width (user+item embedding) must be even")


@dataclass(frozen=True)
class GMFConfig(TrainConfig):
    """Generalized matrix factorisation: ``h . (p_u * q_i) + b``."""

    EXPLICIT_DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "reg": 0.04,
        "epochs": 10,
        "embedding_size": 32,
        "n_negatives": 4,
        "lr_decay": 1.0,
    }

    epochs: int = 10
    embedding_size: int = 128
    reg: float = 0.005
    n_negatives: int = 8
    lr_decay: float = 0.85

    def validate(self) -> None:
        super().validate()
        if self.embedding_size < 1:
            raise InputError(f"setting embedding_size={self.embedding_size} must be >= 1")


@dataclass(frozen=True)
class MLPConfig(TrainConfig):
    """Multi-layer perceptron over concatenated user and item embeddings."""

    EXPLICIT_DEFAULTS: ClassVar[Mapping[str, Any]] = {"reg": 0.04, "epochs": 10}

    batch_size: int = 2048
    #: first = width of [p_u; q_i] (each embedding is half of it), then the hidden ReLU layers
    layers: tuple[int, ...] = (64, 32, 16, 8)

    def validate(self) -> None:
        super().validate()
        _check_layers(self.layers)


@dataclass(frozen=True)
class NeuMFConfig(TrainConfig):
    """NeuMF: GMF and MLP branches with separate embeddings, fused in one prediction layer.

    Implicit defaults: GMF (128 factors) and MLP (tower 64-32-16-8) are pretrained for 10 epochs each
    at Adam 1e-3 decaying 0.85 per epoch, batch 1024, L2 5e-3 on the rows a batch touches, 8 sampled
    negatives per positive; then NeuMF starts from both, joined with ``alpha`` 0.7, and is fine-tuned
    for 1 epoch at 3e-5, batch 2048, L2 5e-3 (on the validation part every further epoch, and every
    larger rate, lowered the joined model's NDCG: the pretrained branches carry the quality).
    ``epochs``, ``learning_rate``, ``reg`` and ``batch_size`` are the final stage's; ``pretrain_*``
    the pretraining stages'.

    ``optimizer``: the pretraining stages use Adam whatever the final stage uses, except that ``auto``
    and ``sparse_adam`` carry over to them (each stage resolves ``auto`` for its own tables and batch:
    dense Adam at ML-1M's size, sparse Adam for Netflix's 480k users on the CPU).
    """

    EXPLICIT_DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "pretrain": False,
        "epochs": 7,
        "learning_rate": 0.001,
        "batch_size": 1024,
        "reg": 0.04,
        "embedding_size": 64,
        "n_negatives": 4,
        "lr_decay": 1.0,
        "pretrain_epochs": 15,
        "pretrain_reg": None,
    }

    epochs: int = 1
    learning_rate: float = 0.00003
    reg: float = 0.005
    batch_size: int = 2048
    n_negatives: int = 8
    lr_decay: float = 0.85
    embedding_size: int = 128
    layers: tuple[int, ...] = (64, 32, 16, 8)
    #: first train GMF and MLP alone, then start NeuMF from their weights (He et al. 2017, sec. 3.4.1)
    pretrain: bool = True
    #: weight of the GMF branch when joining the pretrained prediction layers (the paper's 0.5; 0.7
    #: chosen on the validation part, where the stronger GMF branch deserves the larger share)
    alpha: float = 0.7
    #: epochs of each pretraining stage (None: ``epochs``)
    pretrain_epochs: int | None = 10
    #: learning rate of the pretraining stages (None: ``learning_rate``)
    pretrain_learning_rate: float | None = 0.001
    #: batch size of the pretraining stages (None: ``batch_size``)
    pretrain_batch_size: int | None = 1024
    #: reg of the pretraining stages (None: ``reg``)
    pretrain_reg: float | None = 0.005

    def validate(self) -> None:
        super().validate()
        _check_layers(self.layers)
        if self.embedding_size < 1:
            raise InputError(f"setting embedding_size={self.embedding_size} must be >= 1")
        if not 0.0 <= self.alpha <= 1.0:
            raise InputError(f"setting alpha={self.alpha} must be in [0, 1]")

    def gmf_config(self) -> GMFConfig:
        """Settings of the GMF pretraining stage."""
        return GMFConfig(**self._stage_common(), embedding_size=self.embedding_size)

    def mlp_config(self) -> MLPConfig:
        """Settings of the MLP pretraining stage."""
        return MLPConfig(**self._stage_common(), layers=self.layers)

    def _stage_common(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "epochs": self.epochs if self.pretrain_epochs is None else self.pretrain_epochs,
            "learning_rate": self.pretrain_learning_rate or self.learning_rate,
            "reg": self.reg if self.pretrain_reg is None else self.pretrain_reg,
            "batch_size": self.batch_size if self.pretrain_batch_size is None else self.pretrain_batch_size,
            "n_negatives": self.n_negatives,
            # Adam family as the final stage's (auto and sparse_adam carry over; sgd pretrains with adam)
            "optimizer": self.optimizer if self.optimizer in ("sparse_adam", "auto") else "adam",
            "lr_decay": self.lr_decay,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class MFConfig(TrainConfig):
    """Plain matrix factorisation: ``p_u . q_i + b_u + b_i + b``."""

    EXPLICIT_DEFAULTS: ClassVar[Mapping[str, Any]] = {"embedding_size": 64, "reg": 0.04, "epochs": 25}

    embedding_size: int = 32

    def validate(self) -> None:
        super().validate()
        if self.embedding_size < 1:
            raise InputError(f"setting embedding_size={self.embedding_size} must be >= 1")


@dataclass(frozen=True)
class PopConfig(Config):
    """Most-popular baseline: items ranked by training interactions (ratings: damped item mean)."""

    objective: Objective = "implicit"
    #: explicit objective: item mean shrunk towards the global mean by this many pseudo-ratings
    damping: float = 5.0

    def validate(self) -> None:
        if self.damping < 0:
            raise InputError(f"setting damping={self.damping} must be >= 0")


@dataclass(frozen=True)
class AutoRecConfig(EpochConfig):
    """I-AutoRec (:mod:`nextwatch.models.autorec`): rating prediction by an item-based autoencoder.

    Defaults chosen on the ML-1M half's validation ratings (see :data:`TUNING_NOTES`).
    """

    #: rating prediction only: ``implicit`` is refused with a hint
    objective: Objective = "explicit"
    #: hidden units (the item code size); the paper's 500
    hidden: int = 500
    #: the most epochs; early stopping usually ends the run sooner
    epochs: int = 80
    #: lambda of the paper: ``reg / 2 * (|W|^2 + |V|^2)`` per epoch, beside the summed squared error
    reg: float = 150.0
    #: items per mini-batch
    batch_size: int = 256
    #: early stopping: this share of the training ratings is held out, and the weights of the epoch
    #: that predicts it best are kept (0: no early stopping, every epoch trains on every rating)
    stop_fraction: float = 0.05
    #: early stopping ends the run after this many epochs without a better held-out RMSE
    patience: int = 6

    def validate(self) -> None:
        super().validate()
        if self.objective != "explicit":
            raise InputError(
                "autorec predicts ratings: it trains on the explicit objective only",
                hint="use --objective explicit, or another model for implicit feedback",
            )
        if self.hidden < 1:
            raise InputError(f"setting hidden={self.hidden} must be >= 1")
        if not 0.0 <= self.stop_fraction < 0.5:
            raise InputError(f"setting stop_fraction={self.stop_fraction} must be in [0, 0.5)")
        if self.patience < 1:
            raise InputError(f"setting patience={self.patience} must be >= 1")
