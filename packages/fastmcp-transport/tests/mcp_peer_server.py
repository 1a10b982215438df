"""The interop peer: the official Python SDK's server (``mcp`` 2.3.0), over HTTP.

Run by the tests with the interpreter of the SDK's own virtual environment (never
imported by pytest). It serves one MCPServer twice, on two ports of 127.0.0.1 that
the OS picks: Streamable HTTP at ``/mcp`` (both protocol eras, with an event store
so that legacy streams are resumable) and the legacy HTTP+SSE transport at ``/sse``.
It prints ``READY <streamable port> <sse port>`` once both listen, and serves until
its stdin closes.
"""

from __future__ import annotations

import socket
import sys
from typing import Annotated, Any

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from pydantic import Field

server = MCPServer("interop-peer", version="2.3.0-test")
cancelled: dict[str, anyio.Event] = {}


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool()
async def count(steps: int, ctx: Context) -> str:
    """Report progress ``steps`` times, then answer."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return f"counted {steps}"


@server.tool()
async def block(key: str) -> str:
    """Wait until cancelled; remember that the cancellation came."""
    try:
        await anyio.sleep_forever()
    except anyio.get_cancelled_exc_class():
        cancelled.setdefault(key, anyio.Event()).set()
        raise
    return "unreachable"


@server.tool()
async def was_cancelled(key: str) -> str:
    """``yes`` once ``block(key)`` was cancelled (waits a little for it), else ``no``."""
    event = cancelled.setdefault(key, anyio.Event())
    with anyio.move_on_after(5):
        await event.wait()
    return "yes" if event.is_set() else "no"


@server.tool()
async def headers(
    region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
    ctx: Context,
) -> str:
    """The MCP request headers this call came with, one ``name=value`` per line."""
    received = ctx.headers or {}
    return "\n".join(
        f"{name.lower()}={value}"
        for name, value in sorted(received.items())
        if name.lower().startswith("mcp-")
    )


@server.tool()
async def poll(ctx: Context) -> str:
    """Close this request's SSE stream (the client must resume it), then answer."""
    await ctx.report_progress(1, 2, "before the break")
    await ctx.close_sse_stream()
    await anyio.sleep(0.3)
    await ctx.report_progress(2, 2, "after the break")
    return "resumed"


class MemoryEventStore(EventStore):
    """Keeps every event in memory, numbered globally, for ``Last-Event-ID`` replays."""

    def __init__(self) -> None:
        self.events: list[tuple[str, EventMessage]] = []

    async def store_event(self, stream_id: str, message: Any) -> str:
        event_id = str(len(self.events) + 1)
        self.events.append((stream_id, EventMessage(message, event_id)))
        return event_id

    async def replay_events_after(
        self, last_event_id: str, send_callback: EventCallback
    ) -> str | None:
        index = int(last_event_id)
        if not 0 < index <= len(self.events):
            return None
        stream_id = self.events[index - 1][0]
        for other, event in self.events[index:]:
            if other == stream_id and event.message is not None:
                await send_callback(event)
        return stream_id


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


async def main() -> None:
    streamable = server.streamable_http_app(event_store=MemoryEventStore(), retry_interval=100)
    sse = server.sse_app()
    sockets = [listening_socket(), listening_socket()]
    servers = [
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        for app in (streamable, sse)
    ]
    async with anyio.create_task_group() as tasks:
        for one, sock in zip(servers, sockets, strict=True):
            tasks.start_soon(one.serve, [sock])
        while not all(one.started for one in servers):  # noqa: ASYNC110 (uvicorn has no event)
            await anyio.sleep(0.01)
        ports = " ".join(str(sock.getsockname()[1]) for sock in sockets)
        print(f"READY {ports}", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)  # until the test closes our stdin
        for one in servers:
            one.should_exit = True


if __name__ == "__main__":
    anyio.run(main)
