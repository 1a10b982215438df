"""A critical section: ctx.masked() keeps cancellation out until the write is done.

If the client cancels in the middle of the write, the write completes and the
cancellation lands at the next checkpoint after the masked section - the file is
never half written.

    python examples/critical_write.py
"""

import tempfile
from pathlib import Path

import trio

from fastmcp import McpContext, Server

server = Server("writer", "1.0.0")
STORE = Path(tempfile.gettempdir()) / "fastmcp-critical-write.txt"


@server.tool
async def save(ctx: McpContext, text: str) -> str:
    """Write text atomically: all of it, or nothing.

    Args:
        text: what to write
    """
    await ctx.checkpoint()
    with ctx.masked():
        partial = STORE.with_suffix(".partial")
        await trio.Path(partial).write_text(text)
        await trio.sleep(0.05)  # a slow disk: cancellation cannot land here
        await trio.Path(partial).rename(STORE)
    await ctx.checkpoint()  # a cancellation that arrived meanwhile lands here
    return f"saved {len(text)} characters"


if __name__ == "__main__":
    server.run_stdio()
