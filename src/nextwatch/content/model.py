"""The content model: a dataset's item vectors, their neighbour index and the query encoder, together.

This is the small API the recommender and the CLI use::

    model = ContentModel.load_or_build("data/ml")           # encodes only what is not cached
    model.similar_items(42, k=10)                             # never item 42 itself
    model.search_text("a heist in a casino", k=10)
    taste = model.new_taste(); taste.add(42, model.item_vector(42))
    model.neighbours(taste.query(), k=10, exclude=shown)     # always k results when k remain

The index is chosen by catalogue size (:func:`index_for`) and cached beside the embeddings.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from nextwatch.content import encoder as encoders
from nextwatch.content.config import ContentConfig
from nextwatch.content.encoder import Encoder
from nextwatch.content.index import (
    INDEXES,
    ExactIndex,
    Exclude,
    FaissHNSWIndex,
    NeighbourIndex,
    SearchResult,
    choose_kind,
)
from nextwatch.content.store import EmbeddingStore
from nextwatch.content.taste import TasteVector
from nextwatch.data.dataset import Dataset
from nextwatch.data.titles import display_title
from nextwatch.errors import NextwatchError, NotFoundError

log = logging.getLogger(__name__)

INDEX_FILE = "index-{kind}.bin"


def make_index(config: ContentConfig, n_items: int) -> NeighbourIndex:
    """An empty index of the kind the config asks for (``auto``: by catalogue size)."""
    kind = choose_kind(config.index, n_items, config.exact_below)
    if kind == "exact":
        return ExactIndex()
    return FaissHNSWIndex(
        m=config.hnsw_m, ef_construction=config.hnsw_ef_construction, ef_search=config.hnsw_ef_search
    )


def index_for(
    store: EmbeddingStore, config: ContentConfig | None = None, *, progress: bool = True
) -> NeighbourIndex:
    """The neighbour index over ``store``'s vectors, loaded from beside them when it is still valid.

    An exact index costs nothing to build and is never written. An HNSW index is saved in the store's
    folder with the SHA-256 of the vectors it indexes and the dataset fingerprint, and is rebuilt when
    either (or its settings) changed. The search-time ``ef_search`` always follows the config.
    """
    config = config or ContentConfig()
    index = make_index(config, store.n_items)
    if isinstance(index, ExactIndex):
        return index.build(store.vectors)
    path = store.path / INDEX_FILE.format(kind=index.kind)
    want = {k: v for k, v in index.params().items() if k != "ef_search"}
    try:
        cached = INDEXES[index.kind].load(path)
        same = (
            cached.meta.get("vectors_sha256") == store.vectors_sha256
            and cached.meta.get("dataset_fingerprint") == store.fingerprint
            and all(cached.meta.get(k) == v for k, v in want.items())
            and cached.n == store.n_items
        )
        if same:
            assert isinstance(cached, FaissHNSWIndex)
            cached.ef_search = config.hnsw_ef_search
            log.info("loaded %s index of %d items from %s", cached.kind, cached.n, path)
            return cached
        log.info("the saved index at %s is stale: rebuilding", path)
    except NotFoundError:
        pass
    t0 = time.perf_counter()
    assert isinstance(index, FaissHNSWIndex)
    index.build(store.vectors, progress=progress)
    log.info("built %s index of %d items in %.1f s", index.kind, index.n, time.perf_counter() - t0)
    index.save(path, {"vectors_sha256": store.vectors_sha256, "dataset_fingerprint": store.fingerprint})
    return index


@dataclass
class ContentModel:
    """A dataset's items with their embeddings, neighbour index and (lazily) the query encoder."""

    items: pl.DataFrame
    store: EmbeddingStore
    index: NeighbourIndex
    config: ContentConfig = field(default_factory=ContentConfig)
    encoder: Encoder | None = None

    @classmethod
    def load_or_build(
        cls,
        dataset: Dataset | str | os.PathLike[str],
        config: ContentConfig | None = None,
        *,
        encoder: Encoder | None = None,
        progress: bool = True,
    ) -> ContentModel:
        """Embeddings (encoding only what the cache lacks) and index for a dataset or its folder."""
        config = config or ContentConfig()
        if not isinstance(dataset, Dataset):
            from nextwatch.data.store import load_dataset

            dataset = load_dataset(Path(dataset), interactions=False)
        store = EmbeddingStore.load_or_build(dataset, config=config, encoder=encoder, progress=progress)
        index = index_for(store, config, progress=progress)
        return cls(items=dataset.items, store=store, index=index, config=config, encoder=encoder)

    @property
    def vectors(self) -> np.ndarray:
        """``(n_items, dim)`` float32, unit rows; row ``i`` is ``item_idx`` ``i``."""
        return self.store.vectors

    @property
    def n_items(self) -> int:
        return self.store.n_items

    @property
    def dim(self) -> int:
        return self.store.dim

    def item_vector(self, item_idx: int) -> np.ndarray:
        if not 0 <= int(item_idx) < self.n_items:
            raise NotFoundError(f"no item with index {item_idx} (the catalogue has {self.n_items})")
        return self.vectors[int(item_idx)]

    def new_taste(self) -> TasteVector:
        """An empty taste vector of this model's size and configured recency weighting."""
        return TasteVector(self.dim, half_life=self.config.taste_half_life)

    def _encoder(self) -> Encoder:
        if self.encoder is None:
            self.encoder = encoders.make_encoder(self.config)
        if self.encoder.name != self.store.model:
            raise NextwatchError(
                f"the query encoder is {self.encoder.name}, "
                f"but the items were embedded with {self.store.model}"
            )
        return self.encoder

    def encode_query(self, text: str) -> np.ndarray:
        """A free-text query as a unit ``(dim,)`` float32 vector in the items' space."""
        if not text or not text.strip():
            raise NextwatchError("the search text is empty")
        return self._encoder().encode([text.strip()])[0]

    def neighbours(self, vectors: np.ndarray, k: int = 10, exclude: Exclude = None) -> SearchResult:
        """The ``k`` nearest items to each of ``vectors`` (``(dim,)`` or ``(q, dim)``): ``(q, k)`` arrays."""
        return self.index.search(vectors, k, exclude=exclude)

    def similar_items(self, item_idx: int, k: int = 10, exclude: Exclude = None) -> SearchResult:
        """The ``k`` items nearest to one item, never the item itself: 1-D ``(k,)`` arrays."""
        ex = {int(item_idx)} | {int(i) for i in (exclude if exclude is not None else ())}  # type: ignore[union-attr]
        res = self.neighbours(self.item_vector(item_idx), k, exclude=ex)
        return SearchResult(res.scores[0], res.indices[0])

    def search_text(self, text: str, k: int = 10, exclude: Exclude = None) -> SearchResult:
        """Semantic search of the catalogue with a free-text query: 1-D ``(k,)`` arrays."""
        res = self.neighbours(self.encode_query(text), k, exclude=exclude)
        return SearchResult(res.scores[0], res.indices[0])

    def describe(self, result: SearchResult) -> list[dict[str, Any]]:
        """One JSON-ready record per found item (1-D result): item_id, title, year, genres, score, ..."""
        idx = np.asarray(result.indices).reshape(-1)
        scores = np.asarray(result.scores).reshape(-1)
        keep = idx >= 0
        idx, scores = idx[keep], scores[keep]
        rows = self.items[idx.tolist()].select(
            "item_idx", "item_id", "title", "year", "genres", "kind", "description"
        )
        out = []
        for row, score in zip(rows.iter_rows(named=True), scores.tolist(), strict=True):
            out.append(
                {
                    "item_idx": row["item_idx"],
                    "item_id": row["item_id"],
                    "title": display_title(row["title"]),
                    "year": row["year"],
                    "genres": row["genres"],
                    "kind": row["kind"],
                    "score": round(float(score), 6),
                    "description": row["description"],
                }
            )
        return out
