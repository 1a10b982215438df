"""Helpers for the HTTP client tests: a scripted HTTP server on 127.0.0.1, sessions.

``scripted_server(handler)`` serves a tiny ASGI app with hypercorn's trio worker on a
port the OS picks. Every HTTP request becomes an ``HttpRequest`` (recorded in
``server.requests``) that the test's handler answers however the scenario needs:
JSON, a status, an SSE stream written event by event, a stream left open until the
client disconnects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import msgspec
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from fastmcp_core import Session, Transport
from fastmcp_protocol import JSONRPCNotification, JSONRPCRequest
from fastmcp_transport import encode_event

Handler = Callable[["HttpRequest"], Awaitable[None]]

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "fastmcp-tests", "version": "0"},
}
INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "fastmcp-tests", "version": "0"},
}


def modern(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Request params carrying the 2026-07-28 per-request ``_meta``."""
    return {**(params or {}), "_meta": MODERN_META}


@attrs.define(eq=False)
class HttpRequest:
    """One request the scripted server received, and the means to answer it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """``trio.current_time()`` when the request arrived."""
    _send: Callable[[dict[str, Any]], Awaitable[None]]
    disconnected: trio.Event = attrs.field(factory=trio.Event)
    disconnected_at: float | None = None
    ended_at: float | None = None
    """When the handler ended the response body."""
    _started: bool = False
    _ended: bool = False

    @property
    def message(self) -> Any:
        return msgspec.json.decode(self.body) if self.body else None

    @property
    def rpc_method(self) -> str | None:
        message = self.message
        return message.get("method") if isinstance(message, dict) else None

    @property
    def rpc_id(self) -> Any:
        return self.message.get("id")

    async def start(self, status: int, headers: dict[str, str] | None = None) -> None:
        raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        await self._send({"type": "http.response.start", "status": status, "headers": raw})
        self._started = True

    async def write(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        if not self._started:
            await self.start(200)
        await self._send({"type": "http.response.body", "body": data, "more_body": False})
        self._ended = True
        self.ended_at = trio.current_time()

    async def reply(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        await self.start(status, headers)
        await self.end(body)

    async def json(
        self, obj: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        body = obj if isinstance(obj, bytes) else msgspec.json.encode(obj)
        await self.reply(status, body, {"content-type": "application/json", **(headers or {})})

    async def result(self, result: Any, headers: dict[str, str] | None = None) -> None:
        """Answer the JSON-RPC request in the body with ``result``, as JSON."""
        await self.json({"jsonrpc": "2.0", "id": self.rpc_id, "result": result}, headers=headers)

    async def start_sse(self, headers: dict[str, str] | None = None) -> None:
        await self.start(200, {"content-type": "text/event-stream", **(headers or {})})

    async def event(
        self, data: Any = None, *, id: str | None = None, retry: int | None = None
    ) -> None:
        """One SSE event; ``data`` is JSON-encoded unless bytes (``None``: no data)."""
        if data is None:
            payload = b""
        elif isinstance(data, bytes):
            payload = data
        else:
            payload = msgspec.json.encode(data)
        await self.write(
            encode_event(payload, event="message" if payload else None, id=id, retry=retry)
        )


@attrs.define(eq=False)
class ScriptedServer:
    """An ASGI app that hands every request to ``handler`` and records it."""

    handler: Handler
    url: str = ""
    requests: list[HttpRequest] = attrs.field(factory=list)
    _arrival: trio.Event = attrs.field(factory=trio.Event)

    async def wait_for(
        self, method: str, rpc_method: str | None = None, count: int = 1
    ) -> list[HttpRequest]:
        """Wait until ``count`` such requests have arrived (at most 5 seconds)."""
        with trio.fail_after(5):
            while len(found := self.of(method, rpc_method)) < count:
                await self._arrival.wait()
        return found

    def of(self, method: str, rpc_method: str | None = None) -> list[HttpRequest]:
        """The requests with this HTTP method (and JSON-RPC method, if given)."""
        return [
            r
            for r in self.requests
            if r.method == method and (rpc_method is None or r.rpc_method == rpc_method)
        ]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = HttpRequest(
            scope["method"],
            scope["path"],
            {k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body,
            trio.current_time(),
            send,
        )
        self.requests.append(request)
        self._arrival.set()
        self._arrival = trio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            request.disconnected_at = trio.current_time()
            request.disconnected.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            try:
                await self.handler(request)
                if not request._ended:
                    await request.end()
            except OSError:
                pass  # the client went away while we wrote
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def scripted_server(handler: Handler, path: str = "/mcp") -> AsyncIterator[ScriptedServer]:
    """Serve ``handler`` on 127.0.0.1; ``server.url`` is its endpoint."""
    server = ScriptedServer(handler)
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.tests")
    config.graceful_timeout = 0
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, server, config)
        server.url = binds[0] + path
        yield server
        nursery.cancel_scope.cancel()


class Recorder:
    """A client-side dispatcher: records notifications, answers server requests
    with ``answers[method]`` (a result dict)."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.notifications: list[JSONRPCNotification] = []
        self.requests: list[JSONRPCRequest] = []
        self.notified = trio.Event()

    async def route(self, ctx: Any, request: JSONRPCRequest) -> Any:
        self.requests.append(request)
        answer = self.answers[request.method]

        async def handler() -> Any:
            return answer

        return handler

    async def notification(self, note: JSONRPCNotification) -> None:
        self.notifications.append(note)
        self.notified.set()
        self.notified = trio.Event()

    async def wait_notifications(self, count: int) -> list[str]:
        """The methods of the first ``count`` notifications (waits at most 5 s)."""
        with trio.fail_after(5):
            while len(self.notifications) < count:
                await self.notified.wait()
        return [note.method for note in self.notifications[:count]]


@asynccontextmanager
async def running(transport: Transport, dispatcher: Any = None) -> AsyncIterator[Session]:
    """A client session over ``transport``, running until the block ends."""
    session = Session(transport, dispatcher or Recorder(), drain_on_eof=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        try:
            yield session
        finally:
            await session.aclose()
