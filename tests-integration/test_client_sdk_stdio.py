"""Our client against the official Python SDK's server (``mcp==2.3.0``, ``sdk_server.py``)
over stdio.

mcp 2.3.0 is dual-era: it answers ``server/discover`` (2026-07-28, with input-required
rounds for what a tool asks of the client) and ``initialize`` (2024-11-05 ... 2025-11-25,
with server-to-client requests). The client is tested against both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import peers
import pytest
import trio

from fastmcp_client import Client
from fastmcp_core import ConnectionClosed
from fastmcp_protocol import (
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    ProgressNotificationParams,
    PromptReference,
    ResourceUpdatedNotification,
    TextContent,
    TextResourceContents,
)

SERVER = str(Path(__file__).with_name("sdk_server.py"))
ERAS = {"modern": None, "legacy": "2025-11-25"}


class Sum(msgspec.Struct):
    total: int


@pytest.fixture(scope="module")
def sdk_python() -> str:
    return str(peers.sdk_python())


async def answer_name(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    assert isinstance(params, ElicitRequestFormParams)
    assert params.message == "Who are you?"
    return ElicitResult(action="accept", content={"name": "Ada"})


def client(sdk_python: str, era: str, **options: Any) -> Client:
    return Client(
        [sdk_python, SERVER],
        protocol_version=ERAS[era],
        elicitation_handler=answer_name,
        **options,
    )


@pytest.mark.parametrize("era", ERAS)
async def test_list_call_read_get_complete(sdk_python: str, era: str) -> None:
    async with client(sdk_python, era) as c:
        assert c.protocol_version == ("2026-07-28" if era == "modern" else "2025-11-25")
        assert c.server_info is not None
        assert c.server_info.name == "interop-sdk"
        assert c.instructions == "An interop test server."
        tools = {tool.name: tool for tool in await c.list_all_tools()}
        assert {"echo", "add", "progress", "slow", "greet_user", "crash", "headers"} <= set(tools)
        assert tools["add"].output_schema is not None
        echoed = await c.call_tool("echo", {"message": "hi"})
        assert echoed.content == [TextContent(text="hi")]
        assert await c.call_tool("add", {"a": 2, "b": 3}, result_type=Sum) == Sum(5)
        resources = await c.list_all_resources()
        assert [r.uri for r in resources] == ["mem://greeting"]
        read = await c.read_resource("mem://greeting")
        assert read.contents == [
            TextResourceContents(
                uri="mem://greeting", mime_type="text/plain", text="Hello from the SDK"
            )
        ]
        assert [p.name for p in await c.list_all_prompts()] == ["review"]
        prompt = await c.get_prompt("review", {"code": "x = 1"})
        assert prompt.messages[0].content == TextContent(text="Please review: x = 1")
        done = await c.complete(PromptReference(name="review"), "code", "p")
        assert done.completion.values == ["print", "pass"]
        await c.ping()


@pytest.mark.parametrize("era", ERAS)
async def test_a_tool_that_asks_for_input(sdk_python: str, era: str) -> None:
    async with client(sdk_python, era) as c:
        result = await c.call_tool("greet_user")
    assert result.content == [TextContent(text="Hello Ada")]


@pytest.mark.parametrize("era", ERAS)
async def test_progress(sdk_python: str, era: str) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        updates.append((params.progress, params.total, params.message))

    async with client(sdk_python, era) as c:
        result = await c.call_tool("progress", {"steps": 3}, on_progress=on_progress)
    assert result.content == [TextContent(text="done")]
    assert updates == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]


@pytest.mark.parametrize("era", ERAS)
async def test_cancellation_reaches_the_server(sdk_python: str, era: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    async with client(sdk_python, era) as c:
        with trio.move_on_after(1) as scope:
            await c.call_tool("slow", {"seconds": 60, "marker": str(marker)})
        assert scope.cancelled_caught
        # the server stops the handler; the connection stays usable
        with trio.fail_after(10):
            while not marker.exists():  # noqa: ASYNC110 - another process writes it
                await trio.sleep(0.05)
        assert (await c.call_tool("echo", {"message": "still here"})).content == [
            TextContent(text="still here")
        ]
    assert marker.read_text() == "cancelled"


async def test_modern_subscriptions(sdk_python: str) -> None:
    async with (
        client(sdk_python, "modern") as c,
        c.subscribe(resources=["mem://greeting"]) as updates,
    ):
        assert updates.acknowledged is not None
        assert updates.acknowledged.resource_subscriptions == ["mem://greeting"]
        await c.call_tool("touch", {"uri": "mem://greeting"})
        with trio.fail_after(10):
            note = await updates.__anext__()
    assert isinstance(note, ResourceUpdatedNotification)
    assert note.params.uri == "mem://greeting"


@pytest.mark.parametrize("era", ERAS)
async def test_a_crash_mid_call_fails_the_call_at_once(sdk_python: str, era: str) -> None:
    async with client(sdk_python, era, request_timeout=600) as c:
        with trio.fail_after(30), pytest.raises(ConnectionClosed) as caught:
            await c.call_tool("crash")
    assert "exited with code 3" in str(caught.value)
    assert "interop server: crashing on purpose" in str(caught.value)
