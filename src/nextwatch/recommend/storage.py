"""Profile storage: a small interface, SQLite by default, any SQLAlchemy URL for shared servers.

:class:`ProfileStore` is the interface the recommender and the web app use. Two implementations
share one body of portable SQL (named ``:param`` placeholders, ``INSERT ... ON CONFLICT DO
NOTHING``), so they behave identically and one test suite checks both:

* :class:`SQLiteProfileStore` — the default: the standard library's ``sqlite3``, one file, WAL
  journal, a busy timeout, foreign keys on, one connection per thread (and per process).
* :class:`SQLAlchemyProfileStore` — a SQLAlchemy Core engine from a URL
  (``postgresql+psycopg://user@host/db``, also ``sqlite:///file.db``), so several server
  processes can share one PostgreSQL database.

:func:`open_store` picks one: a plain path or a ``sqlite:///`` URL opens the SQLite store, any
other URL the SQLAlchemy one.

Concurrency. Every change runs in one transaction that first takes the profile's lock: the
SQLite store begins with ``BEGIN IMMEDIATE`` (one writer at a time; others wait up to the busy
timeout) and, on PostgreSQL, the first statement updates the profile's row, which row-locks it
until commit. Counts are never read-modified-written by the application: rounds are rows (their
number is their position), likes and shown items are rows with a unique key per profile and item.
So two threads or processes posting feedback to one profile lose nothing, and a retried round
(same ``round_id``) is recognised and not counted twice.

Schema. Tables are prefixed ``nw_`` (they can share a database with other things); their version
lives in ``nw_schema``. Opening a store creates the schema when absent, upgrades an older one
through :data:`MIGRATIONS`, and refuses a newer one with :class:`StoreVersionError`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from nextwatch.errors import MissingDependencyError, NextwatchError, NotFoundError
from nextwatch.recommend.profile import (
    LIKE_SOURCES,
    ImportRecord,
    Like,
    Profile,
    Round,
    RoundResult,
    rank_genres,
)

log = logging.getLogger(__name__)

#: The schema version this code reads and writes.
SCHEMA_VERSION = 1
#: The version :func:`_base_ddl` creates; fresh stores are then migrated up to :data:`SCHEMA_VERSION`.
BASE_VERSION = 1
#: ``{from_version: statements}`` bringing a store from ``from_version`` to ``from_version + 1``.
#: Statements must be portable (SQLite and PostgreSQL); add one entry per schema change.
MIGRATIONS: dict[int, tuple[str, ...]] = {}

#: Seconds a writer waits for the SQLite write lock before giving up.
DEFAULT_BUSY_TIMEOUT = 30.0
#: seconds between the SQLite store's background WAL checkpoints (None: SQLite checkpoints inline)
DEFAULT_CHECKPOINT_INTERVAL = 0.5
#: with background checkpoints, a committing connection still checkpoints if the WAL reaches this
#: many pages (about 40 MB): the safety net should the checkpointer fall behind
_WAL_FALLBACK_PAGES = 10_000
#: Key of the PostgreSQL advisory lock that serialises schema creation across processes.
_PG_SCHEMA_LOCK = 0x6E77_7072  # "nwpr"
_MAX_ID = 512
#: Most ids bound in one ``IN (...)`` list (far below SQLite's and PostgreSQL's parameter limits).
_IN_CHUNK = 500


class StoreVersionError(NextwatchError):
    """The profile store's schema version is not one this nextwatch can use."""


Genres = Mapping[str, Sequence[str]]


@runtime_checkable
class ProfileStore(Protocol):
    """Where profiles live. Every method is safe to call from several threads at once.

    Profiles are named by an opaque ``profile_id`` (for the web app, a random token kept in a
    signed cookie). Methods that change a profile raise :class:`~nextwatch.errors.NotFoundError`
    for an unknown one: call :meth:`ensure_profile` first.
    """

    schema_version: int

    def ensure_profile(self, profile_id: str, dataset_fingerprint: str | None = None) -> Profile:
        """Return the profile, creating it empty if absent."""
        ...

    def create_profile(self, profile_id: str, dataset_fingerprint: str | None = None) -> Profile:
        """Create an empty profile; error if it exists."""
        ...

    def get_profile(self, profile_id: str) -> Profile:
        """A consistent snapshot of the profile."""
        ...

    def has_profile(self, profile_id: str) -> bool: ...

    def delete_profile(self, profile_id: str) -> bool: ...

    def record_round(
        self,
        profile_id: str,
        shown: Sequence[str],
        liked: Sequence[str],
        *,
        round_id: str | None = None,
        genres: Genres | None = None,
    ) -> RoundResult:
        """Record one round (items shown, those ticked) in one transaction; idempotent per ``round_id``."""
        ...

    def like(
        self, profile_id: str, item_id: str, source: str = "search", *, genres: Genres | None = None
    ) -> bool:
        """Like one item; False if it was already liked."""
        ...

    def unlike(self, profile_id: str, item_id: str) -> bool:
        """Undo a like; False if the item was not liked."""
        ...

    def set_taste_state(
        self, profile_id: str, state: Mapping[str, Any] | None, *, revision: int | None = None
    ) -> bool:
        """Store the content side's taste state; with ``revision``, only if the profile is still there."""
        ...

    def reset(self, profile_id: str) -> None:
        """Forget everything the profile holds; the profile itself stays."""
        ...

    def top_genres(self, profile_id: str, n: int = 5) -> list[tuple[str, int]]: ...

    def likes(self, profile_id: str) -> list[Like]: ...

    def shown(self, profile_id: str) -> list[str]: ...

    def shown_not_liked(self, profile_id: str) -> list[str]: ...

    def rounds(self, profile_id: str) -> list[Round]: ...

    def record_import(
        self,
        profile_id: str,
        liked: Sequence[str],
        report: Mapping[str, Any],
        *,
        import_id: str | None = None,
        genres: Genres | None = None,
    ) -> ImportRecord:
        """Add imported likes and keep the import report, in one transaction; idempotent per ``import_id``."""
        ...

    def imports(self, profile_id: str) -> list[ImportRecord]: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Schema


def _base_ddl(serial: str) -> list[str]:
    """The version-1 tables. ``serial`` is the dialect's auto-increment primary-key column type."""
    return [
        """CREATE TABLE nw_profiles (
            profile_id TEXT PRIMARY KEY,
            dataset_fingerprint TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            revision BIGINT NOT NULL DEFAULT 0,
            taste_state TEXT,
            taste_revision BIGINT
        )""",
        f"""CREATE TABLE nw_likes (
            seq {serial},
            profile_id TEXT NOT NULL REFERENCES nw_profiles (profile_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            source TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            UNIQUE (profile_id, item_id)
        )""",
        """CREATE TABLE nw_like_genres (
            profile_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            genre TEXT NOT NULL,
            PRIMARY KEY (profile_id, item_id, genre),
            FOREIGN KEY (profile_id, item_id) REFERENCES nw_likes (profile_id, item_id) ON DELETE CASCADE
        )""",
        f"""CREATE TABLE nw_shown (
            seq {serial},
            profile_id TEXT NOT NULL REFERENCES nw_profiles (profile_id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            UNIQUE (profile_id, item_id)
        )""",
        f"""CREATE TABLE nw_rounds (
            seq {serial},
            profile_id TEXT NOT NULL REFERENCES nw_profiles (profile_id) ON DELETE CASCADE,
            round_id TEXT,
            shown TEXT NOT NULL,
            liked TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            UNIQUE (profile_id, round_id)
        )""",
        f"""CREATE TABLE nw_imports (
            seq {serial},
            profile_id TEXT NOT NULL REFERENCES nw_profiles (profile_id) ON DELETE CASCADE,
            import_id TEXT,
            report TEXT NOT NULL,
            added TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            UNIQUE (profile_id, import_id)
        )""",
        # likes and shown items are read in order on every request
        "CREATE INDEX nw_likes_by_profile ON nw_likes (profile_id, seq)",
        "CREATE INDEX nw_shown_by_profile ON nw_shown (profile_id, seq)",
    ]


# --------------------------------------------------------------------------------------------
# Transactions: the one thing the two implementations do differently.


class _Tx(Protocol):
    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> int: ...

    def many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]: ...

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None: ...


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise NextwatchError(
            f"{what} must be a non-empty string of at most {_MAX_ID} characters, got {value!r}"
        )
    return value


def _check_items(items: Iterable[str], what: str) -> tuple[str, ...]:
    """Validate item ids and drop repeats, keeping first-seen order."""
    if isinstance(items, str):
        raise NextwatchError(f"{what} must be a list of item ids, not a single string {items!r}")
    return tuple(dict.fromkeys(_check_id(i, f"an item id in {what}") for i in items))


def _json_text(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise NextwatchError(f"{what} must be JSON-serialisable: {e}") from None


class SqlProfileStore(ABC):
    """The store's logic in portable SQL; subclasses provide connections and transactions.

    ``item_genres`` (item id -> genres) is where genres of newly liked items are looked up when a
    call does not pass its own ``genres`` mapping; an item found in neither has no genres.
    """

    #: Column type of an auto-increment primary key in this dialect.
    _serial = "INTEGER PRIMARY KEY"
    #: Whether ``UPDATE ... RETURNING`` works (PostgreSQL; SQLite from 3.35): one round trip fewer.
    _returning = False

    def __init__(self, *, item_genres: Genres | None = None) -> None:
        self.item_genres: Genres | None = item_genres
        self.schema_version = 0

    # -- provided by subclasses ------------------------------------------------------------
    @abstractmethod
    def _tx(self, write: bool) -> contextlib.AbstractContextManager[_Tx]:
        """A transaction: for writes, one that serialises with every other writer to the profile."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data lives (a file path or a URL without its password), for messages."""

    @abstractmethod
    def _schema_lock(self, tx: _Tx) -> None:
        """Serialise schema creation with other processes, inside the schema transaction."""

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> SqlProfileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    # -- schema -----------------------------------------------------------------------------
    def _init_schema(self, migrate: bool) -> None:
        with self._tx(write=True) as tx:
            self._schema_lock(tx)
            tx.run("CREATE TABLE IF NOT EXISTS nw_schema (version INTEGER NOT NULL)")
            row = tx.one("SELECT version FROM nw_schema")
            if row is None:
                for stmt in _base_ddl(self._serial):
                    tx.run(stmt)
                tx.run("INSERT INTO nw_schema (version) VALUES (:v)", {"v": BASE_VERSION})
                found, fresh = BASE_VERSION, True
            else:
                found, fresh = int(row[0]), False
            if found > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"the profile store at {self.location} has schema version {found}, but this nextwatch "
                    f"reads version {SCHEMA_VERSION}",
                    hint="upgrade nextwatch, or point it at another profile store",
                )
            if found < SCHEMA_VERSION:
                if not (migrate or fresh):
                    raise StoreVersionError(
                        f"the profile store at {self.location} has schema version {found}; this nextwatch "
                        f"needs version {SCHEMA_VERSION}",
                        hint="open it with migrate=True to upgrade it in place",
                    )
                for version in range(found, SCHEMA_VERSION):
                    steps = MIGRATIONS.get(version)
                    if steps is None:
                        raise StoreVersionError(
                            f"the profile store at {self.location} has schema version {found}, and there is "
                            f"no migration from version {version} to {version + 1}",
                            hint="start a new profile store (profiles cannot be carried over)",
                        )
                    for stmt in steps:
                        tx.run(stmt)
                tx.run("UPDATE nw_schema SET version = :v", {"v": SCHEMA_VERSION})
                if not fresh:
                    log.info(
                        "profile store %s migrated from schema v%d to v%d",
                        self.location,
                        found,
                        SCHEMA_VERSION,
                    )
        self.schema_version = SCHEMA_VERSION

    # -- helpers inside a transaction ------------------------------------------------------
    @staticmethod
    def _lock(tx: _Tx, profile_id: str) -> None:
        """Take the profile's write lock (a no-op update row-locks it), or raise NotFoundError."""
        n = tx.run("UPDATE nw_profiles SET revision = revision WHERE profile_id = :p", {"p": profile_id})
        if n == 0:
            raise NotFoundError(f"no profile {profile_id!r}", hint="create it first (ensure_profile)")

    def _bump(self, tx: _Tx, profile_id: str, now: float) -> int:
        """Count one change: the revision grows by one; return the new revision."""
        sql = "UPDATE nw_profiles SET revision = revision + 1, updated_at = :now WHERE profile_id = :p"
        params = {"p": profile_id, "now": now}
        if self._returning:
            row = tx.one(sql + " RETURNING revision", params)
            assert row is not None
            return int(row[0])
        tx.run(sql, params)
        return self._revision(tx, profile_id)

    @staticmethod
    def _revision(tx: _Tx, profile_id: str) -> int:
        row = tx.one("SELECT revision FROM nw_profiles WHERE profile_id = :p", {"p": profile_id})
        assert row is not None
        return int(row[0])

    def _genres_for(self, item_id: str, genres: Genres | None) -> list[str]:
        for mapping in (genres, self.item_genres):
            if mapping is not None and item_id in mapping:
                found = mapping[item_id]
                if isinstance(found, str):
                    raise NextwatchError(f"genres of {item_id!r} must be a list of names, not {found!r}")
                return list(dict.fromkeys(g for g in found if g))
        return []

    def _add_likes(
        self, tx: _Tx, profile_id: str, items: Sequence[str], source: str, now: float, genres: Genres | None
    ) -> tuple[str, ...]:
        """Insert likes that do not exist yet (with their genres); return the ones added.

        Runs under the profile's lock, so the items found already liked cannot change before the
        insert; two statements whatever the number of items (an import can bring thousands).
        """
        existing: set[str] = set()
        for start in range(0, len(items), _IN_CHUNK):
            chunk = {f"i{k}": item for k, item in enumerate(items[start : start + _IN_CHUNK])}
            marks = ", ".join(f":{name}" for name in chunk)
            existing.update(
                r[0]
                for r in tx.all(
                    f"SELECT item_id FROM nw_likes WHERE profile_id = :p AND item_id IN ({marks})",
                    {"p": profile_id, **chunk},
                )
            )
        added = [i for i in items if i not in existing]
        tx.many(
            "INSERT INTO nw_likes (profile_id, item_id, source, at) VALUES (:p, :i, :s, :at) "
            "ON CONFLICT (profile_id, item_id) DO NOTHING",
            [{"p": profile_id, "i": i, "s": source, "at": now} for i in added],
        )
        rows = [{"p": profile_id, "i": i, "g": g} for i in added for g in self._genres_for(i, genres)]
        tx.many("INSERT INTO nw_like_genres (profile_id, item_id, genre) VALUES (:p, :i, :g)", rows)
        return tuple(added)

    def _read_profile(self, tx: _Tx, profile_id: str) -> Profile:
        row = tx.one(
            "SELECT dataset_fingerprint, created_at, updated_at, revision, taste_state, taste_revision "
            "FROM nw_profiles WHERE profile_id = :p",
            {"p": profile_id},
        )
        if row is None:
            raise NotFoundError(f"no profile {profile_id!r}")
        p = {"p": profile_id}
        likes = tuple(
            map(
                Like._make,
                tx.all("SELECT item_id, source, at FROM nw_likes WHERE profile_id = :p ORDER BY seq", p),
            )
        )
        shown = tuple(
            r[0] for r in tx.all("SELECT item_id FROM nw_shown WHERE profile_id = :p ORDER BY seq", p)
        )
        n_rounds = tx.one("SELECT COUNT(*) FROM nw_rounds WHERE profile_id = :p", p)
        return Profile(
            profile_id=profile_id,
            dataset_fingerprint=row[0],
            created_at=float(row[1]),
            updated_at=float(row[2]),
            revision=int(row[3]),
            likes=likes,
            shown=shown,
            rounds=int(n_rounds[0]) if n_rounds else 0,
            genre_counts=self._genre_counts(tx, profile_id),
            taste_state=None if row[4] is None else json.loads(row[4]),
            taste_revision=None if row[5] is None else int(row[5]),
        )

    @staticmethod
    def _genre_counts(tx: _Tx, profile_id: str) -> dict[str, int]:
        rows = tx.all(
            "SELECT genre, COUNT(*) FROM nw_like_genres WHERE profile_id = :p GROUP BY genre",
            {"p": profile_id},
        )
        return {g: int(c) for g, c in rows}

    @staticmethod
    def _require(tx: _Tx, profile_id: str) -> None:
        if tx.one("SELECT 1 FROM nw_profiles WHERE profile_id = :p", {"p": profile_id}) is None:
            raise NotFoundError(f"no profile {profile_id!r}")

    # -- profiles --------------------------------------------------------------------------
    def _insert_profile(self, tx: _Tx, profile_id: str, fingerprint: str | None, now: float) -> bool:
        return bool(
            tx.run(
                "INSERT INTO nw_profiles (profile_id, dataset_fingerprint, created_at, updated_at, revision) "
                "VALUES (:p, :fp, :now, :now, 0) ON CONFLICT (profile_id) DO NOTHING",
                {"p": profile_id, "fp": fingerprint, "now": now},
            )
        )

    def ensure_profile(self, profile_id: str, dataset_fingerprint: str | None = None) -> Profile:
        """Return the profile, creating it empty if absent.

        When ``dataset_fingerprint`` differs from the one stored, it is updated and the taste state is
        dropped (it was computed over another catalogue); likes and shown items are raw item ids and
        are kept.
        """
        _check_id(profile_id, "profile_id")
        # the common case first, without taking the write lock
        with contextlib.suppress(NotFoundError), self._tx(write=False) as tx:
            found = self._read_profile(tx, profile_id)
            if dataset_fingerprint is None or found.dataset_fingerprint == dataset_fingerprint:
                return found
        now = time.time()
        with self._tx(write=True) as tx:
            if not self._insert_profile(tx, profile_id, dataset_fingerprint, now) and dataset_fingerprint:
                row = tx.one(
                    "SELECT dataset_fingerprint FROM nw_profiles WHERE profile_id = :p", {"p": profile_id}
                )
                if row is not None and row[0] != dataset_fingerprint:
                    log.info(
                        "profile %s moves from dataset %s to %s; its taste state is recomputed",
                        profile_id,
                        row[0],
                        dataset_fingerprint,
                    )
                    tx.run(
                        "UPDATE nw_profiles SET dataset_fingerprint = :fp, taste_state = NULL, "
                        "taste_revision = NULL WHERE profile_id = :p",
                        {"p": profile_id, "fp": dataset_fingerprint},
                    )
            return self._read_profile(tx, profile_id)

    def create_profile(self, profile_id: str, dataset_fingerprint: str | None = None) -> Profile:
        """Create an empty profile; :class:`NextwatchError` if one with this id exists."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=True) as tx:
            if not self._insert_profile(tx, profile_id, dataset_fingerprint, time.time()):
                raise NextwatchError(f"profile {profile_id!r} already exists")
            return self._read_profile(tx, profile_id)

    def get_profile(self, profile_id: str) -> Profile:
        """A consistent snapshot of the profile; :class:`NotFoundError` if there is none."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=False) as tx:
            return self._read_profile(tx, profile_id)

    def has_profile(self, profile_id: str) -> bool:
        _check_id(profile_id, "profile_id")
        with self._tx(write=False) as tx:
            return tx.one("SELECT 1 FROM nw_profiles WHERE profile_id = :p", {"p": profile_id}) is not None

    def delete_profile(self, profile_id: str) -> bool:
        """Remove the profile and everything it holds; False if there was none."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=True) as tx:
            self._delete_contents(tx, profile_id)
            return bool(tx.run("DELETE FROM nw_profiles WHERE profile_id = :p", {"p": profile_id}))

    @staticmethod
    def _delete_contents(tx: _Tx, profile_id: str) -> None:
        for table in ("nw_like_genres", "nw_likes", "nw_shown", "nw_rounds", "nw_imports"):
            tx.run(f"DELETE FROM {table} WHERE profile_id = :p", {"p": profile_id})

    # -- feedback --------------------------------------------------------------------------
    def record_round(
        self,
        profile_id: str,
        shown: Sequence[str],
        liked: Sequence[str],
        *,
        round_id: str | None = None,
        genres: Genres | None = None,
    ) -> RoundResult:
        """Record one round in one transaction: ``shown`` items, of which ``liked`` were ticked.

        Every ticked item must be among those shown. Liked items become likes with source
        ``"round"`` (an item liked before keeps its first like); shown items are remembered so they
        never come back. With a ``round_id`` (e.g. a token in the page's form), a retried request
        for a round already recorded changes nothing and returns ``duplicate=True``.
        """
        _check_id(profile_id, "profile_id")
        shown_t = _check_items(shown, "shown")
        liked_t = _check_items(liked, "liked")
        if round_id is not None:
            _check_id(round_id, "round_id")
        if not shown_t:
            raise NextwatchError("a round must show at least one item")
        stray = [i for i in liked_t if i not in set(shown_t)]
        if stray:
            raise NextwatchError(f"liked items that were not shown in this round: {', '.join(stray)}")
        now = time.time()
        with self._tx(write=True) as tx:
            self._lock(tx, profile_id)
            if round_id is not None:
                row = tx.one(
                    "SELECT seq FROM nw_rounds WHERE profile_id = :p AND round_id = :r",
                    {"p": profile_id, "r": round_id},
                )
                if row is not None:
                    number = tx.one(
                        "SELECT COUNT(*) FROM nw_rounds WHERE profile_id = :p AND seq <= :s",
                        {"p": profile_id, "s": row[0]},
                    )
                    log.info(
                        "round %s of profile %s was already recorded; ignoring the repeat",
                        round_id,
                        profile_id,
                    )
                    assert number is not None
                    return RoundResult(int(number[0]), True, (), self._revision(tx, profile_id))
            tx.run(
                "INSERT INTO nw_rounds (profile_id, round_id, shown, liked, at) VALUES (:p, :r, :s, :l, :at)",
                {
                    "p": profile_id,
                    "r": round_id,
                    "s": _json_text(list(shown_t), "shown"),
                    "l": _json_text(list(liked_t), "liked"),
                    "at": now,
                },
            )
            tx.many(
                "INSERT INTO nw_shown (profile_id, item_id, at) VALUES (:p, :i, :at) "
                "ON CONFLICT (profile_id, item_id) DO NOTHING",
                [{"p": profile_id, "i": i, "at": now} for i in shown_t],
            )
            added = self._add_likes(tx, profile_id, liked_t, "round", now, genres)
            number = tx.one("SELECT COUNT(*) FROM nw_rounds WHERE profile_id = :p", {"p": profile_id})
            assert number is not None
            return RoundResult(int(number[0]), False, added, self._bump(tx, profile_id, now))

    def like(
        self, profile_id: str, item_id: str, source: str = "search", *, genres: Genres | None = None
    ) -> bool:
        """Like one item outside a round (from search, say); False if it was already liked."""
        _check_id(profile_id, "profile_id")
        _check_id(item_id, "item_id")
        if source not in LIKE_SOURCES:
            raise NextwatchError(f"unknown like source {source!r}; expected one of {', '.join(LIKE_SOURCES)}")
        now = time.time()
        with self._tx(write=True) as tx:
            self._lock(tx, profile_id)
            added = self._add_likes(tx, profile_id, (item_id,), source, now, genres)
            if added:
                self._bump(tx, profile_id, now)
            return bool(added)

    def unlike(self, profile_id: str, item_id: str) -> bool:
        """Undo a like: the item and its genres leave the likes; False if it was not liked.

        An item that had been shown in a round stays shown, so it becomes shown-not-liked again, as
        before it was ticked; one liked from search or an import is forgotten entirely. The round
        history is left as it happened.
        """
        _check_id(profile_id, "profile_id")
        _check_id(item_id, "item_id")
        with self._tx(write=True) as tx:
            self._lock(tx, profile_id)
            p = {"p": profile_id, "i": item_id}
            tx.run("DELETE FROM nw_like_genres WHERE profile_id = :p AND item_id = :i", p)
            removed = tx.run("DELETE FROM nw_likes WHERE profile_id = :p AND item_id = :i", p)
            if removed:
                self._bump(tx, profile_id, time.time())
            return bool(removed)

    def set_taste_state(
        self, profile_id: str, state: Mapping[str, Any] | None, *, revision: int | None = None
    ) -> bool:
        """Store the content side's taste state (a JSON object), tagged with the profile's revision.

        With ``revision`` (the one the state was computed from), the state is stored only if the
        profile has not changed since; otherwise nothing is written and False is returned, so a
        slow request never overwrites a newer taste with a stale one. ``None`` clears the state.
        """
        _check_id(profile_id, "profile_id")
        text = None if state is None else _json_text(dict(state), "the taste state")
        with self._tx(write=True) as tx:
            self._lock(tx, profile_id)
            current = self._revision(tx, profile_id)
            if revision is not None and revision != current:
                return False
            tx.run(
                "UPDATE nw_profiles SET taste_state = :s, taste_revision = :r WHERE profile_id = :p",
                {"p": profile_id, "s": text, "r": None if text is None else current},
            )
            return True

    def reset(self, profile_id: str) -> None:
        """Forget likes, shown items, rounds, imports and the taste state; keep the (empty) profile."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=True) as tx:
            self._lock(tx, profile_id)
            self._delete_contents(tx, profile_id)
            tx.run(
                "UPDATE nw_profiles SET taste_state = NULL, taste_revision = NULL WHERE profile_id = :p",
                {"p": profile_id},
            )
            self._bump(tx, profile_id, time.time())

    # -- reading ---------------------------------------------------------------------------
    def top_genres(self, profile_id: str, n: int = 5) -> list[tuple[str, int]]:
        """The ``n`` most frequent genres among liked items, as ``(genre, count)``; ties by name."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=False) as tx:
            self._require(tx, profile_id)
            return rank_genres(self._genre_counts(tx, profile_id), n)

    def likes(self, profile_id: str) -> list[Like]:
        """Liked items, oldest first."""
        return list(self.get_profile(profile_id).likes)

    def shown(self, profile_id: str) -> list[str]:
        """Items ever shown in a round, in the order first shown."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=False) as tx:
            self._require(tx, profile_id)
            return [
                r[0]
                for r in tx.all(
                    "SELECT item_id FROM nw_shown WHERE profile_id = :p ORDER BY seq", {"p": profile_id}
                )
            ]

    def shown_not_liked(self, profile_id: str) -> list[str]:
        """Items shown and not liked: the negatives of a fold-in."""
        return list(self.get_profile(profile_id).shown_not_liked)

    def rounds(self, profile_id: str) -> list[Round]:
        """The round history, first round first."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=False) as tx:
            self._require(tx, profile_id)
            rows = tx.all(
                "SELECT round_id, shown, liked, at FROM nw_rounds WHERE profile_id = :p ORDER BY seq",
                {"p": profile_id},
            )
        return [
            Round(
                number=k,
                round_id=r[0],
                shown=tuple(json.loads(r[1])),
                liked=tuple(json.loads(r[2])),
                at=float(r[3]),
            )
            for k, r in enumerate(rows, start=1)
        ]

    # -- viewing-history imports -----------------------------------------------------------
    def record_import(
        self,
        profile_id: str,
        liked: Sequence[str],
        report: Mapping[str, Any],
        *,
        import_id: str | None = None,
        genres: Genres | None = None,
    ) -> ImportRecord:
        """Add the items an import matched as likes (source ``"import"``) and keep its report.

        One transaction: either the likes and the report are both stored, or neither. ``report``
        is the importer's JSON object (matched and unmatched titles...), kept verbatim. With an
        ``import_id`` (e.g. the file's sha256), importing the same file again changes nothing and
        returns the first record with ``duplicate=True``.
        """
        _check_id(profile_id, "profile_id")
        items = _check_items(liked, "liked")
        if import_id is not None:
            _check_id(import_id, "import_id")
        if not isinstance(report, Mapping):
            raise NextwatchError(f"an import report must be a JSON object, got {type(report).__name__}")
        report_text = _json_text(dict(report), "the import report")
        now = time.time()
        with self._tx(write=True) as tx:
            self._lock(tx, profile_id)
            if import_id is not None:
                row = tx.one(
                    "SELECT seq FROM nw_imports WHERE profile_id = :p AND import_id = :i",
                    {"p": profile_id, "i": import_id},
                )
                if row is not None:
                    first = next(r for r in self._imports(tx, profile_id) if r.import_id == import_id)
                    return ImportRecord(
                        first.number,
                        first.import_id,
                        first.at,
                        first.report,
                        first.added_likes,
                        duplicate=True,
                    )
            added = self._add_likes(tx, profile_id, items, "import", now, genres)
            tx.run(
                "INSERT INTO nw_imports (profile_id, import_id, report, added, at) "
                "VALUES (:p, :i, :r, :a, :at)",
                {
                    "p": profile_id,
                    "i": import_id,
                    "r": report_text,
                    "a": _json_text(list(added), "added"),
                    "at": now,
                },
            )
            self._bump(tx, profile_id, now)
            return self._imports(tx, profile_id)[-1]

    @staticmethod
    def _imports(tx: _Tx, profile_id: str) -> list[ImportRecord]:
        rows = tx.all(
            "SELECT import_id, report, added, at FROM nw_imports WHERE profile_id = :p ORDER BY seq",
            {"p": profile_id},
        )
        return [
            ImportRecord(
                number=k,
                import_id=r[0],
                at=float(r[3]),
                report=json.loads(r[1]),
                added_likes=tuple(json.loads(r[2])),
            )
            for k, r in enumerate(rows, start=1)
        ]

    def imports(self, profile_id: str) -> list[ImportRecord]:
        """The profile's viewing-history imports, oldest first."""
        _check_id(profile_id, "profile_id")
        with self._tx(write=False) as tx:
            self._require(tx, profile_id)
            return self._imports(tx, profile_id)


# --------------------------------------------------------------------------------------------
# Implementation 1: the standard library's sqlite3


class _SqliteTx:
    __slots__ = ("_c",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        return self._c.execute(sql, params or {}).rowcount

    def many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._c.executemany(sql, rows)

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._c.execute(sql, params or {}).fetchall()

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._c.execute(sql, params or {}).fetchone()
        return row


class _HeldConnection:
    """One thread's connection, remembered with the process that opened it."""

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: sqlite3.Connection, pid: int) -> None:
        self.conn, self.pid = conn, pid


def _close_if_owner(conn: sqlite3.Connection, pid: int) -> None:
    # A connection inherited through fork() belongs to the parent: the child must not close it.
    if os.getpid() == pid:
        conn.close()


def _checkpoint_loop(
    store_ref: weakref.ref[SQLiteProfileStore],
    path: Path,
    interval: float,
    busy_timeout: float,
    stop: threading.Event,
) -> None:
    """Body of a SQLite store's checkpoint thread: a PASSIVE WAL checkpoint every ``interval`` s."""
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    except sqlite3.DatabaseError as e:  # the requests' own connections will report it
        log.warning("WAL checkpointer for %s could not connect: %s", path, e)
        return
    try:
        while not stop.wait(interval):
            store = store_ref()
            if store is None:
                break
            try:
                # PASSIVE: copies what it can without waiting for, or blocking, readers and writers
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                store.checkpoints += 1
            except sqlite3.DatabaseError as e:
                log.debug("WAL checkpoint of %s skipped: %s", path, e)
            del store
    finally:
        conn.close()


class SQLiteProfileStore(SqlProfileStore):
    """Profiles in one SQLite file through the standard library.

    WAL journal (readers never block the writer), ``synchronous=NORMAL`` (a committed round
    survives a crash of the process; the last ones may be lost on power failure), foreign keys on,
    and a busy timeout so concurrent writers wait instead of failing. Each thread (and each
    process, after a fork) gets its own connection; writes take ``BEGIN IMMEDIATE``.

    WAL checkpoints (copying the log back into the database file, with an fsync) run in a
    background thread every ``checkpoint_interval`` seconds, so that no request pays for one:
    left to SQLite, the commit that crosses 1,000 WAL pages checkpoints inline, which cost that
    round about 15 ms here, often enough to set the p99. Committing connections still checkpoint
    themselves if the log ever reaches ``_WAL_FALLBACK_PAGES``. ``checkpoint_interval=None`` keeps
    SQLite's inline checkpoints.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        item_genres: Genres | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        migrate: bool = True,
        checkpoint_interval: float | None = DEFAULT_CHECKPOINT_INTERVAL,
    ) -> None:
        super().__init__(item_genres=item_genres)
        if checkpoint_interval is not None and checkpoint_interval <= 0:
            raise NextwatchError(f"checkpoint_interval={checkpoint_interval} must be > 0 seconds (or None)")
        if str(path) in ("", ":memory:"):
            raise NextwatchError("the SQLite profile store needs a file, not an in-memory database")
        self.path = Path(path).expanduser().absolute()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout = float(busy_timeout)
        self._local = threading.local()
        self._held: weakref.WeakSet[_HeldConnection] = weakref.WeakSet()
        self._guard = threading.Lock()
        self._closed = False
        self._returning = sqlite3.sqlite_version_info >= (3, 35, 0)
        self.checkpoint_interval = checkpoint_interval
        #: background checkpoints that ran (in this process)
        self.checkpoints = 0
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._checkpointer_pid = -1
        self._init_schema(migrate)
        log.debug("profile store: SQLite file %s (schema v%d)", self.path, self.schema_version)

    @property
    def location(self) -> str:
        return str(self.path)

    def _schema_lock(self, tx: _Tx) -> None:
        """Nothing to do: the schema transaction's BEGIN IMMEDIATE already excludes other writers."""
        return None

    def _connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        held: _HeldConnection | None = getattr(self._local, "held", None)
        if held is not None and held.pid == pid and not self._closed:
            return held.conn
        if self._closed:
            raise NextwatchError(f"the profile store at {self.path} is closed")
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            if self.checkpoint_interval is not None:
                conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_FALLBACK_PAGES}")
        except sqlite3.DatabaseError as e:
            raise NextwatchError(f"cannot open the profile store {self.path}: {e}") from e
        if self.checkpoint_interval is not None:
            self._start_checkpointer(pid)
        held = _HeldConnection(conn, pid)
        # closed when its thread ends (the thread-local lets go of it), or by close()
        weakref.finalize(held, _close_if_owner, conn, pid)
        self._local.held = held
        with self._guard:
            self._held.add(held)
        return conn

    @contextlib.contextmanager
    def _tx(self, write: bool) -> Iterator[_Tx]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield _SqliteTx(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _start_checkpointer(self, pid: int) -> None:
        """Start this process's checkpoint thread (once per process: a fork does not copy threads).

        The thread holds only a weak reference to the store and stops when the store is closed or
        garbage-collected.
        """
        assert self.checkpoint_interval is not None
        with self._guard:
            if self._checkpointer_pid == pid or self._closed:
                return
            self._checkpointer_pid = pid
            self._stop = threading.Event()
            thread = threading.Thread(
                target=_checkpoint_loop,
                args=(weakref.ref(self), self.path, self.checkpoint_interval, self.busy_timeout, self._stop),
                name="nextwatch-wal-checkpoint",
                daemon=True,
            )
            self._checkpointer = thread
            weakref.finalize(self, self._stop.set)
        thread.start()

    def close(self) -> None:
        """Close this process's connections (those of every thread) and stop its checkpointer."""
        pid = os.getpid()
        with self._guard:
            self._closed = True
            mine = [h.conn for h in self._held if h.pid == pid]
            thread = self._checkpointer if self._checkpointer_pid == pid else None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        for conn in mine:
            conn.close()


# --------------------------------------------------------------------------------------------
# Implementation 2: SQLAlchemy Core (PostgreSQL for several server processes; SQLite works too)


@functools.lru_cache(maxsize=256)
def _text(sql: str) -> sa.TextClause:
    return sa.text(sql)


class _SATx:
    __slots__ = ("_c",)

    def __init__(self, conn: sa.Connection) -> None:
        self._c = conn

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        return int(self._c.execute(_text(sql), dict(params or {})).rowcount)

    def many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._c.execute(_text(sql), [dict(r) for r in rows])

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._c.execute(_text(sql), dict(params or {}))]

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        row = self._c.execute(_text(sql), dict(params or {})).first()
        return None if row is None else tuple(row)


_WRITE_OPTION = "nextwatch_write"


class SQLAlchemyProfileStore(SqlProfileStore):
    """Profiles in any database SQLAlchemy reaches that speaks ``ON CONFLICT``: PostgreSQL or SQLite.

    For PostgreSQL (``postgresql+psycopg://user:password@host:5432/db``) several server processes
    can share one database: a write row-locks the profile it changes, and reads run at REPEATABLE
    READ so a profile snapshot is consistent. Connections come from SQLAlchemy's pool and are
    re-created after a fork.
    """

    def __init__(
        self,
        url: str | sa.URL,
        *,
        item_genres: Genres | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        migrate: bool = True,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(item_genres=item_genres)
        url = _normalise_url(url)
        options: dict[str, Any] = {"pool_pre_ping": True}
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:"):
                raise NextwatchError("the SQLite profile store needs a file, not an in-memory database")
            Path(url.database).expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout}
        elif url.get_backend_name() != "postgresql":
            raise NextwatchError(
                f"profile stores support PostgreSQL and SQLite URLs, not {url.get_backend_name()!r}",
                hint="use postgresql+psycopg://user@host/db or a SQLite file path",
            )
        options.update(engine_options or {})
        try:
            self._engine = sa.create_engine(url, **options)
        except (ImportError, sa.exc.NoSuchModuleError) as e:
            raise MissingDependencyError(
                f"cannot open {url.render_as_string(hide_password=True)}: {e}",
                hint="pip install 'nextwatch[postgres]' (psycopg 3)",
            ) from e
        self._dialect = self._engine.dialect.name
        self._url = url
        self._pid = os.getpid()
        self._closed = False
        if self._dialect == "sqlite":
            self._install_sqlite_hooks(busy_timeout)
            self._returning = sqlite3.sqlite_version_info >= (3, 35, 0)
        else:
            self._serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
            self._returning = True
        try:
            self._init_schema(migrate)
        except sa.exc.OperationalError as e:
            self._engine.dispose()
            raise NextwatchError(
                f"cannot reach the profile store {self.location}: {e.orig or e}",
                hint="is the database server running and the URL right?",
            ) from e
        except BaseException:
            self._engine.dispose()
            raise
        log.debug("profile store: %s (schema v%d)", self.location, self.schema_version)

    @property
    def location(self) -> str:
        return self._url.render_as_string(hide_password=True)

    def _install_sqlite_hooks(self, busy_timeout: float) -> None:
        """Give pysqlite real transactions: we emit BEGIN (IMMEDIATE for writes) ourselves.

        pysqlite's own transaction handling begins lazily and cannot take the write lock up front,
        which lets two read-then-write transactions deadlock (SQLAlchemy documents this recipe).
        """

        @event.listens_for(self._engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(self._engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get(_WRITE_OPTION, True)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def _schema_lock(self, tx: _Tx) -> None:
        """On PostgreSQL, a transaction-scoped advisory lock: concurrent CREATE TABLEs would collide."""
        if self._dialect == "postgresql":
            tx.one("SELECT pg_advisory_xact_lock(:k)", {"k": _PG_SCHEMA_LOCK})

    @contextlib.contextmanager
    def _tx(self, write: bool) -> Iterator[_Tx]:
        if self._closed:
            raise NextwatchError(f"the profile store at {self.location} is closed")
        if os.getpid() != self._pid:  # forked: never share the parent's pooled connections
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        with self._engine.connect() as conn:
            if self._dialect == "sqlite":
                conn.execution_options(**{_WRITE_OPTION: write})
            elif not write:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield _SATx(conn)

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()


# --------------------------------------------------------------------------------------------
# Factory


def _normalise_url(url: str | sa.URL) -> sa.URL:
    """Parse a URL; ``postgres://`` and driver-less ``postgresql://`` mean psycopg 3."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as e:
        raise NextwatchError(f"not a database URL: {url!r}") from e
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def store_location(target: str | os.PathLike[str]) -> tuple[str, str]:
    """Which store :func:`open_store` opens for ``target``: ``("sqlite", path)`` or ``("sqlalchemy", url)``.

    A path, or a ``sqlite:///relative.db`` / ``sqlite:////absolute.db`` URL, is a SQLite file for
    the standard-library store; any other URL (``postgresql://...``, ``sqlite+pysqlite:///...``)
    goes to SQLAlchemy.
    """
    text = os.fspath(target)
    if "://" not in text:
        return "sqlite", text
    if text.startswith("sqlite:///"):
        rest = text[len("sqlite:///") :]
        if "?" in rest:
            raise NextwatchError(f"query options are not supported in a SQLite store URL: {text!r}")
        return "sqlite", rest
    if text.startswith("sqlite:"):
        raise NextwatchError(f"the SQLite profile store needs a file: use sqlite:///path.db, not {text!r}")
    return "sqlalchemy", text


def open_store(
    target: str | os.PathLike[str],
    *,
    item_genres: Genres | None = None,
    migrate: bool = True,
) -> SqlProfileStore:
    """Open (creating if needed) the profile store at a path or URL; see :func:`store_location`."""
    kind, where = store_location(target)
    if kind == "sqlite":
        return SQLiteProfileStore(where, item_genres=item_genres, migrate=migrate)
    return SQLAlchemyProfileStore(where, item_genres=item_genres, migrate=migrate)
