"""Link a description catalogue (netflix_titles.csv, TMDB) onto a ratings source's items.

Ratings (MovieLens, Netflix Prize) and catalogues share no key, so the seed joined them by exact
title and matched 510 of 4,808 titles. Here an item without a description takes one from the
catalogue, in this order:

1. **id**: the same ``tmdb_id`` (then ``imdb_id``) on both sides;
2. **title+year**: a shared normalised title key (:func:`nextwatch.data.titles.title_keys`, so
   ``"Matrix, The"`` meets ``"The Matrix"`` and MovieLens alternates count) and the same year;
3. **title+year±1**: the same, a year apart (release vs. festival year), only for *distinctive*
   titles (see :func:`distinctive`) so that ``"Heat"`` 1986 does not take ``"Heat"`` 1987's text,
   and not between a film and a TV show;
4. **title (no year)**: a year is unknown on one side; only when the key names exactly one item and
   one catalogue row, is distinctive, and the kinds do not conflict.

Among an item's candidates the best method wins, then main-title over alternate-title keys, then a
matching kind (``"movie"`` when the item's kind is unknown). A catalogue row serves several items
only when they are the same title and year (duplicate entries in the ratings source). Everything is
polars joins over (item, key) and (row, key) tables: 17,770 x 8,807 links in well under a second.
"""

from __future__ import annotations

import logging
from typing import Any

import polars as pl

from nextwatch.data.dataset import conform_items
from nextwatch.data.titles import ARTICLES, strip_leading_article, title_keys

log = logging.getLogger(__name__)

#: Method names, best first, as they appear in the report's ``by_method``.
METHODS = ("id", "title+year", "title+year±1", "title (no year)")

#: Number of unmatched titles listed in the report.
N_SAMPLE_UNMATCHED = 12


def distinctive(key: str) -> bool:
    """Whether a normalised title is specific enough to match across a year gap or a missing year.

    One-word titles (``"heat"``, ``"the gift"``, ``"crash"``) are reused by many films, so they
    match only with the same year. A distinctive key has at least two words besides articles and at
    least 6 characters (``"blue ruin"``, ``"taken 3"``).
    """
    words = [w for w in key.split() if w not in ARTICLES]
    return len(words) >= 2 and len(key) >= 6


def _distinctive_expr(key: pl.Expr) -> pl.Expr:
    """:func:`distinctive` as a polars expression (same rule, vectorised)."""
    n_words = key.str.split(" ").list.eval(~pl.element().is_in(list(ARTICLES))).list.sum()
    return (n_words >= 2) & (key.str.len_chars() >= 6)


def _keys_frame(frame: pl.DataFrame, row_col: str, prefix: str) -> pl.DataFrame:
    """One row per (row, key): ``row_col``, key, ``{prefix}alt``, ``{prefix}main`` (the main key).

    ``{prefix}alt`` is 0 for the main title, 1 for an alternate, 2 for the main title without its
    leading article.
    """
    titles = frame["title"].fill_null("").unique().to_list()
    flat_title: list[str] = []
    flat_key: list[str] = []
    flat_alt: list[int] = []
    flat_main: list[str] = []
    for t in titles:
        keys = title_keys(t)
        ranks = [0] + [1] * (len(keys) - 1)
        if keys:
            # "The Troll Hunter" also meets "Troll Hunter" (rank 2: only for distinctive titles)
            loose = strip_leading_article(keys[0])
            if loose != keys[0] and loose not in keys:
                keys.append(loose)
                ranks.append(2)
        for k, r in zip(keys, ranks, strict=True):
            flat_title.append(t)
            flat_key.append(k)
            flat_alt.append(r)
            flat_main.append(keys[0])
    lookup = pl.DataFrame(
        {
            "title": pl.Series(flat_title, dtype=pl.String),
            "key": pl.Series(flat_key, dtype=pl.String),
            f"{prefix}alt": pl.Series(flat_alt, dtype=pl.Int8),
            f"{prefix}main": pl.Series(flat_main, dtype=pl.String),
        }
    )
    return (
        frame.select(row_col, pl.col("title").fill_null(""))
        .join(lookup, on="title", how="inner")
        .drop("title")
    )


def _empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"item_idx": pl.Int32, "_c": pl.UInt32, "method": pl.Int8, "_alt": pl.Int8, "_kind": pl.Int8}
    )


def _id_pairs(need: pl.DataFrame, cat: pl.DataFrame) -> pl.DataFrame:
    """(item, catalogue row) pairs sharing a tmdb_id, else an imdb_id."""
    found = _empty_pairs()
    for col in ("tmdb_id", "imdb_id"):
        left = need.filter(pl.col(col).is_not_null() & ~pl.col("item_idx").is_in(found["item_idx"].implode()))
        right = cat.filter(pl.col(col).is_not_null()).unique(col, keep="first", maintain_order=True)
        pairs = (
            left.select("item_idx", col)
            .join(right.select("_c", col), on=col, how="inner")
            .select(
                "item_idx",
                "_c",
                pl.lit(0, pl.Int8).alias("method"),
                pl.lit(0, pl.Int8).alias("_alt"),
                pl.lit(0, pl.Int8).alias("_kind"),
            )
        )
        found = pl.concat([found, pairs])
    return found


def _title_pairs(items: pl.DataFrame, need: pl.DataFrame, cat: pl.DataFrame) -> pl.DataFrame:
    """Candidate (item, catalogue row) pairs by title key and year, each with its method and ranks."""
    item_keys = _keys_frame(items, "item_idx", "i_")
    cat_keys = _keys_frame(cat, "_c", "c_")
    # how many items / catalogue rows carry each key (for the unknown-year rule)
    n_items = item_keys.group_by("key").agg(pl.col("item_idx").n_unique().alias("n_i"))
    n_cat = cat_keys.group_by("key").agg(pl.col("_c").n_unique().alias("n_c"))
    distinct = (
        pl.concat([item_keys.select("key"), cat_keys.select("key")])
        .unique()
        .with_columns(_distinctive_expr(pl.col("key")).alias("_distinct"))
    )

    left = item_keys.join(
        need.select("item_idx", pl.col("year").alias("i_year"), pl.col("kind").alias("i_kind")),
        on="item_idx",
        how="inner",
    )
    right = cat_keys.join(
        cat.select("_c", pl.col("year").alias("c_year"), pl.col("kind").alias("c_kind")), on="_c", how="inner"
    )
    dy = (pl.col("i_year").cast(pl.Int32) - pl.col("c_year").cast(pl.Int32)).abs()
    loose = (pl.col("i_alt") == 2) | (pl.col("c_alt") == 2)
    # a film and a TV show of one name a year apart are usually different works
    kind_conflict = (
        pl.col("i_kind").is_not_null()
        & pl.col("c_kind").is_not_null()
        & (pl.col("i_kind") != pl.col("c_kind"))
    )
    method = (
        pl.when(loose & ~pl.col("_distinct"))
        .then(pl.lit(None, pl.Int8))
        .when(dy == 0)
        .then(pl.lit(1, pl.Int8))
        .when(kind_conflict)
        .then(pl.lit(None, pl.Int8))
        .when((dy == 1) & pl.col("_distinct"))
        .then(pl.lit(2, pl.Int8))
        .when(
            dy.is_null()
            & (pl.col("n_i") == 1)
            & (pl.col("n_c") == 1)
            & pl.col("_distinct")
            & (pl.col("i_alt") == 0)
            & (pl.col("c_alt") == 0)
        )
        .then(pl.lit(3, pl.Int8))
        .otherwise(None)
    )
    kind_match = (
        pl.when(pl.col("i_kind").is_null())
        .then(pl.col("c_kind").fill_null("movie") == "movie")
        .otherwise(pl.col("i_kind") == pl.col("c_kind").fill_null(pl.col("i_kind")))
    )
    return (
        left.join(right, on="key", how="inner")
        .join(n_items, on="key", how="left")
        .join(n_cat, on="key", how="left")
        .join(distinct, on="key", how="left")
        .with_columns(method.alias("method"))
        .drop_nulls("method")
        .select(
            "item_idx",
            "_c",
            "method",
            (pl.col("i_alt") + pl.col("c_alt")).cast(pl.Int8).alias("_alt"),
            (~kind_match).cast(pl.Int8).alias("_kind"),
            pl.col("i_main").alias("_main"),
            pl.col("i_year").alias("_year"),
        )
    )


def _assign(pairs: pl.DataFrame) -> pl.DataFrame:
    """Pick each item's best candidate; a catalogue row serves several items only if same title/year.

    Items that lose their row to a better-matching item try their next candidate (a few rounds).
    """
    rank = ["method", "_alt", "_kind", "_c"]
    chosen: list[pl.DataFrame] = []
    pool = pairs
    for _ in range(4):
        if pool.height == 0:
            break
        best = pool.sort([*rank, "item_idx"]).group_by("item_idx", maintain_order=True).first()
        # per catalogue row: the winning item's (method, alt, kind) and its title/year
        win = best.sort(["method", "_alt", "_kind", "item_idx"]).group_by("_c", maintain_order=True).first()
        win = win.select(
            "_c", *[pl.col(c).alias(f"w{c}") for c in ("method", "_alt", "_kind", "_main", "_year")]
        )
        best = best.join(win, on="_c", how="left")
        same = (
            (pl.col("method") == pl.col("wmethod"))
            & (pl.col("_alt") == pl.col("w_alt"))
            & (pl.col("_kind") == pl.col("w_kind"))
            & (pl.col("_main") == pl.col("w_main"))
            & (pl.col("_year").eq_missing(pl.col("w_year")))
        )
        kept = best.filter(same).select(pairs.columns)
        chosen.append(kept)
        pool = pool.filter(
            ~pl.col("item_idx").is_in(kept["item_idx"].implode()) & ~pl.col("_c").is_in(kept["_c"].implode())
        )
    return pl.concat(chosen) if chosen else pairs.head(0)


def link_catalogue(
    items: pl.DataFrame, catalogue: pl.DataFrame, *, name: str
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Fill descriptions of ``items`` from ``catalogue``; return the new items and a report.

    Only items without a description are touched. A match sets ``description`` and
    ``description_source`` (the catalogue's own, else ``"{name}:{item_id}"``), and fills ``genres``
    (when the item has none), ``kind``, ``tmdb_id`` and ``imdb_id`` (when null). Only catalogue rows
    with a non-empty description are used.

    The report holds ``catalogue`` (``name``), ``n_items``, ``n_catalogue``, ``n_needing`` (items
    that had no description), ``n_matched``, ``match_rate`` (matched / items), ``by_method``
    (counts per :data:`METHODS`), ``baseline_exact_title`` (items whose raw title equals a catalogue
    title exactly: the seed's method) and ``sample_unmatched`` (a few titles left without a description).
    """
    items = conform_items(items)
    catalogue = conform_items(catalogue)
    has_desc = pl.col("description").is_not_null() & (pl.col("description").str.strip_chars() != "")
    cat = catalogue.filter(has_desc).with_row_index("_c")
    need = items.filter(~has_desc)

    id_pairs = _id_pairs(need, cat)
    used_c = id_pairs["_c"].unique()
    rest = need.filter(~pl.col("item_idx").is_in(id_pairs["item_idx"].implode()))
    title_pairs = _title_pairs(items, rest, cat.filter(~pl.col("_c").is_in(used_c.implode())))
    title_chosen = _assign(title_pairs).select(id_pairs.columns)
    chosen = pl.concat([id_pairs.unique("item_idx", keep="first", maintain_order=True), title_chosen])

    src = cat.select(
        "_c",
        pl.col("description").alias("c_description"),
        pl.coalesce(pl.col("description_source"), pl.lit(f"{name}:") + pl.col("item_id")).alias("c_source"),
        pl.col("genres").alias("c_genres"),
        pl.col("kind").alias("c_kind"),
        pl.col("tmdb_id").alias("c_tmdb_id"),
        pl.col("imdb_id").alias("c_imdb_id"),
    )
    fill = chosen.select("item_idx", "_c").join(src, on="_c", how="left").drop("_c")
    out = items.join(fill, on="item_idx", how="left", maintain_order="left")
    matched = pl.col("c_description").is_not_null()
    no_genres = pl.col("genres").is_null() | (pl.col("genres").list.len() == 0)
    out = out.with_columns(
        pl.when(matched).then(pl.col("c_description")).otherwise(pl.col("description")).alias("description"),
        pl.when(matched)
        .then(pl.col("c_source"))
        .otherwise(pl.col("description_source"))
        .alias("description_source"),
        pl.when(matched & no_genres).then(pl.col("c_genres")).otherwise(pl.col("genres")).alias("genres"),
        pl.coalesce(pl.col("kind"), pl.col("c_kind")).alias("kind"),
        pl.coalesce(pl.col("tmdb_id"), pl.col("c_tmdb_id")).alias("tmdb_id"),
        pl.coalesce(pl.col("imdb_id"), pl.col("c_imdb_id")).alias("imdb_id"),
    ).select(items.columns)

    counts = dict(chosen.group_by("method").len().iter_rows())
    unmatched = need.filter(~pl.col("item_idx").is_in(chosen["item_idx"].implode()))
    sample = unmatched.sort("item_idx").head(N_SAMPLE_UNMATCHED) if unmatched.height else unmatched
    raw_titles = catalogue["title"].drop_nulls().unique().implode()
    report: dict[str, Any] = {
        "catalogue": name,
        "n_items": items.height,
        "n_catalogue": catalogue.height,
        "n_needing": need.height,
        "n_matched": chosen.height,
        "match_rate": round(chosen.height / items.height, 4) if items.height else 0.0,
        "by_method": {m: int(counts.get(i, 0)) for i, m in enumerate(METHODS)},
        "baseline_exact_title": int(items["title"].is_in(raw_titles).sum()),
        "sample_unmatched": [
            t if y is None else f"{t} ({y})" for t, y in sample.select("title", "year").iter_rows()
        ],
    }
    log.debug("linked %s: %s", name, {k: v for k, v in report.items() if k != "sample_unmatched"})
    return out, report
