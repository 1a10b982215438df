"""One POST, one transport: modern requests and legacy POSTs without a session.

Theory of operation. ``RequestTransport`` serves the messages of a single POST to a
``ConnectionHandler``. ``receive`` yields the POST's frames, then waits; it raises
``TransportClosed`` once every request of the POST has had its final message (so
the session engine ends), or at once after ``aclose``. ``send`` puts a message on the
POST's answer; ``final`` with ``related=<one of the POST's request ids>`` marks that
request's response (an empty frame: the request was cancelled and gets none).

When the client disconnects before the answer is complete, every unanswered request
is cancelled: ``receive`` yields a synthesized ``notifications/cancelled`` for each
(the engine cancels the handler, which observes ``trio.Cancelled``), and ``send``
raises ``TransportClosed`` from then on. The 2026-07-28 specification makes closing
the response stream the cancellation signal; for a legacy POST without a session
nobody else could receive the answer either.

``Answer`` writes what the transport sends as the HTTP response. The choice between
JSON and SSE is made when the first message arrives: a final response that is the
whole answer goes out as ``application/json`` (one round trip, nothing to parse), and
anything sent before the response (progress, log messages, a subscription's
acknowledgment) switches to ``text/event-stream``, which then carries everything up
to the final response. A client that accepts only JSON gets JSON (notifications
before the response are dropped, with a debug log); one that accepts only SSE gets
SSE. SSE answers get a comment as keep-alive after ``keepalive`` seconds of silence
(long-lived ``subscriptions/listen`` streams above all).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence

import attrs
import trio

from fastmcp_core import TransportClosed
from fastmcp_protocol import (
    INTERNAL_ERROR,
    CancelledNotificationParams,
    RequestId,
    encode_notification,
)
from fastmcp_transport._sse import encode_event
from fastmcp_transport.http_server._http import SSE_HEADERS, Responder, error_body
from fastmcp_transport.http_server._modern import FrameHead, peek_frame
from fastmcp_transport.http_server._sse_writer import KEEPALIVE

__all__ = ["Answer", "AnswerMode", "RequestTransport"]

logger = logging.getLogger("fastmcp.http")

DISCONNECT_REASON = "the client closed the response stream"


@attrs.define(eq=False, slots=True)
class Outgoing:
    """A message on its way to the HTTP response."""

    frame: bytes
    final: bool
    head: FrameHead | None = None
    """The decoded head of a final response (for its status)."""
    related: RequestId | None = None


@attrs.define(eq=False)
class RequestTransport:
    """The transport of one POST (see the module docstring)."""

    _frames: deque[bytes]
    _waiting: set[RequestId]
    _outbox: trio.MemorySendChannel[Outgoing]
    _changed: trio.Event = attrs.field(init=False, factory=trio.Event)
    _closed: str | None = attrs.field(init=False, default=None)
    _disconnected: bool = attrs.field(init=False, default=False)
    _finals_in_flight: int = attrs.field(init=False, default=0)

    @classmethod
    def open(
        cls, frames: Iterable[bytes], request_ids: Iterable[RequestId]
    ) -> tuple[RequestTransport, trio.MemoryReceiveChannel[Outgoing]]:
        """A transport for these frames, and the channel its answer comes out of."""
        # No buffer: a slow client slows the handler down (backpressure).
        send, receive = trio.open_memory_channel[Outgoing](0)
        transport = cls(deque(frames), set(request_ids), send)
        if not transport._waiting:
            send.close()  # notifications only: nothing will be answered
        return transport, receive

    async def receive(self) -> bytes:
        while True:
            if self._frames:
                return self._frames.popleft()
            if self._closed is not None:
                raise TransportClosed(self._closed)
            if not self._waiting and not self._finals_in_flight:
                # only once the answer is out: an engine that cancels its handlers at
                # the end of input must not cancel the write of the last response
                raise TransportClosed("the request was answered")
            self._changed = trio.Event()
            await self._changed.wait()

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        if self._closed is not None:
            raise TransportClosed(self._closed)
        head: FrameHead | None = None
        if final and related is not None and related in self._waiting:
            head = peek_frame(frame) if frame else FrameHead()
            if head.is_notification_or_request:
                head = None  # the end of an outgoing request of ours, not an answer
            else:
                self._waiting.discard(related)
        if self._disconnected:
            if head is not None:
                self._changed.set()
            if frame:  # the end of a cancelled request (no frame) is fine
                raise TransportClosed(DISCONNECT_REASON)
            return
        if not frame and head is None:
            return
        if head is not None:
            self._finals_in_flight += 1
        try:
            await self._outbox.send(Outgoing(frame, head is not None, head, related))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise TransportClosed(self._closed or DISCONNECT_REASON) from None
        finally:
            if head is not None:
                self._finals_in_flight -= 1
                self._changed.set()
        if head is not None and not self._waiting and not self._finals_in_flight:
            self._outbox.close()

    def client_disconnected(self) -> None:
        """The client went away: cancel every unanswered request (once)."""
        if self._disconnected or self._closed is not None:
            return
        self._disconnected = True
        for rid in sorted(self._waiting, key=str):
            params = CancelledNotificationParams(request_id=rid, reason=DISCONNECT_REASON)
            self._frames.append(encode_notification("notifications/cancelled", params))
        self._changed.set()

    async def aclose(self) -> None:
        self.close("the transport was closed")

    def close(self, reason: str) -> None:
        """Close without waiting: ``receive`` and ``send`` raise ``TransportClosed``."""
        if self._closed is None:
            self._closed = reason
            self._frames.clear()
            self._changed.set()
            self._outbox.close()


class AnswerMode(enum.Enum):
    """How a POST may be answered."""

    AUTO = "auto"  # JSON if the response comes first, else SSE
    JSON = "json"  # JSON only; notifications are dropped
    SSE = "sse"  # SSE only


@attrs.define(eq=False)
class Answer:
    """Writes one POST's answer from the messages its transport sends."""

    responder: Responder
    request_ids: Sequence[RequestId]
    """The requests of the POST: one final response each completes the answer."""
    mode: AnswerMode
    status_of: Callable[[FrameHead], int]
    """The status of a JSON answer carrying one response."""
    keepalive: float | None = 15.0
    headers: Sequence[tuple[bytes, bytes]] = ()
    _finals: list[Outgoing] = attrs.field(init=False, factory=list)
    _streaming: bool = attrs.field(init=False, default=False)

    async def write(self, outbox: trio.MemoryReceiveChannel[Outgoing]) -> None:
        """Write the answer; returns when it is complete or the client went away.

        When the outbox closes before every response came (the handler ended
        without answering), the client gets a JSON-RPC internal error: as a 500
        JSON response if nothing was written yet, else as an event for each
        unanswered request before the stream ends.
        """
        while True:
            try:
                if self._streaming and self.keepalive is not None:
                    with trio.move_on_after(self.keepalive) as idle:
                        item = await outbox.receive()
                    if idle.cancelled_caught:
                        await self.responder.body(KEEPALIVE, more=True)
                        continue
                else:
                    item = await outbox.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                break
            if await self._take(item):
                return
            if self.responder.gone:
                return
        await self._incomplete()

    async def _take(self, item: Outgoing) -> bool:
        """Handle one message; ``True`` once the answer is complete."""
        if item.final:
            self._finals.append(item)
        complete = len(self._finals) >= len(self.request_ids)
        if not self._streaming:
            if item.final and self.mode is not AnswerMode.SSE:
                if complete:
                    await self._json()
                return complete
            if not item.final and self.mode is AnswerMode.JSON:
                logger.debug("dropped a message before the response: the client takes JSON only")
                return False
            self._streaming = True
            await self.responder.start(200, (*SSE_HEADERS, *self.headers))
            # responses collected before the switch (a batch) go out first
            for earlier in self._finals[:-1] if item.final else self._finals:
                await self._event(earlier.frame)
        await self._event(item.frame)
        if complete:
            await self.responder.end()
        return complete

    async def _event(self, frame: bytes) -> None:
        if frame:
            await self.responder.body(encode_event(frame, event="message"), more=True)

    async def _json(self) -> None:
        frames = [f.frame for f in self._finals if f.frame]
        if not frames:
            # every request was cancelled: there is nothing to say
            await self.responder.respond(204, headers=self.headers)
        elif len(self.request_ids) == 1:
            head = self._finals[0].head
            status = self.status_of(head) if head is not None else 200
            await self.responder.json(status, frames[0], self.headers)
        else:
            await self.responder.json(200, b"[" + b",".join(frames) + b"]", self.headers)

    async def _incomplete(self) -> None:
        """The handler ended without answering every request: say so (once the
        client is gone there is nobody to tell)."""
        if self.responder.gone:
            return
        if not self._streaming:
            rid = self.request_ids[0] if len(self.request_ids) == 1 else None
            body = error_body(INTERNAL_ERROR, "Internal error", rid)
            await self.responder.json(500, body, self.headers)
            return
        answered = {item.related for item in self._finals}
        for rid in self.request_ids:
            if rid not in answered:
                await self._event(error_body(INTERNAL_ERROR, "Internal error", rid))
        await self.responder.end()
