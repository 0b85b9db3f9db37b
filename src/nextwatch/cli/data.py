"""Data commands: ingest, dataset info, generate (synthetic Netflix Prize layout)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from nextwatch.data.sources import FORMATS

console = Console()


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Dataset folder to write.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Source format; detected from the files by default.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest counts as JSON.")
def ingest(paths: tuple[Path, ...], out: Path, fmt: str, as_json: bool) -> None:
    """Ingest rating and catalogue sources into a dataset folder.

    PATHS are folders holding a source's files, or single files (e.g. netflix_titles.csv). At most
    one ratings source; the others are description catalogues linked onto its movies by title and
    year. A failed ingest leaves an existing --out untouched.
    """
    from nextwatch.data.ingest import ingest as run_ingest

    manifest = run_ingest(list(paths), out, fmt=fmt)
    if as_json:
        keys = ("n_users", "n_items", "n_interactions", "n_items_with_description", "fingerprint", "format")
        click.echo(json.dumps({k: manifest[k] for k in keys} | {"linking": manifest.get("linking", [])}))
        return
    console.print(
        f"[bold green]wrote[/] {out}  ({manifest['format']}, fingerprint {manifest['fingerprint']})"
    )
    console.print(
        f"  {manifest['n_users']:,} users, {manifest['n_items']:,} items, "
        f"{manifest['n_interactions']:,} interactions; "
        f"{manifest['n_items_with_description']:,} items with a description"
    )
    for link in manifest.get("linking", []):
        console.print(
            f"  linked {link['catalogue']}: {link['n_matched']:,} of {link['n_items']:,} items "
            f"({100 * link['match_rate']:.1f}%)"
        )


@click.group()
def dataset() -> None:
    """Inspect a dataset folder."""


@dataset.command("info")
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def dataset_info(dataset_dir: Path, as_json: bool) -> None:
    """Counts, rating histogram, sparsity and top genres of DATASET_DIR."""
    from nextwatch.data.summary import summarize

    info = summarize(dataset_dir)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    console.print(f"[bold]{dataset_dir}[/]  format {info['format']}, fingerprint {info['fingerprint']}")
    console.print(
        f"  {info['n_users']:,} users, {info['n_items']:,} items, {info['n_interactions']:,} interactions, "
        f"density {100 * info['density']:.4f}% (sparsity {100 * (1 - info['density']):.4f}%)"
    )
    console.print(f"  items with a description: {info['n_items_with_description']:,}")
    if info["rating_histogram"]:
        t = Table(title="ratings")
        t.add_column("rating", justify="right")
        t.add_column("count", justify="right")
        t.add_column("share", justify="right")
        total = max(1, sum(c for _, c in info["rating_histogram"]))
        for r, c in info["rating_histogram"]:
            t.add_row(f"{r:g}", f"{c:,}", f"{100 * c / total:.1f}%")
        console.print(t)
    if info["top_genres"]:
        t = Table(title="top genres")
        t.add_column("genre")
        t.add_column("items", justify="right")
        for g, c in info["top_genres"]:
            t.add_row(g, f"{c:,}")
        console.print(t)


def register(main: click.Group) -> None:
    main.add_command(ingest)
    main.add_command(dataset)
