"""The recommender a person meets: ``Recommender.open(model_dir)``, then sessions of rounds.

::

    rec = Recommender.open("var/demo/model")              # model, dataset items, embeddings, index: once
    s = rec.session("a-profile-id")                       # creates the profile if new
    first = s.next(5)                                     # popular and diverse: nothing known yet
    s.feedback(liked=[first[1].item_id], shown=[r.item_id for r in first])
    s.next(5)                                             # fused CF (folded-in) + content, MMR-diverse
    s.undo(first[1].item_id); s.top_genres(); s.import_history("NetflixViewingHistory.csv")

Profiles live in a :class:`~nextwatch.recommend.storage.ProfileStore` (SQLite by default); items are
named by their raw ``item_id`` everywhere outside this module. The ranking itself is
:class:`~nextwatch.recommend.ranker.HybridRanker`, a pure function of likes and shown items.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from nextwatch.data.dataset import Dataset
from nextwatch.data.titles import TitleIndex, display_title
from nextwatch.errors import NextwatchError, NotFoundError
from nextwatch.recommend.ranker import HybridRanker, Ranked, RankerConfig
from nextwatch.recommend.storage import ProfileStore, open_store

log = logging.getLogger(__name__)


@dataclass
class Recommendation:
    """One movie as shown to a person, with why it was picked."""

    item_id: str
    title: str
    year: int | None
    genres: list[str]
    kind: str | None
    description: str | None
    score: float | None = None
    reason: str | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    """What a viewing-history import matched and what it did not."""

    n_rows: int
    matched: list[tuple[str, Recommendation]]
    unmatched: list[str]
    added: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "n_matched": len(self.matched),
            "n_unmatched": len(self.unmatched),
            "added": self.added,
            "matched": [{"history_title": t, "item": r.to_json()} for t, r in self.matched],
            "unmatched": self.unmatched,
        }


class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)


class Recommender:
    """Everything loaded once and shared by every session (thread-safe: sessions keep no state here)."""

    def __init__(
        self,
        dataset: Dataset,
        ranker: HybridRanker,
        store: ProfileStore,
        *,
        content: Any | None = None,
        model_dir: Path | None = None,
    ) -> None:
        self.dataset = dataset
        self.ranker = ranker
        self.store = store
        self.content = content
        self.model_dir = model_dir
        items = dataset.items
        self._item_ids: list[str] = items["item_id"].to_list()
        self._idx_of = {iid: i for i, iid in enumerate(self._item_ids)}
        self._titles = items["title"].to_list()
        self._years = items["year"].to_list()
        self._genres = items["genres"].to_list()
        self._kinds = items["kind"].to_list()
        self._descriptions = items["description"].to_list()
        self.genres_by_id = {iid: list(g or []) for iid, g in zip(self._item_ids, self._genres, strict=True)}
        self._titles_index: TitleIndex | None = None
        self._lock = threading.Lock()
        #: the last rounds ranked, by (profile, profile revision, k): the ranking is a pure function of them
        self._ranked_cache = _LRU(maxsize=2048)

    # ----------------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        model_dir: str | os.PathLike[str],
        *,
        store: str | os.PathLike[str] | ProfileStore | None = None,
        config: RankerConfig | None = None,
        only_described: bool | None = False,
        content: Any | None = None,
    ) -> Recommender:
        """Load a model folder, its dataset's items, embeddings and index (built on first use).

        ``only_described`` limits recommendations to movies with a description (None: when the catalogue
        has at least 50 of them — what the web page wants, since its cards show descriptions).
        """
        from nextwatch.recommend.loading import load_parts

        parts = load_parts(Path(model_dir), content=content)
        ds = parts.dataset
        allowed = None
        described = ds.items["description"].is_not_null().to_numpy()
        if only_described is None:  # auto (the web page): show described movies when there are enough
            only_described = bool(described.sum() >= 50)
        if only_described and described.any():
            allowed = described
        ranker = HybridRanker(
            parts.popularity,
            cf=parts.cf,
            vectors=None if parts.content is None else parts.content.vectors,
            index=None if parts.content is None else parts.content.index,
            allowed=allowed,
            config=config,
        )
        if not isinstance(store, ProfileStore):
            genres = dict(zip(ds.items["item_id"].to_list(), ds.items["genres"].to_list(), strict=True))
            store = open_store(store or Path(model_dir) / "profiles.sqlite3", item_genres=genres)
        return cls(ds, ranker, store, content=parts.content, model_dir=Path(model_dir))

    # -- items --------------------------------------------------------------------------------
    def index_of(self, item_id: str) -> int:
        try:
            return self._idx_of[str(item_id)]
        except KeyError:
            raise NotFoundError(f"no movie with id {item_id!r} in this catalogue") from None

    def card(self, idx: int, ranked: Ranked | None = None) -> Recommendation:
        rec = Recommendation(
            item_id=self._item_ids[idx],
            title=display_title(self._titles[idx] or ""),
            year=self._years[idx],
            genres=list(self._genres[idx] or []),
            kind=self._kinds[idx],
            description=self._descriptions[idx],
        )
        if ranked is not None:
            rec.score = round(ranked.score, 6)
            rec.scores = ranked.scores
            rec.reason = self._reason(ranked)
        return rec

    def item_card(self, item_id: str) -> Recommendation:
        return self.card(self.index_of(item_id))

    def _reason(self, r: Ranked) -> str:
        if r.reason_kind == "popular" or r.because is None:
            return "popular with viewers: a good place to start"
        name = display_title(self._titles[r.because] or "")
        if r.reason_kind == "cf":
            return f"people who liked {name} also liked this"
        return f"because you liked {name}"

    @property
    def titles(self) -> TitleIndex:
        with self._lock:
            if self._titles_index is None:
                self._titles_index = TitleIndex(self.dataset.items, popularity=self.ranker.popularity)
            return self._titles_index

    def find_title(self, query: str) -> Recommendation:
        """The movie a typed title names ("The Lion King", "Lion King, The (1994)"); NotFoundError lists
        close matches."""
        return self.card(self.titles.find(query))

    def search_titles(self, query: str, k: int = 10) -> list[Recommendation]:
        return [self.card(i) for i, _score in self.titles.search(query, k)]

    def search_semantic(self, query: str, k: int = 10) -> list[Recommendation]:
        if self.content is None:
            raise NextwatchError("semantic search needs the content model (embeddings), which is not loaded")
        res = self.content.search_text(query, k)
        out = []
        for i, s in zip(res.indices.tolist(), res.scores.tolist(), strict=True):
            if i >= 0:
                card = self.card(int(i))
                card.score = round(float(s), 6)
                out.append(card)
        return out

    # -- sessions ---------------------------------------------------------------------------
    def session(self, profile_id: str | None = None) -> Session:
        profile_id = profile_id or uuid.uuid4().hex
        self.store.ensure_profile(profile_id, self.dataset.fingerprint or None)
        return Session(self, profile_id)

    def recommend_for(
        self, liked_ids: list[str], shown_ids: list[str] = (), k: int = 5
    ) -> list[Recommendation]:  # type: ignore[assignment]
        """Stateless: the next ``k`` for someone who liked ``liked_ids`` (raw ids)."""
        liked = [self.index_of(i) for i in liked_ids]
        shown = [self.index_of(i) for i in shown_ids]
        return [self.card(r.item_idx, r) for r in self.ranker.rank(liked, shown, k)]


class Session:
    """One person's rounds; every change goes straight to the profile store."""

    def __init__(self, recommender: Recommender, profile_id: str) -> None:
        self.rec = recommender
        self.profile_id = profile_id

    @property
    def store(self) -> ProfileStore:
        return self.rec.store

    def _known(self, ids: list[str] | tuple[str, ...]) -> list[int]:
        out = []
        for i in ids:
            j = self.rec._idx_of.get(i)
            if j is None:
                log.warning("profile %s refers to item %s, absent from this catalogue", self.profile_id, i)
                continue
            out.append(j)
        return out

    def next(self, k: int = 5) -> list[Recommendation]:
        """The next ``k`` movies: never one already shown or liked."""
        p = self.store.get_profile(self.profile_id)
        key = (self.profile_id, p.created_at, p.revision, k)
        ranked = self.rec._ranked_cache.get(key)
        if ranked is None:  # a reload of an unchanged round costs no fold-in
            ranked = self.rec.ranker.rank(self._known(p.liked_ids), self._known(p.shown), k)
            self.rec._ranked_cache.put(key, ranked)
        return [self.rec.card(r.item_idx, r) for r in ranked]

    def feedback(self, liked: list[str], shown: list[str], round_id: str | None = None) -> None:
        """Record one round: ``shown`` the movies on screen, ``liked`` the ticked ones."""
        for i in [*liked, *shown]:
            self.rec.index_of(i)
        if not set(liked) <= set(shown):
            shown = [*shown, *[i for i in liked if i not in shown]]
        self.store.record_round(
            self.profile_id, shown, liked, round_id=round_id, genres=self.rec.genres_by_id
        )
        self._store_taste()

    def like(self, item_id: str, source: str = "search") -> None:
        self.rec.index_of(item_id)
        self.store.like(self.profile_id, item_id, source, genres=self.rec.genres_by_id)
        self._store_taste()

    def undo(self, item_id: str) -> None:
        """Remove a like (the movie stays shown, so it will not come back)."""
        if not self.store.unlike(self.profile_id, item_id):
            raise NotFoundError(f"{item_id!r} is not among this profile's likes")
        self._store_taste()

    def reset(self) -> None:
        self.store.reset(self.profile_id)

    def top_genres(self, n: int = 5) -> list[tuple[str, int]]:
        return self.store.top_genres(self.profile_id, n)

    def likes(self) -> list[Recommendation]:
        likes = sorted(self.store.likes(self.profile_id), key=lambda like: like.at, reverse=True)
        return [self.rec.card(j) for j in self._known([like.item_id for like in likes])]

    @property
    def rounds(self) -> int:
        return self.store.get_profile(self.profile_id).rounds

    def _store_taste(self) -> None:
        """Keep the content side's taste vector (running mean of liked embeddings) with the profile."""
        content = self.rec.content
        if content is None:
            return
        p = self.store.get_profile(self.profile_id)
        taste = content.new_taste()
        for j in self._known(p.liked_ids):
            taste.add(self.rec._item_ids[j], content.vectors[j])
        self.store.set_taste_state(self.profile_id, taste.to_dict(), revision=p.revision)

    def import_history(self, source: str | os.PathLike[str] | IO[bytes]) -> ImportReport:
        """Netflix viewing activity -> likes. Bad CSV: InputError, profile untouched."""
        from nextwatch.recommend.history import match_history

        report = match_history(self.rec, source)
        ids = [r.item_id for _t, r in report.matched]
        rec = self.store.record_import(self.profile_id, ids, report.to_json(), genres=self.rec.genres_by_id)
        report.added = len(rec.added_likes)
        self._store_taste()
        return report


__all__ = ["ImportReport", "Recommendation", "Recommender", "Session"]
