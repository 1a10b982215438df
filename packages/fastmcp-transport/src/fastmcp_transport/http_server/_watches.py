"""The helpers of the responses that last, started only once they do.

Theory of operation. Most requests are answered within a millisecond or two. Their
helpers - a task watching the client for a disconnect, the timers that write SSE
keep-alive comments or end a response for polling - would cost a quick response more
than its answer (a task, a nursery, a cancel scope per timer). So a response hands
its helper to ``Watches.during`` together with the work it does meanwhile: the helper
is queued (no task, no scope) and forgotten when the work ends; one task per app,
``run``, sleeps until the oldest entry is ``after`` seconds old and starts, in its
nursery, the helpers of the responses still going, each in a cancel scope that the
end of its response cancels; it wakes at most once per ``after`` (a helper may thus
start up to twice ``after`` late). Every entry waits the same ``after``, so the
queue is in deadline order (a FIFO, no heap); ended entries are dropped as the task
meets them.

When ``run`` is not running (an app mounted in another ASGI app and never run), a
response runs its helper at once beside its work, in a nursery of its own: slower,
the same behaviour.

Invariants: a helper runs at most once, and never after its response ended; an
entry is in the queue until its deadline has passed (an ended one holds nothing but
its due time: not the response it was for); ``run``'s nursery holds only
helpers whose response is still going (the end of a response cancels its helper).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

__all__ = ["WATCH_AFTER", "Watches"]

logger = logging.getLogger("fastmcp.http")

T = TypeVar("T")

WATCH_AFTER = 0.05
"""Seconds a response runs before its helper starts."""

Helper = Callable[[], Awaitable[object]]


class _Entry:
    __slots__ = ("due", "helper", "scope")

    def __init__(self, helper: Helper, due: float) -> None:
        self.helper: Helper | None = helper
        self.due = due
        self.scope: trio.CancelScope | None = None

    @property
    def ended(self) -> bool:
        return self.helper is None

    async def run(self) -> None:
        helper = self.helper
        if helper is None:
            return
        self.scope = scope = trio.CancelScope()
        try:
            with scope:
                await helper()
        except Exception:  # one response's helper must not take the others down
            logger.exception("the helper of a response failed")

    def end(self) -> None:
        # the helper goes at once: it holds the response (and so the request) that
        # the entry would otherwise keep alive until its due time
        self.helper = None
        if self.scope is not None:
            self.scope.cancel()


class Watches:
    """Starts the helpers of responses that last (see the module docstring)."""

    def __init__(self, after: float = WATCH_AFTER) -> None:
        self.after = after
        self._queue: deque[_Entry] = deque()
        self._nursery: trio.Nursery | None = None
        self._idle: trio.Event | None = None
        """Set by the first entry while ``run`` waits for one."""

    @property
    def running(self) -> bool:
        return self._nursery is not None

    async def during(self, helper: Helper, work: Callable[[], Awaitable[T]]) -> T:
        """``await work()``, with ``helper`` running beside it once it has taken
        ``after`` seconds (at once when ``run`` is not running). The helper is
        cancelled when the work ends; an exception out of it is logged (out of the
        nursery of ``run``) or raised beside the work's (without ``run``)."""
        if self._nursery is None:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(helper)
                try:
                    return await work()
                finally:
                    nursery.cancel_scope.cancel()
        entry = _Entry(helper, trio.current_time() + self.after)
        self._queue.append(entry)
        if self._idle is not None:
            self._idle.set()
        try:
            return await work()
        finally:
            entry.end()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start helpers as they come due, until cancelled (which cancels them)."""
        queue = self._queue
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                woke = -math.inf
                while True:
                    if not queue:
                        self._idle = idle = trio.Event()
                        await idle.wait()
                        self._idle = None
                        continue
                    # at most one wake-up per ``after``: entries come about as fast
                    # as requests, most of them ended long before their due time
                    await trio.sleep_until(max(queue[0].due, woke + self.after))
                    woke = now = trio.current_time()
                    while queue and queue[0].due <= now:
                        entry = queue.popleft()
                        if not entry.ended:
                            nursery.start_soon(entry.run)
        finally:
            self._nursery = None
            self._idle = None
            queue.clear()
