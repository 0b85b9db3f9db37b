"""MovieLens, in each of its published layouts (the variant is told from the file names).

=========  ==========================================  ================================  ============
variant    ratings                                      movies                            scale
=========  ==========================================  ================================  ============
``100k``   ``u.data``: ``user TAB item TAB rating TAB   ``u.item``: ``|``-separated,      1-5 stars
           ts``                                         Latin-1, 19 genre flag columns
``1m``     ``ratings.dat`` (any ``ratings*.dat``):      ``movies.dat``:                   1-5 stars
           ``user::item::rating::ts``                   ``id::Title (Year)::G1|G2``
``10m``    same as 1m, without ``users.dat``            same as 1m                        0.5-5
``csv``    ``ratings.csv`` (latest, 20M, 25M, 32M):     ``movies.csv`` (quoted titles)    0.5-5
           ``userId,movieId,rating,timestamp``          + optional ``links.csv``
=========  ==========================================  ================================  ============

Titles lose their trailing ``(Year)`` (which becomes ``year``) and otherwise stay as written ("Lion
King, The"); ``(no genres listed)`` and 100K's ``unknown`` flag give no genre. Ratings are parsed by
polars; a bad line is found by bisection and named with its line number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from nextwatch.data.dataset import Interactions, users_frame
from nextwatch.data.sources._common import (
    check_not_binary,
    csv_records,
    decode,
    dense_index,
    items_frame,
    locate_bad_line,
    read_bytes,
    shorten,
    split_title_year,
)
from nextwatch.data.sources.base import SourceData
from nextwatch.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "movielens"
VARIANTS = ("100k", "1m", "10m", "csv")

#: u.item's genre flag columns, in order (the 100K README / u.genre)
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
_NO_GENRE = {"(no genres listed)", "unknown", ""}


@dataclass(frozen=True)
class _Variant:
    name: str
    ratings: Path
    movies: Path
    links: Path | None
    scale: tuple[float, float]
    step: float  # ratings are multiples of this


def _ratings_dat(folder: Path) -> Path | None:
    exact = folder / "ratings.dat"
    if exact.is_file():
        return exact
    found = sorted(p for p in folder.glob("ratings*.dat") if p.is_file())
    return found[0] if found else None


def _find(path: Path) -> _Variant | None:
    folder = path.parent if path.is_file() else path
    if not folder.is_dir():
        return None
    if (folder / "u.data").is_file() or (folder / "u.item").is_file():
        return _Variant("100k", folder / "u.data", folder / "u.item", None, (1.0, 5.0), 1.0)
    dat = _ratings_dat(folder)
    if dat is not None or (folder / "movies.dat").is_file():
        ratings = dat or folder / "ratings.dat"
        if (folder / "users.dat").is_file() or not (folder / "tags.dat").is_file():
            return _Variant("1m", ratings, folder / "movies.dat", None, (1.0, 5.0), 1.0)
        return _Variant("10m", ratings, folder / "movies.dat", None, (0.5, 5.0), 0.5)
    if (folder / "ratings.csv").is_file() or (folder / "movies.csv").is_file():
        links = folder / "links.csv"
        return _Variant(
            "csv", folder / "ratings.csv", folder / "movies.csv", links if links.is_file() else None,
            (0.5, 5.0), 0.5,
        )  # fmt: skip
    return None


def detect(path: Path) -> bool:
    """True for a MovieLens folder (100K, 1M, 10M or the CSV releases) or one of its files."""
    path = Path(path)
    if path.is_file():
        name = path.name
        if name in ("u.data", "u.item", "movies.dat") or re.fullmatch(r"ratings.*\.dat", name):
            return True
        if name not in ("ratings.csv", "movies.csv"):
            return False
    v = _find(path)
    if v is None:
        return False
    if v.name != "csv":
        return True
    # ratings.csv / movies.csv are common names: check MovieLens's header
    f = v.ratings if v.ratings.is_file() else v.movies
    try:
        with open(f, "rb") as fh:
            head = fh.readline(4096).decode("utf-8-sig", errors="replace").strip().lower()
    except OSError:
        return False
    return head.startswith(("userid,movieid", "movieid,title"))


# ---------------------------------------------------------------------------------------------- items


def _movie_rows_dat(f: Path) -> list[tuple[int, str, str, int]]:
    """(id, raw title, genres field, line) from movies.dat."""
    text = decode(read_bytes(f), f, latin1_fallback=True, expected="Latin-1 text")
    out = []
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("::")
        if len(parts) != 3:
            raise InputError(
                f"expected MovieID::Title::Genres (3 fields), got {len(parts)} in {shorten(line)}",
                path=f,
                line=n,
            )
        out.append((_movie_id(parts[0], f, n), parts[1], parts[2], n))
    return out


def _movie_rows_100k(f: Path) -> list[tuple[int, str, str, int]]:
    """(id, raw title, genres joined by |, line) from u.item (with its release date year as a fallback)."""
    text = decode(read_bytes(f), f, latin1_fallback=True, expected="Latin-1 text")
    out = []
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != 5 + len(GENRES_100K):
            raise InputError(
                f"expected {5 + len(GENRES_100K)} |-separated fields (id|title|release date|video date|"
                f"IMDb URL|19 genre flags), got {len(parts)}",
                path=f,
                line=n,
            )
        flags = parts[5:]
        if any(x.strip() not in ("0", "1") for x in flags):
            raise InputError(f"genre flags must be 0 or 1, got {shorten('|'.join(flags))}", path=f, line=n)
        genres = "|".join(g for g, x in zip(GENRES_100K, flags, strict=True) if x.strip() == "1")
        title = parts[1]
        if not re.search(r"\(\d{4}\)\s*$", title):
            m = re.search(r"(\d{4})\s*$", parts[2].strip())
            if m and title.strip() and title.strip().lower() != "unknown":
                title = f"{title.strip()} ({m.group(1)})"
        out.append((_movie_id(parts[0], f, n), title, genres, n))
    return out


def _movie_rows_csv(f: Path) -> list[tuple[int, str, str, int]]:
    header, records = csv_records(decode(read_bytes(f), f), f, what=" (titles with commas must be quoted)")
    if [h.lower() for h in header[:3]] != ["movieid", "title", "genres"]:
        raise InputError(
            f"expected the header movieId,title,genres, got {shorten(','.join(header))}", path=f, line=1
        )
    return [(_movie_id(rec[0], f, n), rec[1], rec[2], n) for n, rec in records]


def _movie_id(value: str, f: Path, line: int) -> int:
    v = value.strip()
    if not v.isdigit():
        raise InputError(f"movie id {shorten(v)} is not a positive integer", path=f, line=line)
    return int(v)


def _links(f: Path) -> dict[int, tuple[int | None, int | None]]:
    """movieId -> (imdbId, tmdbId) from links.csv (tmdbId may be blank)."""
    header, records = csv_records(decode(read_bytes(f), f), f)
    if [h.lower() for h in header[:3]] != ["movieid", "imdbid", "tmdbid"]:
        raise InputError(
            f"expected the header movieId,imdbId,tmdbId, got {shorten(','.join(header))}", path=f, line=1
        )
    out: dict[int, tuple[int | None, int | None]] = {}
    for n, rec in records:
        vals: list[int | None] = []
        for name, v in zip(("movieId", "imdbId", "tmdbId"), rec[:3], strict=True):
            v = v.strip()
            if v and not v.isdigit():
                raise InputError(f"{name} {shorten(v)} is not a positive integer", path=f, line=n)
            vals.append(int(v) if v else None)
        if vals[0] is None:
            raise InputError("empty movieId", path=f, line=n)
        out[vals[0]] = (vals[1], vals[2])
    return out


def read_movies(v: _Variant) -> pl.DataFrame:
    """The variant's movie list as canonical items, ordered by movie id."""
    if not v.movies.is_file():
        raise InputError(f"no {v.movies.name} next to the ratings (the movie list)", path=v.movies.parent)
    reader: Callable[[Path], list[tuple[int, str, str, int]]] = {
        "100k": _movie_rows_100k, "1m": _movie_rows_dat, "10m": _movie_rows_dat, "csv": _movie_rows_csv,
    }[v.name]  # fmt: skip
    rows = reader(v.movies)
    if not rows:
        raise InputError("no movies in the file", path=v.movies)
    seen: dict[int, int] = {}
    for mid, _, _, n in rows:
        if mid in seen:
            raise InputError(
                f"movie id {mid} appears twice (first on line {seen[mid]})", path=v.movies, line=n
            )
        seen[mid] = n
    rows.sort(key=lambda r: r[0])
    links = _links(v.links) if v.links is not None else {}
    titles, years, genres = [], [], []
    for mid, raw, g, n in rows:
        title, year = split_title_year(raw)
        if not title:
            raise InputError(f"movie {mid} has an empty title", path=v.movies, line=n)
        titles.append(title)
        years.append(year)
        genres.append([x.strip() for x in g.split("|") if x.strip() not in _NO_GENRE])
    cols: dict[str, list] = {
        "item_id": [str(r[0]) for r in rows],
        "title": titles,
        "year": years,
        "genres": genres,
        "kind": ["movie"] * len(rows),
    }
    if v.links is not None:
        cols["imdb_id"] = [links.get(r[0], (None, None))[0] for r in rows]
        cols["tmdb_id"] = [links.get(r[0], (None, None))[1] for r in rows]
    return items_frame(cols)


# -------------------------------------------------------------------------------------------- ratings


@dataclass(frozen=True)
class _Table:
    separator: str
    names: tuple[str, ...]  # polars column names; "_" columns must be empty (the ":" of "::")
    header: tuple[str, ...] | None  # expected header (lower case), None if the file has none
    describe: str


_TABLES = {
    "100k": _Table("\t", ("user", "item", "rating", "ts"), None, "user<TAB>item<TAB>rating<TAB>timestamp"),
    "1m": _Table(":", ("user", "_1", "item", "_2", "rating", "_3", "ts"), None,
                 "UserID::MovieID::Rating::Timestamp"),
    "csv": _Table(",", ("user", "item", "rating", "ts"), ("userid", "movieid", "rating", "timestamp"),
                  "userId,movieId,rating,timestamp"),
}  # fmt: skip
_TABLES["10m"] = _TABLES["1m"]
_TYPES = {"user": pl.Int32, "item": pl.Int32, "rating": pl.Float32, "ts": pl.Int64}


class _Unparsable(Exception):
    """polars refused a buffer (a malformed line somewhere in it)."""


def _parse(data: bytes, table: _Table, v: _Variant) -> pl.DataFrame:
    """Parse rating lines (no header) with polars; adds a ``bad`` column for rows that fail checks."""
    schema = {n: _TYPES.get(n, pl.String) for n in table.names}
    try:
        df = pl.read_csv(
            data, has_header=False, separator=table.separator, schema=schema, missing_columns="insert",
            quote_char=None,
        )  # fmt: skip
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.SchemaError) as e:
        raise _Unparsable(str(e)) from e
    cols = [pl.col(n) for n in ("user", "item", "rating", "ts")]
    seps = [pl.col(n) for n in table.names if n[0] == "_"]
    blank = pl.all_horizontal([c.is_null() for c in cols + seps])
    lo, hi = v.scale
    r = pl.col("rating")
    bad = (
        pl.any_horizontal([c.is_null() for c in cols])
        | (pl.col("user") <= 0)
        | (pl.col("item") <= 0)
        | ~r.is_between(lo, hi)
        | ((r / v.step).round() != r / v.step)
    )
    for n in table.names:
        if n[0] == "_":
            bad = bad | pl.col(n).is_not_null()
    return df.select("user", "item", "rating", "ts", blank=blank, bad=bad & ~blank)


def _line_checker(table: _Table, v: _Variant) -> Callable[[bytes], str | None]:
    sep = b"::" if table.separator == ":" else table.separator.encode()
    lo, hi = v.scale

    def check(line: bytes) -> str | None:
        try:
            s = line.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            return f"byte 0x{line[e.start]:02x}: the ratings file is ASCII text (is it UTF-16 or binary?)"
        if not s:
            return None
        parts = s.split(sep.decode())
        if len(parts) != 4:
            return f"expected {table.describe} (4 fields), got {len(parts)} in {shorten(line)}"
        user, item, rating, ts = (p.strip() for p in parts)
        for name, val in (("user id", user), ("movie id", item)):
            if not val.isdigit() or not 0 < int(val) < 2**31:
                return f"{name} {shorten(val)} is not a positive integer"
        try:
            r = float(rating)
        except ValueError:
            return f"rating {shorten(rating)} is not a number"
        if not lo <= r <= hi:
            return f"rating {rating} is outside the scale {lo:g}-{hi:g}"
        if round(r / v.step) != r / v.step:
            return f"rating {rating} is not a multiple of {v.step:g} (the scale is {lo:g}-{hi:g})"
        if not ts.lstrip("-").isdigit():
            return f"timestamp {shorten(ts)} is not an integer (unix seconds)"
        return None

    return check


def read_ratings(v: _Variant) -> tuple[pl.DataFrame, int]:
    """Rating rows (user, item, rating, ts; blank lines dropped) and the file line of the first row."""
    f = v.ratings
    if not f.is_file():
        raise InputError(f"no ratings file ({f.name}) here", path=f.parent)
    data = read_bytes(f)
    check_not_binary(data, f, "MovieLens ratings text")
    table = _TABLES[v.name]
    first_line = 1
    if table.header is not None:
        end = data.find(b"\n")
        head_line = data[: end if end >= 0 else len(data)].decode("utf-8-sig", errors="replace").strip()
        header = tuple(h.strip().lower() for h in head_line.split(","))
        missing = [h for h in table.header if h not in header]
        if missing or header[: len(table.header)] != table.header:
            raise InputError(
                f"expected the header {table.describe}, got {shorten(head_line)}"
                + (f" (missing {', '.join(missing)})" if missing else ""),
                path=f,
                line=1,
            )
        data = data[end + 1 :] if end >= 0 else b""
        first_line = 2
        if not data.strip():
            raise InputError("no ratings (only a header)", path=f)
    if not data.endswith(b"\n"):
        last = data[data.rfind(b"\n") + 1 :]
        if _line_checker(table, v)(last) is not None or not re.search(rb"\d\s*$", last):
            raise InputError(
                f"the file ends in the middle of a record ({shorten(last)}, no newline at the end): "
                "it looks truncated",
                path=f,
                line=first_line + data.count(b"\n"),
            )

    def fast_ok(buf: bytes) -> bool:
        try:
            return not bool(_parse(buf, table, v)["bad"].any())
        except _Unparsable:
            return False

    try:
        df = _parse(data, table, v)
        failed = bool(df["bad"].any())
    except _Unparsable:
        failed = True
    if failed:
        raise locate_bad_line(f, data, first_line, fast_ok, _line_checker(table, v))
    df = df.with_row_index("row").filter(~pl.col("blank")).drop("blank", "bad")
    return df, first_line


# ----------------------------------------------------------------------------------------------- load


def load(path: Path) -> SourceData:
    """Load a MovieLens folder (or a file in it) in the canonical schema."""
    path = Path(path)
    v = _find(path)
    if v is None:
        raise InputError(
            "not a MovieLens folder",
            path=path,
            hint="expected u.data + u.item (100K), ratings.dat + movies.dat (1M/10M) "
            "or ratings.csv + movies.csv",
        )
    items = read_movies(v)
    files = [v.movies] + ([v.links] if v.links else [])
    if not v.ratings.is_file():
        # a movie list without ratings is a catalogue (items only)
        log.info("%s: %d movies, no ratings file (a catalogue)", v.movies, items.height)
        return SourceData(format=FORMAT, items=items, files=files, variant=v.name)
    df, first_line = read_ratings(v)
    movie_ids = items["item_id"].cast(pl.Int64).to_numpy()
    table = np.full(int(movie_ids.max()) + 1, -1, dtype=np.int32)
    table[movie_ids] = np.arange(len(movie_ids), dtype=np.int32)
    raw_item = df["item"].to_numpy()
    inside = raw_item < len(table)
    item_idx = np.where(inside, table[np.where(inside, raw_item, 0)], -1).astype(np.int32)
    if (item_idx < 0).any():
        k = int(np.argmax(item_idx < 0))
        raise InputError(
            f"rating for movie {int(raw_item[k])}, which is not in {v.movies.name}",
            path=v.ratings,
            line=first_line + int(df["row"][k]),
        )
    raw_users, user_idx = dense_index(df["user"].to_numpy())
    interactions = Interactions(user_idx, item_idx, df["rating"].to_numpy(), df["ts"].to_numpy())
    log.info(
        "%s (MovieLens %s): %d ratings, %d users, %d movies",
        v.ratings.parent, v.name, len(interactions), len(raw_users), items.height,
    )  # fmt: skip
    return SourceData(
        format=FORMAT,
        items=items,
        interactions=interactions,
        users=users_frame(raw_users),
        rating_scale=v.scale,
        files=[v.ratings, *files],
        variant=v.name,
    )


def variant(path: Path) -> str | None:
    """The MovieLens variant of ``path`` (``100k``, ``1m``, ``10m``, ``csv``) or None."""
    v = _find(Path(path))
    return None if v is None else v.name


__all__ = ["FORMAT", "VARIANTS", "detect", "load", "variant"]
