"""Fusion components: score normalisation, the CF/content weight schedule, blending, and MMR re-ranking.

Small pure functions over numpy arrays (LensKit's composite scorers are the model): the session
pipeline composes them; each is tested on hand-computed values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def minmax(scores: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1] over the candidate set; a constant vector maps to 0.5 everywhere.

    ``(s - min s) / (max s - min s)`` — puts CF logits and cosine similarities on one scale.
    NaN (a side that could not score an item) becomes 0.
    """
    s = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(s)
    if not finite.any():
        return np.zeros_like(s)
    lo, hi = s[finite].min(), s[finite].max()
    out = np.full_like(s, 0.5) if hi - lo <= 1e-12 else (s - lo) / (hi - lo)
    out[~finite] = 0.0
    return out


@dataclass(frozen=True)
class FusionSchedule:
    """How much weight CF gets as feedback accumulates.

    ``weight_cf(n) = cf_min + (cf_max - cf_min) * min(1, max(0, n - min_likes + 1) / ramp_likes)``
    where ``n`` is the number of likes: below ``min_likes`` CF is at its floor (a folded-in user with
    one like is barely better than the prior); content carries the rest, ``1 - weight_cf``.
    """

    cf_min: float = 0.2
    cf_max: float = 0.7
    min_likes: int = 2
    ramp_likes: int = 10

    def __post_init__(self) -> None:
        if not (0.0 <= self.cf_min <= self.cf_max <= 1.0):
            raise ValueError("need 0 <= cf_min <= cf_max <= 1")
        if self.ramp_likes < 1 or self.min_likes < 0:
            raise ValueError("ramp_likes must be >= 1 and min_likes >= 0")

    def weight_cf(self, n_likes: int) -> float:
        progress = min(1.0, max(0, n_likes - self.min_likes + 1) / self.ramp_likes)
        return self.cf_min + (self.cf_max - self.cf_min) * progress


def blend(cf: np.ndarray, content: np.ndarray, weight_cf: float) -> np.ndarray:
    """``weight_cf * minmax(cf) + (1 - weight_cf) * minmax(content)`` over one candidate set."""
    return weight_cf * minmax(cf) + (1.0 - weight_cf) * minmax(content)


def mmr(
    relevance: np.ndarray,
    embeddings: np.ndarray,
    k: int,
    *,
    lambda_: float = 0.7,
) -> np.ndarray:
    """Maximal marginal relevance (Carbonell & Goldstein 1998): pick ``k`` positions greedily.

    Each step takes ``argmax_i  lambda * rel_i - (1 - lambda) * max_{j in S} cos(e_i, e_j)`` over the
    not-yet-selected candidates ``i``, ``S`` the selected set (the first pick is the most relevant).
    ``relevance`` should be on [0, 1] (see :func:`minmax`); ``embeddings`` rows L2-normalised.
    Returns candidate positions in pick order.
    """
    n = len(relevance)
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    rel = np.asarray(relevance, dtype=np.float64)
    emb = np.asarray(embeddings, dtype=np.float32)
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    for step in range(k):
        value = rel.copy() if step == 0 else lambda_ * rel - (1.0 - lambda_) * max_sim
        value[~available] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        available[pick] = False
        sims = emb @ emb[pick]
        max_sim = np.maximum(max_sim, sims)
    return np.asarray(chosen, dtype=np.int64)


def intra_list_similarity(embeddings: np.ndarray) -> float:
    """Mean pairwise cosine similarity of a list's items (lower = more diverse); 0 for < 2 items."""
    e = np.asarray(embeddings, dtype=np.float64)
    n = len(e)
    if n < 2:
        return 0.0
    sims = e @ e.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))
