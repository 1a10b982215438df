"""Streamable HTTP, 2026-07-28: one POST, one request, over a real hypercorn server."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import msgspec
import pytest
import trio
from http_server_support import (
    MODERN,
    Recorder,
    Tools,
    body,
    http_request,
    messages_of,
    modern_headers,
    modern_meta,
    raw,
    serving,
    streaming,
    tool_call,
)

from fastmcp_core import Session, Transport
from fastmcp_protocol import encode_notification
from fastmcp_transport import HttpConnectionInfo

pytestmark = pytest.mark.usefixtures("http_server")  # on both servers


def _json(response: httpx.Response) -> Any:
    assert response.headers["content-type"] == "application/json", response.text
    return response.json()


async def test_a_result_that_comes_first_is_answered_as_json() -> None:
    async with serving() as served:
        response = await served.client.post(
            "/mcp",
            content=tool_call(1, "echo", text="héllo"),
            headers=modern_headers("tools/call", "echo"),
        )
        assert response.status_code == 200
        answer = _json(response)
        assert answer["id"] == 1
        assert answer["result"]["content"] == [{"type": "text", "text": "héllo"}]
        assert answer["result"]["resultType"] == "complete"
        (info,) = served.recorder.infos
        assert info.kind == "modern"
        assert info.protocol_version == MODERN
        assert info.session_id is None
        assert info.headers["mcp-method"] == "tools/call"
        assert "mcp-session-id" not in response.headers


async def test_progress_before_the_result_switches_to_sse_in_order() -> None:
    async with serving() as served:
        response = await served.client.post(
            "/mcp",
            content=tool_call(7, "progress", steps=5, meta={"progressToken": "tok"}),
            headers=modern_headers("tools/call", "progress"),
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["x-accel-buffering"] == "no"
        messages = messages_of(response.content)
        progress = [m["params"]["progress"] for m in messages[:-1]]
        assert progress == [1, 2, 3, 4, 5]
        assert all(m["params"]["progressToken"] == "tok" for m in messages[:-1])
        assert messages[-1]["id"] == 7
        assert messages[-1]["result"]["content"][0]["text"] == "done"
        assert b"id:" not in response.content  # modern streams are not resumable


async def test_a_log_message_travels_on_the_request_stream() -> None:
    async with serving() as served:
        response = await served.client.post(
            "/mcp",
            content=tool_call(
                2, "log", text="hi", meta={"io.modelcontextprotocol/logLevel": "info"}
            ),
            headers=modern_headers("tools/call", "log"),
        )
        first, last = messages_of(response.content)
        assert first["method"] == "notifications/message"
        assert first["params"]["data"] == {"message": "hi"}
        assert last["result"]["content"][0]["text"] == "logged"


async def test_accept_decides_json_or_sse() -> None:
    async with serving() as served:
        json_only = modern_headers("tools/call", "progress", accept="application/json")
        response = await served.client.post(
            "/mcp",
            content=tool_call(1, "progress", meta={"progressToken": 1}),
            headers=json_only,
        )
        answer = _json(response)  # the notifications could not be carried
        assert answer["result"]["content"][0]["text"] == "done"

        sse_only = modern_headers("tools/call", "echo", accept="text/event-stream")
        response = await served.client.post(
            "/mcp", content=tool_call(2, "echo", text="x"), headers=sse_only
        )
        assert response.headers["content-type"] == "text/event-stream"
        (message,) = messages_of(response.content)
        assert message["result"]["content"][0]["text"] == "x"

        neither = modern_headers("tools/call", "echo", accept="text/html")
        response = await served.client.post(
            "/mcp", content=tool_call(3, "echo", text="x"), headers=neither
        )
        assert response.status_code == 406


async def test_a_notification_is_accepted_with_202_and_reaches_the_handler() -> None:
    async with serving() as served:
        note = b'{"jsonrpc":"2.0","method":"notifications/hello","params":{"n":1}}'
        response = await served.client.post(
            "/mcp",
            content=note,
            headers={
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": MODERN,
            },
        )
        assert response.status_code == 202
        assert response.content == b""
        with trio.fail_after(5):
            await served.recorder.event(served.recorder.started, "notifications/hello").wait()
        assert served.recorder.notes[0].method == "notifications/hello"


def _discover(rid: int, meta: Any) -> bytes:
    params: dict[str, Any] = {} if meta is None else {"_meta": meta}
    return body(rid, "server/discover", params)


@pytest.mark.parametrize(
    ("payload", "headers", "status", "code"),
    [
        # _meta problems come first: -32602 (even with a matching header)
        (_discover(101, None), {}, 400, -32602),
        (
            _discover(102, {"io.modelcontextprotocol/clientCapabilities": {}}),
            {},
            400,
            -32602,
        ),
        (
            _discover(104, {"io.modelcontextprotocol/protocolVersion": MODERN}),
            {},
            400,
            -32602,
        ),
        (
            _discover(105, {**modern_meta(), "io.modelcontextprotocol/logLevel": 7}),
            {},
            400,
            -32602,
        ),
        # then the version header against _meta: -32020
        (
            _discover(302, modern_meta(**{"io.modelcontextprotocol/protocolVersion": "v999"})),
            {},
            400,
            -32020,
        ),
        # then the version itself: -32022
        (
            _discover(301, modern_meta(**{"io.modelcontextprotocol/protocolVersion": "v999"})),
            {"mcp-protocol-version": "v999"},
            400,
            -32022,
        ),
        # then Mcp-Method
        (_discover(401, modern_meta()), {"mcp-method": "tools/list"}, 400, -32020),
        (_discover(402, modern_meta()), {"mcp-method": "SERVER/DISCOVER"}, 400, -32020),
        # an unknown method is 404 + -32601 (the JSON-RPC error tells it from a bad path)
        (
            body(501, "unknown/method", {"_meta": modern_meta()}),
            {"mcp-method": "unknown/method"},
            404,
            -32601,
        ),
        (
            body(502, "initialize", {"_meta": modern_meta()}),
            {"mcp-method": "initialize"},
            404,
            -32601,
        ),
    ],
)
async def test_header_and_meta_validation(
    payload: bytes, headers: dict[str, str], status: int, code: int
) -> None:
    async with serving() as served:
        all_headers = modern_headers("server/discover") | headers
        response = await served.client.post("/mcp", content=payload, headers=all_headers)
        assert response.status_code == status
        answer = _json(response)
        assert answer["error"]["code"] == code
        assert answer["id"] == msgspec.json.decode(payload)["id"]  # never null when known
        if code == -32022:
            assert answer["error"]["data"] == {"requested": "v999", "supported": [MODERN]}


async def test_a_missing_protocol_version_header_is_a_header_mismatch() -> None:
    async with serving() as served:
        headers = modern_headers("tools/call", "echo")
        del headers["mcp-protocol-version"]
        response = await served.client.post(
            "/mcp", content=tool_call(1, "echo", text="x"), headers=headers
        )
        assert response.status_code == 400
        assert _json(response)["error"]["code"] == -32020


def _b64(value: str) -> str:
    return "=?base64?" + base64.b64encode(value.encode()).decode() + "?="


@pytest.mark.parametrize(
    ("name_header", "tool", "accepted"),
    [
        ("echo", "echo", True),
        (None, "echo", False),
        ("wrong_tool", "echo", False),
        ("ECHO", "echo", False),  # values are case-sensitive
        (_b64("echo"), "echo", True),
        ("=?base64?ZWNobw?=", "echo", False),  # bad padding
        ("=?base64?ZW!!obw==?=", "echo", False),  # bad alphabet
    ],
)
async def test_mcp_name_must_mirror_the_tool_name(
    name_header: str | None, tool: str, accepted: bool
) -> None:
    async with serving() as served:
        headers = modern_headers("tools/call", name_header)
        response = await served.client.post(
            "/mcp", content=tool_call(9, tool, text="ok"), headers=headers
        )
        answer = _json(response)
        if accepted:
            assert response.status_code == 200
            assert answer["result"]["content"][0]["text"] == "ok"
        else:
            assert response.status_code == 400
            assert answer["error"]["code"] == -32020
            assert answer["id"] == 9


async def test_a_non_ascii_name_travels_base64_encoded() -> None:
    async with serving() as served:
        # the tool does not exist: the point is that the header check passes
        name = "wetter_für_köln"
        response = await served.client.post(
            "/mcp", content=tool_call(3, name), headers=modern_headers("tools/call", _b64(name))
        )
        answer = _json(response)
        assert answer["error"]["code"] == -32602
        assert "Unknown tool" in answer["error"]["message"]
        assert response.status_code == 200  # an unknown tool is an answer, not a bad request


async def test_resources_read_mirrors_the_uri() -> None:
    async with serving() as served:
        uri = "file:///projects/app/config.json"
        payload = body(4, "resources/read", {"uri": uri, "_meta": modern_meta()})
        response = await served.client.post(
            "/mcp", content=payload, headers=modern_headers("resources/read", uri)
        )
        assert response.status_code == 404  # no resources here: the method is unknown
        response = await served.client.post(
            "/mcp", content=payload, headers=modern_headers("resources/read", "file:///other")
        )
        assert response.status_code == 400
        assert _json(response)["error"]["code"] == -32020


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_get_and_delete_without_a_session_are_405(method: str) -> None:
    async with serving() as served:
        response = await served.client.request(
            method, "/mcp", headers={"accept": "text/event-stream", "mcp-protocol-version": MODERN}
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


async def test_batches_and_responses_are_refused() -> None:
    async with serving() as served:
        batch = b"[" + tool_call(1, "echo") + b"," + tool_call(2, "echo") + b"]"
        response = await served.client.post(
            "/mcp", content=batch, headers=modern_headers("tools/call", "echo")
        )
        assert response.status_code == 400
        assert _json(response)["error"]["code"] == -32600
        answer = b'{"jsonrpc":"2.0","id":1,"result":{}}'
        response = await served.client.post(
            "/mcp", content=answer, headers=modern_headers("tools/call")
        )
        assert response.status_code == 400


async def test_surrounding_whitespace_is_not_part_of_a_header_value() -> None:
    async with serving() as served:
        headers = [*modern_headers("tools/call").items(), ("Mcp-Name", "  echo\t ")]
        request = http_request("POST", "/mcp", headers, tool_call(1, "echo", text="ok"))
        status, _, content = await raw(served.port, request)
        assert status == 200
        assert msgspec.json.decode(content)["result"]["content"][0]["text"] == "ok"


async def test_closing_the_connection_before_any_answer_cancels_the_request() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        payload = tool_call(5, "sleep", key="slow", seconds=3600)
        request = http_request("POST", "/mcp", modern_headers("tools/call", "sleep"), payload)
        stream = await trio.open_tcp_stream("127.0.0.1", served.port)
        await stream.send_all(request)
        with trio.fail_after(5):
            await recorder.event(recorder.started, "slow").wait()
        await stream.aclose()
        with trio.fail_after(5):
            await recorder.event(recorder.cancelled, "slow").wait()
        # and the server goes on serving
        response = await served.client.post(
            "/mcp",
            content=tool_call(6, "echo", text="after"),
            headers=modern_headers("tools/call", "echo"),
        )
        assert _json(response)["result"]["content"][0]["text"] == "after"


async def test_closing_an_sse_answer_mid_stream_cancels_the_request() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        payload = tool_call(
            9, "sleep", key="mid", seconds=3600, progress_first=True, meta={"progressToken": 1}
        )
        request = http_request("POST", "/mcp", modern_headers("tools/call", "sleep"), payload)
        stream = await trio.open_tcp_stream("127.0.0.1", served.port)
        await stream.send_all(request)
        seen = b""
        with trio.fail_after(5):
            while b"notifications/progress" not in seen:
                seen += await stream.receive_some(65536)
            await recorder.event(recorder.started, "mid").wait()
        assert b"text/event-stream" in seen
        await stream.aclose()
        with trio.fail_after(5):
            await recorder.event(recorder.cancelled, "mid").wait()


async def test_a_subscription_stream_stays_open_until_the_server_ends_it() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        params = {"_meta": modern_meta(), "notifications": {"toolsListChanged": True}}
        request = http_request(
            "POST",
            "/mcp",
            modern_headers("subscriptions/listen"),
            body(42, "subscriptions/listen", params),
        )
        async with streaming(served.port, request) as stream:
            assert stream.headers["content-type"] == "text/event-stream"
            (ack,) = await stream.messages_until(1)
            assert ack["method"] == "notifications/subscriptions/acknowledged"
            assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 42
            recorder.event(recorder.started, "change").set()
            with trio.fail_after(5):
                change = (await stream.messages_until(2))[1]
            assert change["method"] == "notifications/tools/list_changed"
            assert not stream.ended
            recorder.event(recorder.started, "stop").set()
            with trio.fail_after(5):
                await stream.to_end()
            end = stream.messages()[-1]
            assert end["id"] == 42
            assert end["result"]["resultType"] == "complete"


async def test_an_engine_that_stops_at_the_end_of_input_still_answers() -> None:
    async def connect(transport: Transport, info: HttpConnectionInfo) -> None:
        tools = Tools(Recorder(), transport, modern=True)
        await Session(transport, tools, drain_on_eof=None).run()

    async with serving(connect=connect) as served:
        for i in range(20):
            response = await served.client.post(
                "/mcp",
                content=tool_call(i, "progress", steps=2, meta={"progressToken": i}),
                headers=modern_headers("tools/call", "progress"),
            )
            assert messages_of(response.content)[-1]["result"]["content"][0]["text"] == "done"


async def test_a_handler_that_ends_without_answering_leaves_an_error_not_silence() -> None:
    async def connect(transport: Transport, info: HttpConnectionInfo) -> None:
        rid = msgspec.json.decode(await transport.receive())["id"]
        progress = {"progressToken": 1, "progress": 1}
        await transport.send(encode_notification("notifications/progress", progress), related=rid)
        # ...and returns without a response

    async with serving(connect=connect) as served:
        response = await served.client.post(
            "/mcp", content=tool_call(3, "echo"), headers=modern_headers("tools/call", "echo")
        )
        progress, error = messages_of(response.content)
        assert progress["method"] == "notifications/progress"
        assert error == {
            "jsonrpc": "2.0",
            "id": 3,
            "error": {"code": -32603, "message": "Internal error"},
        }


async def test_a_ten_mebibyte_request_and_response() -> None:
    async with serving() as served:
        size = 10 * 1024 * 1024
        payload = tool_call(1, "echo", text="y" * size)
        response = await served.client.post(
            "/mcp", content=payload, headers=modern_headers("tools/call", "echo")
        )
        assert response.status_code == 200
        assert len(_json(response)["result"]["content"][0]["text"]) == size
        # and back as an SSE event (progress first forces SSE)
        response = await served.client.post(
            "/mcp",
            content=tool_call(2, "big", size=size),
            headers=modern_headers("tools/call", "big", accept="text/event-stream"),
        )
        (message,) = messages_of(response.content)
        assert len(message["result"]["content"][0]["text"]) == size


async def test_many_concurrent_requests_each_get_their_own_answer() -> None:
    async with serving() as served:
        answers: dict[int, str] = {}

        async def one(i: int) -> None:
            tool = "progress" if i % 3 == 0 else "echo"
            meta = {"progressToken": i} if tool == "progress" else None
            response = await served.client.post(
                "/mcp",
                content=tool_call(i, tool, text=str(i), meta=meta),
                headers=modern_headers("tools/call", tool),
            )
            if response.headers["content-type"] == "text/event-stream":
                messages = messages_of(response.content)
                assert all(m["params"]["progressToken"] == i for m in messages[:-1])
                final = messages[-1]
            else:
                final = response.json()
            assert final["id"] == i
            answers[i] = final["result"]["content"][0]["text"]

        async with trio.open_nursery() as nursery:
            for i in range(60):
                nursery.start_soon(one, i)
        assert answers == {i: ("done" if i % 3 == 0 else str(i)) for i in range(60)}
