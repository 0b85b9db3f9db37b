"""The quality benchmark's score adapters: scores written by a peer must reach nextwatch's protocols
unchanged, so that every contender is measured by the same code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quality():
    path = REPO / "benchmarks" / "quality.py"
    spec = importlib.util.spec_from_file_location("nextwatch_bench_quality", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_matrix_scorer_rows_follow_given_users(quality) -> None:
    users = np.array([4, 1])  # row 0 is user 4, row 1 is user 1
    scores = np.array([[0.1, 0.2, 0.3], [1.0, 2.0, np.nan]], np.float32)
    s = quality.MatrixScorer(users, scores)
    np.testing.assert_allclose(s.score(np.array([1, 4, 4]), np.array([1, 2, 0])), [2.0, 0.3, 0.1], rtol=1e-6)
    # a user the contender did not score: NaN, never another user's row
    assert np.isnan(s.score(np.array([0, 9]), np.array([0, 0]))).all()
    full = s.score_all(np.array([1, 2]))
    np.testing.assert_array_equal(full[0, :2], [1.0, 2.0])
    assert np.isnan(full[0, 2]) and np.isnan(full[1]).all()


def test_pair_scorer_looks_up_each_pair(quality) -> None:
    s = quality.PairScorer(np.array([2, 0, 2]), np.array([1, 3, 0]), np.array([4.5, 1.0, 3.0]), n_items=5)
    out = s.score(np.array([0, 2, 2, 1]), np.array([3, 0, 1, 1]))
    np.testing.assert_array_equal(out[:3], [1.0, 3.0, 4.5])
    assert np.isnan(out[3])


def test_grid_is_the_cartesian_product(quality) -> None:
    g = quality._grid(a=[1, 2], b=["x"])
    assert g == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_history_summary_per_stage(quality) -> None:
    hist = [
        {"stage": "gmf", "epoch": 1, "loss": 0.5, "samples": 100, "seconds": 2.0},
        {"stage": "gmf", "epoch": 2, "loss": 0.4, "samples": 100, "seconds": 2.0},
        {"stage": "neumf", "epoch": 1, "loss": 0.3, "samples": 300, "seconds": 1.0},
    ]
    s = quality.summarize_history(hist)
    assert s["gmf"]["epochs"] == 2 and s["gmf"]["samples_per_s"] == 50.0 and s["gmf"]["last_loss"] == 0.4
    assert s["neumf"]["s_per_epoch"] == 1.0


def test_cached_only_pools_outcomes_of_the_current_split_only(quality, tmp_path) -> None:
    """An outcome scored on an earlier split (other sampled negatives) is never reused by --cached-only."""
    import json
    import os

    def outcome(key: str, fp: str | None, seed: int, mtime: int) -> None:
        res = {"name": "implicit ALS", "chosen": {"sampled": {"factors": 64}}, "final": [], "seed": seed}
        if fp is not None:
            res["split_fingerprint"] = fp
        path = tmp_path / f"implicit-als-{key}.json"
        path.write_text(json.dumps(res))
        os.utime(path, (mtime, mtime))

    outcome("aaaaaaaaaaaa", None, 0, 100)  # written before outcomes recorded their split
    outcome("bbbbbbbbbbbb", "old-split", 1, 200)
    outcome("cccccccccccc", "current", 2, 150)
    outcome("dddddddddddd", "current", 3, 300)
    outcome("eeeeeeeeeeee", "current", 4, 50)
    (tmp_path / "implicit-bpr-ffffffffffff.json").write_text(json.dumps({"split_fingerprint": "current"}))

    runs = quality._cached_runs(tmp_path, "implicit ALS", "current")
    assert [r["seed"] for r in runs] == [3, 2, 4]  # newest first, the other splits left out
    assert [r["seed"] for r in quality._cached_runs(tmp_path, "implicit ALS")] == [3, 1, 2, 0, 4]
    assert quality._cached_runs(tmp_path, "implicit ALS", "another") == []


def test_load_line_reports_what_the_outcomes_recorded(quality) -> None:
    def report(*loads: tuple[float, float] | None) -> dict:
        contenders = [
            {} if la is None else {"load_average": {"start": [la[0], 0, 0], "end": [la[1], 0, 0]}}
            for la in loads
        ]
        return {"machine": {"cores": 2}, "datasets": {"d": {"contenders": contenders}}}

    quiet = quality._load_line(report((0.5, 1.0), (1.9, 1.2), None))
    assert "2 of 3 contenders" in quiet and "1.00–1.90 on 2 cores" in quiet and "comparable" in quiet
    assert "oversubscribed" not in quiet
    assert "oversubscribed" in quality._load_line(report((0.5, 1.0), (2.1, 1.0)))
    assert "not recorded" in quality._load_line(report(None, None))
