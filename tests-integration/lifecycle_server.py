"""A server for the process lifecycle tests (test_lifecycle.py), run as a child.

    python lifecycle_server.py stdio              # server.run_stdio()
    python lifecycle_server.py http PORT          # server.run_http(port=PORT)
    python lifecycle_server.py run-http PORT      # server.run("http", port=PORT)
    python lifecycle_server.py stdio-mock-clock   # serve_stdio() on trio's MockClock

``GRACE`` (environment) is the shutdown grace in seconds (default: the server's).
Tools: ``add``; ``hang`` (reports progress, then waits forever: only a shutdown
ends it); ``guarded`` (reports progress, then in a masked section waits until the
shutdown's cancellation has arrived and writes ``MARKER`` after it: the section is
never cut). ``fastmcp run`` serves this file too (the object ``server``).
"""

from __future__ import annotations

import os
import sys

import trio

from fastmcp import McpContext, Server

server = Server("lifecycle", "1.0")


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def hang(ctx: McpContext) -> str:
    """Wait until the server stops."""
    await ctx.report_progress(0, 1, "started")
    await trio.sleep_forever()


@server.tool
async def guarded(ctx: McpContext, marker: str) -> str:
    """A critical section that outlives the shutdown's cancellation."""
    await ctx.report_progress(0, 1, "started")
    with ctx.masked():
        # until the grace is over: nothing but polling sees a cancellation in a shield
        while (reason := ctx.cancel_reason) is None:  # noqa: ASYNC110
            await trio.sleep(0.01)
        await trio.Path(marker).write_text(f"written after the cancellation ({reason.value})")
    await ctx.checkpoint()  # the cancellation lands here
    return "not cancelled?"


if __name__ == "__main__":
    grace = float(os.environ["GRACE"]) if "GRACE" in os.environ else None
    mode = sys.argv[1]
    if mode == "stdio":
        server.run_stdio(shutdown_grace=grace)
    elif mode == "http":
        server.run_http(port=int(sys.argv[2]), shutdown_grace=grace)
    elif mode == "stdio-mock-clock":
        # every default (no request_timeout, no shutdown_grace), time jumping ahead
        # whenever all tasks wait: a drain takes no real time; says when it ended
        import trio.testing

        clock = trio.testing.MockClock(autojump_threshold=0)
        trio.run(server.serve_stdio, clock=clock)
        print(f"stopped at {clock.current_time():g} s", file=sys.stderr)
    else:
        server.run("http", port=int(sys.argv[2]), shutdown_grace=grace)
