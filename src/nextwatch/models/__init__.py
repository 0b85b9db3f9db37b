"""Recommendation models behind one shape: ``fit``, ``score``, ``score_all``, ``recommend``, ``save``.

``neumf``, ``gmf``, ``mlp`` and ``mf`` are trained by gradient descent (:mod:`nextwatch.models.ncf`);
``autorec`` predicts ratings with an item-based autoencoder (:mod:`nextwatch.models.autorec`); ``pop`` is
the most-popular baseline. :func:`create_model` builds one by name with its tuned defaults,
:func:`load_model` reads any model folder.

Names are imported lazily, so ``nextwatch.models.config`` or ``nextwatch.models.ncf.sampling`` can be
used without importing torch.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nextwatch.models.base import Recommender

_LAZY = {
    "FitState": "nextwatch.models.base",
    "Recommendation": "nextwatch.models.base",
    "Recommender": "nextwatch.models.base",
    "model_class": "nextwatch.models.base",
    "model_names": "nextwatch.models.base",
    "Config": "nextwatch.models.config",
    "EpochConfig": "nextwatch.models.config",
    "AutoRecConfig": "nextwatch.models.config",
    "GMFConfig": "nextwatch.models.config",
    "MFConfig": "nextwatch.models.config",
    "MLPConfig": "nextwatch.models.config",
    "NeuMFConfig": "nextwatch.models.config",
    "PopConfig": "nextwatch.models.config",
    "TrainConfig": "nextwatch.models.config",
    "tower_for": "nextwatch.models.config",
    "GMFModel": "nextwatch.models.ncf.model",
    "MFModel": "nextwatch.models.ncf.model",
    "MLPModel": "nextwatch.models.ncf.model",
    "NCFModel": "nextwatch.models.ncf.model",
    "NeuMFModel": "nextwatch.models.ncf.model",
    "MostPopular": "nextwatch.models.popular",
    "TorchRecommender": "nextwatch.models.torch_model",
    "AutoRecModel": "nextwatch.models.autorec",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nextwatch.models' has no attribute {name!r}")


def _register_all() -> None:
    # importing the modules registers every model class by name
    importlib.import_module("nextwatch.models.ncf.model")
    importlib.import_module("nextwatch.models.popular")
    importlib.import_module("nextwatch.models.autorec")


def create_model(
    name: str, objective: str | None = None, *, device: str | None = None, **settings: Any
) -> Recommender:
    """A new, untrained model ``name`` with the tuned defaults for ``objective`` (None: the model's own,
    ``implicit`` for all but ``autorec``) and ``settings`` applied.

    ``settings`` with the value None are ignored (so CLI options left unset keep the defaults).
    """
    _register_all()
    from nextwatch.models.base import model_class
    from nextwatch.models.torch_model import TorchRecommender

    klass = model_class(name)
    config = klass.config_class.defaults(objective, **settings)
    if issubclass(klass, TorchRecommender):
        return klass(config, device=device)
    return klass(config)


def load_model(path: str | os.PathLike[str], *, device: str | None = None) -> Recommender:
    """Read a model folder of any type."""
    _register_all()
    from nextwatch.models.base import Recommender

    return Recommender.load(path, device=device)


def names() -> list[str]:
    """Registered model names (``--model`` choices)."""
    _register_all()
    from nextwatch.models.base import model_names

    return model_names()


__all__ = [*_LAZY, "create_model", "load_model", "names"]
