"""Session benchmark: simulated new people going through rounds of 5, for four rankers, plus latency.

Run on demand (not in CI)::

    python benchmarks/sessions.py                      # everything: data, model, embeddings, run, results
    python benchmarks/sessions.py --limit 30 --latency-people 10 --no-tune --no-write   # a quick look

What it does (every expensive step is cached under ``--work``, default ``var/bench``, gitignored):

1. **Data.** ``nextwatch ingest`` of the ML-1M half (users 1-2999, ``../shared/data/ml-1m``) with the
   TMDB-5000 and Netflix-titles catalogues linked onto its movies (descriptions where the titles
   match; the other movies are embedded from title, year and genres).
2. **Strangers.** ``--people`` users (seeded) are held out of training entirely (the *report*
   group), and ``--validation`` other users (the *validation* group, for tuning only). The training
   dataset (every other user, same items) is written with :func:`nextwatch.data.store.write_dataset`.
3. **Model.** NeuMF, implicit objective, with nextwatch's default settings, trained with the
   :class:`EpochTrainer`, by default from pretrained GMF and MLP (He et al. 2017; ``--no-pretrain``:
   from scratch); weights cached as ``.npz`` (no pickle) with their config.
4. **Content.** :meth:`ContentModel.load_or_build` on the dataset (real Sentence-BERT, cached).
5. **Sessions.** Each held-out person's *positives* are the movies they rated 4 or 5. Each round the
   ranker shows ``k`` = 5, the person ticks exactly those among their positives, and the next round
   is ranked from all likes and shown movies so far; ``--rounds`` = 10 rounds. The four rankers are
   :class:`HybridRanker` in its four modes over the same parts, on the same people:
   ``popularity`` (most popular unseen), ``content`` (nearest to the taste vector, the seed's step 3),
   ``cf`` (NeuMF with fold-in) and ``hybrid`` (fused, MMR-diversified).
6. **Latency.** One round through the Session API with a real SQLite profile store:
   ``session.feedback(...)`` (store write + taste vector) then ``session.next(5)`` (profile read,
   fold-in, fused ranking), timed per round, p50/p99.

Metrics, per round and in total (means over people):

* **hits**: shown movies the person ticks; **hit rate** = hits / shown;
* **genre coverage**: distinct genres among the movies shown / genres in the catalogue
  (per round: of that round's 5; total: of all movies shown in the 10 rounds);
* **diversity**: intra-list similarity, the mean pairwise cosine of the round's embeddings (lower =
  more diverse); the total is the mean over rounds;
* **reached**: share of people with at least one hit so far.

Writes ``benchmarks/results/sessions.json`` and ``sessions.md``. The CPU may be shared with other work
on this machine, so timings are noisy: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Threads for BLAS / OpenMP / torch: one by default. On this shared 2-core machine two threads made a
#: NeuMF training step 15x slower than one (spinning threads fighting other work), and a serving
#: process answers each request on one thread anyway. Set before numpy is imported.
THREADS = int(os.environ.get("NEXTWATCH_BENCH_THREADS", "1"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from _host import host_facts, load_average, load_note  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SHARED = Path(os.environ.get("NEXTWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))
MODES = ("popularity", "content", "cf", "hybrid")

log = logging.getLogger("sessions")


# ------------------------------------------------------------------------------------------------
# machine


def machine() -> dict[str, Any]:
    import torch

    versions = {"numpy": np.__version__, "torch": torch.__version__}
    return host_facts() | versions | {"gpu": None, "threads": THREADS}


# ------------------------------------------------------------------------------------------------
# data


def ensure_dataset(work: Path) -> Path:
    """The ML-1M half with TMDB and Netflix-titles descriptions linked, ingested once."""
    from nextwatch.data.ingest import ingest

    out = work / "ml1m-desc"
    if (out / "manifest.json").is_file():
        return out
    sources = [
        SHARED / "ml-1m",
        SHARED / "tmdb-5000" / "tmdb_5000_movies.csv",
        SHARED / "netflix_shows" / "netflix_titles.csv",
    ]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        sys.exit(f"shared data missing: {', '.join(missing)} (set NEXTWATCH_SHARED_DATA)")
    log.info("ingesting %s", ", ".join(map(str, sources)))
    ingest(sources, out)
    return out


@dataclass(frozen=True)
class Groups:
    """Raw user ids held out of training: the reported group and the tuning (validation) group."""

    report: tuple[str, ...]
    validation: tuple[str, ...]
    seed: int

    @property
    def held_out(self) -> tuple[str, ...]:
        return self.report + self.validation

    def key(self) -> str:
        return hashlib.sha256(json.dumps([self.report, self.validation]).encode()).hexdigest()[:12]


def hold_out(user_ids: Sequence[str], n_report: int, n_validation: int, seed: int) -> Groups:
    """Two disjoint random groups of users (seeded), drawn from every user of the dataset."""
    ids = np.asarray(sorted(user_ids, key=lambda u: (len(u), u)))
    if n_report + n_validation >= len(ids):
        raise ValueError(f"cannot hold out {n_report + n_validation} of {len(ids)} users")
    perm = np.random.default_rng(seed).permutation(len(ids))
    report = tuple(sorted(ids[perm[:n_report]].tolist(), key=int))
    val = tuple(sorted(ids[perm[n_report : n_report + n_validation]].tolist(), key=int))
    return Groups(report, val, seed)


def training_dataset(ds: Any, groups: Groups, work: Path) -> Any:
    """The dataset without the held-out users (same items, users re-indexed densely), written once."""
    from nextwatch.data.dataset import Interactions, users_frame
    from nextwatch.data.store import load_dataset, read_manifest, write_dataset

    out = work / f"train-{groups.key()}"
    if (out / "manifest.json").is_file():
        mf = read_manifest(out)
        if mf.get("parent_fingerprint") == ds.fingerprint and mf.get("held_out_key") == groups.key():
            return load_dataset(out)
    uidx = ds.user_index()
    held = np.zeros(ds.n_users, dtype=bool)
    held[[uidx[u] for u in groups.held_out]] = True
    keep_users = np.flatnonzero(~held)
    remap = np.full(ds.n_users, -1, dtype=np.int64)
    remap[keep_users] = np.arange(len(keep_users))
    inter = ds.interactions
    mask = ~held[inter.user_idx]
    sub = inter.subset(mask)
    train_inter = Interactions(remap[sub.user_idx], sub.item_idx, sub.rating, sub.timestamp)
    users = users_frame(ds.user_ids()[keep_users])
    write_dataset(
        out,
        train_inter,
        ds.items,
        users,
        source_format=ds.manifest.get("format", "?") + "+held-out",
        sources=ds.manifest.get("sources", []),
        rating_scale=ds.rating_scale,
        extra={
            "parent_fingerprint": ds.fingerprint,
            "held_out_key": groups.key(),
            "held_out_seed": groups.seed,
            "held_out_report": list(groups.report),
            "held_out_validation": list(groups.validation),
        },
    )
    return load_dataset(out)


# ------------------------------------------------------------------------------------------------
# model


def _train_stage(module: Any, cfg: Any, data: Any, stage: int, name: str) -> list[dict[str, Any]]:
    import torch

    from nextwatch.models.ncf.trainer import EpochTrainer

    torch.set_num_threads(THREADS)

    trainer = EpochTrainer(module, cfg, data, device=torch.device("cpu"), stage=stage, stage_name=name)
    for _ in range(cfg.epochs):
        stats = trainer.train_epoch()
        log.info(
            "%s epoch %d/%d: loss %.4f, %.0f samples/s",
            name,
            stats.epoch,
            cfg.epochs,
            stats.loss,
            stats.samples_per_s,
        )
    trainer.finalize()
    return [h.to_dict() for h in trainer.history]


def train_neumf(train_ds: Any, cfg: Any, work: Path) -> tuple[Any, dict[str, Any]]:
    """NeuMF trained on ``train_ds`` (implicit objective), cached as ``.npz`` weights + JSON config."""
    import torch

    from nextwatch.io import atomic_path, read_json, write_json
    from nextwatch.models.ncf.modules import GMF, MLP, NeuMF
    from nextwatch.models.ncf.trainer import TrainData

    key = hashlib.sha256(
        json.dumps({"config": cfg.to_dict(), "dataset": train_ds.fingerprint}, sort_keys=True).encode()
    ).hexdigest()[:12]
    folder = work / "models" / f"neumf-{key}"
    n_users, n_items = train_ds.n_users, train_ds.n_items
    model = NeuMF(n_users, n_items, cfg.embedding_size, cfg.layers)
    if (folder / "weights.npz").is_file() and (folder / "model.json").is_file():
        with np.load(folder / "weights.npz", allow_pickle=False) as z:
            model.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
        model.eval()
        meta = read_json(folder / "model.json")
        log.info("loaded NeuMF from %s", folder)
        return model, meta
    data = TrainData.build(train_ds.interactions, n_users, n_items, cfg.objective, train_ds.rating_scale)
    t0 = time.perf_counter()
    history: list[dict[str, Any]] = []
    if cfg.pretrain:
        torch.manual_seed(cfg.seed)
        gmf = GMF(n_users, n_items, cfg.embedding_size)
        history += _train_stage(gmf, cfg.gmf_config(), data, 1, "gmf")
        torch.manual_seed(cfg.seed + 1)
        mlp = MLP(n_users, n_items, cfg.layers)
        history += _train_stage(mlp, cfg.mlp_config(), data, 2, "mlp")
        torch.manual_seed(cfg.seed + 2)
        model = NeuMF(n_users, n_items, cfg.embedding_size, cfg.layers)
        model.load_pretrained(gmf, mlp, cfg.alpha)
        history += _train_stage(model, cfg, data, 3, "neumf")
    else:
        torch.manual_seed(cfg.seed)
        model = NeuMF(n_users, n_items, cfg.embedding_size, cfg.layers)
        history += _train_stage(model, cfg, data, 0, "neumf")
    model.eval()
    seconds = time.perf_counter() - t0
    meta = {
        "config": cfg.to_dict(),
        "dataset_fingerprint": train_ds.fingerprint,
        "n_users": n_users,
        "n_items": n_items,
        "n_positives": len(data),
        "fit_seconds": round(seconds, 1),
        "history": history,
    }
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "weights.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    write_json(folder / "model.json", meta)
    log.info("trained NeuMF in %.0f s -> %s", seconds, folder)
    return model, meta


# ------------------------------------------------------------------------------------------------
# simulation


@dataclass(frozen=True)
class Person:
    user_id: str
    positives: frozenset[int]


def people_of(ds: Any, user_ids: Sequence[str], threshold: float = 4.0) -> list[Person]:
    """Each user's positives: the items they rated ``threshold`` or more."""
    uidx = ds.user_index()
    inter = ds.interactions
    want = np.array([uidx[u] for u in user_ids])
    mask = np.isin(inter.user_idx, want) & (inter.rating >= threshold)
    users, items = inter.user_idx[mask], inter.item_idx[mask]
    by_user: dict[int, set[int]] = {}
    for u, i in zip(users.tolist(), items.tolist(), strict=True):
        by_user.setdefault(u, set()).add(i)
    return [Person(u, frozenset(by_user.get(uidx[u], set()))) for u in user_ids]


@dataclass
class Catalogue:
    """What the metrics need: unit embeddings and each item's genre ids."""

    vectors: np.ndarray
    genre_ids: list[np.ndarray]
    n_genres: int

    @classmethod
    def of(cls, items: pl.DataFrame, vectors: np.ndarray) -> Catalogue:
        genres = items["genres"].to_list()
        names = sorted({g for gs in genres for g in (gs or [])})
        code = {g: i for i, g in enumerate(names)}
        ids = [np.array([code[g] for g in (gs or [])], dtype=np.int64) for gs in genres]
        return cls(vectors, ids, len(names))

    def n_genres_of(self, items: Sequence[int]) -> int:
        if not len(items):
            return 0
        return len(np.unique(np.concatenate([self.genre_ids[i] for i in items])))


@dataclass
class SessionLog:
    """One simulated person's rounds under one ranker."""

    hits: list[int] = field(default_factory=list)
    genres: list[int] = field(default_factory=list)
    ils: list[float] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)
    rank_ms: list[float] = field(default_factory=list)


def simulate(ranker: Any, person: Person, cat: Catalogue, rounds: int, k: int) -> SessionLog:
    """Rounds of ``k``: the person ticks exactly the shown movies among their positives."""
    from nextwatch.recommend.fusion import intra_list_similarity

    out = SessionLog()
    liked: list[int] = []
    shown: list[int] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        recs = ranker.rank(liked, shown, k)
        out.rank_ms.append((time.perf_counter() - t0) * 1e3)
        items = [r.item_idx for r in recs]
        assert not set(items) & set(shown), "a shown item came back"
        hits = [i for i in items if i in person.positives]
        out.hits.append(len(hits))
        out.genres.append(cat.n_genres_of(items))
        out.ils.append(intra_list_similarity(cat.vectors[items]))
        liked += hits
        shown += items
        out.shown += items
    return out


def summarise(logs: list[SessionLog], cat: Catalogue, rounds: int, k: int) -> dict[str, Any]:
    """Per-round and total metrics (means over people) of one ranker's sessions."""
    hits = np.array([lg.hits for lg in logs], dtype=np.float64)  # [people, rounds]
    genres = np.array([lg.genres for lg in logs], dtype=np.float64)
    ils = np.array([lg.ils for lg in logs], dtype=np.float64)
    reached = (np.cumsum(hits, axis=1) > 0).mean(axis=0)
    n = len(logs)
    per_round = [
        {
            "round": r + 1,
            "hits": int(hits[:, r].sum()),
            "hit_rate": round(float(hits[:, r].mean() / k), 4),
            "genre_coverage": round(float(genres[:, r].mean() / cat.n_genres), 4),
            "diversity_ils": round(float(ils[:, r].mean()), 4),
            "reached": round(float(reached[r]), 4),
        }
        for r in range(rounds)
    ]
    total_cov = np.mean([cat.n_genres_of(lg.shown) / cat.n_genres for lg in logs])
    rank_ms = np.concatenate([lg.rank_ms for lg in logs])
    total = {
        "people": n,
        "hits": int(hits.sum()),
        "hits_per_person": round(float(hits.sum(axis=1).mean()), 3),
        "hit_rate": round(float(hits.sum() / (n * rounds * k)), 4),
        "genre_coverage": round(float(total_cov), 4),
        "diversity_ils": round(float(ils.mean()), 4),
        "people_with_no_hit": int((hits.sum(axis=1) == 0).sum()),
        "rank_ms_p50": round(float(np.percentile(rank_ms, 50)), 3),
    }
    return {"per_round": per_round, "total": total}


def make_rankers(
    popularity: np.ndarray, cf: Any, content: Any, config: Any, modes: Sequence[str] = MODES
) -> dict[str, Any]:
    from nextwatch.recommend.ranker import HybridRanker

    return {
        m: HybridRanker(
            popularity,
            cf=cf,
            vectors=content.vectors,
            index=content.index,
            config=dataclasses.replace(config, mode=m),
        )
        for m in modes
    }


def run_group(
    rankers: dict[str, Any], people: list[Person], cat: Catalogue, rounds: int, k: int
) -> dict[str, Any]:
    """Every ranker on the same people; totals, per-round figures and hybrid-vs-halves differences."""
    from nextwatch.progress import track

    out: dict[str, Any] = {}
    hits: dict[str, np.ndarray] = {}
    for mode, ranker in rankers.items():
        t0 = time.perf_counter()
        logs = [simulate(ranker, p, cat, rounds, k) for p in track(people, f"sessions: {mode}")]
        hits[mode] = np.array([sum(lg.hits) for lg in logs])
        out[mode] = summarise(logs, cat, rounds, k)
        out[mode]["total"]["seconds"] = round(time.perf_counter() - t0, 1)
        t = out[mode]["total"]
        log.info(
            "%-10s hits %5d (rate %.3f), coverage %.3f, ILS %.3f, no hit %d",
            mode,
            t["hits"],
            t["hit_rate"],
            t["genre_coverage"],
            t["diversity_ils"],
            t["people_with_no_hit"],
        )
    result = {"modes": out}
    if "hybrid" in hits:
        result["hybrid_vs"] = {m: paired(hits["hybrid"], hits[m]) for m in hits if m != "hybrid"}
    return result


# ------------------------------------------------------------------------------------------------
# latency through the Session API


def latency(ds: Any, ranker: Any, content: Any, people: list[Person], rounds: int, k: int) -> dict[str, Any]:
    """Per-round wall time of ``feedback`` + ``next`` through :class:`Session` with a SQLite store."""
    from nextwatch.recommend.recommender import Recommender
    from nextwatch.recommend.storage import open_store

    genres = dict(zip(ds.items["item_id"].to_list(), ds.items["genres"].to_list(), strict=True))
    idx_of = ds.item_index()
    round_ms, feedback_ms, next_ms, first_ms, round_cpu_ms = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="nextwatch-bench-") as tmp:
        store = open_store(Path(tmp) / "profiles.sqlite3", item_genres=genres)
        rec = Recommender(ds, ranker, store, content=content)
        try:
            for p in people:
                s = rec.session(f"bench-{p.user_id}")
                t0 = time.perf_counter()
                cards = s.next(k)
                first_ms.append((time.perf_counter() - t0) * 1e3)
                for _ in range(rounds):
                    shown = [c.item_id for c in cards]
                    liked = [c.item_id for c in cards if idx_of[c.item_id] in p.positives]
                    c0, t0 = time.thread_time(), time.perf_counter()
                    s.feedback(liked=liked, shown=shown)
                    t1 = time.perf_counter()
                    cards = s.next(k)
                    t2, c2 = time.perf_counter(), time.thread_time()
                    assert not {c.item_id for c in cards} & set(store.get_profile(s.profile_id).seen)
                    feedback_ms.append((t1 - t0) * 1e3)
                    next_ms.append((t2 - t1) * 1e3)
                    round_ms.append((t2 - t0) * 1e3)
                    round_cpu_ms.append((c2 - c0) * 1e3)
        finally:
            store.close()

    return {
        "people": len(people),
        "round_ms": round_ms,
        "round_cpu_ms": round_cpu_ms,
        "feedback_ms": feedback_ms,
        "next_ms": next_ms,
        "first_round_ms": first_ms,
    }


#: the latency runs: result key and the settings' name
LATENCY_SETTINGS = (
    ("latency", "recommended settings"),
    ("latency_slow_foldin", "recommended settings, fold-in 40 steps at lr 0.05 (the previous default)"),
)
LATENCY_PARTS = ("round_ms", "round_cpu_ms", "feedback_ms", "next_ms", "first_round_ms")


def latency_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Percentiles over the rounds of every repeat pooled, and each repeat's own round p50/p99 (this
    VM's speed drifts between runs, so one repeat's p50 can be off by a third)."""

    def pct(xs: list[float]) -> dict[str, float]:
        a = np.asarray(xs)
        return {
            "p50": round(float(np.percentile(a, 50)), 2),
            "p90": round(float(np.percentile(a, 90)), 2),
            "p99": round(float(np.percentile(a, 99)), 2),
            "max": round(float(a.max()), 2),
        }

    out: dict[str, Any] = {
        "people": runs[0]["people"],
        "repeats": len(runs),
        "rounds_timed": sum(len(r["round_ms"]) for r in runs),
        "targets": {"p50_ms": 10, "p99_ms": 30},
    }
    for part in LATENCY_PARTS:
        out[part] = pct([x for r in runs for x in r[part]])
    out["per_repeat_round_ms"] = [
        {"p50": pct(r["round_ms"])["p50"], "p99": pct(r["round_ms"])["p99"]} for r in runs
    ]
    return out


# ------------------------------------------------------------------------------------------------
# tuning (validation group only)


def ranker_config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def ranker_config_from_dict(data: dict[str, Any]) -> Any:
    from nextwatch.recommend.foldin import FoldInConfig
    from nextwatch.recommend.fusion import FusionSchedule
    from nextwatch.recommend.ranker import RankerConfig

    d = dict(data)
    if "schedule" in d:
        d["schedule"] = FusionSchedule(**d["schedule"])
    if "foldin" in d:
        d["foldin"] = FoldInConfig(**d["foldin"])
    return RankerConfig(**d)


#: Ranker settings recommended as defaults, chosen on the validation group (see :func:`evidence` and
#: the report's tuning section); every other setting keeps its RankerConfig default.
RECOMMENDED: dict[str, Any] = {
    "mmr_lambda": 0.9,
    "schedule": {"cf_min": 0.9, "cf_max": 0.95, "min_likes": 2, "ramp_likes": 10},
    "foldin": {"shown_weight": 0.1},
}


def recommended_config(base: Any) -> Any:
    """``base`` with :data:`RECOMMENDED` applied."""
    d = ranker_config_to_dict(base)
    for key, value in RECOMMENDED.items():
        if isinstance(value, dict):
            d[key] = {**d[key], **value}
        else:
            d[key] = value
    return ranker_config_from_dict(d)


def slow_foldin(cfg: Any) -> Any:
    """``cfg`` with twice the fold-in steps at half the learning rate (the previous default)."""
    fi = cfg.foldin
    slower = dataclasses.replace(fi, steps=2 * fi.steps, learning_rate=fi.learning_rate / 2)
    return dataclasses.replace(cfg, foldin=slower)


def evidence_grid(base: Any, chosen: Any) -> list[tuple[str, str, Any]]:
    """``(name, mode, config)`` rows: the path from the defaults to the chosen settings, one change at
    a time, and the neighbours of the chosen point."""
    from nextwatch.recommend.fusion import FusionSchedule

    rep = dataclasses.replace
    shown01 = rep(base, foldin=rep(base.foldin, shown_weight=0.1))
    sched = FusionSchedule(0.9, 0.95, 2, 10)
    return [
        ("defaults", "cf", base),
        ("defaults", "content", base),
        ("defaults", "hybrid", base),
        ("foldin shown_weight 0.3", "cf", rep(base, foldin=rep(base.foldin, shown_weight=0.3))),
        ("foldin shown_weight 0.1", "cf", shown01),
        ("foldin shown_weight 0.1", "hybrid", shown01),
        ("+ schedule cf 0.9->0.95", "hybrid", rep(shown01, schedule=sched)),
        ("+ mmr_lambda 0.9 = recommended", "hybrid", chosen),
        ("recommended, mmr_lambda 1.0", "hybrid", rep(chosen, mmr_lambda=1.0)),
        ("recommended, fold-in 40 steps at lr 0.05", "hybrid", slow_foldin(chosen)),
        (
            "recommended, schedule cf 0.7->0.9",
            "hybrid",
            rep(chosen, schedule=FusionSchedule(0.7, 0.9, 2, 10)),
        ),
    ]


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Total of ``a - b`` over people with its standard error (``sqrt(n) * sd`` of the per-person
    differences): a difference within about two standard errors is noise."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return {"diff": int(d.sum()), "se": round(float(d.std(ddof=1) * np.sqrt(len(d))), 1)}


def evidence(
    popularity: np.ndarray,
    cf: Any,
    content: Any,
    base: Any,
    chosen: Any,
    people: list[Person],
    cat: Catalogue,
    rounds: int,
    k: int,
) -> dict[str, Any]:
    """Total hits on the validation group for each row of :func:`evidence_grid`."""
    from nextwatch.recommend.ranker import HybridRanker

    rows = []
    per_person: dict[tuple[str, str], np.ndarray] = {}
    for name, mode, cfg in evidence_grid(base, chosen):
        t0 = time.perf_counter()
        r = HybridRanker(
            popularity,
            cf=cf,
            vectors=content.vectors,
            index=content.index,
            config=dataclasses.replace(cfg, mode=mode),
        )
        logs = [simulate(r, p, cat, rounds, k) for p in people]
        hits = np.array([sum(lg.hits) for lg in logs])
        per_person[(name, mode)] = hits
        rows.append(
            {
                "setting": name,
                "mode": mode,
                "hits": int(hits.sum()),
                "diversity_ils": round(float(np.mean([np.mean(lg.ils) for lg in logs])), 4),
                "config": ranker_config_to_dict(cfg),
            }
        )
        log.info("validation %-30s %-7s hits %d (%.0f s)", name, mode, hits.sum(), time.perf_counter() - t0)
    chosen_h = per_person[("+ mmr_lambda 0.9 = recommended", "hybrid")]
    return {
        "people": len(people),
        "rows": rows,
        "chosen_vs_cf": paired(chosen_h, per_person[("foldin shown_weight 0.1", "cf")]),
        "chosen_vs_content": paired(chosen_h, per_person[("defaults", "content")]),
        "chosen_config": ranker_config_to_dict(chosen),
    }


# ------------------------------------------------------------------------------------------------
# report


def _config_line(cfg: dict[str, Any]) -> str:
    sch, fi = cfg["schedule"], cfg["foldin"]
    return (
        f"candidates {cfg['candidates']}, mmr_lambda {cfg['mmr_lambda']}, "
        f"popular_pool {cfg['popular_pool']}; schedule cf {sch['cf_min']}->{sch['cf_max']} "
        f"(min_likes {sch['min_likes']}, ramp {sch['ramp_likes']}); "
        f"fold-in {fi['steps']} steps, lr {fi['learning_rate']}, reg {fi['reg']}, sampled negatives "
        f"{fi['sampled_negatives']} x weight {fi['sampled_weight']}, shown weight {fi['shown_weight']}"
    )


def _group_tables(title: str, block: dict[str, Any], rounds: int) -> list[str]:
    lines = [f"## {title}", "", f"Settings: {_config_line(block['config'])}.", ""]
    lines += [
        "| ranker | hits | hits / person | hit rate | genre coverage | diversity (ILS) "
        "| people with no hit | rank p50 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        t = block["modes"][mode]["total"]
        lines.append(
            f"| {mode} | {t['hits']} | {t['hits_per_person']:.2f} | {t['hit_rate']:.3f} | "
            f"{t['genre_coverage']:.3f} | {t['diversity_ils']:.3f} | {t['people_with_no_hit']} | "
            f"{t['rank_ms_p50']:.1f} |"
        )
    vs = block.get("hybrid_vs", {})
    if vs:
        lines += [
            "",
            "Hybrid minus each other ranker, total hits over the same people (± one standard error of the "
            "paired difference): "
            + "; ".join(f"{m} {d['diff']:+d} ± {d['se']}" for m, d in vs.items())
            + ".",
        ]
    lines += ["", "Per round: hits / hit rate / genre coverage / diversity (ILS).", ""]
    lines += ["| round | " + " | ".join(MODES) + " |", "|---:|" + "---|" * len(MODES)]
    for r in range(rounds):
        cells = []
        for mode in MODES:
            pr = block["modes"][mode]["per_round"][r]
            cells.append(
                f"{pr['hits']} / {pr['hit_rate']:.3f} / {pr['genre_coverage']:.3f} / "
                f"{pr['diversity_ils']:.3f}"
            )
        lines.append(f"| {r + 1} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _latency_table(lat: dict[str, Any], load: Any) -> list[str]:
    lines = [
        f"## Latency of one round through the Session API ({lat['settings_name']})",
        "",
        f"{lat['rounds_timed']} rounds ({lat.get('repeats', 1)} interleaved repeat(s) of "
        f"{lat['people']} people x 10 rounds) with the hybrid ranker and a SQLite profile "
        "store: `session.feedback(liked, shown)` (store write + taste vector) then `session.next(5)` "
        "(profile read, fold-in, fusion, MMR).",
        "",
        "| part | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    names = {
        "round_ms": "round (feedback + next), wall",
        "round_cpu_ms": "round, CPU time of the thread",
        "feedback_ms": "feedback, wall",
        "next_ms": "next, wall",
        "first_round_ms": "first next (no feedback yet), wall",
    }
    for part, name in names.items():
        v = lat[part]
        lines.append(f"| {name} | {v['p50']:.2f} | {v['p90']:.2f} | {v['p99']:.2f} | {v['max']:.2f} |")
    reps = lat.get("per_repeat_round_ms")
    if reps:
        lines += [
            "",
            "Round p50 / p99 of each repeat (ms): "
            + "; ".join(f"{r['p50']:.1f} / {r['p99']:.1f}" for r in reps)
            + ".",
        ]
    return [
        *lines,
        "",
        f"Targets: p50 <= {lat['targets']['p50_ms']} ms, p99 <= {lat['targets']['p99_ms']} ms (on an idle "
        f"2-core machine). Load average at the end of the run: {load}. The CPU-time row is what the round "
        "cost this thread, without the time it waited for a core.",
        "",
    ]


def _beats(d: dict[str, float]) -> str:
    if d["diff"] > 2 * d["se"]:
        return f"wins ({d['diff']:+d} ± {d['se']} hits)"
    if d["diff"] < -2 * d["se"]:
        return f"loses ({d['diff']:+d} ± {d['se']} hits)"
    return f"ties ({d['diff']:+d} ± {d['se']} hits, within two standard errors)"


def _verdict(res: dict[str, Any]) -> list[str]:
    """The two questions the issue asks, answered from the figures."""
    lines = ["## Verdict", ""]
    for key, name in (("report", "RankerConfig defaults"), ("report_recommended", "recommended settings")):
        vs = res.get(key, {}).get("hybrid_vs")
        if vs:
            lines.append(
                f"- Hybrid, {name}: vs CF {_beats(vs['cf'])}; vs content {_beats(vs['content'])}; "
                f"vs popularity {_beats(vs['popularity'])}."
            )
    for key, _name in LATENCY_SETTINGS:
        if key in res:
            lat = res[key]
            rnd, tgt = lat["round_ms"], lat["targets"]
            ok = rnd["p50"] <= tgt["p50_ms"] and rnd["p99"] <= tgt["p99_ms"]
            lines.append(
                f"- Latency ({lat['settings_name']}): round p50 {lat['round_ms']['p50']:.1f} ms, p99 "
                f"{lat['round_ms']['p99']:.1f} ms wall ({'within' if ok else 'outside'} the targets on this "
                f"machine at load {res['loadavg_after']}); CPU time of the round p50 "
                f"{lat['round_cpu_ms']['p50']:.1f} ms, p99 {lat['round_cpu_ms']['p99']:.1f} ms."
            )
    return [*lines, ""]


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    s = res["settings"]
    mc = s["model"]["config"]
    lines = [
        "# Session benchmark: simulated new people, rounds of 5",
        "",
        f"Generated by `{res['command']}` on {res['date']} (nextwatch {res['nextwatch_version']}).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, no GPU; Python {m['python']}, "
        f"numpy {m['numpy']}, torch {m['torch']}, {m['threads']} BLAS/torch thread(s). "
        + load_note(res["loadavg_before"], res["loadavg_after"], m["cores"]),
        f"- Data: ML-1M half (users 1-2999), {s['n_items']} movies, {s['n_items_described']} with a "
        "description linked from TMDB-5000 / Netflix titles (the rest embedded from title, year and genres).",
        f"- Strangers: {s['people']} people held out of training entirely (seed {s['holdout_seed']}); "
        f"{s['validation']} more held out for tuning only. Positives = movies rated >= 4 "
        f"(mean {s['mean_positives']:.1f} per person). {s['rounds']} rounds of {s['k']}; a person ticks "
        "exactly the shown movies among their positives.",
        f"- CF: NeuMF (implicit, {mc['epochs']} epochs, embedding {mc['embedding_size']}, layers "
        f"{mc['layers']}, pretrain {mc['pretrain']}, seed {mc['seed']}) on {s['model']['n_users']} training "
        f"users, fit in {s['model']['fit_seconds']} s (final loss {s['model']['final_loss']:.4f}); new "
        "people are folded in from their likes and shown-not-liked movies.",
        f"- Content: {s['content_model']} embeddings, {s['content_index']} index. Popularity: training "
        "interactions per movie.",
        "",
        "Rankers (HybridRanker modes over the same parts): popularity = most popular unseen; content = "
        "nearest to the taste vector (mean of liked embeddings, the seed's step 3); cf = NeuMF fold-in; "
        "hybrid = both candidate sets, min-max normalised, blended on the schedule, MMR-diversified.",
        "",
    ]
    lines += _verdict(res)
    lines += _group_tables("Reported group, RankerConfig defaults", res["report"], s["rounds"])
    if "report_recommended" in res:
        lines += _group_tables(
            "Reported group, recommended settings (chosen on the validation group)",
            res["report_recommended"],
            s["rounds"],
        )
    for key, _name in LATENCY_SETTINGS:
        if key in res:
            lines += _latency_table(res[key], res["loadavg_after"])
    if "tuning" in res:
        tn = res["tuning"]
        lines += [
            "## Tuning evidence (validation group only)",
            "",
            f"{tn['people']} validation people, disjoint from the reported ones and from training. "
            "Total hits:",
            "",
            "| setting | ranker | hits | diversity (ILS) |",
            "|---|---|---:|---:|",
        ]
        lines += [
            f"| {r['setting']} | {r['mode']} | {r['hits']} | {r['diversity_ils']:.3f} |" for r in tn["rows"]
        ]
        cv, cc = tn["chosen_vs_cf"], tn["chosen_vs_content"]
        lines += [
            "",
            f"Chosen hybrid minus CF with the same fold-in: {cv['diff']:+d} ± {cv['se']}; minus content: "
            f"{cc['diff']:+d} ± {cc['se']}. Chosen: {_config_line(tn['chosen_config'])}.",
            "",
        ]
    lines += [
        "Metrics: hit rate = hits / movies shown; genre coverage = distinct genres shown / "
        f"{s['n_genres']} genres (per round: of the round's 5; total: of all movies shown in the session); "
        "diversity (ILS) = mean pairwise cosine of a round's Sentence-BERT embeddings (lower = more "
        "diverse), averaged over rounds; ± = one standard error of the paired per-person difference.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    ap.add_argument("--people", type=int, default=300, help="held-out people reported")
    ap.add_argument("--validation", type=int, default=200, help="held-out people for tuning only")
    ap.add_argument("--seed", type=int, default=0, help="seed of the held-out draw")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None, help="NeuMF epochs (default: the model's default)")
    ap.add_argument(
        "--no-pretrain",
        dest="pretrain",
        action="store_false",
        help="train NeuMF from scratch instead of from pretrained GMF and MLP (the default)",
    )
    ap.add_argument("--model-seed", type=int, default=0)
    ap.add_argument("--no-tune", action="store_true", help="skip the validation-group evidence")
    ap.add_argument(
        "--ranker-config",
        type=Path,
        help="JSON RankerConfig reported beside the defaults (default: RECOMMENDED)",
    )
    ap.add_argument("--limit", type=int, help="simulate only the first N people of each group (a quick look)")
    ap.add_argument("--latency-people", type=int, default=100)
    ap.add_argument("--latency-repeats", type=int, default=3, help="interleaved repeats of each latency run")
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/results")
    ap.add_argument("--render", action="store_true", help="only rewrite sessions.md from sessions.json")
    args = ap.parse_args(argv)
    if args.render:
        from nextwatch.io import atomic_file, read_json

        text = markdown(read_json(RESULTS / "sessions.json"))
        with atomic_file(RESULTS / "sessions.md", "w", encoding="utf-8") as f:
            f.write(text)
        print(text)
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from nextwatch import __version__
    from nextwatch.content import ContentModel
    from nextwatch.data.store import load_dataset
    from nextwatch.models.config import NeuMFConfig
    from nextwatch.recommend.foldin import FoldInScorer
    from nextwatch.recommend.ranker import RankerConfig

    load_before = load_average()
    args.work.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(ensure_dataset(args.work))
    groups = hold_out(ds.user_ids().tolist(), args.people, args.validation, args.seed)
    train = training_dataset(ds, groups, args.work)
    overrides = {"pretrain": args.pretrain, "seed": args.model_seed}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    # the model `nextwatch train DS` builds by default (tuned on the validation part, see models.config)
    cfg = NeuMFConfig.defaults("implicit", **overrides)
    model, meta = train_neumf(train, cfg, args.work)
    cf = FoldInScorer(model)
    t0 = time.perf_counter()
    content = ContentModel.load_or_build(ds)
    log.info("content model ready in %.1f s (%d x %d)", time.perf_counter() - t0, *content.vectors.shape)
    popularity = np.bincount(train.interactions.item_idx, minlength=ds.n_items).astype(np.float64)
    cat = Catalogue.of(ds.items, content.vectors)
    report = people_of(ds, groups.report)[: args.limit]
    validation = people_of(ds, groups.validation)[: args.limit]
    base = RankerConfig()

    res: dict[str, Any] = {
        "benchmark": "sessions",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nextwatch_version": __version__,
        "command": " ".join(["python benchmarks/sessions.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "loadavg_before": load_before,
        "settings": {
            "dataset_fingerprint": ds.fingerprint,
            "n_items": ds.n_items,
            "n_items_described": int(ds.items["description"].is_not_null().sum()),
            "n_genres": cat.n_genres,
            "people": len(report),
            "validation": len(validation),
            "holdout_seed": args.seed,
            "mean_positives": float(np.mean([len(p.positives) for p in report])),
            "rounds": args.rounds,
            "k": args.k,
            "positive_threshold": 4,
            "model": {k: v for k, v in meta.items() if k != "history"}
            | {"final_loss": meta["history"][-1]["loss"]},
            "content_model": content.store.model,
            "content_index": content.index.kind,
            "ranker_defaults": ranker_config_to_dict(base),
            "report_users": [p.user_id for p in report],
            "ranker_recommended": RECOMMENDED,
        },
    }
    chosen = recommended_config(base)
    if args.ranker_config is not None:
        chosen = ranker_config_from_dict(json.loads(args.ranker_config.read_text()))
    if not args.no_tune:
        log.info("validation group: %d people", len(validation))
        res["tuning"] = evidence(popularity, cf, content, base, chosen, validation, cat, args.rounds, args.k)

    for key, name, rcfg in (
        ("report", "RankerConfig defaults", base),
        ("report_recommended", "recommended settings", chosen),
    ):
        log.info("reported group: %d people, %s", len(report), name)
        res[key] = {
            "settings_name": name,
            "config": ranker_config_to_dict(rcfg),
            **run_group(make_rankers(popularity, cf, content, rcfg), report, cat, args.rounds, args.k),
        }
    latency_runs: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in LATENCY_SETTINGS}
    variants = {"latency": chosen, "latency_slow_foldin": slow_foldin(chosen)}
    for _ in range(args.latency_repeats):  # interleaved, so that a drift of the machine hits both
        for key, _name in LATENCY_SETTINGS:
            hybrid = make_rankers(popularity, cf, content, variants[key], modes=("hybrid",))["hybrid"]
            latency_runs[key].append(
                latency(ds, hybrid, content, report[: args.latency_people], args.rounds, args.k)
            )
    for key, name in LATENCY_SETTINGS:
        res[key] = latency_summary(latency_runs[key]) | {"settings_name": name}
    res["loadavg_after"] = load_average()
    for key, _name in LATENCY_SETTINGS:
        lat = res[key]["round_ms"]
        log.info("%s per round: p50 %.2f ms, p99 %.2f ms", key, lat["p50"], lat["p99"])
    text = markdown(res)
    if not args.no_write:
        from nextwatch.io import atomic_file, write_json

        write_json(RESULTS / "sessions.json", res)
        with atomic_file(RESULTS / "sessions.md", "w", encoding="utf-8") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
