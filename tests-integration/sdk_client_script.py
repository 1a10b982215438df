"""Runs in the official Python SDK's environment (mcp 2.3.0): drives a server with the
SDK's own Client and prints what it saw, as JSON, for the interop tests.

    python sdk_client_script.py MODE TARGET [ARG...]

MODE is ``auto`` (the SDK negotiates: the newest era first) or ``legacy``; TARGET is
an http(s) URL or a command to start over stdio.
"""

import json
import sys
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters


async def main() -> None:
    mode, target, *args = sys.argv[1:]
    server = (
        target if target.startswith("http") else StdioServerParameters(command=target, args=args)
    )
    async with Client(server, mode=mode) as client:
        out = await drive(client)
    print(json.dumps(out))


async def drive(client: Client) -> dict[str, Any]:
    """Tools (with progress and an invalid call), resources and prompts of the interop
    server, as the SDK's client sees them."""
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    tools = await client.list_tools()
    added = await client.call_tool("add", {"a": 2, "b": 40})
    bad = await client.call_tool("add", {"a": "x", "b": 1})
    counted = await client.call_tool("countdown", {"n": 3}, progress_callback=on_progress)
    resources = await client.list_resources()
    read = await client.read_resource(resources.resources[0].uri)
    prompts = await client.list_prompts()
    prompt = await client.get_prompt("greeting", {"name": "Ada"})
    return {
        "protocol_version": client.protocol_version,
        "tools": [t.name for t in tools.tools],
        "add": [c.text for c in added.content],
        "add_structured": added.structured_content,
        "bad_is_error": bad.is_error,
        "countdown": [c.text for c in counted.content],
        "progress": progress,
        "resource": [getattr(c, "text", None) for c in read.contents],
        "prompts": [p.name for p in prompts.prompts],
        "prompt": [m.content.text for m in prompt.messages],
    }


if __name__ == "__main__":
    anyio.run(main)
