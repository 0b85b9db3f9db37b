"""What every peer runner shares: reading a job, the split files, and writing scores back.

A runner is a script run by ``benchmarks/quality.py`` as a subprocess in the peer's own virtual
environment (``.venv-peers`` or ``.venv-recbole``), so this module needs numpy only (no pyarrow, which
needs numpy 2, no polars, no nextwatch) and must work with numpy 1 and 2 alike. Split files are
therefore ``.npz`` archives of plain arrays (``user_idx``, ``item_idx``, ``rating``, ``timestamp``).

The job (a JSON file given as the only argument) says::

    {"runner": "implicit", "task": "topn" | "ratings",
     "train": "…/train.npz",                # user_idx, item_idx, rating, timestamp (dense indices)
     "n_users": 2999, "n_items": 3706,
     "users": "…/users.npy",                 # topn: the users to score over ALL items
     "pairs": "…/pairs.npz",                 # ratings: user_idx, item_idx to predict
     "rating_scale": [1.0, 5.0],
     "threads": 2,
     "configs": [{"model": "als", "params": {...}, "seed": 0, "out": "…/prefix"}, ...]}

For each config the runner's ``run`` yields one or more results (several for models evaluated at
epoch checkpoints of one training run); each is written as ``<out>.<k>.npy`` (a float32 matrix
users x items of scores for topn, or a float32 vector of predicted ratings) and described in
``<out>.json``: the effective settings, the wall-clock fit time up to that point, the scoring time,
the library versions, or the error that stopped it. Unscorable entries (an item or user the library
never saw in training) are NaN; the benchmark ranks them last.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

#: (effective params, fit seconds, scores or predictions)
Result = tuple[dict[str, Any], float, np.ndarray]
RunFn = Callable[[dict[str, Any], str, dict[str, Any], int, dict[str, np.ndarray]], Iterator[Result]]


def read_interactions(path: str) -> dict[str, np.ndarray]:
    """The columns of a split file as numpy arrays."""
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def write_json(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def write_array(path: str, arr: np.ndarray) -> None:
    tmp = f"{path}.tmp-{os.getpid()}.npy"
    np.save(tmp, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
    os.replace(tmp, path)


def main(run: RunFn, versions: Callable[[], dict[str, str]]) -> None:
    """Run every config of the job in ``sys.argv[1]`` through ``run``; never raise for one config."""
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    train = read_interactions(job["train"])
    vers = versions()
    for cfg in job["configs"]:
        out = cfg["out"]
        meta: dict[str, Any] = {"model": cfg["model"], "seed": cfg["seed"], "versions": vers, "results": []}
        t_start = time.perf_counter()
        try:
            last, last_fit = time.perf_counter(), 0.0
            for k, (params, fit_s, values) in enumerate(
                run(job, cfg["model"], cfg["params"], cfg["seed"], train)
            ):
                # time since the previous result, less the training in between, is scoring time
                score_s = max(0.0, time.perf_counter() - last - (fit_s - last_fit))
                path = f"{out}.{k}.npy"
                write_array(path, values)
                meta["results"].append({"params": params, "fit_s": fit_s, "score_s": score_s, "file": path})
                last, last_fit = time.perf_counter(), fit_s
        except Exception as e:  # a peer that cannot run is reported, not fatal
            meta["error"] = f"{type(e).__name__}: {e}"
            meta["traceback"] = traceback.format_exc(limit=6)
        meta["wall_s"] = time.perf_counter() - t_start
        write_json(f"{out}.json", meta)


class Timer:
    """Accumulates wall-clock seconds over several ``with`` blocks (fit time across checkpoints)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._t


def scatter_scores(
    n_rows: int, n_items: int, rows: np.ndarray, items: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """A users x items float32 matrix, NaN where the library gave no score."""
    out = np.full((n_rows, n_items), np.nan, dtype=np.float32)
    out[rows, items] = scores
    return out


def score_users(job: dict[str, Any]) -> np.ndarray:
    return np.load(job["users"], allow_pickle=False).astype(np.int64)


def rating_pairs(job: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    cols = read_interactions(job["pairs"])
    return cols["user_idx"].astype(np.int64), cols["item_idx"].astype(np.int64)


def checkpoints(params: dict[str, Any], key: str = "epochs") -> list[int]:
    """Epoch counts at which to emit scores: ``params[key]`` may be one int or a list (sorted)."""
    value = params[key]
    return sorted(int(v) for v in (value if isinstance(value, list) else [value]))
