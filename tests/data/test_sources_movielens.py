"""MovieLens loader: the 100K, 1M and CSV layouts on hand-written fixtures, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextwatch.data.sources import detect_format, movielens
from nextwatch.errors import InputError


def ml_1m(root: Path, ratings_name: str = "ratings.dat", ratings: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "movies.dat").write_bytes(
        "7::Lion King, The (1994)::Animation|Children's|Musical\n"
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "3::Café au lait (1993)::Comedy\n".encode("latin-1")
    )
    (root / "users.dat").write_text("1::F::1::10::48067\n3::M::56::16::70072\n10::F::35::1::95370\n")
    (root / ratings_name).write_text(
        ratings
        if ratings is not None
        else "3::7::4::978300760\n1::1::5::978302109\n3::1::3::978301968\n10::3::2::978300000\n"
    )
    return root


def test_1m_hand_checked(tmp_path: Path) -> None:
    root = ml_1m(tmp_path / "ml-1m")
    assert detect_format(root) == "movielens"
    src = movielens.load(root)
    assert (src.format, src.variant, src.rating_scale) == ("movielens", "1m", (1.0, 5.0))
    items = src.items
    assert items["item_id"].to_list() == ["1", "3", "7"]
    assert items["title"].to_list() == ["Toy Story", "Café au lait", "Lion King, The"]
    assert items["year"].to_list() == [1995, 1993, 1994]
    assert items["genres"].to_list() == [
        ["Animation", "Children's", "Comedy"],
        ["Comedy"],
        ["Animation", "Children's", "Musical"],
    ]
    assert items["kind"].to_list() == ["movie"] * 3
    assert src.users["user_id"].to_list() == ["1", "3", "10"]
    inter = src.interactions
    assert inter is not None
    # user 3 (dense 1) rated movie 7 (dense 2) 4 stars at 978300760
    first = (inter.user_idx[0], inter.item_idx[0], inter.rating[0], inter.timestamp[0])
    assert first == (1, 2, 4.0, 978300760)
    assert inter.user_idx.tolist() == [1, 0, 1, 2]
    assert inter.item_idx.tolist() == [2, 0, 0, 1]
    assert inter.rating.tolist() == [4.0, 5.0, 3.0, 2.0]


def test_1m_shared_copy_file_name(tmp_path: Path) -> None:
    root = ml_1m(tmp_path / "ml-1m", ratings_name="ratings_users_0001-2999.dat")
    src = movielens.load(root)
    assert src.interactions is not None and len(src.interactions) == 4
    assert src.files[0].name == "ratings_users_0001-2999.dat"


def ml_csv(root: Path, ratings: str | None = None, links: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation\n"
        '2,"American President, The (1995)",Comedy|Drama|Romance\n'
        "10,Babylon 5,(no genres listed)\n"
        '5,"Death Note: Desu nôto (2006–2007)",Anime\n',
        encoding="utf-8",
    )
    (root / "ratings.csv").write_text(
        ratings
        if ratings is not None
        else "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,10,0.5,964981247\n20,2,4.5,1445714994\n"
    )
    if links:
        (root / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0112346,9087\n10,0105946,\n")
    return root


def test_csv_latest_hand_checked(tmp_path: Path) -> None:
    src = movielens.load(ml_csv(tmp_path / "ml-latest-small"))
    assert (src.variant, src.rating_scale) == ("csv", (0.5, 5.0))
    items = src.items
    assert items["item_id"].to_list() == ["1", "2", "5", "10"]  # numeric order, not text order
    assert items["title"].to_list() == [
        "Toy Story", "American President, The", "Death Note: Desu nôto", "Babylon 5"
    ]  # fmt: skip
    assert items["year"].to_list() == [1995, 1995, 2006, None]
    assert items["genres"].to_list() == [
        ["Adventure", "Animation"], ["Comedy", "Drama", "Romance"], ["Anime"], []
    ]  # fmt: skip
    assert items["imdb_id"].to_list() == [114709, 112346, None, 105946]
    assert items["tmdb_id"].to_list() == [862, 9087, None, None]
    inter = src.interactions
    assert inter is not None
    assert src.users["user_id"].to_list() == ["1", "20"]
    assert inter.user_idx.tolist() == [0, 0, 1]
    assert inter.item_idx.tolist() == [0, 3, 1]
    assert inter.rating.tolist() == [4.0, 0.5, 4.5]
    assert inter.timestamp.tolist() == [964982703, 964981247, 1445714994]


def test_csv_without_links_has_no_ids(tmp_path: Path) -> None:
    src = movielens.load(ml_csv(tmp_path / "ml", links=False))
    assert src.items["imdb_id"].null_count() == 4 and src.items["tmdb_id"].null_count() == 4


def ml_100k(root: Path) -> Path:
    root.mkdir(parents=True)
    flags = ["0"] * 19

    def item(mid: int, title: str, date: str, genres: list[int]) -> str:
        f = list(flags)
        for g in genres:
            f[g] = "1"
        return "|".join([str(mid), title, date, "", "http://us.imdb.com/M/title-exact?x", *f])

    (root / "u.item").write_bytes(
        "\n".join(
            [
                item(1, "Toy Story (1995)", "01-Jan-1995", [3, 4, 5]),
                item(2, "GoldenEye (1995)", "01-Jan-1995", [1, 2, 16]),
                item(4, "Misérables, Les (1995)", "01-Jan-1995", [8, 18]),
                item(267, "unknown", "", [0]),
            ]
        ).encode("latin-1")
        + b"\n"
    )
    (root / "u.data").write_text("196\t2\t3\t881250949\n22\t1\t1\t878887116\n196\t4\t5\t891717742\n")
    return root


def test_100k_hand_checked(tmp_path: Path) -> None:
    src = movielens.load(ml_100k(tmp_path / "ml-100k"))
    assert (src.variant, src.rating_scale) == ("100k", (1.0, 5.0))
    items = src.items
    assert items["item_id"].to_list() == ["1", "2", "4", "267"]
    assert items["title"].to_list() == ["Toy Story", "GoldenEye", "Misérables, Les", "unknown"]
    assert items["year"].to_list() == [1995, 1995, 1995, None]
    assert items["genres"].to_list() == [
        ["Animation", "Children's", "Comedy"],
        ["Action", "Adventure", "Thriller"],
        ["Drama", "Western"],
        [],  # the "unknown" genre flag is no genre
    ]
    inter = src.interactions
    assert inter is not None
    assert src.users["user_id"].to_list() == ["22", "196"]
    assert inter.user_idx.tolist() == [1, 0, 1]
    assert inter.item_idx.tolist() == [1, 0, 2]
    assert inter.rating.tolist() == [3.0, 1.0, 5.0]
    assert inter.timestamp.tolist() == [881250949, 878887116, 891717742]


# --------------------------------------------------------------------------------------------- bad input

CSV_HEAD = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"


@pytest.mark.parametrize(
    ("ratings", "line", "words"),
    [
        (CSV_HEAD + "1,2\n", 3, "4 fields"),
        (CSV_HEAD + "1,2,3.0,5,9\n", 3, "got 5"),
        (CSV_HEAD + "1,2,6.0,5\n", 3, "outside the scale 0.5-5"),
        (CSV_HEAD + "1,2,0.0,5\n", 3, "outside the scale 0.5-5"),
        (CSV_HEAD + "1,2,3.3,5\n", 3, "not a multiple of 0.5"),
        (CSV_HEAD + "1,2,abc,5\n", 3, "not a number"),
        (CSV_HEAD + "x,2,3.0,5\n", 3, "user id 'x'"),
        (CSV_HEAD + "1,2,3.0,5\n1,10,3.0,soon\n", 4, "timestamp 'soon'"),
        (CSV_HEAD + "1,2,4.5,9649", 3, None),  # a whole record without a final newline: fine
        (CSV_HEAD + "1,2,4.", 3, "truncated"),
        (CSV_HEAD + "1,99,4.0,5\n", 3, "movie 99, which is not in movies.csv"),
        ("userId,movieId,timestamp\n1,1,964982703\n", 1, "missing rating"),
        ("userId,movieId,rating,timestamp\n", None, "only a header"),
        ("", None, "empty"),
    ],
)
def test_bad_csv_ratings(tmp_path: Path, ratings: str, line: int | None, words: str | None) -> None:
    root = ml_csv(tmp_path / "ml", ratings=ratings)
    if words is None:
        assert movielens.load(root).interactions is not None
        return
    with pytest.raises(InputError) as err:
        movielens.load(root)
    assert err.value.path == str(root / "ratings.csv")
    assert err.value.line == line
    assert words in err.value.detail


@pytest.mark.parametrize(
    ("ratings", "line", "words"),
    [
        ("1::1::5::978302109\n3::1:3::978301968\n", 2, "4 fields"),
        ("1::1::5::978302109\n3::1::7::978301968\n", 2, "outside the scale 1-5"),
        ("1::1::5::978302109\n3::1::3.5::978301968\n", 2, "not a multiple of 1"),
        ("1::1::5::978302109\n3::1::3", 2, "truncated"),
    ],
)
def test_bad_1m_ratings(tmp_path: Path, ratings: str, line: int, words: str) -> None:
    root = ml_1m(tmp_path / "ml-1m", ratings=ratings)
    with pytest.raises(InputError) as err:
        movielens.load(root)
    assert (err.value.path, err.value.line) == (str(root / "ratings.dat"), line)
    assert words in err.value.detail


def test_utf16_and_binary_ratings(tmp_path: Path) -> None:
    root = ml_csv(tmp_path / "a")
    (root / "ratings.csv").write_bytes(CSV_HEAD.encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16") as err:
        movielens.load(root)
    assert err.value.line == 1
    root = ml_1m(tmp_path / "b")
    (root / "ratings.dat").write_bytes(b"1::1::5::978302109\n" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="binary") as err:
        movielens.load(root)
    assert err.value.line == 2


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Heat (1995)\n", 3, "3 fields"),
        ("movies.csv", 'movieId,title,genres\n1,"Toy Story (1995),Comedy\n', 2, "malformed CSV"),
        ("movies.csv", "movieId,name,genres\n1,Toy Story (1995),Comedy\n", 1, "header movieId,title,genres"),
        ("movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n1,Heat (1995),Action\n", 3, "twice"),
        ("links.csv", "movieId,imdbId,tmdbId\n1,tt0114709,862\n", 2, "imdbId 'tt0114709'"),
    ],
)
def test_bad_movie_files(tmp_path: Path, name: str, text: str, line: int, words: str) -> None:
    root = ml_csv(tmp_path / "ml", ratings="userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    (root / name).write_text(text)
    with pytest.raises(InputError) as err:
        movielens.load(root)
    assert (err.value.path, err.value.line) == (str(root / name), line)
    assert words in err.value.detail


def test_bad_movies_dat_and_u_item(tmp_path: Path) -> None:
    root = ml_1m(tmp_path / "ml-1m")
    (root / "movies.dat").write_text("1::Toy Story (1995)::Comedy\n2::Heat (1995)\n")
    with pytest.raises(InputError, match="3 fields") as err:
        movielens.load(root)
    assert err.value.line == 2
    root = ml_100k(tmp_path / "ml-100k")
    lines = (root / "u.item").read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"|0|", b"|2|", 1)
    (root / "u.item").write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match="genre flags must be 0 or 1") as err:
        movielens.load(root)
    assert err.value.line == 2


def test_not_movielens(tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text("a,b\n1,2\n")
    assert not movielens.detect(tmp_path)


def test_movie_list_without_ratings_is_a_catalogue(tmp_path: Path) -> None:
    root = ml_csv(tmp_path / "ml")
    (root / "ratings.csv").unlink()
    src = movielens.load(root)
    assert src.interactions is None and src.items["item_id"].to_list() == ["1", "2", "5", "10"]
