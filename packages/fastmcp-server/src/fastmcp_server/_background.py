"""Where a running server starts the work that outlives one request: task runs,
outbox pumps, subscription watchers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from fastmcp_protocol import INTERNAL_ERROR, McpError

__all__ = ["Background"]


@attrs.define(eq=False, repr=False)
class Background:
    """The server's nursery while it runs (``Server.running`` sets and clears it)."""

    nursery: trio.Nursery | None = None

    @property
    def running(self) -> bool:
        return self.nursery is not None

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start ``fn(*args)`` in the server's nursery; ``McpError`` (-32603) when the
        server is not running."""
        if self.nursery is None:
            raise McpError(INTERNAL_ERROR, "the server is not running")
        self.nursery.start_soon(fn, *args)
