"""The benchmark server: the same server as the peers in ../shared/bench/peers/.

Tools ``echo``, ``add`` and ``sleep``, one resource and one prompt, and
``MCPBENCH_EXTRA_TOOLS`` more tools (``tool_0000``...), written the way this framework
is meant to be used.

    python examples/bench_server.py              # stdio
    python examples/bench_server.py http PORT    # Streamable HTTP on 127.0.0.1:PORT/mcp

Over HTTP it answers with SSE streams like the peers, without an event store (like the
peers' defaults): a resumable stream of 2025-11-25 starts with a priming event (an id and
empty data), which mcpbench's SSE reader takes for a message and fails to parse.
"""

from __future__ import annotations

import os
import sys

import trio

from fastmcp_server import Server

server = Server("bench-fastmcp", "0.1.0")


@server.tool
async def echo(message: str) -> str:
    """Echo the message back."""
    return message


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def sleep(ms: int) -> str:
    """Sleep asynchronously for `ms` milliseconds (concurrency test)."""
    await trio.sleep(ms / 1000)
    return f"slept {ms} ms"


@server.resource("bench://info", name="info", mime_type="text/plain")
def info() -> str:
    """A static text resource."""
    return "mcpbench peer resource"


@server.prompt
def greet(name: str) -> str:
    """A one-argument prompt."""
    return f"Please greet {name} warmly."


def _extra_tool(i: int) -> None:
    async def synthetic(x: int, label: str = "") -> str:
        return f"{label}{x}"

    server.tool(name=f"tool_{i:04d}", description=f"Synthetic tool number {i} (mcpbench).")(
        synthetic
    )


for _i in range(int(os.environ.get("MCPBENCH_EXTRA_TOOLS", "0") or 0)):
    _extra_tool(_i)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        server.run_http(port=int(sys.argv[2]) if len(sys.argv) > 2 else 8000, event_store=None)
    else:
        server.run_stdio()
