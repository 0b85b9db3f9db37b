"""Peer runner: ``cornac`` NeuMF (PyTorch backend) and BPR for top-N, biased MF for ratings.

Run by benchmarks/quality.py in .venv-peers as ``python run_cornac.py JOB.json``. Scores come from
``model.score(user)`` over every item cornac knows (items absent from training stay NaN); ratings from
``model.rate(user, item)`` (clipped to the scale), falling back to cornac's ``default_score()`` (the
global mean) where the user or item is unknown, as cornac's own evaluation does.
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
    import cornac
    import torch

    return {"cornac": cornac.__version__, "torch": torch.__version__, "numpy": np.__version__}


def _dataset(train: dict[str, np.ndarray], binary: bool, seed: int) -> Any:
    import cornac

    ratings = np.ones(len(train["rating"])) if binary else train["rating"].astype(float)
    triples = list(zip(train["user_idx"].tolist(), train["item_idx"].tolist(), ratings.tolist(), strict=True))
    return cornac.data.Dataset.from_uir(triples, seed=seed)


def _model(model: str, p: dict[str, Any], seed: int, threads: int) -> Any:
    from cornac.models import BPR, MF, NeuMF

    if model == "neumf":
        k = int(p["factors"])
        return NeuMF(
            num_factors=k,
            layers=[int(x) for x in p.get("layers", [4 * k, 2 * k, k])],
            act_fn="relu",
            reg=float(p.get("reg", 0.0)),
            num_epochs=int(p["epochs"]),
            batch_size=int(p.get("batch_size", 256)),
            num_neg=int(p.get("num_neg", 4)),
            lr=float(p["lr"]),
            learner="adam",
            backend="pytorch",
            verbose=False,
            seed=seed,
        )
    if model == "bpr":
        return BPR(
            k=int(p["k"]),
            max_iter=int(p["max_iter"]),
            learning_rate=float(p["learning_rate"]),
            lambda_reg=float(p["lambda_reg"]),
            num_threads=threads,
            verbose=False,
            seed=seed,
        )
    if model == "mf":
        return MF(
            k=int(p["k"]),
            max_iter=int(p["max_iter"]),
            learning_rate=float(p["learning_rate"]),
            lambda_reg=float(p["lambda_reg"]),
            use_bias=True,
            num_threads=threads,
            verbose=False,
            seed=seed,
        )
    raise ValueError(f"unknown cornac model {model!r}")


def run(
    job: dict[str, Any], model: str, params: dict[str, Any], seed: int, train: dict[str, np.ndarray]
) -> Iterator[Result]:
    import torch

    threads = int(job.get("threads", 0))
    if threads:
        torch.set_num_threads(threads)
    topn = job["task"] == "topn"
    ds = _dataset(train, binary=topn, seed=seed)
    m = _model(model, params, seed, threads)
    with Timer() as t:
        m.fit(ds)
    if topn:
        users = score_users(job)
        known = np.array(list(ds.iid_map.keys()), dtype=np.int64)
        inner = np.array(list(ds.iid_map.values()), dtype=np.int64)
        out = np.full((len(users), job["n_items"]), np.nan, dtype=np.float32)
        for row, u in enumerate(users.tolist()):
            if u in ds.uid_map:
                s = np.asarray(m.score(ds.uid_map[u]), dtype=np.float32)
                out[row, known] = s[inner]
        yield dict(params), t.seconds, out
    else:
        users, items = rating_pairs(job)
        pred = np.empty(len(users), dtype=np.float32)
        for n, (u, i) in enumerate(zip(users.tolist(), items.tolist(), strict=True)):
            if u in ds.uid_map and i in ds.iid_map:
                pred[n] = m.rate(ds.uid_map[u], ds.iid_map[i], clipping=True)
            else:
                pred[n] = m.default_score()
        yield dict(params), t.seconds, pred


if __name__ == "__main__":
    main(run, versions)
