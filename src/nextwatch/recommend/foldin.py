"""Fold a new person into a trained NCF model from their ticks, without touching stored weights.

A person on the page is not in the training data. With every item-side weight frozen, their user
vectors (GMF's ``p^G`` and MLP's ``p^M`` for NeuMF; ``p`` and ``b_u`` for MF) are the only free
parameters of a tiny logistic regression (implicit's ``recalculate_user`` is the idea):

    minimise  sum_j w_j [softplus(s_j) - y_j s_j] / sum_j w_j  +  reg * ||theta - mu||^2

over the liked movies (``y = 1``), the movies shown but not ticked (``y = 0``) and a few unseen movies
drawn at random (``y = 0``, lower weight), where ``s_j`` is the model's logit for item ``j`` and
``mu`` the mean trained user vector (the prior a stranger starts from). It is solved with a few dozen
Adam steps on analytic gradients in numpy: the maths is NeuMF's own (same weights, same layers as
:mod:`nextwatch.models.ncf.modules`), but without autograd's per-op overhead, so a round costs well
under a millisecond of fold-in.

The first tower layer is linear in ``[p; q]``, so its item half ``W_i q_j + c`` is computed once per
catalogue at load time; each step only pays for the item rows it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from nextwatch.models.ncf.modules import GMF, MF, MLP, NeuMF


class _Rows(NamedTuple):
    """Item-side rows of one pass (None for a branch the model lacks)."""

    gmf_a: np.ndarray | None
    mlp_c: np.ndarray | None
    mf_q: np.ndarray | None
    mf_bi: np.ndarray | None


@dataclass(frozen=True)
class FoldInConfig:
    """Settings of the fold-in optimisation."""

    #: 20 Adam steps at 0.1: as many hits as 40 at 0.05 on the session benchmark's validation people
    #: (3,393 against 3,365; benchmarks/results/sessions.md), at half the cost of a round's fold-in
    steps: int = 20
    learning_rate: float = 0.1
    reg: float = 0.05
    #: unseen items drawn as weak negatives per liked item
    sampled_negatives: int = 4
    sampled_weight: float = 0.3
    shown_weight: float = 1.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32, copy=True)


class FoldInScorer:
    """Item-side weights of a trained GMF/MLP/NeuMF/MF, in numpy, for new-user fold-in and scoring.

    ``fold_in(pos, neg, ...)`` returns the user parameters; ``score(theta, items)`` the logits of the
    given items (all items when ``items`` is None). Scores are logits: rank-equivalent to the model's
    sigmoid/tanh outputs.
    """

    #: the modules whose user side can be learned for a new person
    FOLDABLE: tuple[type[nn.Module], ...] = (NeuMF, GMF, MLP, MF)

    @classmethod
    def supports(cls, model: nn.Module) -> bool:
        """Whether ``model`` is a module a new person can be folded into."""
        return isinstance(model, cls.FOLDABLE)

    def __init__(self, model: nn.Module) -> None:
        self.kind: str
        self.n_items: int
        gmf_q = gmf_h = mlp_c = mlp_wu = mf_q = mf_bi = None
        tower: list[tuple[np.ndarray, np.ndarray]] = []
        mlp_h = None
        bias = 0.0
        user_parts: list[np.ndarray] = []
        if isinstance(model, NeuMF):
            f = model.gmf.user_embedding.embedding_dim
            h = _np(model.predict.weight[0])
            gmf_q, gmf_h = _np(model.gmf.item_embedding.weight), h[:f]
            mlp_h = h[f:]
            bias = float(model.predict.bias.item())
            mlp_c, mlp_wu, tower = self._mlp_parts(model.mlp)
            user_parts = [_np(model.gmf.user_embedding.weight), _np(model.mlp.user_embedding.weight)]
            self.kind = "neumf"
        elif isinstance(model, GMF):
            gmf_q, gmf_h = _np(model.item_embedding.weight), _np(model.predict.weight[0])
            bias = float(model.predict.bias.item())
            user_parts = [_np(model.user_embedding.weight)]
            self.kind = "gmf"
        elif isinstance(model, MLP):
            mlp_c, mlp_wu, tower = self._mlp_parts(model)
            mlp_h = _np(model.predict.weight[0])
            bias = float(model.predict.bias.item())
            user_parts = [_np(model.user_embedding.weight)]
            self.kind = "mlp"
        elif isinstance(model, MF):
            mf_q, mf_bi = _np(model.item_embedding.weight), _np(model.item_bias.weight[:, 0])
            bias = float(model.bias.item())
            user_parts = [_np(model.user_embedding.weight), _np(model.user_bias.weight)]
            self.kind = "mf"
        else:
            raise TypeError(f"fold-in does not know {type(model).__name__}")
        self.gmf_a = None if gmf_q is None else gmf_q * gmf_h  # logit_g = gmf_a[j] @ p_g
        self.mlp_c, self.mlp_wu, self.tower, self.mlp_h = mlp_c, mlp_wu, tower, mlp_h
        self.tower_t = [(np.ascontiguousarray(w.T), b) for w, b in tower]  # x @ w_t: no per-step transpose
        self.mf_q, self.mf_bi = mf_q, mf_bi
        self.bias = bias
        # the prior: mean trained user parameters, flattened in the order of _split
        self.sizes = [p.shape[1] for p in user_parts]
        self.mu = np.concatenate([p.mean(axis=0) for p in user_parts]).astype(np.float64)
        self._mu32 = self.mu.astype(np.float32)  # the fold-in's float32 copy, made once
        first = next(a for a in (self.gmf_a, self.mlp_c, self.mf_q) if a is not None)
        self.n_items = first.shape[0]

    @staticmethod
    def _mlp_parts(mlp: MLP) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        first = mlp.tower[0]
        half = mlp.user_embedding.embedding_dim
        w = _np(first.weight)
        w_u, w_i = w[:, :half], w[:, half:]
        c = _np(mlp.item_embedding.weight) @ w_i.T + _np(first.bias)  # [n_items, h1]
        rest = [(_np(layer.weight), _np(layer.bias)) for layer in mlp.tower[1:]]
        return c.astype(np.float32), w_u, rest

    def _split(self, theta: np.ndarray) -> list[np.ndarray]:
        out, start = [], 0
        for size in self.sizes:
            out.append(theta[start : start + size])
            start += size
        return out

    def prior(self) -> np.ndarray:
        """The stranger's starting point: the mean trained user parameters."""
        return self.mu.copy()

    def _rows(self, items: np.ndarray | None) -> _Rows:
        """The item-side rows a pass over ``items`` reads (all items when None), gathered once."""
        sel = slice(None) if items is None else items

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[sel]

        return _Rows(take(self.gmf_a), take(self.mlp_c), take(self.mf_q), take(self.mf_bi))

    def _forward(self, theta: np.ndarray, rows: _Rows, keep: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits (and, with ``keep``, the tower's activations) in ``theta``'s precision.

        The item-side rows are float32; a float32 ``theta`` keeps every product in float32 (serving and
        fold-in), a float64 one promotes them (``loss``/``gradient``, checked by finite differences).
        """
        parts = self._split(theta)
        first = next(r for r in rows if r is not None)
        logit = np.full(len(first), self.bias, dtype=theta.dtype)
        acts: list[np.ndarray] = []
        if rows.gmf_a is not None:
            logit += rows.gmf_a @ parts[0]
        if rows.mlp_c is not None:
            x = rows.mlp_c + (self.mlp_wu @ parts[-1])  # type: ignore[operator]
            np.maximum(x, 0.0, out=x)
            acts.append(x)
            for w_t, b in self.tower_t:
                x = x @ w_t
                x += b
                np.maximum(x, 0.0, out=x)
                acts.append(x)
            logit += x @ self.mlp_h
        if rows.mf_q is not None:
            logit += rows.mf_q @ parts[0]
            logit += rows.mf_bi
            logit += parts[1][0]
        return logit, acts if keep else []

    def score(self, theta: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """Logits of ``items`` (every item when None) for user parameters ``theta`` (float32 maths).

        When ``items`` covers most of the catalogue the whole catalogue is scored from the stored
        (contiguous) rows and then indexed, which is cheaper than gathering the rows first.
        """
        theta32 = np.asarray(theta, dtype=np.float32)
        if items is not None and len(items) * 2 < self.n_items:
            return self._forward(theta32, self._rows(items), keep=False)[0]
        logit = self._forward(theta32, self._rows(None), keep=False)[0]
        return logit if items is None else logit[items]

    def _grad(self, rows: _Rows, dlogit: np.ndarray, acts: list[np.ndarray]) -> np.ndarray:
        grads: list[np.ndarray] = []
        if rows.gmf_a is not None:
            grads.append(rows.gmf_a.T @ dlogit)
        if rows.mlp_c is not None:
            delta = dlogit[:, None] * self.mlp_h[None, :] * (acts[-1] > 0)  # type: ignore[index]
            for (w, _b), a in zip(reversed(self.tower), reversed(acts[:-1]), strict=True):
                delta = delta @ w
                delta *= a > 0
            grads.append(self.mlp_wu.T @ delta.sum(axis=0))  # type: ignore[union-attr]
        if rows.mf_q is not None:
            grads.append(rows.mf_q.T @ dlogit)
            grads.append(np.array([dlogit.sum()]))
        return np.concatenate(grads)

    def fold_in(
        self,
        positives: np.ndarray,
        negatives: np.ndarray,
        *,
        config: FoldInConfig | None = None,
        seed: int = 0,
        start: np.ndarray | None = None,
    ) -> np.ndarray:
        """User parameters fitted to ``positives`` (liked) and ``negatives`` (shown, not liked).

        With no positives the prior is returned unchanged (nothing says what this person likes).
        ``start`` warm-starts from an earlier round's parameters.
        """
        cfg = config or FoldInConfig()
        positives = np.asarray(positives, dtype=np.int64)
        negatives = np.asarray(negatives, dtype=np.int64)
        theta = (self.mu if start is None else np.asarray(start, dtype=np.float64)).copy()
        if len(positives) == 0:
            return theta
        rng = np.random.default_rng(seed)
        n_sampled = cfg.sampled_negatives * len(positives)
        known = np.concatenate([positives, negatives])
        sampled = rng.integers(0, self.n_items, size=n_sampled * 2)
        sampled = sampled[~np.isin(sampled, known)][:n_sampled]
        items = np.concatenate([positives, negatives, sampled])
        f32 = np.float32
        y = np.concatenate([np.ones(len(positives), f32), np.zeros(len(negatives) + len(sampled), f32)])
        w = np.concatenate(
            [
                np.ones(len(positives), f32),
                np.full(len(negatives), cfg.shown_weight, f32),
                np.full(len(sampled), cfg.sampled_weight, f32),
            ]
        )
        w /= w.sum()
        # float32 throughout: the rows are float32, and a float64 theta would make numpy promote
        # (copy) every row matrix at every step
        theta32 = theta.astype(f32)
        mu32 = self._mu32
        m = np.zeros_like(theta32)
        v = np.zeros_like(theta32)
        b1, b2, eps, lr, reg2 = 0.9, 0.999, 1e-8, cfg.learning_rate, 2.0 * cfg.reg
        rows = self._rows(items)  # gathered once: every step reads the same rows
        for t in range(1, cfg.steps + 1):
            logit, acts = self._forward(theta32, rows, keep=True)
            dlogit = _sigmoid(logit)
            dlogit -= y
            dlogit *= w
            g = self._grad(rows, dlogit, acts)
            g += reg2 * (theta32 - mu32)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            theta32 -= (lr / (1 - b1**t)) * m / (np.sqrt(v / (1 - b2**t)) + eps)
        return theta32.astype(np.float64)

    def loss(self, theta: np.ndarray, items: np.ndarray, y: np.ndarray, w: np.ndarray, reg: float) -> float:
        """The objective above (for tests and diagnostics)."""
        theta = np.asarray(theta, dtype=np.float64)  # float64 maths: finite differences check it
        logit = self._forward(theta, self._rows(items), keep=False)[0]
        w = w / w.sum()
        return float(
            (w * (np.logaddexp(0.0, logit) - y * logit)).sum() + reg * ((theta - self.mu) ** 2).sum()
        )

    def gradient(
        self, theta: np.ndarray, items: np.ndarray, y: np.ndarray, w: np.ndarray, reg: float
    ) -> np.ndarray:
        """Analytic gradient of :meth:`loss` (checked against finite differences in the tests)."""
        rows = self._rows(items)
        logit, acts = self._forward(np.asarray(theta, dtype=np.float64), rows, keep=True)
        w = w / w.sum()
        dlogit = w * (_sigmoid(logit) - y)
        return self._grad(rows, dlogit, acts) + 2.0 * reg * (theta - self.mu)

    def item_similarity(self, item: int, others: np.ndarray) -> np.ndarray:
        """Cosine similarity of item-side CF vectors (for "people who liked X also liked this")."""
        vecs = []
        if self.gmf_a is not None:
            vecs.append(self.gmf_a)
        if self.mlp_c is not None:
            vecs.append(self.mlp_c)
        if self.mf_q is not None:
            vecs.append(self.mf_q)
        a = np.concatenate([v[[item]] for v in vecs], axis=1)[0]
        b = np.concatenate([v[others] for v in vecs], axis=1)
        return (b @ a) / (np.linalg.norm(b, axis=1) * np.linalg.norm(a) + 1e-12)
