"""Notifications on their way to one subscriber, so that a broadcast never waits on a
slow peer.

Theory of operation. Every subscriber (a legacy connection that subscribed or gets
list changes, a 2026-07-28 ``subscriptions/listen`` stream) has one ``Outbox``. A
broadcast only ``post``s into each outbox and returns; one task per outbox, started
when something is waiting and ending when nothing is, writes the notifications in
the order they were first posted. One slow subscriber therefore holds up only its own
outbox, never the other subscribers nor the handler that notified.

Policy when a subscriber lags (written down because it decides what a slow client
sees). The notifications that go through an outbox (``notifications/*/list_changed``,
``notifications/resources/updated``) say only "look again"; so a notification that
is already waiting in the outbox (same method, same URI) is not queued a second time:
however far behind a subscriber is, it gets each change once when it catches up, and
the outbox holds at most one entry per list and per subscribed URI. Beyond ``limit``
distinct entries (a client subscribed to very many resources that all change while
it does not read) further ones are dropped and a WARNING says so, once per outbox.
When sending fails (the client is gone) the outbox closes and drops what it holds.

Invariants: ``_pumping`` is true exactly while the pump task exists; the pump ends
only when ``_pending`` is empty or the outbox is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from fastmcp_core import Peer
from fastmcp_protocol import McpError, RequestId

__all__ = ["Outbox"]

logger = logging.getLogger("fastmcp")

Spawn = Callable[[Callable[[], Awaitable[None]]], None]


@attrs.define(eq=False, repr=False)
class Outbox:
    """The notifications waiting for one subscriber (see the module docstring)."""

    session: Peer
    """The subscriber's session (or a one-shot exchange's peer)."""
    spawn: Spawn
    """Starts the pump task (the server's nursery: the pump never outlives serving)."""
    related: RequestId | None = None
    """The request the notifications belong to (a ``subscriptions/listen``), if any."""
    limit: int = 1024
    _pending: dict[tuple[str, str | None], Any] = attrs.field(init=False, factory=dict)
    _pumping: bool = attrs.field(init=False, default=False)
    _closed: bool = attrs.field(init=False, default=False)
    _warned: bool = attrs.field(init=False, default=False)

    def post(self, method: str, params: Any, uri: str | None = None) -> None:
        """Queue a notification (at once, never waiting); one already waiting with the
        same method and ``uri`` stands for this one too."""
        if self._closed:
            return
        key = (method, uri)
        if key in self._pending:
            return
        if len(self._pending) >= self.limit:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "a subscriber is not reading its notifications: %d are waiting; "
                    "further ones are dropped",
                    len(self._pending),
                )
            return
        self._pending[key] = params
        if not self._pumping:
            self._pumping = True
            self.spawn(self._pump)

    def close(self) -> None:
        """Drop what waits; later posts are ignored."""
        self._closed = True
        self._pending.clear()

    async def _pump(self) -> None:
        try:
            while self._pending and not self._closed:
                key = next(iter(self._pending))
                params = self._pending.pop(key)
                try:
                    await self.session.notify(key[0], params, related=self.related)
                except McpError:  # the subscriber is gone: its connection is closing
                    self.close()
        finally:
            self._pumping = False
