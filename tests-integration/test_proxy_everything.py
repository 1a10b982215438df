"""``fastmcp.proxy`` in front of a real peer: the official
``@modelcontextprotocol/server-everything`` over stdio, served by the proxy to our
client in both eras (installed by the test on first use, pinned: the ``everything``
fixture of conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from fastmcp.proxy import proxy
from fastmcp_client import Client
from fastmcp_protocol import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    ProgressNotificationParams,
    PromptReference,
    TextContent,
)


def text_of(result: Any) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, TextContent))


async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
    return CreateMessageResult(
        role="assistant", content=TextContent(text="sampled via proxy"), model="m"
    )


async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    assert isinstance(params, ElicitRequestFormParams)
    properties = params.requested_schema.properties
    answer: dict[str, Any] = {"name": "Ada Lovelace", "check": True, "email": "ada@example.com"}
    return ElicitResult(
        action="accept", content={k: v for k, v in answer.items() if k in properties}
    )


@pytest.mark.parametrize("era", [None, "2025-11-25"])
async def test_server_everything_through_the_proxy(everything: list[str], era: str | None) -> None:
    updates: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        updates.append(params.progress)

    front = proxy(everything)
    async with Client(
        front, protocol_version=era, sampling_handler=sample, elicitation_handler=elicit
    ) as client:
        assert client.server_info is not None
        assert client.server_info.name == "mcp-servers/everything"
        assert client.instructions
        tools = {tool.name for tool in await client.list_all_tools()}
        assert {"echo", "get-sum", "trigger-long-running-operation"} <= tools
        assert text_of(await client.call_tool("echo", {"message": "hi"})) == "Echo: hi"
        assert "5" in text_of(await client.call_tool("get-sum", {"a": 2, "b": 3}))
        # progress passes through
        done = await client.call_tool(
            "trigger-long-running-operation", {"duration": 1, "steps": 4}, on_progress=on_progress
        )
        assert "completed" in text_of(done)
        assert updates == [1, 2, 3, 4]
        # cancellation passes through, and the proxy goes on
        with trio.move_on_after(0.5) as scope:
            await client.call_tool("trigger-long-running-operation", {"duration": 60, "steps": 2})
        assert scope.cancelled_caught
        assert text_of(await client.call_tool("echo", {"message": "after"})) == "Echo: after"
        # the remote's questions reach our client
        sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hello"})
        assert "sampled via proxy" in text_of(sampled)
        elicited = await client.call_tool("trigger-elicitation-request")
        assert "Ada Lovelace" in text_of(elicited)
        # resources, templates, prompts, completion
        resources = await client.list_all_resources()
        assert resources
        templates = [t.uri_template for t in await client.list_all_resource_templates()]
        assert "demo://resource/dynamic/text/{resourceId}" in templates
        dynamic = await client.read_resource("demo://resource/dynamic/text/1")
        assert dynamic.contents[0].uri == "demo://resource/dynamic/text/1"
        prompt = await client.get_prompt("args-prompt", {"city": "Paris"})
        assert "Paris" in str(prompt.messages[0].content)
        completed = await client.complete(
            PromptReference(name="completable-prompt"), "department", "E"
        )
        assert completed.completion.values == ["Engineering"]
