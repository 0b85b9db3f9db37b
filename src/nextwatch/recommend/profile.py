"""What a stored profile holds, as immutable snapshots returned by :mod:`nextwatch.recommend.storage`.

A profile is one visitor's state: the movies they liked (in order, with when and how: ticked in a
round, liked from search, or imported from a viewing history), the movies they were shown and did
not tick, how many rounds they went through, the genre counts of their likes, and the content
side's taste-vector state (an opaque JSON object the store keeps without reading). Item ids are the
dataset's raw ``item_id`` strings, so a profile survives a retrain of the model; the dataset
fingerprint it was built against is kept beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: How a like came about: ticked in a round, liked from a search result, or imported from a history.
LIKE_SOURCES = ("round", "search", "import")


def rank_genres(counts: Mapping[str, int], n: int = 5) -> list[tuple[str, int]]:
    """The ``n`` most frequent genres as ``(genre, count)``, by count descending, ties by name.

    Names are compared case-insensitively first (then exactly), so the order is the same whatever
    collation the database uses.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))
    return ranked[:n]


class Like(NamedTuple):
    """One liked item: its raw id, how it was liked (:data:`LIKE_SOURCES`) and when (unix seconds).

    A named tuple rather than a dataclass: a long-lived profile holds thousands, read on every request.
    """

    item_id: str
    source: str
    at: float


@dataclass(frozen=True)
class Round:
    """One round as it happened: the items shown and those ticked (history; an undo does not rewrite it)."""

    number: int
    round_id: str | None
    shown: tuple[str, ...]
    liked: tuple[str, ...]
    at: float


@dataclass(frozen=True)
class RoundResult:
    """What :meth:`record_round` did.

    ``number`` is the round's 1-based position in the profile's history; ``duplicate`` is true when
    the ``round_id`` had already been recorded (a retried POST), in which case nothing changed.
    ``added_likes`` are the ticked items that were not liked before; ``revision`` is the profile's
    revision after the call (see :attr:`Profile.revision`).
    """

    number: int
    duplicate: bool
    added_likes: tuple[str, ...]
    revision: int


@dataclass(frozen=True)
class ImportRecord:
    """One viewing-history import: the report as the importer wrote it and the likes it added.

    ``report`` is the importer's JSON object (matched and unmatched titles, counts, file name...);
    the store keeps it verbatim so a page can list it later. ``added_likes`` are the items that
    became new likes (items already liked keep their first source).
    """

    number: int
    import_id: str | None
    at: float
    report: dict[str, Any]
    added_likes: tuple[str, ...]
    duplicate: bool = False


@dataclass(frozen=True)
class Profile:
    """A consistent snapshot of one profile.

    ``revision`` grows by one with every change to likes, shown items, rounds or imports. The
    taste state carries the revision it was computed at (``taste_revision``): when the two differ
    (another request changed the profile since, or a like was undone), the content side should
    recompute the taste vector from :attr:`likes` instead of updating the stored one.
    """

    profile_id: str
    dataset_fingerprint: str | None
    created_at: float
    updated_at: float
    revision: int
    likes: tuple[Like, ...]
    shown: tuple[str, ...]
    rounds: int
    genre_counts: dict[str, int] = field(default_factory=dict)
    taste_state: dict[str, Any] | None = None
    taste_revision: int | None = None

    @property
    def liked_ids(self) -> tuple[str, ...]:
        """Liked item ids, oldest first."""
        return tuple(like.item_id for like in self.likes)

    @property
    def shown_not_liked(self) -> tuple[str, ...]:
        """Items shown in a round and not (or no longer) liked, in the order first shown: the negatives."""
        liked = set(self.liked_ids)
        return tuple(i for i in self.shown if i not in liked)

    @property
    def seen(self) -> frozenset[str]:
        """Every item that must not be recommended again: shown or liked."""
        return frozenset(self.shown) | frozenset(self.liked_ids)

    @property
    def taste_current(self) -> bool:
        """Whether the stored taste state reflects the current likes."""
        return self.taste_state is not None and self.taste_revision == self.revision

    def top_genres(self, n: int = 5) -> list[tuple[str, int]]:
        """Genres of the liked items by count (ties by name), as in the seed's "Your top 5 genres"."""
        return rank_genres(self.genre_counts, n)
