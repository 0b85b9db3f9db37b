"""Quality benchmark: nextwatch's models beside the libraries people use instead, on one split.

    python benchmarks/quality.py [--datasets ml-1m,ml-latest-small] [--seeds 3] [--quick]

Runs in the main venv (.venv). For each data set it

1. ingests the shared MovieLens files with ``nextwatch ingest`` (into ``var/bench/<name>/dataset``);
2. computes the splits ONCE (leave-one-out: test = each user's latest interaction, validation = the
   second-to-last, 100 sampled negatives per user for each; ratings: a random 10% test and a random 10%
   of the rest as validation) and writes them as ``.npz`` files that every contender reads;
3. tunes every contender on the VALIDATION split (small grids; the training data for tuning is the
   training split less the validation interactions) and never looks at the test items for it;
4. refits the chosen settings on the whole training split (nextwatch's models over ``--seeds`` seeds,
   peers over one seed unless ``--peer-seeds``) and scores the test users;
5. computes every metric here, in this process, with one code path (:mod:`nextwatch.evaluation` when
   present), from the scores the contenders wrote back;
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
import platform
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

log = logging.getLogger("quality")

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / "benchmarks" / "peers"
RESULTS = REPO / "benchmarks" / "results"
SHARED = Path(os.environ.get("NEXTWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = {"ml-1m": SHARED / "ml-1m", "ml-latest-small": SHARED / "movielens-latest-small"}
VENVS = {"main": REPO / ".venv", "peers": REPO / ".venv-peers", "recbole": REPO / ".venv-recbole"}
SPLIT_SEED = 42
N_NEGATIVES = 100
K_SAMPLED, K_FULL = 10, (10, 20)


# -- contenders -------------------------------------------------------------------------------------------------


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


def contenders(quick: bool, slow_peers: bool) -> list[Contender]:
    """The contenders and their validation grids (``quick``: one tiny setting each, for a smoke run)."""
    q = quick
    ep = [2] if q else None  # nextwatch epochs in --quick
    nw = []
    for model in ("neumf", "gmf", "mlp", "mf"):
        grid: list[dict[str, Any]]
        if q:
            grid = [{"epochs": 2} | ({"pretrain": True, "pretrain_epochs": 1} if model == "neumf" else {})]
        elif model == "neumf":
            # the tuned defaults (pretrained GMF+MLP) and the same without pretraining
            grid = [{"pretrain": True}, {"pretrain": False}]
        else:
            grid = [{}, {"embedding_size": 64}] if model != "mlp" else [{}, {"layers": [128, 64, 32, 16]}]
        nw.append(
            Contender(
                f"nextwatch {model.upper() if model != 'neumf' else 'NeuMF'}",
                "nextwatch",
                model,
                "topn",
                grid,
                venv="main",
                ours=True,
            )
        )
    nw.append(Contender("nextwatch popularity", "nextwatch", "pop", "topn", [{}], venv="main", ours=True))
    for model in ("neumf", "mf"):
        grid = [{"epochs": 2}] if q else [{}, {"embedding_size": 64}]
        nw.append(
            Contender(
                f"nextwatch {'NeuMF' if model == 'neumf' else 'MF'} (explicit)",
                "nextwatch",
                model,
                "ratings",
                grid,
                venv="main",
                ours=True,
            )
        )
    nw.append(
        Contender(
            "nextwatch popularity (explicit)", "nextwatch", "pop", "ratings", [{}], venv="main", ours=True
        )
    )
    del ep

    blas1 = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    peers = [
        Contender(
            "implicit ALS",
            "implicit",
            "als",
            "topn",
            [{"factors": 32, "regularization": 0.1, "alpha": 1.0, "iterations": 5}]
            if q
            else _grid(factors=[64, 128], regularization=[0.01, 0.1], alpha=[1.0, 4.0], iterations=[15]),
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
            else _grid(embedding_size=[50, 100], regularization=[0.1, 1.0], weight=[20.0, 40.0], epochs=[10]),
        ),
        Contender("LensKit popular", "lenskit", "pop", "topn", [{}]),
        Contender(
            "cornac BPR",
            "cornac",
            "bpr",
            "topn",
            [{"k": 16, "max_iter": 5, "learning_rate": 0.01, "lambda_reg": 0.01}]
            if q
            else _grid(k=[64, 128], max_iter=[200], learning_rate=[0.01, 0.05], lambda_reg=[0.01]),
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
                    "epochs": [5, 10, 20],
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
            else _grid(method=["als"], n_epochs=[10], reg_u=[5, 15], reg_i=[5, 10]),
        ),
        Contender(
            "LensKit BiasedMF (ALS)",
            "lenskit",
            "biased_mf",
            "ratings",
            [{"embedding_size": 16, "regularization": 0.1, "epochs": 2}]
            if q
            else _grid(embedding_size=[50, 100], regularization=[0.1, 1.0], epochs=[10]),
        ),
        Contender(
            "cornac MF",
            "cornac",
            "mf",
            "ratings",
            [{"k": 10, "max_iter": 5, "learning_rate": 0.01, "lambda_reg": 0.02}]
            if q
            else _grid(k=[10, 50], max_iter=[50], learning_rate=[0.01], lambda_reg=[0.02, 0.05]),
        ),
    ]
    return nw + peers


# -- splits -------------------------------------------------------------------------------------------------------


@dataclass
class Splits:
    """Everything every contender gets: arrays of dense indices (see :mod:`benchmarks.peers._common`)."""

    n_users: int
    n_items: int
    rating_scale: tuple[float, float]
    universe: np.ndarray  # bool [n_items]: items with at least one interaction (the ranking universe)
    loo: dict[str, Any]  # train, train_tune, valid / test: users, pos, negs
    ratings: dict[str, Any]  # train, train_tune, valid, test (interaction dicts)
    how: str


def _inter(ds: Any, idx: np.ndarray) -> dict[str, np.ndarray]:
    it = ds.interactions
    return {
        "user_idx": it.user_idx[idx],
        "item_idx": it.item_idx[idx],
        "rating": it.rating[idx],
        "timestamp": it.timestamp[idx],
    }


def compute_splits(ds: Any, seed: int = SPLIT_SEED) -> Splits:
    """The split every contender uses, computed once (nextwatch.evaluation's splitters where present)."""
    try:
        from nextwatch.evaluation import splits as nw_splits  # type: ignore[attr-defined]
    except ImportError:
        nw_splits = None
    if nw_splits is not None and hasattr(nw_splits, "benchmark_splits"):
        return nw_splits.benchmark_splits(ds, seed=seed)  # pragma: no cover - depends on C1's module
    return _own_splits(ds, seed)


def _own_splits(ds: Any, seed: int) -> Splits:
    it = ds.interactions
    n = len(it)
    rng = np.random.default_rng(seed)
    # leave-one-out by time: stable order by (user, timestamp, row) so same-second ties keep file order
    order = np.lexsort((np.arange(n), it.timestamp, it.user_idx))
    users_sorted = it.user_idx[order]
    last = np.flatnonzero(np.r_[users_sorted[1:] != users_sorted[:-1], True])
    counts = np.diff(np.r_[-1, last])
    ok = counts >= 3  # a user needs a test, a validation and at least one training interaction
    test_rows = order[last[ok]]
    valid_rows = order[last[ok] - 1]
    held = np.zeros(n, bool)
    held[test_rows] = True
    train_rows = np.flatnonzero(~held)
    held_v = held.copy()
    held_v[valid_rows] = True
    tune_rows = np.flatnonzero(~held_v)
    universe = np.zeros(ds.n_items, bool)
    universe[it.item_idx] = True
    uni_items = np.flatnonzero(universe)
    # negatives: items the user never interacted with (in all the data), uniform over the universe
    seen: dict[int, set[int]] = {}
    for u, i in zip(it.user_idx.tolist(), it.item_idx.tolist(), strict=True):
        seen.setdefault(u, set()).add(i)

    def negatives(users: np.ndarray) -> np.ndarray:
        out = np.empty((len(users), N_NEGATIVES), np.int32)
        for r, u in enumerate(users.tolist()):
            s = seen[u]
            got: list[int] = []
            while len(got) < N_NEGATIVES:
                cand = rng.choice(uni_items, size=2 * N_NEGATIVES, replace=False)
                for c in cand.tolist():
                    if c not in s and c not in got:
                        got.append(c)
                        if len(got) == N_NEGATIVES:
                            break
            out[r] = got
        return out

    test_users = it.user_idx[test_rows].astype(np.int32)
    valid_users = it.user_idx[valid_rows].astype(np.int32)
    loo = {
        "train": _inter(ds, train_rows),
        "train_tune": _inter(ds, tune_rows),
        "test": {
            "users": test_users,
            "pos": it.item_idx[test_rows].astype(np.int32),
            "negs": negatives(test_users),
        },
        "valid": {
            "users": valid_users,
            "pos": it.item_idx[valid_rows].astype(np.int32),
            "negs": negatives(valid_users),
        },
    }
    perm = rng.permutation(n)
    n_test = round(0.1 * n)
    r_test, rest = perm[:n_test], perm[n_test:]
    n_valid = round(0.1 * len(rest))
    r_valid, r_tune = rest[:n_valid], rest[n_valid:]
    ratings = {
        "train": _inter(ds, np.sort(rest)),
        "train_tune": _inter(ds, np.sort(r_tune)),
        "valid": _inter(ds, np.sort(r_valid)),
        "test": _inter(ds, np.sort(r_test)),
    }
    scale = ds.rating_scale or (float(it.rating.min()), float(it.rating.max()))
    return Splits(
        ds.n_users,
        ds.n_items,
        scale,
        universe,
        loo,
        ratings,
        how=f"benchmarks/quality.py own splitter (seed {seed}); nextwatch.evaluation was not importable",
    )


def write_split_files(sp: Splits, folder: Path) -> dict[str, str]:
    """Write the split as .npz files; return name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}

    def save(name: str, arrays: dict[str, np.ndarray]) -> None:
        p = folder / f"{name}.npz"
        tmp = folder / f".{name}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, p)
        paths[name] = str(p)

    for part in ("train", "train_tune"):
        save(f"loo_{part}", sp.loo[part])
    for part in ("valid", "test"):
        d = sp.loo[part]
        save(f"loo_{part}", d)
        np.save(folder / f"loo_{part}_users.npy", d["users"])
        paths[f"loo_{part}_users"] = str(folder / f"loo_{part}_users.npy")
        # held-out positives as an interaction file (RecBole's vocabulary needs them)
        save(
            f"loo_{part}_heldout",
            {
                "user_idx": d["users"],
                "item_idx": d["pos"],
                "rating": np.ones(len(d["users"]), np.float32),
                "timestamp": np.zeros(len(d["users"]), np.int64),
            },
        )
    for part in ("train", "train_tune", "valid", "test"):
        save(f"ratings_{part}", sp.ratings[part])
    return paths


def split_fingerprint(paths: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(paths):
        h.update(name.encode())
        h.update(Path(paths[name]).read_bytes())
    return h.hexdigest()[:16]


# -- metrics (one code path for every contender) ------------------------------------------------------------------


def _clean(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, np.float64)
    return np.where(np.isnan(s), -np.inf, s)


def expected_hit_ndcg(greater: np.ndarray, ties: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """HR@k and NDCG@k of one relevant item per row, in expectation over random tie-breaking.

    With ``g`` candidates scored strictly above the relevant item and ``t`` tied with it, its 0-based
    rank is ``g + U`` with ``U`` uniform on ``0..t``; HR@k = P(rank < k) and NDCG@k = E[1/log2(rank+2);
    rank < k] (one relevant item, so the ideal DCG is 1). Unscorable items (NaN) rank below everything.
    """
    hr = np.zeros(len(greater))
    nd = np.zeros(len(greater))
    for r, (g, t) in enumerate(zip(greater.tolist(), ties.tolist(), strict=True)):
        if g >= k:
            continue
        ranks = np.arange(g, min(g + t, k - 1) + 1)
        hr[r] = len(ranks) / (t + 1)
        nd[r] = float(np.sum(1.0 / np.log2(ranks + 2))) / (t + 1)
    return hr, nd


def rank_counts(
    pos_scores: np.ndarray, cand_scores: np.ndarray, cand_mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: how many candidates score above the positive, and how many tie with it."""
    p = _clean(pos_scores)[:, None]
    c = _clean(cand_scores)
    above = c > p
    tie = c == p
    if cand_mask is not None:
        above &= cand_mask
        tie &= cand_mask
    return above.sum(1), tie.sum(1)


def _metric_fns() -> tuple[Any, str]:
    """nextwatch.evaluation's metric for one relevant item per row if it exists, else ours (same maths)."""
    try:
        from nextwatch.evaluation import metrics as nw_metrics  # type: ignore[attr-defined]
    except ImportError:
        nw_metrics = None
    if nw_metrics is not None and hasattr(nw_metrics, "expected_hit_ndcg"):
        return nw_metrics.expected_hit_ndcg, "nextwatch.evaluation.metrics"  # pragma: no cover
    return expected_hit_ndcg, "benchmarks/quality.py (nextwatch.evaluation.metrics not importable)"


def topn_metrics(
    scores: np.ndarray, part: dict[str, Any], train: dict[str, np.ndarray], universe: np.ndarray
) -> dict[str, float]:
    """Sampled (101 candidates) and full-ranking metrics from a users x items score matrix whose rows
    follow ``part['users']``."""
    fn, _ = _metric_fns()
    users, pos, negs = part["users"], part["pos"], part["negs"]
    rows = np.arange(len(users))
    pos_s = scores[rows, pos]
    # sampled: the positive against its 100 sampled negatives
    g, t = rank_counts(pos_s, scores[rows[:, None], negs])
    hr, nd = fn(g, t, K_SAMPLED)
    out = {"sampled_hr@10": float(hr.mean()), "sampled_ndcg@10": float(nd.mean())}
    # full: against every item in the universe the user has no training interaction with
    mask = np.broadcast_to(universe, scores.shape).copy()
    row_of = np.full(int(users.max()) + 1, -1)
    row_of[users] = rows
    tr_rows = row_of[train["user_idx"]]
    keep = tr_rows >= 0
    mask[tr_rows[keep], train["item_idx"][keep]] = False
    mask[rows, pos] = False
    g, t = rank_counts(pos_s, scores, mask)
    for k in K_FULL:
        hr, nd = fn(g, t, k)
        out[f"full_hr@{k}"] = float(hr.mean())
        out[f"full_ndcg@{k}"] = float(nd.mean())
    out["full_recall@20"] = out.pop("full_hr@20")  # one relevant item: Recall@20 = HR@20
    out["n_users"] = len(users)
    out["n_pos_unscorable"] = int(np.isnan(pos_s).sum())
    return out


def rating_metrics(pred: np.ndarray, part: dict[str, np.ndarray], fill: float) -> dict[str, float]:
    """RMSE and MAE on the original scale; impossible predictions (NaN) get the training mean."""
    bad = np.isnan(pred)
    p = np.where(bad, fill, pred).astype(np.float64)
    err = p - part["rating"].astype(np.float64)
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "n_pairs": len(err),
        "n_impossible": int(bad.sum()),
    }


# -- running contenders ---------------------------------------------------------------------------------------


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
    c: Contender, metas: list[dict[str, Any]], part: dict[str, Any], train: dict[str, np.ndarray], sp: Splits
) -> list[dict[str, Any]]:
    """Metrics for every result of every config; the score files are deleted once read."""
    rows = []
    fill = float(np.mean(train["rating"]))
    for meta in metas:
        if meta.get("error"):
            rows.append({"error": meta["error"], "seed": meta.get("seed")})
        for res in meta.get("results", []):
            values = np.load(res["file"], allow_pickle=False)
            Path(res["file"]).unlink(missing_ok=True)
            if c.task == "topn":
                m = topn_metrics(values, part, train, sp.universe)
            else:
                m = rating_metrics(values, part, fill)
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
        "name": c.name,
        "library": c.library,
        "model": c.model,
        "task": c.task,
        "ours": c.ours,
    }
    t0 = time.perf_counter()
    # 1. tuning: fit on train_tune, score the validation part
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
    valid_part = sp.loo["valid"] if c.task == "topn" else sp.ratings["valid"]
    tune_train = sp.loo["train_tune"] if c.task == "topn" else sp.ratings["train_tune"]
    tuning = evaluate_job(c, run_job(c, job, work / "tune", threads), valid_part, tune_train, sp)
    out["tuning"] = tuning
    good = [r for r in tuning if "metrics" in r]
    if not good:
        out["error"] = next((r["error"] for r in tuning if "error" in r), "no result")
        out["wall_s"] = time.perf_counter() - t0
        return out
    protocols = ["sampled", "full"] if c.task == "topn" else ["holdout"]
    chosen = {p: max(good, key=lambda r, p=p: _key(r, c.task, p))["params"] for p in protocols}
    out["chosen"] = chosen
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
    test_part = sp.loo["test"] if c.task == "topn" else sp.ratings["test"]
    train = sp.loo["train"] if c.task == "topn" else sp.ratings["train"]
    final = evaluate_job(c, run_job(c, job, work / "final", threads), test_part, train, sp)
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


# -- machine, report -------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    import torch

    import nextwatch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "nextwatch": nextwatch.__version__,
        "gpu": torch.cuda.is_available(),
        "load_average_at_start": load,
    }


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


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# nextwatch quality benchmark",
        "",
        f"Generated {report['date']} by `python benchmarks/quality.py {' '.join(report['argv'])}` "
        f"({report['wall_s'] / 60:.0f} min in all).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, no GPU; {m['os']}; Python "
        f"{m['python']}, torch {m['torch']}, numpy {m['numpy']} (main venv). Every contender ran with "
        f"{report['threads']} thread(s). **The machine was shared with other work during the run "
        f"(load average {m['load_average_at_start']} at the start), so fit times are noisy and only "
        "roughly comparable.**",
        "",
        "Protocol: the splits were computed once and given to every contender as the same files. "
        "Leave-one-out: test = each user's latest interaction, validation = the second-to-last; "
        f"`loo-sampled` ranks the held-out item among {N_NEGATIVES} sampled items the user never interacted "
        "with (the NCF paper's protocol); `loo-full` ranks it among every item (with at least one "
        "interaction in the data) the user has no training interaction with. `holdout` is a random 10% of "
        "the ratings (validation: a random 10% of the rest). Hyperparameters were chosen on the validation "
        "part only (sampled NDCG@10 for the sampled table, full NDCG@10 for the full table, RMSE for "
        "ratings), then refitted on the whole training part. Ties are broken at random in expectation; "
        "items a contender cannot score rank last. All metrics are computed by one code path: "
        f"{report['metrics_code']}. Splits: {report['splits_code']}.",
        "",
    ]
    for ds_name, ds in report["datasets"].items():
        lines += [
            f"## {ds_name}",
            "",
            f"{ds['n_users']:,} users, {ds['n_items_universe']:,} items with "
            f"interactions, {ds['n_interactions']:,} interactions (dataset fingerprint "
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
            "| model | HR@10 | NDCG@10 | Recall@20 | NDCG@20 | fit s | settings (chosen on validation) | seeds |",
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


# -- main ---------------------------------------------------------------------------------------------------------


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
    ap.add_argument("--peer-seeds", type=int, default=1, help="seeds for the peers' final fits")
    ap.add_argument("--quick", action="store_true", help="tiny grids and epochs: a smoke run")
    ap.add_argument("--slow-peers", action="store_true", help="also run cornac's NeuMF (very slow here)")
    ap.add_argument("--only", default="", help="comma-separated substrings of contender names to run")
    ap.add_argument("--threads", type=int, default=1, help="threads per contender process")
    ap.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default benchmarks/results; --quick writes to WORK/results-quick)",
    )
    ap.add_argument("--fresh", action="store_true", help="ignore cached contender outcomes")
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
        fp = split_fingerprint(paths)
        report["splits_code"] = sp.how
        report["metrics_code"] = _metric_fns()[1]
        entry: dict[str, Any] = {
            "n_users": ds.n_users,
            "n_items": ds.n_items,
            "n_items_universe": int(sp.universe.sum()),
            "n_interactions": ds.n_interactions,
            "fingerprint": ds.fingerprint,
            "split_fingerprint": fp,
            "n_test_users": len(sp.loo["test"]["users"]),
            "n_rating_test": len(sp.ratings["test"]["rating"]),
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
        for c in contenders(args.quick, args.slow_peers):
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
            if c.ours and c.model == "pop":
                seeds = [0]  # deterministic
            key = hashlib.sha256(
                json.dumps(
                    [fp, c.library, c.model, c.task, c.grid, seeds, args.threads], sort_keys=True
                ).encode()
            ).hexdigest()[:12]
            cache = work / "results" / f"{_slug(c.name)}-{key}.json"
            if cache.exists() and not args.fresh:
                res = json.loads(cache.read_text())
                log.info("%s: cached", c.name)
            else:
                log.info("%s: tuning %d setting(s), then %d seed(s)", c.name, len(c.grid), len(seeds))
                cwork = work / "runs" / _slug(c.name)
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
                write_json(cache, res)
                shutil.rmtree(cwork, ignore_errors=True)
            _log_result(res)
            entry["contenders"].append(res)
            for t in res.get("test", {}).values():
                for lib, v in t.get("versions", {}).items():
                    report["versions"][lib] = v
        entry["neumf_speed"] = _neumf_speed(entry)
    report["wall_s"] = time.perf_counter() - t_start
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
