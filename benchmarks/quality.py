"""Quality benchmark: nextwatch's models beside the libraries people use instead, on one split.

    python benchmarks/quality.py [--datasets ml-1m,ml-latest-small] [--seeds 3] [--quick]

Runs in the main venv (.venv). For each data set it

1. ingests the shared MovieLens files with ``nextwatch ingest`` (into ``var/bench/<name>/dataset``);
2. computes the splits ONCE with :mod:`nextwatch.evaluation.splits` (leave-one-out: test = each user's
   latest interaction, validation = the second-to-last, 100 sampled negatives per user; ratings: a
   random 10% test and another 10% validation) and writes them as ``.npz`` files every contender reads;
3. tunes every contender on the VALIDATION split (small grids; the training data for tuning is the
   training split less the validation interactions) and never looks at the test items for it;
4. refits the chosen settings on the whole training split (nextwatch's models over ``--seeds`` seeds,
   peers over one seed unless ``--peer-seeds``) and scores the test users;
5. computes every metric here, in this process, with one code path (the protocols of
   :mod:`nextwatch.evaluation.protocols`, fed by adapters over the scores the contenders wrote back);
6. writes ``benchmarks/results/quality.json`` and ``benchmarks/results/quality.md``.

Every contender runs as a subprocess (``benchmarks/peers/run_<library>.py``) in its own venv:
``.venv`` for nextwatch, ``.venv-peers`` for implicit / Surprise / cornac / LensKit, ``.venv-recbole``
for RecBole (build them with ``benchmarks/peers/setup_venvs.sh``). A contender whose venv or library
is missing, or which fails, is listed with the error instead of numbers.

Each contender's outcome is cached under ``var/bench/<name>/results/`` keyed by the split, its grid and
seeds, so an interrupted run picks up where it stopped (``--fresh`` ignores the cache).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nextwatch.data.store import load_dataset
from nextwatch.io import write_json

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _host import host_facts, load_average

log = logging.getLogger("quality")

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / "benchmarks" / "peers"
RESULTS = REPO / "benchmarks" / "results"
SHARED = Path(os.environ.get("NEXTWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = {"ml-1m": SHARED / "ml-1m", "ml-latest-small": SHARED / "movielens-latest-small"}
VENVS = {"main": REPO / ".venv", "peers": REPO / ".venv-peers", "recbole": REPO / ".venv-recbole"}
SPLIT_SEED = 0  # nextwatch.evaluation's default split seed
N_NEGATIVES = 100


# -- contenders ----------------------------------------------------------------------------------------------


@dataclass
class Contender:
    """One model of one library, with the grid searched on validation."""

    name: str  # shown in the table
    library: str  # runner: benchmarks/peers/run_<library>.py
    model: str  # the runner's model name
    task: str  # "topn" or "ratings"
    grid: list[dict[str, Any]]
    venv: str = "peers"
    ours: bool = False
    #: set when the contender is not run, with the reason shown in the table
    skip: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def _grid(**axes: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{}]
    for key, values in axes.items():
        out = [dict(g, **{key: v}) for g in out for v in values]
    return out


def contenders(
    quick: bool, slow_peers: bool, nw_epochs: int | None = None, recbole_epochs: list[int] | None = None
) -> list[Contender]:
    """The contenders and their validation grids (``quick``: one tiny setting each, for a smoke run)."""
    q = quick
    nw = []
    # One setting each: the defaults `nextwatch train` uses (tuned on the validation part, see
    # nextwatch.models.config.TUNING_NOTES), or ``epochs=nw_epochs`` on top of them; a single setting is
    # not "chosen", so no tuning fit is run.
    nw_grid: dict[str, Any] = {"epochs": 2} if q else ({} if nw_epochs is None else {"epochs": nw_epochs})
    for model in ("neumf", "gmf", "mlp", "mf"):
        grid: list[dict[str, Any]] = [dict(nw_grid)]
        label = "NeuMF" if model == "neumf" else model.upper()
        nw.append(Contender(f"nextwatch {label}", "nextwatch", model, "topn", grid, venv="main", ours=True))
    nw.append(Contender("nextwatch popularity", "nextwatch", "pop", "topn", [{}], venv="main", ours=True))
    for model in ("neumf", "mf", "autorec"):
        grid = [dict(nw_grid)]
        label = {"neumf": "NeuMF", "mf": "MF", "autorec": "AutoRec"}[model]
        nw.append(
            Contender(
                f"nextwatch {label} (explicit)", "nextwatch", model, "ratings", grid, venv="main", ours=True
            )
        )
    nw.append(
        Contender(
            "nextwatch popularity (explicit)", "nextwatch", "pop", "ratings", [{}], venv="main", ours=True
        )
    )

    blas1 = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    peers = [
        Contender(
            "implicit ALS",
            "implicit",
            "als",
            "topn",
            [{"factors": 32, "regularization": 0.1, "alpha": 1.0, "iterations": 5}]
            if q
            else _grid(
                factors=[64, 128], regularization=[0.01, 0.05, 0.2], alpha=[2.0, 4.0, 8.0], iterations=[15]
            ),
            env=blas1,
        ),
        Contender(
            "implicit BPR",
            "implicit",
            "bpr",
            "topn",
            [{"factors": 32, "learning_rate": 0.01, "regularization": 0.01, "iterations": 10}]
            if q
            else _grid(
                factors=[64, 128], learning_rate=[0.01, 0.05], regularization=[0.01], iterations=[100]
            ),
            env=blas1,
        ),
        Contender(
            "LensKit ImplicitMF",
            "lenskit",
            "implicit_mf",
            "topn",
            [{"embedding_size": 16, "regularization": 0.1, "epochs": 2}]
            if q
            else _grid(embedding_size=[50, 100], regularization=[0.1], weight=[20.0, 40.0], epochs=[10]),
        ),
        Contender("LensKit popular", "lenskit", "pop", "topn", [{}]),
        Contender(
            "cornac BPR",
            "cornac",
            "bpr",
            "topn",
            [{"k": 16, "max_iter": 5, "learning_rate": 0.01, "lambda_reg": 0.01}]
            if q
            else _grid(k=[64], max_iter=[200], learning_rate=[0.01, 0.05], lambda_reg=[0.01]),
        ),
        Contender(
            "cornac NeuMF",
            "cornac",
            "neumf",
            "topn",
            [{"factors": 8, "epochs": 1, "lr": 0.001}]
            if q
            else [{"factors": 8, "layers": [32, 16, 8], "epochs": 10, "lr": 0.001}],
            skip=None
            if slow_peers
            else "not run: cornac 3.0.1's NeuMF samples each negative in a Python loop over a dok_matrix "
            "(uir_iter); one epoch of ml-latest-small took > 3 min here, so ML-1M's tuning would not fit "
            "this run; pass --slow-peers to include it",
        ),
        Contender(
            "RecBole NeuMF",
            "recbole",
            "NeuMF",
            "topn",
            [{"embedding_size": 8, "learning_rate": 0.001, "epochs": [1, 2], "train_batch_size": 2048}]
            if q
            else [
                {
                    "embedding_size": 64,
                    "mlp_hidden_size": [128, 64],
                    "learning_rate": 0.001,
                    "epochs": recbole_epochs[0]
                    if recbole_epochs and len(recbole_epochs) == 1
                    else recbole_epochs or [5, 10],
                    "train_batch_size": 2048,
                }
            ],
            venv="recbole",
            env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"},
        ),
        Contender(
            "Surprise SVD",
            "surprise",
            "svd",
            "ratings",
            [{"n_factors": 20, "n_epochs": 5, "lr_all": 0.005, "reg_all": 0.02}]
            if q
            else _grid(n_factors=[50, 100], n_epochs=[20], lr_all=[0.005], reg_all=[0.02, 0.05]),
        ),
        Contender(
            "Surprise BaselineOnly",
            "surprise",
            "baseline",
            "ratings",
            [{"method": "als", "n_epochs": 5, "reg_u": 15, "reg_i": 10}]
            if q
            else _grid(method=["als"], n_epochs=[10], reg_u=[5, 15], reg_i=[10]),
        ),
        Contender(
            "LensKit BiasedMF (ALS)",
            "lenskit",
            "biased_mf",
            "ratings",
            [{"embedding_size": 16, "regularization": 0.1, "epochs": 2}]
            if q
            else _grid(embedding_size=[50], regularization=[0.1, 1.0], epochs=[10]),
        ),
        Contender(
            "cornac MF",
            "cornac",
            "mf",
            "ratings",
            [{"k": 10, "max_iter": 5, "learning_rate": 0.01, "lambda_reg": 0.02}]
            if q
            else _grid(k=[10, 50], max_iter=[50], learning_rate=[0.01], lambda_reg=[0.02]),
        ),
    ]
    return nw + peers


# -- splits --------------------------------------------------------------------------------------------------


@dataclass
class Splits:
    """The dataset and its two stored splits (nextwatch.evaluation), computed once for every contender."""

    ds: Any
    loo: Any  # nextwatch.evaluation.splits.Split "loo" (with the 100 sampled negatives per user)
    ratings: Any  # Split "ratings-holdout"
    rating_scale: tuple[float, float]

    @property
    def n_users(self) -> int:
        return int(self.ds.n_users)

    @property
    def n_items(self) -> int:
        return int(self.ds.n_items)


def compute_splits(ds: Any, seed: int = SPLIT_SEED) -> Splits:
    """Both splits from nextwatch.evaluation (stored with the dataset, so computed once)."""
    from nextwatch.evaluation.splits import get_split

    scale = ds.rating_scale or (float(ds.interactions.rating.min()), float(ds.interactions.rating.max()))
    return Splits(ds, get_split(ds, "loo", seed), get_split(ds, "ratings-holdout", seed), scale)


def _arrays(inter: Any) -> dict[str, np.ndarray]:
    return {
        "user_idx": inter.user_idx,
        "item_idx": inter.item_idx,
        "rating": inter.rating,
        "timestamp": inter.timestamp,
    }


def write_split_files(sp: Splits, folder: Path) -> dict[str, str]:
    """Write what the runners read as .npz files; return name -> path.

    ``loo_train`` / ``ratings_train`` hold what a model evaluated on the test part trains on (train +
    validation), ``*_train_tune`` what a model evaluated on the validation part trains on (train only).
    """
    from nextwatch.evaluation.protocols import loo_targets
    from nextwatch.evaluation.splits import heldout, train_view

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}

    def save(name: str, arrays: dict[str, np.ndarray]) -> None:
        p = folder / f"{name}.npz"
        tmp = folder / f".{name}.tmp-{os.getpid()}.npz"  # parallel invocations write the same files
        np.savez(tmp, **arrays)
        os.replace(tmp, p)
        paths[name] = str(p)

    for target, suffix in (("test", "train"), ("valid", "train_tune")):
        save(f"loo_{suffix}", _arrays(train_view(sp.ds, sp.loo, target).interactions))
        save(f"ratings_{suffix}", _arrays(train_view(sp.ds, sp.ratings, target).interactions))
        save(f"ratings_{target}", _arrays(heldout(sp.ds, sp.ratings, target)))
        users, items = loo_targets(sp.ds, sp.loo, target)
        np.save(folder / f"loo_{target}_users.npy", users.astype(np.int64))
        paths[f"loo_{target}_users"] = str(folder / f"loo_{target}_users.npy")
        # the held-out positives as an interaction file (RecBole's vocabulary needs them)
        save(
            f"loo_{target}_heldout",
            {
                "user_idx": users.astype(np.int32),
                "item_idx": items.astype(np.int32),
                "rating": np.ones(len(users), np.float32),
                "timestamp": np.zeros(len(users), np.int64),
            },
        )
    return paths


def split_fingerprint(paths: dict[str, str], sp: Splits) -> str:
    """A hash of the arrays every contender receives (not of the files: .npz archives carry timestamps)."""
    h = hashlib.sha256()
    for name in sorted(paths):
        h.update(name.encode())
        p = paths[name]
        if p.endswith(".npz"):
            with np.load(p, allow_pickle=False) as z:
                for key in sorted(z.files):
                    h.update(key.encode())
                    h.update(np.ascontiguousarray(z[key]).tobytes())
        else:
            h.update(np.ascontiguousarray(np.load(p, allow_pickle=False)).tobytes())
    if sp.loo.negatives is not None:
        h.update(np.ascontiguousarray(sp.loo.negatives).tobytes())
    return h.hexdigest()[:16]


# -- metrics: nextwatch.evaluation's protocols, fed by adapters over the scores each contender wrote ---------


class MatrixScorer:
    """A nextwatch.evaluation Scorer over a users x items score matrix (rows follow ``users``)."""

    def __init__(self, users: np.ndarray, scores: np.ndarray) -> None:
        self.scores = scores
        self.row = np.full(int(users.max()) + 1 if len(users) else 0, -1, np.int64)
        self.row[users] = np.arange(len(users))

    def _rows(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, np.int64)
        r = np.full(len(users), -1, np.int64)
        inside = users < len(self.row)
        r[inside] = self.row[users[inside]]
        return r

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        r = self._rows(users)
        out = np.full(len(r), np.nan, np.float32)
        ok = r >= 0
        out[ok] = self.scores[r[ok], np.asarray(items, np.int64)[ok]]
        return out

    def score_all(self, users: np.ndarray) -> np.ndarray:
        r = self._rows(users)
        out = np.full((len(r), self.scores.shape[1]), np.nan, np.float32)
        ok = r >= 0
        out[ok] = self.scores[r[ok]]
        return out


class PairScorer:
    """A Scorer over predictions for given (user, item) pairs (rating prediction); NaN elsewhere."""

    def __init__(self, users: np.ndarray, items: np.ndarray, pred: np.ndarray, n_items: int) -> None:
        self.n_items = n_items
        keys = users.astype(np.int64) * n_items + items
        order = np.argsort(keys, kind="stable")
        self.keys, self.pred = keys[order], np.asarray(pred, np.float32)[order]

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = np.asarray(users, np.int64) * self.n_items + np.asarray(items, np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        out = np.full(len(keys), np.nan, np.float32)
        if len(self.keys):
            hit = self.keys[pos] == keys
            out[hit] = self.pred[pos[hit]]
        return out

    def score_all(self, users: np.ndarray) -> np.ndarray:  # pragma: no cover - not used for ratings
        raise NotImplementedError


METRICS_CODE = (
    "nextwatch.evaluation.protocols (evaluate_loo_sampled, evaluate_loo_full, "
    "evaluate_holdout_ratings) over adapters of each contender's written scores"
)


def topn_metrics(scores: np.ndarray, sp: Splits, target: str, users: np.ndarray) -> dict[str, float]:
    """loo-sampled and loo-full metrics of a users x items score matrix whose rows follow ``users``."""
    from nextwatch.evaluation.protocols import evaluate_loo_full, evaluate_loo_sampled

    scorer = MatrixScorer(users, scores)
    s = evaluate_loo_sampled(scorer, sp.ds, sp.loo, target)  # type: ignore[arg-type]
    f = evaluate_loo_full(scorer, sp.ds, sp.loo, target)  # type: ignore[arg-type]
    return {
        "sampled_hr@10": s["HR@10"],
        "sampled_ndcg@10": s["NDCG@10"],
        "full_hr@10": f["HR@10"],
        "full_ndcg@10": f["NDCG@10"],
        "full_recall@20": f["Recall@20"],
        "full_ndcg@20": f["NDCG@20"],
        "n_users": s["n_users"],
        "n_impossible": s["n_impossible"],
    }


def rating_metrics(
    pred: np.ndarray, sp: Splits, target: str, pairs: dict[str, np.ndarray]
) -> dict[str, float]:
    """RMSE and MAE through nextwatch's holdout-ratings protocol (clipped; NaN gets its fallback)."""
    from nextwatch.evaluation.protocols import evaluate_holdout_ratings

    scorer = PairScorer(pairs["user_idx"], pairs["item_idx"], pred, sp.n_items)
    r = evaluate_holdout_ratings(scorer, sp.ds, sp.ratings, target)  # type: ignore[arg-type]
    return {"rmse": r["RMSE"], "mae": r["MAE"], "n_pairs": r["n_ratings"], "n_impossible": r["n_impossible"]}


# -- running contenders --------------------------------------------------------------------------------------


def venv_python(venv: str) -> Path:
    return VENVS[venv] / "bin" / "python"


def run_job(c: Contender, job: dict[str, Any], folder: Path, threads: int) -> list[dict[str, Any]]:
    """Run ``job`` through the contender's runner; return each config's meta (results or error)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.json"
    write_json(path, job)
    py = venv_python(c.venv)
    if not py.exists():
        raise RuntimeError(f"venv {VENVS[c.venv]} missing: run benchmarks/peers/setup_venvs.sh")
    env = dict(os.environ, **c.env)
    t = str(threads)
    env.update({"OMP_NUM_THREADS": t, "NEXTWATCH_THREADS": t, "NEXTWATCH_PROGRESS": "0"})
    env.setdefault("OPENBLAS_NUM_THREADS", t)
    env.setdefault("MKL_NUM_THREADS", t)
    proc = subprocess.run(
        [str(py), str(PEERS / f"run_{c.library}.py"), str(path)],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    metas = []
    for cfg in job["configs"]:
        mp = Path(cfg["out"] + ".json")
        if mp.exists():
            metas.append(json.loads(mp.read_text()))
        else:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
            metas.append({"error": f"runner exited {proc.returncode}: " + " | ".join(tail), "results": []})
    return metas


def evaluate_job(
    c: Contender, metas: list[dict[str, Any]], sp: Splits, target: str, paths: dict[str, str]
) -> list[dict[str, Any]]:
    """Metrics for every result of every config; the score files are deleted once read."""
    from _common import read_interactions  # benchmarks/peers on sys.path (see below)

    rows = []
    users = np.load(paths[f"loo_{target}_users"]) if c.task == "topn" else None
    pairs = read_interactions(paths[f"ratings_{target}"]) if c.task == "ratings" else None
    for meta in metas:
        if meta.get("error"):
            rows.append({"error": meta["error"], "seed": meta.get("seed")})
        for res in meta.get("results", []):
            values = np.load(res["file"], allow_pickle=False)
            Path(res["file"]).unlink(missing_ok=True)
            if c.task == "topn":
                m = topn_metrics(values, sp, target, users)
            else:
                m = rating_metrics(values, sp, target, pairs)
            params = dict(res["params"])
            history = params.pop("_history", None)
            effective = params.pop("_effective", None)
            row = {
                "params": params,
                "seed": meta["seed"],
                "fit_s": res["fit_s"],
                "score_s": res["score_s"],
                "metrics": m,
                "versions": meta.get("versions", {}),
            }
            if history:
                row["epochs"] = summarize_history(history)
            if effective:
                row["effective"] = effective
            rows.append(row)
    return rows


def summarize_history(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage: epochs, mean samples/s, mean seconds per epoch, last loss."""
    out: dict[str, Any] = {}
    for h in history:
        s = out.setdefault(h["stage"], {"epochs": 0, "seconds": 0.0, "samples": 0, "last_loss": None})
        s["epochs"] += 1
        s["seconds"] += h["seconds"]
        s["samples"] += h["samples"]
        s["last_loss"] = h["loss"]
    for s in out.values():
        s["samples_per_s"] = s["samples"] / s["seconds"] if s["seconds"] else None
        s["s_per_epoch"] = s["seconds"] / s["epochs"] if s["epochs"] else None
    return out


def _key(row: dict[str, Any], task: str, protocol: str) -> float:
    m = row["metrics"]
    if task == "ratings":
        return -m["rmse"]
    return m["sampled_ndcg@10"] if protocol == "sampled" else m["full_ndcg@10"]


def _cfg_id(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def run_contender(
    c: Contender,
    sp: Splits,
    paths: dict[str, str],
    work: Path,
    dataset_dir: Path,
    seeds: list[int],
    threads: int,
) -> dict[str, Any]:
    """Tune on validation, refit the chosen settings on the training split, score the test part."""
    base_job = {
        "runner": c.library,
        "task": c.task,
        "n_users": sp.n_users,
        "n_items": sp.n_items,
        "rating_scale": list(sp.rating_scale),
        "threads": threads,
        "dataset": str(dataset_dir),
        "scratch": str(work),
    }
    pre = "loo" if c.task == "topn" else "ratings"
    out: dict[str, Any] = {
        "threads": threads,
        "name": c.name,
        "library": c.library,
        "model": c.model,
        "task": c.task,
        "ours": c.ours,
    }
    t0 = time.perf_counter()
    # 1. tuning: fit on train_tune, score the validation part (skipped when there is only one setting)
    if len(c.grid) == 1 and not any(isinstance(v, list) and k == "epochs" for k, v in c.grid[0].items()):
        out["tuning"] = "one setting: nothing to choose, no tuning fit"
        chosen = {p: dict(c.grid[0]) for p in (["sampled", "full"] if c.task == "topn" else ["holdout"])}
        return _final(c, out, chosen, base_job, paths, sp, work, seeds, threads, t0)
    job = dict(
        base_job,
        train=paths[f"{pre}_train_tune"],
        configs=[
            {"model": c.model, "params": g, "seed": seeds[0], "out": str(work / f"tune-{k}")}
            for k, g in enumerate(c.grid)
        ],
    )
    if c.task == "topn":
        job.update(users=paths["loo_valid_users"], heldout=paths["loo_valid_heldout"])
    else:
        job.update(pairs=paths["ratings_valid"])
    tuning = evaluate_job(c, run_job(c, job, work / "tune", threads), sp, "valid", paths)
    out["tuning"] = tuning
    good = [r for r in tuning if "metrics" in r]
    if not good:
        out["error"] = next((r["error"] for r in tuning if "error" in r), "no result")
        out["wall_s"] = time.perf_counter() - t0
        return out
    protocols = ["sampled", "full"] if c.task == "topn" else ["holdout"]
    chosen = {p: max(good, key=lambda r, p=p: _key(r, c.task, p))["params"] for p in protocols}
    return _final(c, out, chosen, base_job, paths, sp, work, seeds, threads, t0)


def _final(
    c: Contender,
    out: dict[str, Any],
    chosen: dict[str, dict[str, Any]],
    base_job: dict[str, Any],
    paths: dict[str, str],
    sp: Splits,
    work: Path,
    seeds: list[int],
    threads: int,
    t0: float,
) -> dict[str, Any]:
    out["chosen"] = chosen
    pre = "loo" if c.task == "topn" else "ratings"
    # 2. final fits: each distinct chosen setting, every seed, on the whole training split
    distinct = {_cfg_id(p): p for p in chosen.values()}
    final_seeds = seeds
    job = dict(
        base_job,
        train=paths[f"{pre}_train"],
        configs=[
            {"model": c.model, "params": p, "seed": s, "out": str(work / f"final-{cid}-{s}")}
            for cid, p in distinct.items()
            for s in final_seeds
        ],
    )
    if c.task == "topn":
        job.update(users=paths["loo_test_users"], heldout=paths["loo_test_heldout"])
    else:
        job.update(pairs=paths["ratings_test"])
    final = evaluate_job(c, run_job(c, job, work / "final", threads), sp, "test", paths)
    out["final"] = final
    out["test"] = {}
    for p, params in chosen.items():
        rows = [
            r for r in final if "metrics" in r and _cfg_id(_strip(r["params"], params)) == _cfg_id(params)
        ]
        if not rows:
            out["test"][p] = {"error": next((r["error"] for r in final if "error" in r), "no result")}
            continue
        out["test"][p] = aggregate(rows, params)
    out["wall_s"] = time.perf_counter() - t0
    return out


def _strip(effective: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """The requested keys of an effective-settings dict (runners may report more than was asked)."""
    return {k: effective.get(k) for k in requested}


def aggregate(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every metric and of the fit time."""
    keys = [k for k, v in rows[0]["metrics"].items() if isinstance(v, float)]
    agg: dict[str, Any] = {
        "params": params,
        "effective": rows[0].get("effective", rows[0]["params"]),
        "seeds": [r["seed"] for r in rows],
        "n_seeds": len(rows),
    }
    for k in keys:
        vals = np.array([r["metrics"][k] for r in rows])
        agg[k] = float(vals.mean())
        agg[k + "_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    fit = np.array([r["fit_s"] for r in rows])
    agg["fit_s"] = float(fit.mean())
    agg["fit_s_std"] = float(fit.std(ddof=1)) if len(fit) > 1 else 0.0
    agg["versions"] = rows[0].get("versions", {})
    for k in ("n_impossible", "n_pos_unscorable"):
        if k in rows[0]["metrics"]:
            agg[k] = rows[0]["metrics"][k]
    if rows[0].get("epochs"):
        agg["epochs"] = rows[0]["epochs"]
    return agg


# -- machine, report -----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import torch

    import nextwatch

    versions = {"torch": torch.__version__, "numpy": np.__version__, "nextwatch": nextwatch.__version__}
    return host_facts() | versions | {"gpu": torch.cuda.is_available()}


def _fmt(v: Any, std: Any = None, nd: int = 3) -> str:
    if v is None:
        return "–"
    s = f"{v:.{nd}f}"
    if std:
        s += f" ± {std:.{nd}f}"
    return s


def _settings(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"


def _versions(v: dict[str, str]) -> str:
    skip = {"numpy", "torch", "pandas"}
    return ", ".join(f"{k} {x}" for k, x in v.items() if k not in skip)


def _threads_line(report: dict[str, Any]) -> str:
    """Threads per contender process, as each outcome recorded them (outcomes cached before the
    benchmark recorded threads ran with its default then, 1)."""
    by: dict[int, dict[str, None]] = {}  # threads -> contender names, in order, once each
    for d in report["datasets"].values():
        for c in d["contenders"]:
            if not c.get("skip"):
                by.setdefault(int(c.get("threads", 1)), {})[c["name"]] = None
    if len(by) <= 1:
        return f"Every contender ran with {next(iter(by), report['threads'])} thread(s)."
    parts = [f"{t} thread(s): {', '.join(names)}" for t, names in sorted(by.items(), reverse=True)]
    return "Threads per contender process — " + "; ".join(parts) + "."


def _load_line(report: dict[str, Any]) -> str:
    """What the load averages recorded with the contenders' outcomes say about their fit times."""
    cores = report["machine"].get("cores") or 1
    loads = [
        max(c["load_average"]["start"][0], c["load_average"]["end"][0])
        for d in report["datasets"].values()
        for c in d["contenders"]
        if "load_average" in c
    ]
    n = sum(len(d["contenders"]) for d in report["datasets"].values())
    if not loads:
        return (
            "The load average during the contenders' runs was not recorded (outcomes cached before it "
            "was): see benchmarks/README.md for the conditions; compare fit times only between rows with "
            "the same thread count."
        )
    busy = max(loads) > cores
    verdict = (
        "**the cores were oversubscribed at times, so fit times are noisy and only roughly comparable**"
        if busy
        else "fit times are comparable between rows with the same thread count"
    )
    return (
        f"1-minute load average at the start or end of the {len(loads)} of {n} contenders that recorded "
        f"it: {min(loads):.2f}–{max(loads):.2f} on {cores} cores: {verdict}."
    )


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# nextwatch quality benchmark",
        "",
        f"Generated {report['date']} by `python benchmarks/quality.py {' '.join(report['argv'])}` "
        f"({report['wall_s'] / 60:.0f} min in all).",
        "",
    ]
    if "--cached-only" in report["argv"]:
        lines += [
            "This report was assembled (`--cached-only`) from the cached outcomes of several invocations run "
            "side by side, with `--only`, `--seed-list`, `--nw-epochs` and `--recbole-epochs` (see "
            "benchmarks/README.md); each row's settings and seeds say exactly what ran. Rows marked "
            "*not run* did not fit this session's time on the shared machine. The contenders' own wall time, "
            f"summed: {report.get('contenders_wall_s', 0) / 60:.0f} min.",
            "",
        ]
    lines += [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, no GPU; {m['platform']}; Python "
        f"{m['python']}, torch {m['torch']}, numpy {m['numpy']} (main venv). {_threads_line(report)} "
        f"{_load_line(report)}",
        "",
        "Protocol: the splits were computed once (stored with the dataset) and given to every contender as "
        "the same files. Leave-one-out: test = each user's latest interaction, validation = the "
        f"second-to-last; `loo-sampled` ranks the held-out item among the split's {N_NEGATIVES} sampled "
        "items the user never interacted with (the NCF paper's protocol; the same negatives for validation "
        "and test); `loo-full` ranks it against every catalogue item the user has no training interaction "
        "with. `holdout` is a random 10% of the ratings (validation: another random 10%). Hyperparameters "
        "were chosen on the validation part only (sampled NDCG@10 for the sampled table, full NDCG@10 for "
        "the full table, RMSE for ratings; tuning models train on the training part without the validation "
        "interactions), then refitted on training + validation and scored on the test part. Ties count "
        "against the held-out item; items a contender cannot score (NaN) rank last; impossible rating "
        "predictions get the damped item mean. All metrics are computed by one code path: "
        f"{report['metrics_code']}. Splits: {report['splits_code']}.",
        "",
    ]
    for ds_name, ds in report["datasets"].items():
        lines += [
            f"## {ds_name}",
            "",
            f"{ds['n_users']:,} users, {ds['n_items']:,} items ({ds['n_items_rated']:,} with "
            f"interactions), {ds['n_interactions']:,} interactions (dataset fingerprint "
            f"`{ds['fingerprint']}`, split `{ds['split_fingerprint']}`).",
            "",
        ]
        topn = [c for c in ds["contenders"] if c["task"] == "topn"]
        rat = [c for c in ds["contenders"] if c["task"] == "ratings"]
        lines += [
            "### loo-sampled (HR@10 / NDCG@10 among 101 candidates)",
            "",
            "| model | HR@10 | NDCG@10 | fit s | settings (chosen on validation) | seeds |",
            "|---|---|---|---|---|---|",
        ]
        for c in sorted(
            topn, key=lambda c: -(c.get("test", {}).get("sampled", {}).get("sampled_ndcg@10") or -1)
        ):
            lines.append(_row(c, "sampled", ["sampled_hr@10", "sampled_ndcg@10"]))
        lines += [
            "",
            "### loo-full (ranked against all unseen items)",
            "",
            "| model | HR@10 | NDCG@10 | Recall@20 | NDCG@20 | fit s | settings (chosen on validation) "
            "| seeds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in sorted(topn, key=lambda c: -(c.get("test", {}).get("full", {}).get("full_ndcg@10") or -1)):
            lines.append(_row(c, "full", ["full_hr@10", "full_ndcg@10", "full_recall@20", "full_ndcg@20"]))
        lines += [
            "",
            "### holdout-ratings (random 10%)",
            "",
            "| model | RMSE | MAE | fit s | settings (chosen on validation) | seeds |",
            "|---|---|---|---|---|---|",
        ]
        for c in sorted(rat, key=lambda c: c.get("test", {}).get("holdout", {}).get("rmse") or 9):
            lines.append(_row(c, "holdout", ["rmse", "mae"], nd=4))
        speed = ds.get("neumf_speed")
        if speed:
            lines += ["", f"NeuMF training speed (final fits, this run): {speed}"]
        lines.append("")
    lines += ["## Versions", ""]
    for lib, v in report["versions"].items():
        lines.append(f"- {lib}: {v}")
    lines.append("")
    return "\n".join(lines)


def _row(c: dict[str, Any], protocol: str, keys: list[str], nd: int = 3) -> str:
    name = f"**{c['name']}**" if c["ours"] else c["name"]
    cols = len(keys) + 3
    if c.get("skip") or c.get("error") or "error" in c.get("test", {}).get(protocol, {}):
        why = c.get("skip") or c.get("error") or c["test"][protocol]["error"]
        return f"| {name} | " + " | ".join(["–"] * len(keys)) + f" | – | {why} | – |"
    t = c["test"][protocol]
    vals = [_fmt(t.get(k), t.get(k + "_std") if t["n_seeds"] > 1 else None, nd) for k in keys]
    fit = _fmt(t["fit_s"], t["fit_s_std"] if t["n_seeds"] > 1 else None, 1)
    seeds = ",".join(map(str, t["seeds"]))
    del cols
    return f"| {name} | " + " | ".join(vals) + f" | {fit} | {_settings(t['params'])} | {seeds} |"


# -- main ----------------------------------------------------------------------------------------------------


def ingest(name: str, source: Path, work: Path) -> Path:
    out = work / name / "dataset"
    if not (out / "manifest.json").exists():
        cli = VENVS["main"] / "bin" / "nextwatch"
        subprocess.run([str(cli), "ingest", str(source), "--out", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="ml-1m,ml-latest-small")
    ap.add_argument("--seeds", type=int, default=3, help="seeds for nextwatch's models (>= 3 for the table)")
    ap.add_argument(
        "--seed-list",
        default="",
        help="explicit seeds for nextwatch's models (e.g. 1,2): lets "
        "seeds run in parallel processes; --cached-only merges them",
    )
    ap.add_argument("--peer-seeds", type=int, default=1, help="seeds for the peers' final fits")
    ap.add_argument("--quick", action="store_true", help="tiny grids and epochs: a smoke run")
    ap.add_argument("--slow-peers", action="store_true", help="also run cornac's NeuMF (very slow here)")
    ap.add_argument("--only", default="", help="comma-separated substrings of contender names to run")
    ap.add_argument(
        "--recbole-epochs",
        default="",
        help="RecBole NeuMF epoch checkpoints to choose from (default 5,10; one value = no tuning)",
    )
    ap.add_argument(
        "--nw-epochs",
        type=int,
        default=None,
        help="epochs of nextwatch's gradient-descent models (default: their tuned defaults)",
    )
    ap.add_argument("--threads", type=int, default=1, help="threads per contender process")
    ap.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default benchmarks/results; --quick writes to WORK/results-quick)",
    )
    ap.add_argument("--fresh", action="store_true", help="ignore cached contender outcomes")
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="run nothing: build the report from cached outcomes, listing the others as not run",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out_dir = args.out or (args.work / "results-quick" if args.quick else RESULTS)
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": argv or sys.argv[1:],
        "machine": machine(),
        "threads": args.threads,
        "quick": args.quick,
        "split_seed": SPLIT_SEED,
        "datasets": {},
        "versions": {},
    }
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        if name not in DATASETS:
            ap.error(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
        ds_dir = ingest(name, DATASETS[name], args.work)
        ds = load_dataset(ds_dir)
        sp = compute_splits(ds)
        work = args.work / name
        paths = write_split_files(sp, work / "split")
        fp = split_fingerprint(paths, sp)
        report["splits_code"] = (
            f"nextwatch.evaluation.splits.get_split (loo and ratings-holdout, seed "
            f"{SPLIT_SEED}), stored with the dataset"
        )
        report["metrics_code"] = METRICS_CODE
        entry: dict[str, Any] = {
            "n_users": ds.n_users,
            "n_items": ds.n_items,
            "n_items_rated": len(np.unique(ds.interactions.item_idx)),
            "n_interactions": ds.n_interactions,
            "fingerprint": ds.fingerprint,
            "split_fingerprint": fp,
            "split_counts": {"loo": sp.loo.counts(), "ratings-holdout": sp.ratings.counts()},
            "contenders": [],
        }
        report["datasets"][name] = entry
        log.info(
            "%s: %d users, %d items, %d interactions; split %s",
            name,
            ds.n_users,
            ds.n_items,
            ds.n_interactions,
            fp,
        )
        rb_epochs = [int(x) for x in args.recbole_epochs.split(",") if x.strip()] or None
        for c in contenders(args.quick, args.slow_peers, args.nw_epochs, rb_epochs):
            if only and not any(s in c.name.lower() for s in only):
                continue
            if c.skip:
                entry["contenders"].append(
                    {
                        "name": c.name,
                        "library": c.library,
                        "model": c.model,
                        "task": c.task,
                        "ours": c.ours,
                        "skip": c.skip,
                    }
                )
                continue
            seeds = list(range(args.seeds if c.ours else args.peer_seeds))
            if c.ours and args.seed_list:
                seeds = [int(x) for x in args.seed_list.split(",")]
            if c.ours and c.model == "pop":
                seeds = [0]  # deterministic
            # nextwatch's rows run "defaults": the effective settings belong in the key, or a cached
            # outcome of superseded defaults would be reused
            effective = _effective_configs(c) if c.ours else None
            key = hashlib.sha256(
                json.dumps(
                    [fp, c.library, c.model, c.task, c.grid, seeds, args.threads, effective], sort_keys=True
                ).encode()
            ).hexdigest()[:12]
            cache = work / "results" / f"{_slug(c.name)}-{key}.json"
            if cache.exists() and not args.fresh:
                res = json.loads(cache.read_text())
                log.info("%s: cached", c.name)
            elif args.cached_only and (runs := _cached_runs(work / "results", c.name, fp)):
                res = _merge_runs(runs)
                log.info("%s: assembled from cached runs (seeds %s)", c.name, res.get("merged_seeds"))
            elif args.cached_only:
                stale = len(_cached_runs(work / "results", c.name))  # none of them on this split
                res = {
                    "name": c.name,
                    "library": c.library,
                    "model": c.model,
                    "task": c.task,
                    "ours": c.ours,
                    "skip": "not run on this split: out of this run's time budget on the shared machine"
                    + (f" ({stale} cached outcome(s) on an earlier split ignored)" if stale else ""),
                }
            else:
                log.info("%s: tuning %d setting(s), then %d seed(s)", c.name, len(c.grid), len(seeds))
                load_start = load_average()
                cwork = work / "runs" / f"{_slug(c.name)}-{os.getpid()}"  # parallel invocations stay apart
                shutil.rmtree(cwork, ignore_errors=True)
                try:
                    res = run_contender(c, sp, paths, cwork, ds_dir, seeds, args.threads)
                except Exception as e:  # a peer that cannot run is reported with its error
                    res = {
                        "name": c.name,
                        "library": c.library,
                        "model": c.model,
                        "task": c.task,
                        "ours": c.ours,
                        "error": f"{type(e).__name__}: {e}",
                    }
                res["split_fingerprint"] = fp  # what --cached-only checks before pooling it
                res["load_average"] = {"start": load_start, "end": load_average()}
                write_json(cache, res)
                shutil.rmtree(cwork, ignore_errors=True)
            _log_result(res)
            entry["contenders"].append(res)
            for t in res.get("test", {}).values():
                for lib, v in t.get("versions", {}).items():
                    report["versions"][lib] = v
        entry["neumf_speed"] = _neumf_speed(entry)
    report["wall_s"] = time.perf_counter() - t_start
    report["contenders_wall_s"] = sum(
        c.get("wall_s", 0.0) for d in report["datasets"].values() for c in d["contenders"]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "quality.json", report)
    (out_dir / "quality.md").write_text(render_markdown(report), encoding="utf-8")
    log.info("wrote %s and %s", out_dir / "quality.json", out_dir / "quality.md")
    return 0


def _neumf_speed(entry: dict[str, Any]) -> str | None:
    for c in entry["contenders"]:
        if c.get("ours") and c["model"] == "neumf" and c["task"] == "topn":
            ep = c.get("test", {}).get("sampled", {}).get("epochs")
            if ep:
                parts = [
                    f"{stage}: {s['samples_per_s']:,.0f} samples/s, {s['s_per_epoch']:.1f} s/epoch "
                    f"({s['epochs']} epochs)"
                    for stage, s in ep.items()
                    if s.get("samples_per_s")
                ]
                return "; ".join(parts)
    return None


def _effective_configs(c: Contender) -> list[dict[str, Any]]:
    """The full settings each grid entry of one of nextwatch's contenders trains with."""
    from nextwatch.models import create_model

    objective = "implicit" if c.task == "topn" else "explicit"
    return [create_model(c.model, objective, **g).config.to_dict() for g in c.grid]


def _cached_runs(folder: Path, name: str, split_fp: str | None = None) -> list[dict[str, Any]]:
    """Every cached outcome of contender ``name`` in ``folder`` (any flags), newest first; with
    ``split_fp``, only those scored on that split (an outcome from an earlier split, e.g. one with
    other sampled negatives, must never be pooled with or compared to the current ones)."""
    slug = _slug(name)
    found = [p for p in folder.glob(f"{slug}-*.json") if p.stem.rsplit("-", 1)[0] == slug]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    runs = [json.loads(p.read_text()) for p in found]
    return [r for r in runs if split_fp is None or r.get("split_fingerprint") == split_fp]


def _merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One outcome from runs of the same contender and settings with different seeds (run in parallel).

    The newest run's chosen settings decide; the final fits of every run with the same chosen settings
    are pooled by seed and the test aggregates recomputed.
    """
    base = dict(runs[0])
    same = [r for r in runs if r.get("chosen") == base.get("chosen") and "final" in r]
    if not same or "chosen" not in base:
        return base
    by_seed: dict[Any, list[dict[str, Any]]] = {}
    for r in same:
        for row in r["final"]:
            if "metrics" in row:
                by_seed.setdefault((row["seed"], _cfg_id(row["params"])), []).append(row)
    pooled = [rows[0] for rows in by_seed.values()]
    base["final"] = pooled
    base["test"] = {}
    for p, params in base["chosen"].items():
        rows = [r for r in pooled if _cfg_id(_strip(r["params"], params)) == _cfg_id(params)]
        rows.sort(key=lambda r: r["seed"])
        base["test"][p] = aggregate(rows, params) if rows else {"error": "no finished seed"}
    base["merged_seeds"] = sorted({r["seed"] for r in pooled})
    return base


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in s.lower()).strip("-")


def _log_result(res: dict[str, Any]) -> None:
    if res.get("error"):
        log.warning("%s: %s", res["name"], res["error"])
        return
    for p, t in res.get("test", {}).items():
        if "error" in t:
            log.warning("%s [%s]: %s", res["name"], p, t["error"])
            continue
        shown = {
            k: round(v, 4)
            for k, v in t.items()
            if isinstance(v, float) and not k.endswith("_std") and k != "fit_s_std"
        }
        log.info("%s [%s] %s", res["name"], p, shown)


if __name__ == "__main__":
    sys.exit(main())
