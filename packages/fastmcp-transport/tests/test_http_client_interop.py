"""Interop: our HTTP clients against the official Python SDK's server (``mcp`` 2.3.0).

The SDK is installed by the test itself, pinned, into a cached virtual environment
(``~/.cache/fastmcp-tests/mcp-2.3.0``; ``FASTMCP_TEST_CACHE`` moves it); a failed
install fails the tests. ``mcp_peer_server.py`` runs in that environment, serving
the same tools over Streamable HTTP (both eras, resumable streams) and HTTP+SSE.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
from http_client_support import INITIALIZE, modern, running

from fastmcp_core import ConnectionClosed, McpError, Session
from fastmcp_protocol import (
    HEADER_MISMATCH,
    UNSUPPORTED_PROTOCOL_VERSION,
    CallToolResult,
    InitializeResult,
    ListToolsResult,
    ProgressNotificationParams,
    TextContent,
)
from fastmcp_transport.http_client import (
    StreamableHttpTransport,
    sse_client,
    streamable_http_client,
)

MCP_VERSION = "2.3.0"
HERE = Path(__file__).parent
CACHE = Path(os.environ.get("FASTMCP_TEST_CACHE", Path.home() / ".cache" / "fastmcp-tests"))


def sdk_python() -> Path:
    """The interpreter of a virtual environment with ``mcp`` installed (made once)."""
    venv = CACHE / f"mcp-{MCP_VERSION}"
    python = venv / "bin" / "python"
    marker = venv / "fastmcp-tests-ready"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"mcp-{MCP_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs install once
        if marker.exists() and python.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", f"mcp=={MCP_VERSION}"],
            [str(python), "-c", "import mcp.server.mcpserver, uvicorn"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                pytest.fail(
                    f"could not install the interop peer mcp=={MCP_VERSION}: "
                    f"{' '.join(step)} exited with {done.returncode}\n{done.stderr[-3000:]}"
                )
        marker.write_text(MCP_VERSION)
    return python


@attrs.frozen
class Peer:
    streamable: str
    sse: str


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    python = sdk_python()
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [str(python), str(HERE / "mcp_peer_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdin is not None
        try:
            ready, _, _ = select.select([process.stdout], [], [], 60)
            line = process.stdout.readline() if ready else ""
            if not line.startswith("READY "):
                process.kill()
                process.wait()
                stderr.seek(0)
                pytest.fail(f"the mcp peer server did not start: {line!r}\n{stderr.read()[-3000:]}")
            streamable_port, sse_port = line.split()[1:]
            yield Peer(
                f"http://127.0.0.1:{streamable_port}/mcp", f"http://127.0.0.1:{sse_port}/sse"
            )
        finally:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()


def text(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


async def call(session: Session, name: str, params: dict[str, Any], **options: Any) -> str:
    return text(
        await session.request("tools/call", {"name": name, **params}, CallToolResult, **options)
    )


async def learn_tools(
    session: Session, transport: StreamableHttpTransport, params: dict[str, Any]
) -> set[str]:
    listed = await session.request("tools/list", params, ListToolsResult)
    for tool in listed.tools:
        transport.register_tool(tool.name, tool.input_schema)
    return {tool.name for tool in listed.tools}


async def test_a_legacy_session_with_the_sdk_server(peer: Peer) -> None:
    progress: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        progress.append(params.progress)

    async with (
        streamable_http_client(peer.streamable) as transport,
        running(transport) as session,
    ):
        init = await session.request("initialize", INITIALIZE, InitializeResult)
        assert init.protocol_version == "2025-11-25"
        assert transport.protocol_version == "2025-11-25"
        assert transport.session_id
        await session.notify("notifications/initialized")
        assert {"add", "count", "block", "headers", "poll"} <= await learn_tools(
            session, transport, {}
        )

        assert await call(session, "add", {"arguments": {"a": 2, "b": 3}}) == "5"
        counted = await call(session, "count", {"arguments": {"steps": 3}}, on_progress=on_progress)
        assert (counted, progress) == ("counted 3", [1, 2, 3])

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

        with trio.move_on_after(0.5):
            await call(session, "block", {"arguments": {"key": "legacy"}})
        assert await call(session, "was_cancelled", {"arguments": {"key": "legacy"}}) == "yes"


async def test_modern_requests_to_the_sdk_server(peer: Peer) -> None:
    progress: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        progress.append(params.progress)

    async with (
        streamable_http_client(peer.streamable) as transport,
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
            session, "count", modern({"arguments": {"steps": 2}}), on_progress=on_progress
        )
        assert (counted, progress) == ("counted 2", [1, 2])

        # closing the response stream is the cancellation
        with trio.move_on_after(0.5):
            await call(session, "block", modern({"arguments": {"key": "modern"}}))
        assert (
            await call(session, "was_cancelled", modern({"arguments": {"key": "modern"}})) == "yes"
        )

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


async def test_a_session_the_sdk_server_ended_expires(peer: Peer) -> None:
    async with (
        streamable_http_client(peer.streamable, standalone_stream=False) as transport,
        running(transport) as session,
    ):
        await session.request("initialize", INITIALIZE, InitializeResult)
        await session.notify("notifications/initialized")
        assert transport.session_id is not None
        async with httpx.AsyncClient() as other:  # someone ends the session
            ended = await other.delete(
                peer.streamable,
                headers={
                    "mcp-session-id": transport.session_id,
                    "mcp-protocol-version": "2025-11-25",
                },
            )
            assert ended.status_code == 200
        with pytest.raises(ConnectionClosed, match="start a new session"):
            await call(session, "add", {"arguments": {"a": 1, "b": 1}})


async def test_the_legacy_sse_transport_with_the_sdk_server(peer: Peer) -> None:
    progress: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        progress.append(params.progress)

    async with sse_client(peer.sse) as transport, running(transport) as session:
        assert transport.endpoint.startswith(peer.sse.removesuffix("/sse") + "/messages/")
        init = await session.request(
            "initialize", {**INITIALIZE, "protocolVersion": "2024-11-05"}, InitializeResult
        )
        assert init.protocol_version == "2024-11-05"
        await session.notify("notifications/initialized")
        assert await call(session, "add", {"arguments": {"a": 20, "b": 22}}) == "42"
        counted = await call(session, "count", {"arguments": {"steps": 2}}, on_progress=on_progress)
        assert (counted, progress) == ("counted 2", [1, 2])
        with trio.move_on_after(0.5):
            await call(session, "block", {"arguments": {"key": "sse"}})
        assert await call(session, "was_cancelled", {"arguments": {"key": "sse"}}) == "yes"
