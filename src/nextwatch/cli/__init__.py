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

from nextwatch import __version__
from nextwatch.errors import NextwatchError

err_console = Console(stderr=True)


class NextwatchGroup(click.Group):
    """A click group that turns NextwatchError into a clean message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NextwatchError as e:
            err_console.print(f"[bold red]error:[/] {e.message}", markup=True, highlight=False, soft_wrap=True)
            if e.hint:
                err_console.print(f"  [dim]hint:[/] {e.hint}", highlight=False, soft_wrap=True)
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
    from nextwatch.cli import content as content_cmds
    from nextwatch.cli import data as data_cmds
    from nextwatch.cli import demo as demo_cmds
    from nextwatch.cli import serve as serve_cmds

    data_cmds.register(main)
    demo_cmds.register(main)
    content_cmds.register(main)
    serve_cmds.register(main)
    __import__("nextwatch.cli.generate", fromlist=["register"]).register(main)
    __import__("nextwatch.cli.train", fromlist=["register"]).register(main)
    __import__("nextwatch.cli.evaluate", fromlist=["register"]).register(main)


_register()

__all__ = ["main"]
