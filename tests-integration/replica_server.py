"""One replica of a server, for the scale-out tests (test_scale_out.py), run as a child
over stdio: ``python replica_server.py`` (the store and the state secret from
``FASTMCP_STORE`` and ``FASTMCP_STATE_SECRET``) or ``fastmcp run replica_server.py
--store URL --state-secret SECRET``.

Tools: ``compute`` (waits, answers); ``deliver`` (writes ``MARKERS/<name>.started``,
waits, then has its effect: writes ``MARKERS/<name>.delivered``; on its way out,
cancelled or not, writes ``MARKERS/<name>.ended``); ``confirm`` (a task that asks a
question); ``greet`` (asks in an input round, no task); ``touch`` (tells that a
resource changed: on this replica); ``grow`` (adds a tool: a list change here);
``whoami`` (the process id of the replica running it); ``count`` (reports progress
``1..n``, waiting after the first half until ``MARKERS/<gate>`` exists).
"""

from __future__ import annotations

import os
from pathlib import Path

import trio

from fastmcp import McpContext, Server

server = Server("jobs", "1.0")
MARKERS = Path(os.environ.get("MARKERS", "."))


@server.tool(task="optional")
async def compute(seconds: float) -> str:
    await trio.sleep(seconds)
    return f"computed after {seconds}s"


@server.tool(task="optional")
async def deliver(name: str, seconds: float) -> str:
    (MARKERS / f"{name}.started").write_text(str(os.getpid()))
    try:
        await trio.sleep(seconds)
        (MARKERS / f"{name}.delivered").write_text("the effect")
    finally:
        (MARKERS / f"{name}.ended").write_text("")
    return "delivered"


@server.tool(task="required")
async def confirm(ctx: McpContext, filename: str) -> str:
    answer = await ctx.elicit(f"Delete {filename}?", {"properties": {"ok": {"type": "boolean"}}})
    return f"deleted={answer.data}"


@server.tool
async def greet(ctx: McpContext) -> str:
    who = await ctx.elicit("Name?", {"properties": {"name": {"type": "string"}}}, key="name")
    assert who.data is not None
    return f"Hello {who.data['name']} from {os.getpid()}"


@server.tool
async def touch(uri: str) -> str:
    await server.notify_resource_updated(uri)
    return "told"


@server.tool
async def grow(name: str) -> str:
    server.tool(name=name)(lambda: name)
    return "grown"


@server.tool
def whoami() -> str:
    return str(os.getpid())


@server.tool
async def probe(ctx: McpContext) -> str:
    """The HTTP request that carried this call, as the replica running it sees it."""
    http = ctx.http
    assert http is not None
    return f"{http.header('x-probe')} {http.header('authorization')} {http.client is not None}"


@server.tool
async def count(ctx: McpContext, n: int, gate: str) -> str:
    for i in range(1, n + 1):
        if i == n // 2 + 1:
            while True:  # the test opens the gate (a file)
                if (MARKERS / gate).exists():
                    break
                await trio.sleep(0.01)
        await ctx.report_progress(i, n)
    return f"counted {n}"


@server.resource("config://app")
def config() -> str:
    return "v1"


if __name__ == "__main__":
    server.run()
