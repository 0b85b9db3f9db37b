"""A person's taste vector: the mean of the embeddings of the movies they liked.

The seed's equation 1 is a running mean, ``user_vector = Σ_t v_t / N_t``. :class:`TasteVector` keeps
the list of likes (item key and vector, in order) rather than a running sum, so that

- the vector is recomputed from the list in float64 and is therefore the same, bit for bit, however
  the list was reached: undoing a like gives exactly the vector that existed before it;
- an optional recency weighting (``half_life``, in likes) can weigh recent likes more:
  ``w_i = 2^(-(N-1-i)/h)`` for the i-th of N likes, and ``vector = Σ w_i v_i / Σ w_i``. Without a
  half-life every weight is 1 and this is equation 1.

It serialises to plain JSON (vectors as base64 float32) for profile storage.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

Key = str | int

FORMAT = "nextwatch-taste-v1"


class TasteVector:
    """Running (optionally recency-weighted) mean of liked item vectors, with exact undo."""

    def __init__(self, dim: int, *, half_life: float | None = None) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, not {dim}")
        if half_life is not None and not half_life > 0:
            raise ValueError(f"half_life must be > 0 (in likes), not {half_life}")
        self.dim = int(dim)
        self.half_life = None if half_life is None else float(half_life)
        self._keys: list[Key] = []
        self._vectors: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    @property
    def keys(self) -> list[Key]:
        """The liked items' keys, oldest first."""
        return list(self._keys)

    def add(self, key: Key, vector: np.ndarray) -> None:
        """Record a like of ``key`` with its embedding (copied, as float32)."""
        v = np.array(vector, dtype=np.float32).reshape(-1)
        if v.shape != (self.dim,):
            raise ValueError(f"vector of {key!r} has shape {np.shape(vector)}, not ({self.dim},)")
        if not np.isfinite(v).all():
            raise ValueError(f"vector of {key!r} has NaN or infinite values")
        self._keys.append(key)
        self._vectors.append(v)

    def remove(self, key: Key) -> None:
        """Undo the latest like of ``key``; :class:`KeyError` if it was never liked."""
        for i in range(len(self._keys) - 1, -1, -1):
            if self._keys[i] == key:
                del self._keys[i]
                del self._vectors[i]
                return
        raise KeyError(key)

    def pop(self) -> Key:
        """Undo the latest like, whatever it was; returns its key."""
        if not self._keys:
            raise IndexError("no likes to undo")
        self._vectors.pop()
        return self._keys.pop()

    def weights(self) -> np.ndarray:
        """The weight of each like, oldest first (all 1 without a half-life), float64."""
        n = len(self._keys)
        if self.half_life is None:
            return np.ones(n, dtype=np.float64)
        age = np.arange(n - 1, -1, -1, dtype=np.float64)
        return np.exp2(-age / self.half_life)

    def vector(self) -> np.ndarray:
        """The (weighted) mean of the liked vectors, float32; :class:`ValueError` before any like."""
        if not self._keys:
            raise ValueError("no likes yet: the taste vector is undefined")
        stack = np.stack(self._vectors).astype(np.float64)
        w = self.weights()
        mean = (w[:, None] * stack).sum(axis=0) / w.sum()
        return mean.astype(np.float32)

    def query(self) -> np.ndarray:
        """The taste vector scaled to unit length: the same ranking, with scores that are cosines."""
        v = self.vector().astype(np.float64)
        norm = math.sqrt(float(v @ v))
        if norm == 0:
            raise ValueError("the liked vectors cancel out: the taste vector is zero")
        return (v / norm).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; :meth:`from_dict` restores an equal object, bit for bit."""
        return {
            "format": FORMAT,
            "dim": self.dim,
            "half_life": self.half_life,
            "likes": [
                {"key": k, "vector": base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")}
                for k, v in zip(self._keys, self._vectors, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TasteVector:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a taste vector (format {data.get('format')!r}, expected {FORMAT!r})")
        out = cls(int(data["dim"]), half_life=data.get("half_life"))
        for like in data["likes"]:
            key = like["key"]
            if not isinstance(key, str | int):
                raise ValueError(f"a like's key must be a string or an integer, not {key!r}")
            out.add(key, np.frombuffer(base64.b64decode(like["vector"]), dtype="<f4"))
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TasteVector):
            return NotImplemented
        return (
            self.dim == other.dim
            and self.half_life == other.half_life
            and self._keys == other._keys
            and all(np.array_equal(a, b) for a, b in zip(self._vectors, other._vectors, strict=True))
        )

    def __repr__(self) -> str:
        hl = "" if self.half_life is None else f", half_life={self.half_life:g}"
        return f"TasteVector(dim={self.dim}, likes={len(self)}{hl})"
