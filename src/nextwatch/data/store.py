"""The canonical on-disk dataset: three Parquet files and ``manifest.json`` in one folder.

``DATASET_DIR/``
  ``interactions.parquet``  user_idx int32, item_idx int32, rating float32, timestamp int64
  ``items.parquet``         item_idx, item_id, title, year, genres, kind, description, ...
  ``users.parquet``         user_idx, user_id
  ``manifest.json``         counts, rating scale, schema version, sources with sha256, fingerprint

The folder is written into a temporary sibling and swapped into place (:func:`nextwatch.io.atomic_dir`),
so an interrupted ingest leaves any earlier dataset intact. Later stages (splits, embeddings, index)
add their own files beside these, each written atomically and recording the dataset fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from nextwatch import __version__
from nextwatch.data.dataset import Dataset, Interactions, conform_items
from nextwatch.data.schema import (
    INTERACTIONS_FILE,
    ITEMS_FILE,
    ITEMS_SCHEMA,
    MANIFEST_FILE,
    SCHEMA_VERSION,
    USERS_FILE,
    USERS_SCHEMA,
)
from nextwatch.errors import NextwatchError
from nextwatch.io import atomic_dir, read_json, recover_dir, sha256_file, write_json

log = logging.getLogger(__name__)

#: Rows per Parquet row group when writing interactions (bounded write buffers at 100M rows).
ROW_GROUP = 4_000_000


def source_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe one source file for the manifest: path, size and sha256."""
    p = Path(path)
    return {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def _write_interactions(path: Path, inter: Interactions) -> None:
    n = len(inter)
    with pq.ParquetWriter(path, INTERACTIONS_SCHEMA_FOR_WRITE, compression="zstd") as w:
        if n == 0:
            w.write_table(inter.to_arrow())
        for start in range(0, n, ROW_GROUP):
            w.write_table(inter.subset(slice(start, start + ROW_GROUP)).to_arrow())


INTERACTIONS_SCHEMA_FOR_WRITE = Interactions.empty().to_arrow().schema


def _fingerprint(file_hashes: dict[str, str]) -> str:
    """The dataset's fingerprint from its files' sha256 (in the order given)."""
    h = hashlib.sha256(f"nextwatch-dataset-v{SCHEMA_VERSION}".encode())
    for name, digest in file_hashes.items():
        h.update(name.encode())
        h.update(digest.encode())
    return h.hexdigest()[:32]


def write_dataset(
    out: str | os.PathLike[str],
    interactions: Interactions,
    items: pl.DataFrame,
    users: pl.DataFrame,
    *,
    source_format: str,
    sources: list[dict[str, Any]],
    rating_scale: tuple[float, float] | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a dataset folder atomically and return its manifest.

    ``items`` is conformed to the canonical schema (missing optional columns become null); it must hold
    ``item_idx`` 0..n-1 in order, as must ``users``.
    """
    items = conform_items(items)
    _check_dense(items["item_idx"].to_numpy(), "items.item_idx")
    _check_dense(users["user_idx"].to_numpy(), "users.user_idx")
    out = Path(out)
    with atomic_dir(out) as tmp:
        _write_interactions(tmp / INTERACTIONS_FILE, interactions)
        pq.write_table(items.to_arrow().cast(ITEMS_SCHEMA), tmp / ITEMS_FILE, compression="zstd")
        pq.write_table(users.to_arrow().cast(USERS_SCHEMA), tmp / USERS_FILE, compression="zstd")
        # each output is hashed once: the manifest lists the digests and the fingerprint is built from them
        file_hashes = {name: sha256_file(tmp / name) for name in (INTERACTIONS_FILE, ITEMS_FILE, USERS_FILE)}
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "format": source_format,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "nextwatch_version": __version__,
            "n_users": users.height,
            "n_items": items.height,
            "n_interactions": len(interactions),
            "rating_scale": None
            if rating_scale is None
            else [float(rating_scale[0]), float(rating_scale[1])],
            "n_items_with_description": int(items["description"].is_not_null().sum()),
            "sources": sources,
            "files": file_hashes,
            "fingerprint": _fingerprint(file_hashes),
        }
        if extra:
            manifest.update(extra)
        write_json(tmp / MANIFEST_FILE, manifest)
        _carry_over(out, tmp)
    log.info("wrote dataset %s (%s)", out, manifest["fingerprint"])
    return manifest


#: Derived folders a re-ingest keeps: their contents are keyed by content (per-item text hashes)
#: and record the fingerprint they were built for, so their users reuse what still fits.
CARRIED_OVER = ("embeddings",)


def _carry_over(old: Path, new: Path) -> None:
    for name in CARRIED_OVER:
        if (old / name).is_dir() and not (new / name).exists():
            os.replace(old / name, new / name)


def _check_dense(idx: np.ndarray, what: str) -> None:
    if len(idx) and not np.array_equal(idx, np.arange(len(idx))):
        raise ValueError(f"{what} must be 0..n-1 in order")


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    recover_dir(path)
    mf = path / MANIFEST_FILE
    if not mf.is_file():
        raise NextwatchError(
            f"{path} is not a nextwatch dataset (no {MANIFEST_FILE})",
            hint="create one with: nextwatch ingest SOURCE... --out " + str(path),
        )
    manifest = read_json(mf)
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise NextwatchError(
            f"{path} was written with dataset schema version {version}; "
            f"this nextwatch reads {SCHEMA_VERSION}",
            hint="re-run nextwatch ingest to rebuild it",
        )
    return manifest


def load_dataset(path: str | os.PathLike[str], *, interactions: bool = True) -> Dataset:
    """Read a dataset folder. ``interactions=False`` skips the (possibly large) ratings table."""
    path = Path(path)
    manifest = read_manifest(path)
    if interactions:
        table = pq.read_table(path / INTERACTIONS_FILE)
        inter = Interactions.from_arrow(table.combine_chunks())
    else:
        inter = Interactions.empty()
    items = pl.from_arrow(pq.read_table(path / ITEMS_FILE))
    users = pl.from_arrow(pq.read_table(path / USERS_FILE))
    assert isinstance(items, pl.DataFrame) and isinstance(users, pl.DataFrame)
    return Dataset(interactions=inter, items=items, users=users, manifest=manifest, path=path)


def empty_users() -> pl.DataFrame:
    return pl.from_arrow(pa.Table.from_pylist([], schema=USERS_SCHEMA))  # type: ignore[return-value]
