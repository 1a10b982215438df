"""One POST, one transport: modern requests and legacy POSTs without a session.

Theory of operation. ``RequestTransport`` carries the messages of a single POST, as
the app decoded them, to whoever serves them, and writes what comes back as the
POST's answer (``Answer``) in the task that sends it: no outbox, no writer task.

It is served one of two ways. A server that offers an ``ExchangeHandler`` gets a
lone request (or notification) with the transport as its ``Reply``: the engine runs
the handler in the POST's own task (``fastmcp_core.Exchanges``) - no session, no
task, nothing decoded twice. Any other ``ConnectionHandler`` (a batch, a POSTed
response, a handler of one's own) gets the transport itself and runs a session on it
in the POST's task: ``receive`` yields the POST's frames (``receive_message`` the
decoded messages, for an attached engine), then waits; it raises ``TransportClosed``
once every request of the POST has had its final message (so the engine ends), or at
once after ``aclose``. ``send`` puts a message on the POST's answer; ``final`` with
``related=<one of the POST's request ids>`` marks that request's response (an empty
frame: the request was cancelled and gets none). The engine says what each frame is
(``send_described``); a frame sent without a description is read for it.

When the client disconnects before the answer is complete, every unanswered request
is cancelled: the transport tells the attached engine that their peer is gone
(``Inbound.peer_gone``: the handler observes ``trio.Cancelled``, no answer is
written), and ``send`` raises ``TransportClosed`` from then on; a handler that did not
attach an engine sees the transport close. The 2026-07-28 specification makes closing
the response stream the cancellation signal; for a legacy POST without a session
nobody else could receive the answer either.

``Answer`` writes what the transport is sent as the HTTP response. The choice between
JSON and SSE is made when the first message arrives: a final response that is the
whole answer goes out as ``application/json`` (one round trip, nothing to parse), and
anything sent before the response (progress, log messages, a subscription's
acknowledgment) switches to ``text/event-stream``, which then carries everything up
to the final response. A client that accepts only JSON gets JSON (notifications
before the response are dropped, with a debug log); one that accepts only SSE gets
SSE. Writes are serialised by a lock (taken without a scheduling round when free).
The helper of a POST that lasts (``watch``, started by ``Watches``) watches the
client for a disconnect and writes a keep-alive comment into an SSE answer after
``keepalive`` seconds of silence (long-lived ``subscriptions/listen`` streams above
all).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

import trio

from fastmcp_core import Inbound, IncomingMessage, MessageKind, Outgoing, TransportClosed
from fastmcp_protocol import (
    INTERNAL_ERROR,
    Error,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    RequestId,
    UnsetType,
)
from fastmcp_transport._http_common import HttpConnectionInfo
from fastmcp_transport._sse import encode_event
from fastmcp_transport.http_server._http import (
    SSE_HEADERS,
    Receive,
    Responder,
    error_body,
    watch_disconnect,
)
from fastmcp_transport.http_server._modern import peek_frame
from fastmcp_transport.http_server._sse_writer import KEEPALIVE

__all__ = ["Answer", "AnswerMode", "ExchangeHandler", "RequestTransport"]

logger = logging.getLogger("fastmcp.http")

DISCONNECT_REASON = "the client closed the response stream"

ExchangeHandler = Callable[
    [JSONRPCRequest | JSONRPCNotification, "RequestTransport", HttpConnectionInfo],
    Awaitable[None],
]
"""Serves the lone message of a POST in the POST's task, answering through the
transport (a ``fastmcp_core.Reply``): a server's ``Exchanges``."""


class AnswerMode(enum.Enum):
    """How a POST may be answered."""

    AUTO = "auto"  # JSON if the response comes first, else SSE
    JSON = "json"  # JSON only; notifications are dropped
    SSE = "sse"  # SSE only


class Answer:
    """Writes one POST's answer from the messages its transport is sent."""

    __slots__ = (
        "_complete",
        "_finals",
        "_lock",
        "_quiet_since",
        "_streaming",
        "headers",
        "keepalive",
        "mode",
        "request_ids",
        "responder",
        "status_of",
    )

    def __init__(
        self,
        responder: Responder,
        request_ids: Sequence[RequestId],
        mode: AnswerMode,
        status_of: Callable[[Error | None], int],
        keepalive: float | None = 15.0,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        self.responder = responder
        self.request_ids = request_ids
        """The requests of the POST: one final response each completes the answer."""
        self.mode = mode
        self.status_of = status_of
        """The status of a JSON answer carrying one response (from its error)."""
        self.keepalive = keepalive
        self.headers = headers
        self._finals: list[tuple[RequestId | None, bytes, Error | None]] = []
        self._streaming = False
        self._complete = False
        self._lock: trio.Lock | None = None
        self._quiet_since = 0.0

    @property
    def complete(self) -> bool:
        return self._complete

    async def write(self, frame: bytes, about: Outgoing, answered: bool) -> None:
        """Write one message (``answered``: it is the final response of one of the
        POST's requests). Waits while the client reads slowly."""
        lock = await self._locked()
        try:
            await self._take(frame, about, answered)
        finally:
            lock.release()

    async def _locked(self) -> trio.Lock:
        """The writers' lock, taken (without a scheduling round when it is free)."""
        lock = self._lock
        if lock is None:
            lock = self._lock = trio.Lock()
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        return lock

    async def _take(self, frame: bytes, about: Outgoing, answered: bool) -> None:
        if self._complete:
            return
        if answered:
            self._finals.append((about.related, frame, about.error))
            self._complete = len(self._finals) >= len(self.request_ids)
        if not self._streaming:
            if answered and self.mode is not AnswerMode.SSE:
                if self._complete:
                    await self._json()
                return
            if not answered and self.mode is AnswerMode.JSON:
                logger.debug("dropped a message before the response: the client takes JSON only")
                return
            self._streaming = True
            await self.responder.start(200, (*SSE_HEADERS, *self.headers))
            # responses collected before the switch (a batch) go out first
            earlier = self._finals[:-1] if answered else self._finals
            data = b"".join(encode_event(f, event="message") for _, f, _ in earlier if f)
            if frame:
                data += encode_event(frame, event="message")
            await self.responder.body(data, more=not self._complete)
        elif frame or self._complete:
            data = encode_event(frame, event="message") if frame else b""
            await self.responder.body(data, more=not self._complete)
        self._quiet_since = trio.current_time()

    async def _json(self) -> None:
        frames = [frame for _, frame, _ in self._finals if frame]
        if not frames:
            # every request was cancelled: there is nothing to say
            await self.responder.respond(204, headers=self.headers)
        elif len(self.request_ids) == 1:
            status = self.status_of(self._finals[0][2])
            await self.responder.json(status, frames[0], self.headers)
        else:
            await self.responder.json(200, b"[" + b",".join(frames) + b"]", self.headers)

    async def finish(self) -> None:
        """The handler ended: say so if it did not answer every request (once the
        client is gone there is nobody to tell). When nothing was written yet the
        client gets a JSON-RPC internal error as a 500 JSON response, else an event
        for each unanswered request before the stream ends."""
        if self._complete or self.responder.gone:
            return
        self._complete = True
        if not self._streaming:
            rid = self.request_ids[0] if len(self.request_ids) == 1 else None
            body = error_body(INTERNAL_ERROR, "Internal error", rid)
            await self.responder.json(500, body, self.headers)
            return
        answered = {related for related, _, _ in self._finals}
        data = b"".join(
            encode_event(error_body(INTERNAL_ERROR, "Internal error", rid), event="message")
            for rid in self.request_ids
            if rid not in answered
        )
        await self.responder.body(data, more=False)

    async def keep_alive(self) -> None:
        """Write a comment into a quiet SSE answer every ``keepalive`` seconds
        (until cancelled)."""
        keepalive = self.keepalive
        if keepalive is None:
            await trio.sleep_forever()
        if not self._quiet_since:  # nothing written yet: quiet since the helper started
            self._quiet_since = trio.current_time()
        while keepalive is not None:
            await trio.sleep_until(self._quiet_since + keepalive)
            now = trio.current_time()
            if now < self._quiet_since + keepalive:
                continue
            lock = await self._locked()
            try:  # a comment line, not an event: clients skip it
                if self._streaming and not self._complete:
                    await self.responder.body(KEEPALIVE, more=True)
            finally:
                lock.release()
            self._quiet_since = now


class RequestTransport:
    """The transport of one POST (see the module docstring): a
    ``fastmcp_core.DirectTransport`` and a ``Reply``."""

    __slots__ = (
        "_answer",
        "_changed",
        "_closed",
        "_disconnected",
        "_frames",
        "_inbound",
        "_messages",
        "_waiting",
        "_writing",
    )

    def __init__(
        self,
        frames: Iterable[bytes],
        messages: Iterable[JSONRPCMessage],
        request_ids: Iterable[RequestId],
        answer: Answer,
    ) -> None:
        self._frames = deque(frames)
        self._messages = deque(messages)
        self._waiting = set(request_ids)
        self._answer = answer
        self._changed = trio.Event()
        self._closed: str | None = None
        self._disconnected = False
        self._writing = 0
        """Final responses being written now."""
        self._inbound: Inbound | None = None

    @property
    def answer(self) -> Answer:
        return self._answer

    @property
    def lone_message(self) -> JSONRPCRequest | JSONRPCNotification | None:
        """The POST's message when it is a lone request or notification (what an
        ``ExchangeHandler`` serves), else ``None``."""
        messages = self._messages
        if len(messages) == 1:
            message = messages[0]
            if isinstance(message, JSONRPCRequest | JSONRPCNotification):
                return message
        return None

    # -- the Transport interface -----------------------------------------------------

    async def receive(self) -> bytes:
        while True:
            if self._frames:
                if self._messages:
                    self._messages.popleft()
                return self._frames.popleft()
            await self._until_answered()

    async def receive_message(self) -> bytes | IncomingMessage:
        while True:
            if self._messages:
                if self._frames:
                    self._frames.popleft()
                return self._messages.popleft()
            if self._frames:
                return self._frames.popleft()
            await self._until_answered()

    async def _until_answered(self) -> None:
        if self._closed is not None:
            raise TransportClosed(self._closed)
        if not self._waiting and not self._writing:
            # only once the answer is out: an engine that cancels its handlers at the
            # end of input must not cancel the write of the last response
            raise TransportClosed("the request was answered")
        self._changed = trio.Event()
        await self._changed.wait()

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        """``send_described`` for a sender that does not say what ``frame`` is (it is
        read: the method of a notification or request, the error of a response)."""
        kind: MessageKind = "response"
        error: Error | None = None
        if frame:
            head = peek_frame(frame)
            if head.is_notification_or_request:
                kind = "notification"
            elif not isinstance(head.error, UnsetType):
                error = Error(code=head.error.code, message=head.error.message)
        await self.send_described(frame, Outgoing(kind, related, final, error))

    async def send_described(self, frame: bytes, about: Outgoing) -> None:
        if self._closed is not None:
            raise TransportClosed(self._closed)
        related = about.related
        answered = about.final and about.kind == "response" and related in self._waiting
        if answered:
            self._waiting.discard(related)
        if self._disconnected:
            if answered:
                self._changed.set()
            if frame:  # the end of a cancelled request (no frame) is fine
                raise TransportClosed(DISCONNECT_REASON)
            return
        if not frame and not answered:
            return
        answer = self._answer
        if answer.complete:
            raise TransportClosed("the request was answered")
        if answered:
            self._writing += 1
        try:
            await answer.write(frame, about, answered)
        finally:
            if answered:
                self._writing -= 1
                self._changed.set()
        if answer.responder.gone:
            self.client_disconnected()
            if frame and not answered:
                raise TransportClosed(DISCONNECT_REASON)

    async def aclose(self) -> None:
        self.close("the transport was closed")

    def close(self, reason: str) -> None:
        """Close without waiting: ``receive`` and ``send`` raise ``TransportClosed``."""
        if self._closed is None:
            self._closed = reason
            self._frames.clear()
            self._messages.clear()
            self._changed.set()

    # -- the engine ------------------------------------------------------------------

    def attach(self, inbound: Inbound | None) -> None:
        """The engine that serves the POST: told when the client is gone."""
        self._inbound = inbound
        if inbound is not None and self._disconnected:
            for rid in self._waiting:
                inbound.peer_gone(rid, DISCONNECT_REASON)

    def client_disconnected(self) -> None:
        """The client went away: cancel every unanswered request (once)."""
        if self._disconnected or self._closed is not None:
            return
        self._disconnected = True
        self._answer.responder.gone = True
        inbound = self._inbound
        if inbound is None:  # nobody to cancel them in: the handler sees its input end
            if self._waiting:
                self.close(DISCONNECT_REASON)
            return
        for rid in sorted(self._waiting, key=str):
            inbound.peer_gone(rid, DISCONNECT_REASON)
        self._changed.set()

    async def watch(self, receive: Receive) -> None:
        """The helper of a POST that lasts: the client's disconnect, keep-alives."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._answer.keep_alive)
            await watch_disconnect(receive, self.client_disconnected)
            nursery.cancel_scope.cancel()
