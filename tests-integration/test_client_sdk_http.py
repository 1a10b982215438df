"""Our client against the official Python SDK's server (``mcp==2.3.0``, ``sdk_server.py
--http``) over Streamable HTTP and the legacy HTTP+SSE transport.

``Client("http://...")`` goes through ``fastmcp_transport.http_client``. The SDK's server
is dual-era on one endpoint: the client's ``server/discover`` probe finds it modern
(one POST per request, per-request ``_meta`` and headers, input-required rounds,
cancellation by closing the response stream); forcing 2025-11-25 gives a legacy session
(``Mcp-Session-Id``, server-to-client requests on the SSE streams).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import servers
import trio

from fastmcp_client import Client
from fastmcp_core import CONNECTION_CLOSED
from fastmcp_protocol import (
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    McpError,
    ProgressNotificationParams,
    PromptReference,
    ResourceUpdatedNotification,
    TextContent,
    TextResourceContents,
)

ERAS = {"modern": None, "legacy": "2025-11-25"}


class Sum(msgspec.Struct):
    total: int


async def answer_name(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"name": "Grace"})


def client(url: str, era: str, **options: Any) -> Client:
    return Client(url, protocol_version=ERAS[era], elicitation_handler=answer_name, **options)


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


@pytest.fixture
def url(sdk_http: servers.SdkUrls) -> str:
    return sdk_http.streamable


@pytest.mark.parametrize("era", ERAS)
async def test_requests_over_http(url: str, era: str) -> None:
    async with client(url, era) as c:
        assert c.is_modern == (era == "modern")
        assert c.server_info is not None
        assert c.server_info.name == "interop-sdk"
        tools = {tool.name for tool in await c.list_all_tools()}
        assert {"echo", "add", "greet_user", "headers"} <= tools
        assert text_of(await c.call_tool("echo", {"message": "over http"})) == "over http"
        assert await c.call_tool("add", {"a": 20, "b": 22}, result_type=Sum) == Sum(42)
        assert [r.uri for r in await c.list_all_resources()] == ["mem://greeting"]
        read = await c.read_resource("mem://greeting")
        assert read.contents == [
            TextResourceContents(
                uri="mem://greeting", mime_type="text/plain", text="Hello from the SDK"
            )
        ]
        assert [p.name for p in await c.list_all_prompts()] == ["review"]
        prompt = await c.get_prompt("review", {"code": "pass"})
        assert prompt.messages[0].content == TextContent(text="Please review: pass")
        done = await c.complete(PromptReference(name="review"), "code", "im")
        assert done.completion.values == ["import"]
        await c.ping()


@pytest.mark.parametrize("era", ERAS)
async def test_input_and_progress_over_http(url: str, era: str) -> None:
    updates: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        updates.append(params.progress)

    async with client(url, era) as c:
        assert text_of(await c.call_tool("greet_user")) == "Hello Grace"
        assert (
            text_of(await c.call_tool("progress", {"steps": 2}, on_progress=on_progress)) == "done"
        )
    assert updates == [1, 2]


@pytest.mark.parametrize("era", ERAS)
async def test_cancellation_over_http(url: str, era: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    async with client(url, era) as c:
        with trio.move_on_after(1) as scope:
            await c.call_tool("slow", {"seconds": 60, "marker": str(marker)})
        assert scope.cancelled_caught
        with trio.fail_after(10):
            while not marker.exists():  # noqa: ASYNC110 - another process writes it
                await trio.sleep(0.05)
        assert text_of(await c.call_tool("echo", {"message": "next"})) == "next"


async def test_x_mcp_header_parameters_become_headers(url: str) -> None:
    async with client(url, "modern") as c:
        await c.list_tools()  # registers the tools' header rules with the transport
        seen = text_of(await c.call_tool("headers", {"region": "us-west1"})).splitlines()
    assert "mcp-param-region=us-west1" in seen
    assert "mcp-method=tools/call" in seen
    assert "mcp-name=headers" in seen


async def test_subscriptions_over_http(url: str) -> None:
    async with client(url, "modern") as c, c.subscribe(resources=["mem://greeting"]) as updates:
        await c.call_tool("touch", {"uri": "mem://greeting"})
        with trio.fail_after(10):
            note = await updates.__anext__()
    assert isinstance(note, ResourceUpdatedNotification)
    assert note.params.uri == "mem://greeting"


@pytest.mark.parametrize("version", [None, "2024-11-05"])
async def test_the_legacy_sse_transport_from_a_configuration(
    sdk_http: servers.SdkUrls, version: str | None
) -> None:
    config = {"mcpServers": {"old": {"url": sdk_http.sse, "type": "sse"}}}
    async with Client(config, protocol_version=version, elicitation_handler=answer_name) as c:
        # mcp 2.3.0 answers server/discover even over HTTP+SSE, so the probe finds it modern
        assert c.protocol_version == (version or "2026-07-28")
        assert text_of(await c.call_tool("echo", {"message": "via sse"})) == "via sse"
        assert text_of(await c.call_tool("greet_user")) == "Hello Grace"


@pytest.mark.parametrize("era", ERAS)
async def test_a_crash_mid_call_fails_the_call_at_once(era: str) -> None:
    # over HTTP the transport answers the lost request itself: modern, the POST ends
    # without a response; legacy, its stream can be neither read nor resumed
    with servers.sdk_http_server() as own:  # crash ends the server: not the shared one
        async with client(own.streamable, era, request_timeout=600) as c:
            with trio.fail_after(30), pytest.raises(McpError) as caught:
                await c.call_tool("crash")
    assert caught.value.code == CONNECTION_CLOSED
    assert "tools/call" in str(caught.value)
