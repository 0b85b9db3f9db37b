"""Netflix Prize loader on hand-written fixtures: both layouts, chunking, and every kind of bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from nextwatch.data.sources import _common, detect_format, netflix_prize
from nextwatch.errors import InputError

TITLES = (
    "1,2003,Dinosaur Planet\r\n"
    "2,NULL,Ancient Civilizations: Rome and Pompeii\r\n"
    "3,2002,Lord of the Rings, The: The Two Towers\r\n"
    '"4,1985,Brazil: The ""Love Conquers All"" Version"\r\n'
    "5,2001,Amélie\r\n"
).encode("latin-1")

MOVIES = {
    1: "1:\n30,3,2005-09-06\n6,5,2005-05-13\n",
    3: "3:\n6,4,2004-01-01\n1000,1,1999-12-31\n",
}


def ts(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, tzinfo=UTC).timestamp())


def write_per_movie(root: Path, movies: dict[int, str] = MOVIES, titles: bytes = TITLES) -> Path:
    (root / "training_set").mkdir(parents=True)
    (root / "movie_titles.csv").write_bytes(titles)
    for mid, text in movies.items():
        (root / "training_set" / f"mv_{mid:07d}.txt").write_text(text)
    return root


def write_combined(root: Path, movies: dict[int, str] = MOVIES, titles: bytes = TITLES) -> Path:
    root.mkdir(parents=True)
    (root / "movie_titles.csv").write_bytes(titles)
    (root / "combined_data_1.txt").write_text("".join(movies[m] for m in sorted(movies)))
    return root


@pytest.mark.parametrize("layout", ["per-movie", "combined"])
def test_both_layouts_give_the_hand_checked_dataset(tmp_path: Path, layout: str) -> None:
    root = (write_per_movie if layout == "per-movie" else write_combined)(tmp_path / "nf")
    assert detect_format(root) == "netflix-prize"
    src = netflix_prize.load(root)
    assert src.format == "netflix-prize" and src.variant == layout
    assert src.rating_scale == (1.0, 5.0)
    # every title is kept (3 of 5 have no ratings), ordered by movie id
    assert src.items["item_id"].to_list() == ["1", "2", "3", "4", "5"]
    assert src.items["item_idx"].to_list() == [0, 1, 2, 3, 4]
    assert src.items["title"].to_list() == [
        "Dinosaur Planet",
        "Ancient Civilizations: Rome and Pompeii",
        "Lord of the Rings, The: The Two Towers",
        'Brazil: The "Love Conquers All" Version',
        "Amélie",
    ]
    assert src.items["year"].to_list() == [2003, None, 2002, 1985, 2001]
    assert src.items["genres"].to_list() == [[], [], [], [], []]
    # customers 6, 30, 1000 -> dense 0, 1, 2 (numeric order)
    assert src.users["user_id"].to_list() == ["6", "30", "1000"]
    inter = src.interactions
    assert inter is not None and len(inter) == 4
    # file order: movie 1 (customers 30, 6), then movie 3 (customers 6, 1000)
    assert inter.user_idx.tolist() == [1, 0, 0, 2]
    assert inter.item_idx.tolist() == [0, 0, 2, 2]
    assert inter.rating.tolist() == [3.0, 5.0, 4.0, 1.0]
    assert inter.timestamp.tolist() == [ts(2005, 9, 6), ts(2005, 5, 13), ts(2004, 1, 1), ts(1999, 12, 31)]
    assert inter.user_idx.dtype == np.int32 and inter.timestamp.dtype == np.int64


def test_titles_only_folder_is_a_catalogue(tmp_path: Path) -> None:
    (tmp_path / "movie_titles.csv").write_bytes(TITLES)
    src = netflix_prize.load(tmp_path)
    assert src.interactions is None and src.items.height == 5
    assert netflix_prize.load(tmp_path / "movie_titles.csv").items.height == 5


def test_a_single_combined_file_finds_its_titles(tmp_path: Path) -> None:
    root = write_combined(tmp_path / "nf")
    src = netflix_prize.load(root / "combined_data_1.txt")
    assert src.interactions is not None and len(src.interactions) == 4


def test_trailing_blank_lines_and_a_missing_final_newline_are_fine(tmp_path: Path) -> None:
    movies = {1: "1:\n30,3,2005-09-06\n6,5,2005-05-13\n\n\n", 3: "3:\n6,4,2004-01-01\n1000,1,1999-12-31"}
    src = netflix_prize.load(write_per_movie(tmp_path / "nf", movies))
    assert src.interactions is not None and src.interactions.rating.tolist() == [3.0, 5.0, 4.0, 1.0]


def _big_combined(
    root: Path, n_movies: int = 40, per_movie: int = 60
) -> tuple[Path, list[tuple[int, int, int]]]:
    """A combined file with many blocks; returns (movie, customer, rating) in file order."""
    rng = np.random.default_rng(0)
    lines, expected = [], []
    for m in range(1, n_movies + 1):
        lines.append(f"{m}:")
        for c in rng.choice(5000, per_movie, replace=False) + 1:
            r = int(rng.integers(1, 6))
            lines.append(f"{c},{r},2003-0{1 + m % 9}-1{m % 10}")
            expected.append((m, int(c), r))
    titles = "".join(f"{m},2000,Movie {m}\r\n" for m in range(1, n_movies + 1)).encode()
    root.mkdir(parents=True)
    (root / "movie_titles.csv").write_bytes(titles)
    (root / "combined_data_1.txt").write_text("\n".join(lines) + "\n")
    return root, expected


def test_small_chunks_carry_the_movie_across_chunk_boundaries(tmp_path: Path, monkeypatch) -> None:
    root, expected = _big_combined(tmp_path / "nf")
    whole = netflix_prize.load(root)
    monkeypatch.setattr(netflix_prize, "CHUNK_BYTES", 300)  # ~20 lines a chunk, cut mid-block
    monkeypatch.setattr(netflix_prize, "_SMALL_FILE", 0)
    chunked = netflix_prize.load(root)
    for src in (whole, chunked):
        inter = src.interactions
        assert inter is not None and len(inter) == len(expected)
        movie_ids = src.items["item_id"].to_numpy()[inter.item_idx].astype(int)
        user_ids = src.users["user_id"].to_numpy()[inter.user_idx].astype(int)
        got = zip(movie_ids.tolist(), user_ids.tolist(), inter.rating.astype(int).tolist(), strict=True)
        assert list(got) == expected


def test_many_small_files_batched_over_several_chunks(tmp_path: Path, monkeypatch) -> None:
    movies = {m: f"{m}:\n{m * 10},{1 + m % 5},2001-02-0{m}\n{m * 10 + 1},2,2001-03-01\n" for m in range(1, 6)}
    root = write_per_movie(tmp_path / "nf", movies)
    monkeypatch.setattr(netflix_prize, "CHUNK_BYTES", 100)  # two or three files per polars call
    src = netflix_prize.load(root)
    inter = src.interactions
    assert inter is not None
    assert inter.item_idx.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert src.users["user_id"].to_numpy()[inter.user_idx].astype(int).tolist() == [
        10, 11, 20, 21, 30, 31, 40, 41, 50, 51
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------- bad input


def bad_case(tmp_path: Path, text: str | bytes, name: str = "combined_data_1.txt") -> Path:
    root = tmp_path / "nf"
    root.mkdir()
    (root / "movie_titles.csv").write_bytes(TITLES)
    target = root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


GOOD = "1:\n30,3,2005-09-06\n6,5,2005-05-13\n3:\n6,4,2004-01-01\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace("6,5,2005-05-13", "6,5"), 3, "3 fields"),
        (GOOD.replace("6,5,2005-05-13", "6,5,2005-05-13,7"), 3, "got 4"),
        (GOOD.replace("6,5,2005-05-13", "6,6,2005-05-13"), 3, "outside the scale 1-5"),
        (GOOD.replace("6,5,2005-05-13", "6,0,2005-05-13"), 3, "outside the scale 1-5"),
        (GOOD.replace("6,5,2005-05-13", "6,4.5,2005-05-13"), 3, "not an integer"),
        (GOOD.replace("6,4,2004-01-01", "6,4,2004-13-01"), 5, "not a valid calendar date"),
        (GOOD.replace("30,3", "abc,3"), 2, "customer id 'abc'"),
        (GOOD.replace("30,3", "-30,3"), 2, "customer id"),
        (GOOD.replace("3:\n", "3x:\n"), 4, "bad movie header"),
        (GOOD.replace("3:\n", "3: extra\n"), 4, "bad movie header"),
        (GOOD.replace("3:\n", "\n3:\n"), 4, "empty line"),
        (GOOD.replace("1:\n", ""), 1, "does not start with a 'MovieID:' line"),
        (GOOD + "6,4,2004-0", 6, "truncated"),
        (GOOD + "6,4", 6, "truncated"),
        (GOOD.replace("6,4,2004-01-01", "6,4,2004-01-01é"), 5, "ASCII"),
    ],
)
def test_bad_rating_lines_name_file_line_and_problem(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    root = bad_case(tmp_path, text.encode("latin-1"))
    with pytest.raises(InputError) as err:
        netflix_prize.load(root)
    assert err.value.path == str(root / "combined_data_1.txt")
    assert err.value.line == line
    assert words in err.value.detail


def test_a_bad_line_deep_in_a_big_chunk_is_located_by_bisection(tmp_path: Path, monkeypatch) -> None:
    root, _ = _big_combined(tmp_path / "nf", n_movies=40, per_movie=60)
    path = root / "combined_data_1.txt"
    lines = path.read_text().split("\n")
    lines[1536] = lines[1536].rsplit(",", 1)[0] + ",2003-02-30"  # line 1537: 30 February
    path.write_text("\n".join(lines))
    monkeypatch.setattr(_common, "LEAF_BYTES", 200)  # force several bisection rounds
    with pytest.raises(InputError) as err:
        netflix_prize.load(root)
    assert (err.value.path, err.value.line) == (str(path), 1537)
    assert "2003-02-30" in err.value.detail
    # and with chunks cut every ~20 lines, the line number still counts from the file's start
    monkeypatch.setattr(netflix_prize, "CHUNK_BYTES", 300)
    monkeypatch.setattr(netflix_prize, "_SMALL_FILE", 0)
    with pytest.raises(InputError) as err:
        netflix_prize.load(root)
    assert (err.value.path, err.value.line) == (str(path), 1537)


def test_utf16_ratings_file(tmp_path: Path) -> None:
    root = bad_case(tmp_path, GOOD.encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16") as err:
        netflix_prize.load(root)
    assert err.value.line == 1 and err.value.path.endswith("combined_data_1.txt")


def test_binary_garbage_ratings_file(tmp_path: Path) -> None:
    garbage = bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8))
    root = bad_case(tmp_path, b"1:\n" + garbage, name="training_set/mv_0000001.txt")
    with pytest.raises(InputError, match="binary") as err:
        netflix_prize.load(root)
    assert err.value.path.endswith("mv_0000001.txt") and err.value.line is not None


def test_empty_ratings_file(tmp_path: Path) -> None:
    root = bad_case(tmp_path, b"", name="training_set/mv_0000001.txt")
    with pytest.raises(InputError, match="empty") as err:
        netflix_prize.load(root)
    assert err.value.path.endswith("mv_0000001.txt")


def test_movie_file_holding_another_movie(tmp_path: Path) -> None:
    root = bad_case(tmp_path, "3:\n6,4,2004-01-01\n", name="training_set/mv_0000001.txt")
    with pytest.raises(InputError, match="named for movie 1 but holds movie 3") as err:
        netflix_prize.load(root)
    assert err.value.line == 1


def test_rating_for_a_movie_missing_from_the_titles(tmp_path: Path) -> None:
    root = bad_case(tmp_path, GOOD + "99:\n6,4,2004-01-01\n")
    with pytest.raises(InputError, match=r"movie 99, which is not in movie_titles\.csv") as err:
        netflix_prize.load(root)
    assert err.value.line == 6


def test_a_movie_in_two_blocks(tmp_path: Path) -> None:
    root = bad_case(tmp_path, GOOD + "1:\n7,4,2004-01-01\n")
    with pytest.raises(InputError, match="movie 1 has a second block") as err:
        netflix_prize.load(root)
    assert err.value.line == 6


@pytest.mark.parametrize(
    ("titles", "line", "words"),
    [
        (b"1,2003,Dinosaur Planet\r\n2,NULL\r\n", 2, "expected MovieID,YearOfRelease,Title"),
        (b"1,2003,Dinosaur Planet\r\nx,2000,Foo\r\n", 2, "movie id 'x'"),
        (b"1,2003,Dinosaur Planet\r\n2,20x0,Foo\r\n", 2, "4-digit year or NULL"),
        (b"1,2003,Dinosaur Planet\r\n1,2000,Foo\r\n", 2, "appears twice"),
        (b"1,2003,Dinosaur Planet\r\n2,2000,\r\n", 2, "empty title"),
        ("1,2003,Dinosaur Planet\r\n".encode("utf-16"), 1, "UTF-16"),
        (b"", None, "empty"),
    ],
)
def test_bad_movie_titles(tmp_path: Path, titles: bytes, line: int | None, words: str) -> None:
    (tmp_path / "movie_titles.csv").write_bytes(titles)
    with pytest.raises(InputError) as err:
        netflix_prize.load(tmp_path)
    assert err.value.path == str(tmp_path / "movie_titles.csv")
    assert err.value.line == line
    assert words in err.value.detail


def test_ratings_without_titles_and_both_layouts_at_once(tmp_path: Path) -> None:
    root = write_combined(tmp_path / "a")
    (root / "movie_titles.csv").unlink()
    with pytest.raises(InputError, match=r"no movie_titles\.csv"):
        netflix_prize.load(root)
    both = write_per_movie(tmp_path / "b")
    (both / "combined_data_1.txt").write_text(GOOD)
    with pytest.raises(InputError, match="both layouts"):
        netflix_prize.load(both)
