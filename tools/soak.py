"""The soak behind ``nox -s soak``: the same probes against our server and the official
SDK's, in one run on this machine; writes RELIABILITY.md.

    python tools/soak.py [--quick] [--sdk-python PATH] [--peers ours,sdk] [--out FILE]

Each peer serves the same tools (``tests-integration/fault_server.py``, ours;
``tests-integration/soak_sdk_server.py``, the SDK's ``MCPServer``) as a real child process, on
stdio and on Streamable HTTP (2025-11-25, sessions). The probes speak raw JSON-RPC
and raw HTTP, so both peers get exactly the same bytes:

* ``garbage``: mutated frames on stdin (truncated, bytes flipped, wrong types, odd
  ids, deep nesting, huge strings, batches, non-UTF-8), a ping every 50 to check the
  server still answers; its memory before and after;
* ``vanish``: the client closes both pipes mid-call (a silent handler): does the
  server exit, and when; ``epipe``: the client stops reading mid-call (a handler
  that writes progress): does the server notice;
* ``http-vanish``: clients that disconnect mid-call, then a normal call;
* ``slow-body``: a POST that announces a body and sends a little of it: is the
  connection let go, and when;
* ``session-flood``: one client opens sessions without end: how many the server
  holds, its memory, and whether a newcomer still gets one;
* ``load``: concurrent clients calling ``echo`` for a while: calls, errors, latency,
  memory before and after.

Wall-clock figures: a soak measures, it does not assert (the tests do, on a mock
clock). ``--quick`` is the bounded run the test suite makes (tests-integration/
test_soak.py): smaller counts, our server only unless told otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio

ROOT = Path(__file__).resolve().parent.parent
OURS = [sys.executable, str(ROOT / "tests-integration" / "fault_server.py")]
SDK_SERVER = str(ROOT / "tests-integration" / "soak_sdk_server.py")
DEFAULT_SDK_PYTHON = Path("~/.cache/mcpbench-peers/venv-sdk/bin/python").expanduser()
VERSION = "2025-11-25"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": VERSION,
        "capabilities": {},
        "clientInfo": {"name": "soak", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
ACCEPT = "application/json, text/event-stream"
JSON = "application/json"


def call(rid: int, tool: str, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments, "_meta": {"progressToken": rid}}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


def rss_kib(pid: int) -> int:
    """The resident memory of a process, KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- stdio ----------------------------------------------------------------------------


class Stdio:
    """A server child on raw pipes; its answers collected by a reader task."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.by_id: dict[Any, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.errors = 0
        self.arrived = trio.Event()
        self.stderr = bytearray()
        self.closed = False

    async def send(self, *frames: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(b"".join(frame + b"\n" for frame in frames))

    async def read(self) -> None:
        assert self.process.stdout is not None
        pending = b""
        try:
            while chunk := await self.process.stdout.receive_some(1 << 16):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._take(line)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        self.closed = True
        self.arrived.set()

    def _take(self, line: bytes) -> None:
        try:
            message = msgspec.json.decode(line)
        except msgspec.DecodeError:
            return
        for member in message if isinstance(message, list) else [message]:
            if not isinstance(member, dict):
                continue
            if "method" in member:
                self.notes.append(str(member["method"]))
            elif "id" in member:
                if "error" in member:
                    self.errors += 1
                with suppress(TypeError):
                    self.by_id[member["id"]] = member
        self.arrived.set()
        self.arrived = trio.Event()

    async def answer(self, rid: Any, timeout: float) -> dict[str, Any] | None:
        with trio.move_on_after(timeout):
            while rid not in self.by_id and not self.closed:
                await self.arrived.wait()
        return self.by_id.get(rid)

    async def until_note(self, method: str, timeout: float) -> bool:
        with trio.move_on_after(timeout):
            while method not in self.notes and not self.closed:
                await self.arrived.wait()
        return method in self.notes

    async def drain_stderr(self) -> None:
        assert self.process.stderr is not None
        try:
            while chunk := await self.process.stderr.receive_some(1 << 16):
                self.stderr += chunk
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass


@asynccontextmanager
async def stdio(argv: list[str]) -> AsyncIterator[Stdio]:
    process = await trio.lowlevel.open_process(
        [*argv, "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child = Stdio(process)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child.read)
            nursery.start_soon(child.drain_stderr)
            await child.send(msgspec.json.encode(INITIALIZE), msgspec.json.encode(INITIALIZED))
            if await child.answer(0, 30) is None:
                raise RuntimeError(f"{argv} did not answer initialize")
            yield child
            nursery.cancel_scope.cancel()
    finally:
        if process.returncode is None:
            process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()


SEEDS: list[Any] = [
    call(1, "add", a=1, b=2),
    call(2, "echo", text="hello"),
    {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 4, "method": "ping"},
    {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
    {"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {"uri": "x://y"}},
    [call(6, "add", a=1, b=1), {"jsonrpc": "2.0", "id": 7, "method": "ping"}],
    INITIALIZE,
]
ODD: list[Any] = [None, True, -1, 2**70, 1.5, "", "x" * 10_000, [], {}, [[[]]], {"a": {"b": {}}}]


def mutate(rng: random.Random, serial: int) -> bytes:
    """One bad (or odd) frame, without a newline in it."""
    seed = rng.choice(SEEDS)
    kind = rng.randrange(10)
    if kind == 0:  # truncated
        raw = msgspec.json.encode(seed)
        frame = raw[: rng.randrange(len(raw))]
    elif kind == 1:  # bytes flipped
        flipped = bytearray(msgspec.json.encode(seed))
        for _ in range(rng.randint(1, 4)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        frame = bytes(flipped)
    elif kind == 2:  # a value of another type somewhere
        message = msgspec.json.decode(msgspec.json.encode(seed))
        target = message[0] if isinstance(message, list) else message
        key = rng.choice([*target.keys(), "params", "id", "method", "jsonrpc"])
        target[key] = rng.choice(ODD)
        frame = msgspec.json.encode(message)
    elif kind == 3:  # an odd id on a real request
        frame = msgspec.json.encode({**call(0, "add", a=1, b=1), "id": rng.choice(ODD)})
    elif kind == 4:  # deep nesting
        depth = rng.choice([100, 1000, 20_000])
        frame = b'{"jsonrpc":"2.0","id":9,"method":"ping","params":' + b"[" * depth
        frame += b"]" * depth + b"}"
    elif kind == 5:  # a huge argument
        frame = msgspec.json.encode(call(10_000 + serial, "echo", text="y" * 1_000_000))
    elif kind == 6:  # a batch of mixed things
        members = [rng.choice([*SEEDS[:6], 1, "x", None, {}]) for _ in range(rng.randint(0, 20))]
        frame = msgspec.json.encode(members)
    elif kind == 7:  # not UTF-8
        frame = bytes(rng.randrange(128, 256) for _ in range(rng.randint(1, 64)))
    elif kind == 8:  # arguments of the wrong kind
        frame = msgspec.json.encode(call(20_000 + serial, "add", a="one", b=[2]))
    else:  # an unknown method, or a known one without params
        method = rng.choice(["nope", "tools/call", "prompts/get", "logging/setLevel", ""])
        frame = msgspec.json.encode({"jsonrpc": "2.0", "id": 30_000 + serial, "method": method})
    return frame.replace(b"\n", b" ").replace(b"\r", b" ")


async def probe_garbage(argv: list[str], count: int) -> dict[str, Any]:
    rng = random.Random(18)
    async with stdio(argv) as child:
        await trio.sleep(0.5)
        before = rss_kib(child.process.pid)
        sent, alive = 0, True
        for n in range(count):
            await child.send(mutate(rng, n))
            sent += 1
            if n % 50 == 49:
                rid = f"ping-{n}"
                await child.send(
                    msgspec.json.encode({"jsonrpc": "2.0", "id": rid, "method": "ping"})
                )
                if await child.answer(rid, 30) is None:
                    alive = False
                    break
        rid = "ping-last"
        await child.send(msgspec.json.encode({"jsonrpc": "2.0", "id": rid, "method": "ping"}))
        alive = alive and await child.answer(rid, 30) is not None
        await trio.sleep(0.5)
        after = rss_kib(child.process.pid)
        tracebacks = child.stderr.count(b"Traceback")
    return {
        "inputs": sent,
        "alive": alive,
        "error answers": child.errors,
        "tracebacks on stderr": tracebacks,
        "rss before KiB": before,
        "rss after KiB": after,
    }


async def probe_vanish(
    argv: list[str], tool: str, close_stdin: bool, wait: float
) -> dict[str, Any]:
    """Mid-call, close stdout (and stdin): does the server end, and how soon?"""
    async with stdio(argv) as child:
        await child.send(msgspec.json.encode(call(1, tool)))
        if not await child.until_note("notifications/progress", 30):
            return {"exited": False, "note": "no progress came"}
        assert child.process.stdout is not None
        assert child.process.stdin is not None
        started = time.monotonic()
        if close_stdin:
            await child.process.stdin.aclose()
        await child.process.stdout.aclose()
        with trio.move_on_after(wait):
            await child.process.wait()
        took = time.monotonic() - started
        exited = child.process.returncode is not None
    return {"exited": exited, "seconds": round(took, 1) if exited else None, "waited": wait}


# -- HTTP -----------------------------------------------------------------------------


@asynccontextmanager
async def http_server(argv: list[str]) -> AsyncIterator[tuple[str, trio.Process]]:
    port = free_port()
    process = await trio.lowlevel.open_process(
        [*argv, "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        with trio.fail_after(60):
            while True:
                try:
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                except OSError:
                    await trio.sleep(0.1)
                    continue
                await stream.aclose()
                break
        yield url, process
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()


def messages(response: httpx.Response) -> list[dict[str, Any]]:
    if response.headers.get("content-type", "").startswith("application/json"):
        decoded = msgspec.json.decode(response.content)
        return decoded if isinstance(decoded, list) else [decoded]
    return [
        msgspec.json.decode(line[5:].strip())
        for line in response.content.split(b"\n")
        if line.startswith(b"data:") and line[5:].strip()
    ]


async def open_session(client: httpx.AsyncClient, url: str) -> str | None:
    headers = {"accept": ACCEPT, "content-type": JSON, "mcp-protocol-version": VERSION}
    response = await client.post(url, content=msgspec.json.encode(INITIALIZE), headers=headers)
    session: str | None = response.headers.get("mcp-session-id")
    if response.status_code != 200 or session is None:
        return None
    headers["mcp-session-id"] = session
    await client.post(url, content=msgspec.json.encode(INITIALIZED), headers=headers)
    return session


def session_headers(session: str) -> dict[str, str]:
    return {
        "accept": ACCEPT,
        "content-type": JSON,
        "mcp-protocol-version": VERSION,
        "mcp-session-id": session,
    }


async def probe_http_vanish(url: str, count: int) -> dict[str, Any]:
    """Clients that vanish mid-call (after its first progress), then a normal call."""
    async with httpx.AsyncClient(timeout=30) as client:
        session = await open_session(client, url)
        assert session is not None
        body_of = msgspec.json.encode
        for n in range(count):
            async with client.stream(
                "POST",
                url,
                content=body_of(call(100 + n, "hang")),
                headers=session_headers(session),
            ) as response:
                async for chunk in response.aiter_bytes():
                    if b"notifications/progress" in chunk:
                        break  # leaving the block closes the connection mid-call
        response = await client.post(
            url, content=body_of(call(1, "add", a=2, b=3)), headers=session_headers(session)
        )
        ok = any(m.get("id") == 1 and "result" in m for m in messages(response))
    return {"vanished": count, "next call answered": ok}


async def probe_slow_body(url: str, wait: float) -> dict[str, Any]:
    host, port = "127.0.0.1", int(url.split(":")[2].split("/")[0])
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: {ACCEPT}\r\nMCP-Protocol-Version: {VERSION}\r\nContent-Length: 1000\r\n\r\n"
    )
    stream = await trio.open_tcp_stream(host, port)
    started = time.monotonic()
    await stream.send_all(head.encode() + b'{"jsonrpc":')
    answer = b""
    closed = False
    with trio.move_on_after(wait):
        try:
            while chunk := await stream.receive_some(1 << 16):
                answer += chunk
            closed = True
        except trio.BrokenResourceError:
            closed = True
    took = time.monotonic() - started
    await stream.aclose()
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") if answer else ""
    return {
        "let go": closed,
        "seconds": round(took, 1) if closed else None,
        "answer": status,
        "waited": wait,
    }


async def probe_session_flood(url: str, process: trio.Process, count: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=8)) as client:
        before = rss_kib(process.pid)
        opened = refused = 0
        sessions: list[str] = []
        for _ in range(count):
            session = await open_session(client, url)
            if session is None:
                refused += 1
            else:
                opened += 1
                sessions.append(session)
        held = 0
        for session in sessions:  # which of them the server still knows
            response = await client.post(
                url,
                content=msgspec.json.encode({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
                headers=session_headers(session),
            )
            held += response.status_code == 200
        after = rss_kib(process.pid)
        newcomer = await open_session(client, url) is not None
    return {
        "opened": opened,
        "refused": refused,
        "still held": held,
        "newcomer served": newcomer,
        "rss before KiB": before,
        "rss after KiB": after,
    }


async def probe_load(
    url: str, process: trio.Process, clients: int, seconds: float, rounds: int = 2
) -> dict[str, Any]:
    """``rounds`` rounds of ``clients`` clients, each on a session of its own that it
    ends (DELETE) when its round is over: memory after the first round and after the
    last (the same when nothing leaks)."""
    latencies: list[float] = []
    errors = 0
    before = rss_kib(process.pid)
    after_first = 0

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal errors
        session = await open_session(client, url)
        if session is None:
            errors += 1
            return
        headers = session_headers(session)
        end = time.monotonic() + seconds
        rid = 0
        while time.monotonic() < end:
            rid += 1
            started = time.monotonic()
            try:
                response = await client.post(
                    url, content=msgspec.json.encode(call(rid, "echo", text="x" * 100)),
                    headers=headers,
                )  # fmt: skip
                ok = any(m.get("id") == rid and "result" in m for m in messages(response))
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.monotonic() - started)
            else:
                errors += 1
        await client.delete(url, headers=headers)

    for round_ in range(rounds):
        async with (
            httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=clients)) as client,
            trio.open_nursery() as nursery,
        ):
            for _ in range(clients):
                nursery.start_soon(one, client)
        await trio.sleep(1)
        if round_ == 0:
            after_first = rss_kib(process.pid)
    after = rss_kib(process.pid)
    seconds *= rounds
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "seconds": seconds,
        "calls": len(latencies),
        "errors": errors,
        "calls/s": round(len(latencies) / seconds),
        "p50 ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p99 ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1) if ordered else None,
        "rss before KiB": before,
        "rss after round 1 KiB": after_first,
        "rss after KiB": after,
    }


# -- the run ----------------------------------------------------------------------------


async def soak_peer(argv: list[str], o: argparse.Namespace) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    results["garbage"] = await probe_garbage(argv, o.inputs)
    async with trio.open_nursery() as nursery:  # the pipe faults wait in parallel

        async def run(name: str, probe: Callable[[], Any]) -> None:
            results[name] = await probe()

        nursery.start_soon(run, "vanish", lambda: probe_vanish(argv, "hang", True, o.wait))
        nursery.start_soon(run, "epipe", lambda: probe_vanish(argv, "ticker", False, o.wait))
    async with http_server(argv) as (url, process), trio.open_nursery() as nursery:
        nursery.start_soon(run, "slow-body", lambda: probe_slow_body(url, o.slow_body_wait))
        results["http-vanish"] = await probe_http_vanish(url, o.vanish)
        results["session-flood"] = await probe_session_flood(url, process, o.sessions)
        results["load"] = await probe_load(url, process, o.clients, o.seconds)
    return results


def write_report(path: Path, o: argparse.Namespace, results: dict[str, Any]) -> None:
    peers = list(results)
    lines = [
        "# Reliability",
        "",
        "Written by `nox -s soak` (`python tools/soak.py`): the same probes, in one run, "
        "against our server (`tests-integration/fault_server.py`) and the official SDK's "
        "(`tests-integration/soak_sdk_server.py`, `mcp.server.mcpserver.MCPServer`), each a real child "
        "process on stdio and on Streamable HTTP (2025-11-25 sessions). Raw JSON-RPC and "
        "raw HTTP: both get the same bytes. Wall-clock figures from one machine; what the "
        "tests assert (on a mock clock) is in tests-integration/test_faults.py.",
        "",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.platform()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
        + (", --quick" if o.quick else "")
        + f". Rerun: `python3 tools/nox.py -s soak`{' -- --quick' if o.quick else ''}.",
        "",
        "| probe | figure | " + " | ".join(peers) + " |",
        "|---|---|" + "---|" * len(peers),
    ]
    for probe in results[peers[0]]:
        for figure in results[peers[0]][probe]:
            cells = [str(results[p].get(probe, {}).get(figure, "-")) for p in peers]
            lines.append(f"| {probe} | {figure} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Probes: **garbage** - mutated frames on stdin (truncated, flipped bytes, wrong "
        "types, odd ids, nesting to 20,000, 1 MB strings, batches, non-UTF-8), a ping every "
        "50 (alive: every ping answered); **vanish** - the client closes both pipes while "
        "a silent handler runs; **epipe** - the client stops reading while a handler "
        "writes progress (stdin stays open); **http-vanish** - clients disconnect mid-call, "
        "then one more call on the session; **slow-body** - a POST announcing 1000 bytes "
        "and sending 11; **session-flood** - one client opens sessions without end (held: "
        "those the server still answers afterwards; newcomer: a new session afterwards); "
        "**load** - concurrent clients calling `echo` on sessions of their own, ended "
        "(DELETE) after each of two rounds; memory after the first round and after both.",
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the bounded run of the tests")
    parser.add_argument("--sdk-python", default=str(DEFAULT_SDK_PYTHON))
    parser.add_argument("--peers", default=None, help="ours,sdk (default: both; --quick: ours)")
    parser.add_argument("--out", default=str(ROOT / "RELIABILITY.md"))
    o = parser.parse_args()
    o.inputs = 1000 if o.quick else 20_000
    o.vanish = 20 if o.quick else 200
    o.sessions = 300 if o.quick else 3000
    o.clients = 4 if o.quick else 16
    o.seconds = 3.0 if o.quick else 30.0
    o.wait = 20.0 if o.quick else 60.0
    o.slow_body_wait = 40.0 if o.quick else 120.0
    names = (o.peers or ("ours" if o.quick else "ours,sdk")).split(",")
    argvs = {"ours": OURS, "sdk": [o.sdk_python, SDK_SERVER]}
    if "sdk" in names and not Path(o.sdk_python).exists():
        sys.exit(f"no official SDK at {o.sdk_python}: set --sdk-python (a Python with mcp)")

    async def run() -> dict[str, Any]:
        return {name: await soak_peer(argvs[name], o) for name in names}

    results = trio.run(run)
    write_report(Path(o.out), o, results)
    print(msgspec.json.format(msgspec.json.encode(results)).decode())


if __name__ == "__main__":
    main()
