"""Runs in the official Python SDK's environment (mcp 2.3.0): drives the interop server
hosted by an asyncio ASGI server (``asyncio_host.py``) and prints what it saw, as JSON.

    python sdk_hosted_client.py MODE MCP_URL STATE_URL

(``-`` for STATE_URL: no cancellation.)

What ``sdk_client_script.drive`` sees, and a cancellation: a ``wait`` call cancelled by
the client (the SDK sends ``notifications/cancelled`` on a session, closes the
request's stream at 2026-07-28) must end on the server (``STATE_URL`` says so).
"""

import json
import sys
import urllib.request
import uuid
from typing import Any

import anyio
from mcp import Client
from sdk_client_script import drive


async def state_until(url: str, kind: str, key: str) -> list[str]:
    """The server's ``kind`` list once it names ``key`` (fails after 30 s)."""
    with anyio.fail_after(30):
        while True:
            seen: dict[str, list[str]] = await anyio.to_thread.run_sync(read_json, url)
            if key in seen[kind]:
                return seen[kind]
            await anyio.sleep(0.05)


def read_json(url: str) -> dict[str, list[str]]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)  # type: ignore[no-any-return]


async def main() -> None:
    mode, url, state_url = sys.argv[1:]
    out: dict[str, Any]
    async with Client(url, mode=mode) as client:
        out = await drive(client)
        if state_url == "-":  # no state to look at: no cancellation either
            print(json.dumps(out))
            return
        key = f"{mode}-{uuid.uuid4().hex[:8]}"
        async with anyio.create_task_group() as group:

            async def call() -> None:
                await client.call_tool("wait", {"key": key})

            group.start_soon(call)
            await state_until(state_url, "started", key)
            group.cancel_scope.cancel()
        out["cancelled"] = key in await state_until(state_url, "cancelled", key)
        out["after_cancel"] = [
            c.text for c in (await client.call_tool("add", {"a": 1, "b": 1})).content
        ]
    print(json.dumps(out))


anyio.run(main)
