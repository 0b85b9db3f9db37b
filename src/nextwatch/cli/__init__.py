"""The ``nextwatch`` command line: ingest, dataset, train, evaluate, embed, similar, search, recommend,
session, serve, demo.

User errors (:class:`nextwatch.errors.NextwatchError`) print as one clear message, no traceback,
and exit with status 2.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

from nextwatch import __version__
from nextwatch.errors import NextwatchError

err_console = Console(stderr=True)


class NextwatchGroup(click.Group):
    """A click group that turns NextwatchError into a clean message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NextwatchError as e:
            # user text is printed as Text, never parsed as rich markup ("[...]" in a title stays as is)
            err_console.print(Text.assemble(("error: ", "bold red"), e.message), soft_wrap=True)
            if e.hint:
                err_console.print(Text.assemble(("  hint: ", "dim"), e.hint), soft_wrap=True)
            sys.exit(2)


@click.group(cls=NextwatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nextwatch")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """nextwatch: what should I watch next?

    A hybrid recommender fusing Neural Collaborative Filtering with Sentence-BERT content similarity.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
        force=True,
    )


def _register() -> None:
    """Add every command group's commands (each module keeps its heavy imports inside its commands)."""
    import importlib

    for name in ("data", "generate", "train", "evaluate", "content", "recommend", "serve", "demo"):
        importlib.import_module(f"nextwatch.cli.{name}").register(main)


_register()

__all__ = ["main"]
