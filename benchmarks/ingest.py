"""Ingest benchmark: Netflix Prize-format ratings -> canonical arrays / dataset, against pandas.

Run on demand (not in CI)::

    .venv/bin/python benchmarks/ingest.py                        # 10M ratings, 3 repeats
    .venv/bin/python benchmarks/ingest.py --ratings 100000000    # the full Prize's size (~2.2 GB of text)

Data: ``nextwatch generate netflix`` (:mod:`nextwatch.data.synthetic`) with the Prize's 480,189 customers
and 17,770 movies, Kaggle's layout (``combined_data_1..4.txt`` + ``movie_titles.csv``), seed 0, cached in
``--cache`` (default ``var/bench``, gitignored) and reused while its ``synthetic.json`` matches.

Contenders, each in its own child process, each repeated ``--repeats`` times (median reported). A child
reports its own peak RSS (``VmHWM`` of its address space; ``ru_maxrss`` is not used because Linux carries
a parent's resident size into its children's) and the parent never loads the data itself:

* ``nextwatch load``: :func:`nextwatch.data.sources.load_source` only: text -> dense user/item indices,
  float32 ratings, int64 timestamps, items and users tables (the loader's own time is also recorded,
  without interpreter start-up and imports);
* ``nextwatch ingest``: the whole ``nextwatch ingest PATH --out DIR`` command (the click command run in
  the child, the same code as ``python -m nextwatch``): loading, writing the Parquet dataset and its
  manifest (sha256 of every source and output file) atomically;
* ``pandas``: ``pandas.read_csv`` (C engine) per file, header lines found with the string accessor,
  movie ids forward-filled, dates via ``to_datetime``, dense users via ``factorize(sort=True)``: the same
  arrays, as a careful pandas user would build them. The children's arrays are checksummed and must
  be identical to nextwatch's.

Results: ``benchmarks/results/ingest.json`` (every run; one entry per size, so 10M and 100M figures
live side by side) and ``ingest.md``, with the machine described. The machine may be shared with
other work: the load average before and after each size is recorded with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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


# ------------------------------------------------------------------------------------------- children


def _digest(user: Any, item: Any, rating: Any, ts: Any) -> str:
    """sha256 of the four arrays in canonical dtypes, hashed in slices (no full-size copy, so the
    child's peak RSS is the loader's, not the checksum's)."""
    import numpy as np

    h = hashlib.sha256()
    step = 1 << 22
    for a, dtype in ((user, np.int32), (item, np.int32), (rating, np.float32), (ts, np.int64)):
        for lo in range(0, len(a), step):
            h.update(np.ascontiguousarray(a[lo : lo + step], dtype=dtype))
    return h.hexdigest()


def vm_hwm() -> int:
    """This process's peak resident set (bytes), from /proc/self/status.

    Not ``ru_maxrss`` from ``wait4``: Linux carries a parent's resident size over fork and exec into
    the child's ``ru_maxrss``, so children of a big parent would all look big. ``VmHWM`` belongs to
    the address space the child got at exec, so it is the child's own.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_ingest(path: Path, out_dir: Path) -> dict[str, Any]:
    """The ``nextwatch ingest`` command, run in this process (same code as ``python -m nextwatch``)."""
    from nextwatch.cli import main as cli

    start = time.perf_counter()
    cli(["ingest", str(path), "--out", str(out_dir)], standalone_mode=False)
    seconds = time.perf_counter() - start
    peak = vm_hwm()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    return {"seconds_in_process": seconds, "n": manifest["n_interactions"], "vm_hwm": peak}


def child_digest(out_dir: Path) -> dict[str, Any]:
    from nextwatch.data.store import load_dataset

    i = load_dataset(out_dir).interactions
    return {"n": len(i), "digest": _digest(i.user_idx, i.item_idx, i.rating, i.timestamp)}


def child_load(path: Path) -> dict[str, Any]:
    from nextwatch.data.sources import load_source

    start = time.perf_counter()
    src = load_source(path)
    seconds = time.perf_counter() - start
    peak = vm_hwm()
    inter = src.interactions
    assert inter is not None
    return {
        "seconds_in_process": seconds,
        "n": len(inter),
        "n_users": src.users.height,
        "vm_hwm": peak,
        "digest": _digest(inter.user_idx, inter.item_idx, inter.rating, inter.timestamp),
    }


def child_pandas(path: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    start = time.perf_counter()
    # movie_titles.csv: split at the first two commas (titles hold commas), Latin-1
    ids = []
    for line in (path / "movie_titles.csv").read_text(encoding="latin-1").splitlines():
        if line.strip():
            ids.append(int(line.lstrip('"').split(",", 1)[0]))
    ids_arr = np.sort(np.asarray(ids))
    item_table = np.full(int(ids_arr.max()) + 1, -1, dtype=np.int32)
    item_table[ids_arr] = np.arange(len(ids_arr), dtype=np.int32)
    users, items, ratings, days = [], [], [], []
    files = sorted(path.glob("combined_data_*.txt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    for f in files:
        df = pd.read_csv(
            f, header=None, names=["a", "b", "c"], dtype={"a": str, "b": "float32", "c": str}, engine="c"
        )
        header = df["b"].isna()
        movie = df["a"].where(header).str[:-1].astype("float64").ffill().astype("int32")
        keep = ~header
        users.append(df["a"][keep].astype("int32").to_numpy())
        items.append(item_table[movie[keep].to_numpy()])
        ratings.append(df["b"][keep].to_numpy(dtype=np.float32))
        when = pd.to_datetime(df["c"][keep], format="%Y-%m-%d").to_numpy()
        days.append(when.astype("datetime64[s]").astype(np.int64))
        del df, header, movie, keep
    user_raw = np.concatenate(users)
    del users
    codes, uniques = pd.factorize(user_raw, sort=True)
    item = np.concatenate(items)
    rating = np.concatenate(ratings)
    ts = np.concatenate(days)
    seconds = time.perf_counter() - start
    peak = vm_hwm()
    return {
        "seconds_in_process": seconds,
        "n": len(user_raw),
        "n_users": len(uniques),
        "vm_hwm": peak,
        "digest": _digest(codes, item, rating, ts),
    }


# --------------------------------------------------------------------------------------------- parent


def run_child(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, CPU seconds of that child: user + system, all its threads)."""
    env = {**os.environ, "NEXTWATCH_PROGRESS": "0"}
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{err.read()[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def ensure_data(cache: Path, n_ratings: int, seed: int) -> Path:
    folder = cache / f"netflix-{n_ratings}-seed{seed}"
    marker = folder / "synthetic.json"
    if marker.is_file():
        cfg = json.loads(marker.read_text())["config"]
        if cfg["n_ratings"] == n_ratings and cfg["seed"] == seed and cfg["layout"] == "combined":
            return folder
    shutil.rmtree(folder, ignore_errors=True)
    return generate_netflix(folder, n_ratings, seed)


def machine() -> dict[str, Any]:
    import numpy
    import pandas
    import polars
    import pyarrow

    import nextwatch

    versions = {"numpy": numpy.__version__, "polars": polars.__version__, "pyarrow": pyarrow.__version__}
    return host_facts() | versions | {"pandas": pandas.__version__, "nextwatch": nextwatch.__version__}


def bench_size(n_ratings: int, repeats: int, cache: Path, seed: int, skip_pandas: bool) -> dict[str, Any]:
    data = ensure_data(cache, n_ratings, seed)
    text_bytes = sum(p.stat().st_size for p in data.glob("combined_data_*.txt"))
    here = str(Path(__file__).resolve())
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"nextwatch load": [], "nextwatch ingest": [], "pandas": []}
    digests: dict[str, str] = {}
    contenders = ["nextwatch load", "nextwatch ingest"] + ([] if skip_pandas else ["pandas"])
    for r in range(repeats):
        for name in contenders:
            out_json = cache / f".child-{os.getpid()}.json"
            kind = {"nextwatch load": "load", "nextwatch ingest": "ingest", "pandas": "pandas"}[name]
            out_dir = cache / f"ds-{n_ratings}"
            extra = [str(out_dir)] if kind == "ingest" else []
            wall, cpu = run_child([sys.executable, here, "--child", kind, str(data), str(out_json), *extra])
            info = json.loads(out_json.read_text())
            out_json.unlink()
            rec: dict[str, Any] = {
                "wall_s": wall,
                "cpu_s": cpu,
                "peak_rss_bytes": info["vm_hwm"],
                "n": info["n"],
                "in_process_s": info["seconds_in_process"],
            }
            if kind == "ingest":
                if r == 0:  # checksum the written dataset in another child (not timed)
                    run_child([sys.executable, here, "--child", "digest", str(out_dir), str(out_json)])
                    digests[name] = json.loads(out_json.read_text())["digest"]
                    out_json.unlink()
            else:
                digests[name] = info["digest"]
            assert rec["n"] == n_ratings, (name, rec["n"])
            runs[name].append(rec)
            rate = n_ratings / rec["wall_s"] / 1e6
            gib = rec["peak_rss_bytes"] / 2**30
            print(f"  {n_ratings:>11,} {name:17s} run {r + 1}: {rec['wall_s']:7.2f}s wall, "
                  f"{rate:5.2f}M rows/s, "
                  f"peak RSS {gib:.2f} GiB", flush=True)  # fmt: skip
    load_after = os.getloadavg()
    same = len(set(digests.values())) == 1
    summary = {}
    for name, recs in runs.items():
        if not recs:
            continue
        wall = statistics.median(x["wall_s"] for x in recs)
        entry = {
            "median_wall_s": wall,
            "rows_per_s": n_ratings / wall,
            "median_cpu_s": statistics.median(x["cpu_s"] for x in recs),
            "median_peak_rss_gib": statistics.median(x["peak_rss_bytes"] for x in recs) / 2**30,
            "max_peak_rss_gib": max(x["peak_rss_bytes"] for x in recs) / 2**30,
        }
        if "in_process_s" in recs[0]:
            inp = statistics.median(x["in_process_s"] for x in recs)
            entry |= {"median_in_process_s": inp, "rows_per_s_in_process": n_ratings / inp}
        summary[name] = entry
    if "pandas" in summary:
        for name in ("nextwatch load", "nextwatch ingest"):
            pd_s = summary["pandas"]
            summary[name]["speedup_vs_pandas_wall"] = pd_s["median_wall_s"] / summary[name]["median_wall_s"]
            summary[name]["rss_vs_pandas"] = (
                summary[name]["median_peak_rss_gib"] / pd_s["median_peak_rss_gib"]
            )
    return {
        "n_ratings": n_ratings,
        "n_users_generated": N_USERS,
        "n_items": N_ITEMS,
        "seed": seed,
        "text_bytes": text_bytes,
        "repeats": repeats,
        "arrays_identical": same,
        "digests": digests,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "runs": runs,
        "summary": summary,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
    }


def write_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Ingest benchmark: Netflix Prize text -> canonical arrays",
        "",
        "Generated by `benchmarks/ingest.py` (synthetic Netflix Prize data in Kaggle's combined layout, "
        "480,189 customers, 17,770 movies, seed 0). Each figure is the median of the runs; "
        "each run is its own "
        "child process, which reports its own peak RSS (`VmHWM`). Wall times include interpreter start-up "
        "and imports; *in-process* excludes them; CPU is the child's user + system time (both cores "
        "count), a figure that depends less on other work sharing the machine than wall time does.",
        "",
        f"Machine: {m['cpu']}, {m['cores_usable']} usable cores ({m['cores']} visible), "
        f"{m['ram_gib']} GiB RAM; "
        f"Python {m['python']}, numpy {m['numpy']}, polars {m['polars']}, pyarrow {m['pyarrow']}, "
        f"pandas {m['pandas']}; nextwatch {m['nextwatch']} ({m['git_commit']}).",
        "",
        "| ratings | contender | wall (s) | rows/s (wall) | CPU (s) | in-process (s) | rows/s in-process "
        "| peak RSS (GiB) | vs pandas |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(results["sizes"], key=int):
        size = results["sizes"][key]
        pd_cpu = size["summary"].get("pandas", {}).get("median_cpu_s", 0.0)
        for name, s in size["summary"].items():
            inp = s.get("median_in_process_s")
            vs = s.get("speedup_vs_pandas_wall")
            lines.append(
                f"| {size['n_ratings']:,} | {name} | {s['median_wall_s']:.2f} | "
                f"{s['rows_per_s'] / 1e6:.2f}M | {s['median_cpu_s']:.1f} | "
                + (f"{inp:.2f} | {s['rows_per_s_in_process'] / 1e6:.2f}M | " if inp else "– | – | ")
                + f"{s['median_peak_rss_gib']:.2f} | "
                + (
                    f"{vs:.1f}x faster (wall), {pd_cpu / s['median_cpu_s']:.1f}x less CPU, "
                    f"{s['rss_vs_pandas']:.2f}x the RSS |"
                    if vs
                    else "– |"
                )
            )
    lines += ["", "Conditions per size:", ""]
    for key in sorted(results["sizes"], key=int):
        size = results["sizes"][key]
        lb, la = size["loadavg_before"], size["loadavg_after"]
        lines.append(
            f"- {size['n_ratings']:,} ratings ({size['text_bytes'] / 2**30:.2f} GiB of text), "
            f"{size['repeats']} runs "
            f"each, measured {size['measured_at']}; arrays identical across contenders: "
            f"{'yes' if size['arrays_identical'] else 'NO'}; nextwatch at {size['machine']['git_commit']}; "
            "load average "
            f"before {lb[0]:.1f} / after {la[0]:.1f} "
            "(1-minute; other work shared the machine when it is above 0)."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--skip-pandas", action="store_true", help="only nextwatch (e.g. a quick check)")
    parser.add_argument("--no-save", action="store_true", help="print, do not update benchmarks/results")
    parser.add_argument("--markdown-only", action="store_true", help="rewrite ingest.md from ingest.json")
    parser.add_argument("--child", choices=["load", "ingest", "pandas", "digest"], help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, out = Path(args.child_args[0]), Path(args.child_args[1])
        if args.child == "ingest":
            info = child_ingest(path, Path(args.child_args[2]))
        elif args.child == "digest":
            info = child_digest(path)
        else:
            info = child_load(path) if args.child == "load" else child_pandas(path)
        out.write_text(json.dumps(info))
        return
    if args.markdown_only:
        (RESULTS / "ingest.md").write_text(write_markdown(json.loads((RESULTS / "ingest.json").read_text())))
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    result = bench_size(args.ratings, args.repeats, args.cache, args.seed, args.skip_pandas)
    print(json.dumps(result["summary"], indent=2))
    if args.no_save:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "ingest.json"
    results = json.loads(path.read_text()) if path.is_file() else {"sizes": {}}
    results["machine"] = machine()
    results["sizes"][str(args.ratings)] = result
    path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "ingest.md").write_text(write_markdown(results))
    print(f"wrote {path} and ingest.md")


if __name__ == "__main__":
    main()
