"""What every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from nextwatch.data.dataset import Interactions


@dataclass
class SourceData:
    """One source in the canonical schema.

    A *ratings* source has interactions and users; a *catalogue* source (netflix_titles.csv,
    TMDB) has items only, usually with descriptions, and is linked onto a ratings source's items.
    ``items`` uses the canonical item columns (see :mod:`nextwatch.data.schema`) with ``item_idx``
    0..n-1; ``users`` has ``user_idx`` 0..n-1 and ``user_id`` strings.
    """

    format: str
    items: pl.DataFrame
    interactions: Interactions | None = None
    users: pl.DataFrame | None = None
    rating_scale: tuple[float, float] | None = None
    files: list[Path] = field(default_factory=list)
    #: the source's layout where a format has several (MovieLens "100k", "1m", "10m", "csv"; Netflix Prize
    #: "per-movie", "combined"), else None
    variant: str | None = None

    @property
    def has_ratings(self) -> bool:
        return self.interactions is not None
