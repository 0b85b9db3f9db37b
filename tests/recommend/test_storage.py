"""The profile store, one suite run against three backends.

``sqlite``: the standard-library store on a file; ``sqlalchemy-sqlite``: the SQLAlchemy store on a
SQLite file; ``postgresql``: the SQLAlchemy store on a real PostgreSQL server that the session
starts on loopback (tests/recommend/conftest.py). Every expected value is counted by hand from the
feedback the test posts.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nextwatch.errors import NextwatchError, NotFoundError
from nextwatch.recommend import storage
from nextwatch.recommend.profile import Like, Profile, rank_genres
from nextwatch.recommend.storage import (
    ProfileStore,
    SQLAlchemyProfileStore,
    SQLiteProfileStore,
    StoreVersionError,
    open_store,
    store_location,
)

BACKENDS = ["sqlite", "sqlalchemy-sqlite", "postgresql"]


@dataclass(frozen=True)
class Target:
    """Where a backend's data lives: ``kind`` picks the class, ``where`` is its path or URL."""

    kind: str  # "sqlite" or "sqlalchemy"
    where: str

    def open(self, **kwargs: object) -> storage.SqlProfileStore:
        cls = SQLiteProfileStore if self.kind == "sqlite" else SQLAlchemyProfileStore
        return cls(self.where, **kwargs)  # type: ignore[arg-type]

    def engine(self) -> sa.Engine:
        """A plain engine on the same data, for tampering with the schema behind the store's back."""
        url = f"sqlite:///{self.where}" if self.kind == "sqlite" else self.where
        return sa.create_engine(url)


def _target(backend: str, tmp_path: Path, request: pytest.FixtureRequest | None) -> Target:
    if backend == "sqlite":
        return Target("sqlite", str(tmp_path / "profiles.db"))
    if backend == "sqlalchemy-sqlite":
        return Target("sqlalchemy", f"sqlite:///{tmp_path / 'profiles-sa.db'}")
    assert backend == "postgresql" and request is not None
    return Target("sqlalchemy", request.getfixturevalue("postgres_url"))  # starts the server once


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return _target(request.param, tmp_path, request)


@pytest.fixture
def store(target: Target):
    s = target.open()
    yield s
    s.close()


GENRES = {
    "m1": ["Drama", "Comedy"],
    "m2": ["Drama"],
    "m3": ["Comedy", "Action"],
    "m4": ["Action"],
    "m5": ["Western"],
    "m6": ["Sci-Fi"],
}


def _state(p: Profile) -> tuple[object, ...]:
    """What a person sees of a profile (everything but timestamps and the revision counter)."""
    return (
        p.liked_ids,
        tuple(x.source for x in p.likes),
        p.shown,
        p.shown_not_liked,
        p.rounds,
        p.genre_counts,
        p.taste_state,
    )


# ---------------------------------------------------------------------------------------------
# Basics


def test_create_and_get(store: storage.SqlProfileStore) -> None:
    assert isinstance(store, ProfileStore)
    assert store.schema_version == storage.SCHEMA_VERSION
    with pytest.raises(NotFoundError):
        store.get_profile("alice")
    assert not store.has_profile("alice")
    created = store.create_profile("alice", dataset_fingerprint="fp-1")
    assert (created.profile_id, created.dataset_fingerprint, created.revision) == ("alice", "fp-1", 0)
    assert (created.likes, created.shown, created.rounds, created.genre_counts) == ((), (), 0, {})
    assert store.has_profile("alice")
    with pytest.raises(NextwatchError, match="already exists"):
        store.create_profile("alice")
    assert store.ensure_profile("alice") == created
    assert store.get_profile("alice") == created
    bob = store.ensure_profile("bob")
    assert bob.dataset_fingerprint is None and bob.profile_id == "bob"
    assert store.delete_profile("bob") and not store.has_profile("bob")
    assert not store.delete_profile("bob")


def test_changes_to_an_unknown_profile_are_refused(store: storage.SqlProfileStore) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        store.record_round("ghost", ["m1"], [])
    with pytest.raises(NotFoundError):
        store.like("ghost", "m1")
    with pytest.raises(NotFoundError):
        store.top_genres("ghost")
    assert not store.has_profile("ghost")


def test_record_round_counts_rounds_likes_and_shown(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    r1 = store.record_round("p", ["m1", "m2", "m3", "m4", "m5"], ["m1", "m3"], genres=GENRES)
    assert (r1.number, r1.duplicate, r1.added_likes, r1.revision) == (1, False, ("m1", "m3"), 1)
    # m6 is new; m1 (already liked) and m2 (already shown) come back only in this test's input
    r2 = store.record_round("p", ["m6", "m2", "m1"], ["m6", "m1"], genres=GENRES)
    assert (r2.number, r2.added_likes, r2.revision) == (2, ("m6",), 2)
    r3 = store.record_round("p", ["x1", "x2"], [])  # "none of these"
    assert (r3.number, r3.added_likes) == (3, ())

    p = store.get_profile("p")
    assert p.rounds == 3 and p.revision == 3
    assert p.liked_ids == ("m1", "m3", "m6")
    assert all(like.source == "round" for like in p.likes)
    assert p.shown == ("m1", "m2", "m3", "m4", "m5", "m6", "x1", "x2")
    assert p.shown_not_liked == ("m2", "m4", "m5", "x1", "x2")
    assert store.shown("p") == list(p.shown)
    assert store.shown_not_liked("p") == ["m2", "m4", "m5", "x1", "x2"]
    assert p.seen == {"m1", "m2", "m3", "m4", "m5", "m6", "x1", "x2"}
    # m1: Drama, Comedy; m3: Comedy, Action; m6: Sci-Fi
    assert p.genre_counts == {"Drama": 1, "Comedy": 2, "Action": 1, "Sci-Fi": 1}

    history = store.rounds("p")
    assert [(h.number, h.shown, h.liked) for h in history] == [
        (1, ("m1", "m2", "m3", "m4", "m5"), ("m1", "m3")),
        (2, ("m6", "m2", "m1"), ("m6", "m1")),
        (3, ("x1", "x2"), ()),
    ]
    assert history[0].at <= history[1].at <= history[2].at


def test_likes_keep_order_time_and_first_source(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    assert store.like("p", "s1", "search")
    store.record_round("p", ["r1", "s1"], ["r1", "s1"])
    assert store.record_import("p", ["i1", "r1"], {"matched": 2}).added_likes == ("i1",)
    assert not store.like("p", "i1", "search")  # already liked: the import stays its source
    likes = store.likes("p")
    assert [(x.item_id, x.source) for x in likes] == [("s1", "search"), ("r1", "round"), ("i1", "import")]
    assert all(isinstance(x, Like) for x in likes)
    assert likes[0].at <= likes[1].at <= likes[2].at
    with pytest.raises(NextwatchError, match="unknown like source"):
        store.like("p", "z", "clicked")


def test_bad_round_is_rejected_and_changes_nothing(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    before = store.get_profile("p")
    with pytest.raises(NextwatchError, match="not shown in this round: m9"):
        store.record_round("p", ["m1", "m2"], ["m1", "m9"])
    with pytest.raises(NextwatchError, match="at least one item"):
        store.record_round("p", [], [])
    with pytest.raises(NextwatchError, match="non-empty string"):
        store.record_round("p", ["m1", ""], [])
    with pytest.raises(NextwatchError, match="list of item ids"):
        store.record_round("p", "m1", [])  # type: ignore[arg-type]
    assert store.get_profile("p") == before


def test_retried_round_id_is_not_counted_twice(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    first = store.record_round("p", ["m1", "m2"], ["m1"], round_id="tok-1", genres=GENRES)
    second = store.record_round("p", ["m3", "m4"], ["m3"], round_id="tok-2", genres=GENRES)
    again = store.record_round("p", ["m1", "m2"], ["m1"], round_id="tok-1", genres=GENRES)
    assert (first.number, second.number) == (1, 2)
    assert (again.number, again.duplicate, again.added_likes) == (1, True, ())
    assert again.revision == second.revision
    p = store.get_profile("p")
    assert p.rounds == 2 and p.liked_ids == ("m1", "m3")
    assert p.genre_counts == {"Drama": 1, "Comedy": 2, "Action": 1}
    # rounds without a token are never merged
    store.record_round("p", ["m5"], [])
    store.record_round("p", ["m5"], [])
    assert store.get_profile("p").rounds == 4


# ---------------------------------------------------------------------------------------------
# Undo, reset, genres, taste state


def test_undo_restores_the_previous_state(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    store.record_round("p", ["m1", "m2", "m3"], ["m1"], genres=GENRES)
    before = store.get_profile("p")

    # a like from search, undone, leaves no trace
    assert store.like("p", "m4", "search", genres=GENRES)
    assert store.get_profile("p").genre_counts == {"Drama": 1, "Comedy": 1, "Action": 1}
    assert store.unlike("p", "m4")
    after = store.get_profile("p")
    assert _state(after) == _state(before)
    assert after.revision == before.revision + 2

    # a like ticked in a round, undone: back to shown-not-liked, as before it was ticked
    store.record_round("p", ["m5", "m6"], [], genres=GENRES)
    before_tick = store.get_profile("p")
    store.record_round("p", ["m3"], ["m3"], genres=GENRES)  # m3 shown again and ticked now
    assert store.get_profile("p").genre_counts == {"Drama": 1, "Comedy": 2, "Action": 1}
    assert store.unlike("p", "m3")
    undone = store.get_profile("p")
    assert undone.liked_ids == before_tick.liked_ids == ("m1",)
    assert undone.shown_not_liked == before_tick.shown_not_liked == ("m2", "m3", "m5", "m6")
    assert undone.genre_counts == before_tick.genre_counts == {"Drama": 1, "Comedy": 1}
    assert undone.rounds == 3  # the history keeps the round

    # undoing what is not liked changes nothing
    assert not store.unlike("p", "m2")
    assert not store.unlike("p", "never-seen")
    assert store.get_profile("p").revision == undone.revision


def test_reset_forgets_everything_but_the_profile(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p", "fp")
    store.ensure_profile("other")
    store.record_round("other", ["m1"], ["m1"], genres=GENRES)
    store.record_round("p", ["m1", "m2"], ["m2"], round_id="t1", genres=GENRES)
    store.like("p", "m4", genres=GENRES)
    store.record_import("p", ["m5"], {"matched": ["x"]}, import_id="h")
    r = store.get_profile("p").revision
    assert store.set_taste_state("p", {"sum": [1.0], "count": 1}, revision=r)
    store.reset("p")
    p = store.get_profile("p")
    assert (p.likes, p.shown, p.rounds, p.genre_counts, p.taste_state) == ((), (), 0, {}, None)
    assert store.rounds("p") == [] and store.imports("p") == [] and store.top_genres("p") == []
    assert p.dataset_fingerprint == "fp" and p.revision == r + 1
    # a round after a reset is round 1 again, and the old token no longer blocks it
    assert store.record_round("p", ["m1", "m2"], ["m2"], round_id="t1").number == 1
    # other profiles are untouched
    assert store.get_profile("other").liked_ids == ("m1",)


def test_top_genres_by_count_ties_by_name(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    store.item_genres = GENRES  # the store-wide mapping, used when a call passes none
    store.record_round("p", ["m1", "m2", "m3"], ["m1", "m3"])
    store.like("p", "m4")
    store.like("p", "m6")
    store.like("p", "m5")
    store.like("p", "unknown-item")  # no genres anywhere: counts nothing
    store.like("p", "m2", genres={"m2": ["Drama", "Drama", "Romance"]})  # the call's mapping wins
    # Drama: m1 m2 = 2; Comedy: m1 m3 = 2; Action: m3 m4 = 2; Romance, Sci-Fi, Western: 1
    assert store.top_genres("p") == [
        ("Action", 2),
        ("Comedy", 2),
        ("Drama", 2),
        ("Romance", 1),
        ("Sci-Fi", 1),
    ]
    assert store.top_genres("p", n=2) == [("Action", 2), ("Comedy", 2)]
    assert store.top_genres("p", n=10)[-1] == ("Western", 1)
    assert store.get_profile("p").top_genres(3) == [("Action", 2), ("Comedy", 2), ("Drama", 2)]
    store.unlike("p", "m3")
    assert store.top_genres("p", n=3) == [("Drama", 2), ("Action", 1), ("Comedy", 1)]


def test_rank_genres_is_case_insensitive_then_exact() -> None:
    assert rank_genres({"drama": 1, "Action": 1, "Comedy": 3, "action": 1}, 4) == [
        ("Comedy", 3),
        ("Action", 1),
        ("action", 1),
        ("drama", 1),
    ]
    with pytest.raises(ValueError):
        rank_genres({}, -1)


def test_taste_state_round_trip_and_stale_writes(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    state = {"ids": ["m1", "m2"], "sum": [0.125, -3.5, 1e-7], "count": 2}
    r0 = store.get_profile("p").revision
    assert store.set_taste_state("p", state, revision=r0)
    p = store.get_profile("p")
    assert p.taste_state == state and p.taste_revision == r0 and p.taste_current
    store.like("p", "m3")  # the profile moves on: the stored taste is now behind
    assert not store.get_profile("p").taste_current
    assert not store.set_taste_state("p", {"count": 99}, revision=r0)  # computed before the like
    assert store.get_profile("p").taste_state == state
    assert store.set_taste_state("p", {"count": 3})  # unconditional
    assert store.get_profile("p").taste_current
    assert store.set_taste_state("p", None)
    assert store.get_profile("p").taste_state is None
    with pytest.raises(NextwatchError, match="JSON"):
        store.set_taste_state("p", {"sum": [float("nan")]})


def test_dataset_fingerprint_change_keeps_likes_drops_taste(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p", "fp-a")
    store.like("p", "m1")
    store.set_taste_state("p", {"count": 1})
    assert store.ensure_profile("p", "fp-a").taste_state == {"count": 1}
    assert store.ensure_profile("p").dataset_fingerprint == "fp-a"  # no fingerprint given: unchanged
    moved = store.ensure_profile("p", "fp-b")
    assert moved.dataset_fingerprint == "fp-b" and moved.liked_ids == ("m1",) and moved.taste_state is None


def test_import_report_is_kept_and_not_applied_twice(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    store.like("p", "m2", "search")
    report = {
        "file": "NetflixViewingHistory.csv",
        "rows": 4,
        "matched": [{"title": "Lion King, The", "item_id": "m1"}, {"title": "Heat", "item_id": "m2"}],
        "unmatched": ["Ça & « Ünïcode »", "Some Show: Season 1"],
    }
    rec = store.record_import("p", ["m1", "m2"], report, import_id="sha-1", genres=GENRES)
    assert (rec.number, rec.import_id, rec.added_likes, rec.duplicate) == (1, "sha-1", ("m1",), False)
    assert rec.report == report
    again = store.record_import("p", ["m1", "m2", "m3"], {"other": 1}, import_id="sha-1")
    assert again.duplicate and again.report == report and again.added_likes == ("m1",)
    second = store.record_import("p", ["m3"], {"rows": 1}, genres=GENRES)
    assert (second.number, second.added_likes) == (2, ("m3",))
    p = store.get_profile("p")
    assert [(x.item_id, x.source) for x in p.likes] == [("m2", "search"), ("m1", "import"), ("m3", "import")]
    assert p.genre_counts == {"Drama": 1, "Comedy": 2, "Action": 1}  # m2 liked without genres
    assert [(i.number, i.report) for i in store.imports("p")] == [(1, report), (2, {"rows": 1})]
    with pytest.raises(NextwatchError, match="JSON-serialisable"):
        store.record_import("p", ["m4"], {"bad": {1, 2}})
    assert store.get_profile("p").liked_ids == ("m2", "m1", "m3")  # the failed import added nothing


# ---------------------------------------------------------------------------------------------
# Concurrency and durability


def _post_rounds(store: storage.SqlProfileStore, tag: str, n_rounds: int) -> None:
    """Post ``n_rounds`` rounds of 5 shown / 2 liked; every 10th round is posted twice (a retry)."""
    for r in range(n_rounds):
        shown = [f"{tag}-{r}-{j}" for j in range(5)]
        genres = {shown[0]: ["Drama"], shown[1]: ["Comedy", "Drama"]}
        store.record_round("p", shown, shown[:2], round_id=f"{tag}-{r}", genres=genres)
        if r % 10 == 0:
            assert store.record_round("p", shown, shown[:2], round_id=f"{tag}-{r}").duplicate


def _check_after_concurrent_rounds(store: storage.SqlProfileStore, tags: list[str], n_rounds: int) -> None:
    p = store.get_profile("p")
    assert p.rounds == len(tags) * n_rounds
    expected_likes = {f"{t}-{r}-{j}" for t in tags for r in range(n_rounds) for j in range(2)}
    assert len(p.likes) == len(expected_likes) and set(p.liked_ids) == expected_likes
    assert len(p.shown) == len(tags) * n_rounds * 5
    assert len(p.shown_not_liked) == len(tags) * n_rounds * 3
    assert p.genre_counts == {"Drama": 2 * len(tags) * n_rounds, "Comedy": len(tags) * n_rounds}
    assert p.revision == len(tags) * n_rounds
    # each thread's rounds keep their own order in the history
    for t in tags:
        numbers = [h.number for h in store.rounds("p") if h.round_id and h.round_id.startswith(f"{t}-")]
        assert numbers == sorted(numbers) and len(numbers) == n_rounds


def test_two_threads_posting_to_one_profile_lose_nothing(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    n_rounds, tags = 200, ["a", "b"]
    barrier = threading.Barrier(len(tags))
    errors: list[BaseException] = []

    def work(tag: str) -> None:
        try:
            barrier.wait()
            _post_rounds(store, tag, n_rounds)
        except BaseException as e:  # reported below: a thread's exception would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in tags]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _check_after_concurrent_rounds(store, tags, n_rounds)


def test_concurrent_likes_of_one_item_count_once(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        results.append(store.like("p", "m1", genres=GENRES))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert store.get_profile("p").genre_counts == {"Drama": 1, "Comedy": 1}


def test_concurrent_retries_of_one_round_count_once(store: storage.SqlProfileStore) -> None:
    store.ensure_profile("p")
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        results.append(store.record_round("p", ["m1", "m2"], ["m2"], round_id="tok", genres=GENRES).duplicate)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True, True, True]
    p = store.get_profile("p")
    assert (p.rounds, p.liked_ids, p.genre_counts, p.revision) == (1, ("m2",), {"Drama": 1}, 1)


def _process_worker(kind: str, where: str, tag: str, n_rounds: int, start: Any) -> None:
    s = Target(kind, where).open()
    try:
        start.wait(30)
        _post_rounds(s, tag, n_rounds)
    finally:
        s.close()


@pytest.mark.parametrize("backend", ["sqlite", "sqlalchemy-sqlite"])
def test_two_processes_posting_to_one_profile_lose_nothing(backend: str, tmp_path: Path) -> None:
    # Separate processes matter for SQLite (locks on one file shared by processes); PostgreSQL
    # serialises connections, and the threads test already posts to it over two of them.
    target = _target(backend, tmp_path, None)
    store = target.open()
    store.ensure_profile("p")
    n_rounds, tags = 200, ["a", "b"]
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_process_worker, args=(target.kind, target.where, t, n_rounds, start))
        for t in tags
    ]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    _check_after_concurrent_rounds(store, tags, n_rounds)
    store.close()


_RESTART_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from nextwatch.recommend.storage import SQLAlchemyProfileStore, SQLiteProfileStore
    kind, where = sys.argv[1], sys.argv[2]
    store = (SQLiteProfileStore if kind == "sqlite" else SQLAlchemyProfileStore)(where)
    p = store.get_profile("alice")
    genres = store.top_genres("alice", 10)
    store.like("alice", "from-child", "search", genres={"from-child": ["Horror"]})
    imports = [i.report for i in store.imports("alice")]
    print(json.dumps({"likes": [[x.item_id, x.source] for x in p.likes], "shown": list(p.shown),
                      "rounds": p.rounds, "genres": genres, "taste": p.taste_state,
                      "fingerprint": p.dataset_fingerprint, "imports": imports}))
    store.close()
    """
)


def test_profiles_survive_a_process_restart(target: Target) -> None:
    s = target.open()
    s.ensure_profile("alice", "fp-1")
    s.record_round("alice", ["m1", "m2", "m3"], ["m1"], genres=GENRES)
    s.record_import("alice", ["m4"], {"matched": ["Heat"], "unmatched": []}, genres=GENRES)
    s.set_taste_state("alice", {"ids": ["m1", "m4"], "sum": [0.5, -0.25], "count": 2})
    s.close()

    out = subprocess.run(
        [sys.executable, "-c", _RESTART_SCRIPT, target.kind, target.where],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {
        "likes": [["m1", "round"], ["m4", "import"]],
        "shown": ["m1", "m2", "m3"],
        "rounds": 1,
        "genres": [["Action", 1], ["Comedy", 1], ["Drama", 1]],
        "taste": {"ids": ["m1", "m4"], "sum": [0.5, -0.25], "count": 2},
        "fingerprint": "fp-1",
        "imports": [{"matched": ["Heat"], "unmatched": []}],
    }
    with target.open() as again:  # and what the child wrote is here too
        assert again.get_profile("alice").liked_ids == ("m1", "m4", "from-child")
        assert again.top_genres("alice", 2) == [("Action", 1), ("Comedy", 1)]
        assert again.get_profile("alice").genre_counts["Horror"] == 1


# ---------------------------------------------------------------------------------------------
# Schema versions


def test_newer_schema_version_is_a_clear_error(target: Target) -> None:
    target.open().close()
    engine = target.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE nw_schema SET version = 7"))
    engine.dispose()
    with pytest.raises(StoreVersionError, match=r"schema version 7, but this nextwatch reads version 1") as e:
        target.open()
    assert "upgrade nextwatch" in str(e.value)


def test_older_schema_is_migrated_or_refused(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    with target.open() as s:
        s.ensure_profile("alice")
        s.like("alice", "m1")
    monkeypatch.setattr(storage, "SCHEMA_VERSION", 2)
    # no migration from 1 to 2: refused, and the store is left as it was
    with pytest.raises(StoreVersionError, match="no migration from version 1 to 2"):
        target.open()
    monkeypatch.setattr(storage, "MIGRATIONS", {1: ("ALTER TABLE nw_profiles ADD COLUMN note TEXT",)})
    with pytest.raises(StoreVersionError, match="migrate=True"):
        target.open(migrate=False)
    with target.open() as s:
        assert s.schema_version == 2
        assert s.get_profile("alice").liked_ids == ("m1",)
    engine = target.engine()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM nw_schema")).scalar_one() == 2
        assert conn.execute(sa.text("SELECT note FROM nw_profiles")).all() == [(None,)]
    engine.dispose()
    monkeypatch.undo()  # this code again reads version 1 only
    with pytest.raises(StoreVersionError, match="schema version 2"):
        target.open()


# ---------------------------------------------------------------------------------------------
# The factory


def test_store_location_dispatch(tmp_path: Path) -> None:
    assert store_location("var/profiles.db") == ("sqlite", "var/profiles.db")
    assert store_location(tmp_path / "p.db") == ("sqlite", str(tmp_path / "p.db"))
    assert store_location("sqlite:///rel/p.db") == ("sqlite", "rel/p.db")
    assert store_location("sqlite:////abs/p.db") == ("sqlite", "/abs/p.db")
    assert store_location("postgresql://u@h/db") == ("sqlalchemy", "postgresql://u@h/db")
    assert store_location("sqlite+pysqlite:///x.db") == ("sqlalchemy", "sqlite+pysqlite:///x.db")
    with pytest.raises(NextwatchError, match="needs a file"):
        store_location("sqlite://")
    assert storage._normalise_url("postgres://u:secret@h/db").drivername == "postgresql+psycopg"
    assert storage._normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"


def test_open_store_picks_the_implementation(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.db") as a:
        assert isinstance(a, SQLiteProfileStore) and a.path == tmp_path / "a.db"
    with open_store(f"sqlite:///{tmp_path / 'b.db'}") as b:
        assert isinstance(b, SQLiteProfileStore) and b.path == tmp_path / "b.db"
    with open_store(f"sqlite+pysqlite:///{tmp_path / 'c.db'}") as c:
        assert isinstance(c, SQLAlchemyProfileStore)
        c.ensure_profile("p")
    with pytest.raises(NextwatchError, match="not 'mysql'"):
        open_store("mysql://u@h/db")
    with pytest.raises(NextwatchError, match="in-memory"):
        open_store(":memory:")


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    with open_store(tmp_path / "w.db") as s:
        s.ensure_profile("p")
        conn = s._connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_sqlite_thread_connections_close_with_their_threads(tmp_path: Path) -> None:
    with open_store(tmp_path / "t.db") as s:
        s.ensure_profile("p")
        threads = [threading.Thread(target=s.like, args=("p", f"m{k}")) for k in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        gc.collect()
        assert len(s._held) == 1  # the main thread's; the five workers' went with them
        assert len(s.likes("p")) == 5
    with pytest.raises(NextwatchError, match="closed"):
        s.get_profile("p")


def test_unreachable_postgres_is_a_clear_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(NextwatchError, match="cannot reach the profile store"):
        SQLAlchemyProfileStore("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def _rounds_in_main_file(db: Path, tmp_path: Path) -> int:
    """Rounds of profile p in the database file alone (without its WAL): what checkpoints copied."""
    copy = tmp_path / "main-only.db"
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'nw_rounds'").fetchall():
            return 0  # not even the schema has reached the main file yet
        return conn.execute("SELECT COUNT(*) FROM nw_rounds").fetchone()[0]
    finally:
        conn.close()


def _wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_sqlite_wal_is_checkpointed_in_the_background(tmp_path: Path) -> None:
    """Commits leave their pages in the WAL; the checkpoint thread copies them into the main file,
    so no request pays for a checkpoint. Without it (SQLite's inline checkpoints, at 1,000 pages)
    a few rounds stay in the WAL only."""
    inline = SQLiteProfileStore(tmp_path / "inline.db", checkpoint_interval=None)
    try:
        inline.ensure_profile("p")
        for k in range(5):
            inline.record_round("p", [f"m{k}"], [])
        assert inline._checkpointer is None
        assert _rounds_in_main_file(inline.path, tmp_path) == 0
    finally:
        inline.close()

    s = SQLiteProfileStore(tmp_path / "bg.db", checkpoint_interval=0.05)
    try:
        s.ensure_profile("p")
        conn = s._connection()
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == storage._WAL_FALLBACK_PAGES
        for k in range(5):
            s.record_round("p", [f"m{k}"], [])
        before = s.checkpoints
        assert _wait_for(lambda: s.checkpoints >= before + 2)  # one whole checkpoint after the writes
        assert _rounds_in_main_file(s.path, tmp_path) == 5
        thread = s._checkpointer
        assert thread is not None and thread.is_alive()
    finally:
        s.close()
    assert not thread.is_alive()  # close() stops and joins it

    with pytest.raises(NextwatchError, match="checkpoint_interval"):
        SQLiteProfileStore(tmp_path / "x.db", checkpoint_interval=0)


def test_sqlite_checkpointer_stops_with_an_unclosed_store(tmp_path: Path) -> None:
    s = SQLiteProfileStore(tmp_path / "gc.db", checkpoint_interval=0.05)
    s.ensure_profile("p")
    thread = s._checkpointer
    assert thread is not None and thread.is_alive()
    del s
    gc.collect()
    assert _wait_for(lambda: not thread.is_alive())
