"""The legacy HTTP+SSE client (2024-11-05) against a scripted server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from http_client_support import INITIALIZE, HttpRequest, Recorder, running, scripted_server

from fastmcp_core import ConnectionClosed, TransportClosed
from fastmcp_protocol import INTERNAL_ERROR, CallToolResult, InitializeResult, McpError, TextContent
from fastmcp_transport.http_client import SessionExpired, SseClientTransport, sse_client


class OldServer:
    """An HTTP+SSE server: GET /sse opens the stream and names /messages?session=1;
    each POSTed request is answered on the stream."""

    def __init__(self, endpoint: str = "/messages?session=1") -> None:
        self.endpoint = endpoint
        self.stream: HttpRequest | None = None
        self.opened = trio.Event()
        self.post_status = 202

    async def __call__(self, request: HttpRequest) -> None:
        if request.method == "GET":
            self.stream = request
            await request.start_sse()
            await request.write(b"event: endpoint\ndata: " + self.endpoint.encode() + b"\n\n")
            self.opened.set()
            await request.disconnected.wait()
            return
        if self.post_status != 202:
            await request.reply(self.post_status, b"nope", {"content-type": "text/plain"})
            return
        await request.reply(202, b"Accepted")
        message = request.message
        assert self.stream is not None
        if message.get("method") == "initialize":
            result: Any = {
                "protocolVersion": "2024-11-05",
                "capabilities": {},
                "serverInfo": {"name": "old", "version": "1"},
            }
        elif message.get("method") == "tools/call":
            result = {"content": [{"type": "text", "text": message["params"]["name"]}]}
        else:
            return
        await self.stream.event(
            {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info"}}
        )
        await self.stream.event({"jsonrpc": "2.0", "id": message["id"], "result": result})


async def test_a_session_over_http_and_sse() -> None:
    old = OldServer()
    recorder = Recorder()
    async with (
        scripted_server(old, path="/sse") as server,
        sse_client(server.url, headers={"X-Tenant": "t1"}) as transport,
        running(transport, recorder) as session,
    ):
        assert isinstance(transport, SseClientTransport)
        assert transport.endpoint == server.url.removesuffix("/sse") + "/messages?session=1"
        init = await session.request("initialize", INITIALIZE, InitializeResult)
        assert init.protocol_version == "2024-11-05"
        await session.notify("notifications/initialized")
        result = await session.request("tools/call", {"name": "echo"}, CallToolResult)
        assert result.content == [TextContent(text="echo")]
        assert [n.method for n in recorder.notifications] == ["notifications/message"] * 2
    posts = server.of("POST")
    assert [p.rpc_method for p in posts] == [
        "initialize",
        "notifications/initialized",
        "tools/call",
    ]
    assert all(p.path == "/messages" for p in posts)
    assert all(r.headers["x-tenant"] == "t1" for r in server.requests)
    assert server.of("GET")[0].headers["accept"] == "text/event-stream"
    assert old.stream is not None
    with trio.fail_after(5):
        await old.stream.disconnected.wait()  # closed on exit


async def test_an_absolute_endpoint_on_the_same_origin_is_used_as_it_is() -> None:
    async with scripted_server(OldServer(), path="/sse") as server:
        origin = server.url.removesuffix("/sse")
        server.handler = OldServer(origin + "/elsewhere/post")
        async with sse_client(server.url) as transport:
            assert transport.endpoint == origin + "/elsewhere/post"


@pytest.mark.parametrize(
    ("endpoint", "match"),
    [
        ("http://evil.example.com/messages", "another origin"),
        ("https://127.0.0.1/messages", "another origin"),
    ],
)
async def test_an_endpoint_on_another_origin_is_refused(endpoint: str, match: str) -> None:
    async with scripted_server(OldServer(endpoint), path="/sse") as server:
        with pytest.raises(TransportClosed, match=match):
            async with sse_client(server.url):
                pass
        assert not server.of("POST")


async def test_a_server_that_is_not_http_sse_is_reported_at_connect() -> None:
    async def json_only(request: HttpRequest) -> None:
        await request.json({"error": "no"}, status=405)

    async def silent(request: HttpRequest) -> None:
        await request.start_sse()
        await request.event({"jsonrpc": "2.0", "method": "notifications/message"})

    async with scripted_server(json_only) as server:
        with pytest.raises(TransportClosed, match="HTTP 405"):
            async with sse_client(server.url):
                pass
    async with scripted_server(silent) as server:
        with pytest.raises(TransportClosed, match="no endpoint event before its stream ended"):
            async with sse_client(server.url):
                pass


async def test_a_refused_post_fails_its_request_and_404_closes_the_transport() -> None:
    old = OldServer()
    async with (
        scripted_server(old, path="/sse") as server,
        sse_client(server.url) as transport,
        running(transport) as session,
    ):
        old.post_status = 500
        with pytest.raises(McpError, match=r"HTTP 500 .* nope") as caught:
            await session.request("tools/call", {"name": "x"}, CallToolResult)
        assert caught.value.code == INTERNAL_ERROR
        await session.notify("notifications/progress")  # logged, not fatal
        old.post_status = 404
        with pytest.raises(ConnectionClosed, match="no longer knows this connection"):
            await session.request("tools/call", {"name": "x"}, CallToolResult)
        with pytest.raises(SessionExpired):
            await transport.receive()


async def test_the_end_of_the_stream_fails_waiting_requests() -> None:
    class Hangs(OldServer):
        async def __call__(self, request: HttpRequest) -> None:
            if request.method == "POST":
                await request.reply(202)
                assert self.stream is not None
                await self.stream.end()  # the server drops the stream
            else:
                await super().__call__(request)

    async with (
        scripted_server(Hangs(), path="/sse") as server,
        sse_client(server.url) as transport,
        running(transport) as session,
    ):
        with pytest.raises(ConnectionClosed, match="closed the SSE stream"):
            await session.request("tools/call", {"name": "x"}, CallToolResult)
        with pytest.raises(TransportClosed):
            await transport.send(b'{"jsonrpc":"2.0","method":"notifications/x"}')
