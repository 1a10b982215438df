"""The HTTP+SSE transport of 2024-11-05, client side (deprecated; for old servers).

Theory of operation. The client GETs the SSE endpoint and keeps that one stream open
for the whole connection. The server's first event, ``endpoint``, names the URL to
POST messages to; it is resolved against the SSE URL, and refused when it points to
another origin (a server must not be able to send our messages, and the credentials
that go with them, elsewhere). Every ``message`` event after it carries one JSON-RPC
message, delivered through ``receive``. ``send`` POSTs one frame to the endpoint and
waits for the acknowledgement (``202``); the answers come on the stream.

The session lives as long as the stream: when it ends, ``receive`` raises
``TransportClosed`` and there is no resumption. A POST refused with an error status
(or that cannot be made at all) fails its request at once with a JSON-RPC error
response, so no caller waits for an answer that cannot come; a notification that
cannot be delivered is logged. A 404 from the endpoint means the server forgot the
session: the transport closes with ``SessionExpired``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress

import attrs
import httpx
import trio

from fastmcp_core import CONNECTION_CLOSED, TransportClosed
from fastmcp_protocol import RequestId
from fastmcp_transport._sse import SSEParser
from fastmcp_transport.http_client._frames import (
    error_frame,
    http_error_frame,
    peek_outgoing,
    reply_error_frame,
)
from fastmcp_transport.http_client._http import (
    EVENT_STREAM,
    JSON,
    SessionExpired,
    background_nursery,
    base_headers,
    content_type,
    describe,
    http_client_for,
    is_message,
    parse_url,
    sse_events,
    timeouts,
)

__all__ = ["SseClientTransport", "sse_client"]

logger = logging.getLogger("fastmcp.http")


@attrs.define(eq=False)
class SseClientTransport:
    """A ``fastmcp_core.Transport`` over one HTTP+SSE connection; made by
    ``sse_client``, which owns the task reading the stream.

    ``endpoint`` is the URL messages are POSTed to, as the server announced it.
    """

    url: str
    _client: httpx.AsyncClient
    _inbox_writer: trio.MemorySendChannel[bytes]
    _inbox: trio.MemoryReceiveChannel[bytes]
    auth: httpx.Auth | None = None
    headers: Mapping[str, str] | None = None
    timeout: float | None = 30.0
    endpoint: str = ""
    _target: httpx.URL = attrs.field(init=False)
    _endpoint: httpx.URL | None = attrs.field(init=False, default=None)
    _post_headers: dict[str, str] = attrs.field(init=False)
    _short_timeout: httpx.Timeout = attrs.field(init=False)
    _stream_timeout: httpx.Timeout = attrs.field(init=False)
    _reader: trio.CancelScope = attrs.field(init=False, factory=trio.CancelScope)
    _closed: TransportClosed | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._target = parse_url(self.url)
        self._post_headers = base_headers(self.headers, JSON)
        self._post_headers["content-type"] = JSON
        self._short_timeout, self._stream_timeout = timeouts(self.timeout)

    async def receive(self) -> bytes:
        try:
            return await self._inbox.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise self._closed_error() from None

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        """POST one frame to the endpoint and wait for the acknowledgement.

        Raises ``TransportClosed`` once the stream has ended or the transport is
        closed (``SessionExpired`` after a 404). Cancelling it abandons the POST; the
        server may or may not have the message.
        """
        if self._closed is not None:
            raise self._closed_error()
        if not frame:
            return
        try:
            assert self._endpoint is not None  # set before the transport is handed out
            response = await self._client.post(
                self._endpoint,
                content=frame,
                headers=self._post_headers,
                timeout=self._short_timeout,
                auth=self.auth or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            await self._refused(frame, None, f"POST {self.endpoint}: {describe(exc)}")
            return
        if response.is_success:
            return
        if response.status_code == 404:
            self._close(
                SessionExpired(
                    f"the server at {self.url} no longer knows this connection (HTTP 404 from "
                    f"{self.endpoint}); connect again"
                )
            )
            raise self._closed_error()
        await self._refused(frame, response, "")

    async def aclose(self) -> None:
        """Close the stream; pending ``receive`` calls raise ``TransportClosed``.
        Idempotent."""
        if self._closed is None:
            self._closed = TransportClosed(f"the connection to {self.url} was closed")
        self._reader.cancel()
        self._inbox.close()

    async def _refused(self, frame: bytes, response: httpx.Response | None, message: str) -> None:
        """A POST failed: answer its request with an error (a notification is logged)."""
        request_id = peek_outgoing(frame).request_id()
        if request_id is None:
            status = f"HTTP {response.status_code}" if response is not None else message
            logger.warning("POST %s refused a message: %s", self.endpoint, status)
            return
        reply: bytes
        if response is None:
            reply = error_frame(request_id, CONNECTION_CLOSED, message)
        else:
            reply = reply_error_frame(request_id, response.content) or http_error_frame(
                request_id,
                "POST",
                self.endpoint,
                response.status_code,
                response.reason_phrase,
                response.content,
            )
        with suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            await self._inbox_writer.send(reply)

    def _closed_error(self) -> TransportClosed:
        closed = self._closed or TransportClosed(f"the connection to {self.url} was closed")
        return type(closed)(str(closed))

    def _close(self, why: TransportClosed) -> None:
        """Close for good; ``receive`` hands out what came before, then raises ``why``."""
        if self._closed is None:
            self._closed = why
        self._reader.cancel()
        self._inbox_writer.close()

    async def _run(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Open the stream, wait for ``endpoint`` (then report started), deliver the
        messages until the stream ends."""
        started = False
        parser = SSEParser()
        why: TransportClosed
        with self._reader:
            try:
                async with self._client.stream(
                    "GET",
                    self._target,
                    headers=base_headers(self.headers, EVENT_STREAM),
                    timeout=self._stream_timeout,
                    auth=self.auth or httpx.USE_CLIENT_DEFAULT,
                ) as response:
                    kind = content_type(response)
                    if not response.is_success or kind != EVENT_STREAM:
                        body = (await response.aread())[:200].decode("utf-8", "replace").strip()
                        raise TransportClosed(
                            f"GET {self.url}: HTTP {response.status_code} "
                            f"{response.reason_phrase} ({kind or 'no content type'}), "
                            f"not an SSE stream: {body}"
                        )
                    refused: TransportClosed | None = None
                    with trio.CancelScope(deadline=_deadline(self.timeout)) as reading:
                        async for event in sse_events(response, parser):
                            if reading.cancel_called:
                                continue  # stopping: see sse_events
                            if not started:
                                if event.event != "endpoint":
                                    continue
                                try:
                                    self._endpoint = self._resolve(event.data)
                                    self.endpoint = str(self._endpoint)
                                except TransportClosed as exc:
                                    refused = exc
                                    reading.cancel()
                                    continue
                                reading.deadline = math.inf
                                task_status.started()
                                started = True
                            elif is_message(event):
                                try:
                                    await self._inbox_writer.send(event.data.encode())
                                except (trio.ClosedResourceError, trio.BrokenResourceError):
                                    reading.cancel()  # closing
                    if not started:
                        if refused is not None:
                            raise refused
                        waited = (
                            f"within {self.timeout} s"
                            if reading.cancelled_caught
                            else "before its stream ended"
                        )
                        raise TransportClosed(
                            f"GET {self.url}: the server sent no endpoint event {waited}; "
                            "is this an HTTP+SSE server?"
                        )
                why = TransportClosed(f"the server at {self.url} closed the SSE stream")
            except httpx.HTTPError as exc:
                if not started:
                    raise TransportClosed(f"GET {self.url}: {describe(exc)}") from exc
                why = TransportClosed(f"the SSE stream from {self.url} failed: {describe(exc)}")
            self._close(why)

    def _resolve(self, endpoint: str) -> httpx.URL:
        base = self._target
        target = base.join(endpoint.strip())
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise TransportClosed(
                f"GET {self.url}: the server's endpoint {endpoint!r} is on another origin; "
                "refusing to send messages there"
            )
        return target


def _deadline(timeout: float | None) -> float:
    return math.inf if timeout is None else trio.current_time() + timeout


@asynccontextmanager
async def sse_client(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    http_client: httpx.AsyncClient | None = None,
    timeout: float | None = 30.0,
    max_buffer: int = 1024,
) -> AsyncIterator[SseClientTransport]:
    """Connect to the HTTP+SSE server whose SSE endpoint is ``url``; yield the
    transport once the server has named its message endpoint.

    ``headers``, ``auth``, ``http_client`` and ``timeout`` are as for
    ``streamable_http_client``; ``timeout`` also bounds the wait for the ``endpoint``
    event. Raises ``TransportClosed`` when the stream cannot be opened, is not SSE,
    or names no (or a foreign) endpoint. On exit the stream is closed.
    """
    short, _ = timeouts(timeout)
    writer, inbox = trio.open_memory_channel[bytes](max_buffer)
    async with http_client_for(http_client, short) as client, background_nursery() as nursery:
        transport = SseClientTransport(
            url, client, writer, inbox, auth=auth, headers=headers, timeout=timeout
        )
        await nursery.start(transport._run)
        try:
            yield transport
        finally:
            await transport.aclose()
