"""Runner for nextwatch's own models, so they go through exactly the path the peers go through.

Run by benchmarks/quality.py in the main venv (.venv) as ``python run_nextwatch.py JOB.json``: a
fresh process per job, the same split files, the same thread count. Models are built with the public
API (``nextwatch.models.create_model(name, objective, **settings)``), trained with ``fit(dataset)`` on
a dataset holding only the training interactions, and scored with ``score_all`` (top-N) or ``score``
(ratings on the original scale). The job's ``dataset`` folder gives the item and user tables and the
rating scale; its interactions are replaced by the training split.
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
    import torch

    import nextwatch

    return {"nextwatch": nextwatch.__version__, "torch": torch.__version__, "numpy": np.__version__}


def run(
    job: dict[str, Any], model: str, params: dict[str, Any], seed: int, train: dict[str, np.ndarray]
) -> Iterator[Result]:
    import torch

    from nextwatch.data.dataset import Dataset, Interactions
    from nextwatch.data.store import load_dataset
    from nextwatch.models import create_model

    threads = int(job.get("threads", 0))
    if threads:
        torch.set_num_threads(threads)
    base = load_dataset(job["dataset"], interactions=False)
    inter = Interactions(train["user_idx"], train["item_idx"], train["rating"], train["timestamp"])
    ds = Dataset(
        interactions=inter, items=base.items, users=base.users, manifest=base.manifest, path=base.path
    )
    objective = "implicit" if job["task"] == "topn" else "explicit"
    settings = dict(params)
    if model != "pop":
        settings["seed"] = seed
    m = create_model(model, objective, device="cpu", **settings)
    with Timer() as t:
        m.fit(ds)
    # the requested settings identify the result; the full effective config and the epoch history ride along
    reported = dict(
        params, _effective=m.config.to_dict(), _history=[h.to_dict() for h in getattr(m, "history", [])]
    )
    if job["task"] == "topn":
        scores = m.score_all(score_users(job))
    else:
        users, items = rating_pairs(job)
        scores = m.score(users, items)
    yield reported, t.seconds, scores


if __name__ == "__main__":
    main(run, versions)
