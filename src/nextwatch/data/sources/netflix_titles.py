"""Kaggle "Netflix Movies and TV Shows" (``netflix_titles.csv``): a description catalogue.

Columns ``show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,
description``; quoted fields may hold commas and line breaks. Only what recommending needs is kept:
title, release year, kind (Movie / TV Show), genres (``listed_in``, comma-separated) and the
description, whose source is recorded as ``netflix-titles:<show_id>``. Items keep the file's order
(show ids are ``s1``, ``s2``, ... so that is also their numeric order). No ratings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nextwatch.data.sources._common import csv_records, decode, items_frame, read_bytes, shorten
from nextwatch.data.sources.base import SourceData
from nextwatch.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "netflix-titles"
FILE_NAME = "netflix_titles.csv"
COLUMNS = (
    "show_id",
    "type",
    "title",
    "director",
    "cast",
    "country",
    "date_added",
    "release_year",
    "rating",
    "duration",
    "listed_in",
    "description",
)
_KINDS = {"movie": "movie", "tv show": "tv show"}


def _file(path: Path) -> Path | None:
    if path.is_file():
        return path
    p = path / FILE_NAME
    return p if p.is_file() else None


def detect(path: Path) -> bool:
    """True for ``netflix_titles.csv`` or a folder holding it (or a CSV with its header)."""
    path = Path(path)
    f = _file(path)
    if f is None:
        return False
    if f.name == FILE_NAME:
        return True
    if f.suffix.lower() != ".csv":
        return False
    try:
        with open(f, "rb") as fh:
            head = fh.readline(4096).decode("utf-8-sig", errors="replace").strip().lower()
    except OSError:
        return False
    return head.replace(" ", "").startswith("show_id,type,title")


def _int_id(show_id: str) -> int | None:
    digits = show_id.lstrip("sS")
    return int(digits) if digits.isdigit() else None


def load(path: Path) -> SourceData:
    """Load ``netflix_titles.csv`` as a catalogue (items only)."""
    path = Path(path)
    f = _file(path)
    if f is None:
        raise InputError(f"no {FILE_NAME} here", path=path)
    header, records = csv_records(decode(read_bytes(f), f), f)
    header = [h.lower() for h in header]
    required = ("show_id", "type", "title", "release_year", "listed_in", "description")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)} (the header is {shorten(','.join(header), 200)})",
            path=f,
            line=1,
        )
    col = {name: header.index(name) for name in COLUMNS if name in header}
    names = ("item_id", "title", "year", "genres", "kind", "description", "description_source")
    rows: dict[str, list] = {k: [] for k in names}
    seen: dict[str, int] = {}
    for start, rec in records:
        show_id = rec[col["show_id"]].strip()
        if not show_id:
            raise InputError("empty show_id", path=f, line=start)
        if show_id in seen:
            raise InputError(
                f"show_id {show_id} appears twice (first on line {seen[show_id]})", path=f, line=start
            )
        seen[show_id] = start
        title = rec[col["title"]].strip()
        if not title:
            raise InputError(f"{show_id} has an empty title", path=f, line=start)
        year_s = rec[col["release_year"]].strip()
        if year_s and not (year_s.isdigit() and len(year_s) == 4):
            raise InputError(f"release_year {shorten(year_s)} is not a 4-digit year", path=f, line=start)
        desc = rec[col["description"]].strip() or None
        rows["item_id"].append(show_id)
        rows["title"].append(title)
        rows["year"].append(int(year_s) if year_s else None)
        rows["genres"].append([g.strip() for g in rec[col["listed_in"]].split(",") if g.strip()])
        rows["kind"].append(_KINDS.get(rec[col["type"]].strip().lower()))
        rows["description"].append(desc)
        rows["description_source"].append(f"netflix-titles:{show_id}" if desc else None)
    if not rows["item_id"]:
        raise InputError("no titles in the file (only a header)", path=f)
    # numeric order of the show ids ("s1" < "s2" < "s10"), file order where they are not numeric
    keys = [(_int_id(s) is None, _int_id(s) or 0, k) for k, s in enumerate(rows["item_id"])]
    order = [k for _, _, k in sorted(keys)]
    items = items_frame({name: [vals[k] for k in order] for name, vals in rows.items()})
    log.info("%s: %d titles", f, items.height)
    return SourceData(format=FORMAT, items=items, files=[f])


__all__ = ["FORMAT", "detect", "load"]
