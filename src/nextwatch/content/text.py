"""The text each item is embedded from, and its hash (the embedding cache's key).

An item with a description reads ``"The Lion King. Animation, Children's. A young lion prince..."``:
title in display form, genres, description. An item without one falls back to what is known:
``"The Lion King (1994). Animation, Children's."``. The SHA-256 of this text decides whether a cached
vector can be reused, so changing the recipe (or an item's description) re-encodes exactly the items
whose text changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import polars as pl

from nextwatch.data.titles import display_title

#: Bumped when the text recipe changes (informational: the per-item hashes already catch any change).
TEXT_VERSION = 1

_WS = re.compile(r"\s+")


def _clean(text: str | None) -> str:
    return "" if text is None else _WS.sub(" ", text).strip()


def _sentence(text: str) -> str:
    """``text`` ending in sentence punctuation, so that the parts read as separate sentences."""
    return text if not text or text[-1] in ".!?…\"'”" else text + "."


def item_text(
    title: str | None,
    year: int | None,
    genres: Sequence[str] | None,
    description: str | None,
) -> str:
    """The text embedded for one item: title, genres and description (title, year, genres without one)."""
    name = display_title(_clean(title))
    genre_part = ", ".join(g for g in (_clean(g) for g in (genres or [])) if g)
    desc = _clean(description)
    if desc:
        parts = [_sentence(name), _sentence(genre_part), desc]
    else:
        head = f"{name} ({year})" if year is not None else name
        parts = [_sentence(head), _sentence(genre_part)]
    return " ".join(p for p in parts if p)


def item_texts(items: pl.DataFrame) -> list[str]:
    """:func:`item_text` for every row of a canonical items table, in ``item_idx`` order."""
    cols = items.select("title", "year", "genres", "description")
    return [
        item_text(t, y, g, d)
        for t, y, g, d in zip(
            cols["title"].to_list(),
            cols["year"].to_list(),
            cols["genres"].to_list(),
            cols["description"].to_list(),
            strict=True,
        )
    ]


def text_hash(text: str) -> str:
    """Hex SHA-256 of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
