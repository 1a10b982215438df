"""The HTTP+SSE transport of 2024-11-05: a GET stream and a POST endpoint."""

from __future__ import annotations

import msgspec
import pytest
import trio
from http_server_support import (
    Recorder,
    http_request,
    initialize_body,
    serving,
    streaming,
    tool_call,
)

pytestmark = pytest.mark.usefixtures("http_server")  # on both servers

SSE_GET = {"accept": "text/event-stream"}
JSON_POST = {"content-type": "application/json"}


async def test_the_endpoint_event_comes_first_and_answers_travel_on_the_stream() -> None:
    recorder = Recorder()
    async with (
        serving(recorder) as served,
        streaming(served.port, http_request("GET", "/sse", SSE_GET)) as stream,
    ):
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream"
        await stream.until(b"\n\n")
        endpoint = stream.events[0]
        assert endpoint.event == "endpoint"
        assert endpoint.data.startswith("/messages/?session_id=")
        # the event may come before the connection handler has run (a fast server)
        await recorder.event(recorder.started, "connection").wait()
        (info,) = recorder.infos
        assert info.kind == "legacy-sse"
        assert endpoint.data.endswith(f"session_id={info.session_id}")

        response = await served.client.post(
            endpoint.data, content=initialize_body(1, "2024-11-05"), headers=JSON_POST
        )
        assert response.status_code == 202
        payload = tool_call(2, "progress", modern=False, steps=2, meta={"progressToken": 9})
        response = await served.client.post(endpoint.data, content=payload, headers=JSON_POST)
        assert response.status_code == 202
        with trio.fail_after(5):
            messages = await stream.messages_until(4)
        assert all(e.event == "message" for e in stream.events[1:])
        assert messages[0]["result"]["protocolVersion"] == "2024-11-05"
        assert [m.get("method") for m in messages[1:]] == [
            "notifications/progress",
            "notifications/progress",
            None,
        ]
        assert messages[3]["result"]["content"][0]["text"] == "done"


async def test_bad_posts_are_refused() -> None:
    async with serving() as served:
        async with streaming(served.port, http_request("GET", "/sse", SSE_GET)) as stream:
            await stream.until(b"\n\n")
            endpoint = stream.events[0].data
            payload = tool_call(1, "echo", modern=False)
            response = await served.client.post(
                "/messages/?session_id=nope", content=payload, headers=JSON_POST
            )
            assert response.status_code == 404
            response = await served.client.post("/messages/", content=payload, headers=JSON_POST)
            assert response.status_code == 400
            response = await served.client.post(endpoint, content=b"{oops", headers=JSON_POST)
            assert response.status_code == 400
            assert response.json()["error"]["code"] == -32700
            response = await served.client.post(
                endpoint, content=payload, headers={"content-type": "text/plain"}
            )
            assert response.status_code == 415
            response = await served.client.get(endpoint)
            assert response.status_code == 405
        response = await served.client.post("/sse", content=payload, headers=JSON_POST)
        assert response.status_code == 405


async def test_closing_the_stream_ends_the_session_and_cancels_its_work() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        async with streaming(served.port, http_request("GET", "/sse", SSE_GET)) as stream:
            await stream.until(b"\n\n")
            endpoint = stream.events[0].data
            payload = tool_call(1, "sleep", modern=False, key="sse", seconds=3600)
            await served.client.post(endpoint, content=payload, headers=JSON_POST)
            with trio.fail_after(5):
                await recorder.event(recorder.started, "sse").wait()
        with trio.fail_after(5):
            await recorder.event(recorder.cancelled, "sse").wait()
            await recorder.event(recorder.started, "session ended").wait()
        response = await served.client.post(
            endpoint, content=tool_call(2, "echo", modern=False), headers=JSON_POST
        )
        assert response.status_code == 404


async def test_dns_rebinding_protection_covers_the_sse_endpoints() -> None:
    async with serving() as served:
        request = http_request("GET", "/sse", SSE_GET, host="evil.example.com")
        async with streaming(served.port, request) as stream:
            assert stream.status == 403
            await stream.to_end()
            assert "id" not in msgspec.json.decode(stream.body)


async def test_the_sse_transport_can_be_turned_off() -> None:
    async with serving(sse_path=None) as served:
        response = await served.client.get("/sse", headers=SSE_GET)
        assert response.status_code == 404
