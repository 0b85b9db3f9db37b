"""The canonical schema every loader produces and every later stage reads.

Raw ids live at the edges (``user_id``, ``item_id``: strings, as the source writes them); models and
arrays use dense indices (``user_idx``, ``item_idx``: 0..n-1, int32). Column names are singular.
"""

from __future__ import annotations

import pyarrow as pa

#: Bumped whenever the on-disk layout changes incompatibly.
SCHEMA_VERSION = 1

INTERACTIONS_FILE = "interactions.parquet"
ITEMS_FILE = "items.parquet"
USERS_FILE = "users.parquet"
MANIFEST_FILE = "manifest.json"

INTERACTIONS_SCHEMA = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("rating", pa.float32(), nullable=False),
        # unix seconds (UTC); sources with dates only (Netflix Prize) store midnight UTC
        pa.field("timestamp", pa.int64(), nullable=False),
    ]
)

ITEMS_SCHEMA = pa.schema(
    [
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("year", pa.int16(), nullable=True),
        pa.field("genres", pa.list_(pa.string()), nullable=False),
        # "movie", "tv show" or null when the source does not say
        pa.field("kind", pa.string(), nullable=True),
        pa.field("description", pa.string(), nullable=True),
        # where the description came from ("netflix-titles:s123", "tmdb:862", ...), null if none
        pa.field("description_source", pa.string(), nullable=True),
        pa.field("imdb_id", pa.int64(), nullable=True),
        pa.field("tmdb_id", pa.int64(), nullable=True),
    ]
)

USERS_SCHEMA = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
    ]
)

ITEM_COLUMNS = [f.name for f in ITEMS_SCHEMA]
