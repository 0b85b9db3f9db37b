"""Evaluation protocols: a scorer, a dataset and its stored split in, a dict of metrics out.

- ``loo-sampled`` (He et al. 2017): each user's held-out item ranked among the split's 100 sampled
  items the user never interacted with; HR@10 and NDCG@10.
- ``loo-full``: the held-out item ranked against every item the user did not train on (Krichene &
  Rendle 2020: sampled metrics can reorder models); HR@10, NDCG@10, Recall@20, NDCG@20. Scores come
  from ``score_all`` for blocks of users (batched matrix products), never a per-user loop.
- ``holdout-ratings``: RMSE and MAE of the predicted ratings of the held-out interactions, on the
  original scale, predictions clipped to the scale. Pairs a scorer cannot score (NaN: an unknown user
  or item) get the same damped item-mean baseline, whatever the scorer, and are counted.

Anything with ``score(users, items)`` and ``score_all(users)`` (see :class:`Scorer`) can be evaluated,
so peers' adapters run through exactly the same code as nextwatch's models. ``target`` picks the part:
``test``, or ``valid`` when tuning (the scorer must then have been trained on the train part only).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nextwatch.data.dataset import Dataset
from nextwatch.errors import InputError, NextwatchError
from nextwatch.evaluation import metrics
from nextwatch.evaluation.splits import Split, Target, get_split, heldout, train_view

log = logging.getLogger(__name__)

PROTOCOLS = ("loo-sampled", "loo-full", "holdout-ratings")
#: the split each protocol evaluates on
PROTOCOL_SPLIT = {"loo-sampled": "loo", "loo-full": "loo", "holdout-ratings": "ratings-holdout"}
#: users scored per ``score_all`` call in loo-full
USER_CHUNK = 1024
#: pseudo-ratings at the global mean in the fallback prediction of holdout-ratings
FALLBACK_DAMPING = 5.0


@runtime_checkable
class Scorer(Protocol):
    """What the protocols need of a model: NaN marks a pair it cannot score."""

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray: ...

    def score_all(self, users: np.ndarray) -> np.ndarray: ...


def loo_targets(dataset: Dataset, split: Split, target: Target = "test") -> tuple[np.ndarray, np.ndarray]:
    """(users, items): each user's one held-out item of ``target``, users ascending."""
    held = heldout(dataset, split, target)
    keys = np.unique(held.user_idx.astype(np.int64) * dataset.n_items + held.item_idx)
    users, items = keys // dataset.n_items, keys % dataset.n_items
    if len(np.unique(users)) != len(users):  # cannot happen with a loo split
        raise NextwatchError(f"split {split.name} holds out more than one item per user")
    return users, items


def evaluate_loo_sampled(
    scorer: Scorer, dataset: Dataset, split: Split, target: Target = "test", *, k: int = 10
) -> dict[str, Any]:
    """The paper's protocol: rank among the held-out item and the split's sampled negatives."""
    if split.negatives is None or split.negative_users is None:
        raise NextwatchError(f"split {split.name} has no sampled negatives; use the loo split")
    users, items = loo_targets(dataset, split, target)
    pos = np.searchsorted(split.negative_users, users)
    pos = np.minimum(pos, len(split.negative_users) - 1)
    has = split.negative_users[pos] == users if len(split.negative_users) else np.zeros(len(users), bool)
    users, items, pos = users[has], items[has], pos[has]
    negs = split.negatives[pos]  # [U, n], -1 padded
    valid = negs >= 0
    n_cand = negs.shape[1]
    flat_users = np.repeat(users, n_cand)
    neg_scores = np.full(negs.shape, np.nan, np.float32)
    flat = scorer.score(flat_users[valid.ravel()], negs[valid])
    neg_scores[valid] = flat
    target_scores = scorer.score(users, items)
    ranks = metrics.ranks_of_targets(target_scores, neg_scores, valid)
    return {
        f"HR@{k}": metrics.hit_rate(ranks, k),
        f"NDCG@{k}": metrics.ndcg(ranks, k),
        "n_users": len(users),
        "n_candidates": 1 + n_cand,
        "n_impossible": int(np.isnan(target_scores).sum()),
    }


def _seen_csr(train: Dataset) -> tuple[np.ndarray, np.ndarray]:
    n_items = train.n_items
    keys = np.unique(train.interactions.user_idx.astype(np.int64) * n_items + train.interactions.item_idx)
    indptr = np.zeros(train.n_users + 1, np.int64)
    np.cumsum(np.bincount(keys // n_items, minlength=train.n_users), out=indptr[1:])
    return indptr, keys % n_items


def evaluate_loo_full(
    scorer: Scorer,
    dataset: Dataset,
    split: Split,
    target: Target = "test",
    *,
    ks: tuple[int, ...] = (10, 20),
    chunk: int = USER_CHUNK,
) -> dict[str, Any]:
    """Rank the held-out item against every item the user did not train on."""
    users, items = loo_targets(dataset, split, target)
    indptr, seen = _seen_csr(train_view(dataset, split, target))
    ranks = np.empty(len(users), np.float64)
    n_impossible = 0
    for start in range(0, len(users), chunk):
        u, t = users[start : start + chunk], items[start : start + chunk]
        s = np.asarray(scorer.score_all(u), np.float32)
        if s.shape != (len(u), dataset.n_items):
            raise NextwatchError(f"score_all returned shape {s.shape}, not {(len(u), dataset.n_items)}")
        s = np.nan_to_num(s, nan=-np.inf, posinf=np.inf)
        # the user's training items are not candidates
        lengths = indptr[u + 1] - indptr[u]
        rows = np.repeat(np.arange(len(u)), lengths)
        cols = _gather(seen, indptr, u)
        s[rows, cols] = -np.inf
        target_scores = s[np.arange(len(u)), t]
        n_impossible += int(np.isneginf(target_scores).sum())
        # ties count against the target; the target itself is the one ">=" to subtract
        ranks[start : start + chunk] = (s >= target_scores[:, None]).sum(axis=1) - 1
    out: dict[str, Any] = {}
    for k in ks:
        out[f"HR@{k}"] = metrics.hit_rate(ranks, k)
        out[f"NDCG@{k}"] = metrics.ndcg(ranks, k)
        out[f"Recall@{k}"] = metrics.recall(ranks, k)
    out.update({"n_users": len(users), "n_candidates_mean": _mean_candidates(dataset, indptr, users)})
    out["n_impossible"] = n_impossible
    return out


def _gather(values: np.ndarray, indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenation of the CSR rows ``rows`` (vectorised)."""
    starts, ends = indptr[rows], indptr[rows + 1]
    lengths = ends - starts
    if lengths.sum() == 0:
        return np.empty(0, values.dtype)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return values[np.arange(lengths.sum()) + offsets]


def _mean_candidates(dataset: Dataset, indptr: np.ndarray, users: np.ndarray) -> float:
    if len(users) == 0:
        return float("nan")
    return float(np.mean(dataset.n_items - (indptr[users + 1] - indptr[users])))


def evaluate_holdout_ratings(
    scorer: Scorer, dataset: Dataset, split: Split, target: Target = "test"
) -> dict[str, Any]:
    """RMSE and MAE of the held-out ratings on the dataset's scale."""
    scale = dataset.rating_scale
    if scale is None:
        raise NextwatchError("this dataset has no ratings; holdout-ratings needs a rating scale")
    held = heldout(dataset, split, target)
    pred = np.asarray(scorer.score(held.user_idx, held.item_idx), np.float64)
    impossible = ~np.isfinite(pred)
    if impossible.any():
        train = train_view(dataset, split, target).interactions
        mu = float(train.rating.mean())
        cnt = np.bincount(train.item_idx, minlength=dataset.n_items)
        sums = np.bincount(train.item_idx, weights=train.rating, minlength=dataset.n_items)
        base = (sums + FALLBACK_DAMPING * mu) / (cnt + FALLBACK_DAMPING)
        pred[impossible] = base[held.item_idx[impossible]]
    pred = np.clip(pred, scale[0], scale[1])
    return {
        "RMSE": metrics.rmse(pred, held.rating),
        "MAE": metrics.mae(pred, held.rating),
        "n_ratings": len(held),
        "n_impossible": int(impossible.sum()),
    }


def evaluate(
    scorer: Scorer,
    dataset: Dataset,
    protocol: str,
    *,
    split: Split | None = None,
    target: Target = "test",
) -> dict[str, Any]:
    """Run ``protocol`` on ``dataset``'s stored split (computed and stored on first use)."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if protocol == "holdout-ratings" and getattr(scorer, "objective", "explicit") == "implicit":
        raise NextwatchError(
            "holdout-ratings needs predicted ratings, but this model was trained with the implicit objective",
            hint="train with --objective explicit, or use --protocol loo-sampled / loo-full",
        )
    split_name = PROTOCOL_SPLIT[protocol]
    if split is None:
        split = get_split(dataset, split_name)
    elif split.name != split_name:
        raise InputError(f"protocol {protocol} needs the {split_name} split, not {split.name}")
    t0 = time.perf_counter()
    if protocol == "loo-sampled":
        result = evaluate_loo_sampled(scorer, dataset, split, target)
    elif protocol == "loo-full":
        result = evaluate_loo_full(scorer, dataset, split, target)
    else:
        result = evaluate_holdout_ratings(scorer, dataset, split, target)
    return {
        "protocol": protocol,
        "split": split.name,
        "split_seed": split.seed,
        "part": target,
        **result,
        "seconds": round(time.perf_counter() - t0, 3),
    }
