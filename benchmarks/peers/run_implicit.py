"""Peer runner: ``implicit`` (Ben Frederickson) ALS and BPR on the shared split, top-N only.

Run by benchmarks/quality.py in .venv-peers as ``python run_implicit.py JOB.json`` with
OPENBLAS_NUM_THREADS=1 (implicit's own advice: it parallelises itself). Interactions are binary (a
rating of any value is a positive); scores come from the library's ``recommend`` over all items with
``filter_already_liked_items=False`` (the benchmark masks seen items itself, the same for everyone).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import scipy.sparse as sp
from _common import Result, Timer, checkpoints, main, scatter_scores, score_users


def versions() -> dict[str, str]:
    import implicit

    return {"implicit": implicit.__version__, "numpy": np.__version__}


def _user_items(job: dict[str, Any], train: dict[str, np.ndarray]) -> sp.csr_matrix:
    m = sp.csr_matrix(
        (np.ones(len(train["user_idx"]), dtype=np.float32), (train["user_idx"], train["item_idx"])),
        shape=(job["n_users"], job["n_items"]),
    )
    m.data[:] = 1.0  # duplicates (none expected) stay binary
    return m


def _scores(model: Any, job: dict[str, Any], ui: sp.csr_matrix) -> np.ndarray:
    users = score_users(job)
    n_items = job["n_items"]
    ids, scores = model.recommend(users, ui[users], N=n_items, filter_already_liked_items=False)
    rows = np.repeat(np.arange(len(users)), ids.shape[1])
    ids, scores = ids.ravel(), scores.ravel()
    keep = ids >= 0
    return scatter_scores(len(users), n_items, rows[keep], ids[keep], scores[keep])


def run(
    job: dict[str, Any], model: str, params: dict[str, Any], seed: int, train: dict[str, np.ndarray]
) -> Iterator[Result]:
    if job["task"] != "topn":
        raise ValueError("implicit has no rating prediction")
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    ui = _user_items(job, train)
    threads = int(job.get("threads", 0))
    # implicit iterations are not resumable from the outside, so one fit per checkpoint
    for iters in checkpoints(params, "iterations"):
        p = dict(params, iterations=iters)
        if model == "als":
            alpha = float(p.get("alpha", 1.0))
            m = AlternatingLeastSquares(
                factors=int(p["factors"]),
                regularization=float(p["regularization"]),
                alpha=alpha,
                iterations=iters,
                random_state=seed,
                num_threads=threads,
            )
        elif model == "bpr":
            m = BayesianPersonalizedRanking(
                factors=int(p["factors"]),
                learning_rate=float(p["learning_rate"]),
                regularization=float(p["regularization"]),
                iterations=iters,
                random_state=seed,
                num_threads=threads,
            )
        else:
            raise ValueError(f"unknown implicit model {model!r}")
        with Timer() as t:
            m.fit(ui, show_progress=False)
        yield p, t.seconds, _scores(m, job, ui)


if __name__ == "__main__":
    main(run, versions)
