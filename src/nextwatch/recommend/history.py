"""Warm start from a Netflix viewing-activity export: titles linked to the catalogue become likes.

Each row's title is tried as written, then as its show (``"Show: Season 1: Episode 3"`` belongs to
``"Show"``); a title matches only when the catalogue's title lookup finds exactly one movie (no
fuzzy guesses become likes). Rows of one show collapse to one like. The report lists what matched
and, once each, what did not.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from nextwatch.data.sources.viewing_history import load_viewing_history
from nextwatch.errors import NotFoundError

if TYPE_CHECKING:
    from nextwatch.recommend.recommender import ImportReport, Recommender


def _as_path(source: str | os.PathLike[str] | IO[bytes], tmpdir: str) -> Path:
    if isinstance(source, str | os.PathLike):
        return Path(source)
    target = Path(tmpdir) / (Path(getattr(source, "filename", None) or "NetflixViewingHistory.csv").name)
    target.write_bytes(source.read())
    return target


def match_history(rec: Recommender, source: str | os.PathLike[str] | IO[bytes]) -> ImportReport:
    """Link every row of a viewing-activity CSV to the catalogue (raises InputError on a bad file)."""
    from nextwatch.recommend.recommender import ImportReport

    with tempfile.TemporaryDirectory(prefix="nextwatch-import-") as tmp:
        entries = load_viewing_history(_as_path(source, tmp))
    matched, unmatched = [], []
    seen_items: set[str] = set()
    tried: dict[str, str | None] = {}
    for e in entries:
        item_id = None
        for candidate in dict.fromkeys([e.title, e.show_title]):
            if not candidate:
                continue
            if candidate not in tried:
                try:
                    tried[candidate] = rec.find_title(candidate).item_id
                except NotFoundError:
                    tried[candidate] = None
            item_id = tried[candidate]
            if item_id is not None:
                break
        if item_id is None:
            name = e.show_title or e.title
            if name not in unmatched:
                unmatched.append(name)
        elif item_id not in seen_items:
            seen_items.add(item_id)
            matched.append((e.show_title or e.title, rec.item_card(item_id)))
    return ImportReport(n_rows=len(entries), matched=matched, unmatched=unmatched)
