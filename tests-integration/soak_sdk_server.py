"""The official SDK's server for ``tools/soak.py``: the tools of
``tests-integration/fault_server.py`` (``add``, ``echo``, ``hang``, ``ticker``,
``nap``), written with ``mcp.server.mcpserver.MCPServer``, run by the SDK's Python.

    python soak_sdk_server.py stdio
    python soak_sdk_server.py http PORT     # streamable HTTP at /mcp (uvicorn)
"""

import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("soak-sdk", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool()
async def hang(ctx: Context) -> str:
    """Report progress once, then wait until cancelled."""
    await ctx.report_progress(0, 1, "started")
    await anyio.sleep_forever()
    return "never"


@server.tool()
async def ticker(ctx: Context) -> str:
    """Report progress every 20 ms until cancelled."""
    step = 0
    while True:
        await ctx.report_progress(step)
        step += 1
        await anyio.sleep(0.02)


@server.tool()
async def nap(seconds: float) -> str:
    """Sleep, then say so."""
    await anyio.sleep(seconds)
    return f"slept {seconds:g}"


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
