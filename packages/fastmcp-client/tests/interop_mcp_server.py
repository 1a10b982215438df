"""A small server on the official Python SDK (``mcp==2.3.0``), run over stdio by
test_interop_mcp_sdk.py with the interpreter of its own cached venv.

Tools: ``echo``, ``add`` (structured output), ``progress`` (progress notifications),
``slow`` (sleeps; writes "cancelled" to the file in $INTEROP_MARKER when cancelled),
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
from pydantic import BaseModel

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
async def slow(seconds: float) -> str:
    """Sleep; record a cancellation."""
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        # synchronous on purpose: in a cancelled scope every await raises at once
        Path(os.environ["INTEROP_MARKER"]).write_text("cancelled")  # noqa: ASYNC240
        raise
    return "slept"


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


if __name__ == "__main__":
    server.run("stdio")
