"""Client benchmark: one MCP client against one stdio server, echo tool calls.

The same calls with either client library, so the two can be compared side by side:

* ``--impl ours``: ``fastmcp_client.Client`` (trio), run with this repository's venv;
* ``--impl sdk``: the official SDK's ``mcp.Client`` (anyio on asyncio), run with the
  peers' ``venv-sdk`` python (``../shared/bench/setup_peers.sh``);
* ``--impl bare``: no client library, raw JSON lines from one trio task: the least a
  call costs on this machine, to read the other two against;
* ``--impl paired``: ours and the bare loop in one process, each with its own server,
  sequential calls in alternating blocks (``--blocks`` of ``--block`` calls each, the
  first in each pair alternating too): both see the same machine at the same time,
  so their ratio does not depend on where the scheduler happened to put each run
  (separate runs of the bare loop alone move by half on this 2-core machine, as the
  client and the server share a core or not). It prints one line per client with
  the median of its blocks and the median of the per-pair ratios.

Phases, after connecting and ``--warmup`` untimed calls:

* ``seq``: ``--n-seq`` calls, one at a time;
* ``conc``: waves of ``--conc`` calls started at once (each wave waits for all its
  answers), until ``--n-conc`` calls are done.

For each phase it prints one JSON line: calls/s, the client process's CPU time per
call (``time.process_time``: every thread of this process, so an SDK worker thread
counts too) and the server's (utime + stime of the child processes from /proc,
10 ms ticks). The script uses only the standard library and the client under test.

    python benchmarks/client_bench.py --impl ours --server 'python floor_server.py'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

MESSAGE = "hello, benchmark"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        pid = int(entry)
        parents.setdefault(int(fields[1]), []).append(pid)
        stats[pid] = (int(fields[11]), int(fields[12]))
    total, todo = 0, list(parents.get(os.getpid(), ()))
    while todo:
        pid = todo.pop()
        utime, stime = stats.get(pid, (0, 0))
        total += utime + stime
        todo.extend(parents.get(pid, ()))
    return total / CLK_TCK


Call = Callable[[], Awaitable[str]]


class Phases:
    """The timed phases, written once for both clients (``spawn`` starts a task)."""

    def __init__(self, options: argparse.Namespace, impl: str) -> None:
        self.options = options
        self.impl = impl

    def report(self, phase: str, calls: int, wall: float, cpu: float, server: float) -> None:
        line = {
            "impl": self.impl,
            "phase": phase,
            "calls": calls,
            "wall_s": round(wall, 4),
            "calls_per_s": calls / wall,
            "client_cpu_us_per_call": cpu / calls * 1e6,
            "server_cpu_us_per_call": server / calls * 1e6,
        }
        print(json.dumps(line), flush=True)

    async def run(self, call: Call, wave: Callable[[int], Awaitable[list[str]]]) -> None:
        o = self.options
        for _ in range(o.warmup):
            await call()
        marks = time.perf_counter(), time.process_time(), _children_cpu_s()
        for _ in range(o.n_seq):
            text = await call()
            if text != MESSAGE:
                raise SystemExit(f"wrong answer: {text!r}")
        self.report("seq", o.n_seq, *_since(marks))
        await wave(o.conc)  # warm the concurrent path too
        marks = time.perf_counter(), time.process_time(), _children_cpu_s()
        done = 0
        while done < o.n_conc:
            texts = await wave(o.conc)
            if texts.count(MESSAGE) != len(texts):
                raise SystemExit("wrong answers in a wave")
            done += len(texts)
        self.report(f"conc{o.conc}", done, *_since(marks))


def _since(marks: tuple[float, float, float]) -> tuple[float, float, float]:
    wall, cpu, server = marks
    return (
        time.perf_counter() - wall,
        time.process_time() - cpu,
        _children_cpu_s() - server,
    )


Calls = tuple[Call, Callable[[int], Awaitable[list[str]]]]
"""What a phase needs of a client: one call, and a wave of calls started at once."""


@asynccontextmanager
async def ours_client(server: str) -> AsyncIterator[Calls]:
    import trio

    from fastmcp_client import Client

    async with Client(shlex.split(server)) as client:

        async def call() -> str:
            result = await client.call_tool("echo", {"message": MESSAGE})
            return result.content[0].text  # type: ignore[union-attr]

        async def wave(count: int) -> list[str]:
            texts: list[str] = []

            async def one() -> None:
                texts.append(await call())

            async with trio.open_nursery() as nursery:
                for _ in range(count):
                    nursery.start_soon(one)
            return texts

        yield call, wave


@asynccontextmanager
async def bare_client(server: str) -> AsyncIterator[Calls]:
    """No client library: JSON lines written with ``os.write``, answers read after
    ``wait_readable``, in one trio task. The calibration: what a call costs this
    machine at the least (process wake-ups, pipes, the trio loop)."""
    import subprocess

    import msgspec
    import trio

    process = await trio.lowlevel.open_process(
        shlex.split(server), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    stdin, stdout = process.stdin, process.stdout
    assert isinstance(stdin, trio.lowlevel.FdStream)
    assert isinstance(stdout, trio.lowlevel.FdStream)
    wfd, rfd = stdin.fileno(), stdout.fileno()
    encode, decode = msgspec.json.encode, msgspec.json.decode
    pending = b""
    next_id = 0

    def request(method: str, params: dict[str, Any]) -> bytes:
        nonlocal next_id
        next_id += 1
        message = {"jsonrpc": "2.0", "id": next_id, "method": method, "params": params}
        return encode(message) + b"\n"

    async def answers(count: int) -> list[Any]:
        nonlocal pending
        lines: list[bytes] = []
        while len(lines) < count:
            try:
                chunk = os.read(rfd, 1 << 16)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(rfd)
                continue
            *complete, pending = (pending + chunk).split(b"\n")
            lines += complete
        return [decode(line) for line in lines]

    async def send(data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(wfd, view) :]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(wfd)

    echo = {"name": "echo", "arguments": {"message": MESSAGE}}
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "b"}}

    async def call() -> str:
        await send(request("tools/call", echo))
        (answer,) = await answers(1)
        return str(answer["result"]["content"][0]["text"])

    async def wave(count: int) -> list[str]:
        async with trio.open_nursery() as nursery:  # the answers come while we write
            nursery.start_soon(send, b"".join(request("tools/call", echo) for _ in range(count)))
            got = await answers(count)
        return [str(a["result"]["content"][0]["text"]) for a in got]

    try:
        await send(request("initialize", init))
        await answers(1)
        await send(encode({"jsonrpc": "2.0", "method": "notifications/initialized"}) + b"\n")
        yield call, wave
    finally:
        process.kill()
        await process.wait()


def run_ours(options: argparse.Namespace) -> None:
    import trio

    async def main() -> None:
        async with ours_client(options.server) as (call, wave):
            await Phases(options, "ours").run(call, wave)

    trio.run(main)


def run_bare(options: argparse.Namespace) -> None:
    import trio

    async def main() -> None:
        async with bare_client(options.server) as (call, wave):
            await Phases(options, "bare").run(call, wave)

    trio.run(main)


def run_paired(options: argparse.Namespace) -> None:
    """Ours and the bare loop in one process, in alternating blocks (module docstring)."""
    import statistics

    import trio

    async def main() -> None:
        async with ours_client(options.server) as ours, bare_client(options.server) as bare:
            clients = {"ours": ours[0], "bare": bare[0]}
            for call in clients.values():
                for _ in range(options.warmup):
                    await call()
            cpu: dict[str, list[float]] = {"ours": [], "bare": []}
            totals = dict.fromkeys(clients, (0.0, 0.0, 0.0))  # wall, cpu, server
            for block in range(options.blocks):
                order = ["ours", "bare"] if block % 2 == 0 else ["bare", "ours"]
                for impl in order:
                    call = clients[impl]
                    marks = time.perf_counter(), time.process_time(), _children_cpu_s()
                    for _ in range(options.block):
                        if await call() != MESSAGE:
                            raise SystemExit(f"wrong answer from {impl}")
                    spent = _since(marks)
                    cpu[impl].append(spent[1] / options.block * 1e6)
                    wall, used, server = totals[impl]
                    totals[impl] = (wall + spent[0], used + spent[1], server + spent[2])
            ratios = [a / b for a, b in zip(cpu["ours"], cpu["bare"], strict=True)]
            calls = options.blocks * options.block
            for impl in clients:
                wall, _, server = totals[impl]
                line = {
                    "impl": impl,
                    "phase": "seq-paired",
                    "calls": calls,
                    "wall_s": round(wall, 4),
                    "calls_per_s": calls / wall,
                    "client_cpu_us_per_call": statistics.median(cpu[impl]),
                    "server_cpu_us_per_call": server / calls * 1e6,
                    "ratio_to_bare": statistics.median(ratios) if impl == "ours" else 1.0,
                    "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
                }
                print(json.dumps(line), flush=True)

    trio.run(main)


def run_sdk(options: argparse.Namespace) -> None:
    import anyio
    from mcp import Client, StdioServerParameters  # type: ignore[import-not-found]

    argv = shlex.split(options.server)
    params = StdioServerParameters(command=argv[0], args=argv[1:])

    async def main() -> None:
        async with Client(params) as client:

            async def call() -> str:
                result = await client.call_tool("echo", {"message": MESSAGE})
                return str(result.content[0].text)

            async def wave(count: int) -> list[str]:
                texts: list[str] = []

                async def one() -> None:
                    texts.append(await call())

                async with anyio.create_task_group() as group:
                    for _ in range(count):
                        group.start_soon(one)
                return texts

            await Phases(options, "sdk").run(call, wave)

    anyio.run(main)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["ours", "sdk", "bare", "paired"], required=True)
    parser.add_argument("--server", required=True, help="the stdio server command line")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--n-seq", type=int, default=2000)
    parser.add_argument("--conc", type=int, default=2000, help="calls started at once")
    parser.add_argument("--n-conc", type=int, default=10000)
    parser.add_argument("--blocks", type=int, default=20, help="paired: blocks per client")
    parser.add_argument("--block", type=int, default=500, help="paired: calls per block")
    options = parser.parse_args(argv)
    runners: dict[str, Callable[[argparse.Namespace], Any]] = {
        "ours": run_ours,
        "sdk": run_sdk,
        "bare": run_bare,
        "paired": run_paired,
    }
    runners[options.impl](options)


if __name__ == "__main__":
    main()
