"""Catalogue linking on tiny hand-written frames: every outcome below was worked out by hand."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from nextwatch.data.dataset import conform_items
from nextwatch.data.linking import METHODS, _distinctive_expr, distinctive, link_catalogue


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Canonical items from dicts; ``item_idx`` is the row number, ``item_id`` defaults to it."""
    full = []
    for i, r in enumerate(rows):
        full.append(
            {
                "item_idx": i,
                "item_id": r.get("item_id", str(i)),
                "title": r["title"],
                "year": r.get("year"),
                "genres": r.get("genres", []),
                "kind": r.get("kind"),
                "description": r.get("description"),
                "description_source": r.get("description_source"),
                "imdb_id": r.get("imdb_id"),
                "tmdb_id": r.get("tmdb_id"),
            }
        )
    return conform_items(pl.DataFrame(full, infer_schema_length=None))


ITEMS = [
    {
        "title": "Matrix, The",
        "year": 1999,
        "kind": "movie",
        "tmdb_id": 603,
    },  # 0: id beats the same-title decoy
    {"title": "Lion King, The", "year": 1994, "kind": "movie", "genres": ["Animation"]},  # 1: article moved
    {"title": "Crash", "year": 2004, "kind": "movie"},  # 2: one word, a year off: no
    {"title": "Blue Ruin", "year": 2013, "kind": "movie"},  # 3: distinctive, a year off: yes
    {"title": "City of Lost Children, The (Cité des enfants perdus, La)", "year": 1995},  # 4: via alternate
    {"title": "Beauty and the Beast", "year": 2017, "kind": "movie"},  # 5: TV show a year off: no
    {"title": "War of the Worlds", "year": 2005, "kind": "movie"},  # 6 and 7: duplicates share a row
    {"title": "War of the Worlds", "year": 2005, "kind": "movie"},  # 7
    {"title": "Unknown Year Film Title"},  # 8: no year, unique on both sides: yes
    {"title": "Gift, The"},  # 9: no year, not distinctive: no
    {"title": "Toy Story", "year": 1995, "description": "own text", "description_source": "x:1"},  # 10
    {"title": "Blue Velvet Night", "year": 1990},  # 11: exact year wins the row ...
    {"title": "Blue Velvet Night", "year": 1991},  # 12: ... so this one (±1, other year) gets none
    {"title": "Amélie", "year": 2001},  # 13: accents
    {"title": "Fast & Furious", "year": 2009, "kind": "movie", "imdb_id": 1013752},  # 14: by imdb id
    {"title": "Heat", "year": 1995, "kind": "movie"},  # 15: two "Heat" rows, exact year picks
    {"title": "Ghost Ship", "year": 2002, "kind": "movie"},  # 16: exact year beats ±1, whatever the order
]

CATALOGUE = [
    {
        "item_id": "c0",
        "title": "The Matrix",
        "year": 1999,
        "kind": "movie",
        "tmdb_id": 999,
        "description": "decoy",
    },
    {
        "item_id": "c1",
        "title": "Matrix",
        "year": 2000,
        "kind": "movie",
        "tmdb_id": 603,
        "description": "matrix",
    },
    {
        "item_id": "c2",
        "title": "The Lion King",
        "year": 1994,
        "kind": "movie",
        "genres": ["Kids"],
        "description": "lion",
    },
    {"item_id": "c3", "title": "Crash", "year": 2005, "kind": "movie", "description": "crash"},
    {
        "item_id": "c4",
        "title": "Blue Ruin",
        "year": 2014,
        "kind": "movie",
        "genres": ["Thrillers"],
        "description": "ruin",
    },
    {
        "item_id": "c5",
        "title": "La Cité des Enfants Perdus",
        "year": 1995,
        "kind": "movie",
        "description": "city",
    },
    {"item_id": "c6", "title": "Beauty & the Beast", "year": 2016, "kind": "tv show", "description": "tv"},
    {"item_id": "c7", "title": "War of the Worlds", "year": 2005, "kind": "movie", "description": "wotw"},
    {"item_id": "c8", "title": "Unknown Year Film Title", "year": 2001, "kind": "movie", "description": "uy"},
    {"item_id": "c9", "title": "The Gift", "year": 2000, "kind": "movie", "description": "gift"},
    {"item_id": "c10", "title": "Toy Story", "year": 1995, "kind": "movie", "description": "toy"},
    {"item_id": "c11", "title": "Blue Velvet Night", "year": 1990, "kind": "movie", "description": "bvn"},
    {
        "item_id": "c12",
        "title": "Amelie",
        "year": 2001,
        "kind": "movie",
        "description": "amelie",
        "description_source": "netflix-titles:s77",
    },
    {
        "item_id": "c13",
        "title": "Fast and Furious",
        "year": 2009,
        "kind": "movie",
        "imdb_id": 1013752,
        "description": "fast",
    },
    {"item_id": "c14", "title": "Heat", "year": 1986, "kind": "movie", "description": "heat 1986"},
    {"item_id": "c15", "title": "Heat", "year": 1995, "kind": "movie", "description": "heat 1995"},
    {"item_id": "c16", "title": "Ghost Ship", "year": 2003, "kind": "movie", "description": "ship 2003"},
    {"item_id": "c17", "title": "Ghost Ship", "year": 2002, "kind": "movie", "description": "ship 2002"},
    {"item_id": "c18", "title": "No Text Here", "year": 1999, "description": "  "},  # blank: never used
]

EXPECTED = {  # item_idx -> description it must end with (None: unmatched)
    0: "matrix",
    1: "lion",
    2: None,
    3: "ruin",
    4: "city",
    5: None,
    6: "wotw",
    7: "wotw",
    8: "uy",
    9: None,
    10: "own text",
    11: "bvn",
    12: None,
    13: "amelie",
    14: "fast",
    15: "heat 1995",
    16: "ship 2002",
}


@pytest.fixture(scope="module")
def linked() -> tuple[pl.DataFrame, dict[str, Any]]:
    return link_catalogue(_frame(ITEMS), _frame(CATALOGUE), name="cat")


def test_each_item_gets_the_hand_checked_description(linked: tuple[pl.DataFrame, dict[str, Any]]) -> None:
    out, _ = linked
    assert dict(zip(out["item_idx"].to_list(), out["description"].to_list(), strict=True)) == EXPECTED


def test_report_numbers(linked: tuple[pl.DataFrame, dict[str, Any]]) -> None:
    _, report = linked
    assert report["catalogue"] == "cat"
    assert report["n_items"] == 17
    assert report["n_catalogue"] == 19
    assert report["n_needing"] == 16  # item 10 already had a description
    # matched: 0 and 14 by id; 1, 4, 6, 7, 11, 13, 15, 16 same year; 3 a year off; 8 without a year
    assert report["by_method"] == {"id": 2, "title+year": 8, "title+year±1": 1, "title (no year)": 1}
    assert list(report["by_method"]) == list(METHODS)
    assert report["n_matched"] == 12
    assert report["match_rate"] == round(12 / 17, 4)
    # the seed's exact raw-title join: Crash, Blue Ruin, War of the Worlds x2, Unknown..., Toy Story,
    # Blue Velvet Night x2, Heat, Ghost Ship
    assert report["baseline_exact_title"] == 10
    assert report["sample_unmatched"] == [
        "Crash (2004)",
        "Beauty and the Beast (2017)",
        "Gift, The",
        "Blue Velvet Night (1991)",
    ]


def test_fills_only_missing_fields(linked: tuple[pl.DataFrame, dict[str, Any]]) -> None:
    out, _ = linked
    rows = {r["item_idx"]: r for r in out.iter_rows(named=True)}
    # an item's own genres stay; empty genres take the catalogue's
    assert rows[1]["genres"] == ["Animation"]
    assert rows[3]["genres"] == ["Thrillers"]
    # kind filled when null, ids filled when null, the item's own id kept
    assert rows[4]["kind"] == "movie"
    assert rows[0]["tmdb_id"] == 603
    assert rows[1]["tmdb_id"] is None
    # the catalogue's own description_source wins, else "{name}:{item_id}"
    assert rows[13]["description_source"] == "netflix-titles:s77"
    assert rows[1]["description_source"] == "cat:c2"
    assert rows[10]["description_source"] == "x:1"  # untouched
    # unmatched rows keep their nulls
    assert rows[2]["description"] is None and rows[2]["description_source"] is None
    assert out.columns == _frame(ITEMS).columns and out.height == len(ITEMS)
    assert out["item_idx"].to_list() == list(range(len(ITEMS)))


def test_id_link_wins_over_title() -> None:
    items = _frame([{"title": "Same Name Here", "year": 2000, "tmdb_id": 5}])
    cat = _frame(
        [
            {"item_id": "a", "title": "Same Name Here", "year": 2000, "description": "by title"},
            {"item_id": "b", "title": "Other", "year": 1950, "tmdb_id": 5, "description": "by id"},
        ]
    )
    out, report = link_catalogue(items, cat, name="c")
    assert out["description"].to_list() == ["by id"]
    assert report["by_method"]["id"] == 1 and report["by_method"]["title+year"] == 0


def test_catalogue_row_not_shared_by_different_titles() -> None:
    # both reach the one row: item 0 by its main title, item 1 by its alternate title
    items = _frame(
        [
            {"title": "Night Tourist Story", "year": 2010},
            {"title": "Other Film (Night Tourist Story)", "year": 2010},
        ]
    )
    cat = _frame([{"item_id": "a", "title": "Night Tourist Story", "year": 2010, "description": "d"}])
    out, report = link_catalogue(items, cat, name="c")
    # main-title match beats the alternate-title match; the row is not shared with another film
    assert out["description"].to_list() == ["d", None]
    assert report["n_matched"] == 1


def test_loser_falls_back_to_its_next_candidate() -> None:
    items = _frame(
        [
            {"title": "Long Film Title", "year": 2000},
            # best candidate: row a by its alternate title (same year), which item 0 wins by main title;
            # next: row b by main title a year off
            {"title": "Other Name Here (Long Film Title)", "year": 2000},
        ]
    )
    cat = _frame(
        [
            {"item_id": "a", "title": "Long Film Title", "year": 2000, "description": "a"},
            {"item_id": "b", "title": "Other Name Here", "year": 2001, "description": "b"},
        ]
    )
    out, report = link_catalogue(items, cat, name="c")
    assert out["description"].to_list() == ["a", "b"]
    assert report["by_method"]["title+year"] == 1 and report["by_method"]["title+year±1"] == 1


def test_unknown_year_needs_unique_title_on_both_sides() -> None:
    items = _frame([{"title": "Quiet Harbour Lights"}, {"title": "Quiet Harbour Lights", "year": 1970}])
    cat = _frame([{"item_id": "a", "title": "Quiet Harbour Lights", "year": 1980, "description": "d"}])
    out, report = link_catalogue(items, cat, name="c")
    assert out["description"].to_list() == [None, None]
    assert report["n_matched"] == 0


def test_prefers_movie_when_item_kind_unknown() -> None:
    items = _frame([{"title": "Dual Use Title", "year": 2003}])
    cat = _frame(
        [
            {
                "item_id": "show",
                "title": "Dual Use Title",
                "year": 2003,
                "kind": "tv show",
                "description": "show",
            },
            {
                "item_id": "film",
                "title": "Dual Use Title",
                "year": 2003,
                "kind": "movie",
                "description": "film",
            },
        ]
    )
    out, _ = link_catalogue(items, cat, name="c")
    assert out["description"].to_list() == ["film"]
    assert out["kind"].to_list() == ["movie"]


def test_empty_frames() -> None:
    items = _frame([{"title": "Anything", "year": 2000}])
    out, report = link_catalogue(items, items.head(0), name="c")
    assert report["n_matched"] == 0 and out["description"].to_list() == [None]
    out, report = link_catalogue(items.head(0), items, name="c")
    assert report["n_items"] == 0 and report["match_rate"] == 0.0 and out.height == 0


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("heat", False),
        ("the gift", False),
        ("blue ruin", True),
        ("taken 3", True),
        ("a b", False),
        ("la la", False),
    ],
)
def test_distinctive_rule_and_its_vectorised_twin_agree(key: str, expected: bool) -> None:
    assert distinctive(key) is expected
    assert pl.select(_distinctive_expr(pl.lit(key))).item() is expected
