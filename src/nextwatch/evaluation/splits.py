"""Train / validation / test splits: pure functions of the data and a seed, computed once, stored with
the dataset so that every model and every peer sees the same split.

Splits
------
``loo`` (leave one out, He et al. 2017): each user's latest interaction is the *test* item and the
second-to-last the *validation* item (for tuning); everything else is training. Interactions at the
same second are ordered by item index, so ties are broken deterministically. A user keeps at least one
training interaction: the test item needs 2 distinct items, the validation item 3. The split also
stores, per user with a test item, ``n_negatives`` (default 100) distinct items the user never
interacted with, drawn from the items anybody interacted with: the candidates of the sampled
protocol, the same for every model.

``ratings-holdout``: a seeded random 10% of the interactions is the test part and another 10% the
validation part.

Parts and targets
-----------------
Each interaction row gets a part: 0 train, 1 validation, 2 test. A model evaluated on the *test* part
trains on train + validation; one evaluated on the *validation* part (tuning) trains on train only
(:func:`train_view`).

Storage: ``DATASET_DIR/splits/<name>.parquet`` (row, part for the held-out rows only),
``<name>.negatives.parquet`` (user_idx, negatives) and ``<name>.json`` (seed, dataset fingerprint,
counts, sha256 of the files). Non-default seeds get ``<name>-s<seed>``. The JSON is written last, and
a split whose files or fingerprint do not match is recomputed.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from nextwatch import __version__
from nextwatch.data.dataset import Dataset, Interactions
from nextwatch.errors import InputError, NextwatchError
from nextwatch.io import atomic_path, read_json, sha256_file, write_json
from nextwatch.models.ncf.sampling import positive_keys, sample_distinct_negatives

log = logging.getLogger(__name__)

SPLIT_NAMES = ("loo", "ratings-holdout")
SPLITS_DIR = "splits"
SPLIT_FORMAT = 2
DEFAULT_SEED = 0
#: sampled negatives per user for the loo-sampled protocol (He et al. 2017: 100)
N_SAMPLED_NEGATIVES = 100
HOLDOUT_TEST_FRACTION = 0.1
HOLDOUT_VALID_FRACTION = 0.1

TRAIN, VALID, TEST = 0, 1, 2
PART_CODES = {"train": TRAIN, "valid": VALID, "test": TEST}
Target = Literal["valid", "test"]


@dataclass(frozen=True)
class Split:
    """One split of one dataset: a part code per interaction row, plus the loo sampled negatives."""

    name: str
    seed: int
    fingerprint: str
    part: np.ndarray  # int8 [n_interactions]
    #: loo only: users with sampled negatives, and their negatives ``[U, n]`` (-1 padded)
    negative_users: np.ndarray | None = None
    negatives: np.ndarray | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def rows(self, target: Target) -> np.ndarray:
        """Indices of the interaction rows held out as ``target``."""
        return np.flatnonzero(self.part == PART_CODES[_check_target(target)])

    def train_rows(self, target: Target) -> np.ndarray:
        """Rows a model evaluated on ``target`` trains on (test: train + validation; valid: train)."""
        if _check_target(target) == "test":
            return np.flatnonzero(self.part != TEST)
        return np.flatnonzero(self.part == TRAIN)

    def counts(self) -> dict[str, int]:
        c = np.bincount(self.part, minlength=3)
        return {"train": int(c[TRAIN]), "valid": int(c[VALID]), "test": int(c[TEST])}


def _check_target(target: str) -> str:
    if target not in ("valid", "test"):
        raise InputError(f"unknown evaluation part {target!r}; use valid or test")
    return target


def _check_fits(dataset: Dataset, split: Split) -> None:
    if len(split.part) != dataset.n_interactions:
        raise NextwatchError(
            f"split {split.name} has {len(split.part)} rows but the dataset {dataset.n_interactions}",
        )


def train_view(dataset: Dataset, split: Split, target: Target = "test") -> Dataset:
    """``dataset`` with only the interactions a model evaluated on ``target`` may train on."""
    _check_fits(dataset, split)
    return dataclasses.replace(dataset, interactions=dataset.interactions.subset(split.train_rows(target)))


def heldout(dataset: Dataset, split: Split, target: Target = "test") -> Interactions:
    """The interactions held out as ``target``."""
    _check_fits(dataset, split)
    return dataset.interactions.subset(split.rows(target))


# -- computing -------------------------------------------------------------------------------------------


def loo_parts(interactions: Interactions, n_items: int) -> np.ndarray:
    """Part codes of the leave-one-out split (see the module docstring); no randomness."""
    n = len(interactions)
    part = np.zeros(n, np.int8)
    if n == 0:
        return part
    users = interactions.user_idx.astype(np.int64)
    items = interactions.item_idx.astype(np.int64)
    keys = users * n_items + items
    # one entry per (user, item) pair, dated by its latest interaction
    pair_keys, inverse = np.unique(keys, return_inverse=True)
    pair_time = np.full(len(pair_keys), np.iinfo(np.int64).min, np.int64)
    np.maximum.at(pair_time, inverse, interactions.timestamp)
    pair_user, pair_item = pair_keys // n_items, pair_keys % n_items
    order = np.lexsort((pair_item, pair_time, pair_user))  # by user, then time, then item
    sorted_user = pair_user[order]
    n_pairs = np.bincount(sorted_user)
    ends = np.cumsum(n_pairs)  # one past each user's last pair, in sorted order
    users_with = np.flatnonzero(n_pairs)
    pair_part = np.zeros(len(pair_keys), np.int8)
    test_users = users_with[n_pairs[users_with] >= 2]
    pair_part[order[ends[test_users] - 1]] = TEST
    valid_users = users_with[n_pairs[users_with] >= 3]
    pair_part[order[ends[valid_users] - 2]] = VALID
    part[:] = pair_part[inverse]
    return part


def holdout_parts(
    n: int,
    seed: int,
    test_fraction: float = HOLDOUT_TEST_FRACTION,
    valid_fraction: float = HOLDOUT_VALID_FRACTION,
) -> np.ndarray:
    """Part codes of a seeded random holdout: ``test_fraction`` test, ``valid_fraction`` validation."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))
    perm = rng.permutation(n)
    n_test = round(n * test_fraction)
    n_valid = round(n * valid_fraction)
    part = np.zeros(n, np.int8)
    part[perm[:n_test]] = TEST
    part[perm[n_test : n_test + n_valid]] = VALID
    return part


def compute_split(
    dataset: Dataset, name: str, seed: int = DEFAULT_SEED, *, n_negatives: int = N_SAMPLED_NEGATIVES
) -> Split:
    """Compute split ``name`` of ``dataset`` (nothing is read or written)."""
    inter = dataset.interactions
    if name == "loo":
        part = loo_parts(inter, dataset.n_items)
        test_users = np.unique(inter.user_idx[part == TEST]).astype(np.int64)
        keys = positive_keys(inter.user_idx, inter.item_idx, dataset.n_items)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 2])))
        # candidates come from the items somebody interacted with: a catalogue entry nobody rated
        # (MovieLens lists 268 such movies) would be a free win for every model
        pool = np.flatnonzero(np.bincount(inter.item_idx, minlength=dataset.n_items))
        negatives = sample_distinct_negatives(test_users, n_negatives, dataset.n_items, keys, rng, pool=pool)
        params = {
            "n_negatives": n_negatives,
            "negatives_from": "items with at least one interaction",
            "ties": "timestamp, then item index",
        }
        return Split(name, seed, dataset.fingerprint, part, test_users, negatives, params)
    if name == "ratings-holdout":
        part = holdout_parts(len(inter), seed)
        params = {"test_fraction": HOLDOUT_TEST_FRACTION, "valid_fraction": HOLDOUT_VALID_FRACTION}
        return Split(name, seed, dataset.fingerprint, part, params=params)
    raise InputError(f"unknown split {name!r}; choose from {', '.join(SPLIT_NAMES)}")


# -- storing ---------------------------------------------------------------------------------------------


def split_stem(name: str, seed: int = DEFAULT_SEED) -> str:
    return name if seed == DEFAULT_SEED else f"{name}-s{seed}"


def split_paths(dataset_dir: str | Path, name: str, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    folder = Path(dataset_dir) / SPLITS_DIR
    stem = split_stem(name, seed)
    return {
        "meta": folder / f"{stem}.json",
        "parts": folder / f"{stem}.parquet",
        "negatives": folder / f"{stem}.negatives.parquet",
    }


def save_split(dataset_dir: str | Path, split: Split) -> None:
    """Write ``split`` beside its dataset (each file atomically, the JSON that validates them last)."""
    paths = split_paths(dataset_dir, split.name, split.seed)
    rows = np.flatnonzero(split.part != TRAIN)
    table = pa.table({"row": pa.array(rows, pa.int64()), "part": pa.array(split.part[rows], pa.int8())})
    with atomic_path(paths["parts"]) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    files = {paths["parts"].name: sha256_file(paths["parts"])}
    if split.negatives is not None and split.negative_users is not None:
        lists = [row[row >= 0].astype(np.int32) for row in split.negatives]
        neg_table = pa.table(
            {
                "user_idx": pa.array(split.negative_users, pa.int32()),
                "negatives": pa.array(lists, pa.list_(pa.int32())),
            }
        )
        with atomic_path(paths["negatives"]) as tmp:
            pq.write_table(neg_table, tmp, compression="zstd")
        files[paths["negatives"].name] = sha256_file(paths["negatives"])
    meta = {
        "format": SPLIT_FORMAT,
        "name": split.name,
        "seed": split.seed,
        "dataset_fingerprint": split.fingerprint,
        "n_interactions": len(split.part),
        "counts": split.counts(),
        "n_width": None if split.negatives is None else int(split.negatives.shape[1]),
        "params": split.params,
        "files": files,
        "nextwatch_version": __version__,
    }
    write_json(paths["meta"], meta)


def read_split(dataset_dir: str | Path, name: str, seed: int = DEFAULT_SEED) -> Split | None:
    """The stored split, or None if it is absent or its files do not match their record."""
    paths = split_paths(dataset_dir, name, seed)
    if not paths["meta"].is_file():
        return None
    meta = read_json(paths["meta"])
    if meta.get("format") != SPLIT_FORMAT:
        return None
    for fname, digest in meta.get("files", {}).items():
        f = paths["meta"].parent / fname
        if not f.is_file() or sha256_file(f) != digest:
            log.warning("split file %s is missing or changed; recomputing the split", f)
            return None
    table = pq.read_table(paths["parts"])
    part = np.zeros(int(meta["n_interactions"]), np.int8)
    part[table.column("row").to_numpy()] = table.column("part").to_numpy()
    negative_users = negatives = None
    if paths["negatives"].name in meta.get("files", {}):
        nt = pq.read_table(paths["negatives"])
        negative_users = nt.column("user_idx").to_numpy().astype(np.int64)
        width = int(meta["n_width"])
        negatives = np.full((len(negative_users), width), -1, np.int64)
        lists = nt.column("negatives").combine_chunks()
        offsets = lists.offsets.to_numpy()
        values = lists.values.to_numpy().astype(np.int64)
        lengths = np.diff(offsets)
        row_idx = np.repeat(np.arange(len(negative_users)), lengths)
        col_idx = np.arange(len(values)) - np.repeat(offsets[:-1], lengths)
        negatives[row_idx, col_idx] = values
    return Split(
        name=meta["name"],
        seed=int(meta["seed"]),
        fingerprint=str(meta["dataset_fingerprint"]),
        part=part,
        negative_users=negative_users,
        negatives=negatives,
        params=dict(meta.get("params", {})),
    )


def get_split(dataset: Dataset, name: str, seed: int = DEFAULT_SEED) -> Split:
    """The dataset's split ``name``: read from ``DATASET_DIR/splits`` when stored and current, else
    computed and stored there (when the dataset has a folder)."""
    if name not in SPLIT_NAMES:
        raise InputError(f"unknown split {name!r}; choose from {', '.join(SPLIT_NAMES)}")
    if dataset.path is not None:
        stored = read_split(dataset.path, name, seed)
        if stored is not None:
            if stored.fingerprint == dataset.fingerprint and len(stored.part) == dataset.n_interactions:
                return stored
            log.warning("stored split %s belongs to another version of the dataset; recomputing", name)
    split = compute_split(dataset, name, seed)
    if dataset.path is not None:
        save_split(dataset.path, split)
        log.info("stored split %s (seed %d): %s", name, seed, split.counts())
    return split
