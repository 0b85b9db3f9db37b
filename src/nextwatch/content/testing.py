"""A deterministic stand-in for the sentence model, for tests that must not load a real one.

:class:`HashingEncoder` embeds a text as the normalised sum of one fixed pseudo-random vector per
lower-cased word (seeded by the word's hash), so texts sharing words lie close together, and the same
text always gives the same vector. It counts its calls, so tests can check what a cache re-encodes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from nextwatch.content.encoder import l2_normalize

_WORD = re.compile(r"\w+")


class HashingEncoder:
    """Bag-of-words hashing encoder with the :class:`nextwatch.content.encoder.Encoder` interface."""

    def __init__(self, dim: int = 32, name: str = "hashing-test-encoder") -> None:
        self._dim = int(dim)
        self._name = name
        self.calls = 0
        self.texts_encoded = 0
        self._cache: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _word(self, word: str) -> np.ndarray:
        v = self._cache.get(word)
        if v is None:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self._dim)
            self._cache[word] = v
        return v

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float64)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[i] += self._word(word)
        return l2_normalize(out.astype(np.float32))
