"""Our HTTP client transports (``fastmcp_transport.http_client``, driven by a bare
``Session``) against the official Python SDK's server (``mcp`` 2.3.0): ``sdk_server.py
--http`` serves Streamable HTTP (both eras, resumable streams) and HTTP+SSE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from servers import SdkUrls

from fastmcp_core import ConnectionClosed, Session, Transport
from fastmcp_protocol import (
    HEADER_MISMATCH,
    UNSUPPORTED_PROTOCOL_VERSION,
    CallToolResult,
    InitializeResult,
    JSONRPCNotification,
    JSONRPCRequest,
    ListToolsResult,
    McpError,
    ProgressNotificationParams,
    TextContent,
)
from fastmcp_transport.http_client import (
    StreamableHttpTransport,
    sse_client,
    streamable_http_client,
)

INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "fastmcp-tests", "version": "0"},
}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "fastmcp-tests", "version": "0"},
}


def modern(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Request params carrying the 2026-07-28 per-request ``_meta``."""
    return {**(params or {}), "_meta": MODERN_META}


class NoRequests:
    """The client side's dispatcher: these tests' tools never ask the client anything."""

    async def route(self, ctx: Any, request: JSONRPCRequest) -> Any:
        raise AssertionError(f"unexpected request from the server: {request.method}")

    async def notification(self, note: JSONRPCNotification) -> None:
        pass


@asynccontextmanager
async def running(transport: Transport) -> AsyncIterator[Session]:
    """A client session over ``transport``, running until the block ends."""
    session = Session(transport, NoRequests(), drain_on_eof=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        try:
            yield session
        finally:
            await session.aclose()


def text(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


async def call_result(
    session: Session, name: str, params: dict[str, Any], **options: Any
) -> CallToolResult:
    return await session.request("tools/call", {"name": name, **params}, CallToolResult, **options)


async def call(session: Session, name: str, params: dict[str, Any], **options: Any) -> str:
    return text(await call_result(session, name, params, **options))


async def cancelled(session: Session, marker: Path, params: dict[str, Any]) -> str:
    """Cancel ``slow`` after half a second; what the server wrote to ``marker``."""
    with trio.move_on_after(0.5):
        slow = {"arguments": {"seconds": 60, "marker": str(marker)}}
        await call(session, "slow", {**params, **slow})
    written = trio.Path(marker)
    with trio.fail_after(10):
        # another process writes it: the file exists a moment before its text does
        while not (await written.exists() and (text := await written.read_text())):  # noqa: ASYNC110
            await trio.sleep(0.05)
    return text


async def learn_tools(
    session: Session, transport: StreamableHttpTransport, params: dict[str, Any]
) -> set[str]:
    listed = await session.request("tools/list", params, ListToolsResult)
    for tool in listed.tools:
        transport.register_tool(tool.name, tool.input_schema)
    return {tool.name for tool in listed.tools}


async def test_a_legacy_session_with_the_sdk_server(sdk_http: SdkUrls, tmp_path: Path) -> None:
    progress: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        progress.append(params.progress)

    async with (
        streamable_http_client(sdk_http.streamable) as transport,
        running(transport) as session,
    ):
        init = await session.request("initialize", INITIALIZE, InitializeResult)
        assert init.protocol_version == "2025-11-25"
        assert transport.protocol_version == "2025-11-25"
        assert transport.session_id
        await session.notify("notifications/initialized")
        assert {"add", "progress", "slow", "echo", "headers", "poll"} <= await learn_tools(
            session, transport, {}
        )

        added = await call_result(session, "add", {"arguments": {"a": 2, "b": 3}})
        assert added.structured_content == {"total": 5}
        counted = await call(
            session, "progress", {"arguments": {"steps": 3}}, on_progress=on_progress
        )
        assert (counted, progress) == ("done", [1, 2, 3])

        seen = await call(session, "headers", {"arguments": {"region": "Zürich"}})
        assert seen.splitlines() == [
            "mcp-method=tools/call",
            "mcp-name=headers",
            "mcp-param-region==?base64?WsO8cmljaA==?=",
            "mcp-protocol-version=2025-11-25",
            f"mcp-session-id={transport.session_id}",
        ]

        # the server closes the stream mid-call; the client resumes it with GET
        progress.clear()
        assert await call(session, "poll", {"arguments": {}}, on_progress=on_progress) == "resumed"
        assert progress == [1, 2]

        assert await cancelled(session, tmp_path / "legacy", {}) == "cancelled"
        assert await call(session, "echo", {"arguments": {"message": "on"}}) == "on"


async def test_modern_requests_to_the_sdk_server(sdk_http: SdkUrls, tmp_path: Path) -> None:
    progress: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        progress.append(params.progress)

    async with (
        streamable_http_client(sdk_http.streamable) as transport,
        running(transport) as session,
    ):
        # the server checks Mcp-Param-Region against the body: unknown rules, rejected
        with pytest.raises(McpError, match="Mcp-Param-Region") as caught:
            await call(session, "headers", modern({"arguments": {"region": "eu"}}))
        assert caught.value.code == HEADER_MISMATCH

        assert "headers" in await learn_tools(session, transport, modern())
        seen = await call(session, "headers", modern({"arguments": {"region": " eu "}}))
        assert seen.splitlines() == [
            "mcp-method=tools/call",
            "mcp-name=headers",
            "mcp-param-region==?base64?IGV1IA==?=",
            "mcp-protocol-version=2026-07-28",
        ]
        assert transport.session_id is None

        counted = await call(
            session, "progress", modern({"arguments": {"steps": 2}}), on_progress=on_progress
        )
        assert (counted, progress) == ("done", [1, 2])

        # closing the response stream is the cancellation
        assert await cancelled(session, tmp_path / "modern", modern()) == "cancelled"
        assert await call(session, "echo", modern({"arguments": {"message": "on"}})) == "on"

        # a version the server does not speak: its error, with the versions it does
        params = modern({"arguments": {"a": 1, "b": 1}})
        params["_meta"] = {
            **params["_meta"],
            "io.modelcontextprotocol/protocolVersion": "2099-01-01",
        }
        with pytest.raises(McpError) as caught:
            await call(session, "add", params)
        assert caught.value.code == UNSUPPORTED_PROTOCOL_VERSION
        assert "2026-07-28" in caught.value.data["supported"]


async def test_a_session_the_sdk_server_ended_expires(sdk_http: SdkUrls) -> None:
    async with (
        streamable_http_client(sdk_http.streamable, standalone_stream=False) as transport,
        running(transport) as session,
    ):
        await session.request("initialize", INITIALIZE, InitializeResult)
        await session.notify("notifications/initialized")
        assert transport.session_id is not None
        async with httpx.AsyncClient() as other:  # someone ends the session
            ended = await other.delete(
                sdk_http.streamable,
                headers={
                    "mcp-session-id": transport.session_id,
                    "mcp-protocol-version": "2025-11-25",
                },
            )
            assert ended.status_code == 200
        with pytest.raises(ConnectionClosed, match="start a new session"):
            await call(session, "add", {"arguments": {"a": 1, "b": 1}})


async def test_the_legacy_sse_transport_with_the_sdk_server(
    sdk_http: SdkUrls, tmp_path: Path
) -> None:
    progress: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        progress.append(params.progress)

    async with sse_client(sdk_http.sse) as transport, running(transport) as session:
        assert transport.endpoint.startswith(sdk_http.sse.removesuffix("/sse") + "/messages/")
        init = await session.request(
            "initialize", {**INITIALIZE, "protocolVersion": "2024-11-05"}, InitializeResult
        )
        assert init.protocol_version == "2024-11-05"
        await session.notify("notifications/initialized")
        added = await call_result(session, "add", {"arguments": {"a": 20, "b": 22}})
        assert added.structured_content == {"total": 42}
        counted = await call(
            session, "progress", {"arguments": {"steps": 2}}, on_progress=on_progress
        )
        assert (counted, progress) == ("done", [1, 2])
        assert await cancelled(session, tmp_path / "sse", {}) == "cancelled"
        assert await call(session, "echo", {"arguments": {"message": "on"}}) == "on"
