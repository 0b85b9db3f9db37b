"""Content side: Sentence-BERT embeddings of item descriptions, their cache, a neighbour index and
the taste vector (the mean of a person's liked embeddings, the seed's equation 1).

The names below are imported lazily (on first use), so that importing one submodule, e.g. the
config for the CLI's options, does not pull in polars, faiss or sentence-transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DEFAULT_MODEL": "config",
    "ContentConfig": "config",
    "Encoder": "encoder",
    "SentenceTransformerEncoder": "encoder",
    "l2_normalize": "encoder",
    "ExactIndex": "index",
    "FaissHNSWIndex": "index",
    "NeighbourIndex": "index",
    "SearchResult": "index",
    "ContentModel": "model",
    "index_for": "model",
    "make_index": "model",
    "EmbeddingStore": "store",
    "TasteVector": "taste",
    "item_text": "text",
    "item_texts": "text",
}

__all__ = [
    "DEFAULT_MODEL",
    "ContentConfig",
    "ContentModel",
    "EmbeddingStore",
    "Encoder",
    "ExactIndex",
    "FaissHNSWIndex",
    "NeighbourIndex",
    "SearchResult",
    "SentenceTransformerEncoder",
    "TasteVector",
    "index_for",
    "item_text",
    "item_texts",
    "l2_normalize",
    "make_index",
]

if TYPE_CHECKING:
    from nextwatch.content.config import DEFAULT_MODEL, ContentConfig
    from nextwatch.content.encoder import Encoder, SentenceTransformerEncoder, l2_normalize
    from nextwatch.content.index import ExactIndex, FaissHNSWIndex, NeighbourIndex, SearchResult
    from nextwatch.content.model import ContentModel, index_for, make_index
    from nextwatch.content.store import EmbeddingStore
    from nextwatch.content.taste import TasteVector
    from nextwatch.content.text import item_text, item_texts


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nextwatch.content' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nextwatch.content.{module}"), name)
    globals()[name] = value
    return value
