"""``H1Server`` over a server's and a request's life: apps that fail, clients that
leave, graceful shutdown (idle connections closed at once, requests in flight
finished within the grace, then cancelled), the lifespan protocol, TLS, IPv6.

Time is trio's mock clock (autojump) wherever it matters; sockets are real.
"""

from __future__ import annotations

import logging
import socket
import ssl
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
import trustme
from h1_support import App, get, post, running, start

from fastmcp_transport.http_server import (
    ClientDisconnected,
    H1Server,
    LifespanFailed,
    ServerAddress,
)


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- apps that fail ---------------------------------------------------------------------


async def test_an_app_that_fails_before_answering_gets_500_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(App()) as server, server.client() as client:
        await client.send(get("/fail"))
        response = await client.response()
        assert response.status == 500
        assert b"Traceback" not in response.body
        await client.send(get("/"))  # the connection is still good
        assert (await client.response()).status == 200
    (record,) = errors(caplog)
    assert record.exc_info is not None
    assert "the app broke" in str(record.exc_info[1])


async def test_an_app_that_fails_mid_response_has_its_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(App()) as server, server.client() as client:
        await client.send(get("/fail-late") + get("/never"))
        status, _, _ = await client.head()
        assert status == 200
        assert await client.chunk() == b"partial"
        assert await client.closed()  # no last chunk: the client knows it is cut short
    assert len(errors(caplog)) == 1


async def test_an_app_that_returns_without_a_response_gets_500_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(App()) as server, server.client() as client:
        await client.send(get("/silent"))
        assert (await client.response()).status == 500
        await client.send(get("/half"))
        status, _, _ = await client.head()
        assert status == 200
        assert await client.closed()
    messages = [r.getMessage() for r in errors(caplog)]
    assert messages == [
        "the ASGI app returned without a response",
        "the ASGI app returned before its response was complete",
    ]


async def test_an_app_that_breaks_asgi_gets_500_not_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def confused(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.body", "body": b"no start"})

    async with running(confused) as server, server.client() as client:
        await client.send(get("/"))
        assert (await client.response()).status == 500
    assert "before http.response.start" in caplog.text


async def test_a_send_kept_past_the_request_cannot_write_into_the_next_one() -> None:
    kept: list[Any] = []

    async def leaky(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if not kept:
            kept.append(send)
            await start(send, 200, [(b"content-length", b"5")])
            await send({"type": "http.response.body", "body": b"first"})
            return
        with pytest.raises(RuntimeError, match="already complete"):
            await kept[0]({"type": "http.response.body", "body": b"stale"})
        await start(send, 200, [(b"content-length", b"6")])
        await send({"type": "http.response.body", "body": b"second"})

    async with running(leaky) as server, server.client() as client:
        await client.send(get("/") + get("/"))
        assert (await client.response()).body == b"first"
        assert (await client.response()).body == b"second"


# -- clients that leave -----------------------------------------------------------------


async def test_a_client_that_leaves_mid_request_is_heard_by_the_app(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    async with running(app) as server:
        client = await server.connect()
        await client.send(post("/wait", b"body"))
        await app.arrived.wait()
        await client.aclose()
        with trio.fail_after(10):
            await app.disconnected.wait()
    assert app.disconnects == ["http.disconnect"]


async def test_a_client_that_leaves_mid_stream_is_heard_and_writes_fail_softly(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = App()
    async with running(app) as server:
        client = await server.connect()
        await client.send(get("/watch"))
        await client.head()
        assert await client.chunk() == b": tick\n\n"
        await client.aclose()
        with trio.fail_after(10):
            await app.disconnected.wait()
        async with server.client() as other:  # the server goes on
            await other.send(get("/"))
            assert (await other.response()).status == 200
    assert app.disconnects == ["http.disconnect"]
    assert all(isinstance(e, ClientDisconnected | OSError) for e in app.send_errors)
    assert not errors(caplog)


async def test_the_mcp_app_cancels_a_request_whose_client_left() -> None:
    """The Streamable HTTP app relies on ``http.disconnect``: a modern request is
    cancelled when its client closes the response."""
    from http_server_support import Recorder, make_connect, modern_headers, tool_call

    from fastmcp_transport.http_server import StreamableHTTPApp

    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder))
    with trio.fail_after(10):
        async with app.running(), running(app) as server:
            client = await server.connect()
            headers = [f"{k}: {v}" for k, v in modern_headers("tools/call", "sleep").items()]
            call = tool_call(1, "sleep", key="gone")
            await client.send(post("/mcp", call, *headers, host=f"127.0.0.1:{server.port}"))
            await recorder.event(recorder.started, "gone").wait()
            await client.aclose()
            await recorder.event(recorder.cancelled, "gone").wait()


# -- graceful shutdown ------------------------------------------------------------------


async def stop(scope: trio.CancelScope, done: trio.Event) -> None:
    scope.cancel()
    await done.wait()


async def serve_in(
    nursery: trio.Nursery, app: Any, **options: Any
) -> tuple[ServerAddress, trio.CancelScope, trio.Event]:
    """Start a server that the test stops by cancelling the returned scope; the
    event is set once ``serve`` has returned."""
    scope = trio.CancelScope()
    done = trio.Event()

    async def run(task_status: trio.TaskStatus[ServerAddress]) -> None:
        try:
            with scope:
                await H1Server(app, port=0, **options).serve(task_status=task_status)
        finally:
            done.set()

    address: ServerAddress = await nursery.start(run)
    return address, scope, done


async def test_shutdown_closes_idle_connections_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    async with trio.open_nursery() as nursery:
        address, scope, done = await serve_in(nursery, app, graceful_timeout=30)
        async with (
            await trio.open_tcp_stream("127.0.0.1", address.port) as idle,
            await trio.open_tcp_stream("127.0.0.1", address.port) as fresh,
        ):
            await idle.send_all(get("/"))
            assert await idle.receive_some(65536)
            await trio.sleep(1)
            started = trio.current_time()
            await stop(scope, done)
            assert trio.current_time() - started < 1  # no grace needed
            assert await idle.receive_some(65536) == b""
            assert await fresh.receive_some(65536) == b""
        with pytest.raises(OSError, match="failed"):  # no longer accepting
            await trio.open_tcp_stream("127.0.0.1", address.port)


async def test_shutdown_lets_a_request_in_flight_finish_within_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    async with trio.open_nursery() as nursery:
        address, scope, done = await serve_in(nursery, app, graceful_timeout=30)
        async with await trio.open_tcp_stream("127.0.0.1", address.port) as stream:
            await stream.send_all(post("/hold", b"") + get("/pipelined"))
            await app.arrived.wait()
            scope.cancel()
            await trio.sleep(20)
            assert not done.is_set()
            app.gate("hold").set()
            await done.wait()
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in answer
    assert answer.endswith(b"released")  # and nothing for the pipelined request
    assert app.events == ["holding"]


async def test_shutdown_cancels_what_is_left_after_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    async with trio.open_nursery() as nursery:
        address, scope, done = await serve_in(nursery, app, graceful_timeout=30)
        async with await trio.open_tcp_stream("127.0.0.1", address.port) as stream:
            await stream.send_all(post("/hold", b""))
            await app.arrived.wait()
            started = trio.current_time()
            await stop(scope, done)
            assert trio.current_time() - started == pytest.approx(30, abs=0.1)
            assert await stream.receive_some(65536) == b""
    assert app.events == ["holding", "cancelled /hold"]


async def test_a_shutdown_trigger_stops_the_server_gracefully(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    trigger = trio.Event()
    server = H1Server(app, port=0)
    async with trio.open_nursery() as nursery:
        address: ServerAddress = await nursery.start(
            partial(server.serve, shutdown_trigger=trigger.wait)
        )
        stream = await trio.open_tcp_stream("127.0.0.1", address.port)
        await stream.send_all(post("/hold", b""))
        await app.arrived.wait()
        trigger.set()
        await trio.sleep(1)
        app.gate("hold").set()
    # serve returned by itself, once the request in flight was answered
    async with stream:
        assert (await stream.receive_some(65536)).endswith(b"released")
    assert server.connection_count == 0


async def test_a_server_serves_again_after_a_shutdown() -> None:
    server = H1Server(App(), port=0)
    for _ in range(2):
        async with trio.open_nursery() as nursery:
            address: ServerAddress = await nursery.start(server.serve)
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"http://127.0.0.1:{address.port}/")).text == "ok"
            nursery.cancel_scope.cancel()


# -- lifespan ---------------------------------------------------------------------------


async def test_the_lifespan_runs_around_the_server_and_shares_its_state() -> None:
    happened: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            assert (await receive())["type"] == "lifespan.startup"
            scope["state"]["greeting"] = "hello"
            happened.append("startup")
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            happened.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        happened.append("request")
        greeting = scope["state"]["greeting"].encode()
        await start(send, 200, [(b"content-length", b"%d" % len(greeting))])
        await send({"type": "http.response.body", "body": greeting})

    async with running(app) as server, server.client() as client:
        assert happened == ["startup"]
        await client.send(get("/"))
        assert (await client.response()).body == b"hello"
    assert happened == ["startup", "request", "shutdown"]


async def test_a_failed_lifespan_startup_fails_serve() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(LifespanFailed, match="no database"):
        await H1Server(app, port=0).serve()


async def test_a_lifespan_startup_that_never_ends_is_reported(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def confused(scope: Any, receive: Any, send: Any) -> None:
        while True:  # takes every scope for a request, and waits for its body
            await receive()

    with trio.move_on_after(60):
        await H1Server(confused, port=0).serve()
    assert "has not finished its lifespan startup after 10 s" in caplog.text
    with trio.fail_after(1):  # without the lifespan, the same app starts at once
        async with running(confused, lifespan="off") as server:
            assert server.port


async def test_lifespan_on_requires_the_app_to_support_it() -> None:
    with pytest.raises(LifespanFailed, match="lifespan startup failed"):
        await H1Server(App(), port=0, lifespan="on").serve()


# -- TLS and addresses ------------------------------------------------------------------


async def test_tls_with_a_certificate_file(tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    async with running(App(), certfile=cert, keyfile=key) as server:
        assert server.address.scheme == "https"
        async with httpx.AsyncClient(verify=trusted) as client:
            for _ in range(2):  # over one kept-alive TLS connection
                response = await client.post(
                    f"https://127.0.0.1:{server.port}/echo", content=b"secret"
                )
                assert response.content == b"secret"
                assert response.http_version == "HTTP/1.1"
        # a plain-HTTP client on the TLS port gets no answer, and no crash
        async with server.client() as plain:
            await plain.send(get("/"))
            assert await plain.closed()


async def test_tls_with_a_context(tmp_path: Path) -> None:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    async with running(App(), ssl_context=context) as server:
        async with httpx.AsyncClient(verify=trusted) as client:
            response = await client.get(f"https://127.0.0.1:{server.port}/")
        assert response.text == "ok"


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
async def test_ipv6() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    app = App()
    server = H1Server(app, host="::1", port=0)
    async with trio.open_nursery() as nursery:
        address: ServerAddress = await nursery.start(server.serve)
        assert address.url == f"http://[::1]:{address.port}"
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://[::1]:{address.port}/")
        assert response.text == "ok"
        nursery.cancel_scope.cancel()
    assert app.scopes[0]["client"][0] == "::1"
