"""Time-driven behaviour, on trio's mock clock: the app is called without sockets.

Expiry of idle sessions, keep-alive comments, SSE polling, graceful shutdown, and
the ASGI lifespan protocol.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from http_server_support import (
    Recorder,
    Tools,
    call_asgi,
    events_of,
    initialize_body,
    legacy_headers,
    make_connect,
    messages_of,
    modern_headers,
    tool_call,
)

from fastmcp_core import Session, Transport
from fastmcp_transport import HttpConnectionInfo
from fastmcp_transport.http_server import InMemoryEventStore, StreamableHTTPApp


async def _initialize(nursery: trio.Nursery, app: StreamableHTTPApp) -> str:
    call = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(), initialize_body())
    await call.done.wait()
    assert call.response.status == 200
    return call.response.headers["mcp-session-id"]


async def _post(nursery: trio.Nursery, app: Any, session_id: str, payload: bytes) -> int:
    call = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(session_id), payload)
    await call.done.wait()
    return call.response.status


async def test_an_idle_session_expires_and_leaves_nothing_behind(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    store = InMemoryEventStore()
    app = StreamableHTTPApp(make_connect(recorder), session_idle_timeout=60, event_store=store)
    async with app.running(), trio.open_nursery() as nursery:
        session_id = await _initialize(nursery, app)
        echo = tool_call(1, "echo", modern=False, text="x")
        assert await _post(nursery, app, session_id, echo) == 200
        assert store._logs  # the request's stream is resumable
        await trio.sleep(45)
        assert await _post(nursery, app, session_id, echo) == 200  # activity: 60 s more
        await trio.sleep(45)
        assert app.session_count == 1
        await trio.sleep(30)
        assert app.session_count == 0
        await recorder.event(recorder.started, "session ended").wait()
        assert await _post(nursery, app, session_id, echo) == 404
        assert store._logs == {}  # its events are forgotten
        assert not store._order


async def test_an_open_get_stream_keeps_a_session_alive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()), session_idle_timeout=60)
    async with app.running(), trio.open_nursery() as nursery:
        session_id = await _initialize(nursery, app)
        headers = {"accept": "text/event-stream", "mcp-session-id": session_id}
        get = await call_asgi(nursery, app, "GET", "/mcp", headers)
        await trio.sleep(600)
        assert app.session_count == 1
        assert b": keep-alive" in get.response.body  # a quiet stream gets comments
        get.disconnect.set()
        await get.done.wait()
        await trio.sleep(61)
        assert app.session_count == 0


async def test_a_quiet_modern_stream_gets_keepalive_comments_and_cancels_on_close(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder), keepalive_interval=15)
    async with trio.open_nursery() as nursery:
        payload = tool_call(
            1, "sleep", key="quiet", seconds=3600, progress_first=True, meta={"progressToken": 1}
        )
        call = await call_asgi(
            nursery, app, "POST", "/mcp", modern_headers("tools/call", "sleep"), payload
        )
        await call.response.wait_for(b": keep-alive")
        assert call.response.headers["content-type"] == "text/event-stream"
        assert b"notifications/progress" in call.response.body
        call.disconnect.set()
        await recorder.event(recorder.cancelled, "quiet").wait()
        await call.done.wait()


async def test_sse_polling_closes_streams_and_the_client_resumes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()), sse_poll_after=30, sse_retry_ms=500)
    async with app.running(), trio.open_nursery() as nursery:
        session_id = await _initialize(nursery, app)
        payload = tool_call(1, "sleep", modern=False, seconds=100)
        call = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(session_id), payload)
        await call.response.complete.wait()  # closed by the server after 30 s
        assert call.response.body.endswith(b"retry: 500\n\n")
        priming = call.response.body.split(b"\n")[0].removeprefix(b"id: ").decode()
        headers = {
            "accept": "text/event-stream",
            "mcp-session-id": session_id,
            "last-event-id": priming,
        }
        results: list[Any] = []
        while not results:  # each poll is closed after 30 s until the result is there
            get = await call_asgi(nursery, app, "GET", "/mcp", headers)
            await get.done.wait()
            results = [m for m in messages_of(get.response.body) if "result" in m]
        assert results[0]["result"]["content"][0]["text"] == "slept"


async def test_shutdown_lets_requests_finish_within_the_grace_period(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder), shutdown_grace=10)
    async with trio.open_nursery() as nursery:
        async with app.running():
            session_id = await _initialize(nursery, app)
            quick = tool_call(1, "sleep", modern=False, key="quick", seconds=5)
            slow = tool_call(2, "sleep", modern=False, key="slow", seconds=60)
            first = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(session_id), quick)
            second = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(session_id), slow)
            await recorder.event(recorder.started, "slow").wait()
            await recorder.event(recorder.started, "quick").wait()
        # leaving `running()` shut down: within 10 s the quick one answered
        assert "slept" in messages_of(first.response.body)[-1]["result"]["content"][0]["text"]
        await recorder.event(recorder.cancelled, "slow").wait()
        await second.done.wait()
        assert second.response.complete.is_set()
        assert app.session_count == 0


async def test_the_lifespan_protocol_starts_and_stops_the_sessions(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()))
    to_app, from_server = trio.open_memory_channel[dict[str, Any]](10)
    to_server, from_app = trio.open_memory_channel[Any](10)

    async def receive() -> dict[str, Any]:
        return await from_server.receive()

    async def send(message: Any) -> None:
        await to_server.send(message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(app, {"type": "lifespan"}, receive, send)
        await to_app.send({"type": "lifespan.startup"})
        assert (await from_app.receive())["type"] == "lifespan.startup.complete"
        session_id = await _initialize(nursery, app)
        assert app.session_count == 1
        await to_app.send({"type": "lifespan.shutdown"})
        assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"
        assert app.session_count == 0
        status = await _post(nursery, app, session_id, tool_call(1, "echo", modern=False))
        assert status == 503  # a stopped app refuses every request


async def test_sessions_beyond_the_limit_are_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()), max_sessions=2)
    async with app.running(), trio.open_nursery() as nursery:
        await _initialize(nursery, app)
        await _initialize(nursery, app)
        call = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(), initialize_body())
        await call.done.wait()
        assert call.response.status == 503
        assert app.session_count == 2


def test_an_app_nobody_ran_starts_on_first_use_and_ends_with_the_trio_run() -> None:
    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            call = await call_asgi(
                nursery, app, "POST", "/mcp", legacy_headers(), initialize_body()
            )
            await call.done.wait()
            assert call.response.status == 200  # the first request started the app
            assert app.session_count == 1
            session_id = call.response.headers["mcp-session-id"]
            call = await call_asgi(
                nursery,
                app,
                "POST",
                "/mcp",
                legacy_headers(session_id),
                tool_call(1, "echo", modern=False, text="again"),
            )
            await call.done.wait()
            assert _answer(call.response.body)["result"]["content"][0]["text"] == "again"
        assert recorder.sessions_ended == 0  # the session outlives its requests

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    # the run's end stopped the app gracefully: the session's handler saw its end
    assert recorder.sessions_ended == 1
    assert app.session_count == 0


# -- shutting down ---------------------------------------------------------------------


def _answer(body: bytes) -> Any:
    """The last JSON-RPC message of a response, JSON or SSE."""
    if body.startswith(b"{"):
        return msgspec.json.decode(body)
    return messages_of(body)[-1]


async def test_a_stopping_app_refuses_new_requests_and_lets_those_in_flight_finish(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder))
    async with app.running(), trio.open_nursery() as nursery:
        session_id = await _initialize(nursery, app)
        slow = await call_asgi(
            nursery,
            app,
            "POST",
            "/mcp",
            modern_headers("tools/call", "sleep"),
            tool_call(1, "sleep", key="slow", seconds=5),
        )
        await recorder.event(recorder.started, "slow").wait()
        app.stop_accepting()
        assert app.stopping
        for headers, payload in (
            (modern_headers("tools/call", "echo"), tool_call(2, "echo", text="late")),
            (legacy_headers(session_id), tool_call(3, "echo", modern=False, text="late")),
            (legacy_headers(), initialize_body()),
        ):
            late = await call_asgi(nursery, app, "POST", "/mcp", headers, payload)
            await late.done.wait()
            assert late.response.status == 503
            assert late.response.headers["connection"] == "close"
            assert msgspec.json.decode(late.response.body)["error"] == {
                "code": -32603,
                "message": "Service Unavailable: the server is shutting down",
            }
        await slow.done.wait()
        assert _answer(slow.response.body)["result"]["content"][0]["text"] == "slept"
        assert "late" not in str(recorder.notes)


async def test_shutdown_lets_the_owner_drain_its_connections_within_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    sessions: list[Session] = []
    graces: list[float] = []

    async def connect(transport: Transport, info: HttpConnectionInfo) -> None:
        tools = Tools(recorder, transport, modern=info.kind == "modern")
        tools.session = session = Session(transport, tools)
        sessions.append(session)
        try:
            await session.run()
        finally:
            sessions.remove(session)

    async def drain(grace: float) -> None:
        graces.append(grace)
        assert app.session_count == 1  # the session is not ended under the owner
        async with trio.open_nursery() as nursery:
            for session in sessions:
                nursery.start_soon(session.drain, grace)

    app = StreamableHTTPApp(connect, drain=drain, shutdown_grace=5)
    async with trio.open_nursery() as nursery:
        async with app.running():
            session_id = await _initialize(nursery, app)
            slow = tool_call(1, "sleep", modern=False, key="slow", seconds=60)
            call = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(session_id), slow)
            await recorder.event(recorder.started, "slow").wait()
            began = trio.current_time()
        # leaving `running()` shut down: the engine answered the call it had to cancel
        assert trio.current_time() - began == pytest.approx(5, abs=0.01)
        await call.done.wait()
        assert graces == [5]
        assert _answer(call.response.body) == {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32603, "message": "Server is shutting down"},
        }
        assert recorder.cancelled["slow"].is_set()
        assert app.session_count == 0


async def test_http_sse_streams_stay_open_until_their_handlers_have_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder), shutdown_grace=10)
    async with trio.open_nursery() as nursery:
        async with app.running():
            stream = await call_asgi(nursery, app, "GET", "/sse", {"accept": "text/event-stream"})
            await stream.response.wait_for(b"\n\n")
            endpoint = events_of(stream.response.body)[0].data
            json_post = {"content-type": "application/json"}
            for payload in (
                initialize_body(1, "2024-11-05"),
                tool_call(2, "sleep", modern=False, key="slow", seconds=3),
            ):
                posted = await call_asgi(nursery, app, "POST", endpoint, json_post, payload)
                await posted.done.wait()
                assert posted.response.status == 202
            await recorder.event(recorder.started, "slow").wait()
            began = trio.current_time()
        # the handler saw its input end, finished the call and answered on the stream
        assert trio.current_time() - began == pytest.approx(3, abs=0.01)
        assert stream.response.complete.is_set()
        last = [e for e in events_of(stream.response.body) if e.event == "message"][-1]
        assert msgspec.json.decode(last.data)["result"]["content"][0]["text"] == "slept"
        assert "slow" not in recorder.cancelled
