"""Micro-benchmark: what the server costs per request, routing included.

The server of ``examples/bench_server.py`` (``echo`` and 1000 more tools: 1001 here)
runs in this process on one end of an in-memory transport; the other end sends
pre-encoded frames and reads the answers (no client library: its cost is the same
for every version of the server). Measured, as CPU time of the process per request:

* ``tools/call`` of ``echo``, one request at a time (the stdio call path: decode,
  route, middleware hooks, call, encode);
* ``tools/list`` of every tool (one page).

To compare two versions, run both alternately (``git archive <commit>`` elsewhere,
then its packages' ``src`` on ``PYTHONPATH`` for the base)::

    for i in 1 2 3 4 5 6; do
        PYTHONPATH=$BASE_SRC python benchmarks/server_overhead.py
        python benchmarks/server_overhead.py
    done

and compare the medians: only ratios taken inside one interleaved run mean much.

    python benchmarks/server_overhead.py [CALLS] [LISTS]
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import trio

from fastmcp_server import Server
from fastmcp_transport import memory_pair

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
LISTS = int(sys.argv[2]) if len(sys.argv) > 2 else 200


def build() -> Server:
    server = Server("bench-fastmcp", "0.1.0")

    @server.tool
    async def echo(message: str) -> str:
        """Echo the message back."""
        return message

    def add_synthetic(i: int) -> None:
        async def synthetic(x: int, label: str = "") -> str:
            return f"{label}{x}"

        server.tool(name=f"tool_{i:04d}", description=f"Synthetic tool {i}")(synthetic)

    for i in range(1000):
        add_synthetic(i)
    return server


def frame(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return json.dumps(message).encode()


async def main() -> None:
    server = build()
    client, server_end = memory_pair()
    figures: dict[str, float] = {}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_transport, server_end)
        hello = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        }
        await client.send(frame(0, "initialize", hello))
        await client.receive()
        await client.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        calls = [
            frame(i + 1, "tools/call", {"name": "echo", "arguments": {"message": f"m{i}"}})
            for i in range(CALLS)
        ]
        lists = [frame(10**9 + i, "tools/list", {}) for i in range(LISTS)]
        for request in calls[:500]:  # warm up
            await client.send(request)
            await client.receive()
        cpu = time.process_time()
        for request in calls:
            await client.send(request)
            await client.receive()
        figures["call_cpu_us"] = (time.process_time() - cpu) / CALLS * 1e6
        cpu = time.process_time()
        size = 0
        for request in lists:
            await client.send(request)
            size = len(await client.receive())
        figures["list_cpu_ms"] = (time.process_time() - cpu) / LISTS * 1e3
        figures["list_kib"] = size / 1024
        await client.aclose()
    print(json.dumps(figures))


if __name__ == "__main__":
    trio.run(main)
