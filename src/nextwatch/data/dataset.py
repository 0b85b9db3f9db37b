"""In-memory dataset: interactions as numpy arrays, items and users as polars frames.

A :class:`Dataset` is immutable once built; :func:`nextwatch.data.store.load_dataset` reads one from
its folder and :func:`nextwatch.data.store.write_dataset` writes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from nextwatch.data.schema import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, USERS_SCHEMA


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays of (user_idx, item_idx, rating, timestamp), all of one length."""

    user_idx: np.ndarray
    item_idx: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.user_idx)
        for name in ("item_idx", "rating", "timestamp"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"interactions column {name} has {len(getattr(self, name))} rows, not {n}")
        object.__setattr__(self, "user_idx", np.asarray(self.user_idx, dtype=np.int32))
        object.__setattr__(self, "item_idx", np.asarray(self.item_idx, dtype=np.int32))
        object.__setattr__(self, "rating", np.asarray(self.rating, dtype=np.float32))
        object.__setattr__(self, "timestamp", np.asarray(self.timestamp, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.user_idx)

    @classmethod
    def empty(cls) -> Interactions:
        e = np.empty
        return cls(e(0, np.int32), e(0, np.int32), e(0, np.float32), e(0, np.int64))

    def subset(self, mask_or_index: np.ndarray) -> Interactions:
        return Interactions(
            self.user_idx[mask_or_index],
            self.item_idx[mask_or_index],
            self.rating[mask_or_index],
            self.timestamp[mask_or_index],
        )

    def to_arrow(self) -> pa.Table:
        # zero-copy Arrow views of the numpy buffers (pa.array() on numpy would also import pandas,
        # a second of start-up for every CLI command that writes a dataset)
        cols = [_arrow_view(getattr(self, f.name), f.type) for f in INTERACTIONS_SCHEMA]
        return pa.Table.from_arrays(cols, schema=INTERACTIONS_SCHEMA)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Interactions:
        def col(name: str) -> np.ndarray:
            return table.column(name).to_numpy()

        return cls(col("user_idx"), col("item_idx"), col("rating"), col("timestamp"))


def _arrow_view(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def empty_items() -> pl.DataFrame:
    return pl.from_arrow(ITEMS_SCHEMA.empty_table())  # type: ignore[return-value]


def conform_items(items: pl.DataFrame) -> pl.DataFrame:
    """Return ``items`` with exactly the canonical columns, types and order (missing ones null)."""
    cols = []
    for f in ITEMS_SCHEMA:
        dtype = pl.from_arrow(pa.array([], type=f.type)).dtype  # type: ignore[union-attr]
        if f.name in items.columns:
            cols.append(pl.col(f.name).cast(dtype))
        elif f.name == "genres":
            cols.append(pl.lit([], dtype=dtype).alias(f.name))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(f.name))
    out = items.select(cols)
    return out.with_columns(pl.col("genres").fill_null(pl.lit([], dtype=pl.List(pl.String))))


def users_frame(user_ids: np.ndarray | list[str]) -> pl.DataFrame:
    """The users table for raw ids given in dense-index order."""
    arr = np.asarray(user_ids)
    # integer ids: polars' cast to string is ~10x faster than numpy's astype(str) at 480k users
    if arr.dtype.kind in "iu":
        ids = pl.Series("user_id", arr).cast(pl.String)
    else:
        ids = pl.Series("user_id", arr.astype(str))
    return pl.DataFrame(
        {"user_idx": pl.Series("user_idx", np.arange(len(ids), dtype=np.int32)), "user_id": ids}
    )


@dataclass(frozen=True)
class Dataset:
    """A ratings dataset (or a catalogue with no ratings) in the canonical schema."""

    interactions: Interactions
    items: pl.DataFrame
    users: pl.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        n_items, n_users = self.items.height, self.users.height
        if len(self.interactions):
            if int(self.interactions.item_idx.max()) >= n_items or int(self.interactions.item_idx.min()) < 0:
                raise ValueError("interactions refer to item indices outside the items table")
            if int(self.interactions.user_idx.max()) >= n_users or int(self.interactions.user_idx.min()) < 0:
                raise ValueError("interactions refer to user indices outside the users table")

    @property
    def n_users(self) -> int:
        return self.users.height

    @property
    def n_items(self) -> int:
        return self.items.height

    @property
    def n_interactions(self) -> int:
        return len(self.interactions)

    @property
    def fingerprint(self) -> str:
        return str(self.manifest.get("fingerprint", ""))

    @property
    def rating_scale(self) -> tuple[float, float] | None:
        scale = self.manifest.get("rating_scale")
        return None if scale is None else (float(scale[0]), float(scale[1]))

    def item_ids(self) -> np.ndarray:
        return self.items["item_id"].to_numpy()

    def user_ids(self) -> np.ndarray:
        return self.users["user_id"].to_numpy()

    def item_index(self) -> dict[str, int]:
        """Raw item id -> dense index."""
        return dict(zip(self.items["item_id"].to_list(), self.items["item_idx"].to_list(), strict=True))

    def user_index(self) -> dict[str, int]:
        """Raw user id -> dense index."""
        return dict(zip(self.users["user_id"].to_list(), self.users["user_idx"].to_list(), strict=True))

    def users_table(self) -> pa.Table:
        return self.users.to_arrow().cast(USERS_SCHEMA)
