"""One live SSE response: a queue that producers push events into, and its pump.

Theory of operation. A logical stream (a session's standalone stream, one POST's
stream, a 2024-11-05 connection) outlives the HTTP responses that carry it: a client
may reconnect, and the server may close a connection on purpose ("SSE polling").
``SSEConnection`` is one such response. Producers ``push`` encoded events; the task
that owns the response runs ``pump``, which writes everything queued in one ASGI
message, and ends the response when told to (``end``), when the client goes away
(``client_gone``), or after ``poll_after`` seconds (writing a ``retry`` hint first, so
the client reconnects with ``Last-Event-ID``). A comment goes out as keep-alive after
``keepalive`` seconds of silence. The timers (keep-alive, polling) and the ``watch``
for the client's disconnect run in a helper that starts only once the response has
lasted ``WATCH_AFTER`` seconds (``Watches``): the pump itself only waits for events.

An ``inline`` connection has no pump: its events come from the task that owns the
response (a request served in the task of its POST), so each is written as it is
pushed, under a lock shared with the keep-alive; the last ones (``push(last=True)``)
wait and go out with the end of the response in one write (``run_inline``).

Backpressure: ``push`` waits while more than ``high_water`` bytes are queued, so a
slow client slows the handlers writing to it instead of growing memory. Once the
connection is closed, ``push`` returns ``False`` at once and the caller keeps the
event elsewhere (the event store) or drops it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from functools import partial

import attrs
import trio

from fastmcp_transport.http_server._http import Responder
from fastmcp_transport.http_server._watches import Watches

__all__ = ["KEEPALIVE", "SSEConnection", "priming_event", "retry_event"]

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
    inline: bool = False
    """Written by the producer's task (see the module docstring): no pump."""
    polled: bool = attrs.field(init=False, default=False)
    """Whether the server ended the response early (the stream goes on)."""
    _chunks: list[bytes] = attrs.field(init=False, factory=list)
    _queued: int = attrs.field(init=False, default=0)
    _wake: trio.Event = attrs.field(init=False, factory=trio.Event)
    _drained: trio.Event = attrs.field(init=False, factory=trio.Event)
    _ending: bool = attrs.field(init=False, default=False)
    _closed: bool = attrs.field(init=False, default=False)
    _poll_at: float = attrs.field(init=False, default=math.inf)
    _quiet_since: float = attrs.field(init=False, default=0.0)
    """When the pump last wrote (the keep-alive counts the silence from there)."""
    _writing: trio.Lock | None = attrs.field(init=False, default=None)
    """Serialises the writes of an inline connection (made when first needed)."""

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

    async def push(self, chunk: bytes, *, last: bool = False) -> bool:
        """Queue ``chunk``; wait while the client is behind. ``False``: not queued.

        An inline connection writes it at once, unless it is ``last`` (the end of
        the response follows: both go out in one write)."""
        if self.inline and not last:
            if not self.open:
                return False
            await self._write_now(chunk)
            return not self._closed
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

    async def run_inline(
        self,
        work: Callable[[], Awaitable[object]],
        watch: Callable[[], Awaitable[None]] | None = None,
        watches: Watches | None = None,
    ) -> None:
        """Run ``work`` (which pushes this inline connection's events), then end the
        response with what is left. ``watch`` and the keep-alive run beside it once
        it has lasted ``watches.after`` seconds, as for ``pump``."""
        self._quiet_since = trio.current_time()
        try:
            await (watches or _NOT_RUNNING).during(partial(self._helper, watch), work)
            await self._finish_inline()
        finally:
            self._closed = True
            self._drained.set()
        await self.responder.end()

    async def _write_now(self, chunk: bytes) -> None:
        lock = self._writing
        if lock is None:
            lock = self._writing = trio.Lock()
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            if self._closed:
                return
            if self._chunks:  # queued before (a replay): first
                chunk = b"".join((*self._chunks, chunk))
                self._chunks.clear()
                self._queued = 0
            await self.responder.body(chunk, more=True)
            if self.responder.gone:
                self.client_gone()
            self._quiet_since = trio.current_time()
        finally:
            lock.release()

    async def _finish_inline(self) -> None:
        lock = self._writing
        if lock is not None:
            await lock.acquire()  # a keep-alive being written goes out first
        self._ending = True
        if not self._closed:
            data = b"".join(self._chunks)
            self._chunks.clear()
            self._queued = 0
            await self.responder.body(data, more=False)

    async def pump(
        self,
        watch: Callable[[], Awaitable[None]] | None = None,
        watches: Watches | None = None,
    ) -> None:
        """Write queued events until the response ends; then end it.

        Runs in the task that owns the response. Cancelling it stops writing at once
        (the response is left for the ASGI boundary to end). ``watch`` (waiting for
        the client to disconnect, say) and the timers run beside the pump once the
        response has lasted ``watches.after`` seconds (most end sooner, and a task is
        a good part of their cost); at once without ``watches``.
        """
        now = trio.current_time()
        self._quiet_since = now
        if self.poll_after is not None:
            self._poll_at = now + self.poll_after
        try:
            helper = partial(self._helper, watch)
            await (watches or _NOT_RUNNING).during(helper, self._pump)
        finally:
            self._closed = True
            self._drained.set()
        await self.responder.end()

    async def _pump(self) -> None:
        """Write until the response ends."""
        responder = self.responder
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
                self._quiet_since = trio.current_time()
                continue
            if self._ending:
                return
            self._wake = trio.Event()
            await self._wake.wait()

    async def _helper(self, watch: Callable[[], Awaitable[None]] | None) -> None:
        """The watch, and the timers: keep-alive comments and the end for polling."""
        async with trio.open_nursery() as nursery:
            if watch is not None:
                nursery.start_soon(watch)
            keepalive = self.keepalive if self.keepalive is not None else math.inf
            while self.open:
                due = min(self._poll_at, self._quiet_since + keepalive)
                if due == math.inf:
                    break
                await trio.sleep_until(due)
                now = trio.current_time()
                if now >= self._poll_at:
                    self.close_early()
                elif now >= self._quiet_since + keepalive:
                    if self.inline:
                        await self._write_now(KEEPALIVE)
                    elif not self._chunks:  # else the pump is writing: not silent
                        self.push_nowait(KEEPALIVE)
                    self._quiet_since = now


_NOT_RUNNING = Watches()
"""For a pump without an app's ``Watches``: its helper starts at once."""
