"""Embedding store: item text, the cache re-encodes only changed items, atomic files, fingerprints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nextwatch.content.config import ContentConfig
from nextwatch.content.model import ContentModel, index_for
from nextwatch.content.store import EmbeddingStore, store_folder
from nextwatch.content.testing import HashingEncoder
from nextwatch.content.text import item_text, item_texts
from nextwatch.data.dataset import Interactions, users_frame
from nextwatch.data.store import load_dataset, write_dataset
from nextwatch.errors import NotFoundError

ITEMS = [
    ("m1", "Lion King, The", 1994, ["Animation", "Children's"], "A young lion prince flees his kingdom."),
    ("m2", "Heat", 1995, ["Crime", "Thriller"], "A crew of professional thieves plans one last bank heist."),
    ("m3", "Toy Story", 1995, ["Animation", "Comedy"], None),
    ("m4", "Ocean's Eleven", 2001, ["Crime"], "Danny Ocean and his crew plan to rob Las Vegas casinos."),
    ("m5", "Alien", 1979, [], "The crew of a spaceship meets a deadly creature."),
]


def write_items(folder: Path, rows: list[tuple]) -> None:
    items = pl.DataFrame(
        {
            "item_idx": list(range(len(rows))),
            "item_id": [r[0] for r in rows],
            "title": [r[1] for r in rows],
            "year": [r[2] for r in rows],
            "genres": [r[3] for r in rows],
            "description": [r[4] for r in rows],
        },
        schema_overrides={"genres": pl.List(pl.String)},
    )
    write_dataset(
        folder,
        Interactions.empty(),
        items,
        users_frame([]),
        source_format="test",
        sources=[],
        rating_scale=None,
    )


def test_item_text_recipe() -> None:
    assert item_text("Lion King, The", 1994, ["Animation", "Children's"], "A lion cub.") == (
        "The Lion King. Animation, Children's. A lion cub."
    )
    # without a description: title, year and genres
    toy = item_text("Toy Story", 1995, ["Animation", "Comedy"], None)
    assert toy == "Toy Story (1995). Animation, Comedy."
    assert item_text("Alien", None, [], "  The crew\n of a ship.  ") == "Alien. The crew of a ship."
    assert item_text("Who Framed Roger Rabbit?", 1988, [], "") == "Who Framed Roger Rabbit? (1988)."


def test_store_reencodes_only_changed_items(tmp_path: Path) -> None:
    ds_dir = tmp_path / "ds"
    write_items(ds_dir, ITEMS)
    enc = HashingEncoder(dim=16)
    store = EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)
    assert (enc.calls, enc.texts_encoded) == (1, 5)
    assert (store.n_encoded, store.n_reused) == (5, 0)
    assert store.vectors.shape == (5, 16) and store.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(store.vectors, axis=1), 1.0, atol=1e-6)
    texts = item_texts(load_dataset(ds_dir).items)
    np.testing.assert_array_equal(store.vectors, HashingEncoder(dim=16).encode(texts))
    folder = store_folder(ds_dir, enc.name)
    assert store.path == folder and {p.name for p in folder.iterdir()} == {
        "vectors.npy",
        "text_sha256.npy",
        "meta.json",
    }
    assert store.meta["dataset_fingerprint"] == load_dataset(ds_dir).fingerprint
    assert store.meta["model"] == enc.name and store.meta["dim"] == 16

    # a second run encodes nothing
    again = EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)
    assert (enc.calls, enc.texts_encoded) == (1, 5) and again.n_encoded == 0
    np.testing.assert_array_equal(again.vectors, store.vectors)

    # change one description, add one item, reorder the rest: only the two new texts are encoded
    changed = [ITEMS[4], ITEMS[0], (*ITEMS[1][:4], "A detective hunts a master thief."), ITEMS[2], ITEMS[3]]
    changed.append(("m6", "Inception", 2010, ["Sci-Fi"], "A thief steals secrets from dreams."))
    write_items(ds_dir, changed)
    ds2 = load_dataset(ds_dir)
    third = EmbeddingStore.load_or_build(ds2, encoder=enc)
    assert (enc.calls, enc.texts_encoded) == (2, 7)
    assert (third.n_encoded, third.n_reused) == (2, 4)
    np.testing.assert_array_equal(third.vectors, HashingEncoder(dim=16).encode(item_texts(ds2.items)))
    assert third.meta["dataset_fingerprint"] == ds2.fingerprint != store.meta["dataset_fingerprint"]

    # a re-ingest that changes no text (new fingerprint) rewrites the store without encoding
    write_items(ds_dir, changed)
    fourth = EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)
    assert enc.calls == 2 and fourth.n_encoded == 0


def test_identical_texts_are_encoded_once(tmp_path: Path) -> None:
    rows = [ITEMS[0], ("dup", *ITEMS[0][1:]), ITEMS[1]]
    write_items(tmp_path / "ds", rows)
    enc = HashingEncoder(dim=8)
    store = EmbeddingStore.load_or_build(load_dataset(tmp_path / "ds"), encoder=enc)
    assert enc.texts_encoded == 2 and store.n_encoded == 2
    np.testing.assert_array_equal(store.vectors[0], store.vectors[1])


def test_broken_or_foreign_store_is_rebuilt(tmp_path: Path) -> None:
    ds_dir = tmp_path / "ds"
    write_items(ds_dir, ITEMS)
    enc = HashingEncoder(dim=8)
    EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)
    folder = store_folder(ds_dir, enc.name)
    np.save(folder / "vectors.npy", np.zeros((3, 8), np.float32))  # does not match meta.json
    with pytest.raises(NotFoundError):
        EmbeddingStore.load(ds_dir, enc.name)
    store = EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)
    assert store.n_encoded == 5 and store.vectors.shape == (5, 8)
    with pytest.raises(NotFoundError, match="nextwatch embed"):
        EmbeddingStore.load(ds_dir, "another-model")


def test_failed_encoding_leaves_the_previous_store_intact(tmp_path: Path) -> None:
    ds_dir = tmp_path / "ds"
    write_items(ds_dir, ITEMS)
    enc = HashingEncoder(dim=8)
    before = EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)

    class Failing(HashingEncoder):
        def encode(self, texts, *, progress=False):  # type: ignore[no-untyped-def]
            raise RuntimeError("interrupted")

    write_items(ds_dir, [*ITEMS, ("m9", "New", 2020, [], "Something new.")])
    with pytest.raises(RuntimeError):
        EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=Failing(dim=8))
    kept = EmbeddingStore.load(ds_dir, enc.name)
    np.testing.assert_array_equal(kept.vectors, before.vectors)
    assert not [p for p in (ds_dir / "embeddings").iterdir() if p.name.startswith(".")]


def test_content_model_api_with_a_fake_encoder(tmp_path: Path) -> None:
    ds_dir = tmp_path / "ds"
    write_items(ds_dir, ITEMS)
    enc = HashingEncoder(dim=64)
    model = ContentModel.load_or_build(ds_dir, encoder=enc)
    assert model.n_items == 5 and model.dim == 64 and model.index.kind == "exact"
    sim = model.similar_items(1, k=3)  # Heat
    assert 1 not in sim.indices.tolist() and sim.indices.shape == (3,)
    expected = [i for i in np.argsort(-(model.vectors @ model.vectors[1]), kind="stable") if i != 1][:3]
    assert sim.indices.tolist() == expected
    found = model.search_text("crew plan to rob casinos", k=2)
    assert found.indices[0] == 3  # Ocean's Eleven shares most words
    recs = model.describe(found)
    assert recs[0]["item_id"] == "m4" and recs[0]["title"] == "Ocean's Eleven" and recs[0]["year"] == 2001
    assert set(recs[0]) >= {"item_id", "title", "year", "genres", "score"}
    taste = model.new_taste()
    taste.add("m2", model.item_vector(1))
    taste.add("m4", model.item_vector(3))
    res = model.neighbours(taste.query(), k=3, exclude=[1, 3])
    assert res.indices.shape == (1, 3) and not {1, 3} & set(res.indices[0].tolist())


def test_hnsw_index_is_cached_beside_the_embeddings(tmp_path: Path) -> None:
    ds_dir = tmp_path / "ds"
    write_items(ds_dir, ITEMS)
    enc = HashingEncoder(dim=16)
    config = ContentConfig(index="hnsw", hnsw_m=4, hnsw_ef_construction=8)
    store = EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)
    first = index_for(store, config)
    path = store.path / "index-hnsw.bin"
    assert path.is_file() and first.meta == {}
    second = index_for(store, config.replace(hnsw_ef_search=7))
    assert second.meta["vectors_sha256"] == store.vectors_sha256 and second.ef_search == 7
    # other build settings: rebuilt and overwritten
    third = index_for(store, config.replace(hnsw_m=6))
    assert third.meta == {} and third.m == 6
    # new vectors replace the folder, and the stale index with it
    write_items(ds_dir, [*ITEMS, ("m6", "Inception", 2010, ["Sci-Fi"], "Dreams.")])
    store2 = EmbeddingStore.load_or_build(load_dataset(ds_dir), encoder=enc)
    assert not (store2.path / "index-hnsw.bin").exists()
    assert index_for(store2, config).n == 6
