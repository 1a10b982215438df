"""Following an event log, for any store: read what is there, wait for a wake, again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastmcp_core.store._base import EventLogs, LogEvent, Watch

__all__ = ["follow_log"]


@asynccontextmanager
async def follow_log(
    logs: EventLogs,
    watch: Callable[[str], AbstractAsyncContextManager[Watch]],
    log: str,
    after: int,
) -> AsyncIterator[AsyncIterator[LogEvent]]:
    """``EventLogs.follow`` from ``read`` and a watch on the log (registered before the
    first read, so that nothing appended meanwhile waits for the next wake)."""
    async with watch(log) as woken:

        async def events() -> AsyncIterator[LogEvent]:
            last = after
            while True:
                batch = await logs.read(log, last)
                for event in batch:
                    last = event.id
                    yield event
                if not batch:
                    await woken.wait()

        iterator = events()
        try:
            yield iterator
        finally:
            await iterator.aclose()  # type: ignore[attr-defined]
