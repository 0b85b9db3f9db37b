"""Content commands: ``embed`` (cache the item embeddings and index), ``similar`` (movies nearest a
title) and ``search`` (semantic search of the catalogue with free text)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from nextwatch.content.config import DEFAULT_MODEL, INDEX_KINDS

console = Console()

_dataset_arg = click.argument("dataset_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))


def _model_options(f: Any) -> Any:
    f = click.option(
        "--model",
        default=DEFAULT_MODEL,
        show_default=True,
        help="Sentence-transformers model: the installed default or a model folder (never downloaded).",
    )(f)
    f = click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present).")(f)
    f = click.option(
        "--batch-size", type=click.IntRange(1), default=None, help="Sentences per forward pass (64)."
    )(f)
    f = click.option(
        "--index",
        "index_kind",
        type=click.Choice(INDEX_KINDS),
        default="auto",
        show_default=True,
        help="Neighbour index: exact scan, FAISS HNSW, or auto (exact below 50,000 items).",
    )(f)
    return f


def _config(model: str, device: str | None, batch_size: int | None, index_kind: str):
    from nextwatch.content.config import ContentConfig

    return ContentConfig().replace(model=model, device=device, batch_size=batch_size, index=index_kind)


def _load(dataset_dir: Path, model: str, device: str | None, batch_size: int | None, index_kind: str):
    from nextwatch.content.model import ContentModel
    from nextwatch.data.store import load_dataset

    dataset = load_dataset(dataset_dir, interactions=False)
    config = _config(model, device, batch_size, index_kind)
    return dataset, ContentModel.load_or_build(dataset, config)


def _print_results(records: list[dict[str, Any]], title: str, as_json: bool) -> None:
    if as_json:
        keys = ("item_id", "title", "year", "genres", "kind", "score")
        click.echo(json.dumps([{k: r[k] for k in keys} for r in records], ensure_ascii=False, indent=2))
        return
    t = Table(title=title)
    t.add_column("#", justify="right")
    t.add_column("score", justify="right")
    t.add_column("title")
    t.add_column("year", justify="right")
    t.add_column("genres")
    for n, r in enumerate(records, 1):
        year = "" if r["year"] is None else str(r["year"])
        t.add_row(str(n), f"{r['score']:.3f}", r["title"], year, ", ".join(r["genres"][:3]))
    console.print(t)


@click.command()
@_dataset_arg
@_model_options
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def embed(
    dataset_dir: Path, model: str, device: str | None, batch_size: int | None, index_kind: str, as_json: bool
) -> None:
    """Embed every item of DATASET_DIR with Sentence-BERT and build its neighbour index.

    Vectors are cached in DATASET_DIR/embeddings/<model>/ by the hash of each item's text (title, genres,
    description), so a re-run encodes only items whose text changed.
    """
    from nextwatch.content.model import index_for
    from nextwatch.content.store import EmbeddingStore
    from nextwatch.data.store import load_dataset

    t0 = time.perf_counter()
    dataset = load_dataset(dataset_dir, interactions=False)
    config = _config(model, device, batch_size, index_kind)
    store = EmbeddingStore.load_or_build(dataset, config=config)
    t1 = time.perf_counter()
    index = index_for(store, config)
    t2 = time.perf_counter()
    info = {
        "path": str(store.path),
        "model": store.model,
        "dim": store.dim,
        "n_items": store.n_items,
        "n_encoded": store.n_encoded,
        "n_reused": store.n_reused,
        "embed_seconds": round(t1 - t0, 3),
        "index": index.params(),
        "index_seconds": round(t2 - t1, 3),
        "dataset_fingerprint": store.fingerprint,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    console.print(
        f"[bold green]embedded[/] {store.n_items:,} items with {store.model} ({store.dim}-d): "
        f"{store.n_encoded:,} encoded, {store.n_reused:,} from the cache, {t1 - t0:.1f} s"
    )
    console.print(f"  {store.path}")
    console.print(f"  index: {index.kind} ({t2 - t1:.2f} s)")


@click.command()
@_dataset_arg
@click.argument("title")
@click.option("-k", "k", type=click.IntRange(1), default=10, show_default=True, help="How many movies.")
@_model_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON list (item_id, title, year, genres, score)."
)
def similar(
    dataset_dir: Path,
    title: str,
    k: int,
    model: str,
    device: str | None,
    batch_size: int | None,
    index_kind: str,
    as_json: bool,
) -> None:
    """The K movies whose descriptions are nearest to TITLE's (never TITLE itself).

    TITLE as the source writes it ("Lion King, The (1994)") or as you type it ("the lion king 1994").
    """
    from nextwatch.data.titles import TitleIndex

    dataset, cm = _load(dataset_dir, model, device, batch_size, index_kind)
    titles = TitleIndex(dataset.items)
    item = titles.find(title)
    # the same film listed twice (same title and year) is "the title itself" too
    row = dataset.items.row(item, named=True)
    same = dataset.items.filter(
        (dataset.items["title"] == row["title"]) & (dataset.items["year"].eq_missing(row["year"]))
    )["item_idx"].to_list()
    res = cm.similar_items(item, k, exclude=same)
    _print_results(cm.describe(res), f"nearest to {titles.label(item)}", as_json)


@click.command()
@_dataset_arg
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1), default=10, show_default=True, help="How many movies.")
@_model_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON list (item_id, title, year, genres, score)."
)
def search(
    dataset_dir: Path,
    query: str,
    k: int,
    model: str,
    device: str | None,
    batch_size: int | None,
    index_kind: str,
    as_json: bool,
) -> None:
    """Semantic search of DATASET_DIR's descriptions with free text, e.g. "a heist in a casino"."""
    _, cm = _load(dataset_dir, model, device, batch_size, index_kind)
    res = cm.search_text(query, k)
    _print_results(cm.describe(res), f"best matches for {query!r}", as_json)


def register(main: click.Group) -> None:
    main.add_command(embed)
    main.add_command(similar)
    main.add_command(search)
