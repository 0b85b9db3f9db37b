"""netflix_titles.csv and TMDB 5000 loaders: hand-written fixtures and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nextwatch.data.sources import detect_format, netflix_titles, tmdb
from nextwatch.errors import InputError

NT_HEADER = (
    "show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description\n"
)
NT_ROWS = [
    's1,Movie,Dick Johnson Is Dead,Kirsten Johnson,,United States,"September 25, 2021",2020,PG-13,'
    '90 min,Documentaries,"As her father nears the end of his life, Kirsten Johnson stages his death."\n',
    's10,TV Show,Blood & Water,,"Ama Qamata, Khosi Ngema",South Africa,"September 24, 2021",2021,TV-MA,'
    '2 Seasons,"International TV Shows, TV Dramas, TV Mysteries","After crossing paths at a party,\n'
    'a Cape Town teen sets out to prove something."\n',
    "s2,Movie,Silent Night,,,,,,,,,\n",
]


def netflix_titles_file(tmp_path: Path, rows: list[str] = NT_ROWS, header: str = NT_HEADER) -> Path:
    f = tmp_path / "netflix_titles.csv"
    f.write_text(header + "".join(rows), encoding="utf-8")
    return f


def test_netflix_titles_hand_checked(tmp_path: Path) -> None:
    f = netflix_titles_file(tmp_path)
    assert detect_format(f) == "netflix-titles" and detect_format(tmp_path) == "netflix-titles"
    src = netflix_titles.load(f)
    assert src.interactions is None and src.format == "netflix-titles"
    items = src.items
    assert items["item_id"].to_list() == ["s1", "s2", "s10"]  # numeric show-id order
    assert items["item_idx"].to_list() == [0, 1, 2]
    assert items["title"].to_list() == ["Dick Johnson Is Dead", "Silent Night", "Blood & Water"]
    assert items["kind"].to_list() == ["movie", "movie", "tv show"]
    assert items["year"].to_list() == [2020, None, 2021]
    assert items["genres"].to_list() == [
        ["Documentaries"],
        [],
        ["International TV Shows", "TV Dramas", "TV Mysteries"],
    ]
    # a quoted description with a comma and a line break survives whole
    assert items["description"][2] == (
        "After crossing paths at a party,\na Cape Town teen sets out to prove something."
    )
    assert items["description_source"].to_list() == ["netflix-titles:s1", None, "netflix-titles:s10"]
    assert "director" not in items.columns and "cast" not in items.columns


@pytest.mark.parametrize(
    ("rows", "header", "line", "words"),
    [
        ([NT_ROWS[0], "s3,Movie,Foo,,,,,2020,,,Dramas\n"], NT_HEADER, 3, "expected 12 fields, got 11"),
        ([NT_ROWS[0], NT_ROWS[1][:60]], NT_HEADER, 3, "it looks truncated"),
        ([NT_ROWS[0], NT_ROWS[1][:-40]], NT_HEADER, 3, "ends inside a quoted field"),
        ([NT_ROWS[0], "s3,Movie,Foo,,,,,20x0,,,Dramas,Text\n"], NT_HEADER, 3, "release_year '20x0'"),
        ([NT_ROWS[0], NT_ROWS[0]], NT_HEADER, 3, "show_id s1 appears twice (first on line 2)"),
        ([NT_ROWS[0]], NT_HEADER.replace(",description", ",summary"), 1, "missing column(s) description"),
        ([], NT_HEADER, None, "only a header"),
    ],
)
def test_netflix_titles_bad_input(
    tmp_path: Path, rows: list[str], header: str, line: int | None, words: str
) -> None:
    f = netflix_titles_file(tmp_path, rows, header)
    with pytest.raises(InputError) as err:
        netflix_titles.load(f)
    assert (err.value.path, err.value.line) == (str(f), line)
    assert words in err.value.detail


def test_netflix_titles_encoding_and_empty(tmp_path: Path) -> None:
    f = tmp_path / "netflix_titles.csv"
    f.write_bytes((NT_HEADER + NT_ROWS[0]).encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        netflix_titles.load(f)
    f.write_bytes((NT_HEADER + NT_ROWS[0]).replace("Dick", "Dïck").encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8") as err:
        netflix_titles.load(f)
    assert err.value.line == 2
    f.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        netflix_titles.load(f)


TMDB_HEADER = (
    "budget,genres,homepage,id,keywords,original_language,original_title,overview,popularity,"
    "production_companies,production_countries,release_date,revenue,runtime,spoken_languages,status,"
    "tagline,title,vote_average,vote_count\n"
)


def tmdb_row(tmdb_id: int, title: str, genres: list[str], overview: str, date: str) -> str:
    g = json.dumps([{"id": k, "name": n} for k, n in enumerate(genres)]).replace('"', '""')
    ov = overview.replace('"', '""')
    return f'1,"{g}",,{tmdb_id},[],en,{title},"{ov}",1.0,[],[],{date},0,90,[],Released,,{title},7.0,10\n'


TOY_STORY = 'Led by Woody, "Andy\'s" toys\nlive.'


def tmdb_file(tmp_path: Path, rows: list[str] | None = None, header: str = TMDB_HEADER) -> Path:
    f = tmp_path / "tmdb_5000_movies.csv"
    if rows is None:
        rows = [
            tmdb_row(862, "Toy Story", ["Animation", "Comedy", "Family"], TOY_STORY, "1995-10-30"),
            tmdb_row(5, "Four Rooms", ["Crime", "Comedy"], "", ""),
        ]
    f.write_text(header + "".join(rows), encoding="utf-8")
    return f


def test_tmdb_hand_checked(tmp_path: Path) -> None:
    f = tmdb_file(tmp_path)
    assert detect_format(tmp_path) == "tmdb"
    items = tmdb.load(f).items
    assert items["item_id"].to_list() == ["5", "862"]  # ordered by TMDB id
    assert items["tmdb_id"].to_list() == [5, 862]
    assert items["title"].to_list() == ["Four Rooms", "Toy Story"]
    assert items["year"].to_list() == [None, 1995]
    assert items["genres"].to_list() == [["Crime", "Comedy"], ["Animation", "Comedy", "Family"]]
    assert items["description"].to_list() == [None, TOY_STORY]
    assert items["description_source"].to_list() == [None, "tmdb:862"]
    assert items["kind"].to_list() == ["movie", "movie"]


@pytest.mark.parametrize(
    ("rows", "line", "words"),
    [
        (
            [
                tmdb_row(1, "A", ["Drama"], "x", "2001-01-01"),
                tmdb_row(2, "B", ["Drama"], "y", "2001").replace(
                    '[{""id"": 0, ""name"": ""Drama""}]', "[{broken"
                ),
            ],
            3,
            "genres is not valid JSON",
        ),
        ([tmdb_row(1, "A", [], "x", "01/02/2001")], 2, "release_date '01/02/2001'"),
        ([tmdb_row(1, "A", [], "x", "2001-01-01"), tmdb_row(1, "B", [], "y", "2002")], 3, "appears twice"),
        ([tmdb_row(1, "A", [], "x", "2001-01-01").replace(",1,[],en", ",x1,[],en")], 2, "id 'x1'"),
    ],
)
def test_tmdb_bad_input(tmp_path: Path, rows: list[str], line: int, words: str) -> None:
    f = tmdb_file(tmp_path, rows)
    with pytest.raises(InputError) as err:
        tmdb.load(f)
    assert (err.value.path, err.value.line) == (str(f), line)
    assert words in err.value.detail


def test_tmdb_missing_column_and_truncation(tmp_path: Path) -> None:
    row = tmdb_row(1, "A", [], "x", "2001-01-01")
    f = tmdb_file(tmp_path, [row], header=TMDB_HEADER.replace("overview", "plot"))
    with pytest.raises(InputError, match="missing column") as err:
        tmdb.load(f)
    assert err.value.line == 1
    f = tmdb_file(tmp_path, [row, tmdb_row(2, "B", [], "two\nlines", "2001")[:40]])
    with pytest.raises(InputError, match="truncated") as err:
        tmdb.load(f)
    assert err.value.line == 3


@pytest.mark.parametrize(
    ("loader", "name", "header"),
    [(netflix_titles, "netflix_titles.csv", NT_HEADER), (tmdb, "tmdb_5000_movies.csv", TMDB_HEADER)],
)
@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (lambda h: b"", None, "empty"),
        (lambda h: h.encode("utf-16"), 1, "UTF-16"),
        (lambda h: h.encode() + b"s1,\x00\x01\x02\xff\xfe" * 50, 2, "binary"),
        (lambda h: h.encode() + "s1,Movie,Amélie".encode("latin-1"), 2, "not valid UTF-8"),
    ],
)
def test_catalogue_encodings_and_empty_files(
    tmp_path: Path, loader, name, header, content, line, words
) -> None:
    f = tmp_path / name
    f.write_bytes(content(header))
    with pytest.raises(InputError) as err:
        loader.load(f)
    assert (err.value.path, err.value.line) == (str(f), line)
    assert words in err.value.detail
