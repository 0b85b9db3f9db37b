"""Most-popular baseline: the same list for everyone (minus what they have seen).

Implicit objective: an item's score is its number of training interactions. Explicit objective: its
mean training rating shrunk towards the global mean, ``(sum_r + d * mu) / (n + d)`` with ``d`` =
``damping``, the usual damped-mean baseline. It has no per-user parameters, so it can score any user,
including one it never saw; only items outside the catalogue are impossible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nextwatch.data.dataset import Dataset
from nextwatch.models.base import Recommender
from nextwatch.models.config import PopConfig


class MostPopular(Recommender):
    name = "pop"
    config_class = PopConfig
    config: PopConfig

    def _fit(self, dataset: Dataset, **options: Any) -> None:
        # everything it needs (counts, rating sums) is in the FitState
        pass

    def _item_scores(self) -> np.ndarray:
        st = self._require_fitted()
        if self.objective == "explicit":
            d = self.config.damping
            return ((st.item_rating_sum + d * st.global_mean) / (st.item_count + d)).astype(np.float32)
        return st.item_count.astype(np.float32)

    def known_users(self, users: np.ndarray) -> np.ndarray:
        # no per-user parameters: every user, even one never seen, gets the popularity list
        return np.ones(np.shape(users), dtype=bool)

    def known_items(self, items: np.ndarray) -> np.ndarray:
        if self.objective == "explicit":  # an unrated item's damped mean is the global mean
            st = self._require_fitted()
            items = np.asarray(items, np.int64)
            return (items >= 0) & (items < st.n_items)
        return super().known_items(items)

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._item_scores()[items]

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._item_scores(), (len(users), self._require_fitted().n_items)).copy()
