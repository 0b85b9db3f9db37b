"""Content side: Sentence-BERT embeddings of item descriptions, their cache, a neighbour index and
the taste vector (the mean of a person's liked embeddings, the seed's equation 1).

Heavy libraries (sentence-transformers, torch, faiss) are imported only when used.
"""

from nextwatch.content.config import DEFAULT_MODEL, ContentConfig
from nextwatch.content.encoder import Encoder, SentenceTransformerEncoder, l2_normalize
from nextwatch.content.index import ExactIndex, FaissHNSWIndex, NeighbourIndex, SearchResult
from nextwatch.content.model import ContentModel, index_for, make_index
from nextwatch.content.store import EmbeddingStore
from nextwatch.content.taste import TasteVector
from nextwatch.content.text import item_text, item_texts

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
