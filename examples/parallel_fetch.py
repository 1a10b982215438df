"""Structured concurrency: children of a request with ctx.spawn.

The request ends only when all its children end; cancelling the request (or its
budget running out) cancels them; a child that fails fails the request.

    python examples/parallel_fetch.py
"""

import trio

from fastmcp import McpContext, Server

server = Server("fetcher", "1.0.0")


async def fetch(url: str) -> str:
    """Stands in for an HTTP request."""
    await trio.sleep(0.05)
    return f"<contents of {url}>"


@server.tool
async def parallel_fetch(ctx: McpContext, urls: list[str]) -> dict[str, str]:
    """Fetch every URL at once.

    Args:
        urls: the URLs to fetch
    """
    results: dict[str, str] = {}
    done = trio.Event()

    async def one(url: str) -> None:
        results[url] = await fetch(url)
        if len(results) == len(urls):
            done.set()

    for url in urls:
        ctx.spawn(one, url)
    if urls:
        await done.wait()
    return results


if __name__ == "__main__":
    server.run_stdio()
