"""A small in-memory recommender following the contract of ``nextwatch.recommend.Recommender``.

Used by the Flask test-client tests (error paths, escaping, routing) so they run in milliseconds
without a trained model; the browser tests run the real server with the real recommender. It keeps
exactly the documented behaviour the web layer relies on: ``next`` never returns a shown or liked
item and is deterministic for a given state, ``feedback`` ignores a repeated ``round_id``,
``import_history`` raises InputError (file/line/what) on a bad CSV and leaves the profile untouched,
unknown ids raise NotFoundError.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from nextwatch.data.dataset import Dataset, Interactions, conform_items, users_frame
from nextwatch.errors import InputError, NotFoundError
from nextwatch.recommend.recommender import ImportReport, Recommendation


@dataclass
class _Profile:
    likes: list[tuple[str, str]] = field(default_factory=list)  # (item_id, source), oldest first
    shown: list[str] = field(default_factory=list)
    rounds: int = 0
    round_ids: set[str] = field(default_factory=set)


class FakeSession:
    def __init__(self, rec: FakeRecommender, pid: str) -> None:
        self._rec = rec
        self._pid = pid

    @property
    def _p(self) -> _Profile:
        return self._rec.profiles[self._pid]

    @property
    def rounds(self) -> int:
        return self._p.rounds

    def next(self, k: int = 5) -> list[Recommendation]:
        with self._rec.lock:
            self._rec.calls.append(("next", self._pid, k))
            seen = set(self._p.shown) | {i for i, _ in self._p.likes}
            liked = [i for i, _ in self._p.likes]
            out = []
            for item_id in self._rec.order:
                if item_id in seen:
                    continue
                card = self._rec.item_card(item_id)
                card.score = 1.0 / (1 + len(out))
                card.reason = (
                    f"because you liked {self._rec.items[liked[-1]].title}" if liked else "popular right now"
                )
                card.scores = {"cf": 0.0, "content": card.score, "weight_cf": 0.0}
                out.append(card)
                if len(out) == k:
                    break
            return out

    def feedback(self, liked: list[str], shown: list[str], round_id: str | None = None) -> None:
        with self._rec.lock:
            self._rec.calls.append(("feedback", self._pid, list(liked), list(shown), round_id))
            for i in [*liked, *shown]:
                self._rec.item_card(i)
            p = self._p
            if round_id is not None and round_id in p.round_ids:
                return
            if round_id is not None:
                p.round_ids.add(round_id)
            have = {i for i, _ in p.likes}
            p.likes.extend((i, "round") for i in liked if i not in have)
            p.shown.extend(i for i in shown if i not in p.shown)
            p.rounds += 1

    def like(self, item_id: str, source: str = "search") -> None:
        with self._rec.lock:
            self._rec.item_card(item_id)
            if item_id not in {i for i, _ in self._p.likes}:
                self._p.likes.append((item_id, source))

    def undo(self, item_id: str) -> None:
        with self._rec.lock:
            self._rec.item_card(item_id)
            self._p.likes = [(i, s) for i, s in self._p.likes if i != item_id]

    def reset(self) -> None:
        with self._rec.lock:
            self._rec.profiles[self._pid] = _Profile()

    def top_genres(self, n: int = 5) -> list[tuple[str, int]]:
        counts: Counter[str] = Counter()
        for i, _ in self._p.likes:
            counts.update(self._rec.items[i].genres)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold()))[:n]

    def likes(self) -> list[Recommendation]:
        return [self._rec.item_card(i) for i, _ in reversed(self._p.likes)]

    def import_history(self, path_or_fileobj: Any) -> ImportReport:
        if isinstance(path_or_fileobj, str | os.PathLike):
            name = str(path_or_fileobj)
            raw = Path(path_or_fileobj).read_bytes()
        else:
            name = getattr(path_or_fileobj, "name", "<upload>")
            raw = path_or_fileobj.read()
        try:
            text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text; is this a Netflix viewing-activity CSV?", path=name) from None
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or [c.strip() for c in rows[0][:2]] != ["Title", "Date"]:
            raise InputError("expected a header 'Title,Date'", path=name, line=1)
        titles = []
        for n, row in enumerate(rows[1:], start=2):
            if len(row) != 2:
                raise InputError(f"expected 2 fields (Title,Date), found {len(row)}", path=name, line=n)
            titles.append(row[0].split(": ")[0].strip())
        by_title = {it.title.casefold(): it.item_id for it in self._rec.items.values()}
        matched, unmatched = [], []
        for t in dict.fromkeys(titles):
            if t.casefold() in by_title:
                matched.append((t, self._rec.item_card(by_title[t.casefold()])))
            else:
                unmatched.append(t)
        for _, card in matched:  # all-or-nothing: the parse above raised before any change
            self.like(card.item_id, source="import")
        return ImportReport(matched=matched, unmatched=unmatched, n_rows=len(rows) - 1)


def _dataset(items: list[dict[str, Any]]) -> Dataset:
    frame = pl.DataFrame(
        {
            "item_idx": list(range(len(items))),
            "item_id": [str(it["item_id"]) for it in items],
            "title": [it["title"] for it in items],
            "year": [it.get("year") for it in items],
            "genres": [list(it.get("genres", [])) for it in items],
            "kind": [it.get("kind") for it in items],
            "description": [it.get("description") for it in items],
        }
    )
    return Dataset(Interactions.empty(), conform_items(frame), users_frame([]), {"fingerprint": "fake"})


class FakeRecommender:
    """In-memory catalogue + profiles; ``items`` is a list of dicts with the Recommendation fields."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = {
            str(it["item_id"]): Recommendation(
                item_id=str(it["item_id"]),
                title=it["title"],
                year=it.get("year"),
                genres=list(it.get("genres", [])),
                kind=it.get("kind"),
                description=it.get("description"),
            )
            for it in items
        }
        self.order = list(self.items)
        self.dataset = _dataset(items)
        self.profiles: dict[str, _Profile] = {}
        self.lock = threading.RLock()
        self.calls: list[tuple[Any, ...]] = []

    def item_card(self, item_id: str) -> Recommendation:
        it = self.items.get(str(item_id))
        if it is None:
            raise NotFoundError(f"no item with id {item_id!r}")
        return Recommendation(it.item_id, it.title, it.year, list(it.genres), it.kind, it.description)

    def search_titles(self, query: str, k: int = 10) -> list[Recommendation]:
        q = query.casefold()
        return [self.item_card(i) for i, it in self.items.items() if q in it.title.casefold()][:k]

    def search_semantic(self, query: str, k: int = 10) -> list[Recommendation]:
        words = set(re.findall(r"\w+", query.casefold()))
        scored = [
            (len(words & set(re.findall(r"\w+", (it.description or "").casefold()))), i)
            for i, it in self.items.items()
        ]
        return [self.item_card(i) for s, i in sorted(scored, key=lambda t: -t[0]) if s > 0][:k]

    def session(self, profile_id: str) -> FakeSession:
        with self.lock:
            self.profiles.setdefault(profile_id, _Profile())
        return FakeSession(self, profile_id)


def sample_items() -> list[dict[str, Any]]:
    """Twenty movies, one with a title made to break careless escaping, one in Japanese."""
    genres = [["Drama"], ["Comedy"], ["Action", "Thriller"], ["Drama", "Romance"], ["Animation"]]
    items = [
        {
            "item_id": "1",
            "title": 'Tom & Jerry\'s "Big" <script>alert(1)</script>',
            "year": 1999,
            "genres": ["Comedy", "<b>Bold</b>"],
            "kind": "movie",
            "description": 'A cat & a mouse; <img src=x onerror=alert(2)> "quoted"',
        },
        {
            "item_id": "2",
            "title": "千と千尋の神隠し",
            "year": 2001,
            "genres": ["Animation", "Fantasy"],
            "kind": "movie",
            "description": "少女が神々の世界に迷い込む。 A girl wanders into a world of spirits.",
        },
    ]
    for n in range(3, 21):
        items.append(
            {
                "item_id": str(n),
                "title": f"Movie {n:02d}",
                "year": 1990 + n,
                "genres": genres[n % 5],
                "kind": "movie" if n % 3 else "tv show",
                "description": f"Plot of movie {n} about heists and love.",
            }
        )
    return items
