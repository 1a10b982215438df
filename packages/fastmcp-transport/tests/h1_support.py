"""Helpers for the tests of our HTTP/1.1 server (``H1Server``): a server on a free
port, a raw client that reads responses byte-exactly, and a scriptable ASGI app.

``RawClient`` writes whatever bytes a test gives it and parses responses itself
(Content-Length, chunked, or up to the end of the connection), so that the tests
see exactly what went over the wire, framing included. ``App`` answers by path
(see its docstring) and records what the server gave it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from fastmcp_transport.http_server import H1Server, ServerAddress

READ_GUARD = 100
"""Seconds (mock or real) a read waits before the test fails: longer than any
timeout a test waits for on purpose."""


@attrs.define(eq=False)
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    chunks: list[bytes] = attrs.field(factory=list)
    """The body's chunks as framed on the wire (chunked responses)."""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None


class ConnectionClosed(Exception):
    """The server closed the connection before a complete response."""


@attrs.define(eq=False)
class RawClient:
    stream: trio.SocketStream
    buffer: bytes = b""
    eof: bool = False

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> None:
        try:
            # a server that never answers fails the test instead of hanging it
            with trio.fail_after(READ_GUARD):
                data = await self.stream.receive_some(65536)
        except trio.BrokenResourceError:  # a reset counts as the end
            data = b""
        if not data:
            self.eof = True
            raise ConnectionClosed(self.buffer)
        self.buffer += data

    async def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            await self._fill()
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    async def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._fill()
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found

    async def head(self) -> tuple[int, str, list[tuple[str, str]]]:
        raw = await self.until(b"\r\n\r\n")
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        _, status, reason = status_line.split(" ", 2)
        headers = []
        for line in lines:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return int(status), reason, headers

    async def response(self, *, method: str = "GET") -> Response:
        """One complete response (skipping ``100 Continue``)."""
        status, reason, headers = await self.head()
        while status == 100:
            status, reason, headers = await self.head()
        response = Response(status, reason, headers, b"")
        if method == "HEAD" or status in (204, 304):
            return response
        length = response.header("content-length")
        if length is not None:
            response.body = await self.exactly(int(length))
        elif response.header("transfer-encoding") == "chunked":
            while True:
                size = int((await self.until(b"\r\n")).split(b";")[0], 16)
                chunk = await self.exactly(size)
                assert await self.exactly(2) == b"\r\n"
                if not size:
                    break
                response.chunks.append(chunk)
            response.body = b"".join(response.chunks)
        else:  # delimited by the end of the connection
            while not self.eof:
                try:
                    await self._fill()
                except ConnectionClosed:
                    break
            response.body, self.buffer = self.buffer, b""
        return response

    async def chunk(self) -> bytes:
        """The next chunk of a chunked body (``b""``: the last one)."""
        size = int((await self.until(b"\r\n")).split(b";")[0], 16)
        chunk = await self.exactly(size)
        assert await self.exactly(2) == b"\r\n"
        return chunk

    async def closed(self) -> bool:
        """Whether the server closes the connection with nothing more to say."""
        try:
            await self._fill()
        except ConnectionClosed:
            return self.buffer == b""
        return False

    async def aclose(self) -> None:
        await self.stream.aclose()


def get(path: str = "/", *headers: str, host: str = "test") -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *headers, "", ""]
    return "\r\n".join(lines).encode()


def post(path: str, body: bytes, *headers: str, host: str = "test") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    return "\r\n".join([*lines, *headers, "", ""]).encode() + body


@attrs.define(eq=False)
class App:
    """A scriptable ASGI app. By path:

    * ``/echo``: reads the whole body, answers it (``Content-Length`` given by the app
      unless the query is ``nolength``);
    * ``/stream``: the head at once, then ``?n`` chunks, each released by its gate
      (``gate("0")``...), then the end;
    * ``/wait``: reads the body, then waits for ``http.disconnect`` and records it
      (``disconnects``), answering nothing;
    * ``/watch``: streams a comment every 0.1 s until the client goes away; records
      the ``http.disconnect`` and the ``OSError`` its writes then end with;
    * ``/hold``: answers once ``gates["hold"]`` is set (records cancellation);
    * ``/fail``: raises before answering; ``/fail-late``: after the head and a chunk;
    * ``/silent``: returns without answering; ``/half``: returns after the head;
    * anything else: 200 ``ok``.

    ``scopes`` records every scope; ``events`` what happened (``"cancelled /hold"``...).
    """

    scopes: list[dict[str, Any]] = attrs.field(factory=list)
    events: list[str] = attrs.field(factory=list)
    disconnects: list[str] = attrs.field(factory=list)
    gates: dict[str, trio.Event] = attrs.field(factory=dict)
    send_errors: list[BaseException] = attrs.field(factory=list)
    arrived: trio.Event = attrs.field(factory=trio.Event)
    disconnected: trio.Event = attrs.field(factory=trio.Event)

    def gate(self, name: str) -> trio.Event:
        if name not in self.gates:
            self.gates[name] = trio.Event()
        return self.gates[name]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("http only")  # no lifespan: the server must cope
        self.scopes.append(scope)
        self.arrived.set()
        path = scope["path"]
        try:
            await getattr(self, "_" + path.strip("/").replace("-", "_"), self._ok)(
                scope, receive, send
            )
        except trio.Cancelled:
            self.events.append(f"cancelled {path}")
            raise

    async def _ok(self, scope: Any, receive: Any, send: Any) -> None:
        await start(send, 200, [(b"content-type", b"text/plain")])
        await send({"type": "http.response.body", "body": b"ok"})

    async def _echo(self, scope: Any, receive: Any, send: Any) -> None:
        body = await read_body(receive)
        headers = [(b"content-type", b"application/octet-stream")]
        if scope["query_string"] != b"nolength":
            headers.append((b"content-length", b"%d" % len(body)))
        await start(send, 200, headers)
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        await start(send, 200, [(b"content-type", b"text/event-stream")])
        await send({"type": "http.response.body", "body": b"", "more_body": True})  # the head
        query = scope["query_string"]
        for i in range(int(query) if query.isdigit() else 3):
            await self.gate(str(i)).wait()
            await send(
                {"type": "http.response.body", "body": b"data: %d\n\n" % i, "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})

    async def _wait(self, scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        message = await receive()
        self.disconnects.append(message["type"])
        self.disconnected.set()

    async def _watch(self, scope: Any, receive: Any, send: Any) -> None:
        """Streams until the client goes away; records how its writes ended."""
        await read_body(receive)
        await start(send, 200, [(b"content-type", b"text/event-stream")])

        async def watch() -> None:
            self.disconnects.append((await receive())["type"])
            self.disconnected.set()
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            try:
                while True:
                    await send(
                        {"type": "http.response.body", "body": b": tick\n\n", "more_body": True}
                    )
                    await trio.sleep(0.1)
            except OSError as error:
                self.send_errors.append(error)
                await trio.sleep_forever()  # the watcher ends the request

    async def _hold(self, scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        self.events.append("holding")
        await self.gate("hold").wait()
        await start(send, 200, [(b"content-type", b"text/plain")])
        await send({"type": "http.response.body", "body": b"released"})

    async def _fail(self, scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("the app broke")

    async def _fail_late(self, scope: Any, receive: Any, send: Any) -> None:
        await start(send, 200, [(b"content-type", b"text/plain")])
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("the app broke late")

    async def _silent(self, scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)

    async def _half(self, scope: Any, receive: Any, send: Any) -> None:
        await start(send, 200, [(b"content-type", b"text/plain")])
        await send({"type": "http.response.body", "body": b"", "more_body": True})


async def start(send: Any, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


@attrs.define(eq=False)
class Running:
    server: H1Server
    address: ServerAddress
    nursery: trio.Nursery

    @property
    def port(self) -> int:
        return self.address.port

    async def connect(self) -> RawClient:
        return RawClient(await trio.open_tcp_stream("127.0.0.1", self.port))

    @asynccontextmanager
    async def client(self) -> AsyncIterator[RawClient]:
        client = await self.connect()
        try:
            yield client
        finally:
            await client.aclose()


@asynccontextmanager
async def running(app: Any, **options: Any) -> AsyncIterator[Running]:
    """``H1Server(app, port=0, **options)`` serving until the block ends (then cancelled:
    a graceful shutdown)."""
    server = H1Server(app, port=0, **options)
    async with trio.open_nursery() as nursery:
        address: ServerAddress = await nursery.start(server.serve)
        yield Running(server, address, nursery)
        nursery.cancel_scope.cancel()
