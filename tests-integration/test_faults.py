"""Fault injection: the peer vanishing mid-call on each transport, broken pipes, a slow
consumer, and the clock jumping.

Real processes for stdio (``fault_server.py``), real sockets for HTTP on our own
HTTP/1.1 server (in-process, or a child to kill), in-process memory pairs and ASGI
calls on trio's mock clock where time matters. The tests synchronise on what the
other side says (a progress notification, a marker file, an event), never on sleeps;
time limits are guards against hangs only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import servers
import trio
import trio.testing

from fastmcp import Client, McpContext, McpError, Server
from fastmcp_core import Session
from fastmcp_protocol import ProgressNotificationParams
from fastmcp_transport import memory_pair, stdio_client

HERE = Path(__file__).parent
FAULTS = str(HERE / "fault_server.py")
PYTHON = sys.executable
GUARD = 60  # seconds: only against hangs
SHUTDOWN_ERROR = (-32603, "Server is shutting down")

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "faults", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def tool_call(rid: int, name: str, **arguments: Any) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments, "_meta": {"progressToken": rid}}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


# -- stdio: a real child ------------------------------------------------------------------


class Child:
    """``fault_server.py stdio`` with raw pipes: what a client that vanishes does."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.stderr = bytearray()
        self._pending = b""

    async def send(self, *messages: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(
            b"".join(msgspec.json.encode(m) + b"\n" for m in messages)
        )

    async def next(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while b"\n" not in self._pending:
            chunk = await self.process.stdout.receive_some(65536)
            assert chunk, "the child closed its stdout"
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        message: dict[str, Any] = msgspec.json.decode(line)
        return message

    async def until(self, method: str) -> dict[str, Any]:
        while (message := await self.next()).get("method") != method:
            pass
        return message

    async def read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.receive_some(65536):
            self.stderr += chunk


@asynccontextmanager
async def child(grace: str = "0.5") -> AsyncIterator[Child]:
    process = await trio.lowlevel.open_process(
        [PYTHON, FAULTS, "stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "GRACE": grace},
    )
    running = Child(process)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(running.read_stderr)
            await running.send(INITIALIZE, INITIALIZED)
            assert (await running.next())["id"] == 0
            yield running
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_stdio_the_client_vanishes_mid_call(tmp_path: Path) -> None:
    # both pipes gone at once, no goodbye: the server drains (its grace), cancels the
    # call, fails to write the answer (EPIPE) and exits quietly
    marker = tmp_path / "marker"
    async with child() as server:
        await server.send(tool_call(1, "hang", marker=str(marker)))
        await server.until("notifications/progress")
        assert server.process.stdin is not None
        assert server.process.stdout is not None
        await server.process.stdin.aclose()
        await server.process.stdout.aclose()
        with trio.fail_after(GUARD):
            await server.process.wait()
    assert server.process.returncode == 0
    assert marker.read_text() == "cancelled"
    assert b"Traceback" not in server.stderr, server.stderr.decode()


async def test_stdio_a_broken_pipe_stops_the_server_though_stdin_stays_open(
    tmp_path: Path,
) -> None:
    # the reader of its stdout goes away: the next write fails (EPIPE), the call is
    # cancelled and the server stops, without waiting for its stdin to close
    marker = tmp_path / "marker"
    async with child(grace="3600") as server:
        await server.send(tool_call(1, "ticker", marker=str(marker)))
        await server.until("notifications/progress")
        assert server.process.stdout is not None
        await server.process.stdout.aclose()
        with trio.fail_after(GUARD):
            await server.process.wait()
        assert server.process.stdin is not None  # still open: we never closed it
    assert server.process.returncode == 0
    assert marker.read_text() == "cancelled"
    assert b"Traceback" not in server.stderr, server.stderr.decode()


async def test_stdio_the_server_vanishes_mid_call() -> None:
    # killed mid-call: the call fails at once with the connection closed, and leaving
    # the client does not wait for anything
    started = trio.Event()
    outcome: list[Any] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        started.set()

    async def call(client: Client) -> None:
        try:
            await client.call_tool("hang", {}, on_progress=on_progress)
        except McpError as error:
            outcome.append(error)

    with trio.fail_after(GUARD):
        async with (
            stdio_client([PYTHON, FAULTS, "stdio"], shutdown_timeout=GUARD) as transport,
            Client(transport) as client,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(call, client)
            await started.wait()
            transport.process.send_signal(signal.SIGKILL)
    (error,) = outcome
    assert "closed" in str(error).lower(), error


# -- memory: an in-process peer ----------------------------------------------------------


def in_process_server(marks: list[str], **options: Any) -> Server:
    server = Server("memory", "1.0", **options)

    @server.tool
    async def ticker(ctx: McpContext) -> str:
        """Progress until cancelled."""
        try:
            while True:
                await ctx.report_progress(1)
                await trio.sleep(1)
        except BaseException as exc:  # cancelled, or its write failed (ConnectionClosed)
            marks.append(f"ticker ended: {type(exc).__name__}")
            raise

    @server.tool
    async def hang(ctx: McpContext) -> str:
        """Silent until cancelled."""
        await ctx.report_progress(0)
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            marks.append(f"hang cancelled at {trio.current_time():g}")
            raise
        return "never"

    @server.tool
    async def nap(seconds: float) -> str:
        """Sleep."""
        await trio.sleep(seconds)
        return "rested"

    return server


async def vanishing_client(
    server: Server, tool: str, *, serve_options: dict[str, Any] | None = None
) -> tuple[bool, float]:
    """Call ``tool`` over a memory pair, vanish at its first progress; whether the
    server's side ended within an hour of mock time, and when."""
    client_end, server_end = memory_pair()
    progressed = trio.Event()

    class Quiet:
        async def route(self, ctx: Any, request: Any) -> Any:
            raise McpError(-32601, "no")

        async def notification(self, note: Any) -> None:
            pass

    client = Session(client_end, Quiet())
    ended = trio.Event()

    async def serve() -> None:
        await server.serve_transport(server_end, **(serve_options or {}))
        ended.set()

    async def call() -> None:
        params = {"name": tool, "arguments": {}}
        with pytest.raises(McpError, match="Connection closed"):  # we are the one gone
            await client.request(
                "tools/call", params, dict, on_progress=lambda p: progressed.set(), timeout=10**9
            )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        nursery.start_soon(client.run)
        await client.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": INITIALIZE["params"]["clientInfo"],
            },  # type: ignore[index]
            dict,
        )
        await client.notify("notifications/initialized")
        nursery.start_soon(call)
        await progressed.wait()
        vanished = trio.current_time()
        await client_end.aclose()  # no cancel, no goodbye: gone
        with trio.move_on_after(3600):
            await ended.wait()
        nursery.cancel_scope.cancel()
    return ended.is_set(), trio.current_time() - vanished


async def test_memory_the_peer_vanishes_while_the_server_writes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    marks: list[str] = []
    ended, after = await vanishing_client(in_process_server(marks), "ticker")
    assert ended
    assert after <= 1  # the next progress fails to write: everything stops at once
    assert marks == ["ticker ended: ConnectionClosed"]  # its own write told it


async def test_memory_the_peer_vanishes_while_the_handler_is_silent_within_a_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    marks: list[str] = []
    ended, after = await vanishing_client(
        in_process_server(marks), "hang", serve_options={"shutdown_grace": 5}
    )
    assert ended
    assert after == pytest.approx(5)  # the grace, then the handler is cancelled
    assert len(marks) == 1


async def test_memory_the_peer_vanishes_while_the_handler_is_silent_by_default(
    autojump_clock: trio.testing.MockClock,
) -> None:
    marks: list[str] = []
    ended, after = await vanishing_client(in_process_server(marks), "hang")
    assert ended
    assert after == pytest.approx(Server.DEFAULT_SHUTDOWN_GRACE)
    assert len(marks) == 1


# -- HTTP on our own HTTP/1.1 server -----------------------------------------------------


async def test_h1_the_client_vanishes_mid_modern_call_and_the_server_goes_on() -> None:
    started, cancelled = trio.Event(), trio.Event()
    server = Server("h1-faults", "1.0")

    @server.tool
    async def hang(ctx: McpContext) -> str:
        """Silent until cancelled."""
        started.set()
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()
        return "never"

    @server.tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            address = await nursery.start(partial_serve(server))
            stream = await trio.open_tcp_stream("127.0.0.1", address.port)
            body = msgspec.json.encode({
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "hang", "arguments": {}, "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                }},
            })  # fmt: skip
            head = (
                "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\n"
                "Accept: application/json, text/event-stream\r\n"
                "Mcp-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n"
                f"Mcp-Name: hang\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            await stream.send_all(head.encode() + body)
            await started.wait()
            await stream.aclose()  # gone mid-call
            await cancelled.wait()  # the call's work ends with its connection
            async with Client(address.url) as client:
                assert await client.call_tool("add", {"a": 2, "b": 3}, result_type=int) == 5
            nursery.cancel_scope.cancel()


def partial_serve(server: Server) -> Any:
    async def serve(task_status: trio.TaskStatus[Any]) -> None:
        await server.serve_http(port=0, task_status=task_status)

    return serve


async def test_h1_the_server_vanishes_mid_call() -> None:
    # (a 2025-11-25 client tries to resume the call's stream first: three attempts
    # at the server's retry interval, 3 s, then the same error)
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    argv = [PYTHON, FAULTS, "http", str(port)]
    started = trio.Event()
    outcome: list[Any] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        started.set()

    async def call(client: Client) -> None:
        try:
            await client.call_tool("hang", {}, on_progress=on_progress)
        except McpError as error:
            outcome.append(error)

    with servers.serving(argv, url) as running, trio.fail_after(GUARD):
        async with Client(url) as client, trio.open_nursery() as nursery:
            nursery.start_soon(call, client)
            await started.wait()
            running.process.kill()
    (error,) = outcome
    assert isinstance(error, McpError)


# -- a slow consumer, on the mock clock ---------------------------------------------------


async def test_a_slow_http_consumer_slows_its_handler_and_loses_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # a modern call streams 20 MB of log messages to a client that stops reading:
    # the handler is held back (the response's high-water mark), another client is
    # served meanwhile, and once the reader resumes every message arrives, in order
    sent: list[int] = []
    server = Server("slow", "1.0")

    @server.tool
    async def flood(ctx: McpContext, count: int) -> int:
        """Many log messages."""
        for n in range(count):
            await ctx.info(f"{n:08d}" + "x" * 992)
            sent.append(n)
        return count

    @server.tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    app = server.http_app()
    reading = trio.Event()
    received = bytearray()
    done = trio.Event()

    async def slow_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if received:  # the first chunk arrives; then the reader stops
                await reading.wait()
            received.extend(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    count = 20_000
    async with app.running(), trio.open_nursery() as nursery:
        nursery.start_soon(app, *modern_request("flood", {"count": count}, slow_send))
        await trio.testing.wait_all_tasks_blocked()
        held = len(sent)
        assert 0 < held < count
        assert held * 1000 <= 6 * 1024 * 1024  # bounded by the high-water mark (4 MiB)
        other = bytearray()

        async def fast_send(message: dict[str, Any]) -> None:
            other.extend(message.get("body", b""))

        await app(*modern_request("add", {"a": 1, "b": 2}, fast_send))
        assert b'"structuredContent":{"result":3}' in other
        assert len(sent) == held  # still held back
        reading.set()
        await done.wait()
    lines = [
        msgspec.json.decode(line[6:])
        for line in bytes(received).split(b"\n")
        if line.startswith(b"data: {")
    ]
    logged = [m["params"]["data"][:8] for m in lines if m.get("method") == "notifications/message"]
    assert logged == [f"{n:08d}" for n in range(count)]
    assert lines[-1]["result"]["structuredContent"] == {"result": count}


def modern_request(tool: str, arguments: dict[str, Any], send: Any) -> tuple[Any, Any, Any]:
    body = msgspec.json.encode({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/logLevel": "info",
        }},
    })  # fmt: skip
    headers = {
        "host": "127.0.0.1", "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": tool,
    }  # fmt: skip
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/mcp", "raw_path": b"/mcp", "query_string": b"",
        "root_path": "", "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    sent_body = False
    gone = trio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    return scope, receive, send


# -- the clock jumps ----------------------------------------------------------------------


async def test_a_clock_jump_past_every_budget_answers_each_call_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    marks: list[str] = []
    server = in_process_server(marks, request_timeout=30)
    outcomes: list[Any] = []

    async def call(client: Client) -> None:
        try:
            outcomes.append(await client.call_tool("nap", {"seconds": 600}))
        except McpError as error:
            outcomes.append(error.code)

    async with Client(server, request_timeout=10**6) as client:
        autojump_clock.autojump_threshold = float("inf")  # time moves only by the jump
        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(call, client)
            await trio.testing.wait_all_tasks_blocked()
            autojump_clock.jump(10_000)  # the machine slept; every deadline is past
        autojump_clock.autojump_threshold = 0
        after = await client.call_tool("nap", {"seconds": 1})
        assert after.content[0].text == "rested"  # type: ignore[union-attr]
        assert len(outcomes) == 5
        assert all(outcome == -32001 for outcome in outcomes), outcomes


@pytest.mark.parametrize("http_server", ["h1", "hypercorn"])
async def test_a_body_that_never_comes_is_closed_by_the_default_server(
    autojump_clock: trio.testing.MockClock, http_server: str
) -> None:
    # serve_http with every default, on either server: a client that announces a
    # body and sends a little of it gets 408 and is let go (30 s, on the mock clock:
    # H1Limits.body_timeout on ours, the app's body_timeout on hypercorn, which has
    # no such limit of its own); the handler never sees a request
    server = Server("slow-body", "1.0")
    async with trio.open_nursery() as nursery:
        address = await nursery.start(partial(server.serve_http, port=0, http_server=http_server))
        head = (
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n"
        )
        answer = bytearray()
        async with await trio.open_tcp_stream("127.0.0.1", address.port) as stream:
            await stream.send_all(head.encode() + b'{"jsonrpc":')
            with trio.move_on_after(3600):  # mock time: a server without a limit
                while chunk := await stream.receive_some(65536):
                    answer += chunk  # until the server closes the connection
        assert answer.startswith(b"HTTP/1.1 408 "), bytes(answer[:80])
        nursery.cancel_scope.cancel()


# -- a graceful HTTP shutdown --------------------------------------------------------------


class RawHttp:
    """One HTTP/1.1 exchange on a socket of its own: what the server writes, as it
    comes (no client library: its timeouts would run on the mock clock)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.data = bytearray()

    @classmethod
    async def post(cls, port: int, body: dict[str, Any], **headers: str) -> RawHttp:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        payload = msgspec.json.encode(body)
        lines = {
            "Host": "127.0.0.1",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Content-Length": str(len(payload)),
            **headers,
        }
        head = "POST /mcp HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines.items())
        await stream.send_all(head.encode() + b"\r\n" + payload)
        return cls(stream)

    async def until(self, needle: bytes) -> None:
        while needle not in self.data:
            chunk = await self.stream.receive_some(65536)
            assert chunk, f"closed before {needle!r}: {bytes(self.data)!r}"
            self.data += chunk

    async def to_the_end(self) -> bytes:
        while chunk := await self.stream.receive_some(65536):
            self.data += chunk
        await self.stream.aclose()
        return bytes(self.data)

    def header(self, name: str) -> str:
        head = bytes(self.data).split(b"\r\n\r\n", 1)[0].decode()
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name:
                return value.strip()
        raise KeyError(name)


@pytest.mark.parametrize("http_server", ["h1", "hypercorn"])
async def test_a_graceful_http_shutdown_answers_every_call_in_flight(
    autojump_clock: trio.testing.MockClock, http_server: str
) -> None:
    # serve_http with every default (grace DEFAULT_SHUTDOWN_GRACE) on either server: a
    # legacy call and a modern call whose handlers never end are answered with the
    # shutdown error once the grace is over, on their streams, before the connections
    # close (before: the h1 server cut them after its own 5 s, the answers unwritten)
    server = Server("graceful", "1.0")

    @server.tool
    async def hang(ctx: McpContext) -> str:
        """Progress once, then nothing."""
        await ctx.report_progress(0)
        await trio.sleep_forever()
        return "never"

    legacy = {"Mcp-Protocol-Version": "2025-11-25"}
    async with trio.open_nursery() as nursery:
        serving = trio.CancelScope()

        async def serve(task_status: trio.TaskStatus[Any]) -> None:
            with serving:
                await server.serve_http(port=0, http_server=http_server, task_status=task_status)

        address = await nursery.start(serve)
        init = await RawHttp.post(address.port, INITIALIZE, **legacy)
        await init.until(b'"id":0,"result"')
        session = {**legacy, "Mcp-Session-Id": init.header("mcp-session-id")}
        await init.stream.aclose()
        note = await RawHttp.post(address.port, INITIALIZED, **session)
        await note.until(b"\r\n\r\n")
        assert note.data.startswith(b"HTTP/1.1 202 ")
        await note.stream.aclose()
        old = await RawHttp.post(address.port, tool_call(7, "hang"), **session)
        await old.until(b"notifications/progress")
        modern_call = tool_call(8, "hang")
        modern_call["params"]["_meta"] |= {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        new = await RawHttp.post(
            address.port,
            modern_call,
            **{
                "Mcp-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tools/call",
                "Mcp-Name": "hang",
            },
        )
        await new.until(b"notifications/progress")
        stopped_at = trio.current_time()
        serving.cancel()
        for call, rid in ((old, 7), (new, 8)):
            answers = [
                msgspec.json.decode(line[6:])
                for line in (await call.to_the_end()).split(b"\n")
                if line.startswith(b"data: {")
            ]
            (last,) = [a for a in answers if a.get("id") == rid]
            assert (last["error"]["code"], last["error"]["message"]) == SHUTDOWN_ERROR
        assert trio.current_time() - stopped_at >= Server.DEFAULT_SHUTDOWN_GRACE
