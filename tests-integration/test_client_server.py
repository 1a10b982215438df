"""Our client against our server: in-process (``Client(server)``) and over Streamable
HTTP on 127.0.0.1, in both protocol eras."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio

from fastmcp_client import Client
from fastmcp_core import McpContext
from fastmcp_protocol import (
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    ProgressNotificationParams,
    TextContent,
    TextResourceContents,
)
from fastmcp_server import Server

ERAS = {"modern": None, "legacy": "2025-11-25"}


class Point(msgspec.Struct):
    x: int
    y: int


class Name(msgspec.Struct):
    name: str


def make_server(cancelled: list[str]) -> Server:
    server = Server("ours", "1.0", instructions="Our own server.")

    @server.tool
    async def move(x: int, y: int) -> Point:
        """Move a point."""
        return Point(x + 1, y + 1)

    @server.tool
    async def greet(ctx: McpContext) -> str:
        """Ask for a name, then greet."""
        answer = await ctx.elicit("Your name?", Name)
        return f"Hello {answer.data.name}" if answer.data else "Hello nobody"

    @server.tool
    async def count(steps: int, ctx: McpContext) -> str:
        """Report progress."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps)
        return "counted"

    @server.tool
    async def wait(ctx: McpContext) -> str:
        """Wait until cancelled."""
        try:
            await trio.sleep_forever()
        finally:
            cancelled.append("wait")
        return "unreachable"

    @server.resource("mem://motd")
    async def motd() -> str:
        return "message of the day"

    @server.prompt
    async def ask(topic: str) -> str:
        """Ask about a topic."""
        return f"Tell me about {topic}"

    return server


async def answer(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"name": "Lin"})


@asynccontextmanager
async def connected(server: Server, how: str, era: str) -> AsyncIterator[Client]:
    options: dict[str, Any] = {"protocol_version": ERAS[era], "elicitation_handler": answer}
    if how == "memory":
        async with Client(server, **options) as client:
            yield client
        return
    async with trio.open_nursery() as nursery:
        address = await nursery.start(
            lambda task_status: server.serve_http(port=0, task_status=task_status)
        )
        async with Client(address.url, **options) as client:
            yield client
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("how", ["memory", "http"])
@pytest.mark.parametrize("era", ERAS)
async def test_client_and_server(how: str, era: str) -> None:
    cancelled: list[str] = []
    server = make_server(cancelled)
    updates: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        updates.append(params.progress)

    async with connected(server, how, era) as client:
        assert client.is_modern == (era == "modern")
        assert client.server_info is not None
        assert client.server_info.name == "ours"
        assert client.instructions == "Our own server."
        names = {tool.name for tool in await client.list_all_tools()}
        assert names == {"move", "greet", "count", "wait"}
        assert await client.call_tool("move", {"x": 1, "y": 2}, result_type=Point) == Point(2, 3)
        greeting = await client.call_tool("greet")
        assert greeting.content == [TextContent(text="Hello Lin")]
        counted = await client.call_tool("count", {"steps": 3}, on_progress=on_progress)
        assert counted.content == [TextContent(text="counted")]
        with trio.move_on_after(0.5):
            await client.call_tool("wait")
        with trio.fail_after(5):
            while not cancelled:  # noqa: ASYNC110 - the server's handler appends
                await trio.sleep(0.01)
        read = await client.read_resource("mem://motd")
        assert read.contents[0] == TextResourceContents(
            uri="mem://motd", mime_type=read.contents[0].mime_type, text="message of the day"
        )
        prompt = await client.get_prompt("ask", {"topic": "trio"})
        assert prompt.messages[0].content == TextContent(text="Tell me about trio")
        await client.ping()
    assert updates == [1, 2, 3]


def task_server() -> Server:
    server = Server("tasks", "1.0")

    @server.tool(task="optional")
    async def render(frames: int, ctx: McpContext) -> str:
        """Render slowly, asking for a title first."""
        title = await ctx.elicit("Title?", Name)
        await trio.sleep(0.2 * frames)
        return f"rendered {frames} frames of {title.data.name if title.data else '?'}"

    @server.resource("mem://clock")
    async def clock() -> str:
        return "tick"

    return server


@pytest.mark.parametrize("how", ["memory", "http"])
@pytest.mark.parametrize("era", ERAS)
async def test_tasks_and_subscriptions(how: str, era: str) -> None:
    server = task_server()
    async with connected(server, how, era) as client:
        handle = await client.call_tool_task("render", {"frames": 2})
        assert handle.task_id is not None
        result = await handle.result()
        assert result.content == [TextContent(text="rendered 2 frames of Lin")]
        plain = await client.call_tool("render", {"frames": 1})
        assert plain.content == [TextContent(text="rendered 1 frames of Lin")]
        async with client.subscribe(resources=["mem://clock"]) as updates:
            await server.notify_resource_updated("mem://clock")
            with trio.fail_after(5):
                note = await updates.__anext__()
        assert note.params.uri == "mem://clock"  # type: ignore[union-attr]
