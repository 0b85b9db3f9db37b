"""What a :class:`~nextwatch.recommend.recommender.Recommender` loads from a model folder.

A model folder knows its dataset (path and fingerprint, written by ``nextwatch train``), so serving
needs nothing else: the dataset's items (not its interactions), the model's item-side weights for
fold-in, its per-item training counts for the popularity fallback, and the dataset's embeddings and
neighbour index, built on first use with progress.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nextwatch.data.dataset import Dataset
from nextwatch.data.store import load_dataset
from nextwatch.errors import NextwatchError, NotFoundError
from nextwatch.recommend.foldin import FoldInScorer

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """The read-only pieces a recommender serves from."""

    dataset: Dataset
    model: Any  # nextwatch.models.base.Recommender
    popularity: np.ndarray
    cf: FoldInScorer | None
    content: Any | None  # nextwatch.content.ContentModel


def dataset_of(model_dir: Path, meta: dict[str, Any]) -> Path:
    """The dataset folder a model was trained on (as recorded, else a ``dataset`` sibling)."""
    recorded = (meta.get("dataset") or {}).get("path")
    candidates = [Path(recorded)] if recorded else []
    candidates.append(model_dir.parent / "dataset")
    for c in candidates:
        if (c / "manifest.json").is_file():
            return c
    raise NotFoundError(
        f"the dataset model {model_dir} was trained on is not at {recorded or '(not recorded)'}",
        hint="re-run nextwatch ingest to that path, or retrain the model",
    )


def load_parts(model_dir: Path, *, content: Any | None = None, with_content: bool = True) -> Parts:
    """Load the model, its dataset's items, and (unless given or disabled) the content model."""
    from nextwatch.models import load_model

    model = load_model(model_dir, device="cpu")
    ds_path = dataset_of(model_dir, model.provenance)
    ds = load_dataset(ds_path, interactions=False)
    want = (model.provenance.get("dataset") or {}).get("fingerprint")
    if want and ds.fingerprint != want:
        raise NextwatchError(
            f"the dataset at {ds_path} changed since model {model_dir} was trained (fingerprint "
            f"{ds.fingerprint} != {want})",
            hint=f"retrain: nextwatch train {ds_path} --out {model_dir}",
        )
    ids = np.asarray(ds.item_ids()).astype(str)
    if len(ids) != model.state.n_items or not np.array_equal(ids, model.state.item_ids.astype(str)):
        raise NextwatchError(f"model {model_dir} and dataset {ds_path} do not share one item vocabulary")
    module = getattr(model, "module", None)
    if module is not None and not FoldInScorer.supports(module):
        raise NextwatchError(
            f"model {model_dir} ({model.name}) cannot fold in new people, so it cannot serve them",
            hint="serve a model trained with --model neumf, gmf, mlp, mf or pop",
        )
    cf = FoldInScorer(module) if module is not None else None
    popularity = np.asarray(model.state.item_count, dtype=np.float64)
    if content is None and with_content:
        from nextwatch.content import ContentModel

        content = ContentModel.load_or_build(ds)
    return Parts(dataset=ds, model=model, popularity=popularity, cf=cf, content=content)
