"""Helpers for the HTTP server tests: a small MCP server, a real HTTP server, raw HTTP.

``Tools`` is a dispatcher with a handful of tools (echo, sleep, progress, log, big,
close_stream); ``Recorder`` collects what the server side saw (connection infos,
cancelled tools) across every connection. ``serving`` runs a ``StreamableHTTPApp`` at
127.0.0.1 on a free port, on the server the ``http_server`` fixture picks (hypercorn's
trio worker, ``serve_http``, or our own HTTP/1.1 server, ``serve_h1``); ``raw`` speaks HTTP/1.1 by hand for requests
that httpx would refuse to write; ``call_asgi`` drives an app without sockets (for
tests on trio's mock clock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import h11
import httpx
import msgspec
import trio

from fastmcp_core import McpContext, Session, Transport
from fastmcp_protocol import (
    METHOD_NOT_FOUND,
    UNSET,
    CallToolResult,
    ClientCapabilities,
    Implementation,
    InitializeResult,
    JSONRPCNotification,
    JSONRPCRequest,
    McpError,
    Result,
    RootsCapability,
    ServerCapabilities,
    TextContent,
    ToolsCapability,
    negotiate_version,
)
from fastmcp_transport import SCOPE_PRINCIPAL, HttpConnectionInfo, SSEEvent, SSEParser
from fastmcp_transport.http_server import (
    ServerAddress,
    SessionTransport,
    StreamableHTTPApp,
    serve_h1,
    serve_http,
)

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"


def text(value: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=value)])


@attrs.define(eq=False)
class Recorder:
    """What the server side saw, over every connection."""

    infos: list[HttpConnectionInfo] = attrs.field(factory=list)
    started: dict[str, trio.Event] = attrs.field(factory=dict)
    cancelled: dict[str, trio.Event] = attrs.field(factory=dict)
    notes: list[JSONRPCNotification] = attrs.field(factory=list)
    sessions_ended: int = 0

    def event(self, table: dict[str, trio.Event], key: str) -> trio.Event:
        if key not in table:
            table[key] = trio.Event()
        return table[key]


@attrs.define(eq=False)
class Tools:
    """A minimal MCP server: ``initialize``, ``ping`` and a few tools.

    Tools: ``echo`` (returns ``text``), ``sleep`` (``seconds``; records that it started
    and whether it was cancelled, under ``key``), ``progress`` (``steps`` progress
    notifications, then a result), ``log`` (one log message, then a result), ``big``
    (a result of ``size`` bytes), ``close_stream`` (ends its own SSE response early,
    then answers after ``seconds``).
    """

    recorder: Recorder
    transport: Transport
    modern: bool = False
    version: str = LEGACY
    session: Session | None = None

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Any:
        params: dict[str, Any] = (
            msgspec.json.decode(request.params) if request.params is not UNSET else {}
        )
        meta = params.get("_meta") or {}
        ctx.progress_token = meta.get("progressToken")
        ctx.log_level = meta.get("io.modelcontextprotocol/logLevel", "debug")
        ctx.protocol_version = meta.get("io.modelcontextprotocol/protocolVersion", self.version)
        if request.method == "initialize" and not self.modern:
            self.version = negotiate_version(params["protocolVersion"])
            version = self.version

            async def initialize() -> InitializeResult:
                return InitializeResult(
                    protocol_version=version,
                    capabilities=ServerCapabilities(tools=ToolsCapability()),
                    server_info=Implementation(name="http-test", version="1.0"),
                )

            ctx.protocol_version = version
            return initialize
        if request.method == "ping" and not self.modern:

            async def ping() -> Result:
                return Result()

            return ping
        if request.method == "subscriptions/listen" and self.modern:
            return self._listen(request.id)
        if request.method != "tools/call":
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {request.method}")
        name: str = params["name"]
        args: dict[str, Any] = params.get("arguments") or {}
        tool = getattr(self, f"tool_{name}", None)
        if tool is None:
            raise McpError(-32602, f"Unknown tool: {name}")

        async def call() -> CallToolResult:
            result: CallToolResult = await tool(ctx, args)
            return result

        return call

    def _listen(self, rid: Any) -> Any:
        """A subscription: acknowledged at once; one change when ``"change"`` is
        started, a graceful end when ``"stop"`` is."""
        recorder = self.recorder
        tag = {"io.modelcontextprotocol/subscriptionId": rid}

        async def listen() -> Result:
            assert self.session is not None
            ack = {"_meta": tag, "notifications": {"toolsListChanged": True}}
            await self.session.notify("notifications/subscriptions/acknowledged", ack, related=rid)
            await recorder.event(recorder.started, "change").wait()
            await self.session.notify(
                "notifications/tools/list_changed", {"_meta": tag}, related=rid
            )
            await recorder.event(recorder.started, "stop").wait()
            return Result(meta=tag)

        return listen

    async def notification(self, note: JSONRPCNotification) -> None:
        self.recorder.notes.append(note)
        self.recorder.event(self.recorder.started, note.method).set()

    async def tool_echo(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        return text(args.get("text", ""))

    async def tool_sleep(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        key = args.get("key", "sleep")
        if args.get("progress_first"):
            await ctx.report_progress(0, 1, "starting")
        self.recorder.event(self.recorder.started, key).set()
        try:
            await trio.sleep(args.get("seconds", 3600))
        except trio.Cancelled:
            self.recorder.event(self.recorder.cancelled, key).set()
            raise
        return text("slept")

    async def tool_progress(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        steps = int(args.get("steps", 3))
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
        return text("done")

    async def tool_log(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        await ctx.info({"message": args.get("text", "hello")})
        return text("logged")

    async def tool_big(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        return text("z" * int(args["size"]))

    async def tool_broadcast(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        assert self.session is not None
        for _ in range(int(args.get("count", 1))):
            await self.session.notify("notifications/tools/list_changed")
        return text("broadcast")

    async def tool_roots(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        ctx.client_capabilities = ClientCapabilities(roots=RootsCapability())
        roots = await ctx.list_roots()
        return text(",".join(root.uri for root in roots))

    async def tool_close_stream(self, ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        assert isinstance(self.transport, SessionTransport)
        assert ctx.request_id is not None
        await ctx.report_progress(1, 2, "before the close")
        self.transport.close_sse_stream(ctx.request_id)
        await trio.sleep(args.get("seconds", 0.05))
        await ctx.report_progress(2, 2, "after the close")
        return text("reconnected")


def make_connect(recorder: Recorder) -> Any:
    """A ``ConnectionHandler`` running a ``Session`` with ``Tools`` on each transport
    (``recorder.started["connection"]`` is set once one has arrived)."""

    async def connect(transport: Transport, info: HttpConnectionInfo) -> None:
        recorder.infos.append(info)
        recorder.event(recorder.started, "connection").set()
        try:
            tools = Tools(recorder, transport, modern=info.kind == "modern")
            tools.session = Session(transport, tools)
            await tools.session.run()
        finally:
            recorder.sessions_ended += 1
            recorder.event(recorder.started, "session ended").set()

    return connect


# -- JSON-RPC bodies -------------------------------------------------------------------


def modern_meta(**extra: Any) -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        **extra,
    }


def body(rid: Any, method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        message["params"] = params
    return msgspec.json.encode(message)


def tool_call(
    rid: Any, name: str, *, modern: bool = True, meta: dict[str, Any] | None = None, **args: Any
) -> bytes:
    params: dict[str, Any] = {"name": name, "arguments": args}
    if modern:
        params["_meta"] = modern_meta(**(meta or {}))
    elif meta:
        params["_meta"] = meta
    return body(rid, "tools/call", params)


def modern_headers(method: str, name: str | None = None, **extra: str) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": ACCEPT_BOTH,
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
    }
    if name is not None:
        headers["mcp-name"] = name
    headers.update(extra)
    return headers


def legacy_headers(session_id: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": ACCEPT_BOTH}
    if session_id is not None:
        headers["mcp-session-id"] = session_id
        headers["mcp-protocol-version"] = LEGACY
    headers.update(extra)
    return headers


def initialize_body(rid: Any = 0, version: str = LEGACY) -> bytes:
    return body(
        rid,
        "initialize",
        {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "test-client", "version": "1.0"},
        },
    )


def events_of(data: bytes) -> list[SSEEvent]:
    return SSEParser().feed(data)


def messages_of(data: bytes) -> list[Any]:
    """The JSON-RPC messages of an SSE body (events with data)."""
    return [msgspec.json.decode(e.data) for e in events_of(data) if e.data.strip()]


# -- a real server ---------------------------------------------------------------------

SERVERS: dict[str, Any] = {"hypercorn": serve_http, "h1": serve_h1}
"""The servers the HTTP suites run on, by name; each has ``serve_http``'s signature."""

server_name = "hypercorn"
"""The server ``serve`` gives: set by the ``http_server`` fixture (conftest.py)."""


def serve() -> Any:
    """``serve_http`` or ``serve_h1``: the server this test runs on."""
    return SERVERS[server_name]


@attrs.define(eq=False)
class Served:
    app: StreamableHTTPApp
    address: ServerAddress
    client: httpx.AsyncClient
    recorder: Recorder

    @property
    def port(self) -> int:
        return self.address.port

    async def initialize(self, version: str = LEGACY) -> str:
        """Open a legacy session; returns its id."""
        response = await self.client.post(
            "/mcp", content=initialize_body(0, version), headers=legacy_headers()
        )
        assert response.status_code == 200, response.text
        session_id = response.headers["mcp-session-id"]
        response = await self.client.post(
            "/mcp",
            content=b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            headers=legacy_headers(session_id),
        )
        assert response.status_code == 202
        return session_id


@asynccontextmanager
async def serving(
    recorder: Recorder | None = None, *, connect: Any = None, **options: Any
) -> AsyncIterator[Served]:
    """A ``StreamableHTTPApp`` (``Tools``, unless ``connect`` is given) served on
    127.0.0.1 on a free port (by ``serve()``)."""
    recorder = recorder or Recorder()
    app = StreamableHTTPApp(connect or make_connect(recorder), **options)
    async with trio.open_nursery() as nursery:
        address: ServerAddress = await nursery.start(
            partial(serve(), app, port=0, graceful_timeout=2.0)
        )
        base = f"http://127.0.0.1:{address.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield Served(app, address, client, recorder)
        nursery.cancel_scope.cancel()


async def raw(
    port: int, request: bytes, *, read_all: bool = True
) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; read one HTTP response (status, headers, body)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        connection = h11.Connection(h11.CLIENT)
        status, headers, chunks = 0, {}, []
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                connection.receive_data(data)
                if not data and connection.their_state is not h11.DONE:
                    break
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    return status, headers, b"".join(chunks)


def http_request(
    method: str,
    path: str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]],
    content: bytes = b"",
    *,
    host: str = "127.0.0.1",
) -> bytes:
    """An HTTP/1.1 request as bytes (``Host`` and ``Content-Length`` added)."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    names = {k.lower() for k, _ in items}
    if "host" not in names:
        items.insert(0, ("Host", host))
    if "content-length" not in names and (content or method == "POST"):
        items.append(("Content-Length", str(len(content))))
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in items), "", ""]
    return "\r\n".join(lines).encode("latin-1") + content


@attrs.define(eq=False)
class RawResponse:
    """A response read as it streams in, over a socket of our own."""

    stream: trio.SocketStream
    connection: h11.Connection
    status: int = 0
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    events: list[SSEEvent] = attrs.field(factory=list)
    ended: bool = False
    _parser: SSEParser = attrs.field(factory=SSEParser)

    async def _step(self) -> None:
        event = self.connection.next_event()
        if event is h11.NEED_DATA:
            data = await self.stream.receive_some(65536)
            if not data:
                self.ended = True
            self.connection.receive_data(data)
        elif isinstance(event, h11.Response):
            self.status = event.status_code
            self.headers = {k.decode().lower(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            self.body += bytes(event.data)
            self.events += self._parser.feed(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            self.ended = True

    async def head(self) -> None:
        while not self.status and not self.ended:
            await self._step()

    async def until(self, needle: bytes) -> None:
        """Read until ``needle`` is in the body (or the response ends)."""
        while needle not in self.body and not self.ended:
            await self._step()

    async def messages_until(self, count: int) -> list[Any]:
        """Read until ``count`` messages have arrived (or the response ends)."""
        while len(self.messages()) < count and not self.ended:
            await self._step()
        return self.messages()

    async def to_end(self) -> None:
        while not self.ended:
            await self._step()

    def messages(self) -> list[Any]:
        """The JSON-RPC messages among the events (``message`` events with data)."""
        return [
            msgspec.json.decode(e.data)
            for e in self.events
            if e.event == "message" and e.data.strip()
        ]


@asynccontextmanager
async def streaming(port: int, request: bytes) -> AsyncIterator[RawResponse]:
    """Send ``request``; yield its response once the head has arrived; then hang up."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        response = RawResponse(stream, h11.Connection(h11.CLIENT))
        with trio.fail_after(10):
            await response.head()
        yield response


# -- without sockets -------------------------------------------------------------------


@attrs.define(eq=False)
class AsgiResponse:
    status: int = 0
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    complete: trio.Event = attrs.field(factory=trio.Event)
    started: trio.Event = attrs.field(factory=trio.Event)
    chunk_arrived: trio.Event = attrs.field(factory=trio.Event)

    async def wait_for(self, needle: bytes) -> None:
        while needle not in self.body and not self.complete.is_set():
            self.chunk_arrived = trio.Event()
            await self.chunk_arrived.wait()


@attrs.define(eq=False)
class AsgiCall:
    """One request driven straight into an ASGI app (no sockets)."""

    response: AsgiResponse
    disconnect: trio.Event
    done: trio.Event


async def call_asgi(
    nursery: trio.Nursery,
    app: Any,
    method: str,
    path: str,
    headers: Mapping[str, str],
    content: bytes = b"",
    *,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    principal: Any = None,
) -> AsgiCall:
    """Start one request; the returned call fills in as the app answers.

    ``disconnect.set()`` makes the app's next ``receive`` report the client gone.
    ``client`` is the peer's address; ``principal`` what an authorization layer in
    front of the app authenticated (``SCOPE_PRINCIPAL``).
    """
    response = AsgiResponse()
    disconnect = trio.Event()
    done = trio.Event()
    sent_body = False
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }
    if principal is not None:
        scope[SCOPE_PRINCIPAL] = principal

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": content, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            response.started.set()
        elif message["type"] == "http.response.body":
            response.body += message.get("body", b"")
            response.chunk_arrived.set()
            if not message.get("more_body"):
                response.complete.set()

    async def run() -> None:
        try:
            await app(scope, receive, send)
        finally:
            done.set()

    nursery.start_soon(run)
    return AsgiCall(response, disconnect, done)
