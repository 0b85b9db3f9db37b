"""The embedding store: one L2-normalised float32 vector per item, cached beside the dataset.

``DATASET_DIR/embeddings/<model-slug>/``
  ``vectors.npy``      ``(n_items, dim)`` float32, row ``i`` is ``item_idx`` ``i``
  ``text_sha256.npy``  ``(n_items,)`` ASCII hex SHA-256 of the text each row was encoded from
  ``meta.json``        model name and folder, dim, dataset fingerprint, text recipe version, counts,
                       SHA-256 of ``vectors.npy`` (the identity a neighbour index records)

The folder is written into a temporary sibling and swapped in (:func:`nextwatch.io.atomic_dir`), so
the three files always belong together. Vectors are reused by text hash: a re-run (or a re-ingest that
only reorders items) encodes just the items whose text is new, and costs near nothing when none is.
A neighbour index cached in the same folder is dropped with it whenever the vectors change.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nextwatch import __version__
from nextwatch.content import encoder as encoders
from nextwatch.content.config import ContentConfig
from nextwatch.content.encoder import Encoder, model_slug
from nextwatch.content.text import TEXT_VERSION, item_texts, text_hash
from nextwatch.data.dataset import Dataset
from nextwatch.errors import NotFoundError
from nextwatch.io import atomic_dir, read_json, recover_dir, sha256_file, write_json

log = logging.getLogger(__name__)

EMBEDDINGS_DIR = "embeddings"
VECTORS_FILE = "vectors.npy"
HASHES_FILE = "text_sha256.npy"
META_FILE = "meta.json"
STORE_VERSION = 1


def store_folder(dataset_dir: str | os.PathLike[str], model: str) -> Path:
    """Where the embeddings of ``model`` for the dataset in ``dataset_dir`` live."""
    return Path(dataset_dir) / EMBEDDINGS_DIR / model_slug(model)


@dataclass(frozen=True)
class EmbeddingStore:
    """Item vectors of one model for one dataset, as read from (or just written to) disk.

    ``n_encoded`` and ``n_reused`` describe the call that produced this object (not persisted): how
    many items were sent to the encoder and how many vectors came from the cache.
    """

    path: Path
    vectors: np.ndarray
    hashes: np.ndarray
    meta: dict[str, Any]
    n_encoded: int = field(default=0, compare=False)
    n_reused: int = field(default=0, compare=False)

    @property
    def model(self) -> str:
        return str(self.meta["model"])

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def n_items(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the dataset these vectors were built for."""
        return str(self.meta["dataset_fingerprint"])

    @property
    def vectors_sha256(self) -> str:
        return str(self.meta["vectors_sha256"])

    @classmethod
    def load(cls, dataset_dir: str | os.PathLike[str], model: str) -> EmbeddingStore:
        """Read the stored embeddings of ``model``; :class:`NotFoundError` if there are none (or broken)."""
        folder = store_folder(dataset_dir, model)
        recover_dir(folder)
        if not (folder / META_FILE).is_file():
            raise NotFoundError(
                f"no embeddings of {model} in {folder}",
                hint=f"create them with: nextwatch embed {dataset_dir}",
            )
        meta = read_json(folder / META_FILE)
        try:
            vectors = np.load(folder / VECTORS_FILE, allow_pickle=False)
            hashes = np.load(folder / HASHES_FILE, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise NotFoundError(f"embeddings in {folder} are unreadable ({e})") from e
        if (
            meta.get("store_version") != STORE_VERSION
            or vectors.ndim != 2
            or vectors.dtype != np.float32
            or vectors.shape != (int(meta.get("n_items", -1)), int(meta.get("dim", -1)))
            or hashes.shape != (vectors.shape[0],)
        ):
            raise NotFoundError(f"embeddings in {folder} do not match their meta.json; they will be rebuilt")
        return cls(path=folder, vectors=vectors, hashes=hashes, meta=meta)

    @classmethod
    def load_or_build(
        cls,
        dataset: Dataset,
        *,
        config: ContentConfig | None = None,
        encoder: Encoder | None = None,
        root: str | os.PathLike[str] | None = None,
        progress: bool = True,
    ) -> EmbeddingStore:
        """The dataset's item vectors, encoding only the items whose text is not in the cache yet.

        ``root`` is the dataset folder to cache in (default: ``dataset.path``). ``encoder`` defaults to
        the configured sentence-transformers model, created only when something must be encoded.
        """
        config = config or ContentConfig()
        model_name = encoder.name if encoder is not None else config.model
        root = Path(root) if root is not None else dataset.path
        if root is None:
            raise ValueError("the dataset has no folder; pass root= to say where to cache its embeddings")
        folder = store_folder(root, model_name)
        texts = item_texts(dataset.items)
        hashes = np.array([text_hash(t) for t in texts], dtype="S64")

        old: EmbeddingStore | None = None
        try:
            old = cls.load(root, model_name)
            if old.model != model_name:
                log.warning(
                    "embeddings in %s belong to %s, not %s: rebuilding", folder, old.model, model_name
                )
                old = None
        except NotFoundError as e:
            if (folder / META_FILE).exists():
                log.warning("%s", e)
        if (
            old is not None
            and old.fingerprint == dataset.fingerprint
            and old.hashes.shape == hashes.shape
            and np.array_equal(old.hashes, hashes)
        ):
            log.info("embeddings of %d items up to date in %s", old.n_items, folder)
            return cls(old.path, old.vectors, old.hashes, old.meta, n_encoded=0, n_reused=old.n_items)

        # reuse every vector whose text is already encoded; encode each new distinct text once
        rows, missing, todo = _plan(hashes, old)
        log.info(
            "embeddings for %d items: %d cached, %d distinct texts to encode",
            len(texts),
            len(texts) - len(missing),
            len(todo),
        )
        t0 = time.perf_counter()
        new_vectors = np.zeros((0, 0), dtype=np.float32)
        model_path = "" if old is None else str(old.meta.get("model_path", ""))
        if old is not None and not todo:
            dim = old.dim
        else:
            enc = encoder or encoders.make_encoder(config)
            model_path = str(getattr(enc, "path", ""))
            if old is not None and enc.dim != old.dim:
                log.warning(
                    "the model's output size changed (%d -> %d): re-encoding every item", old.dim, enc.dim
                )
                old = None
                rows, missing, todo = _plan(hashes, None)
            dim = enc.dim
            if todo:
                new_vectors = np.asarray(enc.encode([texts[i] for i in todo.values()], progress=progress))
                if new_vectors.shape != (len(todo), dim) or new_vectors.dtype != np.float32:
                    raise ValueError(
                        f"encoder returned {new_vectors.shape} {new_vectors.dtype}, "
                        f"not ({len(todo)}, {dim}) float32"
                    )
        encode_seconds = time.perf_counter() - t0
        n_new = len(todo)

        vectors = np.empty((len(texts), dim), dtype=np.float32)
        have = rows >= 0
        if old is not None and have.any():
            vectors[have] = old.vectors[rows[have]]
        if n_new:
            slot = {h: j for j, h in enumerate(todo)}
            keys = hashes.tolist()
            vectors[missing] = new_vectors[[slot[keys[i]] for i in missing.tolist()]]

        with atomic_dir(folder) as tmp:
            np.save(tmp / VECTORS_FILE, vectors, allow_pickle=False)
            np.save(tmp / HASHES_FILE, hashes, allow_pickle=False)
            meta: dict[str, Any] = {
                "store_version": STORE_VERSION,
                "model": model_name,
                "model_path": model_path,
                "dim": dim,
                "n_items": len(texts),
                "dtype": "float32",
                "normalized": "l2",
                "text_version": TEXT_VERSION,
                "dataset_fingerprint": dataset.fingerprint,
                "vectors_sha256": sha256_file(tmp / VECTORS_FILE),
                "n_encoded": n_new,
                "encode_seconds": round(encode_seconds, 3),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "nextwatch_version": __version__,
                "config": config.to_dict(),
            }
            write_json(tmp / META_FILE, meta)
        log.info("wrote embeddings of %d items (%d encoded) to %s", len(texts), n_new, folder)
        return cls(folder, vectors, hashes, meta, n_encoded=n_new, n_reused=len(texts) - len(missing))


def _plan(hashes: np.ndarray, old: EmbeddingStore | None) -> tuple[np.ndarray, np.ndarray, dict[bytes, int]]:
    """Each item's row in ``old`` (or -1), the items without one, and each new distinct text's first item."""
    cached: dict[bytes, int] = {} if old is None else {h: i for i, h in enumerate(old.hashes.tolist())}
    keys = hashes.tolist()
    rows = np.array([cached.get(h, -1) for h in keys], dtype=np.int64)
    missing = np.flatnonzero(rows < 0)
    todo: dict[bytes, int] = {}
    for i in missing.tolist():
        todo.setdefault(keys[i], i)
    return rows, missing, todo
