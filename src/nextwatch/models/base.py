"""The one shape every nextwatch model has, and what a model keeps of its training data.

``fit(dataset)`` trains on every interaction of ``dataset`` (pass a split's training view to hold data
out); ``score(users, items)`` scores aligned pairs; ``score_all(users)`` scores whole catalogue rows in
batched matrix products; ``recommend(user, k, exclude_seen=True)`` returns the top ``k``;
``save(dir)`` / :func:`load_model` persist without pickle. Training and scoring are separate: scoring
never changes a model.

Users and items are the dataset's dense indices (``user_idx``, ``item_idx``); raw ids live at the
edges (the model keeps the id maps of its dataset, :attr:`FitState.user_ids` / ``item_ids``).

Scoring never crashes on what the model cannot know. A pair is *impossible* when the user or the item
is outside the model's index range or had no training interactions (its embedding never learned
anything); :meth:`Recommender.score` returns NaN there, and :meth:`Recommender.recommend` falls back to
the most popular unseen items and says why in :attr:`Recommendation.impossible`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from nextwatch import __version__
from nextwatch.data.dataset import Dataset
from nextwatch.errors import NextwatchError, NotFoundError
from nextwatch.io import atomic_dir, atomic_path, read_json, write_json
from nextwatch.models.config import Config

log = logging.getLogger(__name__)

MODEL_FORMAT = 1
MODEL_FILE = "model.json"
CONFIG_FILE = "config.json"
STATE_FILE = "state.npz"
#: each training user's seen items (CSR), kept apart from state.npz and memory-mapped on load, so that
#: serving new people (who are not in the training data) never reads the training interactions
SEEN_FILES = {"seen_indptr": "seen_indptr.npy", "seen_indices": "seen_indices.npy"}

_REGISTRY: dict[str, type[Recommender]] = {}
#: model.json keys the model writes itself; every other key is provenance (dataset, split, ...)
_META_KEYS = frozenset(
    {
        "format",
        "model",
        "objective",
        "nextwatch_version",
        "code_version",
        "created_at",
        "n_users",
        "n_items",
        "id_maps",
    }
)
#: pseudo-ratings at the global mean added to each item's ratings by the explicit fallback
FALLBACK_DAMPING = 5.0


@dataclass(frozen=True)
class Recommendation:
    """Top items for one user, best first."""

    user: int
    items: np.ndarray  # int64 dense item indices
    scores: np.ndarray  # float32, same length; the fallback's scores where ``impossible``
    #: why the model could not personalise this list (the popularity fallback made it), else None
    impossible: str | None = None


@dataclass(frozen=True)
class FitState:
    """What a model keeps of its training data: sizes, counts, the id maps and each user's seen items."""

    n_users: int
    n_items: int
    user_count: np.ndarray  # int64 [n_users]: training interactions per user
    item_count: np.ndarray  # int64 [n_items]
    item_rating_sum: np.ndarray  # float64 [n_items]
    global_mean: float
    seen_indptr: np.ndarray  # int64 [n_users + 1]: CSR of each user's training items (sorted)
    seen_indices: np.ndarray  # int32
    rating_scale: tuple[float, float] | None
    user_ids: np.ndarray  # str [n_users]: raw id of each user index
    item_ids: np.ndarray  # str [n_items]

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> FitState:
        inter = dataset.interactions
        n_users, n_items = dataset.n_users, dataset.n_items
        u = inter.user_idx.astype(np.int64)
        i = inter.item_idx.astype(np.int64)
        keys = np.unique(u * n_items + i)
        seen_users = keys // n_items
        indptr = np.zeros(n_users + 1, np.int64)
        np.cumsum(np.bincount(seen_users, minlength=n_users), out=indptr[1:])
        ratings = inter.rating.astype(np.float64)
        return cls(
            n_users=n_users,
            n_items=n_items,
            user_count=np.bincount(u, minlength=n_users).astype(np.int64),
            item_count=np.bincount(i, minlength=n_items).astype(np.int64),
            item_rating_sum=np.bincount(i, weights=ratings, minlength=n_items),
            global_mean=float(ratings.mean()) if len(ratings) else 0.0,
            seen_indptr=indptr,
            seen_indices=(keys % n_items).astype(np.int32),
            rating_scale=dataset.rating_scale,
            user_ids=np.asarray(dataset.user_ids()).astype(str),
            item_ids=np.asarray(dataset.item_ids()).astype(str),
        )

    def seen(self, user: int) -> np.ndarray:
        """Training items of ``user`` (sorted; empty for an unknown user)."""
        if not 0 <= user < self.n_users:
            return np.empty(0, np.int32)
        return self.seen_indices[self.seen_indptr[user] : self.seen_indptr[user + 1]]

    def known_users(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        ok = (users >= 0) & (users < self.n_users)
        ok[ok] = self.user_count[users[ok]] > 0
        return ok

    def known_items(self, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        ok = (items >= 0) & (items < self.n_items)
        ok[ok] = self.item_count[items[ok]] > 0
        return ok

    def arrays(self, *, seen: bool = True) -> dict[str, np.ndarray]:
        """Every array of the state (``seen=False``: without the seen-items CSR)."""
        scale = np.array(self.rating_scale if self.rating_scale else [np.nan, np.nan], np.float64)
        return {
            "sizes": np.array([self.n_users, self.n_items], np.int64),
            "user_count": self.user_count,
            "item_count": self.item_count,
            "item_rating_sum": self.item_rating_sum,
            "global_mean": np.array([self.global_mean], np.float64),
            "rating_scale": scale,
            "user_ids": self.user_ids.astype(str),
            "item_ids": self.item_ids.astype(str),
        } | ({"seen_indptr": self.seen_indptr, "seen_indices": self.seen_indices} if seen else {})

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> FitState:
        scale = a["rating_scale"]
        return cls(
            n_users=int(a["sizes"][0]),
            n_items=int(a["sizes"][1]),
            user_count=a["user_count"],
            item_count=a["item_count"],
            item_rating_sum=a["item_rating_sum"],
            global_mean=float(a["global_mean"][0]),
            seen_indptr=a["seen_indptr"],
            seen_indices=a["seen_indices"],
            rating_scale=None if np.isnan(scale).any() else (float(scale[0]), float(scale[1])),
            user_ids=a["user_ids"],
            item_ids=a["item_ids"],
        )


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+g{commit}" if commit else __version__


class Recommender(ABC):
    """Base of every model: fit, score, recommend, save/load (see the module docstring)."""

    #: registry name (``--model``)
    name: ClassVar[str]
    config_class: ClassVar[type[Config]]

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = self.config_class()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config
        self.state: FitState | None = None
        #: where the training data came from and how it was split; recorded in model.json
        self.provenance: dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _REGISTRY[cls.name] = cls

    # -- training -------------------------------------------------------------------------------------

    @property
    def objective(self) -> str:
        return str(getattr(self.config, "objective", "implicit"))

    @property
    def is_fitted(self) -> bool:
        return self.state is not None

    def fit(self, dataset: Dataset, **options: Any) -> Self:
        """Train on every interaction of ``dataset``; ``options`` are model-specific (checkpoints...)."""
        if dataset.n_interactions == 0:
            raise NextwatchError("cannot train on a dataset with no interactions")
        if self.objective == "explicit" and dataset.rating_scale is None:
            raise NextwatchError(
                "the explicit objective needs ratings, but this dataset has no rating scale",
                hint="use --objective implicit",
            )
        self.state = FitState.from_dataset(dataset)
        self.provenance = {
            "dataset": {
                "path": None if dataset.path is None else str(Path(dataset.path).resolve()),
                "fingerprint": dataset.fingerprint,
            },
            "n_train_interactions": dataset.n_interactions,
        }
        self._fit(dataset, **options)
        return self

    @abstractmethod
    def _fit(self, dataset: Dataset, **options: Any) -> None: ...

    def _require_fitted(self) -> FitState:
        if self.state is None:
            raise NextwatchError(f"the {self.name} model is not trained yet")
        return self.state

    # -- scoring --------------------------------------------------------------------------------------

    @abstractmethod
    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of aligned, known (user, item) pairs (int64 arrays), float32."""

    @abstractmethod
    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        """Scores ``[len(users), n_items]`` of known users against every item, float32."""

    def known_users(self, users: np.ndarray) -> np.ndarray:
        """Which users this model can personalise for: inside its range and with training data."""
        return self._require_fitted().known_users(users)

    def known_items(self, items: np.ndarray) -> np.ndarray:
        """Which items this model can score: inside its range and with training data."""
        return self._require_fitted().known_items(items)

    def possible(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Which aligned (user, item) pairs this model can score (see the module docstring)."""
        return self.known_users(users) & self.known_items(items)

    def score(self, users: np.ndarray | list[int], items: np.ndarray | list[int]) -> np.ndarray:
        """Scores of aligned pairs, higher is better; NaN where impossible.

        Implicit objective: the log-odds that the user interacts with the item. Explicit objective: the
        predicted rating on the dataset's scale. Same length as the inputs (broadcast if one is scalar).
        """
        users, items = np.broadcast_arrays(np.asarray(users, np.int64), np.asarray(items, np.int64))
        users, items = users.ravel(), items.ravel()
        out = np.full(len(users), np.nan, np.float32)
        ok = self.possible(users, items)
        if ok.any():
            out[ok] = self._score_pairs(users[ok], items[ok])
        return out

    def score_all(self, users: np.ndarray | list[int]) -> np.ndarray:
        """Scores ``[len(users), n_items]`` against the whole catalogue; NaN rows for unknown users and NaN
        columns for items without training data."""
        st = self._require_fitted()
        users = np.asarray(users, np.int64).ravel()
        out = np.full((len(users), st.n_items), np.nan, np.float32)
        ok = self.known_users(users)
        if ok.any():
            out[ok] = self._score_rows(users[ok])
        out[:, ~self.known_items(np.arange(st.n_items))] = np.nan
        return out

    def fallback_scores(self, items: np.ndarray) -> np.ndarray:
        """The non-personal fallback for ``items``: training popularity (implicit) or the damped item mean
        rating, the global mean for unknown items (explicit)."""
        st = self._require_fitted()
        items = np.asarray(items, np.int64)
        inside = (items >= 0) & (items < st.n_items)
        cnt = np.zeros(len(items), np.float64)
        cnt[inside] = st.item_count[items[inside]]
        if self.objective == "explicit":
            damping = FALLBACK_DAMPING
            sums = np.zeros(len(items), np.float64)
            sums[inside] = st.item_rating_sum[items[inside]]
            return ((sums + damping * st.global_mean) / (cnt + damping)).astype(np.float32)
        return cnt.astype(np.float32)

    def recommend(self, user: int, k: int = 10, exclude_seen: bool = True) -> Recommendation:
        """The ``k`` best items for ``user`` (fewer if the catalogue runs out), best first.

        Items without training data are never recommended. An unknown user, or one without training
        interactions, gets the most popular items instead, with the reason in ``impossible``.
        """
        st = self._require_fitted()
        if k < 1:
            return Recommendation(int(user), np.empty(0, np.int64), np.empty(0, np.float32))
        impossible = None
        if self.known_users(np.array([user]))[0]:
            scores = self.score_all(np.array([user]))[0].astype(np.float64)
        else:
            impossible = (
                f"unknown user index {user}"
                if not 0 <= user < st.n_users
                else f"user {user} has no training data"
            )
            scores = self.fallback_scores(np.arange(st.n_items)).astype(np.float64)
            scores[st.item_count == 0] = np.nan
        scores[np.isnan(scores)] = -np.inf
        if exclude_seen:
            scores[st.seen(user)] = -np.inf
        n_ok = int(np.isfinite(scores).sum())
        k = min(k, n_ok)
        if k == 0:
            return Recommendation(int(user), np.empty(0, np.int64), np.empty(0, np.float32), impossible)
        top = np.argpartition(-scores, k - 1)[:k]
        # best first; ties by item index so the order is deterministic
        top = top[np.lexsort((top, -scores[top]))]
        return Recommendation(int(user), top.astype(np.int64), scores[top].astype(np.float32), impossible)

    # -- persistence ----------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model folder atomically (an interrupted save leaves any earlier model intact)."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            self.write(tmp)
        return path

    def write(self, folder: Path) -> None:
        """Write the model's files into an existing folder (used inside a caller's atomic folder)."""
        st = self._require_fitted()
        write_json(folder / CONFIG_FILE, self.config.to_dict())
        with atomic_path(folder / STATE_FILE) as tmp, open(tmp, "wb") as f:
            np.savez(f, **st.arrays(seen=False))
        for key, name in SEEN_FILES.items():
            with atomic_path(folder / name) as tmp, open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(getattr(st, key)))
        self._write_weights(folder)
        meta = {
            "format": MODEL_FORMAT,
            "model": self.name,
            "objective": self.objective,
            "nextwatch_version": __version__,
            "code_version": code_version(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "n_users": st.n_users,
            "n_items": st.n_items,
            "id_maps": f"{STATE_FILE} (user_ids, item_ids: raw id of each dense index)",
            **self.provenance,
        }
        write_json(folder / MODEL_FILE, meta)

    def _write_weights(self, folder: Path) -> None:  # noqa: B027 - optional hook
        """Subclasses with learned weights write them here."""

    def _read_weights(self, folder: Path, device: str | None) -> None:  # noqa: B027 - optional hook
        """Subclasses with learned weights read them here."""

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | None = None) -> Recommender:
        """Read a model folder written by :meth:`save` (any model type when called on the base class)."""
        path = Path(path)
        meta_file = path / MODEL_FILE
        if not meta_file.is_file():
            raise NotFoundError(
                f"{path} is not a nextwatch model folder (no {MODEL_FILE})",
                hint="train one with: nextwatch train DATASET_DIR --out " + str(path),
            )
        meta = read_json(meta_file)
        if meta.get("format") != MODEL_FORMAT:
            raise NextwatchError(
                f"{path}: model format {meta.get('format')} is not {MODEL_FORMAT}; retrain it"
            )
        klass = _REGISTRY.get(meta.get("model", ""))
        if klass is None:
            raise NextwatchError(f"{path}: unknown model type {meta.get('model')!r}")
        if cls is not Recommender and not issubclass(klass, cls):
            raise NextwatchError(f"{path} holds a {klass.name} model, not {cls.__name__}")
        try:
            config = klass.config_class.from_dict(read_json(path / CONFIG_FILE))
        except json.JSONDecodeError as e:
            raise NextwatchError(f"{path / CONFIG_FILE} is not valid JSON: {e}") from e
        model = klass(config)
        with np.load(path / STATE_FILE, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        for key, name in SEEN_FILES.items():
            if (path / name).is_file():  # memory-mapped: pages are read only for users looked up
                arrays[key] = np.load(path / name, mmap_mode="r", allow_pickle=False)
            elif key not in arrays:
                raise NextwatchError(f"{path}: {name} is missing; retrain the model")
        model.state = FitState.from_arrays(arrays)
        model.provenance = {k: v for k, v in meta.items() if k not in _META_KEYS}
        model._read_weights(path, device)
        return model


def model_class(name: str) -> type[Recommender]:
    """The model class registered as ``name`` (``neumf``, ``gmf``, ``mlp``, ``mf``, ``pop``)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NextwatchError(f"unknown model {name!r}; choose from {', '.join(sorted(_REGISTRY))}") from None


def model_names() -> list[str]:
    return sorted(_REGISTRY)
