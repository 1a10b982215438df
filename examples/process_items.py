"""Cooperative cancellation: check between items, report progress as you go.

A client that cancels the call (or a budget that runs out) stops the loop at the
next checkpoint; the client sees progress notifications when it asked for them.

    python examples/process_items.py
"""

import trio

from fastmcp import McpContext, Server

server = Server("processor", "1.0.0", request_timeout=60)


@server.tool
async def process_items(ctx: McpContext, items: list[str]) -> list[str]:
    """Upper-case each item, slowly.

    Args:
        items: the items to process
    """
    results = []
    for i, item in enumerate(items):
        await ctx.checkpoint()  # cancellation lands here between items
        await ctx.report_progress(i, len(items), f"processing {item}")
        await trio.sleep(0.01)  # the real work
        results.append(item.upper())
    await ctx.report_progress(len(items), len(items), "done")
    return results


if __name__ == "__main__":
    server.run_stdio()
