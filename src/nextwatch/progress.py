"""Progress bars for long work (rich), one place to configure them.

Bars draw on stderr and only when it is a terminal, unless ``NEXTWATCH_PROGRESS=1`` forces them on
(``0`` forces them off), so logs and tests stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def enabled() -> bool:
    flag = os.environ.get("NEXTWATCH_PROGRESS")
    if flag is not None:
        return flag not in ("0", "", "false", "no")
    return sys.stderr.isatty()


def make_progress(*extra_columns: TextColumn) -> Progress:
    """A rich Progress drawing on stderr; disabled (no output) when :func:`enabled` is false."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=Console(stderr=True),
        disable=not enabled(),
        transient=False,
    )


def track(items: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    with make_progress() as progress:
        yield from progress.track(items, total=total, description=description)
