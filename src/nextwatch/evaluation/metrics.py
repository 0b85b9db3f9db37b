r"""Accuracy metrics as plain functions of ranks or predictions; no model in sight.

Ranking metrics take the 0-based **rank** of each relevant item among a user's candidates (0 = first
place). ``ranks`` is either 1-D (one relevant item per user, as in leave-one-out) or 2-D
``[users, max_relevant]`` padded with ``np.inf`` for users with fewer relevant items. Each metric is
the mean over users; a user with no relevant item is left out.

Ranks come from :func:`ranks_of_targets`, which breaks ties *against* the relevant item (a tied
candidate counts as ranked above it), so a model that scores everything equally earns nothing.
"""

from __future__ import annotations

import numpy as np


def _as_2d(ranks: np.ndarray) -> np.ndarray:
    r = np.asarray(ranks, dtype=np.float64)
    return r[:, None] if r.ndim == 1 else r


def hit_rate(ranks: np.ndarray, k: int) -> float:
    r"""Hit ratio HR@k: the share of users with at least one relevant item in the top ``k``.

    .. math::
        \mathrm{HR@}k = \frac{1}{|U|} \sum_{u \in U} \mathbb{1}[\min_{i \in R_u} \mathrm{rank}_u(i) < k]

    With one held-out item per user this is the paper's HR@k (and equals Recall@k).
    """
    r = _as_2d(ranks)
    r = r[np.isfinite(r).any(axis=1)]
    if len(r) == 0:
        return float("nan")
    return float(np.mean((r < k).any(axis=1)))


def recall(ranks: np.ndarray, k: int) -> float:
    r"""Recall@k: the share of each user's relevant items found in the top ``k``, averaged over users.

    .. math::
        \mathrm{Recall@}k = \frac{1}{|U|} \sum_{u} \frac{|\{i \in R_u : \mathrm{rank}_u(i) < k\}|}{|R_u|}

    Padding entries (``inf``) do not count as relevant items.
    """
    r = _as_2d(ranks)
    n_rel = np.isfinite(r).sum(axis=1)
    ok = n_rel > 0
    if not ok.any():
        return float("nan")
    return float(np.mean((r[ok] < k).sum(axis=1) / n_rel[ok]))


def ndcg(ranks: np.ndarray, k: int) -> float:
    r"""Normalised discounted cumulative gain NDCG@k with binary relevance.

    .. math::
        \mathrm{DCG@}k(u) = \sum_{i \in R_u,\ \mathrm{rank}_u(i) < k}
            \frac{1}{\log_2(\mathrm{rank}_u(i) + 2)},
        \qquad
        \mathrm{IDCG@}k(u) = \sum_{j=0}^{\min(|R_u|, k) - 1} \frac{1}{\log_2(j + 2)}

    and NDCG@k is the mean over users of DCG/IDCG. With one held-out item at rank ``r`` this is
    ``1 / log2(r + 2)`` if ``r < k``, else 0 (He et al. 2017).
    """
    r = _as_2d(ranks)
    n_rel = np.isfinite(r).sum(axis=1)
    ok = n_rel > 0
    if not ok.any():
        return float("nan")
    r, n_rel = r[ok], n_rel[ok]
    gains = np.where(r < k, 1.0 / np.log2(np.where(np.isfinite(r), r, 0.0) + 2.0), 0.0)
    dcg = gains.sum(axis=1)
    discounts = np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))
    idcg = discounts[np.minimum(n_rel, k) - 1]
    return float(np.mean(dcg / idcg))


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    r"""Root mean squared error :math:`\sqrt{\frac{1}{n} \sum_j (\hat r_j - r_j)^2}`."""
    p, a = np.asarray(predicted, np.float64), np.asarray(actual, np.float64)
    if p.shape != a.shape:
        raise ValueError(f"predicted {p.shape} and actual {a.shape} differ in shape")
    return float(np.sqrt(np.mean((p - a) ** 2))) if len(p) else float("nan")


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    r"""Mean absolute error :math:`\frac{1}{n} \sum_j |\hat r_j - r_j|`."""
    p, a = np.asarray(predicted, np.float64), np.asarray(actual, np.float64)
    if p.shape != a.shape:
        raise ValueError(f"predicted {p.shape} and actual {a.shape} differ in shape")
    return float(np.mean(np.abs(p - a))) if len(p) else float("nan")


def ranks_of_targets(
    target_scores: np.ndarray, candidate_scores: np.ndarray, valid: np.ndarray | None = None
) -> np.ndarray:
    r"""0-based rank of each user's target among its candidates, ties counted against the target.

    ``target_scores`` is ``[U]``, ``candidate_scores`` ``[U, C]`` (the other candidates, not the target);
    ``valid`` masks out padding candidates. NaN scores (impossible) rank below every real score.

    .. math:: \mathrm{rank}_u = |\{c : s_{uc} > s_{ut}\}| + |\{c : s_{uc} = s_{ut}\}|
    """
    t = np.nan_to_num(np.asarray(target_scores, np.float64), nan=-np.inf)[:, None]
    c = np.nan_to_num(np.asarray(candidate_scores, np.float64), nan=-np.inf)
    above = c >= t
    if valid is not None:
        above &= valid
    return above.sum(axis=1)
