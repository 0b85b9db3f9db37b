"""Nearest-neighbour indexes over L2-normalised item vectors (inner product = cosine similarity).

One interface, two implementations:

- :class:`ExactIndex` scores every item with a matrix product, chunked so that memory stays bounded
  (``CHUNK_SCORES`` scores at a time). Exact, no build cost; about a tenth of a millisecond per query on
  a catalogue of ten thousand items, so it is the right choice below tens of thousands of items.
- :class:`FaissHNSWIndex` is FAISS's HNSW graph (Malkov & Yashunin 2018) over the same vectors.
  Approximate, with a build cost, and orders of magnitude faster than a scan on a million items.

A kd-tree (the seed's ``scipy.spatial.cKDTree``) is deliberately absent: at 384 dimensions it visits
nearly every leaf and is slower than the exact scan (see ``benchmarks/content.py``).

``search(queries, k, exclude=...)`` always returns ``k`` neighbours per query (fewer only where fewer
than ``k`` items remain once the exclusions are removed; the gaps are index ``-1``, score ``-inf``).
Exclusions never come back: the HNSW index filters them inside the graph search and refills any row
left short with an exact, masked scan.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from nextwatch.errors import NextwatchError, NotFoundError
from nextwatch.io import atomic_path, read_json, write_json
from nextwatch.progress import make_progress

log = logging.getLogger(__name__)

#: Scores materialised at once by the exact scan (32 Mi float32 = 128 MiB).
CHUNK_SCORES = 1 << 25

#: Above this share of excluded items the HNSW index answers with the exact, masked scan instead.
EXACT_FALLBACK_SHARE = 0.5

#: Most candidates added to ``ef_search`` to make room for excluded items.
MAX_EXTRA_EF = 1024

Exclude = Collection[int] | np.ndarray | Sequence[Collection[int] | np.ndarray] | None


class SearchResult(NamedTuple):
    """``scores`` and ``indices`` of shape ``(n_queries, k)``, best first; gaps are ``-inf`` / ``-1``."""

    scores: np.ndarray
    indices: np.ndarray


def as_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    """``queries`` as a C-contiguous ``(q, dim)`` float32 array (a single vector becomes one row)."""
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValueError(f"queries must have shape (q, {dim}), not {np.shape(queries)}")
    if not np.isfinite(q).all():
        raise ValueError("queries contain NaN or infinite values")
    return np.ascontiguousarray(q)


def normalize_exclude(exclude: Exclude, n_queries: int, n_items: int) -> list[np.ndarray]:
    """One sorted, unique int64 array of excluded item indices per query.

    ``exclude`` is ``None``, one collection of item indices applied to every query, or a sequence of
    ``n_queries`` collections (one per query). Indices outside ``0..n_items-1`` are ignored.
    """
    if exclude is None:
        shared = np.empty(0, np.int64)
        return [shared] * n_queries
    per_query: list[Any] | None = None
    if isinstance(exclude, np.ndarray):
        if exclude.ndim > 2:
            raise ValueError(f"exclude must be 1-D (shared) or 2-D (one row per query), not {exclude.shape}")
        if exclude.ndim == 2:
            per_query = list(exclude)
    elif not isinstance(exclude, set | frozenset | range):
        items = list(exclude)  # type: ignore[arg-type]
        nested = [not isinstance(e, int | np.integer) for e in items]
        if items and all(nested):
            per_query = items
        elif any(nested):
            raise ValueError("exclude must be item indices, or one collection of item indices per query")
        else:
            exclude = items
    if per_query is not None and len(per_query) != n_queries:
        raise ValueError(f"exclude holds {len(per_query)} lists for {n_queries} queries")

    def clean(e: Iterable[int] | np.ndarray) -> np.ndarray:
        a = np.unique(
            np.fromiter((int(x) for x in e), dtype=np.int64) if not isinstance(e, np.ndarray) else e
        )
        a = a.astype(np.int64, copy=False)
        return a[(a >= 0) & (a < n_items)]

    if per_query is None:
        shared = clean(exclude)  # type: ignore[arg-type]
        return [shared] * n_queries
    return [clean(e) for e in per_query]


class NeighbourIndex(abc.ABC):
    """Top-k inner-product search over a fixed set of vectors."""

    kind: ClassVar[str]

    @abc.abstractmethod
    def build(self, vectors: np.ndarray) -> NeighbourIndex:
        """Index ``vectors`` (``(n, dim)`` float32, rows of unit length); returns ``self``."""

    @abc.abstractmethod
    def search(self, queries: np.ndarray, k: int, exclude: Exclude = None) -> SearchResult:
        """The ``k`` items of highest inner product with each query, skipping ``exclude``."""

    @abc.abstractmethod
    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        """Write the index to ``path`` (and its settings to ``path`` + ``.json``), atomically."""

    @classmethod
    @abc.abstractmethod
    def load(cls, path: str | os.PathLike[str]) -> NeighbourIndex:
        """Read an index written by :meth:`save`; its ``meta`` holds what ``save`` recorded."""

    @property
    @abc.abstractmethod
    def n(self) -> int: ...

    @property
    @abc.abstractmethod
    def dim(self) -> int: ...

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """The settings that define this index (recorded when it is saved)."""

    meta: dict[str, Any]

    def _check_built(self) -> None:
        if self.n < 0:
            raise RuntimeError(f"{type(self).__name__} is not built yet: call build(vectors) first")


#: Searches of at most this many queries multiply on one BLAS thread (see :func:`one_blas_thread`).
FEW_QUERIES = 8

_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None
_blas_controller: Any = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run numpy's BLAS on one thread inside the block (thread-safe, nested uses share one limit).

    A matrix-vector product over a catalogue of ten thousand items takes about half a millisecond
    on one core; split over two BLAS threads it waits for the second thread to be scheduled, which
    on a busy machine (a web server answering several people, or other jobs) costs tens of
    milliseconds. One query per request on one core is also what scales with concurrent requests.
    """
    global _blas_users, _blas_limiter, _blas_controller
    with _blas_lock:
        if _blas_users == 0:
            if _blas_controller is None:
                from threadpoolctl import ThreadpoolController

                ctl = ThreadpoolController()
                numpy_blas = [
                    c for c in ctl.lib_controllers if c.user_api == "blas" and "numpy" in str(c.filepath)
                ]
                _blas_controller = (
                    ctl.select(filepath=[c.filepath for c in numpy_blas]) if numpy_blas else ctl
                )
            _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def exact_search(
    matrix: np.ndarray, queries: np.ndarray, k: int, excluded: list[np.ndarray], *, transposed: bool = False
) -> SearchResult:
    """Exact top-k by inner product, in chunks of queries so that at most ``CHUNK_SCORES`` scores exist.

    ``matrix`` holds the items as rows (``(n, dim)``) or, with ``transposed``, as columns (``(dim, n)``,
    C-contiguous: the faster layout for one query, as each query weight then streams a contiguous row).
    """
    n = matrix.shape[1] if transposed else matrix.shape[0]
    mt = matrix if transposed else matrix.T
    nq = queries.shape[0]
    k_eff = max(0, min(int(k), n))
    scores_out = np.full((nq, k_eff), -np.inf, dtype=np.float32)
    index_out = np.full((nq, k_eff), -1, dtype=np.int64)
    if k_eff == 0 or nq == 0:
        return SearchResult(scores_out, index_out)
    rows = max(1, CHUNK_SCORES // max(n, 1))
    for start in range(0, nq, rows):
        stop = min(nq, start + rows)
        if stop - start <= FEW_QUERIES:
            with one_blas_thread():
                s = queries[start:stop] @ mt
        else:
            s = queries[start:stop] @ mt
        for r in range(stop - start):
            ex = excluded[start + r]
            if len(ex):
                s[r, ex] = -np.inf
        if k_eff < n:
            part = np.argpartition(-s, k_eff - 1, axis=1)[:, :k_eff]
        else:
            part = np.broadcast_to(np.arange(n), s.shape).copy()
        vals = np.take_along_axis(s, part, axis=1)
        order = np.lexsort((part, -vals), axis=-1)  # best score first, ties by item index
        part = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        part[np.isneginf(vals)] = -1
        scores_out[start:stop] = vals
        index_out[start:stop] = part
    return SearchResult(scores_out, index_out)


class ExactIndex(NeighbourIndex):
    """Exact inner-product search: a chunked matrix product with numpy (BLAS).

    The items are kept as columns (a ``(dim, n)`` copy), the faster layout for single queries.
    """

    kind = "exact"

    def __init__(self) -> None:
        self._columns: np.ndarray | None = None
        self.meta = {}

    @property
    def vectors(self) -> np.ndarray:
        """The indexed vectors, ``(n, dim)`` (a view of the column copy)."""
        if self._columns is None:
            raise RuntimeError("ExactIndex is not built yet: call build(vectors) first")
        return self._columns.T

    @property
    def n(self) -> int:
        return -1 if self._columns is None else int(self._columns.shape[1])

    @property
    def dim(self) -> int:
        return -1 if self._columns is None else int(self._columns.shape[0])

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def build(self, vectors: np.ndarray) -> ExactIndex:
        v = np.asarray(vectors)
        if v.ndim != 2:
            raise ValueError(f"vectors must be 2-D, not {v.shape}")
        self._columns = np.ascontiguousarray(v.T, dtype=np.float32)
        return self

    def search(self, queries: np.ndarray, k: int, exclude: Exclude = None) -> SearchResult:
        self._check_built()
        assert self._columns is not None
        q = as_queries(queries, self.dim)
        return exact_search(
            self._columns, q, k, normalize_exclude(exclude, q.shape[0], self.n), transposed=True
        )

    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, self.vectors, allow_pickle=False)
        write_json(_meta_path(path), {**self.params(), "n": self.n, "dim": self.dim, **(extra or {})})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExactIndex:
        path = Path(path)
        meta = _read_meta(path, cls.kind)
        index = cls().build(np.load(path, allow_pickle=False))
        index.meta = meta
        return index


class FaissHNSWIndex(NeighbourIndex):
    """Approximate inner-product search with FAISS ``IndexHNSWFlat``.

    ``m`` links per node (``2m`` on the base layer), ``ef_construction`` candidates while inserting and
    ``ef_search`` while searching (at least ``k``). The defaults were chosen by measurement
    (``benchmarks/content.py``): M and efConstruction on a 100k slice of a clustered synthetic 384-d
    set, efSearch on the whole 1,000,000 x 384 set, where efSearch 64 reaches recall@10 0.93 and 128
    reaches 0.97.
    """

    kind = "hnsw"

    def __init__(self, m: int = 32, ef_construction: int = 100, ef_search: int = 128) -> None:
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self._index: Any = None
        self._flat: np.ndarray | None = None
        self.meta = {}

    @property
    def n(self) -> int:
        return -1 if self._index is None else int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return -1 if self._index is None else int(self._index.d)

    def params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
        }

    @property
    def vectors(self) -> np.ndarray:
        """The indexed vectors, as a view of FAISS's own copy (used for the exact refill)."""
        self._check_built()
        if self._flat is None:
            import faiss

            storage = faiss.downcast_index(self._index.storage)
            self._flat = faiss.rev_swig_ptr(storage.get_xb(), self.n * self.dim).reshape(self.n, self.dim)
        return self._flat

    def build(self, vectors: np.ndarray, *, progress: bool = False) -> FaissHNSWIndex:
        faiss = _faiss()
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if v.ndim != 2:
            raise ValueError(f"vectors must be 2-D, not {v.shape}")
        index = faiss.IndexHNSWFlat(v.shape[1], self.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        chunk = 50_000
        with make_progress() as bar:
            task = bar.add_task("building HNSW index", total=len(v), visible=progress)
            for start in range(0, len(v), chunk):
                index.add(v[start : start + chunk])
                bar.advance(task, min(chunk, len(v) - start))
        self._index = index
        self._flat = None
        return self

    def search(self, queries: np.ndarray, k: int, exclude: Exclude = None) -> SearchResult:
        self._check_built()
        faiss = _faiss()
        n = self.n
        q = as_queries(queries, self.dim)
        nq = q.shape[0]
        k_eff = max(0, min(int(k), n))
        if k_eff == 0 or nq == 0:
            return exact_search(self.vectors, q, k_eff, [np.empty(0, np.int64)] * nq)
        excluded = normalize_exclude(exclude, nq, n)
        ef = max(self.ef_search, k_eff)
        scores = np.full((nq, k_eff), -np.inf, dtype=np.float32)
        labels = np.full((nq, k_eff), -1, dtype=np.int64)
        shared = all(e is excluded[0] for e in excluded)
        if shared:
            groups = [(np.arange(nq), excluded[0])]
        else:
            groups = [(np.array([i]), e) for i, e in enumerate(excluded)]
        exact_rows: list[int] = []
        for rows, ex in groups:
            if len(ex) > EXACT_FALLBACK_SHARE * n:
                exact_rows.extend(rows.tolist())
                continue
            params = faiss.SearchParametersHNSW()
            # excluded items still fill the candidate list while the graph is walked: widen it by
            # their number (bounded), so that k allowed items are found as often as without exclusions
            params.efSearch = ef + min(len(ex), MAX_EXTRA_EF)
            if len(ex):
                batch = faiss.IDSelectorBatch(ex)
                params.sel = faiss.IDSelectorNot(batch)
            d, i = self._index.search(q[rows], k_eff, params=params)
            scores[rows], labels[rows] = d, i
        # a row is short when the graph search found fewer than k allowed items: refill it exactly
        allowed = np.array([min(k_eff, n - len(e)) for e in excluded])
        found = (labels >= 0).sum(axis=1)
        exact_rows.extend(np.flatnonzero(found < allowed).tolist())
        if exact_rows:
            rows = np.array(sorted(set(exact_rows)))
            log.debug("HNSW: %d of %d queries answered by the exact scan", len(rows), nq)
            res = exact_search(self.vectors, q[rows], k_eff, [excluded[r] for r in rows.tolist()])
            scores[rows], labels[rows] = res.scores, res.indices
        scores[labels < 0] = -np.inf
        return SearchResult(scores, labels)

    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        self._check_built()
        faiss = _faiss()
        path = Path(path)
        with atomic_path(path) as tmp:
            faiss.write_index(self._index, str(tmp))
        write_json(_meta_path(path), {**self.params(), "n": self.n, "dim": self.dim, **(extra or {})})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FaissHNSWIndex:
        faiss = _faiss()
        path = Path(path)
        meta = _read_meta(path, cls.kind)
        out = cls(m=meta["m"], ef_construction=meta["ef_construction"], ef_search=meta["ef_search"])
        try:
            out._index = faiss.read_index(str(path))
        except RuntimeError as e:
            raise NotFoundError(f"cannot read the HNSW index {path}: {e}") from e
        out.meta = meta
        return out


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - a declared dependency
        from nextwatch.errors import MissingDependencyError

        raise MissingDependencyError("faiss is not installed", hint="pip install faiss-cpu") from e
    return faiss


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _read_meta(path: Path, kind: str) -> dict[str, Any]:
    mp = _meta_path(path)
    if not path.is_file() or not mp.is_file():
        raise NotFoundError(f"no saved index at {path}")
    meta = read_json(mp)
    if meta.get("kind") != kind:
        raise NextwatchError(f"{path} holds a {meta.get('kind')!r} index, not {kind!r}")
    return meta


INDEXES: dict[str, type[NeighbourIndex]] = {"exact": ExactIndex, "hnsw": FaissHNSWIndex}


def choose_kind(setting: str, n_items: int, exact_below: int) -> str:
    """``exact`` or ``hnsw``: the setting, or for ``auto`` exact below ``exact_below`` items."""
    if setting == "auto":
        return "exact" if n_items < exact_below else "hnsw"
    if setting not in INDEXES:
        raise ValueError(f"unknown index kind {setting!r}")
    return setting
