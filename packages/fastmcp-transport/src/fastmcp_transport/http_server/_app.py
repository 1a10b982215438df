"""``StreamableHTTPApp``: the ASGI app that serves MCP over HTTP, both eras at once.

Theory of operation. Every HTTP request goes through the same gate: DNS-rebinding
protection (403), then the path: the MCP endpoint, and the two endpoints of the
2024-11-05 HTTP+SSE transport (``sse_path`` and ``messages_path``). On the MCP
endpoint a POST passes ``Content-Type`` (415), ``Accept`` (406), the body limit (413)
and JSON-RPC parsing (400 with -32700/-32600), and is then told apart by era:

1. ``Mcp-Session-Id`` present: a legacy session's request (unknown id: 404);
2. else an ``MCP-Protocol-Version`` header that is not a legacy version, or a body
   whose ``_meta`` carries ``io.modelcontextprotocol/protocolVersion``: a modern
   (2026-07-28) request, served statelessly: one transport for this POST alone;
3. else legacy: ``initialize`` opens a session; anything else is 400 (no session),
   or, with ``stateless=True``, is served on a transport of its own.

GET and DELETE exist only for legacy sessions: without ``Mcp-Session-Id`` they get
405 (the modern answer). Every request naming a legacy session (or an HTTP+SSE
stream) must carry the principal that opened it, when an authorization layer in
front of the app authenticates requests (``SCOPE_PRINCIPAL``); another principal
gets 403, and the same principal's newer token replaces the session's (see
``HttpConnectionInfo``). A modern request is cancelled when its client closes the
response; a legacy one is not (its client sends ``notifications/cancelled``).

How an answer is written, and when HTTP statuses other than 200 are used for
JSON-RPC errors, is described in ``_oneshot`` (JSON or SSE), ``_modern`` (the
status table) and ``_sessions`` (legacy streams). Nothing escapes the ASGI boundary:
an unexpected exception is logged and answered with 500 and a generic JSON-RPC
error (or ends a response already under way), never with a traceback.

The app needs a task group for legacy sessions, which outlive the requests that
open them (and the owner of ``connect`` may need something running: ``runs_with``,
a ``Server``'s lifespan): ``serve_http`` provides one, an ASGI server that runs the
lifespan protocol starts one, a host framework's lifespan hook can
(``FastAPI(lifespan=app.lifespan)``, or ``async with app.running():`` in one), and
otherwise the first request starts it, in a trio system task that ends gracefully
when the trio run ends (and the first request of a later run starts it again). Modern requests and HTTP+SSE streams run in the task of
their own request and need none.

Any ASGI server runs the app. On trio (hypercorn's trio worker, ``serve_h1``) it
runs as it is; on asyncio (uvicorn, hypercorn's asyncio worker, FastAPI or
Starlette on them) every call runs in a trio guest run on the host's loop
(``_guest``): a dropped connection or a cancelled ASGI call cancels the request's
work, and the host's shutdown (its lifespan, or its loop's end) ends the app.

Shutting down (``shutdown``): from the first moment every new HTTP request is
refused with 503 (``Connection: close``), legacy GET streams end with a retry hint,
and the work in flight gets ``shutdown_grace`` seconds: the owner of ``connect``
drains its connections itself when it gives ``drain`` (a Server answers what is
left with "Server is shutting down"), otherwise the handlers see their input end;
whatever is still open after that is ended.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import attrs
import msgspec
import trio

from fastmcp_core.store import Store
from fastmcp_protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    UNSET,
    Error,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    MalformedMessage,
    RequestId,
    UnsetType,
    decode_message,
)
from fastmcp_transport._http_common import (
    HEADER_LAST_EVENT_ID,
    HEADER_PROTOCOL_VERSION,
    HEADER_SESSION_ID,
    ConnectionHandler,
    HttpConnectionInfo,
)
from fastmcp_transport.http_server._event_store import EventStore, InMemoryEventStore
from fastmcp_transport.http_server._guest import (
    in_trio,
    on_any_host,
    running_guest,
    serve_in_guest,
)
from fastmcp_transport.http_server._http import (
    BODY_TIMEOUT,
    EVENT_STREAM,
    JSON,
    ASGIApp,
    ClientGone,
    HttpError,
    Message,
    Receive,
    RequestHead,
    Responder,
    Scope,
    Send,
    accepts,
    media_type,
    negotiate,
    read_body,
    read_head,
)
from fastmcp_transport.http_server._legacy_sse import LegacySSEEndpoints
from fastmcp_transport.http_server._modern import (
    DEFAULT_NAME_HEADERS,
    ModernChecks,
    status_for_error,
)
from fastmcp_transport.http_server._oneshot import (
    Answer,
    AnswerMode,
    ExchangeHandler,
    RequestTransport,
)
from fastmcp_transport.http_server._routes import Route, RouteTable
from fastmcp_transport.http_server._security import DnsRebindingProtection
from fastmcp_transport.http_server._sessions import (
    RemoteSession,
    SessionManager,
    SSEOptions,
    identity,
)
from fastmcp_transport.http_server._shared import StoreEventStore
from fastmcp_transport.http_server._watches import Watches

__all__ = ["DEFAULT_MAX_BODY_SIZE", "FrontedApp", "StreamableHTTPApp"]

logger = logging.getLogger("fastmcp.http")

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
"""The largest POST body accepted by default (16 MiB, like a stdio line)."""

_ALLOW_POST = ((b"allow", b"POST"),)
_SHUTTING_DOWN = HttpError(
    503,
    INTERNAL_ERROR,
    "Service Unavailable: the server is shutting down",
    headers=((b"connection", b"close"),),
)


_batch_members = msgspec.json.Decoder(list[msgspec.Raw])


def _modern_status(error: Error | None) -> int:
    return 200 if error is None else status_for_error(error.code, error.message)


def _legacy_status(error: Error | None) -> int:
    return 200


@attrs.define(eq=False)
class StreamableHTTPApp:
    """An ASGI 3 app serving MCP over Streamable HTTP (both eras) and HTTP+SSE.

    ``connect`` is called with a transport and its ``HttpConnectionInfo`` for every
    connection: each modern POST, each legacy session, each HTTP+SSE stream; it
    serves it (runs a ``fastmcp_core.Session``) until the transport closes.

    Options:

    * ``path``: the MCP endpoint; ``sse_path``/``messages_path``: the endpoints of
      the 2024-11-05 HTTP+SSE transport (``sse_path=None`` turns it off);
    * ``legacy``: serve the session-based versions (2025-11-25 and older) too;
      ``stateless``: serve them without sessions (no ``Mcp-Session-Id``, no GET
      stream, each POST on a transport of its own: for many replicas);
    * ``json_response``: answer legacy POSTs with plain JSON (their other messages
      go on the GET stream); modern POSTs always choose per request;
    * ``security``: the ``Host``/``Origin`` allow-lists (``None``: no check);
    * ``event_store``: where resumable legacy streams keep their events
      (``None``: streams are not resumable);
    * ``store``: a store the replicas of the server share (``fastmcp_core.store``):
      any replica then serves any request of a legacy session (forwarded to the
      replica that runs it, or adopted when that one died) and resumes any of its
      streams, whose events live in the store's event logs (``event_store`` is
      not used);
    * ``session_idle_timeout``: seconds without requests after which a legacy session
      is ended (``None``: never); ``max_sessions``, ``max_sessions_per_client``: the
      legacy sessions held in all and by one client (its principal, else its
      address); a new session beyond either ends the session idle for longest (the
      client's own first), or is refused when none is idle (503; a client's own: 429);
    * ``max_body_size``: the largest POST body (413 beyond); ``body_timeout``: a body
      that pauses that many seconds, or takes longer in all than that plus 1 s per
      KiB, gets 408 (``None``: no limit; whatever HTTP server is in front);
    * ``keepalive_interval``: seconds of silence after which an SSE response gets a
      comment; ``sse_retry_ms``: the reconnection delay told to legacy clients;
      ``sse_poll_after``: close legacy SSE responses after that many seconds (the
      client resumes with ``Last-Event-ID``: SSE polling);
    * ``modern_versions``: the modern versions accepted (others: -32022);
      ``name_headers``: which methods ``Mcp-Name`` must mirror, and from which member;
    * ``shutdown_grace``: seconds the requests in flight get to finish when the app
      shuts down; ``drain``: how the owner of ``connect`` ends its connections
      within a grace (called by ``shutdown`` with it; returns when they have ended).
      Without ``drain`` the handlers see their input end;
    * ``routes``: custom routes (``Route``: a health check, a webhook) served beside
      the MCP endpoint, outside its checks;
    * ``runs_with``: what the owner of ``connect`` needs running while the app runs
      (a ``Server``'s ``running``: its lifespan, entered once for the app however
      many requests come, instead of once per request); entered by ``run``;
    * ``exchange``: serves the lone message of a POST without a session in the
      POST's task (a ``Server``'s ``Exchanges``: no session, no task per request);
      without it such a POST is a connection of its own for ``connect``.

    Served by any ASGI server, trio or asyncio (see the module docstring).
    """

    connect: ConnectionHandler
    path: str = attrs.field(default="/mcp", kw_only=True)
    sse_path: str | None = attrs.field(default="/sse", kw_only=True)
    messages_path: str = attrs.field(default="/messages/", kw_only=True)
    legacy: bool = attrs.field(default=True, kw_only=True)
    stateless: bool = attrs.field(default=False, kw_only=True)
    json_response: bool = attrs.field(default=False, kw_only=True)
    security: DnsRebindingProtection | None = attrs.field(
        factory=DnsRebindingProtection, kw_only=True
    )
    event_store: EventStore | None = attrs.field(factory=InMemoryEventStore, kw_only=True)
    store: Store | None = attrs.field(default=None, kw_only=True)
    session_idle_timeout: float | None = attrs.field(default=1800.0, kw_only=True)
    max_sessions: int = attrs.field(default=10_000, kw_only=True)
    max_sessions_per_client: int = attrs.field(default=100, kw_only=True)
    max_body_size: int = attrs.field(default=DEFAULT_MAX_BODY_SIZE, kw_only=True)
    body_timeout: float | None = attrs.field(default=BODY_TIMEOUT, kw_only=True)
    keepalive_interval: float | None = attrs.field(default=15.0, kw_only=True)
    sse_retry_ms: int | None = attrs.field(default=3000, kw_only=True)
    sse_poll_after: float | None = attrs.field(default=None, kw_only=True)
    modern_versions: Sequence[str] = attrs.field(default=MODERN_PROTOCOL_VERSIONS, kw_only=True)
    name_headers: Mapping[str, str] = attrs.field(default=DEFAULT_NAME_HEADERS, kw_only=True)
    shutdown_grace: float = attrs.field(default=5.0, kw_only=True)
    drain: Callable[[float], Awaitable[None]] | None = attrs.field(default=None, kw_only=True)
    runs_with: Callable[[], AbstractAsyncContextManager[Any]] | None = attrs.field(
        default=None, kw_only=True
    )
    exchange: ExchangeHandler | None = attrs.field(default=None, kw_only=True)
    routes: Sequence[Route] = attrs.field(default=(), kw_only=True)
    _route_table: RouteTable = attrs.field(init=False)
    _first_use: trio.Event | None = attrs.field(init=False, default=None)
    _stopping: bool = attrs.field(init=False, default=False)
    _watches: Watches = attrs.field(init=False, factory=Watches)
    _sessions: SessionManager = attrs.field(init=False)
    _checks: ModernChecks = attrs.field(init=False)
    _sse_endpoints: LegacySSEEndpoints | None = attrs.field(init=False)
    _routes: dict[str, str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        sse = SSEOptions(
            keepalive=self.keepalive_interval,
            retry_ms=self.sse_retry_ms,
            poll_after=self.sse_poll_after,
        )
        self._sessions = SessionManager(
            self.connect,
            self.event_store if self.store is None else StoreEventStore(self.store),
            self.session_idle_timeout,
            self.max_sessions,
            sse,
            self._watches,
            self.max_sessions_per_client,
            store=self.store,
        )
        self._checks = ModernChecks(self.modern_versions, self.name_headers)
        self._route_table = RouteTable.of(self.routes)
        self._routes = {_route(self.path): "mcp"}
        self._sse_endpoints = None
        if self.sse_path is not None:
            self._sse_endpoints = LegacySSEEndpoints(
                self.connect,
                self.messages_path,
                self.keepalive_interval,
                self._watches,
                store=self.store,
            )
            self._routes[_route(self.sse_path)] = "sse"
            self._routes[_route(self.messages_path)] = "messages"

    # -- running ---------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the app's background work (legacy sessions) until cancelled.

        Cancelling it ends every session at once; call ``shutdown`` first for a
        graceful end. An app that was shut down serves again once run again.
        """
        self._stopping = False
        if self.runs_with is None:
            await self._run(task_status)
            return
        async with self.runs_with():
            await self._run(task_status)

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._watches.run)
            if self._sse_endpoints is not None and self.store is not None:
                nursery.start_soon(self._sse_endpoints.run)  # POSTs forwarded to it
            await self._sessions.run(task_status=task_status)

    def running(self) -> AbstractAsyncContextManager[StreamableHTTPApp]:
        """Run the app's background work for the duration of the block; on exit (or
        cancellation) shut down gracefully, bounded by ``shutdown_grace``. Works on
        trio and on asyncio (a host's lifespan: the work runs in the loop's trio
        guest run)."""
        return on_any_host(self._running)

    def lifespan(self, host_app: object = None, /) -> AbstractAsyncContextManager[None]:
        """The app's lifespan for a host framework's hook:
        ``FastAPI(lifespan=mcp_app.lifespan)`` (``host_app`` is the host's app,
        ignored): ``running()`` for the duration of the host's lifespan."""
        return on_any_host(self._running_quietly)

    @asynccontextmanager
    async def _running_quietly(self) -> AsyncIterator[None]:
        async with self._running():
            yield

    @asynccontextmanager
    async def _running(self) -> AsyncIterator[StreamableHTTPApp]:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.run)
            try:
                yield self
            finally:
                with trio.CancelScope(shield=True):
                    await self.shutdown()
                nursery.cancel_scope.cancel()

    def stop_accepting(self) -> None:
        """Refuse every new HTTP request from now on (503, ``Connection: close``) and
        end the GET streams of legacy sessions; what is in flight goes on."""
        self._stopping = True
        self._sessions.stop_accepting()

    @property
    def stopping(self) -> bool:
        """Whether new requests are refused (``stop_accepting`` was called)."""
        return self._stopping

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop accepting, then end every connection: the requests in flight get
        ``grace`` seconds (default ``shutdown_grace``) to finish (see the module
        docstring); returns when every session and HTTP+SSE stream has ended."""
        grace = self.shutdown_grace if grace is None else grace
        self.stop_accepting()
        if self.drain is not None:
            await self.drain(grace)
            grace = 0.0  # the owner has ended what it could: end the rest now
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sessions.shutdown, grace)
            if self._sse_endpoints is not None:
                nursery.start_soon(self._sse_endpoints.shutdown, grace)

    @property
    def session_count(self) -> int:
        """How many legacy sessions are open."""
        return len(self._sessions)

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point (``http`` and ``lifespan`` scopes; websockets are
        refused). Returns when the response has ended; cancelling it ends the
        request's work (a modern request is then cancelled, a legacy one is not)."""
        if not in_trio():
            await serve_in_guest(self._serve, scope, receive, send)
            return
        await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        responder = Responder(send)
        if self._stopping:
            await responder.error(_SHUTTING_DOWN)
            return
        if not self._sessions.running:
            await self._start_on_first_use()
        try:
            await self._http(read_head(scope), receive, responder)
        except ClientGone:
            pass
        except Exception as exc:
            error = _http_error(exc)
            if error is None:
                logger.exception(
                    "unexpected error while serving %s %s", scope.get("method"), scope.get("path")
                )
                error = HttpError(500, INTERNAL_ERROR, "Internal error")
            if not responder.started:
                await responder.error(error)
            else:
                await responder.end()

    async def _start_on_first_use(self) -> None:
        """Start the app's background work for a request that found it stopped: in a
        trio system task, until the trio run ends (gracefully then)."""
        started = self._first_use
        if started is None:
            started = self._first_use = trio.Event()
            guest = running_guest()
            if guest is not None:  # the guest ends it before the calls, gracefully
                try:
                    guest.keep(self._host_until_the_run_ends, started)
                except RuntimeError:  # the guest is ending: so is this request's host
                    self._first_use = None
                    raise _SHUTTING_DOWN from None
            else:
                trio.lowlevel.spawn_system_task(
                    self._host_until_the_run_ends, started, name="fastmcp app started on first use"
                )
        await started.wait()

    async def _host_until_the_run_ends(self, started: trio.Event) -> None:
        shielded = trio.CancelScope(shield=True)

        async def run(task_status: trio.TaskStatus[None]) -> None:
            with shielded:
                await self.run(task_status=task_status)

        try:
            async with trio.open_nursery() as nursery:
                try:
                    await nursery.start(run)
                finally:
                    started.set()
                try:
                    await trio.sleep_forever()
                finally:
                    with trio.CancelScope(shield=True):
                        await self.shutdown()
                    shielded.cancel()
        except Exception:  # a system task must not raise: the requests will tell
            logger.exception("the app's background work failed")
        finally:
            started.set()
            if self._first_use is started:
                self._first_use = None
                # the run ended, not the app: a later run (a new event loop: a test
                # client's next request) starts it again on its first request
                self._stopping = False

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message.get("type") != "lifespan.startup":
            return
        if self._sessions.running:  # run by serve_http or `running()`: nothing to do
            await send({"type": "lifespan.startup.complete"})
            await _until_shutdown(receive)
            await send({"type": "lifespan.shutdown.complete"})
            return
        async with trio.open_nursery() as nursery:
            await nursery.start(self.run)
            await send({"type": "lifespan.startup.complete"})
            await _until_shutdown(receive)
            await self.shutdown()
            nursery.cancel_scope.cancel()
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, head: RequestHead, receive: Receive, responder: Responder) -> None:
        custom = self._route_table.find(head.path)
        if custom is not None:
            await self._route_table.serve(
                custom, head, receive, responder, self.max_body_size, self.body_timeout
            )
            return
        if self.security is not None:
            refusal = self.security.refusal(head.headers)
            if refusal is not None:
                raise HttpError(403, INVALID_REQUEST, refusal)
        route = self._routes.get(_route(head.path))
        if route == "mcp":
            await self._mcp(head, receive, responder)
        elif route == "sse":
            assert self._sse_endpoints is not None
            if head.method != "GET":
                raise HttpError(
                    405, INVALID_REQUEST, "Method Not Allowed", headers=((b"allow", b"GET"),)
                )
            if not accepts(head.headers.get("accept"), EVENT_STREAM):
                raise HttpError(
                    406, INVALID_REQUEST, "Not Acceptable: the client must accept text/event-stream"
                )
            await self._sse_endpoints.stream(head, responder, receive)
        elif route == "messages":
            assert self._sse_endpoints is not None
            await self._sse_message(head, receive, responder)
        else:
            await responder.respond(404, b"Not Found", content_type=b"text/plain")

    async def _mcp(self, head: RequestHead, receive: Receive, responder: Responder) -> None:
        if head.method == "POST":
            await self._post(head, receive, responder)
            return
        if head.method not in ("GET", "DELETE"):
            raise HttpError(
                405,
                INVALID_REQUEST,
                "Method Not Allowed",
                headers=((b"allow", b"GET, POST, DELETE"),),
            )
        session_id = head.headers.get(HEADER_SESSION_ID)
        if session_id is None or not self.legacy or self.stateless:
            raise HttpError(
                405,
                INVALID_REQUEST,
                f"Method Not Allowed: {head.method} needs a legacy session (Mcp-Session-Id)",
                headers=_ALLOW_POST,
            )
        _check_legacy_version(head)
        session = await self._sessions.locate(session_id.strip(), partial(_legacy_info, head))
        if isinstance(session, RemoteSession):
            if head.method == "DELETE":
                await self._sessions.forward_delete(session)
                await responder.respond(200)
                return
        else:
            _bind_principal(session.info, head)
            if head.method == "DELETE":
                self._sessions.delete(session)
                await responder.respond(200)
                return
        if not accepts(head.headers.get("accept"), EVENT_STREAM):
            raise HttpError(
                406, INVALID_REQUEST, "Not Acceptable: the client must accept text/event-stream"
            )
        last_event_id = head.headers.get(HEADER_LAST_EVENT_ID)
        resume = last_event_id.strip() if last_event_id else None
        if isinstance(session, RemoteSession):
            await self._sessions.forward_stream(session, resume, responder, receive)
        else:
            await self._sessions.stream(session, resume, responder, receive)

    # -- POST ------------------------------------------------------------------------

    async def _post(self, head: RequestHead, receive: Receive, responder: Responder) -> None:
        headers = head.headers
        if media_type(headers.get("content-type")) != JSON:
            raise HttpError(415, INVALID_REQUEST, "Unsupported Media Type: use application/json")
        takes_json, takes_sse = negotiate(headers.get("accept"))
        if not (takes_json or takes_sse):
            raise HttpError(
                406,
                INVALID_REQUEST,
                "Not Acceptable: the client must accept application/json and text/event-stream",
            )
        body = await read_body(
            receive,
            self.max_body_size,
            headers.get("content-length"),
            timeout=head.body_timeout(self.body_timeout),
        )
        frames, messages = _parse(body)
        session_id = headers.get(HEADER_SESSION_ID) if self.legacy and not self.stateless else None
        if session_id is not None:
            _check_legacy_version(head)
            session = await self._sessions.locate(session_id.strip(), partial(_legacy_info, head))
            json = (self.json_response and takes_json) or not takes_sse
            if isinstance(session, RemoteSession):
                await self._sessions.forward_post(
                    session,
                    frames,
                    _request_ids(messages),
                    json=json,
                    responder=responder,
                    receive=receive,
                    headers=head.headers,
                    client=head.client,
                )
                return
            _bind_principal(session.info, head)
            ids = _request_ids(messages)
            if session.info is not None:
                session.info.note_requests(ids, head.headers, head.client)
            await self._sessions.post(
                session,
                frames,
                messages,
                ids,
                json=json,
                initialize=False,
                responder=responder,
                receive=receive,
            )
            return
        version = headers.get(HEADER_PROTOCOL_VERSION)
        checked: object | UnsetType | None = UNSET  # the params the modern checks read
        if not self.legacy:
            modern = True
        elif version is not None:
            modern = version.strip() not in LEGACY_PROTOCOL_VERSIONS
        else:
            modern = False
            first = messages[0]
            if len(messages) == 1 and isinstance(first, JSONRPCRequest | JSONRPCNotification):
                try:
                    checked = self._checks.read(first)
                except HttpError:  # not the shape of a modern request: legacy
                    checked = UNSET
                modern = self._checks.declares_modern(checked)
        if modern:
            await self._modern(
                head, frames, messages, checked, takes_json, takes_sse, responder, receive
            )
            return
        ids = _request_ids(messages)
        info = _legacy_info(head)
        first = messages[0]
        if (
            isinstance(first, JSONRPCRequest)
            and first.method == "initialize"
            and not self.stateless
        ):
            if len(messages) > 1:
                raise HttpError(
                    400, INVALID_REQUEST, "Invalid request: initialize must be sent alone"
                )
            session = self._sessions.open(info)
            await self._sessions.post(
                session,
                frames,
                messages,
                ids,
                json=takes_json,
                initialize=True,
                responder=responder,
                receive=receive,
            )
            return
        if not self.stateless:
            raise HttpError(
                400,
                INVALID_REQUEST,
                "Bad Request: no Mcp-Session-Id header (send initialize first)",
                request_id=ids[0] if len(ids) == 1 else None,
            )
        json_only = takes_json and (self.json_response or not takes_sse)
        mode = _mode(json_only, takes_sse and not takes_json)
        answer = Answer(responder, ids, mode, _legacy_status, self.keepalive_interval)
        await self._one_shot(RequestTransport(frames, messages, ids, answer), info, receive)

    async def _modern(
        self,
        head: RequestHead,
        frames: list[bytes],
        messages: list[JSONRPCMessage],
        checked: object | UnsetType | None,
        takes_json: bool,
        takes_sse: bool,
        responder: Responder,
        receive: Receive,
    ) -> None:
        if len(messages) != 1:
            raise HttpError(400, INVALID_REQUEST, "Invalid request: batches are not supported")
        message = messages[0]
        if not isinstance(message, JSONRPCRequest | JSONRPCNotification):
            raise HttpError(
                400, INVALID_REQUEST, "Invalid request: a client must not POST responses"
            )
        version = self._checks.check(message, head.headers, checked)
        info = HttpConnectionInfo(
            kind="modern",
            headers=head.headers,
            protocol_version=version,
            client=head.client,
            principal=head.principal,
        )
        ids = [message.id] if isinstance(message, JSONRPCRequest) else []
        mode = _mode(takes_json and not takes_sse, takes_sse and not takes_json)
        answer = Answer(responder, ids, mode, _modern_status, self.keepalive_interval)
        await self._one_shot(RequestTransport(frames, messages, ids, answer), info, receive)

    async def _one_shot(
        self, transport: RequestTransport, info: HttpConnectionInfo, receive: Receive
    ) -> None:
        """Serve a POST without a session in its own task (see ``_oneshot``); its
        helper (the client's disconnect, keep-alives) starts if it lasts."""
        answer = transport.answer
        if not answer.request_ids:
            await answer.responder.respond(202)
            await self._serve_one_shot(transport, info)
            return
        helper = partial(transport.watch, receive)
        await self._watches.during(helper, partial(self._serve_one_shot, transport, info))
        await answer.finish()

    async def _serve_one_shot(self, transport: RequestTransport, info: HttpConnectionInfo) -> None:
        message = transport.lone_message
        if self.exchange is not None and message is not None:
            try:
                await self.exchange(message, transport, info)
            except Exception:
                logger.exception("the exchange handler failed")
            return
        try:
            await self.connect(transport, info)
        except Exception:
            logger.exception("the connection handler failed")
        finally:
            transport.close("the connection handler returned")

    async def _sse_message(self, head: RequestHead, receive: Receive, responder: Responder) -> None:
        assert self._sse_endpoints is not None
        if head.method != "POST":
            raise HttpError(405, INVALID_REQUEST, "Method Not Allowed", headers=_ALLOW_POST)
        query = dict(parse_qsl(head.query.decode("latin-1")))
        remote = self._sse_endpoints.remote(query)
        if not remote:
            transport = self._sse_endpoints.find(query)
            _bind_principal(transport.info, head)
        if media_type(head.headers.get("content-type")) != JSON:
            raise HttpError(415, INVALID_REQUEST, "Unsupported Media Type: use application/json")
        body = await read_body(
            receive,
            self.max_body_size,
            head.headers.get("content-length"),
            timeout=head.body_timeout(self.body_timeout),
        )
        _, messages = _parse(body)
        if remote:
            await self._sse_endpoints.forward(
                query, head.principal, body, _request_ids(messages), head.headers, head.client
            )
            await responder.respond(202, b"Accepted", content_type=b"text/plain")
            return
        if transport.info is not None:
            transport.info.note_requests(_request_ids(messages), head.headers, head.client)
        await transport.deliver(body)
        await responder.respond(202, b"Accepted", content_type=b"text/plain")


@attrs.define(eq=False)
class FrontedApp:
    """A ``StreamableHTTPApp`` behind ASGI layers of trio code (an authorization
    layer), served like the app itself by any ASGI server, trio or asyncio.

    ``front`` gets every call (it passes the lifespan and the requests it lets
    through to ``app``); ``app`` hosts the background work: ``running()`` and
    ``lifespan`` are the app's, and the first request starts it when nothing did.
    Other attributes are the front's (``resource``, ``aclose``...).
    """

    front: ASGIApp
    app: StreamableHTTPApp
    routes: Sequence[Route] = attrs.field(default=(), kw_only=True)
    """Custom routes served before the front (outside the authorization layer)."""
    _route_table: RouteTable = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._route_table = RouteTable.of(self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point (the front's, on the host's event loop or in its
        trio guest run)."""
        if not in_trio():
            await serve_in_guest(self._serve, scope, receive, send)
            return
        await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._route_table and scope.get("type") == "http":
            head = read_head(scope)
            custom = self._route_table.find(head.path)
            if custom is not None:
                responder = Responder(send)
                if self.app.stopping:
                    await responder.error(_SHUTTING_DOWN)
                    return
                app = self.app
                await self._route_table.serve(
                    custom, head, receive, responder, app.max_body_size, app.body_timeout
                )
                return
        await self.front(scope, receive, send)

    def running(self) -> AbstractAsyncContextManager[StreamableHTTPApp]:
        """``app.running()``."""
        return self.app.running()

    def lifespan(self, host_app: object = None, /) -> AbstractAsyncContextManager[None]:
        """``app.lifespan``: ``FastAPI(lifespan=fronted.lifespan)``."""
        return self.app.lifespan(host_app)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.front, name)


def _route(path: str) -> str:
    return path.rstrip("/") or "/"


def _mode(json_only: bool, sse_only: bool) -> AnswerMode:
    if json_only:
        return AnswerMode.JSON
    if sse_only:
        return AnswerMode.SSE
    return AnswerMode.AUTO


def _request_ids(messages: Sequence[JSONRPCMessage]) -> list[RequestId]:
    return [m.id for m in messages if isinstance(m, JSONRPCRequest)]


def _parse(body: bytes) -> tuple[list[bytes], list[JSONRPCMessage]]:
    """The POST's frames and their messages (a batch is split into its members).

    Raises ``HttpError(400)`` with -32700 (not JSON) or -32600 (not a message; a
    batch with a malformed member is refused whole).
    """
    try:
        decoded = decode_message(body)
    except MalformedMessage as error:
        raise HttpError(400, error.code, error.message, request_id=error.request_id) from None
    if not isinstance(decoded, list):
        return [body], [decoded]
    messages: list[JSONRPCMessage] = []
    for member in decoded:
        if isinstance(member, MalformedMessage):
            raise HttpError(400, member.code, f"{member.message} (in a batch)")
        messages.append(member)
    ids = _request_ids(messages)
    if len(set(ids)) != len(ids):
        raise HttpError(400, INVALID_REQUEST, "Invalid request: a batch repeats a request id")
    return [bytes(raw) for raw in _batch_members.decode(body)], messages


def _legacy_info(head: RequestHead) -> HttpConnectionInfo:
    """What a legacy connection opened (or adopted) by this request is told."""
    version = head.headers.get(HEADER_PROTOCOL_VERSION)
    return HttpConnectionInfo(
        kind="legacy",
        headers=head.headers,
        protocol_version=version.strip() if version else None,
        client=head.client,
        principal=head.principal,
    )


def _bind_principal(info: HttpConnectionInfo | None, head: RequestHead) -> None:
    """A request naming a session must come from the principal that opened it (403
    otherwise); its credentials become the session's (a refreshed token)."""
    if info is None:
        return
    if identity(info.principal) != identity(head.principal):
        raise HttpError(
            403, INVALID_REQUEST, "Forbidden: this session belongs to another principal"
        )
    if head.principal is not None:
        info.principal = head.principal


def _check_legacy_version(head: RequestHead) -> None:
    version = head.headers.get(HEADER_PROTOCOL_VERSION)
    if version is not None and version.strip() not in LEGACY_PROTOCOL_VERSIONS:
        raise HttpError(
            400,
            INVALID_REQUEST,
            f"Bad Request: unsupported MCP-Protocol-Version {version.strip()!r} for a session",
        )


def _http_error(exc: BaseException) -> HttpError | None:
    """The ``HttpError`` an exception is, or wraps alone in exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc if isinstance(exc, HttpError) else None


async def _until_shutdown(receive: Receive) -> None:
    message: Message = {}
    while message.get("type") != "lifespan.shutdown":
        message = await receive()
