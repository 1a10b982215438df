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
from fastmcp_transport.http_server import (
    HttpRequest,
    InMemoryEventStore,
    Route,
    StreamableHTTPApp,
)


async def _initialize(nursery: trio.Nursery, app: StreamableHTTPApp) -> str:
    call = await call_asgi(nursery, app, "POST", "/mcp", legacy_headers(), initialize_body())
    await call.done.wait()
    assert call.response.status == 200
    return call.response.headers["mcp-session-id"]


async def _post(
    nursery: trio.Nursery, app: Any, session_id: str, payload: bytes, principal: Any = None
) -> int:
    call = await call_asgi(
        nursery, app, "POST", "/mcp", legacy_headers(session_id), payload, principal=principal
    )
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
        started = trio.current_time()
        call = await call_asgi(
            nursery, app, "POST", "/mcp", modern_headers("tools/call", "sleep"), payload
        )
        await call.response.wait_for(b": keep-alive")
        assert trio.current_time() - started >= 15  # after 15 s of quiet, not at once
        assert call.response.headers["content-type"] == "text/event-stream"
        assert b"notifications/progress" in call.response.body
        # a comment line between events, never an event of its own
        assert b"\n\n: keep-alive\n\n" in call.response.body
        assert [m["method"] for m in messages_of(call.response.body)] == ["notifications/progress"]
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


async def _open(
    nursery: trio.Nursery, app: Any, address: str = "127.0.0.1", principal: Any = None
) -> tuple[int, str | None]:
    call = await call_asgi(
        nursery,
        app,
        "POST",
        "/mcp",
        legacy_headers(),
        initialize_body(),
        client=(address, 40000),
        principal=principal,
    )
    await call.done.wait()
    return call.response.status, call.response.headers.get("mcp-session-id")


async def _hold(
    nursery: trio.Nursery, app: Any, session_id: str, address: str = "127.0.0.1"
) -> Any:
    """Open the session's GET stream: while it is open the session is not idle."""
    call = await call_asgi(
        nursery,
        app,
        "GET",
        "/mcp",
        legacy_headers(session_id, accept="text/event-stream"),
        client=(address, 40001),
    )
    await call.response.started.wait()
    assert call.response.status == 200
    return call


async def test_one_client_opening_sessions_without_end_does_not_lock_the_others_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # (before: the 21st session of the one client got 503, and so did everyone after it
    # until the idle timeout, 30 minutes later)
    app = StreamableHTTPApp(make_connect(Recorder()), max_sessions=20, max_sessions_per_client=5)
    async with app.running(), trio.open_nursery() as nursery:
        opened = []
        for _ in range(200):
            status, session_id = await _open(nursery, app, "10.0.0.1")
            assert status == 200
            opened.append(session_id)
        assert app.session_count == 5  # its newest five: each new one ended its idlest
        for old in opened[:-5]:
            assert await _post(nursery, app, old, tool_call(1, "echo", modern=False)) == 404
        assert await _post(nursery, app, opened[-1], tool_call(1, "echo", modern=False)) == 200
        for n in range(15):
            assert (await _open(nursery, app, f"10.0.1.{n}"))[0] == 200
        assert app.session_count == 20
        nursery.cancel_scope.cancel()


async def test_a_client_whose_sessions_are_all_busy_gets_429_and_no_one_else_does(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()), max_sessions_per_client=2)
    async with app.running(), trio.open_nursery() as nursery:
        held = []
        for _ in range(2):
            session_id = (await _open(nursery, app, "10.0.0.1"))[1]
            assert session_id is not None
            held.append(await _hold(nursery, app, session_id, "10.0.0.1"))
        call = await call_asgi(
            nursery, app, "POST", "/mcp", legacy_headers(), initialize_body(),
            client=("10.0.0.1", 40002),
        )  # fmt: skip
        await call.done.wait()
        assert call.response.status == 429
        assert app.session_count == 2  # its busy sessions go on
        assert (await _open(nursery, app, "10.0.0.2"))[0] == 200
        # one of its streams ends: that session is idle, and the next one replaces it
        held[0].disconnect.set()
        await held[0].done.wait()
        assert (await _open(nursery, app, "10.0.0.1"))[0] == 200
        assert app.session_count == 3
        nursery.cancel_scope.cancel()


async def test_sessions_are_counted_by_principal_before_address(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # two users behind one proxy (one address) each get their bound; one user from
    # two addresses is one client
    app = StreamableHTTPApp(make_connect(Recorder()), max_sessions_per_client=1)
    async with app.running(), trio.open_nursery() as nursery:
        ada = (await _open(nursery, app, "10.0.0.1", principal="ada"))[1]
        bob = (await _open(nursery, app, "10.0.0.1", principal="bob"))[1]
        assert app.session_count == 2
        assert (await _open(nursery, app, "10.0.0.9", principal="ada"))[0] == 200
        assert app.session_count == 2  # ada's first ended
        assert ada is not None
        assert bob is not None
        echo = tool_call(1, "echo", modern=False)
        assert await _post(nursery, app, bob, echo, principal="bob") == 200
        assert await _post(nursery, app, ada, echo, principal="ada") == 404
        nursery.cancel_scope.cancel()


async def test_at_the_server_bound_the_idlest_session_of_the_largest_client_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()), max_sessions=3, max_sessions_per_client=3)
    async with app.running(), trio.open_nursery() as nursery:
        mine = (await _open(nursery, app, "10.0.0.1"))[1]
        await trio.sleep(10)
        first = (await _open(nursery, app, "10.0.0.2"))[1]
        await trio.sleep(10)
        second = (await _open(nursery, app, "10.0.0.2"))[1]
        assert mine is not None
        assert first is not None
        assert second is not None
        # the oldest idle session is 10.0.0.1's, but 10.0.0.2 holds the most
        assert (await _open(nursery, app, "10.0.0.3"))[0] == 200
        echo = tool_call(1, "echo", modern=False)
        assert await _post(nursery, app, first, echo) == 404
        assert await _post(nursery, app, mine, echo) == 200
        assert await _post(nursery, app, second, echo) == 200
        nursery.cancel_scope.cancel()


async def test_sessions_beyond_the_limit_are_refused_when_none_is_idle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()), max_sessions=2)
    async with app.running(), trio.open_nursery() as nursery:
        for address in ("10.0.0.1", "10.0.0.2"):
            session_id = (await _open(nursery, app, address))[1]
            assert session_id is not None
            await _hold(nursery, app, session_id, address)
        status, _ = await _open(nursery, app, "10.0.0.3")
        assert status == 503
        assert app.session_count == 2
        nursery.cancel_scope.cancel()


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


async def test_a_custom_route_bounds_its_body_by_the_apps_body_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # a webhook whose client announced a body and stopped holds no task for ever
    async def hook(request: HttpRequest) -> str:
        raise AssertionError("the body never came")

    app = StreamableHTTPApp(
        make_connect(Recorder()), routes=[Route("/hook", hook, ("POST",))], body_timeout=5
    )
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"{", "more_body": True}
        await trio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/hook",
        "raw_path": b"/hook",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    async with app.running():
        await app(scope, receive, send)
    assert sent[0]["status"] == 408
    assert trio.current_time() == pytest.approx(5)
