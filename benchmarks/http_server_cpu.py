"""Server CPU per HTTP request: our HTTP/1.1 server (``serve_h1``) against hypercorn's
trio worker (``serve_http``) and uvicorn (asyncio: the app in a trio guest run on its
loop), and the floor, in one interleaved run.

Each target is a server process of its own; one keep-alive client (a blocking
socket, stdlib only) sends ``--calls`` sequential POSTs after ``--warmup`` untimed
ones, and the server's CPU time over the timed calls is read from
``/proc/PID/task/*/schedstat`` (nanoseconds, every thread of the process). Targets:

* ``trivial``: an ASGI app that reads the body and answers 18 bytes of JSON: the
  cost of the HTTP server alone;
* ``mcp-modern``: a ``fastmcp_server.Server`` with an ``echo`` tool, over
  ``StreamableHTTPApp``, one 2026-07-28 ``tools/call`` per POST (answered as JSON);
* ``mcp-legacy``: the same, in a 2025-11-25 session (``initialize`` first; each
  call answered as an SSE stream, chunked), the flow of ``../shared/bench``;
* ``floor``: ``../shared/bench/peers/floor_server.py http`` (trio + msgspec, no
  framework, a hand-written HTTP loop), the legacy flow: the physical floor.

    python benchmarks/http_server_cpu.py [--calls 5000] [--reps 3] [--floor PATH]

Run it with the interpreter that has our packages installed. The table gives the
server's CPU microseconds per call (median and least over the reps: this machine is
shared, so take ratios inside one run), its ratio to the floor's median, and the wall
time per call.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_FLOOR = HERE.parents[1] / "shared" / "bench" / "peers" / "floor_server.py"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"

# -- the server side (a child process) ------------------------------------------------


def serve_uvicorn(port: int) -> None:
    """The MCP app on uvicorn (asyncio): it runs in a trio guest run on uvicorn's loop."""
    import asyncio

    import uvicorn

    from fastmcp_server import Server

    mcp = Server("bench", "0.1.0")

    @mcp.tool
    async def echo(message: str) -> str:
        """Echo the message back."""
        return message

    app = mcp.http_app(event_store=None)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")

    async def main() -> None:
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, no event
            await asyncio.sleep(0.01)
        print("READY", flush=True)
        await serving

    asyncio.run(main())


def serve(server: str, app_kind: str, port: int) -> None:
    from functools import partial

    if server == "uvicorn":
        serve_uvicorn(port)
        return

    import trio

    from fastmcp_transport.http_server import H1Server, serve_h1, serve_http

    async def trivial(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"18")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"result":"hello"}'})

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            if app_kind == "trivial" and server == "h1":
                await nursery.start(partial(H1Server(trivial, port=port).serve))
            elif app_kind == "trivial":
                from hypercorn.config import Config
                from hypercorn.trio import serve as hypercorn_serve

                config = Config()
                config.bind = [f"127.0.0.1:{port}"]
                config.accesslog = None
                await nursery.start(partial(hypercorn_serve, trivial, config))
            else:
                from fastmcp_server import Server

                mcp = Server("bench", "0.1.0")

                @mcp.tool
                async def echo(message: str) -> str:
                    """Echo the message back."""
                    return message

                app = mcp.http_app(event_store=None)
                run = serve_h1 if server == "h1" else serve_http
                await nursery.start(mcp_server, mcp, partial(run, app, port=port))
            print("READY", flush=True)

    async def mcp_server(mcp: Any, run: Any, task_status: Any) -> None:
        async with mcp.running():
            await run(task_status=task_status)

    trio.run(main)


# -- the client side ------------------------------------------------------------------


class Client:
    """A keep-alive HTTP/1.1 client on a blocking socket (Content-Length or chunked)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0
        self.sock = self._connect()
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections += 1
        return sock

    def post(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request; a new connection when the server closed the last one
        (hypercorn does after 1000 requests: ``keep_alive_max_requests``)."""
        response = self._post(headers, body)
        if response[1].get("connection", "").lower() == "close":
            self.sock.close()
            self.sock = self._connect()
            self.buffer = b""
        return response

    def _post(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        lines = [f"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n"]
        lines += [f"{k}: {v}\r\n" for k, v in headers.items()]
        lines.append(f"content-length: {len(body)}\r\n\r\n")
        self.sock.sendall("".join(lines).encode() + body)
        head = self._until(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        found = {}
        for field in fields:
            name, _, value = field.partition(":")
            found[name.strip().lower()] = value.strip()
        if "content-length" in found:
            return status, found, self._exactly(int(found["content-length"]))
        chunks = []
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            chunks.append(self._exactly(size))
            self._exactly(2)
            if not size:  # the last chunk (no trailer section)
                return status, found, b"".join(chunks)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found


ACCEPT = "application/json, text/event-stream"


def _message(rid: int, method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()


def caller(app_kind: str, client: Client) -> Any:
    """A function making one call of this target's kind (after any handshake)."""
    if app_kind == "trivial":
        payload = _message(1, "tools/call", {"name": "echo", "arguments": {"message": "hi"}})
        headers = {"content-type": "application/json"}

        def call_trivial(i: int) -> None:
            status, _, _ = client.post(headers, payload)
            assert status == 200, status

        return call_trivial
    if app_kind == "mcp-modern":
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        headers = {
            "content-type": "application/json",
            "accept": ACCEPT,
            "mcp-protocol-version": MODERN,
            "mcp-method": "tools/call",
            "mcp-name": "echo",
        }

        def call_modern(i: int) -> None:
            params = {"name": "echo", "arguments": {"message": f"m{i}"}, "_meta": meta}
            status, _, body = client.post(headers, _message(i, "tools/call", params))
            assert status == 200, status
            assert b'"result"' in body, body

        return call_modern
    init = {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    }
    base = {"content-type": "application/json", "accept": ACCEPT}
    status, found, _ = client.post(base, _message(0, "initialize", init))
    assert status == 200, status
    session = {**base, "mcp-session-id": found["mcp-session-id"], "mcp-protocol-version": LEGACY}
    note = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
    status, _, _ = client.post(session, note)
    assert status == 202, status

    def call_legacy(i: int) -> None:
        params = {"name": "echo", "arguments": {"message": f"m{i}"}}
        status, _, body = client.post(session, _message(i, "tools/call", params))
        assert status == 200, status
        assert b'"result"' in body, body

    return call_legacy


def cpu_ns(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
        except ConnectionRefusedError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.05)
        else:
            return


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(argv: list[str], port: int, app_kind: str, calls: int, warmup: int) -> dict[str, float]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        if argv[-2] == "http":  # the floor says nothing when it is up
            _wait_for_port(port, process)
        else:
            line = process.stdout.readline()
            assert line.startswith("READY"), f"the server did not start: {line!r}"
        client = Client(port)
        call = caller(app_kind, client)
        for i in range(warmup):
            call(i)
        before, started = cpu_ns(process.pid), time.perf_counter()
        for i in range(calls):
            call(i)
        wall = time.perf_counter() - started
        cpu = cpu_ns(process.pid) - before
        client.sock.close()
        connections = client.connections
    finally:
        process.terminate()
        process.wait(10)
    return {
        "cpu_us": cpu / calls / 1000,
        "wall_us": wall / calls * 1e6,
        "connections": connections,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--floor", type=Path, default=DEFAULT_FLOOR)
    parser.add_argument("--only", nargs="*", help="target names to run (default: all)")
    args = parser.parse_args()
    me = [sys.executable, str(Path(__file__).resolve()), "serve"]
    targets: list[tuple[str, str, Any]] = []
    for app_kind in ("trivial", "mcp-modern", "mcp-legacy"):
        for server in ("h1", "hypercorn", "uvicorn"):
            if server == "uvicorn" and app_kind == "trivial":
                continue  # the trivial app is trio code with no guest: uvicorn alone
            targets.append((f"{app_kind}/{server}", app_kind, [*me, server, app_kind]))
    if args.floor.exists():
        targets.append(
            ("mcp-legacy/floor", "mcp-legacy", [sys.executable, str(args.floor), "http"])
        )
    if args.only:
        targets = [t for t in targets if t[0] in args.only]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in targets}
    for rep in range(args.reps):
        for name, app_kind, argv in targets:
            port = free_port()
            result = measure([*argv, str(port)], port, app_kind, args.calls, args.warmup)
            results[name].append(result)
            print(f"rep {rep + 1} {name}: {result['cpu_us']:.1f} us CPU/call", file=sys.stderr)
    print(f"\n{args.calls} sequential keep-alive POSTs per rep, {args.reps} reps")
    floor = results.get("mcp-legacy/floor")
    floor_cpu = statistics.median(r["cpu_us"] for r in floor) if floor else None
    print(
        f"{'target':<22} {'CPU us/call median':>18} {'min':>7} {'x floor':>8}"
        f" {'wall us/call':>13} {'connections':>12}"
    )
    for name, runs in results.items():
        cpu = statistics.median(r["cpu_us"] for r in runs)
        least = min(r["cpu_us"] for r in runs)
        ratio = f"{cpu / floor_cpu:.1f}" if floor_cpu else "-"
        wall = statistics.median(r["wall_us"] for r in runs)
        opened = max(r["connections"] for r in runs)
        print(f"{name:<22} {cpu:>18.1f} {least:>7.1f} {ratio:>8} {wall:>13.1f} {opened:>12.0f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
