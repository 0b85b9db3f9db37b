"""Peer runner: ``scikit-surprise`` SVD and BaselineOnly, rating prediction only.

Run by benchmarks/quality.py in .venv-peers as ``python run_surprise.py JOB.json``. Predictions come
from ``algo.predict(uid, iid).est`` (clipped to the rating scale, Surprise's default; a user or item
unknown to training falls back to the global mean, as Surprise does).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import Result, Timer, main, rating_pairs


def versions() -> dict[str, str]:
    import surprise

    return {"scikit-surprise": surprise.__version__, "numpy": np.__version__}


def run(
    job: dict[str, Any], model: str, params: dict[str, Any], seed: int, train: dict[str, np.ndarray]
) -> Iterator[Result]:
    if job["task"] != "ratings":
        raise ValueError("surprise is benchmarked on rating prediction only")
    import pandas as pd
    from surprise import SVD, BaselineOnly, Dataset, Reader

    lo, hi = job["rating_scale"]
    df = pd.DataFrame({"u": train["user_idx"], "i": train["item_idx"], "r": train["rating"].astype(float)})
    data = Dataset.load_from_df(df[["u", "i", "r"]], Reader(rating_scale=(lo, hi)))
    if model == "svd":
        algo = SVD(
            n_factors=int(params["n_factors"]),
            n_epochs=int(params["n_epochs"]),
            lr_all=float(params["lr_all"]),
            reg_all=float(params["reg_all"]),
            biased=True,
            random_state=seed,
        )
    elif model == "baseline":
        algo = BaselineOnly(bsl_options=dict(params), verbose=False)
    else:
        raise ValueError(f"unknown surprise model {model!r}")
    with Timer() as t:
        algo.fit(data.build_full_trainset())
    users, items = rating_pairs(job)
    pred = np.array(
        [algo.predict(int(u), int(i)).est for u, i in zip(users, items, strict=True)], dtype=np.float32
    )
    yield dict(params), t.seconds, pred


if __name__ == "__main__":
    main(run, versions)
