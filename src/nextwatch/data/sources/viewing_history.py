"""A Netflix "viewing activity" export (``NetflixViewingHistory.csv``): what one person watched.

The file is ``Title,Date`` (UTF-8, sometimes with a BOM). Series episodes read ``"Show: Season 1:
Episode title"`` (or ``Part 2``, ``Limited Series``, ``Volume 3`` ...); such a row also gets its show's
name, the part before the first ``": "``, which is what a catalogue lists. Dates follow the account's
locale (``10/21/20`` in the US, ``21/10/2020`` in much of Europe, ``21.10.20`` in Germany), so the day /
month order is decided once for the whole file: the order under which every date is valid, and among
several the one that keeps the rows newest-first as Netflix writes them.

Used by the recommender's warm start; not an ingest source (it has no ids and one user).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nextwatch.data.sources._common import csv_records, decode, read_bytes, shorten
from nextwatch.errors import InputError

_EPISODE_MARKER = re.compile(
    r"^(?:season|series|part|volume|vol\.|chapter|book|episode|collection)\s*\d+\b"
    r"|^(?:limited series|miniseries|mini-series)\b",
    re.IGNORECASE,
)
_DATE = re.compile(r"^\s*(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})\s*$")
_ORDERS = ("mdy", "dmy", "ymd")


@dataclass(frozen=True)
class ViewingEntry:
    """One row of the export."""

    title: str  # as written, e.g. "Stranger Things: Season 1: Chapter One"
    show_title: str | None  # "Stranger Things" for an episode, None for a film
    date: date
    line: int  # 1-based line of the row in the file


def show_title(title: str) -> str | None:
    """The show an episode title belongs to (the part before the first ``": "``), else None."""
    parts = title.split(": ")
    if len(parts) < 2 or not parts[0].strip():
        return None
    if any(_EPISODE_MARKER.match(p.strip()) for p in parts[1:]):
        return parts[0].strip()
    return None


def _as_date(order: str, a: int, b: int, c: int, width_c: int) -> date | None:
    if order == "ymd":
        y, m, d = a, b, c
    else:
        m, d = (a, b) if order == "mdy" else (b, a)
        y = c + 2000 if width_c <= 2 else c
    if y < 1900 or y > 2999:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _choose_order(parsed: list[tuple[int, int, int, int, int]], path: Path) -> str:
    """The day/month order that makes every date valid; ties broken by newest-first row order."""
    valid = []
    for order in _ORDERS:
        dates = [_as_date(order, a, b, c, wc) for a, b, c, wc, _ in parsed]
        if all(d is not None for d in dates):
            valid.append((order, dates))
    if not valid:
        # report the first row that no order can read, else the first that the likeliest order cannot
        def n_valid(o: str) -> int:
            return sum(_as_date(o, a, b, c, wc) is not None for a, b, c, wc, _ in parsed)

        best = max(_ORDERS, key=n_valid)
        for a, b, c, wc, line in parsed:
            if _as_date(best, a, b, c, wc) is None:
                raise InputError(
                    f"the date {a}/{b}/{c} is not a valid date in the order the rest of the file uses "
                    f"({best.upper()[0]}/{best.upper()[1]}/{best.upper()[2]})",
                    path=path,
                    line=line,
                )
    if len(valid) == 1:
        return valid[0][0]

    def inversions(dates: list[date | None]) -> int:
        return sum(1 for x, y in itertools.pairwise(dates) if x and y and y > x)

    ranked = sorted(valid, key=lambda od: (inversions(od[1]), _ORDERS.index(od[0])))
    return ranked[0][0]


def load_viewing_history(path: str | Path) -> list[ViewingEntry]:
    """Read a viewing-activity CSV; errors name the file and line."""
    path = Path(path)
    text = decode(read_bytes(path), path)
    first = text.split("\n", 1)[0].strip().lower().replace(" ", "")
    if first != "title,date":
        raise InputError(
            f"expected the header Title,Date, got {shorten(text.split(chr(10), 1)[0])}",
            path=path,
            line=1,
            hint="download the file from Netflix: Account > Profile > Viewing activity > Download all",
        )
    _, records = csv_records(text, path, what=" (Title,Date; titles with commas must be quoted)")
    rows: list[tuple[str, str, int]] = []
    for start, rec in records:
        title, day = rec[0].strip(), rec[1].strip()
        if not title:
            raise InputError("empty title", path=path, line=start)
        rows.append((title, day, start))
    parsed = []
    for _, day, n in rows:
        m = _DATE.match(day)
        if not m:
            raise InputError(
                f"the date {shorten(day)} is not a date like 10/21/20 or 21.10.2020", path=path, line=n
            )
        a, b, c = m.group(1), m.group(3), m.group(4)
        parsed.append((int(a), int(b), int(c), len(c), n))
    if not parsed:
        return []
    year_first = [p[0] > 31 for p in parsed]  # 2020-10-21 / 2020.10.21
    if any(year_first) and not all(year_first):
        n = parsed[year_first.index(not year_first[0])][4]
        raise InputError("this date's layout differs from the rows above it", path=path, line=n)
    order = "ymd" if year_first[0] else _choose_order(parsed, path)
    out = []
    for (title, _, n), (a, b, c, wc, _) in zip(rows, parsed, strict=True):
        d = _as_date(order, a, b, c, wc)
        if d is None:  # pragma: no cover - _choose_order guarantees validity
            raise InputError("invalid date", path=path, line=n)
        out.append(ViewingEntry(title=title, show_title=show_title(title), date=d, line=n))
    return out


__all__ = ["ViewingEntry", "load_viewing_history", "show_title"]
