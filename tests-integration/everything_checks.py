"""What the tests expect of ``@modelcontextprotocol/server-everything``, met by any
client path to it (our client directly, or through ``fastmcp.proxy``)."""

from __future__ import annotations

from typing import Any

import trio

from fastmcp_client import Client
from fastmcp_protocol import ProgressNotificationParams, PromptReference, TextContent


def text_of(result: Any) -> str:
    """The text blocks of a tool result, joined by newlines."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def check_basics(client: Client) -> None:
    """Who it is, and two plain tools."""
    assert client.server_info is not None
    assert client.server_info.name == "mcp-servers/everything"
    assert client.instructions
    tools = {tool.name for tool in await client.list_all_tools()}
    assert {"echo", "get-sum", "trigger-long-running-operation"} <= tools
    assert text_of(await client.call_tool("echo", {"message": "hi"})) == "Echo: hi"
    assert "5" in text_of(await client.call_tool("get-sum", {"a": 2, "b": 3}))


async def check_catalog(client: Client) -> None:
    """Resources, templates, prompts and completion."""
    assert await client.list_all_resources()
    templates = [t.uri_template for t in await client.list_all_resource_templates()]
    assert "demo://resource/dynamic/text/{resourceId}" in templates
    dynamic = await client.read_resource("demo://resource/dynamic/text/1")
    assert dynamic.contents[0].uri == "demo://resource/dynamic/text/1"
    prompt = await client.get_prompt("args-prompt", {"city": "Paris"})
    assert "Paris" in str(prompt.messages[0].content)
    completed = await client.complete(PromptReference(name="completable-prompt"), "department", "E")
    assert completed.completion.values == ["Engineering"]


async def check_progress_and_cancellation(client: Client) -> None:
    """Progress arrives in order; a cancelled call stops and the session goes on."""
    updates: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        updates.append(params.progress)

    done = await client.call_tool(
        "trigger-long-running-operation", {"duration": 1, "steps": 4}, on_progress=on_progress
    )
    assert "completed" in text_of(done)
    assert updates == [1, 2, 3, 4]
    with trio.move_on_after(0.5) as scope:
        await client.call_tool("trigger-long-running-operation", {"duration": 60, "steps": 2})
    assert scope.cancelled_caught
    assert text_of(await client.call_tool("echo", {"message": "after"})) == "Echo: after"
