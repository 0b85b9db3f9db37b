"""TMDB 5000 movies (``tmdb_5000_movies.csv``): a description catalogue keyed by TMDB id.

Columns include ``id`` (the TMDB id: item_id and tmdb_id), ``title``, ``overview`` (the description,
recorded as ``tmdb:<id>``), ``release_date`` (``YYYY-MM-DD``, its year) and ``genres``, a JSON list of
``{"id": .., "name": ..}``. Quoted fields may hold line breaks. Items are ordered by TMDB id. No ratings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from nextwatch.data.sources._common import csv_records, decode, items_frame, read_bytes, shorten
from nextwatch.data.sources.base import SourceData
from nextwatch.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "tmdb"
FILE_NAME = "tmdb_5000_movies.csv"
REQUIRED = ("id", "title", "overview", "release_date", "genres")


def _file(path: Path) -> Path | None:
    if path.is_file():
        return path
    p = path / FILE_NAME
    if p.is_file():
        return p
    found = sorted(path.glob("tmdb*movies*.csv")) if path.is_dir() else []
    return found[0] if found else None


def detect(path: Path) -> bool:
    """True for ``tmdb_5000_movies.csv`` (or a CSV whose header has TMDB's columns) or its folder."""
    f = _file(Path(path))
    if f is None or f.suffix.lower() != ".csv":
        return False
    if f.name == FILE_NAME:
        return True
    try:
        with open(f, "rb") as fh:
            head = fh.readline(8192).decode("utf-8-sig", errors="replace").strip().lower().split(",")
    except OSError:
        return False
    return all(c in head for c in REQUIRED) and "original_title" in head


def _genres(value: str, f: Path, line: int) -> list[str]:
    value = value.strip()
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        raise InputError(f"genres is not valid JSON ({e.msg}): {shorten(value)}", path=f, line=line) from e
    if not isinstance(parsed, list) or not all(isinstance(g, dict) and "name" in g for g in parsed):
        raise InputError(
            f'genres must be a JSON list of {{"id": .., "name": ..}}, got {shorten(value)}', path=f, line=line
        )
    return [str(g["name"]).strip() for g in parsed if str(g["name"]).strip()]


def load(path: Path) -> SourceData:
    """Load the TMDB 5000 movies CSV as a catalogue (items only)."""
    path = Path(path)
    f = _file(path)
    if f is None:
        raise InputError(f"no {FILE_NAME} here", path=path)
    header, records = csv_records(decode(read_bytes(f), f), f)
    header = [h.lower() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path=f, line=1)
    col = {name: header.index(name) for name in REQUIRED}
    recs: list[tuple[int, str, int | None, list[str], str | None]] = []
    seen: dict[int, int] = {}
    for start, rec in records:
        id_s = rec[col["id"]].strip()
        if not id_s.isdigit():
            raise InputError(f"id {shorten(id_s)} is not a positive integer", path=f, line=start)
        tmdb_id = int(id_s)
        if tmdb_id in seen:
            raise InputError(
                f"id {tmdb_id} appears twice (first on line {seen[tmdb_id]})", path=f, line=start
            )
        seen[tmdb_id] = start
        title = rec[col["title"]].strip()
        if not title:
            raise InputError(f"movie {tmdb_id} has an empty title", path=f, line=start)
        date_s = rec[col["release_date"]].strip()
        year = None
        if date_s:
            y = date_s[:4]
            if not (y.isdigit() and (len(date_s) == 4 or date_s[4] == "-")):
                raise InputError(f"release_date {shorten(date_s)} is not YYYY-MM-DD", path=f, line=start)
            year = int(y)
        overview = rec[col["overview"]].strip() or None
        recs.append((tmdb_id, title, year, _genres(rec[col["genres"]], f, start), overview))
    if not recs:
        raise InputError("no movies in the file (only a header)", path=f)
    recs.sort(key=lambda r: r[0])
    items = items_frame(
        {
            "item_id": [str(r[0]) for r in recs],
            "title": [r[1] for r in recs],
            "year": [r[2] for r in recs],
            "genres": [r[3] for r in recs],
            "kind": ["movie"] * len(recs),
            "description": [r[4] for r in recs],
            "description_source": [f"tmdb:{r[0]}" if r[4] else None for r in recs],
            "tmdb_id": [r[0] for r in recs],
        }
    )
    log.info("%s: %d movies", f, items.height)
    return SourceData(format=FORMAT, items=items, files=[f])


__all__ = ["FORMAT", "detect", "load"]
