"""The loaders on the real shared data sets (counts from /work/shared/data/README.md, values read off
the files by hand)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nextwatch.data.sources import detect_format, load_source
from nextwatch.data.sources.viewing_history import load_viewing_history

pytestmark = pytest.mark.integration


def row(items: pl.DataFrame, item_id: str) -> dict:
    found = items.filter(pl.col("item_id") == item_id).to_dicts()
    assert len(found) == 1
    return found[0]


def rating_of(src, user_id: str, item_id: str) -> tuple[float, int]:
    u = src.users["user_id"].to_list().index(user_id)
    i = src.items["item_id"].to_list().index(item_id)
    inter = src.interactions
    k = np.flatnonzero((inter.user_idx == u) & (inter.item_idx == i))
    assert len(k) == 1
    return float(inter.rating[k[0]]), int(inter.timestamp[k[0]])


def test_ml_1m_partial_ratings(shared_data: Path) -> None:
    root = shared_data / "ml-1m"
    assert detect_format(root) == "movielens"
    src = load_source(root)
    inter = src.interactions
    assert inter is not None and src.variant == "1m" and src.rating_scale == (1.0, 5.0)
    assert len(inter) == 487_650
    assert src.users.height == 2_999  # users 1-2999 of the 6,040
    assert src.items.height == 3_883
    assert len(np.unique(inter.item_idx)) == 3_615
    # first line of ratings_users_0001-2999.dat: 1::1193::5::978300760
    assert rating_of(src, "1", "1193") == (5.0, 978300760)
    toy = row(src.items, "1")
    assert (toy["title"], toy["year"]) == ("Toy Story", 1995)
    assert toy["genres"] == ["Animation", "Children's", "Comedy"]
    assert row(src.items, "11")["title"] == "American President, The"


def test_movielens_latest_small(shared_data: Path) -> None:
    src = load_source(shared_data / "movielens-latest-small")
    inter = src.interactions
    assert inter is not None and src.variant == "csv" and src.rating_scale == (0.5, 5.0)
    assert (len(inter), src.users.height, src.items.height) == (100_836, 610, 9_742)
    assert len(np.unique(inter.item_idx)) == 9_724
    assert set(np.unique(inter.rating).tolist()) == {x / 2 for x in range(1, 11)}
    assert rating_of(src, "1", "1") == (4.0, 964982703)  # ratings.csv line 2
    toy = row(src.items, "1")
    assert (toy["title"], toy["year"], toy["imdb_id"], toy["tmdb_id"]) == ("Toy Story", 1995, 114709, 862)
    assert toy["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    babylon = row(src.items, "40697")  # movies.csv line 6061: "40697,Babylon 5,Sci-Fi" (no year)
    assert (babylon["title"], babylon["year"]) == ("Babylon 5", None)
    assert src.items.filter(pl.col("genres").list.len() == 0).height == 34  # "(no genres listed)"


def test_netflix_prize_both_layouts_identical(shared_data: Path) -> None:
    per_movie = load_source(shared_data / "netflix-prize")
    combined = load_source(shared_data / "netflix-prize-kaggle-layout")
    assert (per_movie.variant, combined.variant) == ("per-movie", "combined")
    for src in (per_movie, combined):
        assert src.interactions is not None
        assert (len(src.interactions), src.users.height, src.items.height) == (9_030, 8_771, 17_770)
    for name in ("user_idx", "item_idx", "rating", "timestamp"):
        assert np.array_equal(getattr(per_movie.interactions, name), getattr(combined.interactions, name))
    assert per_movie.users.equals(combined.users) and per_movie.items.equals(combined.items)
    inter = per_movie.interactions
    day = lambda y, m, d: int(datetime(y, m, d, tzinfo=UTC).timestamp())  # noqa: E731
    assert (int(inter.timestamp.min()), int(inter.timestamp.max())) == (day(2000, 1, 7), day(2005, 12, 31))
    assert len(np.unique(inter.item_idx)) == 3_126
    # training_set/mv_0000008.txt: "8:" then "2347415,1,2005-05-13"
    assert rating_of(per_movie, "2347415", "8") == (1.0, day(2005, 5, 13))
    assert row(per_movie.items, "4388")["year"] is None  # "4388,NULL,Ancient Civilizations: ..."
    assert row(per_movie.items, "4825")["title"] == 'Brazil: The "Love Conquers All" Version'


def test_netflix_titles(shared_data: Path) -> None:
    src = load_source(shared_data / "netflix_shows" / "netflix_titles.csv")
    items = src.items
    assert src.interactions is None and items.height == 8_807
    assert items["description"].null_count() == 0
    assert items["kind"].value_counts().sort("kind").rows() == [("movie", 6_131), ("tv show", 2_676)]
    s2 = row(items, "s2")
    assert (s2["title"], s2["year"], s2["kind"]) == ("Blood & Water", 2021, "tv show")
    assert s2["genres"] == ["International TV Shows", "TV Dramas", "TV Mysteries"]
    assert s2["description_source"] == "netflix-titles:s2"


def test_tmdb(shared_data: Path) -> None:
    items = load_source(shared_data / "tmdb-5000").items
    assert items.height == 4_803
    assert items["description"].is_not_null().sum() == 4_799  # 4 empty overviews
    toy = row(items, "862")
    assert (toy["title"], toy["year"], toy["tmdb_id"]) == ("Toy Story", 1995, 862)
    assert toy["genres"] == ["Animation", "Comedy", "Family"]
    assert toy["description"].startswith("Led by Woody, Andy's toys live happily")


def test_viewing_history_example(shared_data: Path) -> None:
    entries = load_viewing_history(
        shared_data / "netflix-viewing-history-examples" / "tsachit_NetflixViewingHistory.csv"
    )
    assert len(entries) == 424
    first = entries[0]
    assert first.title == "Trollhunters: Tales of Arcadia: Part 2: Hiss Hiss, Bang Bang"
    assert (first.show_title, first.date, first.line) == ("Trollhunters", date(2020, 10, 21), 2)
    assert all(e.date.year in (2019, 2020) for e in entries)
    assert sum(e.show_title is None for e in entries) == 73
