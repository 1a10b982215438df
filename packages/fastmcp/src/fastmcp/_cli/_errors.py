"""The one error a command reports: a message for the user, and the exit status."""

from __future__ import annotations

from fastmcp_protocol import LocalError

__all__ = ["CliError", "leaf"]


class CliError(LocalError):
    """A mistake or failure the user can act on: printed as one line on stderr, then
    the command exits with ``status`` (never a traceback)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def leaf(exc: BaseException) -> BaseException:
    """The one error an exception group (nested, of one each) stands for; ``exc``
    itself otherwise."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
