"""What the benchmarks share: the host's facts every result file records, and the synthetic Netflix Prize
generation that ingest.py and scale.py both time against."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

#: the Netflix Prize's shape
N_USERS = 480_189
N_ITEMS = 17_770


def _proc_field(path: str, key: str) -> str | None:
    """The value after ``key:`` in a /proc file such as /proc/cpuinfo (None where unreadable)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded: above the core count, timings are pessimistic."""
    return [round(x, 2) for x in os.getloadavg()]


def load_note(before: list[float], after: list[float], cores: int | None) -> str:
    """A sentence on the 1-minute load average around a run, and what it means for its timings."""
    busy = max(before[0], after[0]) > (cores or 1)
    verdict = (
        "the cores were oversubscribed: timings are noisy and pessimistic"
        if busy
        else "the cores were not oversubscribed"
    )
    return f"Load average {before} before, {after} after (1, 5, 15 min) on {cores} cores: {verdict}."


def host_facts() -> dict[str, Any]:
    """CPU model, cores, RAM, Python, platform, the load average now and the repository commit (empty
    outside git): what every benchmark records beside its figures."""
    mem_kib = _proc_field("/proc/meminfo", "MemTotal")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "ram_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "python": platform.python_version(),
        "git_commit": commit,
        "platform": platform.platform(),
        "load_average": load_average(),
    }


def generate_netflix(folder: Path, n_ratings: int, seed: int) -> Path:
    """``nextwatch generate netflix`` (combined layout, the Netflix Prize's shape) into ``folder``."""
    print(f"generating {n_ratings:,} ratings into {folder} ...", flush=True)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nextwatch", "generate", "netflix", str(folder), "--ratings", str(n_ratings),
         "--users", str(N_USERS), "--items", str(N_ITEMS), "--seed", str(seed), "--layout", "combined"],
        check=True, cwd=REPO, env={**os.environ, "NEXTWATCH_PROGRESS": "0"},
    )  # fmt: skip
    print(f"  generated in {time.perf_counter() - start:.0f}s", flush=True)
    return folder
