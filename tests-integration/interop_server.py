"""The server the interop tests drive with other implementations' clients.

python interop_server.py            # stdio
python interop_server.py http PORT  # Streamable HTTP on 127.0.0.1:PORT/mcp
"""

import sys

from fastmcp_core import McpContext
from fastmcp_server import Server

server = Server("interop", "1.0.0", instructions="An interop test server.")


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def countdown(ctx: McpContext, n: int) -> str:
    """Count down from n, reporting progress."""
    for i in range(n):
        await ctx.report_progress(i + 1, n, f"{n - i}")
    return "liftoff"


@server.resource("info://about", description="About this server", mime_type="text/plain")
def about() -> str:
    return "interop test server"


@server.prompt(description="Greet someone")
def greeting(name: str) -> str:
    return f"Please greet {name} warmly."


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--port":
        server.run_http(port=int(sys.argv[2]))
    else:
        server.run_stdio()
