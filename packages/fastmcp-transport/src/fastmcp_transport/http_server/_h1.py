"""One HTTP/1.1 connection serving an ASGI 3 app, on trio and httptools (llhttp).

Theory of operation. ``H1Connection.run`` owns one accepted connection (an ``IO``
of ``_h1_io``: plain TCP, or TLS) for its whole life. Bytes are read only when
somebody needs them: the
connection task waiting for the next request head, the app's ``receive`` waiting
for body bytes, or the app's ``receive`` watching for the client to go away once
the body is complete. Whatever is read goes straight into the llhttp parser,
whose callbacks (``on_*``, below) build ``_Request`` objects: a request enters
``_queue`` when its head is complete, its body bytes collect on it as they
arrive, and ``on_message_complete`` marks it complete. Requests are served one at
a time, in the order they came (pipelining), the app being awaited inline in the
connection task: a request costs no task of its own. The connection yields to the
scheduler once per request when nothing else made it wait (a client that always
has bytes ready cannot starve the others).

A request goes through these states (the connection's only state machine; every
transition is in this file)::

    parsing head --head complete--> queued --its turn--> app running --> answered
         |                            |                       |
         +--malformed, too big--------+--refused by server----+--> connection closes

and the response of the request being served through these::

    not started --start--> head held --first body--> head written --last body--> complete
                               |                                                     ^
                               +--------------first body is also the last-----------+

The head is held back until the first body message, so that a small response goes
out in one ``send_all`` with its framing decided: ``Content-Length`` when the app
gave one or the whole body came at once, chunked transfer coding when it streams
(HTTP/1.1), or an end marked by closing the connection (HTTP/1.0). Every body
message is written at once (SSE events are never buffered).

Invariants:

* at most one task reads the stream at a time (``_reading``); a second reader
  waits for the first one's bytes instead of reading itself;
* once any bytes of a later request are buffered, nobody reads on behalf of the
  request being served (memory stays bounded by a read or two per connection);
* a request is served only when every request before it has been answered;
* ``dead`` means nothing more goes over the connection: writes raise
  ``ClientDisconnected`` (an ``OSError``, as the ASGI spec asks) and ``receive``
  answers ``http.disconnect``;
* the connection is kept open after a response only when both messages were
  complete and well framed, the client wants it, and the server is not stopping;
* a request's ``send`` and ``receive`` are its own: kept past the app's return,
  ``send`` raises and ``receive`` answers ``http.disconnect``.

An app that raises before its response has started gets a 500 for its client (the
connection stays when the request was complete); once the head is out, the
connection is closed, which is how HTTP/1.1 says a response was cut short. Either
way the failure is logged once. A request that asks for an upgrade (``h2c``, a
WebSocket) is served as plain HTTP/1.1, as RFC 9110 7.8 allows; llhttp stops at
its head, so a ``Content-Length`` body is read past the parser (a chunked one gets
501, ``CONNECT`` 405).

Limits (``H1Limits``) are answered by the server itself, in order with the other
responses, and the connection is then closed: a request head over
``max_head_size`` or with more than ``max_headers`` fields gets 431, a body over
``max_body_size`` 413 (before the app runs when ``Content-Length`` says so), a
malformed request 400, an HTTP version other than 1.x 505, a head that is not
complete ``header_timeout`` seconds after its first byte 408. A body must keep
coming: each wait for body bytes ends after ``body_timeout`` seconds of silence,
and the whole body may take no longer than ``body_timeout`` plus the bytes
received so far divided by ``min_rate`` (a slow upload that keeps progressing at
``min_rate`` bytes per second or faster goes on; a trickle is closed). The app then sees
``http.disconnect`` and, if it had not answered, the client gets 408. A write may
take ``send_timeout`` plus its size divided by ``min_rate`` seconds; a client that
does not read its response for longer is treated as gone. Between requests a
connection waits ``keepalive_timeout`` seconds for the next one; a new connection
that says nothing is closed after ``header_timeout``, without a word.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import math
import time
from collections import deque
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote_to_bytes

import attrs
import httptools
import trio

from fastmcp_protocol import LocalError
from fastmcp_transport.http_server._h1_io import IO, PeerGone
from fastmcp_transport.http_server._http import BODY_LIMITS, ASGIApp, Message

__all__ = ["DEFAULT_MAX_REQUEST_BODY", "ClientDisconnected", "H1Connection", "H1Limits"]

logger = logging.getLogger("fastmcp.http")

READ_SIZE: Final = 64 * 1024
"""Bytes asked of the stream per read."""

LINGER: Final = 1.0
"""Seconds a closing connection keeps reading (and dropping) what the client still
sends, so that the kernel does not answer those bytes with a reset that could
destroy the response before the client has read it."""

LINGER_BYTES: Final = 1024 * 1024

DEFAULT_MAX_REQUEST_BODY: Final = 64 * 1024 * 1024
"""Above the MCP app's own limit (16 MiB), so that the app answers with its JSON-RPC
error first."""


@attrs.frozen
class H1Limits:
    """The limits and timeouts of the HTTP/1.1 server, each answered as the module
    docstring of ``_h1`` says. Times are in seconds, sizes in bytes."""

    max_head_size: int = 64 * 1024
    """Request line and header fields together (431 beyond)."""
    max_headers: int = 100
    """Header fields in a request head (431 beyond)."""
    max_body_size: int = DEFAULT_MAX_REQUEST_BODY
    """A request body (413 beyond)."""
    header_timeout: float = 10.0
    """From the first byte of a request (or from the accept) to its complete head."""
    body_timeout: float = 30.0
    """The longest silence while the app waits for body bytes."""
    min_rate: float = 1024.0
    """Bytes per second a body upload, or a response write, must average (after an
    allowance of ``body_timeout``, ``send_timeout`` respectively)."""
    send_timeout: float = 30.0
    """How long a write may wait for the client to read (plus size / ``min_rate``)."""
    keepalive_timeout: float = 5.0
    """How long an idle connection waits for its next request."""
    max_connections: int = 1000
    """Open connections; beyond it the oldest idle one is closed to make room, or,
    when none is idle, the server stops accepting until one ends."""

    def __attrs_post_init__(self) -> None:
        for name in ("max_head_size", "max_headers", "max_body_size", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"H1Limits.{name} must be at least 1")
        for name in ("header_timeout", "body_timeout", "min_rate", "send_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"H1Limits.{name} must be positive")
        if self.keepalive_timeout < 0:
            raise ValueError("H1Limits.keepalive_timeout must not be negative")


class ClientDisconnected(LocalError, OSError):
    """The response cannot be written: the client went away (or stopped reading),
    or the server answers the request itself (a body over the limit, say)."""


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the request says why."""


@attrs.define(eq=False)
class Registry:
    """What the server knows of its connections: which ones wait for a request
    (closable at once), whether it is stopping."""

    stopping: bool = False
    connections: set[H1Connection] = attrs.field(factory=set)
    waiting: dict[H1Connection, trio.CancelScope] = attrs.field(factory=dict)
    """Connections waiting for a request head, with the scope of that wait."""

    def close_waiting(self) -> None:
        """Close every connection that waits for a request (at shutdown)."""
        for scope in self.waiting.values():
            scope.cancel()

    def close_one_idle(self) -> bool:
        """Close the connection that has waited longest with no request begun."""
        for connection, scope in self.waiting.items():
            if connection.idle:
                scope.cancel()
                return True
        return False


def _status_lines() -> dict[int, bytes]:
    return {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}


_STATUS_LINES: Final = _status_lines()
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_REQUEST_FIELDS: Final = frozenset({b"host", b"expect", b"content-length", b"transfer-encoding"})
_RESPONSE_FIELDS: Final = frozenset(
    {b"content-length", b"transfer-encoding", b"connection", b"date"}
)
_METHODS: Final = {m: m.decode() for m in (b"GET", b"POST", b"DELETE", b"HEAD", b"PUT", b"OPTIONS")}
_CLOSE: Final = b"connection: close\r\n"
_KEEP_ALIVE: Final = b"connection: keep-alive\r\n"
_CHUNKED: Final = b"transfer-encoding: chunked\r\n"
_LAST_CHUNK: Final = b"0\r\n\r\n"
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_ASGI: Final = {"version": "3.0", "spec_version": "2.4"}

_date: list[Any] = [0, b""]


def _date_field() -> bytes:
    """The ``Date`` field, formatted at most once a second."""
    now = int(time.time())
    if now != _date[0]:
        _date[0] = now
        _date[1] = b"date: " + email.utils.formatdate(now, usegmt=True).encode() + b"\r\n"
    field: bytes = _date[1]
    return field


_paths: dict[bytes, str] = {}


def _decode_path(raw_path: bytes) -> str:
    """The ASGI ``path``: percent-decoded, UTF-8 (cached: clients repeat theirs)."""
    path = _paths.get(raw_path)
    if path is None:
        path = unquote_to_bytes(raw_path).decode("utf-8") if b"%" in raw_path else raw_path.decode()
        if len(_paths) >= 1024:
            _paths.clear()
        _paths[raw_path] = path
    return path


def _split_target(target: bytes) -> tuple[bytes, bytes]:
    """``(raw_path, query_string)`` of a request target (origin, absolute or ``*``
    form); ``ValueError`` when it is none of them."""
    if target[:1] == b"/":
        raw_path, _, query = target.partition(b"?")
        return raw_path, query
    if target == b"*":
        return target, b""
    try:
        url = httptools.parse_url(target)
    except httptools.HttpParserInvalidURLError:
        raise ValueError("invalid request target") from None
    if not url.schema or not url.host:
        raise ValueError("invalid request target")
    return url.path or b"/", url.query or b""


class _Request:
    """One request: what the parser made of it, and the state of its response."""

    __slots__ = (
        "body_size",
        "body_started",
        "chunked",
        "chunks",
        "complete",
        "connection",
        "content_length",
        "continued",
        "delivered",
        "error",
        "expect_continue",
        "head_done",
        "head_size",
        "head_written",
        "headers",
        "hosts",
        "keep_alive",
        "method",
        "no_body",
        "out_chunked",
        "out_left",
        "reason",
        "response_complete",
        "response_headers",
        "status",
        "target",
        "version",
        "watch_scope",
    )

    def __init__(self, connection: H1Connection) -> None:
        self.connection = connection
        self.target = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_size = 0
        self.hosts = 0
        self.expect_continue = False
        self.content_length: bytes | None = None
        self.chunked = False
        self.head_done = False
        self.method = "GET"
        self.version = "1.1"
        self.keep_alive = False
        self.chunks: list[bytes] = []
        self.body_size = 0
        self.body_started = math.inf
        self.complete = False
        self.delivered = False
        self.continued = False
        self.error = 0
        """A status the server answers with itself (and then closes)."""
        self.reason = ""
        self.status = 0
        self.response_headers: Any = ()
        self.head_written = False
        self.no_body = False
        self.out_chunked = False
        self.out_left: int | None = None
        """Bytes the app still owes to its ``Content-Length`` (``None``: none given)."""
        self.response_complete = False
        self.watch_scope: trio.CancelScope | None = None

    def refuse(self, status: int, reason: str) -> None:
        if not self.error:
            self.error = status
            self.reason = reason

    # -- ASGI ------------------------------------------------------------------------

    async def receive(self) -> Message:
        """The ASGI ``receive`` of this request (see ``H1Connection``)."""
        connection = self.connection
        while True:
            chunks = self.chunks
            if chunks:
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                more = not self.complete
                self.delivered = not more
                return {"type": "http.request", "body": body, "more_body": more}
            if self.error or connection.dead or self.response_complete:
                return {"type": "http.disconnect"}
            if self.complete:
                if not self.delivered:
                    self.delivered = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await connection.watch(self)
            else:
                await connection.read_body(self)

    async def send(self, message: Message) -> None:
        """The ASGI ``send`` of this request (see ``H1Connection``)."""
        kind = message["type"]
        if kind == "http.response.body":
            if not self.status:
                raise RuntimeError("ASGI: http.response.body before http.response.start")
            if self.response_complete:
                raise RuntimeError("ASGI: the response is already complete")
            if self.error or self.connection.dead:
                raise ClientDisconnected("the client is gone")
            await self.connection.write_body(
                self, message.get("body", b""), message.get("more_body", False)
            )
        elif kind == "http.response.start":
            if self.status:
                raise RuntimeError("ASGI: the response has already started")
            status = message["status"]
            if not isinstance(status, int) or not 200 <= status <= 999:
                raise RuntimeError(f"ASGI: invalid response status {status!r}")
            if self.error or self.connection.dead:
                raise ClientDisconnected("the client is gone")
            self.status = status
            self.response_headers = message.get("headers", ())
        else:
            raise RuntimeError(f"ASGI: unsupported message type {kind!r}")


class H1Connection:
    """Serves one connection (see the module docstring). ``run`` returns once the
    stream is closed; cancelling it cancels the request being served (its app sees
    ``trio.Cancelled``) and closes the stream at once."""

    def __init__(
        self,
        io: IO,
        app: ASGIApp,
        limits: H1Limits,
        registry: Registry,
        *,
        scheme: str,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
        state: dict[str, Any] | None = None,
    ) -> None:
        self._io = io
        self._app = app
        self._limits = limits
        self._body_limits = (limits.body_timeout, limits.min_rate)  # the app needs no timer
        self._max_headers = limits.max_headers
        self._registry = registry
        self._scheme = scheme
        self._client = client
        self._server = server
        self._state = state
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[_Request] = deque()
        self._incoming: _Request | None = None
        """The request being parsed (``None`` between requests)."""
        self._raw_left = 0
        """Body bytes of an upgrade request, read past the parser (see ``_upgraded``)."""
        self._raw_request: _Request | None = None
        self._unparsed = 0
        """Bytes fed without completing a head (or a chunked body's trailer)."""
        self._fed_body = False
        self._parse_failed = False
        self._reading = False
        self._read_done: trio.Event | None = None
        self.dead = False
        self._eof = False
        self.idle = False
        """Between two requests with no bytes of the next one yet: a connection the
        server may close to make room for another (a fresh one is not idle)."""

    # -- the connection's life -------------------------------------------------------

    async def run(self) -> None:
        """Serve requests until one side ends the connection; then close it."""
        try:
            if await self._serve():
                await self._linger()
        finally:
            await self._io.aclose()

    async def _serve(self) -> bool:
        """Serve requests in order; ``True`` when the client may still be sending."""
        fresh = True
        queue = self._queue
        registry = self._registry
        io = self._io
        while True:
            if not io.waited:  # a client with bytes always ready must not starve the rest
                await trio.lowlevel.checkpoint()
            io.waited = False
            if not queue and not await self._wait_for_head(fresh):
                return False
            fresh = False
            request = queue[0]
            self.idle = False
            if request.error:
                await self._answer_error(request)
                return True
            await self._exchange(request)
            request.response_complete = True  # a send kept past the app's return is refused
            queue.popleft()
            if self.dead:
                return False
            if not (request.keep_alive and request.complete) or registry.stopping:
                return bool(queue) or self._incoming is not None or not request.complete
            self.idle = not queue and self._incoming is None

    async def _wait_for_head(self, fresh: bool) -> bool:
        """Read until a request head is complete; ``False``: close the connection
        (end of input, a timeout, or the server is stopping)."""
        limits = self._limits
        registry = self._registry
        now = trio.current_time()
        if self._incoming is not None:
            deadline = now + limits.header_timeout
        else:
            deadline = now + (limits.header_timeout if fresh else limits.keepalive_timeout)
        head_started = self._incoming is not None
        while not self._queue:
            if self._eof or self.dead or self._parse_failed or registry.stopping:
                return False
            with trio.CancelScope(deadline=deadline) as scope:
                registry.waiting[self] = scope
                try:
                    data = await self._io.receive(READ_SIZE)
                finally:
                    del registry.waiting[self]
            if scope.cancelled_caught:
                if self._incoming is not None and not registry.stopping:
                    await self._write_error(
                        408, "Request Timeout: the request head came too slowly"
                    )
                return False
            if not data:
                self._eof = True
                return False
            self.idle = False
            self._feed(data)
            if not head_started:
                head_started = True
                deadline = trio.current_time() + limits.header_timeout
        return True

    async def _linger(self) -> None:
        """Half-close, then drop what the client still sends, briefly (see ``LINGER``)."""
        if self._eof or self.dead:
            return
        io = self._io
        with trio.move_on_after(LINGER):
            try:
                await io.send_eof()
            except PeerGone:
                return
            received = 0
            while received < LINGER_BYTES:
                data = await io.receive(READ_SIZE)
                if not data:
                    break
                received += len(data)

    # -- one exchange ----------------------------------------------------------------

    def _scope(self, request: _Request) -> dict[str, Any]:
        raw_path, query = _split_target(request.target)
        scope = {
            "type": "http",
            "asgi": _ASGI.copy(),
            "http_version": request.version,
            "method": request.method,
            "scheme": self._scheme,
            "path": _decode_path(raw_path),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": request.headers,
            "client": self._client,
            "server": self._server,
            "extensions": {BODY_LIMITS: self._body_limits},
        }
        if self._state is not None:
            scope["state"] = self._state.copy()
        return scope

    async def _exchange(self, request: _Request) -> None:
        """Run the app on ``request``; make sure the response ends, one way or another."""
        try:
            scope = self._scope(request)
        except (ValueError, UnicodeDecodeError):
            request.refuse(400, "Bad Request: invalid request target")
            await self._answer_error(request)
            return
        failed = False
        try:
            await self._app(scope, request.receive, request.send)
        except BaseException as exc:
            if not _is_app_failure(exc):
                raise
            failed = True
            if (self.dead or request.error) and _only_disconnects(exc):
                logger.debug("the app stopped at a write to a closed connection")
            else:
                logger.exception(
                    "the ASGI app failed on %s %s", request.method, request.target.decode("latin-1")
                )
        if request.response_complete or self.dead:
            return
        if request.head_written:
            # a response cut short can only be ended by closing the connection
            request.keep_alive = False
            if not failed and not request.error:
                logger.error("the ASGI app returned before its response was complete")
            return
        if request.error:
            await self._answer_error(request)
            return
        if not failed:
            logger.error("the ASGI app returned without a response")
        request.keep_alive = keep = (
            request.keep_alive and request.complete and not self._registry.stopping
        )
        await self._write_error(500, "Internal Server Error", close=not keep)

    # -- reading ---------------------------------------------------------------------

    async def _read(self, deadline: float) -> bool:
        """Read once and feed the parser; ``False`` on a timeout. Another task's read
        in progress is waited for instead (its bytes are as good)."""
        if self._reading:
            done = self._read_done
            if done is None:
                done = self._read_done = trio.Event()
            with trio.move_on_at(deadline):
                await done.wait()
            return True
        self._reading = True
        try:
            if deadline == math.inf:
                data = await self._io.receive(READ_SIZE)
            else:
                data = b""
                with trio.move_on_at(deadline) as scope:
                    data = await self._io.receive(READ_SIZE)
                if scope.cancelled_caught:
                    return False
        finally:
            self._reading = False
            if self._read_done is not None:
                self._read_done.set()
                self._read_done = None
        if data:
            self._feed(data)
        else:
            self._eof = True
            self._lost()
        return True

    async def read_body(self, request: _Request) -> None:
        """Wait for more of ``request``'s body (the body rule of the module docstring)."""
        if request.expect_continue and not request.continued and not request.head_written:
            request.continued = True
            try:
                await self._write(_CONTINUE)
            except ClientDisconnected:
                return  # ``receive`` says so: the connection is dead
        limits = self._limits
        now = trio.current_time()
        if request.body_started == math.inf:
            request.body_started = now
        deadline = min(
            now + limits.body_timeout,
            request.body_started + limits.body_timeout + request.body_size / limits.min_rate,
        )
        if not await self._read(deadline):
            request.refuse(408, "Request Timeout: the request body came too slowly")

    async def watch(self, request: _Request) -> None:
        """Wait until the client goes away or the response is complete (the body has
        been read: anything more the client sends belongs to a later request)."""
        scope = request.watch_scope = trio.CancelScope()
        with scope:
            while not (
                self._eof or self.dead or self._incoming is not None or len(self._queue) > 1
            ):
                await self._read(math.inf)
            await trio.sleep_forever()
        request.watch_scope = None
        # the app may have cancelled its watch as the response ended: honour that
        await trio.lowlevel.checkpoint_if_cancelled()

    # -- writing ---------------------------------------------------------------------

    async def _write(self, data: bytes, more: bool = False) -> None:
        """Write ``data``; ``ClientDisconnected`` when it cannot be. A write the kernel
        takes at once is no checkpoint, unless more of the response follows."""
        limits = self._limits
        try:
            waited = await self._io.send(data, limits.send_timeout + len(data) / limits.min_rate)
        except PeerGone as exc:
            self._lost()
            raise ClientDisconnected("the client is gone") from exc
        if more and not waited:
            await trio.lowlevel.cancel_shielded_checkpoint()

    def _lost(self) -> None:
        """Nothing more goes over this connection; a watching ``receive`` wakes up."""
        self.dead = True
        if self._queue:
            scope = self._queue[0].watch_scope
            if scope is not None:
                scope.cancel()

    async def write_body(self, request: _Request, body: bytes, more: bool) -> None:
        if request.head_written:
            head = b""
        else:
            head = self._head(request, body, more)
            request.head_written = True
        if request.no_body:
            data = b""
        elif request.out_chunked:
            data = _chunk(body, more)
        else:
            data = body
            if request.out_left is not None:
                request.out_left -= len(body)
                if request.out_left < 0 or (request.out_left and not more):
                    self._lost()
                    raise RuntimeError(
                        "ASGI: the body does not match the response's Content-Length"
                    )
        if head:
            if len(data) <= READ_SIZE:
                data = head + data
            else:  # a big body is not worth a copy
                await self._write(head, True)
        if data:
            await self._write(data, more)
        if not more:
            request.response_complete = True
            if request.watch_scope is not None:
                request.watch_scope.cancel()

    def _head(self, request: _Request, body: bytes, more: bool) -> bytes:
        """The response head; decides the framing and whether the connection stays."""
        status = request.status
        parts = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status]
        keep_alive = request.keep_alive and request.complete and not self._registry.stopping
        length: int | None = None
        dated = False
        fields = 0
        for name, value in request.response_headers:
            lower = name.lower()
            if lower in _RESPONSE_FIELDS:
                if lower == b"content-length":
                    length = int(value)
                elif lower == b"transfer-encoding":
                    continue  # the server frames the body itself
                elif lower == b"connection":
                    if b"close" in value.lower():
                        keep_alive = False
                    continue
                else:
                    dated = True
            parts += (name, b": ", value, b"\r\n")
            fields += 1
        no_body = request.no_body = request.method == "HEAD" or status in _NO_BODY_STATUSES
        if length is not None:
            request.out_left = None if no_body else length
        elif no_body:
            if request.method == "HEAD" and not more:
                parts.append(b"content-length: %d\r\n" % len(body))
        elif not more:
            parts.append(b"content-length: %d\r\n" % len(body))
        elif request.version == "1.1":
            request.out_chunked = True
            parts.append(_CHUNKED)
        else:
            keep_alive = False  # HTTP/1.0: the end of the body is the end of the connection
        if not dated:
            parts.append(_date_field())
        if not keep_alive:
            request.keep_alive = False
            parts.append(_CLOSE)
        elif request.version == "1.0":
            parts.append(_KEEP_ALIVE)
        parts.append(b"\r\n")
        head = b"".join(parts)
        # one line per field: a CR or LF inside a name or value would split the response
        lines = len(parts) - 3 * fields  # a field is four parts on one line
        if head.count(b"\n") != lines or head.count(b"\r") != lines:
            raise ValueError("ASGI: a response header contains CR or LF")
        return head

    async def _answer_error(self, request: _Request) -> None:
        request.keep_alive = False
        await self._write_error(request.error, request.reason)

    async def _write_error(self, status: int, reason: str, *, close: bool = True) -> None:
        """A response of the server's own (the connection closes after it, unless told)."""
        body = reason.encode()
        head = b"%scontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n%s%s\r\n" % (
            _STATUS_LINES[status],
            len(body),
            _date_field(),
            _CLOSE if close else b"",
        )
        with contextlib.suppress(ClientDisconnected):
            await self._write(head + body)

    # -- parsing ---------------------------------------------------------------------

    def _feed(self, data: bytes | bytearray) -> None:
        if self._raw_left:
            data = self._take_raw_body(data)
        while data and not self._parse_failed:
            self._fed_body = False
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade as upgrade:
                data = self._upgraded(data[upgrade.args[0] :])
                continue
            except httptools.HttpParserError as error:
                self._parse_error(error)
                return
            break
        incoming = self._incoming
        if incoming is not None and not self._parse_failed:
            if incoming.head_done and (self._fed_body or not incoming.chunked):
                self._unparsed = 0
                return
            # an unfinished head, or a chunked body's trailer: bounded all the same
            self._unparsed += len(data)
            if self._unparsed > self._limits.max_head_size + READ_SIZE:
                self._parse_failed = True
                if incoming.head_done:
                    incoming.refuse(400, "Bad Request: the trailer section is too large")
                else:
                    incoming.refuse(431, "Request Header Fields Too Large")
                    self._queue.append(incoming)
                self._wake_reader()

    def _upgraded(self, rest: bytes | bytearray) -> bytes | bytearray:
        """llhttp stopped after the head of an upgrade request (or CONNECT). Upgrades
        are not offered: the request is served as plain HTTP/1.1 (RFC 9110 7.8), its
        body read past the parser; what follows it is parsed again."""
        request = self._queue[-1]
        if request.method == "CONNECT":
            request.refuse(405, "Method Not Allowed")
        elif request.chunked:
            request.refuse(501, "Not Implemented: a chunked body with an Upgrade request")
        if request.error:
            self._parse_failed = True
            return b""
        length = int(request.content_length or b"0")
        if length:
            request.complete = False
            self._raw_left = length
            self._raw_request = request
            self._incoming = request
            rest = self._take_raw_body(rest)
        return rest

    def _take_raw_body(self, data: bytes | bytearray) -> bytes | bytearray:
        request = self._raw_request
        assert request is not None
        size = min(len(data), self._raw_left)
        if size:
            self._raw_left -= size
            try:
                self.on_body(bytes(data[:size]))
            except _Refused:
                self._parse_failed = True
                return b""
        if not self._raw_left:
            self._raw_request = None
            self.on_message_complete()
        return data[size:]

    def _parse_error(self, error: httptools.HttpParserError) -> None:
        self._parse_failed = True
        request = self._incoming
        if request is None:
            request = _Request(self)
        if not request.error:
            if isinstance(error, httptools.HttpParserCallbackError) and not isinstance(
                error.__context__, _Refused
            ):
                logger.error("HTTP/1.1 parser callback failed", exc_info=error)
            message = str(error) or "malformed request"
            request.refuse(400, f"Bad Request: {message}")
        if not request.head_done:
            request.head_done = True
            self._queue.append(request)
        self._wake_reader()

    def _wake_reader(self) -> None:
        """The request being served cannot get more body: let its ``receive`` know."""
        if self._queue and self._queue[0].watch_scope is not None:
            self._queue[0].watch_scope.cancel()

    # The llhttp callbacks. They run inside ``feed_data``; raising ``_Refused`` stops
    # the parser for good (the request says why).

    def on_message_begin(self) -> None:
        self._incoming = _Request(self)
        self._unparsed = 0

    def on_url(self, url: bytes) -> None:
        request = self._incoming
        assert request is not None
        request.target += url
        request.head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self._incoming
        assert request is not None
        request.head_size += len(name) + len(value) + 4
        if request.head_done:  # a trailer field: counted, not kept
            return
        headers = request.headers
        if len(headers) >= self._max_headers:
            request.refuse(431, "Request Header Fields Too Large: too many fields")
            self._queue.append(request)
            request.head_done = True
            raise _Refused
        name = name.lower()
        value = value.rstrip(b" \t")  # llhttp drops the whitespace before a value only
        if name in _REQUEST_FIELDS:
            if name == b"host":
                request.hosts += 1
            elif name == b"content-length":
                request.content_length = value
            elif name == b"transfer-encoding":
                request.chunked = True
            elif value.lower() == b"100-continue":
                request.expect_continue = True
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        request = self._incoming
        assert request is not None
        parser = self._parser
        request.head_done = True
        self._queue.append(request)
        method = parser.get_method()
        request.method = _METHODS.get(method) or method.decode("ascii")
        version = request.version = parser.get_http_version()
        request.keep_alive = parser.should_keep_alive()
        limits = self._limits
        if request.head_size > limits.max_head_size:
            request.refuse(431, "Request Header Fields Too Large")
        elif version != "1.1" and version != "1.0":
            request.refuse(505, "HTTP Version Not Supported")
        elif request.hosts > 1 or (request.hosts == 0 and version == "1.1"):
            request.refuse(400, "Bad Request: a request needs exactly one Host field")
        elif request.content_length is not None and int(request.content_length) > (
            limits.max_body_size
        ):
            request.refuse(413, "Content Too Large")
        else:
            request.expect_continue = request.expect_continue and version == "1.1"
            return
        raise _Refused

    def on_body(self, body: bytes) -> None:
        request = self._incoming
        assert request is not None
        self._fed_body = True
        request.body_size += len(body)
        if request.body_size > self._limits.max_body_size:
            request.refuse(413, "Content Too Large")
            self._wake_reader()
            raise _Refused
        request.chunks.append(body)

    def on_message_complete(self) -> None:
        request = self._incoming
        assert request is not None
        request.complete = True
        self._incoming = None


def _chunk(body: bytes, more: bool) -> bytes:
    """``body`` in the chunked transfer coding (the last chunk too, unless ``more``)."""
    if body:
        data = b"%x\r\n%s\r\n" % (len(body), body)
        return data if more else data + _LAST_CHUNK
    return b"" if more else _LAST_CHUNK


def _is_app_failure(exc: BaseException) -> bool:
    """Whether an exception out of the app is the app's failure (to log and answer)
    rather than a cancellation or an interrupt to pass on."""
    if isinstance(exc, Exception):
        return True
    if isinstance(exc, BaseExceptionGroup):
        failures, others = exc.split(Exception)
        if failures is None:
            return False
        # cancellations beside the failure come back at the next checkpoint
        return others is None or others.split(trio.Cancelled)[1] is None
    return False


def _only_disconnects(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_disconnects(e) for e in exc.exceptions)
    return isinstance(exc, ClientDisconnected)
