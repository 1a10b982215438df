"""A server for the fault-injection tests (test_faults.py) and the soak (tools/soak.py).

    python fault_server.py stdio           # server.run_stdio()
    python fault_server.py http PORT       # server.run_http(port=PORT)

``GRACE`` (environment) is the shutdown grace in seconds (default: the server's).
Tools: ``add``; ``echo``; ``hang`` (progress once, then waits forever; writes
"cancelled" to ``marker`` when cancelled); ``ticker`` (progress every 20 ms forever,
the same marker); ``flood`` (``count`` log messages of ``size`` bytes, then a result);
``nap`` (sleeps ``seconds``).
"""

from __future__ import annotations

import os
import sys

import trio

from fastmcp import McpContext, Server

server = Server("faults", "1.0")


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def echo(text: str) -> str:
    """Echo the text."""
    return text


async def _mark(marker: str) -> None:
    if marker:
        await trio.Path(marker).write_text("cancelled")


@server.tool
async def hang(ctx: McpContext, marker: str = "") -> str:
    """Report progress once, then wait until cancelled."""
    await ctx.report_progress(0, 1, "started")
    try:
        await trio.sleep_forever()
    except trio.Cancelled:
        with trio.CancelScope(shield=True):
            await _mark(marker)
        raise
    return "never"


@server.tool
async def ticker(ctx: McpContext, marker: str = "") -> str:
    """Report progress every 20 ms until cancelled."""
    try:
        step = 0
        while True:
            await ctx.report_progress(step)
            step += 1
            await trio.sleep(0.02)
    except BaseException:
        with trio.CancelScope(shield=True):
            await _mark(marker)
        raise


@server.tool
async def flood(ctx: McpContext, count: int, size: int = 100) -> int:
    """Send ``count`` log messages of ``size`` bytes, then answer ``count``."""
    for n in range(count):
        await ctx.info(f"{n:08d}" + "x" * max(size - 8, 0))
    return count


@server.tool
async def nap(seconds: float) -> str:
    """Sleep, then say so."""
    await trio.sleep(seconds)
    return f"slept {seconds:g}"


if __name__ == "__main__":
    grace = float(os.environ["GRACE"]) if "GRACE" in os.environ else None
    if sys.argv[1] == "stdio":
        server.run_stdio(shutdown_grace=grace)
    else:
        server.run_http(port=int(sys.argv[2]), shutdown_grace=grace)
