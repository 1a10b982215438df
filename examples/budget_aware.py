"""Budgets, not timeouts: a handler that reads what it has left and adapts.

python examples/budget_aware.py
"""

import trio

from fastmcp import Budget, McpContext, Server

server = Server("planner", "1.0.0", request_timeout=10)


@server.tool(timeout=2)  # this tool's budget: the tighter of 2 s and the server's 10 s
async def search(ctx: McpContext, query: str) -> str:
    """Search as deep as the budget allows.

    Args:
        query: what to look for
    """
    depth = 0
    while ctx.budget().remaining() > 0.5 and depth < 5:  # keep half a second to answer
        await ctx.checkpoint()
        await trio.sleep(0.01)
        depth += 1
    ctx.restrict(Budget(cost_quota=3))  # spend at most 3 units from here on
    ctx.consume(1)
    return f"searched {query!r} {depth} levels deep with {ctx.budget().remaining():.1f} s left"


if __name__ == "__main__":
    server.run_stdio()
