"""Shared fixtures.

Unit tests write their own tiny fixtures. Integration tests read the real data in ``../shared/data``
(or ``$NEXTWATCH_SHARED_DATA``) through :func:`shared_data`, and skip with a clear reason where it
is absent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nextwatch.data.dataset import Dataset, Interactions, users_frame
from nextwatch.data.store import load_dataset, write_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEXTWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("NEXTWATCH_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real shared data sets; skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set NEXTWATCH_SHARED_DATA to its folder)")
    return SHARED_DATA


def require(path: Path) -> Path:
    """Skip the calling test with a clear reason unless ``path`` exists."""
    if not path.exists():
        pytest.skip(f"needs {path}, which is absent here")
    return path


# -- tiny datasets written with the real dataset store (model and evaluation tests) ------------------


#: test folders whose tests run on one torch thread (tiny models)
ONE_THREAD_DIRS = ("models", "evaluation")


@pytest.fixture(autouse=True)
def _one_torch_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Model and evaluation tests run on one torch thread (if something imported torch); the setting
    is given back afterwards. Tiny models gain nothing from threads, and on a shared machine OpenMP's
    spinning threads cost a lot."""
    torch = sys.modules.get("torch")
    rel = Path(str(request.node.path)).resolve().relative_to(REPO / "tests").parts
    if torch is None or not rel or rel[0] not in ONE_THREAD_DIRS:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_dataset(
    folder: Path,
    users: list[int] | np.ndarray,
    items: list[int] | np.ndarray,
    ratings: list[float] | np.ndarray | None = None,
    timestamps: list[int] | np.ndarray | None = None,
    *,
    n_users: int | None = None,
    n_items: int | None = None,
    rating_scale: tuple[float, float] | None = (1.0, 5.0),
) -> Dataset:
    """Write a dataset folder from interaction columns and read it back."""
    users, items = np.asarray(users), np.asarray(items)
    n_users = int(users.max()) + 1 if n_users is None else n_users
    n_items = int(items.max()) + 1 if n_items is None else n_items
    ratings = np.full(len(users), 4.0) if ratings is None else np.asarray(ratings)
    timestamps = np.arange(len(users)) if timestamps is None else np.asarray(timestamps)
    item_frame = pl.DataFrame(
        {
            "item_idx": np.arange(n_items, dtype=np.int32),
            "item_id": [f"m{i}" for i in range(n_items)],
            "title": [f"Movie {i}" for i in range(n_items)],
        }
    )
    write_dataset(
        folder,
        Interactions(users, items, ratings, timestamps),
        item_frame,
        users_frame([f"u{u}" for u in range(n_users)]),
        source_format="test",
        sources=[],
        rating_scale=rating_scale,
    )
    return load_dataset(folder)


def clustered_interactions(
    n_users: int = 48, n_items: int = 40, per_user: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Users in two taste groups, each rating only items of its own group: easy to learn.

    Group g users (u % 2 == g) pick items with i % 2 == g; their ratings are 4-5, and a user rates a
    few items of the other group 1-2 only in the explicit sense (they are still interactions).
    """
    rng = np.random.default_rng(seed)
    us, its, rs = [], [], []
    for u in range(n_users):
        own = np.arange(u % 2, n_items, 2)
        other = np.arange(1 - u % 2, n_items, 2)
        chosen_own = rng.choice(own, per_user, replace=False)
        chosen_other = rng.choice(other, 2, replace=False)
        us += [u] * (per_user + 2)
        its += [*chosen_own, *chosen_other]
        rs += [*rng.integers(4, 6, per_user), *rng.integers(1, 3, 2)]
    order = rng.permutation(len(us))
    ts = np.empty(len(us), np.int64)
    ts[order] = np.arange(len(us)) * 10
    return np.array(us), np.array(its), np.array(rs, np.float32), ts


@pytest.fixture
def clustered(tmp_path: Path) -> Dataset:
    """48 users, 40 items, two taste groups, 12 interactions per user."""
    return build_dataset(tmp_path / "clustered", *clustered_interactions())


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Dataset]:
    counter = iter(range(1000))

    def make(*args: object, name: str | None = None, **kwargs: object) -> Dataset:
        """A new dataset folder (``name``: a fixed folder name, to rewrite an earlier one)."""
        folder = tmp_path / (name or f"ds{next(counter)}")
        return build_dataset(folder, *args, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="module")
def clustered_module(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The ``clustered`` dataset, built once per test module (for tests that only read it)."""
    return build_dataset(tmp_path_factory.mktemp("clustered") / "ds", *clustered_interactions())


@pytest.fixture
def clustered_large(tmp_path: Path) -> Dataset:
    """120 users, 20 items, two taste groups, 10 ratings per user (about 60 per item)."""
    return build_dataset(
        tmp_path / "clustered-large", *clustered_interactions(n_users=120, n_items=20, per_user=8)
    )
