"""Synthetic Netflix Prize generator: layout, determinism, statistics, and the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nextwatch.cli import main
from nextwatch.data.sources import netflix_prize
from nextwatch.data.synthetic import FIRST_DATE, LAST_DATE, RATING_SHARES, SyntheticConfig, generate_netflix

SMALL = SyntheticConfig(n_ratings=60_000, n_users=3_000, n_items=300, seed=7)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in [*sorted(root.rglob("*.txt")), root / "movie_titles.csv"]
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("syn") / "combined"
    generate_netflix(root, SMALL)
    return root


def test_layout_and_exact_count(small: Path) -> None:
    assert sorted(p.name for p in small.iterdir()) == [
        "combined_data_1.txt", "combined_data_2.txt", "combined_data_3.txt", "combined_data_4.txt",
        "movie_titles.csv", "synthetic.json",
    ]  # fmt: skip
    src = netflix_prize.load(small)
    inter = src.interactions
    assert inter is not None and len(inter) == SMALL.n_ratings
    assert src.items.height == SMALL.n_items
    assert json.loads((small / "synthetic.json").read_text())["n_ratings"] == SMALL.n_ratings
    # the titles file has the real one's quirks: CRLF, Latin-1, unquoted commas, NULL years
    raw = (small / "movie_titles.csv").read_bytes()
    assert raw.count(b"\r\n") == SMALL.n_items
    assert b"NULL" in raw or src.items["year"].null_count() == 0
    assert any(t.count(",") for t in src.items["title"].to_list())


def test_statistics_look_like_the_prize(small: Path) -> None:
    src = netflix_prize.load(small)
    inter = src.interactions
    assert inter is not None
    pairs = inter.user_idx.astype(np.int64) * SMALL.n_items + inter.item_idx
    assert len(np.unique(pairs)) == len(pairs)  # each (customer, movie) at most once
    shares = np.bincount(inter.rating.astype(int), minlength=6)[1:] / len(inter)
    assert np.allclose(shares, RATING_SHARES, atol=0.03)
    days = inter.timestamp // 86_400
    first = (FIRST_DATE - FIRST_DATE.__class__(1970, 1, 1)).days
    last = (LAST_DATE - LAST_DATE.__class__(1970, 1, 1)).days
    assert days.min() >= first and days.max() <= last
    assert np.all(inter.timestamp % 86_400 == 0)
    # skewed popularity and activity: the top movie and user far above the median, and the busiest
    # 1% of users hold several times their head-count share (uniform activity would give ~1.5%)
    per_item = np.bincount(inter.item_idx, minlength=SMALL.n_items)
    per_user = np.sort(np.bincount(inter.user_idx))[::-1]
    assert per_item.max() > 10 * np.median(per_item)
    assert per_user[0] > 5 * np.median(per_user)
    assert per_user[: len(per_user) // 100].sum() > 0.04 * len(inter)
    # more recent years hold more ratings (the service grew)
    years = 1970 + days / 365.25
    assert (years >= 2004).mean() > (years < 2002).mean()


def test_same_seed_same_files_other_seed_other_files(small: Path, tmp_path: Path) -> None:
    generate_netflix(tmp_path / "again", SMALL)
    assert digest(tmp_path / "again") == digest(small)
    other = SyntheticConfig(**{**SMALL.__dict__, "seed": 8})
    generate_netflix(tmp_path / "other", other)
    assert digest(tmp_path / "other") != digest(small)


def test_per_movie_layout_holds_the_same_ratings(small: Path, tmp_path: Path) -> None:
    per_movie = SyntheticConfig(**{**SMALL.__dict__, "layout": "per-movie"})
    generate_netflix(tmp_path / "pm", per_movie)
    files = sorted((tmp_path / "pm" / "training_set").glob("mv_*.txt"))
    assert len(files) == SMALL.n_items and files[0].name == "mv_0000001.txt"
    combined = b"".join((small / f"combined_data_{k}.txt").read_bytes() for k in range(1, 5))
    assert b"".join(f.read_bytes() for f in files) == combined


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        SyntheticConfig(n_ratings=101, n_users=10, n_items=10)
    with pytest.raises(ValueError, match="layout"):
        SyntheticConfig(layout="zip")


def test_cli_generate_netflix(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "gen"
    args = ["generate", "netflix", str(out), "--ratings", "5_000", "--users", "400", "--items", "60"]
    result = runner.invoke(main, [*args, "--seed", "1", "--layout", "per-movie", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["n_ratings"] == 5_000
    assert len(list((out / "training_set").glob("mv_*.txt"))) == 60
    too_many = ["--ratings", "5000", "--users", "2", "--items", "3"]
    bad = runner.invoke(main, ["generate", "netflix", str(tmp_path / "x"), *too_many])
    assert bad.exit_code == 2 and "cannot fit" in bad.output and "Traceback" not in bad.output
