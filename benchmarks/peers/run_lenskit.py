"""Peer runner: LensKit for Python 2025.8.1 — ImplicitMF and popularity for top-N, BiasedMF (ALS) for ratings.

Run by benchmarks/quality.py in .venv-peers as ``python run_lenskit.py JOB.json``. Each user is
scored through the trained component itself (``scorer(query=user, items=ItemList(all items))``), with
no history in the query, so the user's training embedding is used; items unseen in training come back
NaN. BiasedMF predicts ratings the same way, one query per user over that user's test items.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import Result, Timer, main, rating_pairs, score_users


def versions() -> dict[str, str]:
    import lenskit
    import torch

    return {"lenskit": lenskit.__version__, "torch": torch.__version__, "numpy": np.__version__}


def _scorer(model: str, p: dict[str, Any]) -> Any:
    from lenskit.als import BiasedMFConfig, BiasedMFScorer, ImplicitMFConfig, ImplicitMFScorer
    from lenskit.basic import PopScorer

    if model == "implicit_mf":
        return ImplicitMFScorer(
            ImplicitMFConfig(
                embedding_size=int(p["embedding_size"]),
                regularization=float(p["regularization"]),
                weight=float(p.get("weight", 40.0)),
                epochs=int(p["epochs"]),
            )
        )
    if model == "biased_mf":
        return BiasedMFScorer(
            BiasedMFConfig(
                embedding_size=int(p["embedding_size"]),
                regularization=float(p["regularization"]),
                damping=float(p.get("damping", 5.0)),
                epochs=int(p["epochs"]),
            )
        )
    if model == "pop":
        return PopScorer()
    raise ValueError(f"unknown lenskit model {model!r}")


def _aligned(res: Any, ids: np.ndarray) -> np.ndarray:
    """The scores of ``res`` in the order of ``ids`` (NaN where LensKit gave none)."""
    got = np.asarray(res.ids(), dtype=np.int64)
    scores = res.scores()
    values = np.full(len(ids), np.nan, dtype=np.float32) if scores is None else np.asarray(scores, np.float32)
    if np.array_equal(got, ids):
        return values
    out = np.full(len(ids), np.nan, dtype=np.float32)
    pos = {int(i): n for n, i in enumerate(ids.tolist())}
    for i, v in zip(got.tolist(), values.tolist(), strict=True):
        out[pos[i]] = v
    return out


def run(
    job: dict[str, Any], model: str, params: dict[str, Any], seed: int, train: dict[str, np.ndarray]
) -> Iterator[Result]:
    import pandas as pd
    import torch
    from lenskit.data import ItemList, from_interactions_df
    from lenskit.training import TrainingOptions

    threads = int(job.get("threads", 0))
    if threads:
        torch.set_num_threads(threads)
    topn = job["task"] == "topn"
    df = pd.DataFrame(
        {"user_id": train["user_idx"].astype(np.int64), "item_id": train["item_idx"].astype(np.int64)}
    )
    if not topn:
        df["rating"] = train["rating"].astype(np.float64)
    data = from_interactions_df(
        df, user_col="user_id", item_col="item_id", rating_col=None if topn else "rating"
    )
    scorer = _scorer(model, params)
    with Timer() as t:
        scorer.train(data, TrainingOptions(rng=seed))
    if topn:
        users = score_users(job)
        all_ids = np.arange(job["n_items"], dtype=np.int64)
        all_items = ItemList(item_ids=all_ids)
        out = np.full((len(users), job["n_items"]), np.nan, dtype=np.float32)
        for row, u in enumerate(users.tolist()):
            res = scorer(all_items) if model == "pop" else scorer(query=int(u), items=all_items)
            out[row] = _aligned(res, all_ids)
        yield dict(params), t.seconds, out
    else:
        users, items = rating_pairs(job)
        pred = np.full(len(users), np.nan, dtype=np.float32)
        order = np.argsort(users, kind="stable")
        bounds = np.flatnonzero(np.diff(users[order])) + 1
        for idx in np.split(order, bounds):
            if not len(idx):
                continue
            res = scorer(query=int(users[idx[0]]), items=ItemList(item_ids=items[idx]))
            pred[idx] = _aligned(res, items[idx])
        yield dict(params), t.seconds, pred


if __name__ == "__main__":
    main(run, versions)
