"""Netflix Prize: ``movie_titles.csv`` plus ratings in either layout.

* the original download: ``training_set/mv_0000001.txt`` ... ``mv_0017770.txt``, each ``MovieID:`` then
  ``CustomerID,Rating,YYYY-MM-DD`` lines;
* Kaggle's copy: ``combined_data_1.txt`` ... ``combined_data_4.txt``, the same blocks concatenated.

``movie_titles.csv`` is ``MovieID,YearOfRelease,Title`` in Latin-1, CRLF, no header, with unquoted commas
in titles (split at the first two commas only) and ``NULL`` years; the few lines whose title holds a
double quote are quoted as a whole (``"4825,1985,Brazil: The ""Love Conquers All"" Version"``). A folder
with only that file is a catalogue (items, no ratings).

The full Prize is 100,480,507 ratings (2 GB of text), so ratings are parsed by polars in bounded
chunks: big files are read ~256 MB at a time and cut after a newline, and many small ``mv_*.txt`` files
are concatenated into one buffer per polars call. In each chunk the ``MovieID:`` lines are located (they
are the only lines with a ``:``), each rating gets the movie of the block it sits in, and the movie of
the chunk's last block carries over into the next chunk. Each chunk's ratings go straight into the final
arrays (user, item, rating, timestamp); customers are marked in a table indexed by raw id (ids stay below
~2.65M) and get their dense, numerically ordered index in one pass at the end: no dict, and nothing but
the output grows with the number of ratings. When polars or a check rejects a chunk,
:func:`nextwatch.data.sources._common.locate_bad_line` finds the line by bisection.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from nextwatch.data.dataset import Interactions, users_frame
from nextwatch.data.sources._common import (
    check_not_binary,
    count_byte,
    decode,
    items_frame,
    locate_bad_line,
    read_bytes,
    shorten,
)
from nextwatch.data.sources.base import SourceData
from nextwatch.errors import InputError
from nextwatch.progress import make_progress

log = logging.getLogger(__name__)

FORMAT = "netflix-prize"
RATING_SCALE = (1.0, 5.0)
TITLES_FILE = "movie_titles.csv"

#: Bytes of rating text per polars call (big files are cut at line boundaries; small files batched).
CHUNK_BYTES = 256 << 20
#: Files up to this size are read whole and batched; bigger ones are read chunk by chunk.
_SMALL_FILE = 8 << 20
#: Ratings per task when customer ids are turned into dense indices.
_REMAP_STEP = 1 << 21
#: Raw customer ids above this are not indexed with a lookup table (np.unique instead).
_MAX_TABLE_ID = 64_000_000

_COMBINED = re.compile(r"combined_data.*\.txt$")
_PER_MOVIE = re.compile(r"mv_(\d+)\.txt$")
_STRICT_LAST = re.compile(rb"(\d+:|\d+,\d,\d{4}-\d{2}-\d{2})\r?$")
_SCHEMA = {"a": pl.Int32, "b": pl.Int8, "c": pl.Date}
_TEXT = "Netflix Prize ratings text"


# ---------------------------------------------------------------------------------------------- files


@dataclass
class _Layout:
    titles: Path | None
    ratings: list[Path] = field(default_factory=list)
    layout: str | None = None  # "per-movie", "combined" or None (catalogue only)


def _movie_file_id(p: Path) -> int:
    m = _PER_MOVIE.search(p.name)
    return int(m.group(1)) if m else -1


def _combined_key(p: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", p.name)
    return (int(digits[-1]) if digits else 0, p.name)


def _find(path: Path) -> _Layout:
    if path.is_file():
        name = path.name
        sibling = path.parent / TITLES_FILE
        parent = path.parent.parent / TITLES_FILE
        titles = sibling if sibling.is_file() else parent if parent.is_file() else None
        if name == TITLES_FILE:
            return _Layout(path)
        if _COMBINED.search(name):
            return _Layout(titles, [path], "combined")
        if _PER_MOVIE.search(name):
            return _Layout(titles, [path], "per-movie")
        raise InputError("not a Netflix Prize file", path=path)
    titles = path / TITLES_FILE
    if not titles.is_file():
        titles = path.parent / TITLES_FILE if path.name == "training_set" else titles
    combined = sorted((p for p in path.glob("combined_data*.txt") if p.is_file()), key=_combined_key)
    folder = path / "training_set" if (path / "training_set").is_dir() else path
    per_movie = sorted((p for p in folder.glob("mv_*.txt") if _PER_MOVIE.search(p.name)), key=_movie_file_id)
    if combined and per_movie:
        raise InputError(
            "both layouts are here (combined_data_*.txt and training_set/mv_*.txt); they hold the same "
            "ratings, so give a folder with one of them",
            path=path,
        )
    found = _Layout(titles if titles.is_file() else None, combined or per_movie)
    found.layout = "combined" if combined else "per-movie" if per_movie else None
    return found


def detect(path: Path) -> bool:
    """True for a Netflix Prize folder (titles and/or ratings in either layout) or one of its files."""
    path = Path(path)
    if path.is_file():
        return path.name == TITLES_FILE or bool(_COMBINED.search(path.name) or _PER_MOVIE.search(path.name))
    if not path.is_dir():
        return False
    if (path / TITLES_FILE).is_file() or any(path.glob("combined_data*.txt")):
        return True
    folder = path / "training_set" if (path / "training_set").is_dir() else path
    return any(_PER_MOVIE.search(p.name) for p in folder.glob("mv_*.txt"))


# --------------------------------------------------------------------------------------------- titles


def _title_problem(line: str) -> str | None:
    """What is wrong with one movie_titles.csv line (unquoted already), or None."""
    parts = line.split(",", 2)
    if len(parts) != 3:
        return f"expected MovieID,YearOfRelease,Title, got {shorten(line)}"
    mid, year, title = (x.strip() for x in parts)
    if not (mid.isdigit() and len(mid) <= 9):
        return f"movie id {shorten(mid)} is not a positive integer"
    if not (year.upper() == "NULL" or year == "" or (year.isdigit() and len(year) == 4)):
        return f"year {shorten(year)} is not a 4-digit year or NULL"
    if not title:
        return f"movie {int(mid)} has an empty title"
    return None


def read_titles(path: Path) -> pl.DataFrame:
    """Items from ``movie_titles.csv`` (ordered by movie id); checked line by line, vectorised."""
    text = decode(read_bytes(path), path, latin1_fallback=True, expected="Latin-1 text")
    raw = pl.Series("line", text.split("\n")).str.strip_suffix("\r")
    # a title with quotes makes the whole line one quoted CSV field: "4825,1985,The ""X"" Version"
    quoted = raw.str.starts_with('"') & raw.str.ends_with('"') & (raw.str.len_chars() > 1)
    frame = (
        pl.DataFrame({"line": raw})
        .with_row_index("row")
        .with_columns(
            pl.when(quoted)
            .then(pl.col("line").str.slice(1, pl.col("line").str.len_chars() - 2).str.replace_all('""', '"'))
            .otherwise(pl.col("line"))
        )
        .filter(pl.col("line").str.strip_chars() != "")
    )
    parts = frame["line"].str.splitn(",", 3).struct.unnest()
    mid = parts["field_0"].str.strip_chars()
    year = parts["field_1"].str.strip_chars()
    title = parts["field_2"].str.strip_chars()
    ok = (
        mid.str.contains(r"^\d{1,9}$").fill_null(False)
        & (year.str.to_uppercase().is_in(["NULL", ""]) | year.str.contains(r"^\d{4}$")).fill_null(False)
        & (title.str.len_chars() > 0).fill_null(False)
    )
    if not ok.all():
        k = int(ok.not_().arg_true()[0])
        line = frame["line"][k]
        problem = _title_problem(line) or f"bad line {shorten(line)}"
        raise InputError(problem, path=path, line=frame["row"][k] + 1)
    ids = mid.cast(pl.Int64)
    repeat = ~ids.is_first_distinct()
    if repeat.any():
        k = int(repeat.arg_true()[0])
        first = int((ids == ids[k]).arg_true()[0])
        raise InputError(
            f"movie id {ids[k]} appears twice (first on line {frame['row'][first] + 1})",
            path=path,
            line=frame["row"][k] + 1,
        )
    order = ids.arg_sort()
    return items_frame(
        {
            "item_id": ids.gather(order).cast(pl.String),
            "title": title.gather(order),
            "year": year.str.to_integer(strict=False).gather(order),  # NULL / blank -> null
        }
    )


# -------------------------------------------------------------------------------------------- ratings


@dataclass
class _Piece:
    """One file's bytes (or part of them) inside a chunk buffer."""

    path: Path
    start: int  # offset in the chunk buffer
    end: int
    first_line: int  # line number (1-based) of the piece's first line in its file
    file_start: bool  # the piece starts at the beginning of its file


@dataclass
class _Chunk:
    data: bytes
    pieces: list[_Piece]
    nbytes: int  # source bytes consumed (for progress)


def _trim_end(path: Path, data: bytes, first_line: int) -> bytes:
    """A file's last bytes: trailing blank lines dropped; a last line without a newline must be whole."""
    if data.endswith(b"\n") and not data.endswith((b"\n\n", b"\n\r\n")):
        return data
    data = data.rstrip(b"\r\n\t ")
    if not data:
        return b""
    start = data.rfind(b"\n") + 1
    last = data[start:]
    if not _STRICT_LAST.match(last):
        raise InputError(
            f"the file ends in the middle of a record ({shorten(last)}): it looks truncated",
            path=path,
            line=first_line + data.count(b"\n"),
        )
    return data + b"\n"


def _chunks(files: list[Path], sizes: list[int], chunk_bytes: int) -> Iterator[_Chunk]:
    """Buffers of at most ~chunk_bytes: big files cut at line ends, small files concatenated."""
    batch: list[bytes] = []
    pieces: list[_Piece] = []
    size = 0
    consumed = 0
    for path, fsize in zip(files, sizes, strict=True):
        if fsize <= min(chunk_bytes // 4, _SMALL_FILE):
            raw = read_bytes(path)
            check_not_binary(raw, path, _TEXT)
            data = _trim_end(path, raw, 1)
            if size + len(data) > chunk_bytes and batch:
                yield _Chunk(b"".join(batch), pieces, consumed)
                batch, pieces, size, consumed = [], [], 0, 0
            pieces.append(_Piece(path, size, size + len(data), 1, True))
            batch.append(data)
            size += len(data)
            consumed += fsize
            continue
        if batch:
            yield _Chunk(b"".join(batch), pieces, consumed)
            batch, pieces, size, consumed = [], [], 0, 0
        yield from _big_file_chunks(path, fsize, chunk_bytes)
    if batch:
        yield _Chunk(b"".join(batch), pieces, consumed)


def _big_file_chunks(path: Path, size: int, chunk_bytes: int) -> Iterator[_Chunk]:
    """A big file in pieces of ~chunk_bytes, each ending after a newline.

    The end of each piece is found first (seek ``chunk_bytes`` ahead, read to the end of that line), then
    the piece is read in one call: one buffer per chunk, no read-ahead and no copies of the text.
    """
    line = 1
    start = 0
    with open(path, "rb") as f:
        head = f.read(4096)
        if not head or (head.isspace() and len(head) == size):
            raise InputError("the file is empty", path=path)
        check_not_binary(head, path, _TEXT)
        while start < size:
            f.seek(min(start + chunk_bytes, size))
            f.readline()
            end = f.tell()
            f.seek(start)
            data = f.read(end - start)
            if end >= size:
                data = _trim_end(path, data, line)
            if data:
                yield _Chunk(data, [_Piece(path, 0, len(data), line, start == 0)], end - start)
            line += count_byte(data, 0x0A)
            start = end


class _Unparsable(Exception):
    """The fast path refused a buffer: a malformed line somewhere in it."""


@dataclass
class _Parsed:
    """A buffer's ratings as compact arrays, and its movie blocks."""

    user: np.ndarray  # raw customer id, int32
    rating: np.ndarray  # int8
    day: np.ndarray  # days since 1970-01-01, int32
    header_rows: np.ndarray  # row (= line - 1 within the buffer) of each "MovieID:" line
    header_ids: np.ndarray  # its movie id
    n_rows: int

    def block_lengths(self) -> np.ndarray:
        """Ratings before the first header (continuing the previous buffer's movie), then per block."""
        bounds = np.concatenate([self.header_rows, [self.n_rows]])
        return np.concatenate([[bounds[0]], np.diff(bounds) - 1]).astype(np.int64)


def _header_ids(data: bytes) -> list[int]:
    """Ids of the ``MovieID:`` lines, in order: the only lines with a ':' (rating lines have none)."""
    ids: list[int] = []
    pos = data.find(b":")
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        mid = data[start:pos]
        nxt = data[pos + 1 : pos + 3]
        if not (mid.isdigit() and len(mid) <= 9 and (nxt[:1] == b"\n" or nxt == b"\r\n" or not nxt)):
            raise _Unparsable(f"bad header line at byte {start}")
        ids.append(int(mid))
        pos = data.find(b":", pos + 1)
    return ids


def _parse(data: bytes) -> _Parsed:
    """Fast path: one polars call over the buffer, checked vectorised.

    polars reads the ``MovieID:`` lines as all-null rows (``ignore_errors`` turns the unparsable
    ``8:`` into null); their ids come from a scan for ':' (rating lines have none), and there must be
    exactly one all-null row per header. Every other row must be a complete, in-range rating. Any
    problem raises :class:`_Unparsable` and the caller locates the line. Rows are lines (blank ones
    included), so a row number is a line number.
    """
    ids = _header_ids(data)
    try:
        df = pl.read_csv(
            data, has_header=False, schema=_SCHEMA, missing_columns="insert", quote_char=None,
            ignore_errors=True,
        )  # fmt: skip
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.SchemaError) as e:
        raise _Unparsable(str(e)) from e
    n_rows = df.height
    a, b, c = pl.col("a"), pl.col("b"), pl.col("c")
    empty = a.is_null() & b.is_null() & c.is_null()
    header_rows = df.select(pl.arg_where(empty)).to_series().to_numpy().astype(np.int64)
    if len(header_rows) != len(ids):  # a blank or unparsable line
        raise _Unparsable("an empty or unparsable line")
    if len(ids):
        df = df.filter(~empty)
    # every ':' line passed _header_ids, so it is "digits:" and reads as an all-null row; with as many
    # all-null rows as headers, there is no other (blank) line. More than three fields make polars
    # raise; fewer, or an unparsable field, leave a null
    if df.null_count().sum_horizontal().item():
        raise _Unparsable("a missing or malformed field")
    user = df["a"].to_numpy()
    rating = df["b"].to_numpy()
    if len(user) and (int(user.min()) <= 0 or int(rating.min()) < 1 or int(rating.max()) > 5):
        raise _Unparsable("a value out of range")
    day = df["c"].cast(pl.Int32).to_numpy()
    return _Parsed(user, rating, day, header_rows, np.asarray(ids, dtype=np.int32), n_rows)


def _fast_ok(data: bytes) -> bool:
    try:
        _parse(data)
    except _Unparsable:
        return False
    return True


def _check_line(line: bytes) -> str | None:
    """What is wrong with one ratings line (strict, in Python), or None."""
    try:
        line.decode("ascii")
    except UnicodeDecodeError as e:
        return (
            f"byte 0x{line[e.start]:02x} in {shorten(line)}: the ratings files are ASCII text "
            "(is this file UTF-16 or binary?)"
        )
    s = line.strip()
    if not s:
        return "empty line (expected MovieID: or CustomerID,Rating,YYYY-MM-DD)"
    if b":" in s:
        if s.endswith(b":") and s[:-1].isdigit() and len(s) <= 10 and line.rstrip(b"\r") == s:
            return None
        return f"bad movie header {shorten(line)} (expected MovieID: alone on its line)"
    parts = s.split(b",")
    if len(parts) != 3:
        return f"expected CustomerID,Rating,YYYY-MM-DD (3 fields), got {len(parts)} in {shorten(line)}"
    cust, rating, day = (p.strip() for p in parts)
    if not cust.isdigit() or not 0 < int(cust) < 2**31:
        return f"customer id {shorten(cust)} is not a positive integer"
    if not rating.lstrip(b"+-").isdigit():
        return f"rating {shorten(rating)} is not an integer"
    if not 1 <= int(rating) <= 5:
        return f"rating {int(rating)} is outside the scale 1-5"
    m = re.fullmatch(rb"(\d{4})-(\d{1,2})-(\d{1,2})", day)
    if not m:
        return f"date {shorten(day)} is not YYYY-MM-DD"
    try:
        date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return f"date {shorten(day)} is not a valid calendar date"
    return None


def _bad_chunk(chunk: _Chunk) -> InputError:
    """Locate the first bad line of a chunk that failed the fast path."""
    for piece in chunk.pieces:
        data = chunk.data[piece.start : piece.end]
        if not _fast_ok(data):
            return locate_bad_line(piece.path, data, piece.first_line, _fast_ok, _check_line)
    first = chunk.pieces[0]  # pragma: no cover - every piece passing alone cannot happen
    return InputError("could not parse these ratings", path=first.path, line=first.first_line)


@dataclass
class _Headers:
    """Where each movie block starts (for duplicate and unknown-movie errors)."""

    where: dict[int, tuple[Path, int]] = field(default_factory=dict)

    def add(self, movie: int, path: Path, line: int) -> None:
        if movie in self.where:
            p, ln = self.where[movie]
            raise InputError(
                f"movie {movie} has a second block (the first starts at {p}, line {ln}); "
                "each movie's ratings must be in one block",
                path=path,
                line=line,
            )
        self.where[movie] = (path, line)


@dataclass
class _Block:
    """A chunk's ratings, with one movie id per run of consecutive ratings."""

    user: np.ndarray
    rating: np.ndarray
    day: np.ndarray
    movies: np.ndarray  # movie id of each run, int32
    lengths: np.ndarray  # ratings in each run, int64


def _parse_chunk(chunk: _Chunk, carry: int | None, headers: _Headers) -> tuple[_Block, int | None]:
    try:
        parsed = _parse(chunk.data)
    except _Unparsable:
        raise _bad_chunk(chunk) from None
    rows, ids = parsed.header_rows, parsed.header_ids
    # rows of each piece (every piece ends with a newline, so rows = newlines before it)
    if len(chunk.pieces) == 1:
        piece_rows = np.array([0, parsed.n_rows])
    else:
        piece_rows = np.cumsum([0] + [chunk.data.count(b"\n", p.start, p.end) for p in chunk.pieces])
    piece_of = np.searchsorted(piece_rows, rows, side="right") - 1
    for movie, r, k in zip(ids.tolist(), rows.tolist(), piece_of.tolist(), strict=True):
        p = chunk.pieces[k]
        headers.add(movie, p.path, p.first_line + r - int(piece_rows[k]))
    # each file starts with "MovieID:", and a mv_ file with its own id
    for k, p in enumerate(chunk.pieces):
        if not p.file_start:
            continue
        lo = int(piece_rows[k])
        j = int(np.searchsorted(rows, lo))
        if j >= len(rows) or int(rows[j]) != lo:
            raise InputError("the file does not start with a 'MovieID:' line", path=p.path, line=p.first_line)
        want = _movie_file_id(p.path)
        if want >= 0 and int(ids[j]) != want:
            raise InputError(
                f"the file is named for movie {want} but holds movie {int(ids[j])}",
                path=p.path,
                line=p.first_line,
            )
    lengths = parsed.block_lengths()
    movies = np.concatenate([[carry if carry is not None else -1], ids]).astype(np.int32)
    new_carry = int(ids[-1]) if len(ids) else carry
    return _Block(parsed.user, parsed.rating, parsed.day, movies, lengths), new_carry


class _Output:
    """The final interaction arrays, filled chunk by chunk.

    They are allocated for the most ratings the text could hold (a rating line has at least 13 bytes);
    pages never written are never touched, so they cost address space, not memory, and the arrays are
    shrunk in place (``ndarray.resize``, a ``realloc`` that does not copy) at the end. Nothing else
    grows with the number of ratings: customers are marked in a table indexed by raw id and get their
    dense index in one pass at the end.
    """

    def __init__(self, capacity: int, item_table: np.ndarray) -> None:
        self.user = np.empty(capacity, dtype=np.int32)  # raw customer ids until finish()
        self.item = np.empty(capacity, dtype=np.int32)
        self.rating = np.empty(capacity, dtype=np.float32)
        self.timestamp = np.empty(capacity, dtype=np.int64)
        self.n = 0
        self.item_table = item_table
        self.seen = np.zeros(1 << 20, dtype=bool)
        self.big_ids = False

    def add(self, b: _Block) -> None:
        k = len(b.user)
        if self.n + k > len(self.user):  # pragma: no cover - impossible by the line-length bound
            raise InputError("more ratings than the files' size allows")
        sl = slice(self.n, self.n + k)
        self.user[sl] = b.user
        # the leading run continues the previous chunk's movie (it is empty at a file's start)
        self.item[sl] = np.repeat(self.item_table[b.movies], b.lengths)
        self.rating[sl] = b.rating
        np.multiply(b.day, 86_400, out=self.timestamp[sl], dtype=np.int64)
        self.n += k
        if k:
            top = int(b.user.max())
            if top > _MAX_TABLE_ID:
                self.big_ids = True
            elif top >= len(self.seen):
                grow = max(top + 1, 2 * len(self.seen)) - len(self.seen)
                self.seen = np.concatenate([self.seen, np.zeros(grow, dtype=bool)])
            if not self.big_ids:
                self.seen[b.user] = True

    def finish(self) -> tuple[Interactions, pl.DataFrame]:
        n = self.n
        for a in (self.user, self.item, self.rating, self.timestamp):
            a.resize(n, refcheck=False)
        if self.big_ids:  # pragma: no cover - ids far beyond the Prize's 2.65M
            raw_users, idx = np.unique(self.user, return_inverse=True)
            self.user[:] = idx
        else:
            raw_users = np.flatnonzero(self.seen)
            table = np.cumsum(self.seen, dtype=np.int32) - 1
            user = self.user

            def remap(lo: int) -> None:  # in place; numpy releases the GIL, so two threads use two cores
                part = user[lo : lo + _REMAP_STEP]
                np.take(table, part, out=part, mode="clip")

            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                list(pool.map(remap, range(0, n, _REMAP_STEP)))
        return Interactions(self.user, self.item, self.rating, self.timestamp), users_frame(raw_users)


def _item_table(items: pl.DataFrame) -> np.ndarray:
    """Movie id -> item_idx (-1 where no title), with room for any int32 id that is looked up."""
    item_ids = items["item_id"].cast(pl.Int64).to_numpy()
    table = np.full(int(item_ids.max(initial=0)) + 1, -1, dtype=np.int32)
    table[item_ids] = np.arange(len(item_ids), dtype=np.int32)
    return table


def read_ratings(
    files: list[Path], items: pl.DataFrame, *, chunk_bytes: int | None = None
) -> tuple[Interactions, pl.DataFrame]:
    """Parse rating files in bounded chunks into interactions (and the users table) for ``items``."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    sizes = [p.stat().st_size for p in files]
    total = sum(sizes)
    table = _item_table(items)
    out = _Output(total // 13 + 1, table)
    headers = _Headers()
    carry: int | None = None
    with make_progress() as progress:
        task = progress.add_task("parsing Netflix Prize ratings", total=total)
        for chunk in _chunks(files, sizes, chunk_bytes):
            if chunk.pieces[0].file_start:
                carry = None
            block, carry = _parse_chunk(chunk, carry, headers)
            _check_movies(block.movies[1:], table, headers)
            out.add(block)
            del block
            progress.advance(task, chunk.nbytes)
    return out.finish()


def _check_movies(movies: np.ndarray, table: np.ndarray, headers: _Headers) -> None:
    """Every movie with ratings must be in movie_titles.csv."""
    unknown = (movies >= len(table)) | (table[np.minimum(movies, len(table) - 1)] < 0)
    if unknown.any():
        movie = int(movies[np.argmax(unknown)])
        path, line = headers.where[movie]
        raise InputError(f"ratings for movie {movie}, which is not in {TITLES_FILE}", path=path, line=line)


def load(path: Path) -> SourceData:
    """Load a Netflix Prize folder (or one of its files) in the canonical schema."""
    path = Path(path)
    found = _find(path)
    if found.titles is None:
        raise InputError(
            f"no {TITLES_FILE} here (the Netflix Prize movie list)",
            path=path,
            hint=f"put {TITLES_FILE} next to the ratings (or in the folder above training_set/)",
        )
    items = read_titles(found.titles)
    files = [found.titles]
    if not found.ratings:
        log.info("%s: %d titles, no ratings (a catalogue)", found.titles, items.height)
        return SourceData(format=FORMAT, items=items, files=files)
    interactions, users = read_ratings(found.ratings, items)
    log.info(
        "%s (%s layout): %d ratings, %d customers, %d titles",
        path,
        found.layout,
        len(interactions),
        users.height,
        items.height,
    )
    return SourceData(
        format=FORMAT,
        items=items,
        interactions=interactions,
        users=users,
        rating_scale=RATING_SCALE,
        files=files + found.ratings,
        variant=found.layout,
    )


__all__ = ["FORMAT", "RATING_SCALE", "detect", "load", "read_ratings", "read_titles"]
