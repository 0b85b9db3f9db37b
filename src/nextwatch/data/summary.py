"""Summaries of a dataset folder (``nextwatch dataset info``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import polars as pl

from nextwatch.data.store import load_dataset


def summarize(path: str | os.PathLike[str], top: int = 10) -> dict[str, Any]:
    """Counts, density, rating histogram and top genres (by number of items) of a dataset folder."""
    ds = load_dataset(path)
    m = ds.manifest
    ratings = ds.interactions.rating
    values, counts = np.unique(ratings, return_counts=True) if len(ratings) else (np.array([]), np.array([]))
    cells = ds.n_users * ds.n_items
    genres = (
        ds.items.select(pl.col("genres").explode().alias("genre"))
        .drop_nulls()
        .group_by("genre")
        .len()
        .sort(["len", "genre"], descending=[True, False])
        .head(top)
    )
    return {
        "format": m.get("format"),
        "fingerprint": m.get("fingerprint"),
        "n_users": ds.n_users,
        "n_items": ds.n_items,
        "n_interactions": ds.n_interactions,
        "n_items_with_description": int(ds.items["description"].is_not_null().sum()),
        "density": (ds.n_interactions / cells) if cells else 0.0,
        "rating_scale": m.get("rating_scale"),
        "rating_histogram": [[float(v), int(c)] for v, c in zip(values, counts, strict=True)],
        "top_genres": [[g, int(c)] for g, c in genres.iter_rows()],
        "linking": m.get("linking", []),
    }
