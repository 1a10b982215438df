"""The Streamable HTTP client against a scripted server on 127.0.0.1, scenario by
scenario: replies as JSON and as SSE, the headers of both eras, cancellation,
sessions, resumption, and every way HTTP can fail a request."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import msgspec
import pytest
import trio
import trio.testing
from http_client_support import (
    INITIALIZE,
    HttpRequest,
    Recorder,
    modern,
    running,
    scripted_server,
)

from fastmcp_core import (
    CONNECTION_CLOSED,
    ConnectionClosed,
    Transport,
    TransportClosed,
    TransportError,
)
from fastmcp_protocol import (
    INTERNAL_ERROR,
    CallToolResult,
    EmptyResult,
    InitializeResult,
    ListRootsResult,
    LocalError,
    McpError,
    PeerError,
    ProgressNotificationParams,
    TextContent,
)
from fastmcp_transport.http_client import (
    SessionExpired,
    StreamableHttpTransport,
    streamable_http_client,
)

TEXT = {"content": [{"type": "text", "text": "done"}]}
INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "serverInfo": {"name": "scripted", "version": "1"},
}


def call(name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "arguments": arguments or {}}


async def test_a_modern_request_answered_with_json_carries_the_modern_headers() -> None:
    async def handler(request: HttpRequest) -> None:
        await request.result(TEXT)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        assert isinstance(transport, Transport)
        result = await session.request(
            "tools/call", modern(call("get_weather", {"city": "Zürich"})), CallToolResult
        )
        assert result.content == [TextContent(text="done")]
    [post] = server.of("POST")
    assert post.headers["accept"] == "application/json, text/event-stream"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["mcp-protocol-version"] == "2026-07-28"
    assert post.headers["mcp-method"] == "tools/call"
    assert post.headers["mcp-name"] == "get_weather"
    assert "mcp-session-id" not in post.headers
    assert post.message["params"]["arguments"] == {"city": "Zürich"}
    assert not server.of("GET")
    assert not server.of("DELETE")  # no session, nothing to delete


async def test_names_outside_the_header_safe_set_are_base64_encoded() -> None:
    async def handler(request: HttpRequest) -> None:
        await request.result({"contents": []} if "read" in request.rpc_method else {"messages": []})

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        await session.request("resources/read", modern({"uri": "file:///Ünïcode"}), EmptyResult)
        await session.request("prompts/get", modern({"name": "plain-name"}), EmptyResult)
    read, get = server.of("POST")
    assert (
        read.headers["mcp-name"]
        == "=?base64?" + base64.b64encode("file:///Ünïcode".encode()).decode() + "?="
    )
    assert get.headers["mcp-name"] == "plain-name"


async def test_the_task_methods_name_their_task() -> None:
    async def handler(request: HttpRequest) -> None:
        await request.result({})

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        for method in ("tasks/get", "tasks/update", "tasks/cancel"):
            await session.request(method, modern({"taskId": "task-7"}), EmptyResult)
    assert [post.headers["mcp-name"] for post in server.of("POST")] == ["task-7"] * 3


async def test_an_sse_reply_delivers_progress_then_the_result() -> None:
    async def handler(request: HttpRequest) -> None:
        token = request.message["params"]["_meta"]["progressToken"]
        await request.start_sse()
        await request.event(id="e0", retry=1000)  # a priming event: nothing to deliver
        for step in (1, 2):
            await request.event(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/progress",
                    "params": {"progressToken": token, "progress": step, "total": 2},
                }
            )
        await request.event({"jsonrpc": "2.0", "id": request.rpc_id, "result": TEXT})

    seen: list[float] = []

    async def on_progress(progress: ProgressNotificationParams) -> None:
        seen.append(progress.progress)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        result = await session.request(
            "tools/call", modern(call("slow")), CallToolResult, on_progress=on_progress
        )
    assert result.content == [TextContent(text="done")]
    assert seen == [1, 2]


async def test_param_headers_mirror_the_annotated_arguments() -> None:
    """The conformance suite's http-custom-headers calls, header by header."""

    async def handler(request: HttpRequest) -> None:
        await request.result(TEXT)

    schema = {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "priority": {"type": "integer", "x-mcp-header": "Priority"},
            "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
            "debug": {"type": "boolean", "x-mcp-header": "Debug"},
            "empty_val": {"type": "string", "x-mcp-header": "EmptyVal"},
            "method_val": {"type": "string", "x-mcp-header": "Method"},
            "float_val": {"type": "number"},
            "non_ascii_val": {"type": "string", "x-mcp-header": "NonAscii"},
            "internal_space_val": {"type": "string", "x-mcp-header": "InternalSpace"},
            "crlf_val": {"type": "string", "x-mcp-header": "CrLf"},
            "query": {"type": "string"},
        },
    }
    arguments = {
        "region": "us-west1",
        "priority": 42,
        "verbose": False,
        "debug": True,
        "empty_val": "",
        "method_val": "test-method",
        "float_val": 3.14159,
        "non_ascii_val": "Hello, 世界",
        "internal_space_val": "us west 1",
        "crlf_val": "line1\r\nline2",
        "query": "SELECT * FROM users",
    }
    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        transport.register_tool("test_custom_headers", schema)
        await session.request(
            "tools/call", modern(call("test_custom_headers", arguments)), CallToolResult
        )
        await session.request(
            "tools/call",
            modern(call("test_custom_headers", {"region": "us-east1", "verbose": None})),
            CallToolResult,
        )
        await session.request("tools/call", modern(call("unregistered", arguments)), CallToolResult)
    first, second, other = (
        {k: v for k, v in r.headers.items() if k.startswith("mcp-param-")} for r in server.requests
    )
    assert first == {
        "mcp-param-region": "us-west1",
        "mcp-param-priority": "42",
        "mcp-param-verbose": "false",
        "mcp-param-debug": "true",
        "mcp-param-emptyval": "",
        "mcp-param-method": "test-method",
        "mcp-param-nonascii": "=?base64?SGVsbG8sIOS4lueVjA==?=",
        "mcp-param-internalspace": "us west 1",
        "mcp-param-crlf": "=?base64?bGluZTENCmxpbmUy?=",
    }
    assert second == {"mcp-param-region": "us-east1"}  # null and absent send nothing
    assert other == {}
    assert server.requests[0].headers["mcp-method"] == "tools/call"  # not Mcp-Param-Method


async def test_cancelling_a_modern_request_closes_its_stream_and_posts_nothing() -> None:
    async def handler(request: HttpRequest) -> None:
        await request.start_sse()
        await request.disconnected.wait()

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        with trio.move_on_after(0.2) as scope:
            await session.request("tools/call", modern(call("forever")), CallToolResult)
        assert scope.cancelled_caught
        [post] = server.requests
        with trio.fail_after(5):
            await post.disconnected.wait()
        assert transport._exchanges == {}
    assert [r.rpc_method for r in server.requests] == ["tools/call"]


async def legacy_handler(request: HttpRequest) -> None:
    """A legacy server: a session at initialize, blocking tools, 202 for the rest."""
    if request.method == "DELETE":
        await request.reply(200)
    elif request.method == "GET":
        await request.reply(405)
    elif request.rpc_method == "initialize":
        await request.result(INIT_RESULT, headers={"mcp-session-id": "session-1"})
    elif request.rpc_method == "tools/call":
        await request.start_sse()
        await request.disconnected.wait()
    else:
        await request.reply(202)


async def initialize(session: Any) -> None:
    await session.request("initialize", INITIALIZE, InitializeResult)
    await session.notify("notifications/initialized")


async def test_cancelling_a_legacy_request_posts_the_notification_then_closes() -> None:
    async with (
        scripted_server(legacy_handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        with trio.move_on_after(0.2):
            await session.request("tools/call", call("forever"), CallToolResult)
        [notification] = server.of("POST", "notifications/cancelled")
        [stream] = server.of("POST", "tools/call")
        assert notification.message["params"]["requestId"] == stream.rpc_id
        assert notification.headers["mcp-session-id"] == "session-1"
        with trio.fail_after(5):
            await stream.disconnected.wait()


async def test_a_legacy_session_carries_its_id_and_version_and_is_deleted() -> None:
    async with (
        scripted_server(legacy_handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        assert transport.session_id == "session-1"
        assert transport.protocol_version == "2025-11-25"  # read from the result
        await session.notify("notifications/roots/list_changed")
    init, initialized, changed = server.of("POST")
    assert "mcp-session-id" not in init.headers
    assert "mcp-protocol-version" not in init.headers
    assert init.headers["mcp-method"] == "initialize"
    for later in (initialized, changed):
        assert later.headers["mcp-session-id"] == "session-1"
        assert later.headers["mcp-protocol-version"] == "2025-11-25"
    [get] = server.of("GET")  # the standalone stream: refused with 405, tolerated
    assert get.headers["mcp-session-id"] == "session-1"
    assert get.headers["accept"] == "text/event-stream"
    [delete] = server.of("DELETE")
    assert delete.headers["mcp-session-id"] == "session-1"


async def test_the_standalone_stream_brings_server_requests_and_notifications() -> None:
    answered = trio.Event()

    async def handler(request: HttpRequest) -> None:
        if request.method == "GET":
            await request.start_sse()
            await request.event(
                {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}, id="g1"
            )
            await request.event({"jsonrpc": "2.0", "id": 1, "method": "roots/list"}, id="g2")
            await request.disconnected.wait()
        elif request.message and "result" in request.message:
            answered.set()
            await request.reply(202)
        else:
            await legacy_handler(request)

    recorder = Recorder({"roots/list": ListRootsResult(roots=[])})
    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport, recorder) as session,
    ):
        await initialize(session)
        with trio.fail_after(5):
            await answered.wait()
        assert await recorder.wait_notifications(1) == ["notifications/tools/list_changed"]
        [response] = [r for r in server.of("POST") if r.rpc_method is None]
        assert response.message["id"] == 1
        assert response.message["result"]["roots"] == []
        assert response.headers["mcp-session-id"] == "session-1"
        assert "mcp-method" not in response.headers


async def test_requests_after_initialized_wait_for_the_standalone_stream() -> None:
    """Some servers drop what they cannot send on the GET stream: a request made right
    after ``initialized`` is posted only once that stream has its answer."""
    order: list[str] = []

    async def handler(request: HttpRequest) -> None:
        if request.method == "GET":
            await trio.sleep(0.2)  # a slow server
            await request.start_sse()
            order.append("GET answered")
            await request.disconnected.wait()
        else:
            if request.rpc_method == "ping":
                order.append("ping posted")
            await legacy_handler(request)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        await session.notify("ping")
    assert order == ["GET answered", "ping posted"]


async def test_no_standalone_stream_when_turned_off_or_without_a_session() -> None:
    async def sessionless(request: HttpRequest) -> None:
        if request.rpc_method == "initialize":
            await request.result(INIT_RESULT)
        else:
            await legacy_handler(request)

    for handler, options in ((legacy_handler, {"standalone_stream": False}), (sessionless, {})):
        async with (
            scripted_server(handler) as server,
            streamable_http_client(server.url, **options) as transport,
            running(transport) as session,
        ):
            await initialize(session)
            await session.notify("notifications/roots/list_changed")  # after initialized
        assert not server.of("GET")


async def test_a_server_request_on_the_response_stream_is_answered_by_post() -> None:
    """The server's request and ours share the id 1: answering it must not end ours."""
    answer: list[Any] = []
    answered = trio.Event()

    async def handler(request: HttpRequest) -> None:
        if request.rpc_method == "tools/call":
            assert request.rpc_id == 2
            await request.start_sse()
            await request.event({"jsonrpc": "2.0", "id": 2, "method": "roots/list"})
            with trio.fail_after(5):
                await answered.wait()
            await request.event({"jsonrpc": "2.0", "id": 2, "result": TEXT})
        elif request.message and "result" in request.message:
            answer.append(request.message)
            answered.set()
            await request.reply(202)
        else:
            await legacy_handler(request)

    recorder = Recorder({"roots/list": ListRootsResult(roots=[])})
    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url, standalone_stream=False) as transport,
        running(transport, recorder) as session,
    ):
        await initialize(session)  # request id 1
        result = await session.request("tools/call", call("asks"), CallToolResult)
    assert result.content == [TextContent(text="done")]
    [reply] = answer
    assert reply["id"] == 2
    assert reply["result"]["roots"] == []


async def test_a_404_for_the_session_closes_the_transport_with_session_expired() -> None:
    async def handler(request: HttpRequest) -> None:
        if request.rpc_method == "tools/list":
            await request.reply(404, b"no such session")
        else:
            await legacy_handler(request)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url, standalone_stream=False) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        with pytest.raises(ConnectionClosed, match="ended session session-1"):
            await session.request("tools/list", {}, EmptyResult)
        with pytest.raises(SessionExpired) as caught:
            await transport.send(b'{"jsonrpc":"2.0","method":"notifications/x"}')
        assert caught.value.session_id == "session-1"
        with pytest.raises(SessionExpired):
            await transport.receive()
    assert not server.of("DELETE")  # the session is gone already


async def test_the_initialized_notification_may_get_a_json_body_without_id() -> None:
    """Conformance 0.1.16's initialize mock: 200 with a body that answers nothing."""

    async def handler(request: HttpRequest) -> None:
        if request.rpc_method == "initialize":
            await request.result(INIT_RESULT)
        elif request.rpc_method == "tools/list":
            await request.result({"tools": []})
        elif request.method == "POST":
            await request.json({"jsonrpc": "2.0", "result": {}})
        else:
            await request.reply(400)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        await session.request("tools/list", {}, EmptyResult)
    assert [r.rpc_method for r in server.requests] == [
        "initialize",
        "notifications/initialized",
        "tools/list",
    ]  # no error sent back about the body, no GET without a session


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    # jump only when every task has waited a little: the server's sockets need real time
    return trio.testing.MockClock(autojump_threshold=0.01)


async def test_a_dropped_stream_is_resumed_after_the_retry_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The conformance suite's sse-retry: the POST stream ends after a priming event
    with ``retry: 500``; the client waits 500 ms from the end, then GETs with
    ``Last-Event-ID``; the answer comes on a GET stream the server never ends."""

    async def handler(request: HttpRequest) -> None:
        if request.rpc_method == "tools/call":
            await request.start_sse({"mcp-session-id": "session-1"})
            await request.event(id="event-1", retry=500)
            await request.end()
        elif request.method == "GET":
            call_id = server.of("POST", "tools/call")[0].rpc_id
            await request.start_sse()
            await request.event(id="event-2", retry=500)
            await request.event({"jsonrpc": "2.0", "id": call_id, "result": TEXT}, id="event-3")
            await request.disconnected.wait()
        else:
            await legacy_handler(request)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url, standalone_stream=False) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        result = await session.request("tools/call", call("test_reconnection"), CallToolResult)
        assert result.content == [TextContent(text="done")]
        [post] = server.of("POST", "tools/call")
        [get] = server.of("GET")
        with trio.fail_after(5):
            await get.disconnected.wait()  # the client closes the never-ending stream
    assert get.headers["last-event-id"] == "event-1"
    assert get.headers["mcp-session-id"] == "session-1"
    assert get.headers["mcp-protocol-version"] == "2025-11-25"
    assert post.ended_at is not None
    assert get.at - post.ended_at >= 0.5  # virtual time: the retry interval was honoured


async def test_resumption_goes_on_while_the_server_polls_and_gives_up_when_refused() -> None:
    gets: list[HttpRequest] = []

    async def handler(request: HttpRequest) -> None:
        if request.rpc_method == "tools/call":
            await request.start_sse()
            await request.event(id="1", retry=10)
        elif request.method == "GET":
            gets.append(request)
            if len(gets) < 3:  # a poll: one more event id, then the stream ends again
                await request.start_sse()
                await request.event(id=str(len(gets) + 1))
            else:
                await request.reply(405, b"Method Not Allowed")
        else:
            await legacy_handler(request)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url, standalone_stream=False) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        with pytest.raises(McpError, match="could not be resumed: HTTP 405") as caught:
            await session.request("tools/call", call("polled"), CallToolResult)
    assert caught.value.code == CONNECTION_CLOSED
    assert [g.headers["last-event-id"] for g in gets] == ["1", "2", "3"]


async def test_a_stream_that_ends_without_the_response_fails_the_request() -> None:
    async def handler(request: HttpRequest) -> None:
        await request.start_sse()
        await request.event(id="1", retry=10)  # resumable in the legacy era, not now

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        with pytest.raises(McpError, match="ended the response stream of tools/call") as caught:
            await session.request("tools/call", modern(call("cut")), CallToolResult)
    assert caught.value.code == CONNECTION_CLOSED
    assert not server.of("GET")


@pytest.mark.parametrize(
    ("status", "body", "content_type", "code", "match", "data", "said"),
    [
        # the server's JSON-RPC error without an id still answers the request
        (
            400,
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28"],"requested":"x"}}}',
            "application/json",
            -32022,
            "Unsupported protocol version",
            {"supported": ["2026-07-28"], "requested": "x"},
            True,
        ),
        (
            404,
            b'{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}',
            "application/json",
            -32601,
            "Method not found",
            None,
            True,
        ),
        (
            500,
            b"boom",
            "text/plain",
            INTERNAL_ERROR,
            "HTTP 500 .* boom",
            {"httpStatus": 500},
            False,
        ),
        (
            401,
            b'{"error":"invalid_token"}',
            "application/json",
            INTERNAL_ERROR,
            "HTTP 401",
            {"httpStatus": 401},
            False,
        ),
        (202, b"", "", INTERNAL_ERROR, "HTTP 202 and no response", {"httpStatus": 202}, False),
        (200, b"<html/>", "text/html", INTERNAL_ERROR, "text/html", {"httpStatus": 200}, False),
        (
            200,
            b'{"jsonrpc":"2.0","id":99,"result":{}}',
            "application/json",
            INTERNAL_ERROR,
            "not its response",
            None,
            False,
        ),
    ],
)
async def test_http_failures_reach_the_caller_as_json_rpc_errors(
    status: int, body: bytes, content_type: str, code: int, match: str, data: Any, said: bool
) -> None:
    """A JSON-RPC error the server sent is its ``PeerError``; what the transport makes
    up for a failure without one is a local ``TransportError`` (both ``McpError``s)."""

    async def handler(request: HttpRequest) -> None:
        headers = {"content-type": content_type} if content_type else {}
        await request.reply(status, body, headers)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        with pytest.raises(McpError, match=match) as caught:
            await session.request("tools/list", modern(), EmptyResult)
        assert caught.value.code == code
        if data is not None:
            assert caught.value.data == data
        assert isinstance(caught.value, PeerError if said else TransportError)
        assert isinstance(caught.value, LocalError) is not said


async def test_an_unreachable_server_fails_requests_not_the_transport() -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as transport,
            running(transport) as session,
        ):
            with pytest.raises(TransportError, match="ConnectError") as caught:
                await session.request("tools/list", modern(), EmptyResult)
            assert caught.value.code == CONNECTION_CLOSED
            await session.notify("notifications/initialized")  # logged, not fatal
            assert not session.closed


async def test_auth_and_custom_headers_go_on_every_request() -> None:
    class Refreshing(httpx.Auth):
        def __init__(self) -> None:
            self.token = "stale"

        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers["authorization"] = f"Bearer {self.token}"
            response = yield request
            if response.status_code == 401:
                self.token = "fresh"
                request.headers["authorization"] = f"Bearer {self.token}"
                yield request

    async def handler(request: HttpRequest) -> None:
        if request.headers.get("authorization") != "Bearer fresh":
            await request.reply(401, headers={"www-authenticate": "Bearer"})
        elif request.method == "GET":
            await request.start_sse()
            await request.disconnected.wait()
        else:
            await legacy_handler(request)

    async with (
        scripted_server(handler) as server,
        streamable_http_client(
            server.url, auth=Refreshing(), headers={"X-Tenant": "t1", "Accept": "text/plain"}
        ) as transport,
        running(transport) as session,
    ):
        await initialize(session)
        await server.wait_for("GET")
    accepted = [r for r in server.requests if r.headers["authorization"] == "Bearer fresh"]
    assert {r.method for r in accepted} == {"POST", "GET", "DELETE"}
    assert all(r.headers["x-tenant"] == "t1" for r in server.requests)
    assert all(r.headers["accept"] != "text/plain" for r in server.requests)


async def test_closing_the_transport_ends_everything_at_once() -> None:
    async def handler(request: HttpRequest) -> None:
        await request.start_sse()
        await request.disconnected.wait()

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
    ):
        outcome: list[BaseException] = []

        async def waiting() -> None:
            try:
                await session.request("tools/call", modern(call("forever")), CallToolResult)
            except ConnectionClosed as exc:
                outcome.append(exc)

        async with running(transport) as session, trio.open_nursery() as nursery:
            nursery.start_soon(waiting)
            await server.wait_for("POST")
            await transport.aclose()
        [closed] = outcome
        assert "closed" in str(closed)
        with trio.fail_after(5):
            await server.requests[0].disconnected.wait()
        with pytest.raises(TransportClosed):
            await transport.send(msgspec.json.encode({"jsonrpc": "2.0", "id": 9, "method": "x"}))
        with pytest.raises(TransportClosed):
            await transport.receive()
        await transport.aclose()  # idempotent


async def test_user_exceptions_leave_the_context_manager_unwrapped() -> None:
    class Boom(Exception):
        pass

    async def use() -> None:
        async with streamable_http_client("http://127.0.0.1:9/mcp") as transport:
            assert isinstance(transport, StreamableHttpTransport)
            raise Boom

    with pytest.raises(Boom):
        await use()


async def test_a_stream_kept_open_after_the_response_is_closed_by_the_client(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def handler(request: HttpRequest) -> None:
        await request.start_sse()
        await request.event({"jsonrpc": "2.0", "id": request.rpc_id, "result": TEXT})
        await request.disconnected.wait()  # a server that never ends its streams

    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport) as session,
    ):
        result = await session.request("tools/call", modern(call("x")), CallToolResult)
        assert result.content == [TextContent(text="done")]
        with trio.fail_after(5):
            await server.requests[0].disconnected.wait()


async def test_the_standalone_stream_is_resumed_when_the_server_polls() -> None:
    async def handler(request: HttpRequest) -> None:
        if request.method != "GET":
            await legacy_handler(request)
        elif len(server.of("GET")) == 1:
            await request.start_sse()
            await request.event(id="g1", retry=10)
            await request.event({"jsonrpc": "2.0", "method": "notifications/first"}, id="g2")
        elif len(server.of("GET")) == 2:
            await request.start_sse()
            await request.event({"jsonrpc": "2.0", "method": "notifications/second"}, id="g3")
        else:
            await request.reply(405)

    recorder = Recorder()
    async with (
        scripted_server(handler) as server,
        streamable_http_client(server.url) as transport,
        running(transport, recorder) as session,
    ):
        await initialize(session)
        gets = await server.wait_for("GET", count=3)
        assert await recorder.wait_notifications(2) == [
            "notifications/first",
            "notifications/second",
        ]
    assert [g.headers.get("last-event-id") for g in gets] == [None, "g2", "g3"]


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/mcp", "/relative/mcp"])
async def test_a_url_that_is_not_http_is_refused_at_once(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        async with streamable_http_client(url):
            pass
