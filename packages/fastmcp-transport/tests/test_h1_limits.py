"""``H1Server``'s limits and timeouts, each answered as documented (``H1Limits``):
malformed requests (400), heads too large (431), bodies too large (413), other
HTTP versions (505), slow heads and bodies (408), idle keep-alive connections,
clients that do not read, and the connection limit.

Time is trio's mock clock (autojump): the tests never sleep for real, and the
sockets are real ones on 127.0.0.1.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing
from h1_support import App, RawClient, get, post, running

from fastmcp_transport.http_server import H1Limits

BAD_REQUESTS = {
    "not HTTP": b"HELLO\r\n\r\n",
    "a bad method": b"G@T / HTTP/1.1\r\nHost: test\r\n\r\n",
    "a space in a field name": b"GET / HTTP/1.1\r\nHost: test\r\nBad Name: x\r\n\r\n",
    "a NUL in a value": b"GET / HTTP/1.1\r\nHost: test\r\nX: a\x00b\r\n\r\n",
    "bare LF line ends": b"GET / HTTP/1.1\nHost: test\n\n",
    "no Host": b"GET / HTTP/1.1\r\n\r\n",
    "two Hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "Content-Length twice": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    "Content-Length and chunked": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    ),
    "a coding other than chunked": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    "a bad chunk size": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "a non-ASCII target": b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: test\r\n\r\n",
    "a target of no form": b"GET nowhere HTTP/1.1\r\nHost: test\r\n\r\n",
    "an invalid percent-encoding": b"GET /%C3%28 HTTP/1.1\r\nHost: test\r\n\r\n",
}


async def trickle(client: RawClient, data: bytes, every: float, times: int = 1000) -> None:
    """Send ``data`` every ``every`` seconds until the server hangs up."""
    try:
        for _ in range(times):
            await client.send(data)
            await trio.sleep(every)
    except trio.BrokenResourceError:
        pass


@pytest.mark.parametrize("request_bytes", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_a_malformed_request_gets_400_and_the_connection_closes(
    request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(request_bytes)
        response = await client.response()
        assert response.status == 400
        assert response.header("connection") == "close"
        assert response.body.startswith(b"Bad Request")
        assert await client.closed()
        async with server.client() as other:  # the server goes on
            await other.send(get("/"))
            assert (await other.response()).status == 200
    assert [s["path"] for s in app.scopes] == ["/"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_requests_before_a_malformed_one_are_answered_first() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(get("/one") + post("/echo", b"two") + b"BROKEN\r\n\r\n" + get("/never"))
        assert (await client.response()).body == b"ok"
        assert (await client.response()).body == b"two"
        assert (await client.response()).status == 400
        assert await client.closed()
    assert [s["path"] for s in app.scopes] == ["/one", "/echo"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            501,
        ),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),  # HTTP/2 with prior knowledge
    ],
    ids=["CONNECT", "an upgrade with a chunked body", "the HTTP/2 preface"],
)
async def test_what_the_server_does_not_offer_is_refused(request_bytes: bytes, status: int) -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(request_bytes)
        assert (await client.response()).status == status
        assert await client.closed()
    assert app.scopes == []


async def test_an_http_version_other_than_1_x_gets_505() -> None:
    async with running(App()) as server, server.client() as client:
        await client.send(b"GET / HTTP/2.0\r\nHost: test\r\n\r\n")
        assert (await client.response()).status == 505
        assert await client.closed()


async def test_a_head_over_the_limit_gets_431() -> None:
    app = App()
    limits = H1Limits(max_head_size=2048)
    async with running(app, limits=limits) as server:
        async with server.client() as client:
            await client.send(get("/", "X-Big: " + "b" * 1500))  # within
            assert (await client.response()).status == 200
            await client.send(get("/", "X-Big: " + "b" * 2100))
            response = await client.response()
            assert response.status == 431
            assert await client.closed()
        async with server.client() as client, trio.open_nursery() as nursery:
            # a field that never ends: refused without waiting for its end
            await client.send(b"GET / HTTP/1.1\r\nHost: test\r\nX-Endless: ")
            nursery.start_soon(trickle, client, b"e" * 8192, 0)
            response = await client.response()
            assert response.status == 431
            nursery.cancel_scope.cancel()
    assert len(app.scopes) == 1


async def test_too_many_header_fields_get_431() -> None:
    limits = H1Limits(max_headers=10)
    async with running(App(), limits=limits) as server, server.client() as client:
        await client.send(get("/", *(f"X-{i}: {i}" for i in range(9))))  # 10 with Host
        assert (await client.response()).status == 200
        await client.send(get("/", *(f"X-{i}: {i}" for i in range(10))))
        assert (await client.response()).status == 431
        assert await client.closed()


async def test_a_declared_body_over_the_limit_gets_413_before_the_app_runs() -> None:
    app = App()
    limits = H1Limits(max_body_size=1000)
    async with running(app, limits=limits) as server, server.client() as client:
        await client.send(post("/echo", b"x" * 1000))
        assert (await client.response()).status == 200
        # with Expect: 100-continue the client is told before it sends a byte
        await client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        response = await client.response()
        assert response.status == 413
        assert await client.closed()
    assert len(app.scopes) == 1


async def test_a_chunked_body_over_the_limit_is_cut_off_with_413() -> None:
    app = App()
    limits = H1Limits(max_body_size=1000)
    head = b"POST /wait HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    async with running(app, limits=limits) as server, server.client() as client:
        await client.send(head + b"200\r\n" + b"y" * 512 + b"\r\n")
        await app.arrived.wait()
        await client.send(b"200\r\n" + b"y" * 512 + b"\r\n")
        response = await client.response()
        assert response.status == 413
        assert await client.closed()
    assert app.disconnects == ["http.disconnect"]  # the app heard the body fail


async def test_a_slow_head_gets_408(autojump_clock: trio.testing.MockClock) -> None:
    limits = H1Limits(header_timeout=10)
    async with running(App(), limits=limits) as server:
        async with server.client() as client:  # slow but within the time: fine
            for part in (b"GET / HT", b"TP/1.1\r\nHost:", b" test\r\n\r\n"):
                await client.send(part)
                await trio.sleep(3)
            assert (await client.response()).status == 200
        async with server.client() as client, trio.open_nursery() as nursery:
            started = trio.current_time()
            await client.send(b"GET / HTTP/1.1\r\n")
            nursery.start_soon(trickle, client, b"X", 3)  # a byte every 3 s: a slowloris
            response = await client.response()
            assert response.status == 408
            assert trio.current_time() - started == pytest.approx(10, abs=0.1)
            assert await client.closed()


async def test_a_silent_new_connection_is_closed_after_the_header_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limits = H1Limits(header_timeout=10)
    async with running(App(), limits=limits) as server, server.client() as client:
        started = trio.current_time()
        assert await client.closed()  # nothing to say: no 408
        assert trio.current_time() - started == pytest.approx(10, abs=0.1)


async def test_a_body_that_stalls_gets_408_and_the_app_hears_of_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    limits = H1Limits(body_timeout=30)
    async with running(app, limits=limits) as server, server.client() as client:
        await client.send(b"POST /wait HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n12345")
        started = trio.current_time()
        response = await client.response()
        assert response.status == 408
        assert trio.current_time() - started == pytest.approx(30, abs=0.1)
        assert await client.closed()
    assert app.disconnects == ["http.disconnect"]


async def test_a_slow_upload_goes_on_while_it_keeps_the_minimum_rate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    limits = H1Limits(body_timeout=30, min_rate=1000)
    size = 120_000  # two minutes at 1000 bytes a second: four body timeouts long
    async with running(app, limits=limits) as server, server.client() as client:
        await client.send(post("/echo", b"")[:-2].replace(b"Length: 0", b"Length: %d" % size))
        await client.send(b"\r\n")
        for _ in range(size // 1000):
            await trio.sleep(1)
            await client.send(b"u" * 1000)
        response = await client.response()
        assert response.status == 200
        assert len(response.body) == size


async def test_a_trickling_upload_is_closed_once_below_the_minimum_rate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    limits = H1Limits(body_timeout=30, min_rate=1000)
    async with (
        running(app, limits=limits) as server,
        server.client() as client,
        trio.open_nursery() as nursery,
    ):
        await client.send(b"POST /wait HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        started = trio.current_time()
        # 100 bytes every 20 s: never silent for 30 s, yet far too slow
        nursery.start_soon(trickle, client, b"t" * 100, 20)
        response = await client.response()
        assert response.status == 408
        # the allowance: body_timeout plus what arrived at min_rate: at 20 s, with 200
        # bytes in, the body has until 30 + 0.2 s (the next 100 bytes come at 40 s)
        assert trio.current_time() - started == pytest.approx(30.2, abs=0.01)
    assert app.disconnects == ["http.disconnect"]


async def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limits = H1Limits(keepalive_timeout=5)
    async with running(App(), limits=limits) as server, server.client() as client:
        for _ in range(3):
            await client.send(get("/"))
            assert (await client.response()).status == 200
            await trio.sleep(4)  # within the timeout: still open
        started = trio.current_time()
        assert await client.closed()
        assert trio.current_time() - started == pytest.approx(1, abs=0.1)


async def test_a_client_that_does_not_read_is_let_go(
    autojump_clock: trio.testing.MockClock,
) -> None:
    errors: list[BaseException] = []
    failed = trio.Event()
    body = b"r" * (16 * 1024 * 1024)

    async def big(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
        except OSError as error:
            errors.append(error)
            failed.set()

    limits = H1Limits(send_timeout=10, min_rate=1024 * 1024)
    async with running(big, limits=limits) as server, server.client() as client:
        await client.send(get("/"))
        started = trio.current_time()
        await failed.wait()
        # the allowance: send_timeout plus the size at min_rate
        assert trio.current_time() - started == pytest.approx(10 + 16, abs=1.1)
    assert len(errors) == 1


async def test_beyond_max_connections_the_oldest_idle_one_makes_room() -> None:
    app = App()
    limits = H1Limits(max_connections=2)
    async with (
        running(app, limits=limits) as server,
        server.client() as old,
        server.client() as newer,
    ):
        for client in (old, newer):
            await client.send(get("/"))
            assert (await client.response()).status == 200
        async with server.client() as third:
            await third.send(get("/third"))
            assert (await third.response()).status == 200
            assert await old.closed()  # idle longest: closed to make room
        await newer.send(get("/"))
        assert (await newer.response()).status == 200
    assert server.server.connection_count == 0


async def test_beyond_max_connections_with_none_idle_the_next_one_waits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    limits = H1Limits(max_connections=1)
    async with (
        running(app, limits=limits) as server,
        server.client() as busy,
        server.client() as waiting,
    ):
        await busy.send(post("/hold", b""))
        await app.arrived.wait()
        await waiting.send(get("/second"))
        await trio.sleep(60)
        assert [s["path"] for s in app.scopes] == ["/hold"]  # not accepted yet
        app.gate("hold").set()
        assert (await busy.response()).body == b"released"
        await busy.aclose()
        assert (await waiting.response()).status == 200
    assert [s["path"] for s in app.scopes] == ["/hold", "/second"]


@pytest.mark.parametrize(("app_timeout", "answered_after"), [(60.0, 30.0), (5.0, 5.0)])
async def test_a_stalled_mcp_body_is_timed_once_by_the_stricter_of_server_and_app(
    autojump_clock: trio.testing.MockClock, app_timeout: float, answered_after: float
) -> None:
    # the server says in the scope that it holds bodies to its limits: the app sets
    # no timer of its own unless its own limit is stricter; either way 408, once
    from http_server_support import Recorder, make_connect

    from fastmcp_transport.http_server import StreamableHTTPApp

    app = StreamableHTTPApp(make_connect(Recorder()), body_timeout=app_timeout)
    head = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{"
    )
    async with (
        app.running(),
        running(app, limits=H1Limits(body_timeout=30)) as server,
        server.client() as client,
    ):
        await client.send(head)
        started = trio.current_time()
        response = await client.response()
        assert response.status == 408
        assert trio.current_time() - started == pytest.approx(answered_after, abs=0.1)


def test_the_app_times_a_body_only_where_the_server_in_front_does_not() -> None:
    from fastmcp_transport.http_server._http import BODY_LIMITS, read_head

    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    assert read_head(scope).body_timeout(30.0) == 30.0  # hypercorn, uvicorn: no word
    scope["extensions"] = {BODY_LIMITS: (30.0, 1024.0)}
    head = read_head(scope)
    assert head.body_timeout(30.0) is None  # as strict: the server's timer alone
    assert head.body_timeout(60.0) is None
    assert head.body_timeout(10.0) == 10.0  # the app is stricter: its own timer
    assert head.body_timeout(30.0, min_rate=4096.0) == 30.0
    assert head.body_timeout(None) is None
