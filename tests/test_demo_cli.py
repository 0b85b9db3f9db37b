"""``nextwatch demo``: finds the sample, ingests it once, reuses the dataset while the sample is unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nextwatch.cli import main
from nextwatch.cli.demo import SAMPLE_ENV, SAMPLE_SOURCES, default_sample_dir
from nextwatch.io import sha256_file

RATINGS = """userId,movieId,rating,timestamp
1,1,4.0,964982703
1,2,3.5,964981247
2,1,5.0,964982224
2,3,2.0,964983815
3,2,4.5,964982931
3,4,1.0,964982400
"""
MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children
2,"Matrix, The (1999)",Action|Sci-Fi
3,"Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",Comedy|Romance
4,Nowhere To Be Found (1990),Drama
"""
LINKS = """movieId,imdbId,tmdbId
1,0114709,862
2,0133093,603
3,0211915,194
4,0099999,
"""
NETFLIX = (
    "show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description\n"
    's1,Movie,The Matrix,,,,"May 1, 2021",1999,R,136 min,Sci-Fi & Fantasy,"A hacker learns the truth."\n'
    's2,Movie,Amelie,,,,"June 1, 2020",2001,R,122 min,"Comedies, Dramas","A shy waitress helps others."\n'
    's3,TV Show,Toy Story Tales,,,,"June 1, 2020",2019,TV-Y,1 Season,Kids\' TV,"Not the film."\n'
)


def _write_sample(root: Path) -> Path:
    ml = root / SAMPLE_SOURCES[0]
    ml.mkdir(parents=True)
    (ml / "ratings.csv").write_text(RATINGS, encoding="utf-8")
    (ml / "movies.csv").write_text(MOVIES, encoding="utf-8")
    (ml / "links.csv").write_text(LINKS, encoding="utf-8")
    cat = root / SAMPLE_SOURCES[1]
    cat.parent.mkdir(parents=True, exist_ok=True)
    cat.write_text(NETFLIX, encoding="utf-8")
    return root


def _run(args: list[str], sample: Path | None) -> Any:
    env = {SAMPLE_ENV: str(sample)} if sample is not None else {}
    return CliRunner().invoke(
        main, ["demo", "--stop-after", "dataset", *args], env=env, catch_exceptions=False
    )


def _json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_first_run_ingests_second_reuses(tmp_path: Path) -> None:
    sample = _write_sample(tmp_path / "sample")
    work = tmp_path / "work"
    first = _json(_run(["--workdir", str(work), "--json"], sample))
    manifest = work / "dataset" / "manifest.json"
    assert first["reused"] is False and manifest.is_file()
    assert (first["n_users"], first["n_items"], first["n_interactions"]) == (3, 4, 6)
    # The Matrix and Amélie get Netflix descriptions; Toy Story has none ("Toy Story Tales" is another title)
    assert first["n_items_with_description"] == 2
    assert first["linking"][0]["n_matched"] == 2
    assert ["Comedy", 1] in first["top_genres"]
    stamp = manifest.stat().st_mtime_ns

    second = _json(_run(["--workdir", str(work), "--json"], sample))
    assert second["reused"] is True
    assert second["fingerprint"] == first["fingerprint"]
    assert manifest.stat().st_mtime_ns == stamp  # not rewritten

    forced = _json(_run(["--workdir", str(work), "--json", "--force"], sample))
    assert forced["reused"] is False and manifest.stat().st_mtime_ns != stamp


def test_changed_sample_is_ingested_again(tmp_path: Path) -> None:
    sample = _write_sample(tmp_path / "sample")
    work = tmp_path / "work"
    first = _json(_run(["--workdir", str(work), "--json"], sample))
    with open(sample / SAMPLE_SOURCES[0] / "ratings.csv", "a", encoding="utf-8") as f:
        f.write("3,1,3.0,964990000\n")
    again = _json(_run(["--workdir", str(work), "--json"], sample))
    assert again["reused"] is False
    assert again["n_interactions"] == 7
    assert again["fingerprint"] != first["fingerprint"]


def test_stale_schema_version_is_rebuilt(tmp_path: Path) -> None:
    sample = _write_sample(tmp_path / "sample")
    work = tmp_path / "work"
    _json(_run(["--workdir", str(work), "--json"], sample))
    manifest_path = work / "dataset" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["schema_version"] = -1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert _json(_run(["--workdir", str(work), "--json"], sample))["reused"] is False


def test_human_summary(tmp_path: Path) -> None:
    sample = _write_sample(tmp_path / "sample")
    result = _run(["--workdir", str(tmp_path / "work")], sample)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "3 users, 4 movies, 6 ratings; 2 movies with a description" in out
    assert re.search(r"linked netflix.titles: 2 of 4 movies \(50\.0%\)", out)
    assert "top genres" in out


def test_missing_sample_is_a_clean_error(tmp_path: Path) -> None:
    result = _run(["--workdir", str(tmp_path / "work")], tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "bundled sample is incomplete or absent" in result.output
    assert SAMPLE_ENV in result.output
    assert not (tmp_path / "work" / "dataset").exists()


def test_help_mentions_host_and_port() -> None:
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output
    assert "--stop-after" in result.output and "serves the web page" in " ".join(result.output.split())


def test_bundled_sample_is_found_and_matches_its_sources_md(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SAMPLE_ENV, raising=False)
    sample = default_sample_dir()
    assert sample == Path(__file__).resolve().parents[1] / "data" / "sample"
    sources_md = (sample / "SOURCES.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \|.*\| ([\d,]+) \| `([0-9a-f]{64})` \|$", sources_md, flags=re.M)
    assert len(rows) == 6
    for rel, size, digest in rows:
        path = sample / rel
        assert path.stat().st_size == int(size.replace(",", "")), rel
        assert sha256_file(path) == digest, rel
    # the MovieLens licence travels with its data; nothing that may not be redistributed is here
    assert "Usage License" in (sample / SAMPLE_SOURCES[0] / "README.txt").read_text(encoding="utf-8")
    names = {p.name for p in sample.rglob("*") if p.is_file()}
    assert not names & {"ratings.dat", "movies.dat", "movie_titles.csv", "tmdb_5000_movies.csv"}


def test_demo_builds_a_model_and_the_app_then_reuses_them(tmp_path: Path) -> None:
    """`--stop-after model`: dataset, a NeuMF model trained on every rating, embeddings and the web app
    are built; a second start reuses the model instead of training again."""
    sample = _write_sample(tmp_path / "sample")
    work = tmp_path / "work"
    first = _run(["--workdir", str(work), "--stop-after", "model"], sample)
    assert first.exit_code == 0, first.output
    meta = json.loads((work / "model" / "model.json").read_text())
    manifest = json.loads((work / "dataset" / "manifest.json").read_text())
    assert meta["dataset"]["fingerprint"] == manifest["fingerprint"]
    assert meta["model"] == "neumf"
    assert "training NeuMF" in first.output
    assert (work / "instance").is_dir()  # the app was created (its secret key lives there)
    stamp = (work / "model" / "model.json").stat().st_mtime_ns

    second = _run(["--workdir", str(work), "--stop-after", "model"], sample)
    assert second.exit_code == 0, second.output
    assert "reusing" in second.output and "training NeuMF" not in second.output
    assert (work / "model" / "model.json").stat().st_mtime_ns == stamp
