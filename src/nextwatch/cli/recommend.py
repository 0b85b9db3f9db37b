"""``nextwatch recommend`` (one-shot, from likes and/or a viewing history) and ``nextwatch session``
(the interactive loop of rounds in the terminal)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()


def _open(model_dir: Path, store: str | None):
    from nextwatch.recommend.recommender import Recommender

    return Recommender.open(model_dir, store=store)


def _table(recs: list, title: str) -> Table:
    t = Table(title=title, show_lines=False)
    t.add_column("#", justify="right")
    t.add_column("title")
    t.add_column("year", justify="right")
    t.add_column("genres")
    t.add_column("why", style="dim")
    for n, r in enumerate(recs, 1):
        t.add_row(
            str(n), r.title, "" if r.year is None else str(r.year), ", ".join(r.genres[:3]), r.reason or ""
        )
    return t


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--like",
    "likes",
    multiple=True,
    metavar="TITLE",
    help='A movie you like, as the source writes it ("Lion King, The (1994)") or as you type it '
    '("the lion king 1994"). Repeatable.',
)
@click.option(
    "--history",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A Netflix viewing-activity export (NetflixViewingHistory.csv): its titles become likes.",
)
@click.option("-k", "k", default=5, show_default=True, help="How many movies.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def recommend(model_dir: Path, likes: tuple[str, ...], history: Path | None, k: int, as_json: bool) -> None:
    """What to watch next, for someone who likes the given movies (nothing is stored)."""
    with tempfile.TemporaryDirectory(prefix="nextwatch-") as tmp:  # one-shot: nothing is kept
        rec = _open(model_dir, str(Path(tmp) / "profiles.sqlite3"))
        _recommend(rec, likes, history, k, as_json)
        rec.store.close()


def _recommend(rec, likes: tuple[str, ...], history: Path | None, k: int, as_json: bool) -> None:
    from nextwatch.recommend.history import match_history

    liked = [rec.find_title(t).item_id for t in likes]
    report = None
    if history is not None:
        report = match_history(rec, history)
        liked += [r.item_id for _t, r in report.matched if r.item_id not in liked]
    recs = rec.recommend_for(liked, [], k)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in recs], ensure_ascii=False, indent=2))
        return
    if report is not None:
        console.print(
            f"history: {report.n_rows} rows, {len(report.matched)} titles matched, "
            f"{len(report.unmatched)} not in the catalogue"
        )
    console.print(_table(recs, "what to watch next"))


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--profile", default="terminal", show_default=True, help="Profile to continue.")
@click.option(
    "--store",
    default=None,
    help="Profile store: a SQLite path or SQLAlchemy URL (default MODEL_DIR/profiles.sqlite3).",
)
@click.option("-k", "k", default=5, show_default=True, help="Movies per round.")
def session(model_dir: Path, profile: str, store: str | None, k: int) -> None:
    """Rounds in the terminal: 5 movies, tick the ones you like by number, next round.

    Type numbers separated by spaces ("1 4"), Enter for none of these, "g" for your top genres,
    "q" to quit. The profile is stored and continues next time.
    """
    rec = _open(model_dir, store)
    s = rec.session(profile)
    while True:
        recs = s.next(k)
        if not recs:
            console.print("you have seen every movie in the catalogue")
            return
        console.print(_table(recs, f"round {s.rounds + 1}"))
        for n, r in enumerate(recs, 1):
            if r.description:
                console.print(f"[bold]{n}.[/] {r.description}", highlight=False)
        answer = (
            click.prompt(
                "like which? (numbers, Enter = none, g = genres, q = quit)", default="", show_default=False
            )
            .strip()
            .lower()
        )
        if answer == "q":
            return
        if answer == "g":
            for g, c in s.top_genres():
                console.print(f"  {g}: {c}")
            continue
        picks = []
        for tok in answer.replace(",", " ").split():
            if not tok.isdigit() or not 1 <= int(tok) <= len(recs):
                raise click.BadParameter(f"{tok!r} is not a number from 1 to {len(recs)}")
            picks.append(recs[int(tok) - 1].item_id)
        s.feedback(liked=picks, shown=[r.item_id for r in recs])


def register(main: click.Group) -> None:
    main.add_command(recommend)
    main.add_command(session)
