"""Our client against ``@modelcontextprotocol/server-everything@2026.8.31`` (the TypeScript
SDK's reference server), over stdio and over Streamable HTTP (its ``streamableHttp``
transport: one session per client).

It speaks only the legacy era (its SDK's newest version is 2025-11-25): it does not know
the ``server/discover`` probe, and the client falls back to ``initialize``. It has
2025-11-25 tasks (``simulate-research-query`` requires one and asks for input while it
runs), server-to-client sampling, elicitation and roots, progress, and resource
subscriptions.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import servers
import trio
from everything_checks import check_basics, check_catalog, check_progress_and_cancellation, text_of

from fastmcp_client import Client, IncomingNotification
from fastmcp_core import CONNECTION_CLOSED, ConnectionClosed
from fastmcp_protocol import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    McpError,
    ResourceUpdatedNotification,
    Root,
    TextContent,
    TextResourceContents,
)


@pytest.fixture(params=["stdio", "http"])
def target(request: pytest.FixtureRequest) -> list[str] | str:
    """What ``Client`` connects to: the argv over stdio, the URL over HTTP."""
    name = "everything" if request.param == "stdio" else "everything_http"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


class Weather(msgspec.Struct):
    temperature: float
    conditions: str
    humidity: float


async def elicit(
    params: ElicitRequestFormParams | ElicitRequestURLParams,
) -> ElicitResult | dict[str, Any]:
    assert isinstance(params, ElicitRequestFormParams)
    properties = params.requested_schema.properties
    if "interpretation" in properties:  # simulate-research-query's clarification
        return {"interpretation": properties["interpretation"]["oneOf"][0]["const"]}
    return {"name": "Ada Lovelace", "check": True, "email": "ada@example.com"}


async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
    assert params.system_prompt == "You are a helpful test server."
    return CreateMessageResult(
        role="assistant", content=TextContent(text="sampled!"), model="test-model"
    )


async def test_negotiates_legacy_and_serves_the_basics(target: list[str] | str) -> None:
    async with Client(target) as client:
        assert not client.is_modern
        assert client.protocol_version == "2025-11-25"
        await check_basics(client)
        weather = await client.call_tool(
            "get-structured-content", {"location": "Chicago"}, result_type=Weather
        )
        assert weather.conditions
        resources = await client.list_all_resources()
        read = await client.read_resource(resources[0].uri)
        assert isinstance(read.contents[0], TextResourceContents)
        await check_catalog(client)
        await client.ping()


async def test_progress_and_cancellation(target: list[str] | str) -> None:
    async with Client(target) as client:
        await check_progress_and_cancellation(client)


async def test_server_to_client_requests(target: list[str] | str) -> None:
    async with Client(
        target,
        sampling_handler=sample,
        elicitation_handler=elicit,
        roots=[Root(uri="file:///workspace", name="workspace")],
    ) as client:
        tools = {tool.name for tool in await client.list_all_tools()}
        assert {
            "trigger-sampling-request",
            "trigger-elicitation-request",
            "get-roots-list",
        } <= tools
        sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hello"})
        assert "sampled!" in text_of(sampled)
        elicited = text_of(await client.call_tool("trigger-elicitation-request"))
        assert "Ada Lovelace" in elicited
        assert "It was a dark and stormy night." in elicited  # a schema default (SEP-1034)
        roots = text_of(await client.call_tool("get-roots-list"))
        assert "file:///workspace" in roots


async def test_a_required_task_with_input(target: list[str] | str) -> None:
    async with Client(target, elicitation_handler=elicit) as client:
        await client.list_tools()  # the client learns that the tool requires a task
        handle = await client.call_tool_task(
            "simulate-research-query", {"topic": "python", "ambiguous": True}
        )
        assert handle.task_id
        assert (await handle.status()).status in ("working", "input_required")
        report = text_of(await handle.result())
        assert "Research Report: python (programming)" in report  # our answer was used
        listed = await client.list_tasks()
        assert handle.task_id in [task.task_id for task in listed.tasks]
        # plain call_tool runs a required-task tool as a task too
        plain = await client.call_tool("simulate-research-query", {"topic": "trio"})
        assert "Research Report: trio" in text_of(plain)


async def test_resource_subscriptions(target: list[str] | str) -> None:
    async with Client(target) as client:
        uri = (await client.list_all_resources())[0].uri
        async with client.subscribe(resources=[uri]) as updates:
            await client.call_tool("toggle-subscriber-updates")  # sends one update at once
            with trio.fail_after(10):
                note: IncomingNotification = await updates.__anext__()
            assert isinstance(note, ResourceUpdatedNotification)
            assert note.params.uri == uri
            await client.call_tool("toggle-subscriber-updates")


async def test_a_killed_server_fails_the_pending_call_at_once_over_stdio(
    everything: list[str], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    wrapper = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', str(pidfile), *everything]
    async with Client(wrapper, request_timeout=600) as client:
        pid = int(pidfile.read_text())

        async def kill_soon() -> None:
            await trio.sleep(0.5)
            os.kill(pid, signal.SIGKILL)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(kill_soon)
            with trio.fail_after(10), pytest.raises(ConnectionClosed) as caught:
                await client.call_tool(
                    "trigger-long-running-operation", {"duration": 60, "steps": 2}
                )
    assert "killed by SIGKILL" in str(caught.value)


async def test_a_killed_server_fails_the_pending_call_at_once_over_http() -> None:
    with servers.everything_http_server() as own:  # not the shared one: it gets killed
        async with Client(own.url, request_timeout=600) as client:

            async def kill_soon() -> None:
                await trio.sleep(0.5)
                own.process.kill()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(kill_soon)
                with trio.fail_after(10), pytest.raises(McpError) as caught:
                    await client.call_tool(
                        "trigger-long-running-operation", {"duration": 60, "steps": 2}
                    )
    # the transport answers the request whose stream broke (and cannot be resumed)
    assert caught.value.code == CONNECTION_CLOSED
    assert "tools/call" in str(caught.value)
