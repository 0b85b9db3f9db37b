"""Recommender sessions over a tiny in-memory catalogue, a real SQLite profile store and a small CF model.

The Recommender is built from parts (no model folder): an in-memory :class:`Dataset`, a
:class:`HybridRanker` over a random GMF and random unit embeddings, a SQLite store in ``tmp_path``,
and a minimal content side (``vectors`` and ``new_taste()``) so the taste vector is stored too.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from nextwatch.content.taste import TasteVector
from nextwatch.data.dataset import Dataset, Interactions, conform_items, users_frame
from nextwatch.errors import InputError, NotFoundError
from nextwatch.models.ncf.modules import GMF
from nextwatch.recommend.foldin import FoldInScorer
from nextwatch.recommend.ranker import HybridRanker, RankerConfig
from nextwatch.recommend.recommender import Recommender
from nextwatch.recommend.storage import open_store

#: item_id -> (title as the source writes it, year, genres, kind)
CATALOGUE = {
    "i0": ("Lion King, The", 1994, ["Animation", "Children's", "Musical"], "movie"),
    "i1": ("Toy Story", 1995, ["Animation", "Children's", "Comedy"], "movie"),
    "i2": ("Heat", 1995, ["Action", "Crime", "Thriller"], "movie"),
    "i3": ("Godfather, The", 1972, ["Action", "Crime", "Drama"], "movie"),
    "i4": ("Crown, The", 2016, ["Drama"], "tv show"),
    "i5": ("Alien", 1979, ["Action", "Horror", "Sci-Fi"], "movie"),
    "i6": ("Aliens", 1986, ["Action", "Sci-Fi", "Thriller", "War"], "movie"),
    "i7": ("Fargo", 1996, ["Crime", "Drama", "Thriller"], "movie"),
    "i8": ("Amélie", 2001, ["Comedy", "Romance"], "movie"),
    "i9": ("Casablanca", 1942, ["Drama", "Romance", "War"], "movie"),
    "i10": ("Matrix, The", 1999, ["Action", "Sci-Fi", "Thriller"], "movie"),
    "i11": ("Babe", 1995, ["Children's", "Comedy", "Drama"], "movie"),
}
IDS = list(CATALOGUE)
N_ITEMS = len(IDS)


def make_dataset() -> Dataset:
    items = conform_items(
        pl.DataFrame(
            {
                "item_idx": np.arange(N_ITEMS, dtype=np.int32),
                "item_id": IDS,
                "title": [c[0] for c in CATALOGUE.values()],
                "year": [c[1] for c in CATALOGUE.values()],
                "genres": [c[2] for c in CATALOGUE.values()],
                "kind": [c[3] for c in CATALOGUE.values()],
                "description": [f"A film about {c[0]}." for c in CATALOGUE.values()],
            }
        )
    )
    rng = np.random.default_rng(0)
    users = rng.integers(0, 6, size=40)
    item = rng.integers(0, N_ITEMS, size=40)
    inter = Interactions(users, item, rng.integers(1, 6, size=40).astype(np.float32), np.arange(40))
    users_table = users_frame([f"u{i}" for i in range(6)])
    return Dataset(inter, items, users_table, manifest={"fingerprint": "fixture"})


@dataclass
class TinyContent:
    """The part of the content model a Session uses: item vectors and an empty taste vector."""

    vectors: np.ndarray

    def new_taste(self) -> TasteVector:
        return TasteVector(self.vectors.shape[1])


def make_parts(seed: int = 0) -> tuple[Dataset, HybridRanker, TinyContent]:
    ds = make_dataset()
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(N_ITEMS, 8))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    torch.manual_seed(seed)
    model = GMF(6, N_ITEMS, 4)
    with torch.no_grad():
        model.item_embedding.weight.mul_(50.0)
        model.user_embedding.weight.mul_(50.0)
    popularity = np.bincount(ds.interactions.item_idx, minlength=N_ITEMS).astype(np.float64)
    ranker = HybridRanker(popularity, cf=FoldInScorer(model), vectors=vectors, config=RankerConfig())
    return ds, ranker, TinyContent(vectors)


def open_recommender(path: Path) -> Recommender:
    ds, ranker, content = make_parts()
    genres = {iid: c[2] for iid, c in CATALOGUE.items()}
    return Recommender(ds, ranker, open_store(path, item_genres=genres), content=content)


@pytest.fixture
def rec(tmp_path: Path):
    r = open_recommender(tmp_path / "profiles.sqlite3")
    yield r
    r.store.close()


def genre_counts(item_ids) -> list[tuple[str, int]]:
    """Genres of ``item_ids`` by count, ties by name: the expected ``top_genres`` (all of them)."""
    c = Counter(g for i in item_ids for g in CATALOGUE[i][2])
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0].casefold()))


def ids(cards) -> list[str]:
    return [c.item_id for c in cards]


# ------------------------------------------------------------------------------------------------


def test_a_first_round_then_feedback_then_the_next(rec):
    s = rec.session("alice")
    assert s.rounds == 0 and s.likes() == [] and s.top_genres() == []
    first = s.next(5)
    assert len(first) == 5 and len(set(ids(first))) == 5
    assert all(c.reason == "popular with viewers: a good place to start" for c in first)

    s.feedback(liked=["i0", "i1"], shown=["i0", "i1", "i2"])
    assert s.rounds == 1
    assert set(ids(s.likes())) == {"i0", "i1"}
    # Animation 2, Children's 2, then Comedy 1 and Musical 1 (ties by name)
    assert s.top_genres() == [("Animation", 2), ("Children's", 2), ("Comedy", 1), ("Musical", 1)]
    assert s.top_genres(2) == [("Animation", 2), ("Children's", 2)]

    nxt = s.next(5)
    assert len(nxt) == 5 and not set(ids(nxt)) & {"i0", "i1", "i2"}
    for card in nxt:
        assert card.reason in {
            "because you liked The Lion King",
            "because you liked Toy Story",
            "people who liked The Lion King also liked this",
            "people who liked Toy Story also liked this",
        }
        assert card.scores["weight_cf"] == pytest.approx(rec.ranker.config.schedule.weight_cf(2))
        _title, year, genres, kind = CATALOGUE[card.item_id]
        assert (card.year, card.genres, card.kind) == (year, genres, kind)
    # the taste vector kept with the profile is the mean of the two liked embeddings
    p = rec.store.get_profile("alice")
    assert p.taste_current
    taste = TasteVector.from_dict(p.taste_state)
    np.testing.assert_allclose(taste.vector(), rec.content.vectors[[0, 1]].mean(axis=0), atol=1e-6)


def test_feedback_then_next_never_repeats_until_everything_was_shown(rec):
    s = rec.session("bob")
    seen: list[str] = []
    for _ in range(N_ITEMS):
        cards = s.next(5)
        if not cards:
            break
        assert not set(ids(cards)) & set(seen)
        seen += ids(cards)
        s.feedback(liked=ids(cards)[:1], shown=ids(cards))
    assert sorted(seen) == sorted(IDS)
    assert s.rounds == -(-N_ITEMS // 5)
    assert s.next(5) == []


def test_a_ticked_item_missing_from_shown_counts_as_shown(rec):
    s = rec.session("carol")
    s.feedback(liked=["i5"], shown=["i6"])
    assert set(rec.store.get_profile("carol").shown) == {"i5", "i6"}
    for _ in range(3):
        cards = s.next(3)
        assert not {"i5", "i6"} & set(ids(cards))
        s.feedback(liked=[], shown=ids(cards))


def test_feedback_naming_an_unknown_movie_records_nothing(rec):
    s = rec.session("dave")
    with pytest.raises(NotFoundError):
        s.feedback(liked=["nope"], shown=["i0", "nope"])
    assert s.rounds == 0 and rec.store.get_profile("dave").shown == ()


def test_undo_restores_the_previous_likes_genres_and_taste(rec):
    s = rec.session("erin")
    s.feedback(liked=["i0"], shown=["i0", "i2"])
    before = rec.store.get_profile("erin")
    s.feedback(liked=["i5", "i6"], shown=["i5", "i6", "i7"])
    assert s.top_genres(10) == genre_counts(["i0", "i5", "i6"])

    s.undo("i6")
    assert set(ids(s.likes())) == {"i0", "i5"}
    assert s.top_genres(10) == genre_counts(["i0", "i5"])
    s.undo("i5")
    after = rec.store.get_profile("erin")
    assert after.liked_ids == before.liked_ids
    assert after.genre_counts == before.genre_counts
    assert s.top_genres(10) == genre_counts(["i0"])
    assert after.taste_state == before.taste_state and after.taste_current
    # the undone movies stay shown: they do not come back
    assert s.rounds == 2
    for _ in range(3):
        cards = s.next(3)
        assert not {"i0", "i2", "i5", "i6", "i7"} & set(ids(cards))
        s.feedback(liked=[], shown=ids(cards))
    with pytest.raises(NotFoundError):
        s.undo("i9")  # never liked


def test_two_threads_posting_feedback_to_one_profile_lose_nothing(tmp_path):
    """Two Recommenders (as two server workers) on one SQLite file, each posting rounds from its own
    thread to the same profile at once; every like and round must be there afterwards."""
    recs = [open_recommender(tmp_path / "shared.sqlite3") for _ in range(2)]
    recs[0].session("shared")
    halves = [IDS[:6], IDS[6:]]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def post(rec: Recommender, items: list[str]) -> None:
        try:
            s = rec.session("shared")
            barrier.wait()
            for i in range(0, len(items), 2):
                pair = items[i : i + 2]
                s.feedback(liked=pair[:1], shown=pair)
                s.like(pair[1], source="search")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=post, args=(r, h)) for r, h in zip(recs, halves, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    p = recs[0].store.get_profile("shared")
    assert sorted(p.liked_ids) == sorted(IDS)
    assert p.rounds == 6
    assert sorted(p.shown) == sorted(IDS)
    assert recs[1].session("shared").top_genres(20) == genre_counts(IDS)
    for r in recs:
        r.store.close()


def test_profiles_survive_reopening_the_store(tmp_path):
    path = tmp_path / "profiles.sqlite3"
    rec = open_recommender(path)
    s = rec.session("frank")
    s.feedback(liked=["i3", "i7"], shown=["i3", "i7", "i2", "i9"])
    s.like("i10")
    rec.store.close()

    again = open_recommender(path)
    s2 = again.session("frank")
    assert s2.rounds == 1
    assert set(ids(s2.likes())) == {"i3", "i7", "i10"}
    assert ids(s2.likes())[0] == "i10"  # newest first
    assert s2.top_genres(10) == genre_counts(["i3", "i7", "i10"])
    assert not {"i3", "i7", "i2", "i9", "i10"} & set(ids(s2.next(5)))
    assert again.session("someone-else").likes() == []
    again.store.close()


# ------------------------------------------------------------------------------------------------
# viewing-history import


HISTORY = """Title,Date
"The Lion King",10/21/20
"The Crown: Season 1: Wolferton Splash",10/20/20
"The Crown: Season 1: Hyde Park Corner",10/19/20
"Unknown Show: Season 2: Pilot",10/18/20
"Not In This Catalogue",10/17/20
"Fargo",10/16/20
"Unknown Show: Season 2: Second",10/15/20
"""


def test_viewing_history_links_the_right_titles_and_reports_the_rest(rec, tmp_path):
    path = tmp_path / "NetflixViewingHistory.csv"
    path.write_text(HISTORY, encoding="utf-8")
    s = rec.session("gina")
    report = s.import_history(path)
    assert report.n_rows == 7
    assert [(t, r.item_id) for t, r in report.matched] == [
        ("The Lion King", "i0"),
        ("The Crown", "i4"),
        ("Fargo", "i7"),
    ]
    assert report.unmatched == ["Unknown Show", "Not In This Catalogue"]
    assert report.added == 3
    assert set(ids(s.likes())) == {"i0", "i4", "i7"}
    assert s.top_genres(10) == genre_counts(["i0", "i4", "i7"])
    assert not {"i0", "i4", "i7"} & set(ids(s.next(5)))
    # the report is kept with the profile; importing again adds nothing new
    assert rec.store.imports("gina")[0].report["n_matched"] == 3
    assert s.import_history(path).added == 0


def test_a_history_from_an_open_file_works_too(rec, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(HISTORY, encoding="utf-8-sig")
    with open(path, "rb") as f:
        report = rec.session("hank").import_history(f)
    assert [r.item_id for _, r in report.matched] == ["i0", "i4", "i7"]


@pytest.mark.parametrize(
    "text, line",
    [
        ("Name,When\nThe Lion King,10/21/20\n", 1),
        ('Title,Date\n"Fargo",10/16/20\nToy Story, the sequel,10/15/20\n', 3),
        ('Title,Date\n"Fargo",10/16/20\n"Heat",yesterday\n', 3),
    ],
    ids=["header", "unquoted-comma", "bad-date"],
)
def test_a_broken_history_raises_input_error_and_leaves_the_profile_untouched(rec, tmp_path, text, line):
    s = rec.session("ivy")
    s.feedback(liked=["i2"], shown=["i2", "i3"])
    before = rec.store.get_profile("ivy")
    path = tmp_path / "broken.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        s.import_history(path)
    assert e.value.line == line and e.value.path == str(path)
    after = rec.store.get_profile("ivy")
    assert after == before
    assert rec.store.imports("ivy") == []
