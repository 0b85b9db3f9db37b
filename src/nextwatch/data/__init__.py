"""Data layer: canonical schema, the Parquet dataset store, source loaders and catalogue linking.

Nothing here imports torch: models and content read what this layer writes.
"""

from nextwatch.data.dataset import Dataset, Interactions
from nextwatch.data.store import load_dataset, read_manifest, write_dataset

__all__ = ["Dataset", "Interactions", "load_dataset", "read_manifest", "write_dataset"]
