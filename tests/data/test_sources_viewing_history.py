"""Netflix viewing-activity export: show titles, whole-file date order, bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from nextwatch.data.sources.viewing_history import ViewingEntry, load_viewing_history, show_title
from nextwatch.errors import InputError


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    f = tmp_path / "NetflixViewingHistory.csv"
    f.write_bytes(text.encode(encoding))
    return f


@pytest.mark.parametrize(
    ("title", "show"),
    [
        ("Stranger Things: Season 1: Chapter One: The Vanishing of Will Byers", "Stranger Things"),
        ("Trollhunters: Tales of Arcadia: Part 2: Homecoming", "Trollhunters"),
        ("The Queen's Gambit: Limited Series: Openings", "The Queen's Gambit"),
        ("Dark: Season 3", "Dark"),
        ("Inception", None),
        ("Star Wars: The Last Jedi", None),  # a film with a colon is not an episode
        ("Mission: Impossible - Fallout", None),
    ],
)
def test_show_title(title: str, show: str | None) -> None:
    assert show_title(title) == show


def test_us_export_with_bom_and_quoted_commas(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "Title,Date\n"
        '"Stranger Things: Season 1: Chapter Three: Holly, Jolly","3/15/21"\n'
        '"Inception","3/13/21"\n'
        '"Breaking Bad: Season 1: Cat’s in the Bag...","12/31/20"\n',
        encoding="utf-8-sig",
    )
    entries = load_viewing_history(f)
    assert entries == [
        ViewingEntry(
            "Stranger Things: Season 1: Chapter Three: Holly, Jolly", "Stranger Things", date(2021, 3, 15), 2
        ),
        ViewingEntry("Inception", None, date(2021, 3, 13), 3),
        ViewingEntry("Breaking Bad: Season 1: Cat’s in the Bag...", "Breaking Bad", date(2020, 12, 31), 4),
    ]


def test_day_first_file_is_read_day_first_even_where_a_row_is_ambiguous(tmp_path: Path) -> None:
    # 05/04/2021 alone could be May 4th; 25/03/2021 decides the whole file is DD/MM/YYYY
    f = write(tmp_path, "Title,Date\nMoon,05/04/2021\nJaws,25/03/2021\n")
    assert [e.date for e in load_viewing_history(f)] == [date(2021, 4, 5), date(2021, 3, 25)]


def test_fully_ambiguous_dates_follow_newest_first_order(tmp_path: Path) -> None:
    # read M/D these would go 2021-01-05, 2021-03-04, 2021-02-04 (not newest first);
    # read D/M they go 2021-05-01, 2021-04-03, 2021-04-02 (newest first, as Netflix writes them)
    f = write(tmp_path, "Title,Date\nA,01/05/2021\nB,03/04/2021\nC,02/04/2021\n")
    assert [e.date for e in load_viewing_history(f)] == [date(2021, 5, 1), date(2021, 4, 3), date(2021, 4, 2)]


def test_german_and_iso_dates(tmp_path: Path) -> None:
    assert load_viewing_history(write(tmp_path, "Title,Date\nA,21.10.20\n"))[0].date == date(2020, 10, 21)
    assert load_viewing_history(write(tmp_path, "title,date\nA,2020-10-21\n"))[0].date == date(2020, 10, 21)


def test_header_only_is_an_empty_history(tmp_path: Path) -> None:
    assert load_viewing_history(write(tmp_path, "Title,Date\n")) == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("Name,When\nA,1/2/21\n", 1, "expected the header Title,Date"),
        ("Title,Date\nA,1/2/21\nB,C,1/2/21\n", 3, "expected 2 fields"),
        ("Title,Date\nA,1/2/21\nB,yesterday\n", 3, "not a date"),
        ("Title,Date\nA,13/25/21\n", 2, "not a valid date"),
        ("Title,Date\nA,1/2/21\n,1/3/21\n", 3, "empty title"),
        ('Title,Date\nA,1/2/21\n"B: Season 1,1/3/21\n', 3, "cut short"),
        ("Title,Date\nA,1/2/21\nB", 3, "truncated"),
        ("", None, "empty"),
    ],
)
def test_bad_input(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    f = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_viewing_history(f)
    assert (err.value.path, err.value.line) == (str(f), line)
    assert words in err.value.detail


def test_utf16_export(tmp_path: Path) -> None:
    f = write(tmp_path, "Title,Date\nA,1/2/21\n", encoding="utf-16")
    with pytest.raises(InputError, match="UTF-16") as err:
        load_viewing_history(f)
    assert err.value.line == 1
