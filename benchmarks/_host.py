"""What the Netflix-scale benchmarks (ingest.py, scale.py) share: the host's facts and the synthetic
Netflix Prize generation they both time against."""

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


def host_facts() -> dict[str, Any]:
    """CPU model, cores, RAM, Python, platform and the repository commit (empty outside git)."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "ram_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "git_commit": commit,
        "platform": platform.platform(),
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
