"""One loader per real source format.

Each module exposes ``FORMAT`` (its name), ``detect(path) -> bool`` and ``load(path) -> SourceData``.
:func:`load_source` picks the module from the files (or a forced ``--format``).
"""

from __future__ import annotations

import os
from pathlib import Path

# registry filled by the loader modules (import order = detection order)
from nextwatch.data.sources import movielens, netflix_prize, netflix_titles, tmdb
from nextwatch.data.sources.base import SourceData
from nextwatch.errors import InputError

LOADERS = {m.FORMAT: m for m in (movielens, netflix_prize, netflix_titles, tmdb)}
FORMATS = ["auto", *LOADERS]


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name of the format whose files ``path`` (a folder or a single file) holds."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", path=p)
    for name, mod in LOADERS.items():
        if mod.detect(p):
            return name
    raise InputError(
        "cannot tell which format this is",
        path=p,
        hint="expected MovieLens (u.data / ratings.dat / ratings.csv), Netflix Prize (training_set/mv_*.txt, "
        "combined_data_*.txt, movie_titles.csv), netflix_titles.csv or tmdb_5000_movies.csv; "
        "or force one with --format",
    )


def load_source(path: str | os.PathLike[str], fmt: str = "auto") -> SourceData:
    """Load one source in the canonical schema."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in LOADERS:
        raise InputError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}", path=path)
    return LOADERS[fmt].load(Path(path))


__all__ = ["FORMATS", "LOADERS", "SourceData", "detect_format", "load_source"]
