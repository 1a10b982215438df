"""A tiny MCP server on stdio for the transport tests (run as a child process).

Tools: ``echo`` (returns its text), ``sleep`` (seconds), ``shout`` (prints garbage to
stdout first, which must land on stderr), ``crash`` (exits the process with status 3).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import msgspec
import trio

from fastmcp_core import McpContext, Session
from fastmcp_protocol import (
    METHOD_NOT_FOUND,
    CallToolResult,
    JSONRPCNotification,
    JSONRPCRequest,
    McpError,
    TextContent,
)
from fastmcp_transport import stdio_server


class Tools:
    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Any:
        if request.method != "tools/call":
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {request.method}")
        params = msgspec.json.decode(request.params)
        name, args = params["name"], params.get("arguments", {})

        async def call() -> CallToolResult:
            if name == "sleep":
                await trio.sleep(args["seconds"])
                return CallToolResult(content=[TextContent(text="slept")])
            if name == "shout":
                print("this is not JSON-RPC")  # must not reach the real stdout
                await trio.run_process(["echo", "from a child process"])
            if name == "crash":
                sys.stderr.write("fatal: the tool crashed\n")
                sys.stderr.flush()
                os._exit(3)
            return CallToolResult(content=[TextContent(text=args.get("text", ""))])

        return call

    async def notification(self, note: JSONRPCNotification) -> None:
        pass


async def main() -> None:
    max_line = int(os.environ.get("MAX_LINE", str(16 * 1024 * 1024)))
    async with stdio_server(max_line=max_line) as transport:
        await Session(transport, Tools()).run()
    sys.stderr.write("server: clean exit\n")


if __name__ == "__main__":
    trio.run(main)
