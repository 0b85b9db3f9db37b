"""Scale benchmark: Netflix Prize-sized data end to end: ingest, DDP training throughput, memory,
full-ranking evaluation. Run on demand (not in CI)::

    .venv/bin/python benchmarks/scale.py                              # 10M ratings
    .venv/bin/python benchmarks/scale.py --ratings 100000000 --no-ddp # the full Prize's size

Data: ``nextwatch generate netflix`` (480,189 customers, 17,770 movies, Kaggle's combined layout, seed
0) cached in ``--cache`` (default ``var/bench-scale``, gitignored). An identical generation already in
``var/bench`` (same ``synthetic.json`` config) is hard-linked instead of written again. Free disk is
checked first.

Every measurement runs in its own child process (peak RSS from ``os.wait4`` / ``RUSAGE_SELF``):

* **ingest**: the real ``python -m nextwatch ingest DATA --out DS`` command: rows/s and peak RSS.
* **split**: ``get_split(dataset, "loo")`` computed and stored once (what the first ``nextwatch train``
  of a dataset does); its seconds and peak RSS.
* **train**: each training child prepares exactly what ``nextwatch train`` prepares (dataset, stored
  loo split, training view, the model's FitState, TrainData with every positive's key, NeuMF with the
  tuned default shape, fused Adam) and then runs *bounded epochs* of the real
  :class:`~nextwatch.models.ncf.trainer.EpochTrainer`: the epoch's real shard permutation of all
  positives, negatives sampled per rank, the real batch loop (DDP under torchrun), stopped after
  ``--steps`` optimiser steps. The chunk size is set to what those steps consume, so negative sampling
  costs what it costs per sample in a full epoch. One bounded epoch warms up, the next is measured.
  Modes on the same data and the same *global* batch: one process with 2 torch threads, and
  ``torchrun --standalone --nproc_per_node=2`` (gloo, 1 thread per rank, each rank steps on half the
  global batch). Samples/s of a DDP run = all ranks' samples / the slowest rank's seconds. The modes
  alternate (single, DDP, pair, single, ...) so that a changing machine load hits all alike.
  **pair** is the ceiling any 2-process data-parallel run could reach here: two independent
  single-thread training processes (no DDP, no communication at all), each on half the global batch,
  whose measured epochs start together (a file barrier after the warm-up); its samples/s is both
  processes' samples over the slower one's seconds.
* **memory**: one single-process training child with the trainer's real chunk size (1M positives,
  5M samples), whose peak RSS covers everything a full epoch holds at once (data, split, FitState,
  TrainData, model and Adam state, the epoch permutation, one chunk); the rest of a full epoch only
  repeats chunks of the same size.
* **eval**: ``loo-full`` (full ranking against every unseen item, batched ``score_all``) for a seeded
  random sample of users; the time per 1,000 users is the scoring loop's (from the first ``score_all``
  call to the end), the fixed set-up (training view, seen-items CSR) is reported apart.

Results: ``benchmarks/results/scale.json`` (one entry per size) and ``scale.md``, with the machine and
its load average described.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _host import N_ITEMS, N_USERS, REPO, generate_netflix, host_facts

RESULTS = REPO / "benchmarks" / "results"
#: bytes of disk per rating needed beyond the text: Parquet dataset, split, slack
DISK_PER_RATING = 12
TEXT_PER_RATING = 21


# ------------------------------------------------------------------------------------------- children


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30


def child_split(ds_path: Path) -> dict[str, Any]:
    from nextwatch.data.store import load_dataset
    from nextwatch.evaluation.splits import get_split, read_split

    ds = load_dataset(ds_path)
    stored = read_split(ds_path, "loo")
    t0 = time.perf_counter()
    split = get_split(ds, "loo")
    return {
        "seconds": time.perf_counter() - t0,
        "was_stored": stored is not None and stored.fingerprint == ds.fingerprint,
        "counts": split.counts(),
        "peak_rss_gib": _rss_gib(),
    }


def child_train(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    import nextwatch.models.ncf.trainer as trainer_mod
    from nextwatch.data.store import load_dataset
    from nextwatch.distributed import open_session
    from nextwatch.evaluation.splits import get_split, train_view
    from nextwatch.models import create_model
    from nextwatch.models.base import FitState
    from nextwatch.models.ncf.trainer import EpochTrainer, TrainData

    class BoundedTrainer(EpochTrainer):
        """The real epoch trainer, stopped after ``max_samples`` of this rank's samples."""

        max_samples = 0

        def epoch_chunks(self, epoch: int):  # type: ignore[no-untyped-def]
            left = self.max_samples
            for users, items, targets in super().epoch_chunks(epoch):
                if left <= 0:
                    break
                yield users[:left], items[:left], targets[:left]
                left -= len(users)

    session = open_session("cpu", args.threads)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ds = load_dataset(args.dataset)
    timings["load_dataset_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with session.main_first():
        split = get_split(ds, "loo")
    train = train_view(ds, split, "test")
    timings["split_and_view_s"] = time.perf_counter() - t
    t = time.perf_counter()
    state = FitState.from_dataset(train)  # what Recommender.fit keeps (seen items CSR ...)
    timings["fit_state_s"] = time.perf_counter() - t
    t = time.perf_counter()
    data = TrainData.build(train.interactions, train.n_users, train.n_items, "implicit", None)
    timings["train_data_s"] = time.perf_counter() - t
    parallel = session.fit_options().get("parallel")
    world = session.world_size
    results = []
    for batch in args.batch_size:
        model = create_model(
            "neumf", "implicit", device="cpu", batch_size=batch, epochs=2, optimizer=args.optimizer
        )
        cfg = model.config
        per_rank_batch = -(-batch // world)
        per_pos = 1 + cfg.n_negatives
        samples = args.steps * per_rank_batch
        if not args.real_chunks:  # throughput: a chunk is exactly what the bounded epoch uses
            trainer_mod.CHUNK_POSITIVES = -(-samples // per_pos)
        torch.manual_seed(cfg.seed)
        module = model.build_module(train.n_users, train.n_items)
        trainer = BoundedTrainer(module, cfg, data, device=torch.device("cpu"), parallel=parallel)
        trainer.max_samples = samples
        warm = trainer.train_epoch()
        if args.barrier:  # "pair" mode: both processes start their measured epochs together
            _barrier(Path(args.barrier), f"b{batch}", args.barrier_n)
        stats = trainer.train_epoch()
        session.finish(module)  # under torchrun: the ranks' weight hashes must agree
        results.append(
            {
                "global_batch": batch,
                "per_rank_batch": per_rank_batch,
                "steps": -(-stats.samples // per_rank_batch),
                "rank_samples": stats.samples,
                "rank_seconds": stats.seconds,
                "warmup_seconds": warm.seconds,
                "loss": stats.loss,
                "optimizer": stats.optimizer,
                "embedding_size": cfg.embedding_size,
                "layers": list(cfg.layers),
                "chunk_positives": trainer_mod.CHUNK_POSITIVES,
                "replicas_identical": True if world > 1 else None,
            }
        )
        del trainer, module
    out = {
        "rank": session.rank,
        "world_size": world,
        "threads": session.threads,
        "n_train_positives": len(data),
        "n_users": train.n_users,
        "n_items": train.n_items,
        "fit_state_mib": sum(a.nbytes for a in state.arrays().values()) / 2**20,
        "train_data_mib": sum(
            a.nbytes for a in (data.users, data.items, data.targets, data.keys) if isinstance(a, np.ndarray)
        )
        / 2**20,
        "timings": timings,
        "results": results,
        "peak_rss_gib": _rss_gib(),
    }
    Path(f"{args.out}.rank{session.rank}").write_text(json.dumps(out))
    session.close()


def _barrier(folder: Path, tag: str, n: int, timeout: float = 900.0) -> None:
    """Wait until ``n`` processes have reached this ``tag`` (a file each in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{tag}-{os.getpid()}").touch()
    end = time.monotonic() + timeout
    while len(list(folder.glob(f"{tag}-*"))) < n:
        if time.monotonic() > end:
            raise RuntimeError(f"barrier {tag} in {folder}: the other process never arrived")
        time.sleep(0.005)


class _TimedScorer:
    """Passes scoring through; remembers when the first ``score_all`` call started."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.first_call: float | None = None
        self.calls = 0

    def score(self, users: Any, items: Any) -> Any:
        return self.model.score(users, items)

    def score_all(self, users: Any) -> Any:
        if self.first_call is None:
            self.first_call = time.perf_counter()
        self.calls += 1
        return self.model.score_all(users)


def child_eval(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses

    import numpy as np
    import torch

    from nextwatch.data.store import load_dataset
    from nextwatch.device import configure_threads
    from nextwatch.evaluation.protocols import evaluate_loo_full
    from nextwatch.evaluation.splits import TEST, TRAIN, get_split, train_view
    from nextwatch.models import create_model
    from nextwatch.models.base import FitState

    threads = configure_threads(args.threads)
    ds = load_dataset(args.dataset)
    split = get_split(ds, "loo")
    # keep the test items of a seeded random sample of users; the others' test rows become training
    # rows (that only changes those users' own seen lists, and they are not ranked)
    test_rows = np.flatnonzero(split.part == TEST)
    rng = np.random.default_rng(0)
    keep_users = rng.choice(np.unique(ds.interactions.user_idx[test_rows]), args.eval_users, replace=False)
    part = split.part.copy()
    drop = test_rows[~np.isin(ds.interactions.user_idx[test_rows], keep_users)]
    part[drop] = TRAIN
    sub = dataclasses.replace(split, part=part)
    train = train_view(ds, sub, "test")
    model = create_model("neumf", "implicit", device="cpu")
    model.state = FitState.from_dataset(train)
    torch.manual_seed(0)
    model.module = model.build_module(ds.n_users, ds.n_items).eval()  # type: ignore[attr-defined]
    del train
    scorer = _TimedScorer(model)
    t0 = time.perf_counter()
    result = evaluate_loo_full(scorer, ds, sub, "test")
    end = time.perf_counter()
    assert scorer.first_call is not None
    loop = end - scorer.first_call
    return {
        "users": int(result["n_users"]),
        "threads": threads,
        "setup_s": scorer.first_call - t0,
        "loop_s": loop,
        "s_per_1000_users": loop / result["n_users"] * 1000,
        "score_all_calls": scorer.calls,
        "n_candidates_mean": result["n_candidates_mean"],
        "peak_rss_gib": _rss_gib(),
    }


# --------------------------------------------------------------------------------------------- parent


def run_child(cmd: list[str], env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd``; its wall and CPU seconds and peak RSS (largest single process among it and its
    waited-for descendants), and its stdout."""
    env = {**os.environ, "NEXTWATCH_PROGRESS": "0", **(env_extra or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{stderr[-4000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_gib": usage.ru_maxrss * 1024 / 2**30,
        "stdout": stdout,
    }


def run_children(cmds: list[list[str]]) -> dict[str, Any]:
    """Run ``cmds`` at the same time; the wall seconds until the last ends and the summed CPU."""
    env = {**os.environ, "NEXTWATCH_PROGRESS": "0"}
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        errs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in cmds]
        procs = [
            subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=e, env=env, cwd=REPO)
            for c, e in zip(cmds, errs, strict=True)
        ]
        cpu, rss, failed = 0.0, 0.0, []
        for proc, cmd, err in zip(procs, cmds, errs, strict=True):
            _, status, usage = os.wait4(proc.pid, 0)
            cpu += usage.ru_utime + usage.ru_stime
            rss = max(rss, usage.ru_maxrss * 1024 / 2**30)
            if os.waitstatus_to_exitcode(status) != 0:
                err.seek(0)
                failed.append(f"{' '.join(cmd)}:\n{err.read()[-4000:]}")
    if failed:
        raise RuntimeError("a child failed: " + "\n".join(failed))
    return {"wall_s": time.perf_counter() - start, "cpu_s": cpu, "peak_rss_gib": rss}


def ensure_data(cache: Path, n_ratings: int, seed: int, reuse: list[Path]) -> Path:
    """The generated text for ``n_ratings`` (hard-linked from an identical generation when one exists)."""
    name = f"netflix-{n_ratings}-seed{seed}"
    folder = cache / name
    want = {
        "n_ratings": n_ratings,
        "n_users": N_USERS,
        "n_items": N_ITEMS,
        "seed": seed,
        "layout": "combined",
    }

    def matches(d: Path) -> bool:
        marker = d / "synthetic.json"
        if not marker.is_file():
            return False
        cfg = json.loads(marker.read_text()).get("config", {})
        return all(cfg.get(k) == v for k, v in want.items())

    if matches(folder):
        return folder
    for other in reuse:
        if matches(other / name):
            tmp = cache / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for f in (other / name).iterdir():
                os.link(f, tmp / f.name)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
            print(f"hard-linked the identical generation in {other / name}", flush=True)
            return folder
    free = shutil.disk_usage(cache).free
    need = n_ratings * (TEXT_PER_RATING + DISK_PER_RATING) + 2**30
    if free < need:
        sys.exit(f"not enough free disk in {cache}: {free / 2**30:.1f} GiB free, ~{need / 2**30:.1f} needed")
    shutil.rmtree(folder, ignore_errors=True)
    return generate_netflix(folder, n_ratings, seed)


def machine() -> dict[str, Any]:
    import numpy
    import torch

    import nextwatch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    versions = {"torch": torch.__version__, "numpy": numpy.__version__, "nextwatch": nextwatch.__version__}
    return host_facts() | {"gpu": gpu} | versions


def _train_cmd(
    ddp: bool,
    ds: Path,
    batches: list[int],
    steps: int,
    out: Path,
    real_chunks: bool,
    optimizer: str = "auto",
    threads: int = 2,
) -> list[str]:
    """The training child's command: under torchrun (2 ranks, 1 thread each) or one process with
    ``threads`` torch threads."""
    here = str(Path(__file__).resolve())
    child = ["--child", "train", "--dataset", str(ds), "--steps", str(steps), "--out", str(out)]
    child += ["--optimizer", optimizer]
    child += ["--real-chunks"] if real_chunks else []
    for b in batches:
        child += ["--batch-size", str(b)]
    if ddp:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            here,
            *child,
        ]
    return [sys.executable, here, *child, "--threads", str(threads)]


def _collect_ranks(out: Path, world: int) -> list[dict[str, Any]]:
    ranks = []
    for r in range(world):
        p = Path(f"{out}.rank{r}")
        ranks.append(json.loads(p.read_text()))
        p.unlink()
    return ranks


def bench_training(
    ds: Path, batches: list[int], steps: int, repeats: int, ddp: bool, cache: Path, optimizer: str = "auto"
) -> dict:
    """Alternate single-process, DDP and pair children; per mode and batch, the median samples/s."""
    modes = ["single", "ddp", "pair"] if ddp else ["single"]
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for r, mode in itertools.product(range(repeats), modes):
        out = cache / f".train-{os.getpid()}"
        load = os.getloadavg()[0]
        if mode == "pair":
            barrier = cache / f".barrier-{os.getpid()}-{r}"
            shutil.rmtree(barrier, ignore_errors=True)
            half = [-(-b // 2) for b in batches]
            cmds = []
            for k in range(2):
                cmd = _train_cmd(False, ds, half, steps, Path(f"{out}-{k}"), False, optimizer, threads=1)
                cmds.append([*cmd, "--barrier", str(barrier), "--barrier-n", "2"])
            child = run_children(cmds)
            shutil.rmtree(barrier, ignore_errors=True)
            for k in range(2):
                Path(f"{out}-{k}.rank0").rename(f"{out}.rank{k}")
        else:
            child = run_child(_train_cmd(mode == "ddp", ds, batches, steps, out, False, optimizer))
        ranks = _collect_ranks(out, 1 if mode == "single" else 2)
        per_batch = []
        for i, b in enumerate(batches):
            rows = [rk["results"][i] for rk in ranks]
            samples = sum(x["rank_samples"] for x in rows)
            seconds = max(x["rank_seconds"] for x in rows)
            per_batch.append(
                {
                    "global_batch": b,
                    "samples": samples,
                    "seconds": seconds,
                    "samples_per_s": samples / seconds,
                    "steps": rows[0]["steps"],
                    "per_rank_batch": rows[0]["per_rank_batch"],
                    "loss": rows[0]["loss"],
                    "optimizer": rows[0].get("optimizer"),
                }
            )
            print(f"  {mode:6s} run {r + 1} batch {b:>6}: {samples / seconds:>9,.0f} samples/s "
                  f"({samples:,} samples, {rows[0]['steps']} steps, {seconds:.1f}s), load {load:.1f}",
                  flush=True)  # fmt: skip
        runs[mode].append(
            {
                "wall_s": child["wall_s"],
                "cpu_s": child["cpu_s"],
                "loadavg_before": load,
                "per_rank_peak_rss_gib": [rk["peak_rss_gib"] for rk in ranks],
                "per_rank_threads": [rk["threads"] for rk in ranks],
                "timings_rank0": ranks[0]["timings"],
                "fit_state_mib": ranks[0]["fit_state_mib"],
                "train_data_mib": ranks[0]["train_data_mib"],
                "batches": per_batch,
            }
        )
    return {
        "steps": steps,
        "repeats": repeats,
        "runs": runs,
        "samples_per_s": summarise(runs, batches),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def summarise(runs: dict[str, list[dict[str, Any]]], batches: list[int]) -> dict[str, Any]:
    """Per global batch: the median samples/s of each mode, and DDP over single."""
    summary: dict[str, Any] = {}
    for i, b in enumerate(batches):
        row: dict[str, Any] = {}
        for mode, mode_runs in runs.items():
            if mode_runs:
                row[mode] = statistics.median(run["batches"][i]["samples_per_s"] for run in mode_runs)
        if "ddp" in row and "single" in row:
            row["ddp_over_single"] = row["ddp"] / row["single"]
        if "pair" in row and "single" in row:
            row["pair_over_single"] = row["pair"] / row["single"]
        summary[str(b)] = row
    return summary


def merge_training(earlier: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any] | None:
    """Pool the runs of two training measurements made with the same steps and batches."""
    if not earlier or not new:
        return new or earlier
    batches = [int(b) for b in new["samples_per_s"]]
    if earlier["steps"] != new["steps"] or [int(b) for b in earlier["samples_per_s"]] != batches:
        return new
    runs = {m: earlier["runs"].get(m, []) + new["runs"].get(m, []) for m in new["runs"]}
    return new | {
        "runs": runs,
        "repeats": max(len(r) for r in runs.values()),
        "samples_per_s": summarise(runs, batches),
        "measured_at": f"{earlier.get('measured_at', '?')} and {new['measured_at']}",
    }


def _fingerprint(ds: Path) -> str | None:
    manifest = ds / "manifest.json"
    return json.loads(manifest.read_text()).get("fingerprint") if manifest.is_file() else None


def bench_size(args: argparse.Namespace, n_ratings: int) -> dict[str, Any]:
    cache: Path = args.cache
    data = ensure_data(cache, n_ratings, args.seed, args.reuse)
    ds = cache / f"ds-{n_ratings}"
    here = str(Path(__file__).resolve())
    entry: dict[str, Any] = {
        "n_ratings": n_ratings,
        "text_bytes": sum(p.stat().st_size for p in data.glob("combined_data_*.txt")),
        "loadavg_start": os.getloadavg(),
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if not args.skip_ingest or not (ds / "manifest.json").is_file():
        # ingest into a scratch folder: an identical dataset already in place keeps its stored split
        # (the loo split of 100M ratings takes minutes), a different one is replaced
        scratch = cache / f"ds-{n_ratings}.ingest"
        shutil.rmtree(scratch, ignore_errors=True)
        cmd = [sys.executable, "-m", "nextwatch", "ingest", str(data), "--out", str(scratch), "--json"]
        c = run_child(cmd)
        info = json.loads(c["stdout"].strip().splitlines()[-1])
        if _fingerprint(scratch) == _fingerprint(ds):
            shutil.rmtree(scratch)
        else:
            shutil.rmtree(ds, ignore_errors=True)
            scratch.rename(ds)
        entry["ingest"] = {k: c[k] for k in ("wall_s", "cpu_s", "peak_rss_gib")} | {
            "rows": info["n_interactions"],
            "rows_per_s": info["n_interactions"] / c["wall_s"],
            "loadavg": os.getloadavg(),
            "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        print(f"  ingest: {entry['ingest']['rows_per_s'] / 1e6:.2f}M rows/s, "
              f"peak RSS {c['peak_rss_gib']:.2f} GiB", flush=True)  # fmt: skip
    c = run_child([sys.executable, here, "--child", "split", "--dataset", str(ds)])
    entry["split"] = json.loads(c["stdout"].strip().splitlines()[-1]) | {"wall_s": c["wall_s"]}
    print(f"  split: {entry['split']['seconds']:.1f}s (stored before: {entry['split']['was_stored']}), "
          f"peak RSS {entry['split']['peak_rss_gib']:.2f} GiB", flush=True)  # fmt: skip
    if args.steps > 0:
        # the default optimiser's figures under "training", an explicitly chosen one's beside them
        key = "training" if args.optimizer == "auto" else f"training-{args.optimizer}"
        entry[key] = bench_training(
            ds, args.batch_size, args.steps, args.repeats, not args.no_ddp, cache, args.optimizer
        )
    if args.memory_steps > 0:
        out = cache / f".mem-{os.getpid()}"
        load = os.getloadavg()[0]
        c = run_child(
            _train_cmd(False, ds, [args.batch_size[0]], args.memory_steps, out, True, args.optimizer)
        )
        rk = _collect_ranks(out, 1)[0]
        entry["memory"] = {
            "peak_rss_gib": rk["peak_rss_gib"],
            "child_peak_rss_gib": c["peak_rss_gib"],
            "wall_s": c["wall_s"],
            "loadavg_before": load,
            "timings": rk["timings"],
            "fit_state_mib": rk["fit_state_mib"],
            "train_data_mib": rk["train_data_mib"],
            "n_train_positives": rk["n_train_positives"],
            "result": rk["results"][0],
            "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        r0 = rk["results"][0]
        print(f"  memory: peak RSS {rk['peak_rss_gib']:.2f} GiB; "
              f"{r0['rank_samples'] / r0['rank_seconds']:,.0f} samples/s", flush=True)  # fmt: skip
    if args.eval_users > 0:
        cmd = [sys.executable, here, "--child", "eval", "--dataset", str(ds)]
        cmd += ["--eval-users", str(args.eval_users), "--threads", "2"]
        load = os.getloadavg()[0]
        c = run_child(cmd)
        entry["eval"] = json.loads(c["stdout"].strip().splitlines()[-1]) | {
            "wall_s": c["wall_s"],
            "loadavg_before": load,
            "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        e = entry["eval"]
        print(f"  eval: {e['s_per_1000_users']:.2f}s per 1,000 users (setup {e['setup_s']:.1f}s)", flush=True)
    entry["loadavg_end"] = os.getloadavg()
    entry["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return entry


# ------------------------------------------------------------------------------------------- markdown


def _f(x: float | None, fmt: str = ",.0f") -> str:
    return "–" if x is None else format(x, fmt)


def write_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Scale benchmark: Netflix Prize-sized data end to end",
        "",
        "Generated by `benchmarks/scale.py` (see its docstring for the method). Synthetic Netflix Prize data "
        "(480,189 customers, 17,770 movies, seed 0), NeuMF with the default settings (shape and optimiser "
        "in the tables: `auto` resolves to sparse Adam on the CPU for Netflix-sized tables), 4 negatives per "
        "positive, CPU.",
        "",
        f"Machine: {m['cpu']}, {m['cores_usable']} usable cores, {m['ram_gib']} GiB RAM, "
        f"GPU: {m['gpu'] or 'none (no GPU on this machine: no GPU figures)'}; Python {m['python']}, "
        f"torch {m['torch']}, numpy {m['numpy']}; nextwatch {m['nextwatch']} ({m['git_commit']}).",
        "",
        "## Ingest (`nextwatch ingest`, one child process)",
        "",
        "| ratings | text (GiB) | wall (s) | rows/s | CPU (s) | peak RSS (GiB) | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sizes = [results["sizes"][k] for k in sorted(results["sizes"], key=int)]
    for s in sizes:
        if "ingest" in s:
            i = s["ingest"]
            lines.append(
                f"| {s['n_ratings']:,} | {s['text_bytes'] / 2**30:.2f} | {i['wall_s']:.1f} | "
                f"{i['rows_per_s'] / 1e6:.2f}M | {i['cpu_s']:.1f} | {i['peak_rss_gib']:.2f} | "
                f"{i['loadavg'][0]:.1f} |"
            )
    lines += [
        "",
        "## Training throughput: 1 process (2 threads) vs torchrun 2 processes (gloo, 1 thread each)",
        "",
        "Same data, same global batch (each DDP rank steps on half of it), bounded epochs of the real "
        "trainer (samples/s: median over the repeats; DDP: all ranks' samples / slowest rank's time). "
        "*Ceiling*: two independent 1-thread processes (no DDP, no communication), each on half the "
        "global batch, measured epochs started together: what any 2-process run could reach here.",
        "",
        "| ratings | global batch | optimiser | steps | 1 proc samples/s | 2 procs samples/s | "
        "2 procs / 1 proc | ceiling samples/s | ceiling / 1 proc | repeats | load avg |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, key, t in ((sz, k, sz[k]) for sz in sizes for k in sorted(sz) if k.startswith("training")):
        loads = [r["loadavg_before"] for runs in t["runs"].values() for r in runs]
        opts = {
            str(x["global_batch"]): x.get("optimizer") or "adam (dense)"
            for r in t["runs"].get("single", [])
            for x in r.get("batches", [])
        }
        if key != "training":  # an earlier or an explicitly chosen variant, kept beside the default
            opts = {b: f"{o} ({key.removeprefix('training-').replace('-', ' ')})" for b, o in opts.items()}
        for b, row in t["samples_per_s"].items():
            lines.append(
                f"| {s['n_ratings']:,} | {int(b):,} | {opts.get(str(b), '?')} | {t['steps']} | "
                f"{_f(row.get('single'))} | "
                f"{_f(row.get('ddp'))} | {_f(row.get('ddp_over_single'), '.2f')}x | "
                f"{_f(row.get('pair'))} | {_f(row.get('pair_over_single'), '.2f')}"
                f"{'x' if row.get('pair_over_single') else ''} | {t['repeats']} | "
                f"{min(loads):.0f}-{max(loads):.0f} |"
            )
    lines += [
        "",
        "## Memory of one training epoch (single process, real 1M-positive chunks)",
        "",
        "| ratings | train positives | peak RSS (GiB) | FitState (MiB) | TrainData (MiB) | "
        "set-up (s): load / split+view / FitState / TrainData |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for s in sizes:
        mem = s.get("memory")
        if not mem:
            continue
        tm = mem["timings"]
        lines.append(
            f"| {s['n_ratings']:,} | {mem['n_train_positives']:,} | {mem['peak_rss_gib']:.2f} | "
            f"{mem['fit_state_mib']:,.0f} | {mem['train_data_mib']:,.0f} | "
            f"{tm['load_dataset_s']:.0f} / {tm['split_and_view_s']:.0f} / {tm['fit_state_s']:.0f} / "
            f"{tm['train_data_s']:.0f} |"
        )
    lines += [
        "",
        "## Full-ranking evaluation (`loo-full`, 2 threads)",
        "",
        "| ratings | users ranked | s per 1,000 users | → all 480k users (h) | fixed set-up (s) | "
        "peak RSS (GiB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        e = s.get("eval")
        if not e:
            continue
        lines.append(
            f"| {s['n_ratings']:,} | {e['users']:,} | {e['s_per_1000_users']:.2f} | "
            f"{e['s_per_1000_users'] * 480.189 / 3600:.2f} | {e['setup_s']:.1f} | {e['peak_rss_gib']:.2f} |"
        )
    lines += ["", "## Conditions", ""]
    for s in sizes:
        sp = s["split"]
        lines.append(
            f"- {s['n_ratings']:,} ratings: {s['started_at']} to {s['finished_at']}; load average "
            f"(1-minute) {s['loadavg_start'][0]:.1f} at the start, {s['loadavg_end'][0]:.1f} at the end "
            f"(2 cores: other work shared the machine). loo split: {sp['seconds']:.0f}s "
            f"({'read from disk' if sp['was_stored'] else 'computed and stored'}), peak RSS "
            f"{sp['peak_rss_gib']:.2f} GiB."
        )
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in results["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, action="append", help="sizes (repeatable; default 10M)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "bench-scale")
    parser.add_argument("--reuse", type=Path, action="append", default=None,
                        help="hard-link an identical generation from here (default var/bench)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, action="append", help="global batches (default 1024)")
    parser.add_argument("--steps", type=int, default=30, help="optimiser steps per measured epoch (0: skip)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-ddp", action="store_true", help="single-process training only")
    parser.add_argument(
        "--optimizer",
        default="auto",
        choices=["auto", "adam", "sparse_adam"],
        help="the NeuMF optimiser setting (auto: sparse Adam for Netflix-sized tables on the CPU)",
    )
    parser.add_argument("--memory-steps", type=int, default=20, help="steps of the memory run (0: skip)")
    parser.add_argument("--eval-users", type=int, default=2048, help="users ranked (0: skip)")
    parser.add_argument("--skip-ingest", action="store_true", help="reuse an ingested dataset if present")
    parser.add_argument("--note", action="append", default=[], help="a note for the markdown")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--render", action="store_true", help="only rewrite scale.md from scale.json")
    parser.add_argument("--child", choices=["split", "train", "eval"], help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--real-chunks", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--barrier", help=argparse.SUPPRESS)
    parser.add_argument("--barrier-n", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.batch_size = args.batch_size or [1024]
    if args.child == "split":
        print(json.dumps(child_split(args.dataset)))
        return
    if args.child == "train":
        child_train(args)
        return
    if args.child == "eval":
        print(json.dumps(child_eval(args)))
        return
    args.reuse = args.reuse if args.reuse is not None else [REPO / "var" / "bench"]
    args.cache.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "scale.json"
    results = json.loads(path.read_text()) if path.is_file() else {"sizes": {}}
    if args.render:
        results["notes"] = list(dict.fromkeys([*results.get("notes", []), *args.note]))
        path.write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "scale.md").write_text(write_markdown(results))
        return
    for n in args.ratings or [10_000_000]:
        print(f"{n:,} ratings", flush=True)
        # parts skipped this time (ingest, training, memory, eval) keep their earlier figures
        earlier = results["sizes"].get(str(n), {})
        entry = bench_size(args, n)
        kept = ("ingest", "memory", "eval")
        merged = {**{k: v for k, v in earlier.items() if k in kept or k.startswith("training")}, **entry}
        for key in [k for k in entry if k.startswith("training")]:
            training = merge_training(earlier.get(key), entry.get(key))
            if training:
                merged[key] = training
        results["sizes"][str(n)] = merged
        results["machine"] = machine()
        results["notes"] = list(dict.fromkeys([*results.get("notes", []), *args.note]))
        if not args.no_save:
            RESULTS.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2) + "\n")
            (RESULTS / "scale.md").write_text(write_markdown(results))
            print(f"wrote {path} and scale.md", flush=True)


if __name__ == "__main__":
    main()
