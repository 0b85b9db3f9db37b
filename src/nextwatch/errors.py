"""User-facing errors.

Everything a person can cause (a bad file, an unknown title, a missing model) raises a subclass of
:class:`NextwatchError`. The CLI prints its message without a traceback and exits non-zero; the web
app turns it into a 4xx page or JSON body. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from os import PathLike


class NextwatchError(Exception):
    """An error caused by input or environment, with a message meant for a person."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InputError(NextwatchError):
    """A problem in an input file, located by file and (where known) line number (1-based)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}, line {line}"
            where += ": "
        super().__init__(where + message, hint=hint)
        self.detail = message


class NotFoundError(NextwatchError):
    """A named thing (title, user, model folder, dataset) does not exist."""


class MissingDependencyError(NextwatchError):
    """An optional package or model file that a feature needs is not installed."""
