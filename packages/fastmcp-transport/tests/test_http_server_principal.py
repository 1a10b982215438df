"""The authenticated principal: from the ASGI scope into every connection's info, and
the binding of legacy sessions (and HTTP+SSE streams) to the principal that opened them.

An authorization layer is simulated by a tiny ASGI middleware that takes the
principal from an ``x-test-principal`` header (``name`` or ``name:token``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import httpx
import pytest
import trio
from http_server_support import (
    LEGACY,
    Recorder,
    http_request,
    initialize_body,
    legacy_headers,
    make_connect,
    messages_of,
    modern_headers,
    serve,
    streaming,
    tool_call,
)

from fastmcp_transport import SCOPE_PRINCIPAL
from fastmcp_transport.http_server import ServerAddress, StreamableHTTPApp

pytestmark = pytest.mark.usefixtures("http_server")  # on both servers


@attrs.frozen
class Principal:
    id: str
    token: str


def principal_layer(app: StreamableHTTPApp) -> Any:
    async def layer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name.lower() == b"x-test-principal":
                    who, _, token = value.decode().partition(":")
                    scope = {**scope, SCOPE_PRINCIPAL: Principal(who, token)}
        await app(scope, receive, send)

    return layer


@asynccontextmanager
async def served(recorder: Recorder) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """The app behind the test principal layer: a client for it, and its port."""
    app = StreamableHTTPApp(make_connect(recorder))
    async with trio.open_nursery() as nursery:
        address: ServerAddress = await nursery.start(
            partial(serve(), app, port=0, graceful_timeout=1.0, asgi=principal_layer(app))
        )
        base = f"http://127.0.0.1:{address.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield client, address.port
        nursery.cancel_scope.cancel()


async def open_session(client: httpx.AsyncClient, who: str) -> str:
    response = await client.post(
        "/mcp",
        content=initialize_body(),
        headers=legacy_headers(**{"x-test-principal": who}),
    )
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


async def test_a_modern_request_carries_its_principal() -> None:
    recorder = Recorder()
    async with served(recorder) as (client, _port):
        response = await client.post(
            "/mcp",
            content=tool_call(1, "echo", text="hi"),
            headers=modern_headers("tools/call", "echo", **{"x-test-principal": "alice:t1"}),
        )
        assert response.status_code == 200
    assert recorder.infos[0].principal == Principal("alice", "t1")


async def test_without_an_authorization_layer_there_is_no_principal() -> None:
    recorder = Recorder()
    async with served(recorder) as (client, _port):
        response = await client.post(
            "/mcp",
            content=tool_call(1, "echo", text="hi"),
            headers=modern_headers("tools/call", "echo"),
        )
        assert response.status_code == 200
    assert recorder.infos[0].principal is None


async def test_a_session_refuses_another_principal() -> None:
    recorder = Recorder()
    async with served(recorder) as (client, _port):
        session_id = await open_session(client, "alice:t1")
        as_mallory = legacy_headers(session_id, **{"x-test-principal": "mallory:m1"})
        call = tool_call(2, "echo", modern=False, text="steal")
        response = await client.post("/mcp", content=call, headers=as_mallory)
        assert response.status_code == 403
        assert "another principal" in response.json()["error"]["message"]
        anonymous = legacy_headers(session_id)
        response = await client.post("/mcp", content=call, headers=anonymous)
        assert response.status_code == 403
        response = await client.delete("/mcp", headers=as_mallory)
        assert response.status_code == 403
        response = await client.get("/mcp", headers={**as_mallory, "accept": "text/event-stream"})
        assert response.status_code == 403
        # the session is intact for its owner
        as_alice = legacy_headers(session_id, **{"x-test-principal": "alice:t1"})
        response = await client.post("/mcp", content=call, headers=as_alice)
        assert response.status_code == 200
        assert messages_of(response.content)[-1]["result"]["content"][0]["text"] == "steal"


async def test_a_newer_token_of_the_same_principal_replaces_the_sessions() -> None:
    recorder = Recorder()
    async with served(recorder) as (client, _port):
        session_id = await open_session(client, "alice:t1")
        info = recorder.infos[0]
        assert info.principal == Principal("alice", "t1")
        refreshed = legacy_headers(session_id, **{"x-test-principal": "alice:t2"})
        response = await client.post(
            "/mcp", content=tool_call(2, "echo", modern=False, text="x"), headers=refreshed
        )
        assert response.status_code == 200
        assert info.principal == Principal("alice", "t2")
        assert info.protocol_version is None or info.protocol_version == LEGACY


async def test_an_sse_stream_refuses_another_principals_messages() -> None:
    recorder = Recorder()
    async with served(recorder) as (client, port):
        opening = http_request(
            "GET", "/sse", {"accept": "text/event-stream", "x-test-principal": "alice:t1"}
        )
        async with streaming(port, opening) as stream:
            await stream.until(b"\n\n")
            endpoint = stream.events[0].data
            message = initialize_body()
            response = await client.post(
                endpoint,
                content=message,
                headers={"content-type": "application/json", "x-test-principal": "mallory:m"},
            )
            assert response.status_code == 403
            response = await client.post(
                endpoint,
                content=message,
                headers={"content-type": "application/json", "x-test-principal": "alice:t2"},
            )
            assert response.status_code == 202
            assert recorder.infos[0].principal == Principal("alice", "t2")
