"""The fake server of client_support.py as a child process on stdio (for the stdio tests).

Tools: ``echo`` (the ``message`` argument), ``env`` (the value of the environment
variable ``name``), ``cwd`` (the working directory), ``crash`` (writes to stderr, then
exits with code 3 mid-call), ``hang`` (never answers).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))

from client_support import FakeServer, text

from fastmcp_core import McpContext
from fastmcp_protocol import CallToolResult
from fastmcp_transport import stdio_server


async def echo(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    return text(str(args.get("message")))


async def env(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    return text(os.environ.get(args["name"], "<unset>"))


async def cwd(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    return text(os.getcwd())


async def crash(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    sys.stderr.write("fatal: the fake server crashed on purpose\n")
    sys.stderr.flush()
    os._exit(3)


async def hang(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


async def main() -> None:
    era = sys.argv[1] if len(sys.argv) > 1 else "dual"
    fake = FakeServer(era=era)  # type: ignore[arg-type]
    for fn in (echo, env, cwd, crash, hang):
        fake.tool(fn.__name__, fn)
    async with stdio_server() as transport:
        await fake.serve_transport(transport)


if __name__ == "__main__":
    trio.run(main)
