"""Synthetic ratings in the Netflix Prize layout, for benchmarks and tests at any scale.

The real Prize data (100,480,507 ratings) cannot be shipped or downloaded here, so benchmarks and the
kill-midway tests generate look-alike data instead: the same files (``combined_data_N.txt`` or
``training_set/mv_NNNNNNN.txt`` plus ``movie_titles.csv``), the same quirks (sparse customer ids up to
~2.65M, CRLF Latin-1 titles with unquoted commas, ``NULL`` years), and statistics shaped like the real
ones:

* item popularity and user activity follow shifted power laws, ``w(rank) = (rank + offset) ** -exponent``;
  at the Prize's size (100M ratings, 480,189 customers, 17,770 movies) the defaults give a most-rated
  movie with 232k ratings, a median movie with ~600 and a median customer with 120, near the real
  figures (232,944; 561; 96); the busiest customers are tamer than the real ones (~3,600 ratings
  against 17,000), since a customer is drawn independently for each movie;
* each (customer, movie) pair occurs at most once;
* ratings are 1-5 stars with the Prize's marginal distribution (about 5/10/29/34/23 %), correlated within
  a movie and within a customer (a latent "quality" per movie and "leniency" per customer);
* dates run from 1999-11-11 to 2005-12-31, each customer rating after their own join date, with more
  customers joining late (as Netflix grew).

Everything is vectorised numpy per movie and written movie block by movie block, so memory stays bounded
(a few hundred MB) whatever the number of ratings, and the output depends only on the arguments and the
seed (each movie draws from its own generator seeded with ``(seed, movie_id)``).
"""

from __future__ import annotations

import io
import itertools
import logging
import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from nextwatch.io import atomic_dir, atomic_path, write_json
from nextwatch.progress import make_progress

log = logging.getLogger(__name__)

LAYOUTS = ("combined", "per-movie")

#: The Prize's share of 1..5 star ratings (training set).
RATING_SHARES = (0.046, 0.101, 0.287, 0.336, 0.230)
#: First and last rating date of the Prize data.
FIRST_DATE = date(1999, 11, 11)
LAST_DATE = date(2005, 12, 31)
#: Customer ids in the Prize are sparse in 1..2,649,429.
MAX_CUSTOMER_ID = 2_649_429

_EPOCH = date(1970, 1, 1)
# movies per block written at once (bounded memory: a block holds at most ~BLOCK_RATINGS ratings)
_BLOCK_RATINGS = 4_000_000

_WORDS = (
    "Night",
    "Summer",
    "Return",
    "Last",
    "Secret",
    "Blue",
    "River",
    "House",
    "Dark",
    "City",
    "Love",
    "Story",
    "Road",
    "King",
    "Island",
    "Storm",
    "Shadow",
    "Garden",
    "Ghost",
    "Silent",
    "Winter",
    "Fire",
    "Stone",
    "Wild",
    "Dream",
    "Empire",
    "Edge",
    "Journey",
    "Game",
    "Street",
    "Angel",
)
_LATIN1_WORDS = ("Café", "Señor", "Noël", "Amélie", "Zoë")


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. The defaults are the Prize's shape at 10M ratings."""

    n_ratings: int = 10_000_000
    n_users: int = 480_189
    n_items: int = 17_770
    seed: int = 0
    layout: str = "combined"
    #: number of combined_data_N.txt files (the Kaggle copy has 4), split by movie id ranges
    n_files: int = 4
    item_exponent: float = 1.9
    #: offset of the item power law, as a fraction of n_items
    item_offset: float = 0.0225
    user_exponent: float = 0.9
    #: offset of the user power law, as a fraction of n_users
    user_offset: float = 0.002

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {self.layout!r}")
        if self.n_users < 1 or self.n_items < 1 or self.n_ratings < 0 or self.n_files < 1:
            raise ValueError("n_users, n_items and n_files must be >= 1 and n_ratings >= 0")
        if self.n_ratings > self.n_users * self.n_items:
            raise ValueError(
                f"{self.n_ratings:,} ratings cannot fit {self.n_users:,} users x {self.n_items:,} items "
                "(each pair is rated at most once)"
            )
        if self.n_users > MAX_CUSTOMER_ID:
            raise ValueError(f"at most {MAX_CUSTOMER_ID:,} users (the Prize's customer id range)")


class _PowerLaw:
    """Ranks 1..n with P(rank = r) proportional to the integral of (t + c) ** -a over [r, r + 1).

    That is a shifted Zipf law whose inverse CDF has a closed form, so drawing is pure vectorised
    arithmetic (no search in a CDF table), and ``p`` is exactly the distribution :meth:`draw` samples.
    """

    def __init__(self, n: int, exponent: float, offset: float) -> None:
        self.n, self.a, self.c = n, float(exponent), 1.0 + offset * n
        self.total = self._cum(np.float64(n))
        self.p = np.diff(self._cum(np.arange(n + 1, dtype=np.float64))) / self.total

    def _cum(self, x: np.ndarray | np.float64) -> np.ndarray:
        # integral from 0 to x of (t + c) ** -a
        if self.a == 1.0:
            return np.log((x + self.c) / self.c)
        return (self.c ** (1 - self.a) - (x + self.c) ** (1 - self.a)) / (self.a - 1)

    def draw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """``m`` ranks (0-based) drawn with replacement."""
        g = rng.random(m) * self.total
        if self.a == 1.0:
            x = self.c * np.exp(g) - self.c
        else:
            x = (self.c ** (1 - self.a) - g * (self.a - 1)) ** (1 / (1 - self.a)) - self.c
        return np.minimum(x.astype(np.int64), self.n - 1)


def _item_counts(cfg: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Ratings per item (by popularity rank), summing to n_ratings, none above n_users."""
    p = _PowerLaw(cfg.n_items, cfg.item_exponent, cfg.item_offset).p
    counts = rng.multinomial(cfg.n_ratings, p).astype(np.int64)
    # an item cannot be rated by more users than exist: move the excess to the next items with room
    excess = int(np.clip(counts - cfg.n_users, 0, None).sum())
    counts = np.minimum(counts, cfg.n_users)
    while excess:
        room = cfg.n_users - counts
        has_room = np.flatnonzero(room > 0)
        give = rng.multinomial(excess, p[has_room] / p[has_room].sum())
        give = np.minimum(give, room[has_room])
        counts[has_room] += give
        excess -= int(give.sum())
    return counts


def _rating_thresholds() -> np.ndarray:
    """Cut points on a standard normal latent score that give RATING_SHARES."""
    nd = NormalDist()
    cum = np.cumsum(RATING_SHARES)[:-1]
    return np.array([nd.inv_cdf(float(c)) for c in cum])


def _standardise(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``x`` shifted and scaled to weighted mean 0 and variance 1 (float32)."""
    w = weight / weight.sum() if weight.sum() > 0 else np.full(len(x), 1 / len(x))
    mean = float(w @ x)
    sd = float(np.sqrt(w @ (x - mean) ** 2)) or 1.0
    return ((x - mean) / sd).astype(np.float32)


class _World:
    """The fixed per-user and per-item draws every movie block samples from."""

    def __init__(self, cfg: SyntheticConfig) -> None:
        self.cfg = cfg
        rng = np.random.default_rng([cfg.seed, 0x5EED])
        # sparse customer ids, activity ranks assigned at random
        id_space = max(MAX_CUSTOMER_ID, cfg.n_users)
        self.customer_id = np.sort(rng.choice(id_space, size=cfg.n_users, replace=False) + 1).astype(np.int32)
        self.user_law = _PowerLaw(cfg.n_users, cfg.user_exponent, cfg.user_offset)
        # activity rank -> user index
        self.rank_user = rng.permutation(cfg.n_users)
        # more customers joined late: join-date density grows linearly over the period
        span = (LAST_DATE - FIRST_DATE).days
        self.first_day = (FIRST_DATE - _EPOCH).days
        self.join_day = (np.sqrt(rng.random(cfg.n_users)) * span).astype(np.int32)
        self.span = span
        # standardised under the share of ratings each user / movie gets, so the latent score is
        # ~N(0, 1) over all ratings and the 1-5 marginal matches RATING_SHARES even for few movies
        activity = np.empty(cfg.n_users)
        activity[self.rank_user] = self.user_law.p
        self.leniency = _standardise(rng.standard_normal(cfg.n_users), activity)
        # popularity rank -> movie id at random, so popular movies are spread over the files
        self.item_count = np.empty(cfg.n_items, np.int64)
        self.item_count[rng.permutation(cfg.n_items)] = _item_counts(cfg, rng)
        self.quality = _standardise(rng.standard_normal(cfg.n_items), self.item_count / max(1, cfg.n_ratings))
        self.thresholds = _rating_thresholds()

    def sample_users(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` distinct user indices drawn with probability proportional to activity."""
        n = self.cfg.n_users
        if k == 0:
            return np.empty(0, np.int64)
        if k > n // 20:
            # Efraimidis-Spirakis: the k smallest Exp(1)/w are a weighted sample without replacement
            keys = rng.exponential(size=n) / self.user_law.p
            return rng.permutation(self.rank_user[np.argpartition(keys, k - 1)[:k]])
        chosen = self._draw(rng, k + k // 8 + 8)
        for _ in range(8):
            if len(chosen) >= k:
                break
            chosen = np.union1d(chosen, self._draw(rng, 2 * (k - len(chosen)) + 8))
        else:
            if len(chosen) < k:  # pragma: no cover - only for extreme skews
                rest = np.setdiff1d(np.arange(n), chosen)
                chosen = np.union1d(chosen, rng.choice(rest, k - len(chosen), replace=False))
        # drop the surplus at random, and shuffle: real files are in no particular order
        return self.rank_user[rng.permutation(chosen)[:k]]

    def _draw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """Distinct activity ranks among ``m`` weighted draws with replacement (sorted)."""
        r = self.user_law.draw(rng, m)
        r.sort()
        return r[np.concatenate(([True], r[1:] != r[:-1]))]

    def movie(self, movie_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(customer id int32, rating int8, day since epoch int32) of one movie's ratings."""
        rng = np.random.default_rng([self.cfg.seed, movie_id])
        users = self.sample_users(rng, int(self.item_count[movie_id - 1]))
        k = len(users)
        latent = (
            0.55 * self.quality[movie_id - 1]
            + 0.45 * self.leniency[users]
            + 0.70 * rng.standard_normal(k).astype(np.float32)
        )
        rating = (np.searchsorted(self.thresholds, latent) + 1).astype(np.int8)
        join = self.join_day[users]
        day = self.first_day + join + (rng.random(k) * (self.span - join + 1)).astype(np.int32)
        return self.customer_id[users], rating, day.astype(np.int32)


def _block_lines(world: _World, movie_ids: list[int]) -> tuple[bytes, np.ndarray, int]:
    """The rating lines of several consecutive movies, formatted in one polars call.

    Returns the text, per movie the byte offset where its lines end (so callers can put the
    ``MovieID:`` headers in between, or split the text into one file per movie), and the line count.
    """
    parts = [world.movie(mid) for mid in movie_ids]
    counts = np.array([len(p[0]) for p in parts], dtype=np.int64)
    frame = pl.DataFrame(
        {
            "c": np.concatenate([p[0] for p in parts]),
            "r": np.concatenate([p[1] for p in parts]),
            "d": pl.Series(np.concatenate([p[2] for p in parts]), dtype=pl.Int32).cast(pl.Date),
        }
    )
    buf = io.BytesIO()
    if frame.height:
        frame.write_csv(buf, include_header=False)
    text = buf.getvalue()
    line_ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 0x0A) + 1
    ends = np.concatenate([[0], line_ends])[np.cumsum(counts)]
    return text, ends, int(counts.sum())


def _movie_pieces(movie_ids: list[int], text: bytes, ends: np.ndarray) -> list[tuple[int, bytes]]:
    """Split block text into (movie id, "MovieID:" header + its lines)."""
    pieces = []
    start = 0
    for mid, end in zip(movie_ids, ends.tolist(), strict=True):
        pieces.append((mid, f"{mid}:\n".encode() + text[start:end]))
        start = end
    return pieces


def _split_files(counts: np.ndarray, n_files: int) -> list[range]:
    """Contiguous movie id ranges with about equal numbers of ratings (like combined_data_1..4)."""
    n_items = len(counts)
    n_files = min(n_files, n_items)
    cum = np.cumsum(counts)
    total = int(cum[-1]) if n_items else 0
    bounds = [0]
    for k in range(1, n_files):
        cut = int(np.searchsorted(cum, total * k / n_files)) + 1
        bounds.append(min(max(cut, bounds[-1] + 1), n_items - (n_files - k)))
    bounds.append(n_items)
    return [range(a + 1, b + 1) for a, b in itertools.pairwise(bounds)]


def _titles_csv(cfg: SyntheticConfig) -> bytes:
    """movie_titles.csv: "id,year,title", CRLF, Latin-1, unquoted commas, some NULL years."""
    rng = np.random.default_rng([cfg.seed, 0x717])
    n = cfg.n_items
    years = rng.integers(1915, 2006, size=n)
    null_year = rng.random(n) < 0.002
    w1 = rng.integers(0, len(_WORDS), size=n)
    w2 = rng.integers(0, len(_WORDS), size=n)
    comma = rng.random(n) < 0.02
    latin = rng.random(n) < 0.01
    lines = []
    for i in range(n):
        title = f"{_WORDS[w1[i]]} {_WORDS[w2[i]]} {i + 1}"
        if comma[i]:
            title = f"{title}, Part {1 + i % 3}"
        if latin[i]:
            title = f"{_LATIN1_WORDS[i % len(_LATIN1_WORDS)]} {title}"
        year = "NULL" if null_year[i] else str(years[i])
        lines.append(f"{i + 1},{year},{title}\r\n")
    return "".join(lines).encode("latin-1")


def generate_netflix(out_dir: str | os.PathLike[str], cfg: SyntheticConfig) -> dict[str, Any]:
    """Write a synthetic Netflix Prize folder under ``out_dir``; return a summary (also saved as JSON).

    ``combined`` layout: ``combined_data_1..N.txt`` + ``movie_titles.csv`` (Kaggle's copy);
    ``per-movie``: ``training_set/mv_NNNNNNN.txt`` + ``movie_titles.csv`` (the original download).
    Each file is written atomically, so a killed run leaves no half-written file under its final name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = _World(cfg)
    _write_file(out / "movie_titles.csv", _titles_csv(cfg))
    movie_ids = list(range(1, cfg.n_items + 1))
    files: list[str] = []
    written = 0
    with make_progress() as progress:
        task = progress.add_task("generating ratings", total=cfg.n_ratings)
        if cfg.layout == "combined":
            for k, ids in enumerate(_split_files(world.item_count, cfg.n_files), start=1):
                name = f"combined_data_{k}.txt"
                with atomic_path(out / name) as tmp, open(tmp, "wb", buffering=1 << 20) as f:
                    os.chmod(tmp, 0o644)
                    for block in _blocks(world, list(ids)):
                        text, ends, n = _block_lines(world, block)
                        f.write(b"".join(piece for _, piece in _movie_pieces(block, text, ends)))
                        written += n
                        progress.update(task, completed=written)
                files.append(name)
        else:
            # the 17,770 small files go into a temporary folder renamed into place at the end
            with atomic_dir(out / "training_set") as ts:
                os.chmod(ts, 0o755)
                for block in _blocks(world, movie_ids):
                    text, ends, n = _block_lines(world, block)
                    for mid, piece in _movie_pieces(block, text, ends):
                        (ts / f"mv_{mid:07d}.txt").write_bytes(piece)
                    written += n
                    progress.update(task, completed=written)
            files.append("training_set/mv_*.txt")
    summary = {
        "generator": "nextwatch.data.synthetic.generate_netflix",
        "config": asdict(cfg),
        "n_ratings": written,
        "files": ["movie_titles.csv", *files],
    }
    write_json(out / "synthetic.json", summary)
    os.chmod(out / "synthetic.json", 0o644)
    log.info("wrote %s ratings in the Netflix Prize %s layout to %s", f"{written:,}", cfg.layout, out)
    return summary


def _write_file(path: Path, data: bytes) -> None:
    """Write a whole file under a temporary name, readable by all (like a download), then rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)


def _blocks(world: _World, movie_ids: list[int]) -> list[list[int]]:
    """Group consecutive movies into blocks of at most ~_BLOCK_RATINGS ratings."""
    blocks: list[list[int]] = []
    cur: list[int] = []
    size = 0
    for mid in movie_ids:
        c = int(world.item_count[mid - 1])
        if cur and size + c > _BLOCK_RATINGS:
            blocks.append(cur)
            cur, size = [], 0
        cur.append(mid)
        size += c
    if cur:
        blocks.append(cur)
    return blocks
