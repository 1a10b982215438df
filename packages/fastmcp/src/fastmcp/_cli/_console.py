"""The console: everything the command tells a person goes to stderr.

stdout is for what a command produces (a tool's result, a listing, a report) and,
while serving stdio, for MCP messages only. Colour is used when stderr is a
terminal and ``NO_COLOR`` is not set.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

import attrs

__all__ = ["Console", "ProgressBar", "configure_logging"]

LEVELS = ("debug", "info", "warning", "error", "critical")


def _wants_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


@attrs.define
class Console:
    """Lines for a person, on ``stream`` (stderr)."""

    stream: TextIO = attrs.field(factory=lambda: sys.stderr)
    colour: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.colour = _wants_colour(self.stream)

    @property
    def is_terminal(self) -> bool:
        return self.stream.isatty()

    def style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def print(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def error(self, message: str) -> None:
        """The one line a failed command prints."""
        self.print(f"{self.style('fastmcp: error:', '1;31')} {message}")

    def warning(self, message: str) -> None:
        self.print(f"{self.style('fastmcp: warning:', '33')} {message}")

    def banner(self, title: str, rows: list[tuple[str, str]]) -> None:
        """The start-up banner (only on a terminal: logs stay clean)."""
        if not self.is_terminal:
            return
        width = max((len(key) for key, _ in rows), default=0)
        self.print(self.style(f"╭─ {title}", "1;36"))
        for key, value in rows:
            self.print(f"{self.style('│', '36')} {key.ljust(width)}  {value}")
        self.print(self.style("╰─ Ctrl-C to stop", "36"))


@attrs.define
class ProgressBar:
    """Progress notifications drawn on stderr: a bar redrawn in place on a terminal,
    one line per update otherwise."""

    console: Console
    width: int = 30
    _drawn: bool = attrs.field(init=False, default=False)
    _last: float = attrs.field(init=False, default=0.0)

    def update(self, progress: float, total: float | None, message: str | None) -> None:
        if not self.console.is_terminal:
            amount = f"{progress:g}/{total:g}" if total else f"{progress:g}"
            self.console.print(f"progress {amount}" + (f" {message}" if message else ""))
            return
        now = time.monotonic()
        if self._drawn and now - self._last < 0.05 and (total is None or progress < total):
            return  # a terminal need not be redrawn faster than the eye
        self._last = now
        self.console.stream.write("\r\x1b[2K" + self.render(progress, total, message))
        self.console.stream.flush()
        self._drawn = True

    def render(self, progress: float, total: float | None, message: str | None) -> str:
        if total:
            fraction = min(max(progress / total, 0.0), 1.0)
            filled = round(fraction * self.width)
            bar = "█" * filled + "░" * (self.width - filled)
            text = f"{bar} {fraction * 100:3.0f}% ({progress:g}/{total:g})"
        else:
            text = f"{progress:g} done"
        return text + (f" {message}" if message else "")

    def close(self) -> None:
        """End the bar's line (before anything else is printed)."""
        if self._drawn:
            self.console.stream.write("\n")
            self.console.stream.flush()
            self._drawn = False


def configure_logging(level: str) -> None:
    """Log lines on stderr at ``level`` and above: ``12:00:00 INFO name: message``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # hypercorn's own error log says what it does at info; keep it at warning unless debugging
    if level != "debug":
        logging.getLogger("hypercorn.error").setLevel(logging.WARNING)
        handler.addFilter(_not_reported_twice)


def _not_reported_twice(record: logging.LogRecord) -> bool:
    """The client logs an in-process server's crash with its traceback; the command
    reports it as its one error line already."""
    return not (record.name == "fastmcp.client" and str(record.msg).startswith("the in-process"))
