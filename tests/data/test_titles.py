"""Title normalisation, display, query parsing and the TitleIndex lookup, on hand-checked cases."""

from __future__ import annotations

import polars as pl
import pytest

from nextwatch.data.titles import (
    TitleIndex,
    display_title,
    normalize_title,
    parse_query,
    split_parentheticals,
    strip_leading_article,
    title_keys,
)
from nextwatch.errors import NotFoundError


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Matrix, The", "the matrix"),
        ("The Matrix", "the matrix"),
        ("THE MATRIX!", "the matrix"),
        ("Amélie", "amelie"),
        ("Fast & Furious", "fast and furious"),
        ("Schindler\u2019s List", "schindlers list"),
        ("Schindler's List", "schindlers list"),
        ("Spider\u2013Man", "spider man"),
        ("Spider-Man", "spider man"),
        ("\u201cThe\u201d Movie", "the movie"),
        ("Auberge espagnole, L'", "lauberge espagnole"),
        ("L\u2019Auberge Espagnole", "lauberge espagnole"),
        ("Cité des enfants perdus, La", "la cite des enfants perdus"),
        ("Boot, Das", "das boot"),
        ("Cry, the Beloved Country", "cry the beloved country"),  # not a lone trailing article
        ("I, Robot", "i robot"),
        ("S.W.A.T.", "swat"),
        ("Dr. Strangelove", "dr strangelove"),
        ("Straße", "strasse"),  # casefold, not lower
        ("  Star   Wars:  Episode IV - A New Hope ", "star wars episode iv a new hope"),
        ("", ""),
    ],
)
def test_normalize_title(title: str, key: str) -> None:
    assert normalize_title(title) == key


def test_article_before_parentheticals_moves_in_each_part() -> None:
    assert normalize_title("Postman, The (Postino, Il)") == "the postman il postino"


@pytest.mark.parametrize(
    ("title", "keys"),
    [
        (
            "City of Lost Children, The (Cité des enfants perdus, La)",
            ["the city of lost children", "la cite des enfants perdus"],
        ),
        (
            "Léon: The Professional (a.k.a. The Professional) (Léon)",
            ["leon the professional", "the professional", "leon"],
        ),
        ("Seven (a.k.a. Se7en)", ["seven", "se7en"]),
        ("Twins Effect, The (aka Twins Effect)", ["the twins effect", "twins effect"]),
        ("Postman, The (Postino, Il)", ["the postman", "il postino"]),
        # release qualifiers and years are not alternate titles
        ("Sholay (Hindi)", ["sholay"]),
        ("Alien (Widescreen)", ["alien"]),
        ("Taxi Driver (Collector's Edition)", ["taxi driver"]),
        ("Rebecca (1940)", ["rebecca"]),
        # a leading parenthesis is part of the title
        ("(500) Days of Summer", ["500 days of summer"]),
        # duplicates collapse, main first
        ("Toy Story (Toy Story)", ["toy story"]),
        ("", []),
    ],
)
def test_title_keys(title: str, keys: list[str]) -> None:
    assert title_keys(title) == keys


def test_split_parentheticals_keeps_nested_groups_whole() -> None:
    assert split_parentheticals("Godzilla 1985 (Gojira) (Return of Godzilla, The)") == (
        "Godzilla 1985",
        ["Gojira", "Return of Godzilla, The"],
    )
    assert split_parentheticals("Movie (a (nested) note)") == ("Movie", ["a (nested) note"])
    assert split_parentheticals("Ends with(no space)") == ("Ends with(no space)", [])


def test_strip_leading_article() -> None:
    assert strip_leading_article("the lion king") == "lion king"
    assert strip_leading_article("la cite") == "cite"
    assert strip_leading_article("the") == "the"  # nothing left: keep it
    assert strip_leading_article("heat") == "heat"


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Lion King, The", "The Lion King"),
        (
            "City of Lost Children, The (Cité des enfants perdus, La)",
            "The City of Lost Children (La Cité des enfants perdus)",
        ),
        ("Auberge espagnole, L'", "L'Auberge espagnole"),
        (
            "Legend of 1900, The (a.k.a. Legend of the Pianist, The)",
            "The Legend of 1900 (a.k.a. The Legend of the Pianist)",
        ),
        ("Cry, the Beloved Country", "Cry, the Beloved Country"),
        ("The Lion King", "The Lion King"),
        ("(500) Days of Summer", "(500) Days of Summer"),
    ],
)
def test_display_title(title: str, shown: str) -> None:
    assert display_title(title) == shown


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("the lion king 1994", ("the lion king", 1994)),
        ("Lion King, The (1994)", ("Lion King, The", 1994)),
        ("The Lion King", ("The Lion King", None)),
        ("  The Lion King ( 1994 ) ", ("The Lion King", 1994)),
        ("1917", ("1917", None)),  # the whole text is the title
        ("Blade Runner 2049", ("Blade Runner 2049", None)),  # not a plausible year
        ("2001: A Space Odyssey", ("2001: A Space Odyssey", None)),
        ("Death Race 2000", ("Death Race", 2000)),  # find() retries it as a title
    ],
)
def test_parse_query(text: str, parsed: tuple[str, int | None]) -> None:
    assert parse_query(text) == parsed


def _items(rows: list[tuple[str, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "item_idx": pl.Series(range(len(rows)), dtype=pl.Int32),
            "title": [t for t, _ in rows],
            "year": pl.Series([y for _, y in rows], dtype=pl.Int16),
        }
    )


@pytest.fixture
def index_items() -> pl.DataFrame:
    return _items(
        [
            ("Lion King, The", 1994),  # 0
            ("Lion King, The", 2019),  # 1
            ("Matrix, The", 1999),  # 2
            ("Death Race 2000", 1975),  # 3
            ("Amélie (Fabuleux destin d'Amélie Poulain, Le)", 2001),  # 4
            ("Toy Story", 1995),  # 5
            ("Toy Story 2", 1999),  # 6
            ("Professional, The", 2003),  # 7: its main title is another film's alternate
            ("Léon: The Professional (a.k.a. The Professional)", 1994),  # 8
        ]
    )


def test_find_by_any_spelling(index_items: pl.DataFrame) -> None:
    idx = TitleIndex(index_items)
    assert idx.find("The Matrix") == 2
    assert idx.find("matrix, the") == 2
    assert idx.find("Matrix") == 2  # article left off
    assert idx.find("MATRIX (1999)") == 2
    assert idx.find("amelie") == 4
    assert idx.find("Le Fabuleux Destin d'Amelie Poulain") == 4  # the alternate title
    assert idx.find("Death Race 2000") == 3  # the number is part of the title
    assert idx.find("toy story") == 5  # not "Toy Story 2"


def test_find_uses_year_then_year_plus_minus_one(index_items: pl.DataFrame) -> None:
    idx = TitleIndex(index_items)
    assert idx.find("the lion king 1994") == 0
    assert idx.find("Lion King, The (2019)") == 1
    assert idx.find("lion king 1995") == 0  # a year off still finds it
    with pytest.raises(NotFoundError, match="from 2005"):
        idx.find("The Lion King 2005")


def test_find_prefers_main_title_over_alternate(index_items: pl.DataFrame) -> None:
    idx = TitleIndex(index_items)
    assert idx.find("The Professional") == 7
    assert idx.find("The Professional 1994") == 8  # the year picks the alternate's film


def test_ambiguous_title_lists_candidates_with_years(index_items: pl.DataFrame) -> None:
    idx = TitleIndex(index_items)
    with pytest.raises(NotFoundError) as err:
        idx.find("The Lion King")
    message = str(err.value)
    assert "2 titles" in message
    assert "The Lion King (1994)" in message and "The Lion King (2019)" in message


def test_ambiguity_settled_by_popularity(index_items: pl.DataFrame) -> None:
    pop = [10.0, 50.0, 1, 1, 1, 1, 1, 1, 1]
    assert TitleIndex(index_items, popularity=pop).find("The Lion King") == 1
    tie = [7.0, 7.0, 1, 1, 1, 1, 1, 1, 1]
    with pytest.raises(NotFoundError, match="matches 2 titles"):
        TitleIndex(index_items, popularity=tie).find("The Lion King")


def test_not_found_lists_closest(index_items: pl.DataFrame) -> None:
    idx = TitleIndex(index_items)
    with pytest.raises(NotFoundError) as err:
        idx.find("Toy Stroy")
    assert "Toy Stroy" in err.value.message
    assert err.value.hint is not None and "Toy Story (1995)" in err.value.hint


def test_search_ranks_exact_then_close(index_items: pl.DataFrame) -> None:
    idx = TitleIndex(index_items)
    hits = idx.search("toy story", 3)
    assert [i for i, _ in hits[:2]] == [5, 6]
    assert hits[0][1] == 1.0 and hits[1][1] < 1.0
    assert idx.search("matrx", 1)[0][0] == 2  # a typo still finds it
    assert idx.search("lion", 2)[0][0] in (0, 1)  # one word of a longer title
    assert all(0.0 <= s <= 1.0 for _, s in idx.search("the", 9))
    assert idx.search("", 5) == []
    assert idx.search("zzzzqqq", 5) == []  # no trigram in common


def test_search_year_and_popularity_break_ties(index_items: pl.DataFrame) -> None:
    by_year = TitleIndex(index_items).search("the lion king 2019", 2)
    assert [i for i, _ in by_year] == [1, 0]
    pop = [1.0, 9.0, 1, 1, 1, 1, 1, 1, 1]
    by_pop = TitleIndex(index_items, popularity=pop).search("the lion king", 2)
    assert [i for i, _ in by_pop] == [1, 0] and by_pop[0][1] == by_pop[1][1]


def test_label_and_len(index_items: pl.DataFrame) -> None:
    idx = TitleIndex(index_items)
    assert len(idx) == 9
    assert idx.label(4) == "Amélie (Le Fabuleux destin d'Amélie Poulain) (2001)"


def test_index_without_year_column() -> None:
    frame = pl.DataFrame({"item_idx": pl.Series([0, 1], dtype=pl.Int32), "title": ["Heat", "Up"]})
    idx = TitleIndex(frame)
    assert idx.find("heat") == 0
    assert idx.label(1) == "Up"


def test_editions_of_one_film_need_the_full_title() -> None:
    idx = TitleIndex(
        _items([("Finding Nemo (Widescreen)", 2003), ("Finding Nemo (Full-screen)", 2003), ("Shrek", 2001)])
    )
    with pytest.raises(NotFoundError) as err:
        idx.find("Finding Nemo 2003")
    assert err.value.hint == "give the full title as listed, e.g. 'Finding Nemo (Widescreen)'"
    assert idx.find("finding nemo (full-screen)") == 1
    assert idx.find("Finding Nemo (Widescreen) 2003") == 0
    # an exact title beats the qualified editions of it
    both = TitleIndex(_items([("Finding Nemo (Widescreen)", 2003), ("Finding Nemo", 2003)]))
    assert both.find("Finding Nemo") == 1


def test_ambiguity_hint_suggests_the_year_when_years_differ(index_items: pl.DataFrame) -> None:
    with pytest.raises(NotFoundError) as err:
        TitleIndex(index_items).find("lion king")
    assert err.value.hint == "add the year, e.g. 'The Lion King 1994'"
