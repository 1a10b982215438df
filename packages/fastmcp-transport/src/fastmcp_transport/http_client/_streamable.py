"""Streamable HTTP, client side, in both protocol eras, on httpx under trio.

Theory of operation. Every frame the session sends is one POST to the MCP endpoint.

* A request starts an *exchange*: a task in the transport's nursery, under its own
  cancel scope, that POSTs the frame and reads the answer - one JSON body, or an SSE
  stream of notifications (and, before 2026-07-28, server requests) ending with the
  response. Every frame read goes to ``receive()``. ``send`` returns as soon as the
  exchange is started, so the session's timeouts and cancellation cover the whole
  wait. An exchange always ends in the response being delivered: when HTTP fails
  it without one (an error status, a lost connection, a stream that ends early), the
  transport delivers a JSON-RPC error response in its place, so no caller waits
  forever. A JSON-RPC error in an error body (whose ``id`` servers often leave
  ``null``) is delivered, addressed to the request, with the server's code.
* A notification or a response (the client answering a server request) is POSTed
  within ``send``, which waits for the ``202``. Whatever body comes with a success
  is ignored (some servers answer a notification with ``200`` and a JSON body that
  answers nothing); an error status is logged. HTTP has no connection to lose, so
  a notification that cannot be delivered is logged and dropped, not fatal.
* Cancellation. The session cancels a request by sending ``notifications/cancelled``
  with ``related=<id>, final=True``. For a modern request (2026-07-28), closing the
  request's response stream *is* the cancellation: the exchange is cancelled (its
  connection closes) and nothing is POSTed. For a legacy request a disconnect is
  not a cancellation, so the notification is POSTed first, then the stream closed.
  A cancelled exchange delivers nothing more.

The two eras. ``era="auto"`` (the default) decides per request: a request whose
``params._meta`` carries ``io.modelcontextprotocol/protocolVersion`` of 2026-07-28 or
later is sent the modern way, anything else (``initialize`` and what follows it)
the legacy way; ``"modern"``/``"legacy"`` force one. A client layer that probes
modern first and falls back to ``initialize`` (as the specification's backward
compatibility section describes) needs no switch. Modern POSTs carry
``MCP-Protocol-Version`` (copied from ``_meta``), and never a session id. Legacy
POSTs carry ``Mcp-Session-Id`` (taken from the response to ``initialize``) and
``MCP-Protocol-Version`` once known: the transport reads it from the ``initialize``
result, and the client layer may set ``protocol_version`` itself. Every POST carries
``Mcp-Method`` and, for ``tools/call``, ``prompts/get`` and ``resources/read``,
``Mcp-Name`` (required in 2026-07-28, harmless before; the task id for the tasks
extension's ``tasks/get``, ``tasks/update`` and ``tasks/cancel``), plus the ``Mcp-Param-*``
headers of tools registered with ``register_tool``.

Legacy only: after ``notifications/initialized`` is accepted, and when the server
gave a session id, a standalone GET stream is opened for server-initiated messages
before the next message is sent (``standalone_stream=False`` turns it off; a ``405``
or any other refusal quietly means there is none): servers that drop what they
cannot send on it would otherwise lose requests made right away. A response stream that drops after the server sent an event
id is resumed with GET and ``Last-Event-ID``, after waiting the server's ``retry``
interval counted from the moment the stream ended (``default_retry`` when it gave
none), at most ``max_reconnects`` times in a row without progress. A ``404`` to a
request that carried the session id closes the transport with ``SessionExpired``.
Closing the transport DELETEs the session (a ``405`` is fine).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
import httpx
import msgspec
import trio

from fastmcp_core import CONNECTION_CLOSED, TransportClosed
from fastmcp_protocol import (
    INTERNAL_ERROR,
    LATEST_PROTOCOL_VERSION,
    UNSET,
    RequestId,
    is_modern,
)
from fastmcp_transport._http_common import (
    HEADER_LAST_EVENT_ID,
    HEADER_METHOD,
    HEADER_NAME,
    HEADER_PROTOCOL_VERSION,
    HEADER_SESSION_ID,
)
from fastmcp_transport._sse import SSEParser
from fastmcp_transport.http_client._frames import (
    Outgoing,
    error_frame,
    http_error_frame,
    peek_incoming,
    peek_outgoing,
    reply_error_frame,
)
from fastmcp_transport.http_client._headers import (
    ParamHeader,
    encode_header_value,
    param_header_value,
    tool_param_headers,
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

__all__ = ["Era", "StreamableHttpTransport", "streamable_http_client"]

logger = logging.getLogger("fastmcp.http")

Era = Literal["auto", "modern", "legacy"]
"""How requests are sent: decided per request from its ``_meta`` (``auto``), or forced."""

_NAMED_METHODS = frozenset(
    {"tools/call", "prompts/get", "resources/read", "tasks/get", "tasks/update", "tasks/cancel"}
)
"""Methods whose ``Mcp-Name`` header names what they act on (the tasks extension's
methods name their ``taskId``)."""
_DRAIN_GRACE = 1.0
"""Seconds to let a server end a response stream after the response, so that the
connection can be reused; then the stream is closed by the client."""
_CLOSE_TIMEOUT = 5.0
_STANDALONE_WAIT = 5.0
"""Seconds the session waits for the server to answer its GET stream before going on."""


class _InitializeResult(msgspec.Struct, gc=False):
    protocol_version: Any = msgspec.field(default=None, name="protocolVersion")


class _InitializeReply(msgspec.Struct, gc=False):
    result: _InitializeResult | None = None


_initialize_reply = msgspec.json.Decoder(_InitializeReply)


@attrs.define(eq=False, slots=True)
class _Exchange:
    """One request in flight: its POST and the stream its answer comes on."""

    id: RequestId
    method: str
    modern: bool
    session_id: str | None
    """The session id the POST carried (a 404 then means that session is gone)."""
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    answered: bool = False
    cancelled: bool = False


@attrs.define(eq=False)
class StreamableHttpTransport:
    """A ``fastmcp_core.Transport`` to one Streamable HTTP endpoint; made by
    ``streamable_http_client``, which owns its background tasks.

    ``protocol_version`` is the version legacy requests announce in
    ``MCP-Protocol-Version``: learnt from the ``initialize`` result, settable by the
    client layer (for example to the version it accepted). ``param_headers`` maps a
    tool name to its ``Mcp-Param-*`` rules (see ``register_tool``).
    """

    url: str
    _client: httpx.AsyncClient
    _nursery: trio.Nursery
    _inbox_writer: trio.MemorySendChannel[bytes]
    _inbox: trio.MemoryReceiveChannel[bytes]
    auth: httpx.Auth | None = None
    era: Era = "auto"
    protocol_version: str | None = None
    standalone_stream: bool = True
    max_reconnects: int = 3
    default_retry: float = 1.0
    timeout: float | None = 30.0
    param_headers: dict[str, tuple[ParamHeader, ...]] = attrs.field(factory=dict)
    headers: Mapping[str, str] | None = None
    _target: httpx.URL = attrs.field(init=False)
    _session_id: str | None = attrs.field(init=False, default=None)
    _post_headers: dict[str, str] = attrs.field(init=False)
    _get_headers: dict[str, str] = attrs.field(init=False)
    _short_timeout: httpx.Timeout = attrs.field(init=False)
    _stream_timeout: httpx.Timeout = attrs.field(init=False)
    _exchanges: dict[RequestId, _Exchange] = attrs.field(init=False, factory=dict)
    _listener: trio.CancelScope | None = attrs.field(init=False, default=None)
    _last_modern: bool = attrs.field(init=False, default=False)
    _closed: TransportClosed | None = attrs.field(init=False, default=None)
    _shut: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._target = parse_url(self.url)
        self._post_headers = base_headers(self.headers, f"{JSON}, {EVENT_STREAM}")
        self._post_headers["content-type"] = JSON
        self._get_headers = base_headers(self.headers, EVENT_STREAM)
        self._short_timeout, self._stream_timeout = timeouts(self.timeout)

    # -- what the client layer sees ----------------------------------------------------

    @property
    def session_id(self) -> str | None:
        """The legacy session id the server gave at ``initialize``, if any."""
        return self._session_id

    def register_tool(self, name: str, input_schema: Mapping[str, Any]) -> None:
        """Read the ``x-mcp-header`` annotations of a listed tool, once.

        Later ``tools/call`` requests for ``name`` carry one ``Mcp-Param-*`` header per
        annotated argument they have (``null`` and absent arguments send none). Raises
        ``InvalidParamHeader`` when the annotations are invalid; the specification then
        wants the tool left out of the client's tool list, and any rules registered
        before under that name are forgotten.
        """
        self.param_headers.pop(name, None)
        rules = tool_param_headers(input_schema)
        if rules:
            self.param_headers[name] = rules

    # -- the Transport protocol --------------------------------------------------------

    async def receive(self) -> bytes:
        try:
            return await self._inbox.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise self._closed_error() from None

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        """POST one frame (see the module docstring for what follows).

        A request returns as soon as its exchange has started; a notification or a
        response when the server has acknowledged it (cancelling the caller then
        abandons that POST: the server may or may not have the message). Raises
        ``TransportClosed`` (``SessionExpired`` when the session is gone) once the
        transport is closed.
        """
        if self._closed is not None:
            raise self._closed_error()
        if not frame:
            return  # an empty final frame: nothing to write, no stream of ours to end
        out = peek_outgoing(frame)
        request_id = out.request_id()
        if request_id is not None:
            self._start(request_id, out, frame)
            return
        if out.method == "notifications/cancelled":
            target = related if related is not None else out.cancelled_id()
            exchange = self._exchanges.get(target) if target is not None else None
            modern = exchange.modern if exchange is not None else self._last_modern
            if exchange is not None:
                exchange.cancelled = True  # from now on nothing of it is delivered
            if not modern:
                await self._post_message(out, frame)
            if exchange is not None:
                exchange.scope.cancel()
            return
        await self._post_message(out, frame)

    async def aclose(self) -> None:
        """Cancel every exchange (closing its stream) and the standalone stream,
        make pending ``receive`` calls raise ``TransportClosed``, and DELETE the
        legacy session (errors ignored, bounded by ``timeout``). Idempotent."""
        if self._shut:
            return
        self._shut = True
        if self._closed is None:
            self._closed = TransportClosed(f"the connection to {self.url} was closed")
        self._stop_everything()
        self._inbox.close()
        session_id, self._session_id = self._session_id, None
        if session_id is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(self._close_wait()):
                await self._delete_session(session_id)

    # -- sending -----------------------------------------------------------------------

    def _is_modern(self, out: Outgoing) -> bool:
        if self.era != "auto":
            return self.era == "modern"
        version = out.meta_version()
        return version is not None and is_modern(version)

    def _headers_for(self, out: Outgoing, modern: bool) -> dict[str, str]:
        headers = dict(self._post_headers)
        method = out.method
        if method is not UNSET:
            headers[HEADER_METHOD] = method
            if method in _NAMED_METHODS:
                name = out.routed_name()
                if name is not None:
                    headers[HEADER_NAME] = encode_header_value(name)
                    if method == "tools/call" and name in self.param_headers:
                        self._add_param_headers(headers, self.param_headers[name], out)
        if modern:
            version = out.meta_version() or self.protocol_version or LATEST_PROTOCOL_VERSION
            headers[HEADER_PROTOCOL_VERSION] = version
        elif method != "initialize":
            if self.protocol_version is not None:
                headers[HEADER_PROTOCOL_VERSION] = self.protocol_version
            if self._session_id is not None:
                headers[HEADER_SESSION_ID] = self._session_id
        return headers

    @staticmethod
    def _add_param_headers(
        headers: dict[str, str], rules: Iterable[ParamHeader], out: Outgoing
    ) -> None:
        params = out.params
        if params is UNSET or params.arguments is UNSET:
            return
        try:
            arguments = msgspec.json.decode(params.arguments)
        except msgspec.DecodeError:
            return
        for rule in rules:
            value: Any = arguments
            for key in rule.path:
                value = value.get(key) if isinstance(value, dict) else None
            text = param_header_value(value)
            if text is not None:
                headers[rule.name] = text

    def _start(self, request_id: RequestId, out: Outgoing, frame: bytes) -> None:
        assert out.method is not UNSET
        modern = self._is_modern(out)
        self._last_modern = modern
        headers = self._headers_for(out, modern)
        exchange = _Exchange(
            request_id, out.method, modern, None if modern else headers.get(HEADER_SESSION_ID)
        )
        # registered before the task starts: a cancellation sent right away finds it
        self._exchanges[request_id] = exchange
        self._nursery.start_soon(self._run_exchange, exchange, frame, headers)

    async def _post_message(self, out: Outgoing, frame: bytes) -> None:
        """POST a notification or a response; wait for the acknowledgement."""
        modern = self._is_modern(out)
        headers = self._headers_for(out, modern)
        what = out.method if out.method is not UNSET else "response"
        try:
            async with self._client.stream(
                "POST",
                self._target,
                content=frame,
                headers=headers,
                timeout=self._short_timeout,
                auth=self.auth or httpx.USE_CLIENT_DEFAULT,
            ) as response:
                if content_type(response) != EVENT_STREAM:
                    await response.aread()  # so the connection can be reused
                status = response.status_code
        except httpx.HTTPError as exc:
            logger.warning("POST %s (%s) failed: %s", self.url, what, describe(exc))
            return
        if status == 404 and not modern and HEADER_SESSION_ID in headers:
            self._expire(headers[HEADER_SESSION_ID])
            raise self._closed_error()
        if status >= 400:
            logger.warning("POST %s (%s): HTTP %d", self.url, what, status)
            return
        if out.method == "notifications/initialized" and not modern:
            await self._open_standalone_stream()

    # -- exchanges ---------------------------------------------------------------------

    async def _run_exchange(
        self, exchange: _Exchange, frame: bytes, headers: dict[str, str]
    ) -> None:
        try:
            with exchange.scope:
                await self._exchange(exchange, frame, headers)
        except Exception as exc:  # a bug must not take the transport's nursery down
            logger.exception("exchange for %s %r failed", exchange.method, exchange.id)
            await self._fail(exchange, f"{exchange.method} failed in the transport: {exc!r}")
        finally:
            if self._exchanges.get(exchange.id) is exchange:
                del self._exchanges[exchange.id]

    async def _exchange(self, exchange: _Exchange, frame: bytes, headers: dict[str, str]) -> None:
        parser = SSEParser()
        try:
            async with self._client.stream(
                "POST",
                self._target,
                content=frame,
                headers=headers,
                timeout=self._stream_timeout,
                auth=self.auth or httpx.USE_CLIENT_DEFAULT,
            ) as response:
                if exchange.method == "initialize":
                    self._session_id = response.headers.get(HEADER_SESSION_ID)
                kind = content_type(response)
                if not response.is_success:
                    await self._answer_http_error(exchange, response)
                    return
                if kind == JSON:
                    await self._answer_json(exchange, await response.aread())
                    return
                if kind != EVENT_STREAM:
                    await self._fail(
                        exchange,
                        f"the server answered {exchange.method} with HTTP "
                        f"{response.status_code} and no response "
                        f"(content type {kind or 'none'!r})",
                        INTERNAL_ERROR,
                        {"httpStatus": response.status_code},
                    )
                    return
                await self._read_stream(exchange, response, parser, drain=True)
                if exchange.answered:
                    return
        except httpx.HTTPError as exc:
            if exchange.answered:
                return
            if exchange.modern or parser.last_event_id is None:
                await self._fail(exchange, f"POST {self.url} ({exchange.method}): {describe(exc)}")
                return
        if exchange.modern or parser.last_event_id is None:
            await self._fail(
                exchange,
                f"the server ended the response stream of {exchange.method} without a response",
            )
            return
        await self._resume(exchange, parser)

    async def _read_stream(
        self, exchange: _Exchange, response: httpx.Response, parser: SSEParser, *, drain: bool
    ) -> int:
        """Deliver the stream's messages until it ends or (``drain`` aside) answers.

        Returns how many frames were delivered. With ``drain``, the stream is read on
        (its events ignored) for a short grace after the response, so that a server
        that ends it at once leaves a reusable connection.

        Reading stops by cancelling ``reading`` and going on until the cancellation
        lands inside httpx's body iterators: abandoning them half-way would leave
        them to the garbage collector.
        """
        delivered = 0
        with trio.CancelScope() as reading:
            async for event in sse_events(response, parser):
                if exchange.answered or exchange.cancelled or not is_message(event):
                    continue  # after the response (or the cancellation) nothing is ours
                frame = event.data.encode()
                peek = peek_incoming(frame)
                if peek is not None and peek.answers(exchange.id):
                    exchange.answered = True
                    if exchange.method == "initialize":
                        self._learn_version(frame)
                if not await self._deliver(frame):
                    reading.cancel()
                    continue
                delivered += 1
                if exchange.answered:
                    if drain:
                        reading.deadline = trio.current_time() + _DRAIN_GRACE
                    else:
                        reading.cancel()
        return delivered

    async def _resume(self, exchange: _Exchange, parser: SSEParser) -> None:
        """Reconnect a dropped legacy response stream with GET and ``Last-Event-ID``."""
        ended = trio.current_time()
        attempts = 0
        while True:
            if attempts >= self.max_reconnects:
                await self._fail(
                    exchange,
                    f"the response stream of {exchange.method} was lost; "
                    f"{attempts} attempts to resume it failed",
                )
                return
            attempts += 1
            wait = parser.retry / 1000 if parser.retry is not None else self.default_retry
            await trio.sleep_until(ended + wait)
            last_event_id = parser.last_event_id
            assert last_event_id is not None
            headers = self._stream_headers(last_event_id)
            # a new stream: nothing half-read carries over, the cursor and interval do
            parser = SSEParser(last_event_id=last_event_id, retry=parser.retry)
            delivered = 0
            try:
                async with self._client.stream(
                    "GET",
                    self._target,
                    headers=headers,
                    timeout=self._stream_timeout,
                    auth=self.auth or httpx.USE_CLIENT_DEFAULT,
                ) as response:
                    kind = content_type(response)
                    if not response.is_success or kind != EVENT_STREAM:
                        body = await response.aread()
                        if response.status_code == 404 and exchange.session_id is not None:
                            self._expire(exchange.session_id)
                            return
                        excerpt = body[:200].decode("utf-8", "replace").strip()
                        await self._fail(
                            exchange,
                            f"the response stream of {exchange.method} was lost and could not "
                            f"be resumed: HTTP {response.status_code} {response.reason_phrase} "
                            f"({kind or 'no content type'}) from GET {self.url}: {excerpt}",
                        )
                        return
                    delivered = await self._read_stream(exchange, response, parser, drain=False)
                    if exchange.answered:
                        return
            except httpx.HTTPError as exc:
                logger.debug("resuming %s %r: %s", exchange.method, exchange.id, describe(exc))
            if delivered or parser.last_event_id != last_event_id:
                attempts = 0  # progress: the server is there, it just polls
            ended = trio.current_time()

    def _stream_headers(self, last_event_id: str | None) -> dict[str, str]:
        headers = dict(self._get_headers)
        if self._session_id is not None:
            headers[HEADER_SESSION_ID] = self._session_id
        if self.protocol_version is not None:
            headers[HEADER_PROTOCOL_VERSION] = self.protocol_version
        if last_event_id is not None:
            headers[HEADER_LAST_EVENT_ID] = last_event_id
        return headers

    async def _answer_json(self, exchange: _Exchange, body: bytes) -> None:
        peek = peek_incoming(body)
        if peek is not None and peek.answers(exchange.id):
            exchange.answered = True
            if exchange.method == "initialize":
                self._learn_version(body)
            await self._deliver(body)
            return
        frame = reply_error_frame(exchange.id, body)
        if frame is not None:
            exchange.answered = True
            await self._deliver(frame)
            return
        excerpt = body[:200].decode("utf-8", "replace")
        await self._fail(
            exchange,
            f"the server answered {exchange.method} with JSON that is not its response: {excerpt}",
            INTERNAL_ERROR,
        )

    async def _answer_http_error(self, exchange: _Exchange, response: httpx.Response) -> None:
        body = await response.aread()
        status = response.status_code
        if status == 404 and exchange.session_id is not None:
            self._expire(exchange.session_id)
            return
        frame = reply_error_frame(exchange.id, body) if status >= 400 else None
        if frame is None:
            frame = http_error_frame(
                exchange.id, "POST", self.url, status, response.reason_phrase, body
            )
        if not exchange.cancelled and not exchange.answered:
            exchange.answered = True
            await self._deliver(frame)

    def _learn_version(self, frame: bytes) -> None:
        try:
            reply = _initialize_reply.decode(frame)
        except msgspec.DecodeError:
            return
        if reply.result is not None and isinstance(reply.result.protocol_version, str):
            self.protocol_version = reply.result.protocol_version

    async def _fail(
        self, exchange: _Exchange, message: str, code: int = CONNECTION_CLOSED, data: Any = UNSET
    ) -> None:
        """Answer the exchange's request with an error, unless it has its answer or
        was cancelled (its caller is gone)."""
        if exchange.answered or exchange.cancelled:
            return
        exchange.answered = True
        await self._deliver(error_frame(exchange.id, code, message, data))

    async def _deliver(self, frame: bytes) -> bool:
        try:
            await self._inbox_writer.send(frame)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    # -- the standalone stream (legacy) ------------------------------------------------

    async def _open_standalone_stream(self) -> None:
        """Open the GET stream; return once the server answered it (or a while
        passed: a server that holds the headers back must not stall the session)."""
        if (
            self.standalone_stream
            and self._listener is None
            and self._session_id is not None
            and self._closed is None
        ):
            self._listener = trio.CancelScope()
            answered = trio.Event()
            self._nursery.start_soon(self._listen, self._listener, answered)
            with trio.move_on_after(_STANDALONE_WAIT):
                await answered.wait()

    async def _listen(self, scope: trio.CancelScope, answered: trio.Event) -> None:
        """Read server-initiated messages from GET streams while the server keeps
        them coming (reconnecting with ``Last-Event-ID`` when it asked for it).
        ``answered`` is set once the first GET has its answer (or failed)."""
        parser = SSEParser()
        attempts = 0
        with scope:
            while True:
                last_event_id = parser.last_event_id
                delivered = 0
                try:
                    async with self._client.stream(
                        "GET",
                        self._target,
                        headers=self._stream_headers(last_event_id),
                        timeout=self._stream_timeout,
                        auth=self.auth or httpx.USE_CLIENT_DEFAULT,
                    ) as response:
                        answered.set()
                        if not response.is_success or content_type(response) != EVENT_STREAM:
                            logger.debug(
                                "no standalone SSE stream at %s: HTTP %d",
                                self.url,
                                response.status_code,
                            )
                            return
                        with trio.CancelScope() as reading:
                            async for event in sse_events(response, parser):
                                if reading.cancel_called or not is_message(event):
                                    continue
                                if await self._deliver(event.data.encode()):
                                    delivered += 1
                                else:
                                    reading.cancel()  # closing: see _read_stream
                except httpx.HTTPError as exc:
                    logger.debug("standalone SSE stream at %s: %s", self.url, describe(exc))
                finally:
                    answered.set()
                if parser.last_event_id is None and parser.retry is None:
                    return  # the server did not ask to be polled: its stream is over
                attempts = 0 if delivered or parser.last_event_id != last_event_id else attempts
                attempts += 1
                if attempts > self.max_reconnects:
                    logger.warning("gave up reconnecting the standalone SSE stream at %s", self.url)
                    return
                await trio.sleep(
                    parser.retry / 1000 if parser.retry is not None else self.default_retry
                )
                parser = SSEParser(last_event_id=parser.last_event_id, retry=parser.retry)

    # -- closing -----------------------------------------------------------------------

    def _closed_error(self) -> TransportClosed:
        closed = self._closed or TransportClosed(f"the connection to {self.url} was closed")
        if isinstance(closed, SessionExpired):
            return SessionExpired(str(closed), closed.session_id)
        return TransportClosed(str(closed))

    def _expire(self, session_id: str) -> None:
        """The server forgot the session: close for good, after the frames received."""
        if self._closed is not None:
            return
        self._closed = SessionExpired(
            f"the server at {self.url} ended session {session_id} (HTTP 404); start a new session",
            session_id,
        )
        self._session_id = None
        self._stop_everything()
        self._inbox_writer.close()  # receive() drains what came, then raises SessionExpired

    def _stop_everything(self) -> None:
        for exchange in self._exchanges.values():
            exchange.cancelled = True
            exchange.scope.cancel()
        if self._listener is not None:
            self._listener.cancel()

    def _close_wait(self) -> float:
        return _CLOSE_TIMEOUT if self.timeout is None else min(self.timeout, _CLOSE_TIMEOUT)

    async def _delete_session(self, session_id: str) -> None:
        headers = dict(self._get_headers)
        headers[HEADER_SESSION_ID] = session_id
        if self.protocol_version is not None:
            headers[HEADER_PROTOCOL_VERSION] = self.protocol_version
        try:
            response = await self._client.request(
                "DELETE",
                self._target,
                headers=headers,
                timeout=self._short_timeout,
                auth=self.auth or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            logger.debug("DELETE %s: %s", self.url, describe(exc))
            return
        if response.status_code >= 400 and response.status_code != 405:
            logger.debug("DELETE %s: HTTP %d", self.url, response.status_code)


@asynccontextmanager
async def streamable_http_client(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    http_client: httpx.AsyncClient | None = None,
    timeout: float | None = 30.0,
    era: Era = "auto",
    protocol_version: str | None = None,
    standalone_stream: bool = True,
    max_reconnects: int = 3,
    default_retry: float = 1.0,
    max_buffer: int = 1024,
) -> AsyncIterator[StreamableHttpTransport]:
    """A transport to the Streamable HTTP endpoint at ``url`` (both protocol eras).

    ``headers`` go on every request (the transport's own ``Accept``,
    ``Content-Type`` and MCP headers win over them). ``auth`` is an ``httpx.Auth``
    applied to every request (bearer tokens, OAuth: a 401 is its to answer).
    ``http_client`` is used as it is and left open; without one the transport makes
    its own (TLS verification by httpx's defaults) and closes it on exit.
    ``timeout`` bounds connecting and short answers, not the wait for a response (see
    ``fastmcp_transport.http_client``). ``era``, ``protocol_version``,
    ``standalone_stream``, ``max_reconnects`` and ``default_retry`` (seconds) are
    described in the module docstring. ``max_buffer`` bounds the frames received
    and not yet taken by ``receive``; when full, the streams wait.

    Nothing is sent on entry: the first ``send`` makes the first request. On exit
    the transport is closed (``aclose``) and its tasks have ended.
    """
    short, _ = timeouts(timeout)
    writer, inbox = trio.open_memory_channel[bytes](max_buffer)
    async with http_client_for(http_client, short) as client, background_nursery() as nursery:
        transport = StreamableHttpTransport(
            url,
            client,
            nursery,
            writer,
            inbox,
            auth=auth,
            era=era,
            protocol_version=protocol_version,
            standalone_stream=standalone_stream,
            max_reconnects=max_reconnects,
            default_retry=default_retry,
            timeout=timeout,
            headers=headers,
        )
        try:
            yield transport
        finally:
            await transport.aclose()
