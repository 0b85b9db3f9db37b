"""Helpers shared by the source loaders: reading and decoding files with clear errors, titles with a
trailing year, the canonical items frame, and finding the first bad line of a big file fast.

Big tables are parsed with polars, which says *that* something failed but not reliably *where*;
:func:`locate_bad_line` narrows a failing buffer down by bisection (re-parsing halves with polars, so
it costs about two more parses of that buffer) and then runs a strict line-by-line check on the last
small piece, which names the line and what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from nextwatch.data.dataset import conform_items
from nextwatch.data.schema import ITEMS_SCHEMA
from nextwatch.errors import InputError

#: Below this size a failing buffer is checked line by line in Python.
LEAF_BYTES = 1 << 20

_ARROW_TYPES = {f.name: f.type for f in ITEMS_SCHEMA}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TRAILING_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$")


def read_bytes(path: Path) -> bytes:
    """A file's bytes; an empty file is an :class:`InputError`."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=path) from e
    if not data or (data[:4096].isspace() and data.isspace()):
        raise InputError("the file is empty", path=path)
    return data


def check_not_binary(data: bytes, path: Path, expected: str) -> None:
    """Reject UTF-16 text and binary files early, with a message that says so (and where)."""
    head = data[:4096]
    if head.startswith(_UTF16_BOMS) or (b"\x00" in head and _looks_utf16(head)):
        raise InputError(
            f"this looks like UTF-16 text, not {expected}",
            path=path,
            line=1,
            hint="save the file as UTF-8 (or the source's original encoding) and try again",
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"NUL byte at offset {nul}: this looks like binary data, not {expected}",
            path=path,
            line=line_of_offset(data, nul),
        )


def _looks_utf16(head: bytes) -> bool:
    return head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4


def line_of_offset(data: bytes, offset: int) -> int:
    """1-based line number of byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, path: Path, *, latin1_fallback: bool = False, expected: str = "UTF-8 text") -> str:
    """Decode file bytes as UTF-8 (a BOM is skipped); optionally fall back to Latin-1.

    Sources that were published in Latin-1 (MovieLens .dat/u.item, Netflix movie_titles.csv) are read as
    UTF-8 when they decode as such (a re-saved copy) and as Latin-1 otherwise; everything else must be
    UTF-8, and an undecodable byte is reported with its line.
    """
    check_not_binary(data, path, expected)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if latin1_fallback:
            return data.decode("latin-1")
        raise InputError(
            f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})",
            path=path,
            line=line_of_offset(data, e.start),
            hint="the file must be UTF-8 encoded",
        ) from e


def split_title_year(raw: str) -> tuple[str, int | None]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``; a range ``(2006–2007)`` gives its first year.

    Only a trailing year in parentheses is removed; the rest of the title stays as the source wrote it.
    """
    m = _TRAILING_YEAR.search(raw)
    if not m:
        return raw.strip(), None
    title = raw[: m.start()].strip()
    if not title:  # a title that is only a year, e.g. "1971 (2007)" keeps its text
        return raw.strip(), int(m.group(1))
    return title, int(m.group(1))


def items_frame(columns: dict[str, Any]) -> pl.DataFrame:
    """The canonical items frame from column lists (``item_idx`` added as 0..n-1 if absent)."""
    n = len(next(iter(columns.values()))) if columns else 0
    cols = dict(columns)
    cols.setdefault("item_idx", np.arange(n, dtype=np.int32))
    # via Arrow: building polars list columns from Python lists is slow (one Series per row)
    arrays = {
        k: (v.to_arrow() if isinstance(v, pl.Series) else pa.array(v)).cast(_ARROW_TYPES[k])
        for k, v in cols.items()
    }
    table = pa.table(arrays)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return conform_items(frame)


def dense_index(raw: np.ndarray, *, max_table: int = 64_000_000) -> tuple[np.ndarray, np.ndarray]:
    """(distinct raw ids in numeric order, dense index 0..n-1 of every value of ``raw``).

    Non-negative ids up to ``max_table`` go through a lookup table (O(n), a few MB), others through
    ``np.unique`` (a sort).
    """
    raw = np.asarray(raw)
    if len(raw) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int32)
    lo, hi = int(raw.min()), int(raw.max())
    if lo >= 0 and hi <= max_table:
        seen = np.zeros(hi + 1, dtype=bool)
        seen[raw] = True
        table = np.cumsum(seen, dtype=np.int32) - 1
        return np.flatnonzero(seen), table[raw]
    uniq, inverse = np.unique(raw, return_inverse=True)
    return uniq, inverse.astype(np.int32)


def count_byte(data: bytes, byte: int, start: int = 0, end: int | None = None) -> int:
    """How many times ``byte`` occurs in ``data[start:end]`` (numpy, in 16 MB slices: SIMD-fast, and
    without a full-size temporary)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    end = len(arr) if end is None else end
    total = 0
    for lo in range(start, end, 1 << 24):
        total += int(np.count_nonzero(arr[lo : min(lo + (1 << 24), end)] == byte))
    return total


def split_lines(data: bytes) -> list[bytes]:
    """Lines without their ``\\n`` / ``\\r\\n`` (a final newline does not make an extra empty line)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def csv_records(text: str, path: Path, *, what: str = "") -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and records of a CSV text, each record with the line it starts on (quoted fields may
    span lines); blank lines are skipped. A record with the wrong number of fields, an unbalanced
    quote, or a last record cut short is an :class:`InputError` naming its line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for rec in reader:
            start, line = line, reader.line_num + 1
            if rec and not (len(rec) == 1 and not rec[0].strip()):
                records.append((start, rec))
    except csv.Error as e:
        at_end = reader.line_num >= text.count("\n") + (0 if text.endswith("\n") else 1)
        why = "the file ends inside a quoted field: is it cut short?" if at_end else "an unbalanced quote?"
        raise InputError(f"malformed CSV: {e} ({why})", path=path, line=line) from e
    if not records:
        raise InputError("the file is empty", path=path)
    _, header = records[0]
    header = [h.strip() for h in header]
    for k, (n, rec) in enumerate(records[1:], start=1):
        if len(rec) != len(header):
            last = k == len(records) - 1
            if last and len(rec) < len(header) and not text.rstrip(" \t").endswith(("\n", "\r")):
                raise InputError(
                    f"the file ends in the middle of a record ({len(rec)} of {len(header)} fields): "
                    "it looks truncated",
                    path=path,
                    line=n,
                )
            raise InputError(
                f"expected {len(header)} fields{what}, got {len(rec)}"
                " (an unbalanced quote or a stray comma?)",
                path=path,
                line=n,
            )
    return header, records[1:]


def locate_bad_line(
    path: Path,
    data: bytes,
    first_line: int,
    fast_ok: Callable[[bytes], bool],
    check_line: Callable[[bytes], str | None],
    *,
    context: str = "",
) -> InputError:
    """The :class:`InputError` for the first bad line of ``data`` (lines from ``first_line``).

    ``fast_ok(buf)`` is the fast whole-buffer check (polars) that failed on ``data``; ``check_line(line)``
    returns what is wrong with one line, or None. The buffer is halved at a line boundary while it is
    large, keeping the half where ``fast_ok`` fails, then scanned line by line.
    """
    while len(data) > LEAF_BYTES:
        mid = data.rfind(b"\n", 0, len(data) // 2) + 1
        if mid <= 0:
            break
        head = data[:mid]
        if not fast_ok(head):
            data = head
        else:
            first_line += head.count(b"\n")
            data = data[mid:]
    for k, line in enumerate(split_lines(data)):
        problem = check_line(line)
        if problem is not None:
            return InputError(problem, path=path, line=first_line + k)
    # polars refused the text but every line looks right on its own (should not happen)
    return InputError(f"could not parse the lines from {first_line} on{context}", path=path, line=first_line)


def shorten(value: bytes | str, limit: int = 60) -> str:
    """A printable, bounded rendering of a bad value for an error message."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = repr(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_duplicate(values: Iterable[Any]) -> Any | None:
    seen = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    return None
