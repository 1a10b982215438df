"""A small server on the official Python SDK (``mcp==2.3.0``), run over stdio by
test_interop_mcp_sdk.py with the interpreter of its own cached venv.

With ``--http`` it serves Streamable HTTP and HTTP+SSE instead (see ``serve_http``).

Tools: ``echo``, ``add`` (structured output), ``progress`` (progress notifications),
``slow`` (sleeps; writes "cancelled" to the file ``marker`` when cancelled), ``headers``
(the ``Mcp-*`` headers of the call, with an ``x-mcp-header`` parameter),
``greet_user`` (asks the client for a name: an input-required round in 2026-07-28, an
elicitation request in 2025-11-25), ``touch`` (a resource update for subscribers),
``crash`` (exits with code 3 mid-call). Also a
resource, a prompt and a completion.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
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


async def serve_http() -> None:
    """Streamable HTTP (``/mcp``) and legacy HTTP+SSE (``/sse``) on two ports of
    127.0.0.1 the OS picks; prints ``READY <port> <sse port>`` once both listen, serves
    until stdin closes."""
    import socket

    import uvicorn

    apps = [server.streamable_http_app(), server.sse_app()]
    servers = [
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")) for app in apps
    ]
    sockets = []
    for _ in apps:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sockets.append(sock)
    async with anyio.create_task_group() as group:
        for http, sock in zip(servers, sockets, strict=True):
            group.start_soon(http.serve, [sock])
        while not all(http.started for http in servers):  # noqa: ASYNC110 - no event for it
            await anyio.sleep(0.01)
        ports = " ".join(str(sock.getsockname()[1]) for sock in sockets)
        sys.stdout.write(f"READY {ports}\n")
        sys.stdout.flush()
        await anyio.to_thread.run_sync(sys.stdin.read)
        for http in servers:
            http.should_exit = True


if __name__ == "__main__":
    if sys.argv[1:] == ["--http"]:
        anyio.run(serve_http)
    else:
        server.run("stdio")
