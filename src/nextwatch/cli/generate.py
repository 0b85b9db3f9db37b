"""``nextwatch generate``: synthetic data in a real source's layout (for benchmarks and tests at scale)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.console import Console

from nextwatch.errors import NextwatchError

console = Console()


@click.group()
def generate() -> None:
    """Write synthetic data in a real source's file layout."""


@generate.command("netflix")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--ratings", "n_ratings", type=int, default=10_000_000, show_default=True, help="Number of ratings."
)
@click.option("--users", "n_users", type=int, default=480_189, show_default=True, help="Number of customers.")
@click.option("--items", "n_items", type=int, default=17_770, show_default=True, help="Number of movies.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same files).")
@click.option(
    "--layout",
    type=click.Choice(["combined", "per-movie"]),
    default="combined",
    show_default=True,
    help="combined_data_N.txt (Kaggle) or training_set/mv_NNNNNNN.txt (the original download).",
)
@click.option(
    "--files", "n_files", type=int, default=4, show_default=True, help="combined_data files to write."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def generate_netflix(
    out_dir: Path,
    n_ratings: int,
    n_users: int,
    n_items: int,
    seed: int,
    layout: str,
    n_files: int,
    as_json: bool,
) -> None:
    """Write Netflix Prize look-alike ratings and movie_titles.csv to OUT_DIR.

    Power-law user activity and movie popularity, the Prize's rating distribution, dates 1999-2005;
    deterministic for a seed, written in bounded memory (100M ratings work).
    """
    from nextwatch.data.synthetic import SyntheticConfig, generate_netflix

    try:
        cfg = SyntheticConfig(
            n_ratings=n_ratings, n_users=n_users, n_items=n_items, seed=seed, layout=layout, n_files=n_files
        )
    except ValueError as e:
        raise NextwatchError(str(e)) from e
    start = time.perf_counter()
    summary = generate_netflix(out_dir, cfg)
    seconds = time.perf_counter() - start
    if as_json:
        click.echo(json.dumps(summary | {"seconds": round(seconds, 2)}))
        return
    console.print(
        f"[bold green]wrote[/] {summary['n_ratings']:,} ratings ({n_users:,} users, {n_items:,} movies, "
        f"{layout} layout) to {out_dir} in {seconds:.1f}s"
    )


def register(main: click.Group) -> None:
    main.add_command(generate)
