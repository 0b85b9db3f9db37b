"""Vectorised negative sampling: items a user has never interacted with, without a Python loop per row.

Every (user, item) pair is encoded as one integer key ``user * n_items + item``; the user's positives
are a sorted array of keys. Candidates are drawn uniformly, looked up with one ``np.searchsorted`` and
the hits redrawn, round after round, until none is left. The expected number of rounds is tiny
because a user's positives are a small share of the catalogue.
"""

from __future__ import annotations

import numpy as np

from nextwatch.errors import NextwatchError

#: give up after this many redraw rounds (only reachable when a user has nearly every item)
MAX_ROUNDS = 1000


def pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """``user * n_items + item`` as int64, the one-integer code of a (user, item) pair."""
    return users.astype(np.int64) * np.int64(n_items) + items.astype(np.int64)


def positive_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted unique keys of the given interactions, for :func:`is_positive` and :func:`sample_negatives`."""
    return np.unique(pair_keys(users, items, n_items))


def is_positive(keys_sorted: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``keys`` occur in ``keys_sorted``."""
    if len(keys_sorted) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(keys_sorted, keys)
    pos = np.minimum(pos, len(keys_sorted) - 1)
    return keys_sorted[pos] == keys


def sample_negatives(
    users: np.ndarray,
    n_items: int,
    keys_sorted: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` that the user has no positive for.

    ``keys_sorted`` comes from :func:`positive_keys`. Draws are with replacement across entries (two
    rows of the same user may get the same negative), as in the paper's sampler. Raises
    NextwatchError if some user has interacted with every item (no negative exists).
    """
    items = rng.integers(0, n_items, size=len(users), dtype=np.int64)
    todo = np.flatnonzero(is_positive(keys_sorted, pair_keys(users, items, n_items)))
    rounds = 0
    while len(todo):
        rounds += 1
        if rounds > MAX_ROUNDS:
            stuck = np.unique(users[todo])[:5]
            raise NextwatchError(
                f"cannot sample negatives: user index(es) {stuck.tolist()} interacted with every item"
            )
        redraw = rng.integers(0, n_items, size=len(todo), dtype=np.int64)
        items[todo] = redraw
        hit = is_positive(keys_sorted, pair_keys(users[todo], redraw, n_items))
        todo = todo[hit]
    return items.astype(np.int64)


def sample_distinct_negatives(
    users: np.ndarray,
    n: int,
    n_items: int,
    keys_sorted: np.ndarray,
    rng: np.random.Generator,
    *,
    pool: np.ndarray | None = None,
    chunk: int = 8192,
) -> np.ndarray:
    """``n`` *distinct* never-interacted items for each user in ``users``, as an int64 array ``[U, n]``.

    Used for the evaluation candidates (the paper's sampled negatives). Items are drawn from ``pool``
    (e.g. the items anyone interacted with; default: all ``n_items``), which should hold every
    positive item. Where a user has fewer than ``n`` items left, the row is padded with -1. Vectorised
    over blocks of ``chunk`` users: each round draws candidates for all unfinished rows at once, drops
    positives, items already taken and repeats within a row (keeping the draw order, so each row is a
    uniform sample without replacement), and keeps the first survivors.
    """
    users = np.asarray(users, dtype=np.int64)
    out = np.full((len(users), n), -1, dtype=np.int64)
    if n == 0 or len(users) == 0:
        return out
    pool = np.arange(n_items, dtype=np.int64) if pool is None else np.asarray(pool, np.int64)
    n_pos = np.bincount((keys_sorted // n_items).astype(np.int64), minlength=int(users.max()) + 1)[users]
    want = np.minimum(n, np.maximum(0, len(pool) - n_pos))
    for start in range(0, len(users), chunk):
        sl = slice(start, start + chunk)
        out[sl] = _distinct_block(users[sl], want[sl], n, n_items, pool, keys_sorted, rng)
    return out


def _distinct_block(
    users: np.ndarray,
    want: np.ndarray,
    n: int,
    n_items: int,
    pool: np.ndarray,
    keys_sorted: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    out = np.full((len(users), n), -1, dtype=np.int64)
    filled = np.zeros(len(users), dtype=np.int64)
    rows = np.flatnonzero(filled < want)
    width = max(2 * n, 16)
    rounds = 0
    while len(rows):
        rounds += 1
        if rounds > MAX_ROUNDS:  # pragma: no cover - would need a pathological catalogue
            raise NextwatchError("cannot sample distinct negatives (too few unseen items)")
        cand = pool[rng.integers(0, len(pool), size=(len(rows), width), dtype=np.int64)]
        flat_users = np.repeat(users[rows], width)
        ok = ~is_positive(keys_sorted, pair_keys(flat_users, cand.ravel(), n_items)).reshape(cand.shape)
        if rounds > 1:  # later rounds must not repeat what earlier rounds took
            ok &= ~(cand[:, :, None] == out[rows][:, None, :]).any(-1)
        # flag repeats within a row: a stable sort puts a value's first draw first, later copies after it
        order = np.argsort(cand, axis=1, kind="stable")
        sorted_c = np.take_along_axis(cand, order, axis=1)
        dup_sorted = np.zeros(sorted_c.shape, dtype=bool)
        dup_sorted[:, 1:] = sorted_c[:, 1:] == sorted_c[:, :-1]
        dup = np.zeros_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        ok &= ~dup
        slot = np.cumsum(ok, axis=1) - 1 + filled[rows, None]
        keep = ok & (slot < want[rows, None])
        r_idx, c_idx = np.nonzero(keep)
        out[rows[r_idx], slot[r_idx, c_idx]] = cand[r_idx, c_idx]
        filled[rows] = np.minimum(want[rows], filled[rows] + ok.sum(1))
        rows = rows[filled[rows] < want[rows]]
    return out
