"""One live SSE response: a queue that producers push events into, and its pump.

Theory of operation. A logical stream (a session's standalone stream, one POST's
stream, a 2024-11-05 connection) outlives the HTTP responses that carry it: a client
may reconnect, and the server may close a connection on purpose ("SSE polling").
``SSEConnection`` is one such response. Producers ``push`` encoded events; the task
that owns the response runs ``pump``, which writes everything queued in one ASGI
message, writes a comment as keep-alive after ``keepalive`` seconds of silence, and
ends the response when told to (``end``), when the client goes away
(``client_gone``), or after ``poll_after`` seconds (writing a ``retry`` hint first, so
the client reconnects with ``Last-Event-ID``).

Backpressure: ``push`` waits while more than ``high_water`` bytes are queued, so a
slow client slows the handlers writing to it instead of growing memory. Once the
connection is closed, ``push`` returns ``False`` at once and the caller keeps the
event elsewhere (the event store) or drops it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import attrs
import trio

from fastmcp_transport.http_server._http import Responder

__all__ = ["KEEPALIVE", "SSEConnection", "priming_event", "retry_event"]

WATCH_AFTER = 0.05
"""Seconds a response waits before ``pump`` starts its ``watch``."""

KEEPALIVE = b": keep-alive\n\n"
"""An SSE comment: keeps intermediaries and idle timeouts from closing a quiet stream."""


def priming_event(event_id: str, retry_ms: int | None) -> bytes:
    """An event with an id, an optional ``retry`` and empty data.

    It gives the client an id to resume from before any message flows; the empty
    ``data:`` line makes parsers dispatch it (clients ignore its empty data).
    """
    retry = b"retry: %d\n" % retry_ms if retry_ms is not None else b""
    return b"id: " + event_id.encode() + b"\n" + retry + b"data: \n\n"


def retry_event(retry_ms: int) -> bytes:
    """Only a ``retry`` field: how long the client waits before it reconnects."""
    return b"retry: %d\n\n" % retry_ms


@attrs.define(eq=False)
class SSEConnection:
    """One HTTP response carrying an SSE stream (see the module docstring)."""

    responder: Responder
    keepalive: float | None = 15.0
    poll_after: float | None = None
    retry_ms: int | None = None
    high_water: int = 4 * 1024 * 1024
    polled: bool = attrs.field(init=False, default=False)
    """Whether the server ended the response early (the stream goes on)."""
    _chunks: list[bytes] = attrs.field(init=False, factory=list)
    _queued: int = attrs.field(init=False, default=0)
    _wake: trio.Event = attrs.field(init=False, factory=trio.Event)
    _drained: trio.Event = attrs.field(init=False, factory=trio.Event)
    _ending: bool = attrs.field(init=False, default=False)
    _closed: bool = attrs.field(init=False, default=False)
    _poll_at: float = attrs.field(init=False, default=math.inf)

    @property
    def open(self) -> bool:
        """Whether pushed events will still be written."""
        return not (self._ending or self._closed)

    def push_nowait(self, chunk: bytes) -> bool:
        """Queue ``chunk`` without waiting for room (replays and priming events)."""
        if not self.open:
            return False
        self._chunks.append(chunk)
        self._queued += len(chunk)
        self._wake.set()
        return True

    async def push(self, chunk: bytes) -> bool:
        """Queue ``chunk``; wait while the client is behind. ``False``: not queued."""
        if not self.push_nowait(chunk):
            return False
        while self._queued > self.high_water and not self._closed:
            await self._drained.wait()
        return True

    def end(self, last: bytes = b"") -> None:
        """End the response once everything queued (and ``last``) is written."""
        if last:
            self.push_nowait(last)
        self._ending = True
        self._wake.set()

    def close_early(self) -> None:
        """End the response before the stream ends: the client should reconnect."""
        if self.open:
            self.polled = True
            self.end(retry_event(self.retry_ms) if self.retry_ms is not None else b"")

    def client_gone(self) -> None:
        """The client disconnected: stop writing (queued events are dropped)."""
        self._closed = True
        self._chunks.clear()
        self._queued = 0
        self._wake.set()
        self._drained.set()

    async def pump(self, watch: Callable[[], Awaitable[None]] | None = None) -> None:
        """Write queued events until the response ends; then end it.

        Runs in the task that owns the response. Cancelling it stops writing at once
        (the response is left for the ASGI boundary to end). ``watch`` (waiting for
        the client to disconnect, say) runs beside the pump, but only once the
        response has waited ``WATCH_AFTER`` seconds: most responses end sooner, and
        a task less is a good part of their cost.
        """
        self._poll_at = (
            trio.current_time() + self.poll_after if self.poll_after is not None else math.inf
        )
        try:
            if watch is None:
                await self._pump(math.inf)
            elif not await self._pump(trio.current_time() + WATCH_AFTER):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch)
                    await self._pump(math.inf)
                    nursery.cancel_scope.cancel()
        finally:
            self._closed = True
            self._drained.set()
        await self.responder.end()

    async def _pump(self, until: float) -> bool:
        """Write until the response ends (``True``) or until ``until`` (``False``)."""
        responder = self.responder
        keepalive = self.keepalive if self.keepalive is not None else math.inf
        while not self._closed:
            if self._chunks:
                data = b"".join(self._chunks)
                self._chunks.clear()
                self._queued = 0
                self._drained.set()
                self._drained = trio.Event()
                # the last events end the response in the same write
                await responder.body(data, more=not self._ending)
                if responder.gone:
                    self.client_gone()
                continue
            if self._ending:
                return True
            self._wake = trio.Event()
            with trio.move_on_at(min(self._poll_at, trio.current_time() + keepalive, until)):
                await self._wake.wait()
            if self._wake.is_set():
                continue
            now = trio.current_time()
            if now >= self._poll_at:
                self.close_early()
            elif now >= until:
                return False
            else:
                self.push_nowait(KEEPALIVE)
        return True
