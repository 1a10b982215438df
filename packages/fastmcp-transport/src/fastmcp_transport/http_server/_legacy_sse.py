"""The HTTP+SSE transport of 2024-11-05 (deprecated, still spoken by old clients).

Theory of operation. A client opens a GET on the SSE path; the server answers with
an SSE stream whose first event, ``endpoint``, names the URL to POST messages to
(the messages path with a fresh ``session_id`` query parameter). Every POST there is
one JSON-RPC message (or a batch), accepted with 202; everything the server sends
(responses, notifications, its own requests) travels on the one SSE stream, in
order, whatever it relates to. The connection handler runs in the task of the GET:
the session is exactly as long as the stream. When the client closes the stream the
transport closes and the handler is cancelled (nobody could receive its answers).
These streams are not resumable; they get keep-alive comments.

With a shared store (``store``), a POST may land on any replica: the stream's
replica records the session (``store.records("sse-sessions")``, deleted when the
stream ends), and another replica forwards the POST's body to that replica's inbox
(202 once it is stored there). The stream itself cannot move: when its replica dies
the session is gone, as it would be with one replica (404; the client reconnects).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from contextlib import suppress

import attrs
import msgspec
import trio

from fastmcp_core import TransportClosed, redacted
from fastmcp_core.store import Store, StoreUnavailable
from fastmcp_protocol import INVALID_REQUEST, RequestId
from fastmcp_transport._http_common import ConnectionHandler, HttpConnectionInfo
from fastmcp_transport._sse import encode_event
from fastmcp_transport.http_server._http import (
    SSE_HEADERS,
    HttpError,
    Receive,
    RequestHead,
    Responder,
    watch_disconnect,
)
from fastmcp_transport.http_server._shared import (
    RECORD_TTL,
    Forward,
    encode_forward,
    forward_channel,
    forward_decoder,
    owner_alive,
    principal_key,
)
from fastmcp_transport.http_server._sse_writer import SSEConnection
from fastmcp_transport.http_server._watches import Watches

__all__ = ["LegacySSEEndpoints", "SSETransport"]

logger = logging.getLogger("fastmcp.http")

SSE_SESSIONS = "sse-sessions"
"""The namespace of the records of HTTP+SSE sessions (the value: the principal's key)."""
SSE_TOPIC = "http.sse"
"""The inbox topic of the bodies forwarded to a stream's replica."""


@attrs.define(eq=False)
class SSETransport:
    """The transport of one HTTP+SSE connection (2024-11-05)."""

    session_id: str
    _connection: SSEConnection
    info: HttpConnectionInfo | None = None
    """What the connection handler was given (its principal is the stream's)."""
    _inbox: trio.MemorySendChannel[bytes] = attrs.field(init=False)
    _frames: trio.MemoryReceiveChannel[bytes] = attrs.field(init=False)
    _closed: str | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._inbox, self._frames = trio.open_memory_channel[bytes](16)

    async def receive(self) -> bytes:
        try:
            return await self._frames.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise TransportClosed(self._closed or "the SSE stream closed") from None

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        if not frame:
            return
        if self._closed is not None:
            raise TransportClosed(self._closed)
        if not await self._connection.push(encode_event(frame, event="message")):
            raise TransportClosed("the client closed the SSE stream")

    async def aclose(self) -> None:
        self.close("the transport was closed")

    def close(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
            self._inbox.close()
            self._connection.end()

    def stop_input(self) -> None:
        """No more messages: the handler sees the end of its input and may still
        answer on the stream until it returns."""
        self._inbox.close()

    async def deliver(self, frame: bytes) -> None:
        try:
            await self._inbox.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise HttpError(404, INVALID_REQUEST, "Not Found: the SSE stream has closed") from None


@attrs.define(eq=False)
class LegacySSEEndpoints:
    """The SSE and messages endpoints of the 2024-11-05 transport."""

    connect: ConnectionHandler
    messages_path: str
    keepalive: float | None
    watches: Watches = attrs.field(factory=Watches)
    store: Store | None = attrs.field(default=None, kw_only=True)
    """A shared store: POSTs are served by every replica (see the module docstring)."""
    _transports: dict[str, SSETransport] = attrs.field(init=False, factory=dict)
    _changed: trio.Event = attrs.field(init=False, factory=trio.Event)
    """Set (and replaced) whenever a stream ends."""

    async def stream(self, head: RequestHead, responder: Responder, receive: Receive) -> None:
        """Serve one connection for as long as its GET stream is open."""
        session_id = secrets.token_urlsafe(24)
        connection = SSEConnection(responder, keepalive=self.keepalive)
        info = HttpConnectionInfo(
            kind="legacy-sse",
            headers=head.headers,
            session_id=session_id,
            client=head.client,
            principal=head.principal,
        )
        transport = SSETransport(session_id, connection, info=info)
        endpoint = f"{head.root_path}{self.messages_path}?session_id={session_id}"
        self._transports[session_id] = transport
        try:
            if self.store is not None:
                await self._record(session_id, info)
            await responder.start(200, SSE_HEADERS)
            connection.push_nowait(encode_event(endpoint, event="endpoint"))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._serve, transport, info)
                nursery.start_soon(watch_disconnect, receive, connection.client_gone)
                await connection.pump(watches=self.watches)
                nursery.cancel_scope.cancel()
        finally:
            del self._transports[session_id]
            transport.close("the SSE stream closed")
            if self.store is not None:
                with trio.CancelScope(shield=True), suppress(StoreUnavailable):
                    await self.store.records(SSE_SESSIONS).delete(session_id)
            self._changed.set()
            self._changed = trio.Event()

    async def _serve(self, transport: SSETransport, info: HttpConnectionInfo) -> None:
        try:
            await self.connect(transport, info)
        except Exception:
            logger.exception(
                "the connection handler of SSE session %s failed", redacted(info.session_id or "")
            )
        finally:
            transport.close("the connection handler returned")

    def find(self, query: Mapping[str, str]) -> SSETransport:
        session_id = query.get("session_id")
        if not session_id:
            raise HttpError(400, INVALID_REQUEST, "Bad Request: session_id is missing")
        transport = self._transports.get(session_id)
        if transport is None:
            raise HttpError(404, INVALID_REQUEST, "Not Found: unknown session_id")
        return transport

    # -- shared by replicas ----------------------------------------------------------

    async def _record(self, session_id: str, info: HttpConnectionInfo) -> None:
        assert self.store is not None
        key = principal_key(info.principal)
        try:
            await self.store.records(SSE_SESSIONS).create(
                session_id, (key or "").encode(), ttl=RECORD_TTL
            )
        except StoreUnavailable as exc:
            raise HttpError(503, INVALID_REQUEST, f"Service Unavailable: {exc}") from None

    async def run(self) -> None:
        """Take the bodies other replicas forward to this one's streams (until
        cancelled); nothing to do without a store."""
        if self.store is None:
            await trio.sleep_forever()
        send, receive = forward_channel()
        stop = self.store.bus.receive(SSE_TOPIC, send.send_nowait)
        try:
            async for data in receive:
                try:
                    message: Forward = forward_decoder.decode(data)
                except msgspec.DecodeError:
                    logger.exception("an unreadable message was forwarded to this replica")
                    continue
                transport = self._transports.get(message.session)
                if transport is None:
                    logger.info("a message for an SSE stream that closed was dropped")
                    continue
                if message.ids and transport.info is not None:  # ctx.http: the POST's own
                    transport.info.note_requests(message.ids, message.headers, message.client)
                for frame in message.frames:
                    with suppress(HttpError):
                        await transport.deliver(frame)
        finally:
            stop()

    def remote(self, query: Mapping[str, str]) -> bool:
        """Whether a POST names a stream that may be another replica's."""
        session_id = query.get("session_id")
        return bool(session_id) and session_id not in self._transports and self.store is not None

    async def forward(
        self,
        query: Mapping[str, str],
        principal: object,
        body: bytes,
        request_ids: Sequence[RequestId] = (),
        headers: Mapping[str, str] | None = None,
        client: tuple[str, int] | None = None,
    ) -> None:
        """Forward ``body`` to the replica that holds the stream (``remote`` holds),
        with the POST's ``headers`` (no credentials) and ``client`` for the requests
        ``request_ids`` (``ctx.http`` there).

        ``HttpError``: 404 when no replica holds it, 403 for another principal, 503
        when the store cannot be reached."""
        session_id = query["session_id"]
        assert self.store is not None
        try:
            record = await self.store.records(SSE_SESSIONS).get(session_id)
            if record is None or not await owner_alive(self.store, record.owner):
                raise HttpError(404, INVALID_REQUEST, "Not Found: unknown session_id")
            if record.value.decode() != (principal_key(principal) or ""):
                raise HttpError(
                    403, INVALID_REQUEST, "Forbidden: this session belongs to another principal"
                )
            assert record.owner is not None
            message = encode_forward(
                session_id, [body], request_ids, None, headers=headers, client=client
            )
            await self.store.bus.send(record.owner, SSE_TOPIC, message)
        except StoreUnavailable as exc:
            raise HttpError(503, INVALID_REQUEST, f"Service Unavailable: {exc}") from None

    async def shutdown(self, grace: float) -> None:
        """End every stream: the handlers see their input end and get ``grace``
        seconds to answer on their stream; then the streams still open are closed
        (their handlers are cancelled)."""
        for transport in self._transports.values():
            transport.stop_input()
        with trio.move_on_after(grace):
            while self._transports:
                await self._changed.wait()
        for transport in list(self._transports.values()):
            transport.close("the server is shutting down")
