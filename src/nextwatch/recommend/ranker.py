"""The fused ranking of one round, as a pure function of what a person liked and was shown.

:class:`HybridRanker` holds the read-only parts (item popularity, the NCF fold-in scorer, the item
embeddings and their neighbour index) and answers ``rank(liked, shown, k)`` with item indices,
scores and reasons. It keeps no per-person state, so one ranker serves every session and thread,
and the session benchmark drives exactly what the web page does.

One round:

1. **No likes yet** (or ``mode="popularity"``): the most popular unseen movies, re-ranked with MMR
   over their embeddings so the first five are not one franchise.
2. **CF side**: the person is folded into NCF (:mod:`nextwatch.recommend.foldin`) from their likes
   (positives) and the movies they were shown and did not tick (negatives); every unseen item gets a
   logit; the top ``candidates`` are CF's candidates.
3. **Content side**: the taste vector (mean of the liked embeddings, the seed's eq. 1) queries the
   neighbour index (exact or HNSW) for ``candidates`` unseen neighbours.
4. **Fusion**: on the union of both candidate sets, each side's scores are min-max normalised and
   blended with ``weight_cf`` from the :class:`~nextwatch.recommend.fusion.FusionSchedule`.
5. **Diversity**: MMR over the embeddings picks the ``k`` shown.
6. **Why**: each pick says which liked movie it comes from, by content or by CF item similarity.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nextwatch.recommend.foldin import FoldInConfig, FoldInScorer
from nextwatch.recommend.fusion import FusionSchedule, minmax, mmr

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "cf", "content", "popularity"]
MODES: tuple[str, ...] = ("hybrid", "cf", "content", "popularity")


@dataclass(frozen=True)
class RankerConfig:
    """Settings of the fused ranking."""

    mode: Mode = "hybrid"
    #: candidates taken from each side before fusion
    candidates: int = 100
    #: defaults chosen on a validation group of held-out ML-1M people (benchmarks/sessions.py): CF
    #: carries most of the weight once a person has liked a couple of movies
    schedule: FusionSchedule = field(default_factory=lambda: FusionSchedule(cf_min=0.9, cf_max=0.95))
    #: MMR trade-off: 1 = relevance only, 0 = diversity only
    mmr_lambda: float = 0.9
    #: popular unseen movies considered for a first round
    popular_pool: int = 50
    foldin: FoldInConfig = field(default_factory=lambda: FoldInConfig(shown_weight=0.1))


@dataclass(frozen=True)
class Ranked:
    """One recommended item: index, fused score, the contributing scores and the reason."""

    item_idx: int
    score: float
    scores: dict[str, float]
    reason_kind: str  # "content" | "cf" | "popular"
    because: int | None  # the liked item_idx the reason names


def _seed(liked: np.ndarray, shown: np.ndarray) -> int:
    h = hashlib.blake2b(liked.tobytes() + b"|" + shown.tobytes(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


class HybridRanker:
    """Fused CF + content ranking over one catalogue (see the module docstring)."""

    def __init__(
        self,
        popularity: np.ndarray,
        *,
        cf: FoldInScorer | None,
        vectors: np.ndarray | None,
        index: object | None = None,
        allowed: np.ndarray | None = None,
        config: RankerConfig | None = None,
    ) -> None:
        self.config = config or RankerConfig()
        self.popularity = np.asarray(popularity, dtype=np.float64)
        self.n_items = len(self.popularity)
        self.cf = cf
        self.vectors = vectors
        self.index = index
        #: items that may be recommended (e.g. only those with a description); None = all
        self.allowed = allowed
        if cf is not None and cf.n_items != self.n_items:
            raise ValueError(f"the CF model knows {cf.n_items} items, the catalogue has {self.n_items}")
        if vectors is not None and len(vectors) != self.n_items:
            raise ValueError(f"{len(vectors)} embeddings for {self.n_items} items")
        if self.config.mode in ("hybrid", "cf") and cf is None:
            log.warning("no CF model: ranking by content only")
        self._untrained = self.popularity <= 0
        self._blocked_base = np.zeros(self.n_items, dtype=bool) if allowed is None else ~allowed

    # ----------------------------------------------------------------------------------------
    def _blocked(self, liked: np.ndarray, shown: np.ndarray) -> np.ndarray:
        blocked = self._blocked_base.copy()
        blocked[liked] = True
        blocked[shown] = True
        return blocked

    def _top(self, scores: np.ndarray, blocked: np.ndarray, n: int) -> np.ndarray:
        bad = blocked | np.isnan(scores)
        s = np.where(bad, -np.inf, scores)
        n = min(n, int((~bad).sum()))
        if n <= 0:
            return np.empty(0, dtype=np.int64)
        part = np.argpartition(-s, n - 1)[:n]
        return part[np.argsort(-s[part], kind="stable")]

    def _diversify(self, cand: np.ndarray, relevance: np.ndarray, k: int) -> np.ndarray:
        if self.vectors is None or self.config.mmr_lambda >= 1.0:
            order = np.argsort(-relevance, kind="stable")[:k]
        else:
            order = mmr(relevance, self.vectors[cand], k, lambda_=self.config.mmr_lambda)
        return order

    def popular(
        self, liked: np.ndarray, shown: np.ndarray, k: int, *, diversify: bool = True
    ) -> list[Ranked]:
        blocked = self._blocked(liked, shown)
        pool = self._top(self.popularity, blocked, self.config.popular_pool if diversify else k)
        rel = minmax(np.log1p(self.popularity[pool]))
        order = self._diversify(pool, rel, k) if diversify else np.arange(min(k, len(pool)))
        return [
            Ranked(
                int(pool[o]), float(rel[o]), {"popularity": float(self.popularity[pool[o]])}, "popular", None
            )
            for o in order
        ]

    def cf_scores(
        self, liked: np.ndarray, shown: np.ndarray, blocked: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits of every item for the person folded in from their feedback (NaN where CF cannot or
        need not score: items never seen in training, and ``blocked`` ones, which are not scored)."""
        assert self.cf is not None
        negatives = np.setdiff1d(shown, liked)
        theta = self.cf.fold_in(liked, negatives, config=self.config.foldin, seed=_seed(liked, shown))
        skip = self._untrained if blocked is None else (self._untrained | blocked)
        wanted = np.flatnonzero(~skip)
        scores = np.full(self.n_items, np.nan)
        # items never seen in training keep their random initial embeddings: CF cannot score them
        scores[wanted] = self.cf.score(theta, wanted)
        return scores

    def taste(self, liked: np.ndarray) -> np.ndarray:
        """The taste vector: the mean of the liked embeddings (seed eq. 1), unit-normalised for search."""
        assert self.vectors is not None
        v = self.vectors[liked].astype(np.float64).mean(axis=0)
        norm = np.linalg.norm(v)
        return (v / norm if norm > 0 else v).astype(np.float32)

    def rank(
        self,
        liked: np.ndarray | list[int],
        shown: np.ndarray | list[int],
        k: int = 5,
        *,
        taste: np.ndarray | None = None,
    ) -> list[Ranked]:
        """The next ``k`` items for a person who liked ``liked`` and was shown ``shown`` (indices).

        Never returns a liked or shown item. ``taste`` overrides the plain mean taste vector (e.g. a
        recency-weighted one from the profile).
        """
        liked = np.unique(np.asarray(liked, dtype=np.int64))
        shown = np.unique(np.asarray(shown, dtype=np.int64))
        mode = self.config.mode
        use_cf = mode in ("hybrid", "cf") and self.cf is not None
        use_content = mode in ("hybrid", "content") and self.vectors is not None
        if mode == "popularity":
            return self.popular(liked, shown, k, diversify=False)
        if len(liked) == 0 or not (use_cf or use_content):
            return self.popular(liked, shown, k, diversify=mode == "hybrid")
        blocked = self._blocked(liked, shown)
        n_cand = self.config.candidates
        cand_parts = []
        cf_all = None
        q = None
        if use_cf:
            cf_all = self.cf_scores(liked, shown, blocked)
            cand_parts.append(self._top(cf_all, blocked, n_cand))
        if use_content:
            q = taste if taste is not None else self.taste(liked)
            cand_parts.append(self._content_candidates(q, blocked, n_cand))
        cand = np.unique(np.concatenate(cand_parts))
        if len(cand) == 0:
            return []
        cf_c = cf_all[cand] if cf_all is not None else np.zeros(len(cand))
        ct_c = self.vectors[cand] @ q if q is not None else np.zeros(len(cand))  # type: ignore[index]
        w = (
            self.config.schedule.weight_cf(len(liked))
            if mode == "hybrid" and use_cf and use_content
            else (1.0 if use_cf else 0.0)
        )
        cf_n, ct_n = minmax(cf_c), minmax(ct_c)
        fused = w * cf_n + (1.0 - w) * ct_n
        order = self._diversify(cand, fused, k) if mode == "hybrid" else np.argsort(-fused, kind="stable")[:k]
        out = []
        for o in order:
            item = int(cand[o])
            cf_part, ct_part = w * cf_n[o], (1.0 - w) * ct_n[o]
            if use_cf and use_content:
                kind = "cf" if cf_part > ct_part else "content"
            else:
                kind = "cf" if use_cf else "content"
            because = self._because(item, liked, kind)
            scores = {"weight_cf": round(w, 4)}
            if use_cf:
                scores["cf"] = round(float(cf_c[o]), 6)
            if use_content:
                scores["content"] = round(float(ct_c[o]), 6)
            out.append(Ranked(item, float(fused[o]), scores, kind, because))
        return out

    def _content_candidates(self, q: np.ndarray, blocked: np.ndarray, n: int) -> np.ndarray:
        if self.index is not None:
            res = self.index.search(q, n, exclude=np.flatnonzero(blocked))  # type: ignore[attr-defined]
            idx = np.asarray(res.indices).reshape(-1)
            return idx[idx >= 0].astype(np.int64)
        return self._top(self.vectors @ q, blocked, n)  # type: ignore[operator]

    def _because(self, item: int, liked: np.ndarray, kind: str) -> int | None:
        if len(liked) == 0:
            return None
        if kind == "cf" and self.cf is not None:
            sims = self.cf.item_similarity(item, liked)
        elif self.vectors is not None:
            sims = self.vectors[liked] @ self.vectors[item]
        else:
            return None
        return int(liked[int(np.argmax(sims))])
