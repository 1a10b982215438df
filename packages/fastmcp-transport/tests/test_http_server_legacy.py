"""Streamable HTTP, 2025-03-26 to 2025-11-25: sessions, GET streams, resumable SSE."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
import trio
from http_server_support import (
    ACCEPT_BOTH,
    LEGACY,
    MODERN,
    Recorder,
    body,
    http_request,
    initialize_body,
    legacy_headers,
    messages_of,
    serving,
    streaming,
    tool_call,
)

from fastmcp_transport import SSEParser

pytestmark = pytest.mark.usefixtures("http_server")  # on both servers


def _call(rid: Any, name: str, **args: Any) -> bytes:
    return tool_call(rid, name, modern=False, **args)


def _get_headers(session_id: str, **extra: str) -> dict[str, str]:
    return {
        "accept": "text/event-stream",
        "mcp-session-id": session_id,
        "mcp-protocol-version": LEGACY,
        **extra,
    }


async def test_initialize_opens_a_session_and_the_handler_sees_it() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        response = await served.client.post(
            "/mcp", content=initialize_body(0), headers=legacy_headers()
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        session_id = response.headers["mcp-session-id"]
        assert re.fullmatch(r"[\x21-\x7e]{32,}", session_id)
        assert response.json()["result"]["protocolVersion"] == LEGACY
        (info,) = recorder.infos
        assert info.kind == "legacy"
        assert info.session_id == session_id
        assert served.app.session_count == 1
        # notifications/initialized: 202 without a body
        response = await served.client.post(
            "/mcp",
            content=b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            headers=legacy_headers(session_id),
        )
        assert response.status_code == 202
        assert response.content == b""


async def test_a_request_streams_priming_event_progress_and_result() -> None:
    async with serving() as served:
        session_id = await served.initialize()
        response = await served.client.post(
            "/mcp",
            content=_call(1, "progress", steps=2, meta={"progressToken": "p"}),
            headers=legacy_headers(session_id),
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        events = SSEParser().feed(response.content)
        priming, *rest = events
        assert priming.data == ""
        assert priming.id is not None
        assert priming.retry == 3000
        assert all(e.id is not None for e in rest)
        assert len({e.id for e in events}) == len(events)  # ids are unique
        messages = [msgspec.json.decode(e.data) for e in rest]
        assert [m.get("method") for m in messages] == [
            "notifications/progress",
            "notifications/progress",
            None,
        ]
        assert messages[-1]["result"]["content"][0]["text"] == "done"
        assert "resultType" not in messages[-1]["result"]  # a legacy result


async def test_older_sessions_get_no_priming_event() -> None:
    async with serving() as served:
        session_id = await served.initialize("2025-03-26")
        response = await served.client.post(
            "/mcp", content=_call(1, "echo", text="x"), headers=legacy_headers(session_id)
        )
        events = SSEParser().feed(response.content)
        assert all(e.data for e in events)
        assert messages_of(response.content)[0]["result"]["content"][0]["text"] == "x"


async def test_unrelated_messages_go_to_the_get_stream_and_wait_for_it() -> None:
    async with serving() as served:
        session_id = await served.initialize()
        # sent while no GET stream is open: kept for the next one
        response = await served.client.post(
            "/mcp", content=_call(1, "broadcast", count=2), headers=legacy_headers(session_id)
        )
        assert messages_of(response.content)[-1]["result"]["content"][0]["text"] == "broadcast"
        request = http_request("GET", "/mcp", _get_headers(session_id))
        async with streaming(served.port, request) as stream:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream"
            methods = [m["method"] for m in await stream.messages_until(2)]
            assert methods == ["notifications/tools/list_changed"] * 2
            # and live ones while it is open
            await served.client.post(
                "/mcp", content=_call(2, "broadcast"), headers=legacy_headers(session_id)
            )
            with trio.fail_after(5):
                assert len(await stream.messages_until(3)) == 3
            # one GET stream per session
            second = await served.client.get("/mcp", headers=_get_headers(session_id))
            assert second.status_code == 409


async def test_delete_ends_the_session_and_its_id_is_then_unknown() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        session_id = await served.initialize()
        response = await served.client.delete("/mcp", headers=legacy_headers(session_id))
        assert response.status_code == 200
        assert served.app.session_count == 0
        for method in ("POST", "GET", "DELETE"):
            response = await served.client.request(
                method,
                "/mcp",
                content=_call(2, "echo") if method == "POST" else None,
                headers=legacy_headers(session_id),
            )
            assert response.status_code == 404, method
        with trio.fail_after(5):
            await recorder.event(recorder.started, "session ended").wait()


async def test_requests_without_a_session_are_refused() -> None:
    async with serving() as served:
        response = await served.client.post(
            "/mcp", content=_call(7, "echo"), headers=legacy_headers()
        )
        assert response.status_code == 400
        assert response.json()["id"] == 7
        response = await served.client.post(
            "/mcp", content=_call(8, "echo"), headers=legacy_headers("no-such-session")
        )
        assert response.status_code == 404
        # a session's requests speak a legacy version
        session_id = await served.initialize()
        headers = legacy_headers(session_id) | {"mcp-protocol-version": MODERN}
        response = await served.client.post("/mcp", content=_call(9, "echo"), headers=headers)
        assert response.status_code == 400
        # any legacy version is fine on a session (old harnesses send 2025-03-26)
        headers = legacy_headers(session_id) | {"mcp-protocol-version": "2025-03-26"}
        response = await served.client.post("/mcp", content=_call(10, "echo"), headers=headers)
        assert response.status_code == 200


async def test_requests_of_a_session_that_dies_are_answered_with_an_error() -> None:
    recorder = Recorder()
    async with serving(recorder, shutdown_grace=0.01) as served:
        session_id = await served.initialize()
        request = http_request(
            "POST", "/mcp", legacy_headers(session_id), _call(5, "sleep", key="orphan")
        )
        async with streaming(served.port, request) as stream:
            with trio.fail_after(5):
                await recorder.event(recorder.started, "orphan").wait()
            # the handler dies (here: the app shuts its sessions down)
            await served.app.shutdown()
            with trio.fail_after(5):
                await stream.to_end()
            (answer,) = [m for m in stream.messages() if m.get("id") == 5]
            assert answer["error"]["code"] == -32603
            assert "shutting down" in answer["error"]["message"]


async def test_a_failed_initialize_opens_no_session() -> None:
    async with serving() as served:
        broken = body(0, "initialize", {"capabilities": {}})  # no protocolVersion
        response = await served.client.post("/mcp", content=broken, headers=legacy_headers())
        assert response.status_code == 200
        assert "error" in response.json()
        assert "mcp-session-id" not in response.headers
        assert served.app.session_count == 0


async def test_a_server_request_goes_on_the_post_stream_and_its_answer_is_posted() -> None:
    async with serving() as served:
        session_id = await served.initialize()
        request = http_request("POST", "/mcp", legacy_headers(session_id), _call(1, "roots"))
        async with streaming(served.port, request) as stream:
            await stream.until(b"roots/list")
            (ask,) = [m for m in stream.messages() if m.get("method") == "roots/list"]
            answer = msgspec.json.encode(
                {"jsonrpc": "2.0", "id": ask["id"], "result": {"roots": [{"uri": "file:///a"}]}}
            )
            response = await served.client.post(
                "/mcp", content=answer, headers=legacy_headers(session_id)
            )
            assert response.status_code == 202
            await stream.to_end()
            assert stream.messages()[-1]["result"]["content"][0]["text"] == "file:///a"


async def test_a_closed_post_stream_is_resumed_with_last_event_id() -> None:
    async with serving() as served:
        session_id = await served.initialize()
        response = await served.client.post(
            "/mcp",
            content=_call(1, "close_stream", meta={"progressToken": 1}, seconds=0.05),
            headers=legacy_headers(session_id),
        )
        # the server ended the response early: priming, the first progress, a retry hint
        events = SSEParser().feed(response.content)
        assert events[0].data == ""
        assert [msgspec.json.decode(e.data)["params"]["progress"] for e in events[1:]] == [1]
        assert b"retry: 3000" in response.content.split(b"notifications/progress")[-1]
        last_id = events[-1].id
        assert last_id is not None
        # GET with Last-Event-ID: the rest of that stream, then the end
        resumed = await served.client.get(
            "/mcp", headers=_get_headers(session_id, **{"last-event-id": last_id})
        )
        assert resumed.status_code == 200
        messages = messages_of(resumed.content)
        assert messages[0]["params"]["progress"] == 2
        assert messages[-1]["id"] == 1
        assert messages[-1]["result"]["content"][0]["text"] == "reconnected"
        # resuming from the priming event replays everything after it
        again = await served.client.get(
            "/mcp", headers=_get_headers(session_id, **{"last-event-id": events[0].id or ""})
        )
        assert len(messages_of(again.content)) == 3


async def test_resumption_refuses_unknown_ids_and_other_sessions_streams() -> None:
    async with serving() as served:
        first = await served.initialize()
        second = await served.initialize()
        response = await served.client.post(
            "/mcp", content=_call(1, "echo", text="mine"), headers=legacy_headers(first)
        )
        event_id = SSEParser().feed(response.content)[-1].id
        assert event_id is not None
        for session_id, last in ((first, "nonsense"), (second, event_id)):
            response = await served.client.get(
                "/mcp", headers=_get_headers(session_id, **{"last-event-id": last})
            )
            assert response.status_code == 400
            assert "Last-Event-ID" in response.json()["error"]["message"]


async def test_the_get_stream_is_resumed_after_a_disconnect() -> None:
    async with serving() as served:
        session_id = await served.initialize()
        request = http_request("GET", "/mcp", _get_headers(session_id))
        async with streaming(served.port, request) as stream:
            await served.client.post(
                "/mcp", content=_call(1, "broadcast"), headers=legacy_headers(session_id)
            )
            await stream.until(b"list_changed")
            last_id = [e for e in stream.events if e.data.strip()][-1].id
        assert last_id is not None
        # missed while disconnected
        await served.client.post(
            "/mcp", content=_call(2, "broadcast", count=2), headers=legacy_headers(session_id)
        )
        headers = _get_headers(session_id, **{"last-event-id": last_id})
        async with streaming(served.port, http_request("GET", "/mcp", headers)) as stream:
            assert stream.status == 200
            with trio.fail_after(5):
                messages = await stream.messages_until(2)
            assert [m["method"] for m in messages] == ["notifications/tools/list_changed"] * 2


async def test_a_legacy_disconnect_does_not_cancel_the_request() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        session_id = await served.initialize()
        payload = _call(1, "sleep", key="kept", seconds=0.2)
        request = http_request("POST", "/mcp", legacy_headers(session_id), payload)
        async with streaming(served.port, request) as stream:
            await stream.until(b"data: \n\n")
            priming = stream.events[0].id
            with trio.fail_after(5):
                await recorder.event(recorder.started, "kept").wait()
        assert priming is not None
        headers = _get_headers(session_id, **{"last-event-id": priming})
        resumed = await served.client.get("/mcp", headers=headers)
        assert messages_of(resumed.content)[-1]["result"]["content"][0]["text"] == "slept"
        assert "kept" not in recorder.cancelled


async def test_json_response_mode_answers_with_json_and_routes_the_rest_to_get() -> None:
    async with serving(json_response=True) as served:
        session_id = await served.initialize()
        response = await served.client.post(
            "/mcp",
            content=_call(1, "progress", steps=2, meta={"progressToken": 5}),
            headers=legacy_headers(session_id),
        )
        assert response.headers["content-type"] == "application/json"
        assert response.json()["result"]["content"][0]["text"] == "done"
        request = http_request("GET", "/mcp", _get_headers(session_id))
        async with streaming(served.port, request) as stream:
            with trio.fail_after(5):
                messages = await stream.messages_until(2)
            assert [m["params"]["progress"] for m in messages] == [1, 2]


async def test_a_batch_is_answered_on_one_stream_or_as_one_array() -> None:
    batch = b"[" + _call("a", "echo", text="1") + b"," + _call("b", "echo", text="2") + b"]"
    async with serving() as served:
        session_id = await served.initialize("2025-03-26")
        response = await served.client.post(
            "/mcp", content=batch, headers=legacy_headers(session_id)
        )
        answers = {
            m["id"]: m["result"]["content"][0]["text"] for m in messages_of(response.content)
        }
        assert answers == {"a": "1", "b": "2"}
    async with serving(json_response=True) as served:
        session_id = await served.initialize("2025-03-26")
        response = await served.client.post(
            "/mcp", content=batch, headers=legacy_headers(session_id)
        )
        answers = {m["id"]: m["result"]["content"][0]["text"] for m in response.json()}
        assert answers == {"a": "1", "b": "2"}


async def test_a_batch_repeating_an_id_is_refused() -> None:
    batch = b"[" + _call(1, "echo") + b"," + _call(1, "echo") + b"]"
    async with serving() as served:
        session_id = await served.initialize("2025-03-26")
        response = await served.client.post(
            "/mcp", content=batch, headers=legacy_headers(session_id)
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32600


async def test_stateless_mode_serves_each_post_on_its_own() -> None:
    recorder = Recorder()
    async with serving(recorder, stateless=True) as served:
        response = await served.client.post(
            "/mcp", content=initialize_body(0), headers=legacy_headers()
        )
        assert response.status_code == 200
        assert "mcp-session-id" not in response.headers
        response = await served.client.post(
            "/mcp", content=_call(1, "echo", text="no session"), headers=legacy_headers()
        )
        assert response.json()["result"]["content"][0]["text"] == "no session"
        # a session id is ignored; there is no GET stream
        response = await served.client.post(
            "/mcp", content=_call(2, "echo", text="x"), headers=legacy_headers("whatever")
        )
        assert response.status_code == 200
        response = await served.client.get("/mcp", headers=_get_headers("whatever"))
        assert response.status_code == 405
        assert [info.kind for info in recorder.infos] == ["legacy"] * 3
        assert served.app.session_count == 0


async def test_many_concurrent_requests_on_one_session() -> None:
    async with serving() as served:
        session_id = await served.initialize()
        results: dict[int, str] = {}

        async def one(i: int) -> None:
            response = await served.client.post(
                "/mcp", content=_call(i, "echo", text=str(i)), headers=legacy_headers(session_id)
            )
            (message,) = messages_of(response.content)
            results[message["id"]] = message["result"]["content"][0]["text"]

        async with trio.open_nursery() as nursery:
            for i in range(50):
                nursery.start_soon(one, i)
        assert results == {i: str(i) for i in range(50)}


async def test_the_accept_header_is_respected() -> None:
    async with serving() as served:
        session_id = await served.initialize()
        headers = legacy_headers(session_id) | {"accept": "application/json"}
        response = await served.client.post(
            "/mcp", content=_call(1, "echo", text="j"), headers=headers
        )
        assert response.headers["content-type"] == "application/json"
        headers = _get_headers(session_id) | {"accept": "application/json"}
        response = await served.client.get("/mcp", headers=headers)
        assert response.status_code == 406
        headers = legacy_headers() | {"accept": ACCEPT_BOTH}
        response = await served.client.post("/mcp", content=initialize_body(), headers=headers)
        assert response.status_code == 200
