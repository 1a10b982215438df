"""ASGI plumbing shared by every endpoint: the request head, bodies, errors, responses.

Theory of operation. ``read_head`` turns an ASGI scope into a ``RequestHead`` once
(lower-cased header names, latin-1 values, repeated headers joined with ``", "`` as
RFC 9110 allows). Handlers answer failures by raising ``HttpError``: the boundary
of the app turns it into a status and a JSON-RPC error body (with the request id when
it is known, without one otherwise, as the specification asks of transport-level
errors). ``Responder`` wraps the ASGI ``send`` and remembers how far the response
got, so that the boundary can still answer 500 after an unexpected exception, or
end a response that had already started, and so that writes to a client that has
gone away never raise into the code producing them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

import attrs
import trio

from fastmcp_protocol import (
    UNSET,
    Error,
    JSONRPCErrorResponse,
    LocalError,
    RequestId,
    encode,
    encode_error,
)
from fastmcp_transport._http_common import SCOPE_PRINCIPAL

__all__ = [
    "BODY_LIMITS",
    "ASGIApp",
    "HttpError",
    "Message",
    "Receive",
    "RequestHead",
    "Responder",
    "Scope",
    "Send",
    "accepts",
    "error_body",
    "media_type",
    "negotiate",
    "read_body",
    "read_head",
    "watch_disconnect",
]

logger = logging.getLogger("fastmcp.http")

# ASGI messages and scopes are dicts of JSON-like values: the true edge of the app.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON = "application/json"
EVENT_STREAM = "text/event-stream"

_JSON_HEADERS = ((b"content-type", b"application/json"),)
SSE_HEADERS = (
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    # Reverse proxies (nginx) buffer responses unless told not to; SSE must flow.
    (b"x-accel-buffering", b"no"),
)


BODY_TIMEOUT = 30.0
"""Seconds a request body may pause, and its allowance in all (``read_body``)."""
BODY_MIN_RATE = 1024.0
"""Bytes per second a request body must average past its allowance (``read_body``)."""


@attrs.define(eq=False, repr=False)
class RequestHead:
    """What the app reads from an ASGI scope, once per request (never changed: not
    frozen only because a frozen class costs each request a slower ``__init__``)."""

    method: str
    path: str
    """The path inside the app (``root_path`` removed)."""
    query: bytes
    headers: Mapping[str, str]
    client: tuple[str, int] | None
    root_path: str
    principal: Any = None
    """What an authorization layer in front of the app authenticated (``SCOPE_PRINCIPAL``)."""
    body_limits: tuple[float, float] | None = None
    """The body limits the HTTP server in front enforces itself (``BODY_LIMITS``)."""

    def body_timeout(self, timeout: float | None, min_rate: float = BODY_MIN_RATE) -> float | None:
        """The ``timeout`` for ``read_body`` of this request: ``None`` (no timer of the
        app's own, a cancel scope less per request) when the HTTP server in front
        holds the body to limits at least as strict as ``timeout`` and ``min_rate``."""
        limits = self.body_limits
        if timeout is None or limits is None:
            return timeout
        server_timeout, server_rate = limits
        return None if server_timeout <= timeout and server_rate >= min_rate else timeout


def read_head(scope: Scope) -> RequestHead:
    """The request head of an ``http`` scope."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        # bytes or bytearray (ASGI says bytes): both decode without a copy
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    get = scope.get
    root_path = get("root_path") or ""
    path = get("path") or "/"
    # ASGI servers differ on whether ``path`` includes ``root_path``; accept both.
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    client = get("client")
    method = get("method") or "GET"
    extensions = get("extensions")
    return RequestHead(
        method if method.isupper() else method.upper(),
        path,
        get("query_string") or b"",
        headers,
        (client[0], client[1]) if client else None,
        root_path,
        get(SCOPE_PRINCIPAL),
        extensions.get(BODY_LIMITS) if extensions else None,
    )


BODY_LIMITS = "fastmcp.body_limits"
"""The ASGI scope extension by which an HTTP server says it enforces body limits
itself, as ``(timeout, min_rate)`` with ``read_body``'s meaning (our ``H1Server``
does: it answers 408 and the app sees ``http.disconnect``)."""


class HttpError(LocalError):
    """Answer the request with ``status`` and a JSON-RPC error body.

    ``request_id`` is the id of the JSON-RPC request the POST carried, when known;
    the body then answers it. Without one the body has no ``id`` member.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        request_id: RequestId | None = None,
        data: Any = UNSET,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.data = data
        self.headers = tuple(headers)

    def body(self) -> bytes:
        return error_body(self.code, self.message, self.request_id, self.data)


def error_body(code: int, message: str, request_id: RequestId | None, data: Any = UNSET) -> bytes:
    """A JSON-RPC error response; without ``request_id`` it has no ``id`` member."""
    if request_id is not None:
        return encode_error(request_id, code, message, data)
    return encode(JSONRPCErrorResponse(error=Error(code=code, message=message, data=data)))


class ClientGone(LocalError):
    """The client disconnected while the request body was being read."""


async def read_body(
    receive: Receive,
    limit: int,
    declared: str | None,
    *,
    timeout: float | None = BODY_TIMEOUT,
    min_rate: float = BODY_MIN_RATE,
) -> bytes:
    """The whole request body, at most ``limit`` bytes.

    Raises ``HttpError(413)`` as soon as the declared ``Content-Length`` or the
    bytes received exceed the limit (the rest is not read), ``ClientGone`` when the
    client disconnects first, ``HttpError(408)`` when the body pauses for ``timeout``
    seconds or takes longer than ``timeout`` plus its bytes so far over ``min_rate``
    in all (``None``: no limit): a slow body holds no server task for ever, whatever
    the HTTP server in front (hypercorn has no such limit of its own).
    """
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise HttpError(400, -32600, "Bad Request: invalid Content-Length") from None
        if length > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    started = trio.current_time() if timeout is not None else 0.0
    while True:
        message: Message | None = None
        if timeout is None:
            message = await receive()
        else:
            now = trio.current_time()
            with trio.move_on_at(min(now + timeout, started + timeout + size / min_rate)):
                message = await receive()
            if message is None:
                raise HttpError(408, -32600, "Request Timeout: the body came too slowly")
        kind = message.get("type")
        if kind == "http.disconnect":
            raise ClientGone
        if kind != "http.request":
            continue
        chunk = message.get("body") or b""
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(bytes(chunk))
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> HttpError:
    return HttpError(413, -32600, f"Payload Too Large: the body exceeds {limit} bytes")


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` value, lower-cased, parameters removed."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def accepts(accept: str | None, media: str) -> bool:
    """Whether an ``Accept`` header admits ``media`` (``type/subtype``).

    A missing header admits everything (RFC 9110); ``*/*`` and ``type/*`` ranges
    count, and a range with ``q=0`` refuses.
    """
    if accept is None:
        return True
    kind = media.split("/", 1)[0]
    for item in accept.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if name not in (media, "*/*", f"{kind}/*"):
            continue
        refused = any(
            p.strip().lower().replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
            for p in params.split(";")
        )
        if not refused:
            return True
    return False


@functools.lru_cache(maxsize=256)
def negotiate(accept: str | None) -> tuple[bool, bool]:
    """Whether an ``Accept`` header admits JSON, and SSE (cached: clients repeat theirs)."""
    return accepts(accept, JSON), accepts(accept, EVENT_STREAM)


@attrs.define(eq=False)
class Responder:
    """The ASGI ``send`` of one request, with the state of the response.

    Writes after the client went away are dropped (``gone`` becomes true) instead of
    raising: the server may learn about the disconnect only later.
    """

    _send: Send
    started: bool = False
    finished: bool = False
    gone: bool = False

    async def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.started = True
        await self._write(
            {"type": "http.response.start", "status": status, "headers": list(headers)}
        )

    async def body(self, data: bytes, *, more: bool) -> None:
        if self.finished:
            return
        if not more:
            self.finished = True
        await self._write({"type": "http.response.body", "body": data, "more_body": more})

    async def _write(self, message: Message) -> None:
        if self.gone:
            return
        try:
            await self._send(message)
        except Exception:  # the server refuses writes once the connection is gone
            logger.debug("dropped a write to a closed connection", exc_info=True)
            self.gone = True

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: bytes | None = None,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        """A complete response in one go."""
        head = list(headers)
        if content_type is not None:
            head.append((b"content-type", content_type))
        if status != 204:  # RFC 9110: a 204 carries no Content-Length
            head.append((b"content-length", b"%d" % len(body)))
        await self.start(status, head)
        await self.body(body, more=False)

    async def json(
        self, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        await self.respond(status, body, content_type=b"application/json", headers=headers)

    async def error(self, error: HttpError) -> None:
        await self.json(error.status, error.body(), error.headers)

    async def end(self) -> None:
        """End a response that has started (a no-op once it has ended)."""
        await self.body(b"", more=False)


async def watch_disconnect(receive: Receive, on_disconnect: Callable[[], object]) -> None:
    """Call ``on_disconnect`` when the client goes away (the body must be read first).

    Runs until then; cancel it once the response is complete.
    """
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            on_disconnect()
            return
