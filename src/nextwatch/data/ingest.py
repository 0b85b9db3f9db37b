"""``nextwatch ingest``: sources -> one canonical dataset folder.

At most one *ratings* source (MovieLens, Netflix Prize) gives users, items and interactions; every
other source is a *catalogue* (netflix_titles.csv, TMDB) whose descriptions are linked onto the
ratings' items by id where both carry one, else by normalised title and year (see
:mod:`nextwatch.data.linking`). With catalogues only, the first one is the item table.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from nextwatch.data.dataset import Interactions, users_frame
from nextwatch.data.linking import link_catalogue
from nextwatch.data.sources import load_source
from nextwatch.data.sources.base import SourceData
from nextwatch.data.store import source_record, write_dataset
from nextwatch.errors import InputError

log = logging.getLogger(__name__)


def ingest(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    fmt: str = "auto",
) -> dict[str, Any]:
    """Load every path, link catalogues onto the ratings' items, write the dataset; return its manifest."""
    if not paths:
        raise InputError("give at least one source file or folder")
    loaded: list[SourceData] = [load_source(p, fmt) for p in paths]
    ratings = [s for s in loaded if s.has_ratings]
    if len(ratings) > 1:
        raise InputError(
            "more than one ratings source given ("
            + ", ".join(s.format for s in ratings)
            + "); ingest one ratings source per dataset, with any number of description catalogues"
        )
    base = ratings[0] if ratings else loaded[0]
    catalogues = [s for s in loaded if s is not base]
    items = base.items
    links: list[dict[str, Any]] = []
    for cat in catalogues:
        items, report = link_catalogue(items, cat.items, name=cat.format)
        links.append(report)
        log.info(
            "linked %s: %d of %d items matched (%.1f%%)",
            cat.format,
            report["n_matched"],
            report["n_items"],
            100 * report["match_rate"],
        )
    interactions = base.interactions if base.interactions is not None else Interactions.empty()
    users = base.users if base.users is not None else users_frame([])
    files = [f for s in loaded for f in s.files]
    fmt_name = "+".join(s.format for s in [base, *catalogues])
    return write_dataset(
        out,
        interactions,
        items,
        users,
        source_format=fmt_name,
        sources=[source_record(f) for f in files],
        rating_scale=base.rating_scale,
        extra={"linking": links, "source_variant": base.variant},
    )
