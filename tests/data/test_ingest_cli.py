"""``nextwatch ingest`` end to end: counts, round trip, clean errors, atomicity (failed and killed runs)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nextwatch.cli import main
from nextwatch.data.sources import load_source
from nextwatch.data.store import load_dataset
from nextwatch.data.synthetic import SyntheticConfig, generate_netflix
from nextwatch.errors import InputError

TITLES = b"1,2003,Dinosaur Planet\r\n2,NULL,Rome and Pompeii\r\n3,2002,Lord of the Rings, The\r\n"
RATINGS = "1:\n30,3,2005-09-06\n6,5,2005-05-13\n3:\n6,4,2004-01-01\n1000,1,1999-12-31\n"


def netflix_fixture(root: Path, ratings: str = RATINGS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "movie_titles.csv").write_bytes(TITLES)
    (root / "combined_data_1.txt").write_text(ratings)
    return root


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEXTWATCH_PROGRESS": "0", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "nextwatch", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_ingest_json_prints_the_counts(tmp_path: Path) -> None:
    root = netflix_fixture(tmp_path / "nf")
    result = CliRunner().invoke(main, ["ingest", str(root), "--out", str(tmp_path / "ds"), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output.strip().splitlines()[-1])
    assert (info["n_users"], info["n_items"], info["n_interactions"]) == (3, 3, 4)
    assert info["format"] == "netflix-prize"
    assert info["n_items_with_description"] == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["rating_scale"] == [1.0, 5.0] and manifest["source_variant"] == "combined"


def test_manifest_records_each_file_digest_and_the_fingerprint_built_from_them(tmp_path: Path) -> None:
    root = netflix_fixture(tmp_path / "nf")
    result = CliRunner().invoke(main, ["ingest", str(root), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    ds = tmp_path / "ds"
    manifest = json.loads((ds / "manifest.json").read_text())
    names = ["interactions.parquet", "items.parquet", "users.parquet"]
    digests = {n: hashlib.sha256((ds / n).read_bytes()).hexdigest() for n in names}
    assert manifest["files"] == digests
    h = hashlib.sha256(f"nextwatch-dataset-v{manifest['schema_version']}".encode())
    for n in names:
        h.update(n.encode() + digests[n].encode())
    assert manifest["fingerprint"] == h.hexdigest()[:32] == load_dataset(ds).fingerprint
    sources = {Path(s["path"]).name: s for s in manifest["sources"]}
    for name in ("movie_titles.csv", "combined_data_1.txt"):
        data = (root / name).read_bytes()
        assert sources[name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert sources[name]["bytes"] == len(data)


def test_ingest_ratings_with_a_catalogue_links_by_tmdb_id(tmp_path: Path) -> None:
    ml = tmp_path / "ml"
    ml.mkdir()
    (ml / "movies.csv").write_text(
        'movieId,title,genres\n1,Toy Story (1995),Animation\n2,"American President, The (1995)",Drama\n'
    )
    (ml / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n2,2,3.5,964982704\n")
    (ml / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0112346,9087\n")
    tm = tmp_path / "tmdb_5000_movies.csv"
    tm.write_text(
        "budget,genres,homepage,id,keywords,original_language,original_title,overview,popularity,"
        "production_companies,production_countries,release_date,revenue,runtime,spoken_languages,status,"
        "tagline,title,vote_average,vote_count\n"
        '1,"[]",,862,[],en,Toy Story,"Woody and friends.",1.0,[],[],1995-10-30,0,81,[],Released,,'
        "Toy Story,7.7,5\n"
        '1,"[]",,5,[],en,Four Rooms,"A bellhop.",1.0,[],[],1995-12-09,0,98,[],Released,,Four Rooms,6.5,5\n'
    )
    result = CliRunner().invoke(main, ["ingest", str(ml), str(tm), "--out", str(tmp_path / "ds"), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output.strip().splitlines()[-1])
    assert (info["n_users"], info["n_items"], info["n_interactions"]) == (2, 2, 2)
    assert info["format"] == "movielens+tmdb"
    assert info["n_items_with_description"] == 1
    ds = load_dataset(tmp_path / "ds")
    assert ds.items["description"].to_list() == ["Woody and friends.", None]
    assert ds.items["description_source"].to_list() == ["tmdb:862", None]


def test_round_trip_gives_the_loader_arrays(tmp_path: Path) -> None:
    root = netflix_fixture(tmp_path / "nf")
    src = load_source(root)
    assert CliRunner().invoke(main, ["ingest", str(root), "--out", str(tmp_path / "ds")]).exit_code == 0
    ds = load_dataset(tmp_path / "ds")
    assert src.interactions is not None
    for name in ("user_idx", "item_idx", "rating", "timestamp"):
        got, want = getattr(ds.interactions, name), getattr(src.interactions, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    assert ds.users.equals(src.users)
    assert ds.items.select(src.items.columns).equals(src.items)
    assert ds.rating_scale == (1.0, 5.0)


def test_bad_input_through_the_cli_is_one_clean_message(tmp_path: Path) -> None:
    root = netflix_fixture(tmp_path / "nf", RATINGS.replace("6,4,2004-01-01", "6,9,2004-01-01"))
    proc = run_cli("ingest", str(root), "--out", str(tmp_path / "ds"))
    assert proc.returncode == 2
    assert f"{root / 'combined_data_1.txt'}, line 5" in proc.stderr.replace("\n", "")
    assert "outside the scale 1-5" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "ds").exists()


def test_failed_ingest_leaves_an_existing_dataset_untouched(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    good = netflix_fixture(tmp_path / "good")
    assert CliRunner().invoke(main, ["ingest", str(good), "--out", str(out)]).exit_code == 0
    before = snapshot(out)
    bad = netflix_fixture(tmp_path / "bad", RATINGS + "7,4,2004-0")
    result = CliRunner().invoke(main, ["ingest", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "truncated" in result.output
    assert snapshot(out) == before
    assert load_dataset(out).n_interactions == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ds")] == []


@pytest.fixture(scope="module")
def big_netflix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic Netflix Prize data big enough that ingesting it takes a few seconds."""
    root = tmp_path_factory.mktemp("big") / "netflix"
    generate_netflix(root, SyntheticConfig(n_ratings=2_000_000, n_users=40_000, n_items=400, seed=1))
    return root


def test_killed_ingest_leaves_the_earlier_dataset_intact(tmp_path: Path, big_netflix: Path) -> None:
    out = tmp_path / "ds"
    small = netflix_fixture(tmp_path / "small")
    assert CliRunner().invoke(main, ["ingest", str(small), "--out", str(out)]).exit_code == 0
    before = snapshot(out)
    env = {**os.environ, "NEXTWATCH_PROGRESS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nextwatch", "ingest", str(big_netflix), "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # wait until it is writing the new dataset (its temporary folder exists), then kill it there
    tmp_prefix = f".{out.name}.tmp-"
    deadline = time.monotonic() + 120
    writing = False
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(tmp_prefix) for p in tmp_path.iterdir()):
            writing = True
            break
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert writing
    # (readers finish an interrupted swap first, so the check goes through load_dataset)
    assert load_dataset(out).n_interactions == 4
    assert snapshot(out) == before
    # the next ingest clears the dead run's leftovers and succeeds
    result = run_cli("ingest", str(big_netflix), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["n_interactions"] == 2_000_000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")] == []


def test_loader_errors_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        load_source(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(InputError, match="cannot tell which format"):
        load_source(tmp_path / "notes.txt")


def test_sources_land_in_the_manifest_and_a_failure_hashing_them_keeps_the_old_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nextwatch.data.ingest as ingest_mod

    root = netflix_fixture(tmp_path / "nf")
    out = tmp_path / "ds"
    manifest = ingest_mod.ingest([root], out)
    names = sorted(Path(s["path"]).name for s in manifest["sources"])
    assert names == ["combined_data_1.txt", "movie_titles.csv"]
    before, siblings = snapshot(out), sorted(p.name for p in tmp_path.iterdir())

    def unreadable(path: object) -> dict:
        raise OSError(f"cannot read {path}")

    monkeypatch.setattr(ingest_mod, "source_record", unreadable)
    with pytest.raises(OSError, match="cannot read"):
        ingest_mod.ingest([root], out)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings  # and left no temp folder behind
