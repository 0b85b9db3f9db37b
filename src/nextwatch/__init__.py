"""nextwatch: what should I watch next?

A hybrid movie recommender: Neural Collaborative Filtering (NeuMF) trained on ratings, fused with
Sentence-BERT similarity over movie descriptions.

Data flows one way: sources -> dataset store -> models and content -> recommend -> web and cli.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nextwatch")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
