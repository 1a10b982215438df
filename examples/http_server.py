"""A server over Streamable HTTP (both protocol eras) on 127.0.0.1.

python examples/http_server.py [PORT]      # http://127.0.0.1:PORT/mcp
"""

import sys

from fastmcp import McpContext, Server

server = Server("http-example", "1.0.0", instructions="A demo over HTTP.", request_timeout=30)


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def countdown(ctx: McpContext, n: int) -> str:
    """Count down, reporting progress (streamed over SSE).

    Args:
        n: where to start
    """
    for i in range(n, 0, -1):
        await ctx.report_progress(n - i + 1, n, str(i))
    return "liftoff"


@server.resource("info://server")
def info() -> str:
    return "served over HTTP"


if __name__ == "__main__":
    server.run_http(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
