"""A server on the official Python SDK (``mcp==2.3.0``): the peer our client and our HTTP
transports are tested against. Run with the interpreter of the SDK's own cached venv
(``peers.sdk_python()``), never imported by pytest.

    python sdk_server.py          # stdio
    python sdk_server.py --http   # Streamable HTTP and HTTP+SSE, see serve_http

The SDK's server is dual-era: it answers ``server/discover`` (2026-07-28, input-required
rounds for what a tool asks of the client) and ``initialize`` (2024-11-05 ... 2025-11-25,
server-to-client requests).

Tools: ``echo``; ``add`` (structured output); ``progress`` (a notification per step);
``slow`` (sleeps; writes "cancelled" to the file ``marker`` when cancelled); ``headers``
(the ``Mcp-*`` headers of the call, with an ``x-mcp-header`` parameter); ``greet_user``
(asks the client for a name); ``touch`` (a resource update for subscribers); ``poll``
(closes its SSE stream mid-call, HTTP only); ``crash`` (exits with code 3 mid-call).
Also a resource, a prompt and a completion.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp_types import Completion, PromptReference
from pydantic import BaseModel, Field

server = MCPServer("interop-sdk", version="2.3.0-test", instructions="An interop test server.")


class Sum(BaseModel):
    total: int


class Who(BaseModel):
    name: str


@server.tool()
def echo(message: str) -> str:
    """Echo the message."""
    return message


@server.tool()
def add(a: int, b: int) -> Sum:
    """Add two integers."""
    return Sum(total=a + b)


@server.tool()
async def progress(steps: int, ctx: Context) -> str:
    """Report progress ``steps`` times."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return "done"


@server.tool()
async def slow(seconds: float, marker: str) -> str:
    """Sleep; when cancelled, write "cancelled" to the file ``marker``."""
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        # synchronous on purpose: in a cancelled scope every await raises at once
        Path(marker).write_text("cancelled")  # noqa: ASYNC240
        raise
    return "slept"


@server.tool()
async def headers(
    region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], ctx: Context
) -> str:
    """The Mcp-* headers this call came with (HTTP), one ``name=value`` per line."""
    received = ctx.headers or {}
    return "\n".join(
        f"{name.lower()}={value}"
        for name, value in sorted(received.items())
        if name.lower().startswith("mcp-")
    )


def ask_name() -> Elicit[Who]:
    return Elicit("Who are you?", Who)


@server.tool()
def greet_user(who: Annotated[Who, Resolve(ask_name)]) -> str:
    """Greet the user, asking for their name first."""
    return f"Hello {who.name}"


@server.tool()
async def touch(uri: str, ctx: Context) -> str:
    """Tell subscribers that ``uri`` changed (2026-07-28: on subscriptions/listen)."""
    await ctx.notify_resource_updated(uri)
    return "touched"


@server.tool()
async def poll(ctx: Context) -> str:
    """Close this request's SSE stream (the client must resume it), then answer."""
    await ctx.report_progress(1, 2, "before the break")
    await ctx.close_sse_stream()
    await anyio.sleep(0.3)
    await ctx.report_progress(2, 2, "after the break")
    return "resumed"


@server.tool()
def crash() -> str:
    """Exit mid-call."""
    sys.stderr.write("interop server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@server.resource("mem://greeting", mime_type="text/plain")
def greeting() -> str:
    return "Hello from the SDK"


@server.prompt()
def review(code: str) -> str:
    """Review some code."""
    return f"Please review: {code}"


@server.completion()
async def complete(ref: object, argument: object, context: object) -> Completion | None:
    if isinstance(ref, PromptReference):
        value = getattr(argument, "value", "")
        return Completion(values=[v for v in ("print", "pass", "import") if v.startswith(value)])
    return None


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


async def serve_http() -> None:
    """Streamable HTTP at ``/mcp`` (both eras; an event store makes legacy streams
    resumable) and the legacy HTTP+SSE transport at ``/sse``, on two ports of 127.0.0.1
    the OS picks. Prints ``READY <streamable port> <sse port>`` once both listen and
    serves until stdin closes."""
    import uvicorn

    apps = [
        server.streamable_http_app(event_store=MemoryEventStore(), retry_interval=100),
        server.sse_app(),
    ]
    sockets = [listening_socket() for _ in apps]
    servers = [
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")) for app in apps
    ]
    async with anyio.create_task_group() as group:
        for http, sock in zip(servers, sockets, strict=True):
            group.start_soon(http.serve, [sock])
        while not all(http.started for http in servers):  # noqa: ASYNC110 - no event for it
            await anyio.sleep(0.01)
        ports = " ".join(str(sock.getsockname()[1]) for sock in sockets)
        sys.stdout.write(f"READY {ports}\n")
        sys.stdout.flush()
        await anyio.to_thread.run_sync(sys.stdin.read)  # until the test closes our stdin
        for http in servers:
            http.should_exit = True


if __name__ == "__main__":
    if sys.argv[1:] == ["--http"]:
        anyio.run(serve_http)
    else:
        server.run("stdio")
