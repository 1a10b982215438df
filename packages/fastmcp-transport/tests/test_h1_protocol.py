"""``H1Server`` speaks HTTP/1.1: keep-alive, pipelining, bodies in and out (Content-Length
and chunked), streaming flushed at once, HEAD, HTTP/1.0, ``Connection: close``,
``Expect: 100-continue``, upgrades ignored, and the ASGI scope it builds.

Every test talks to a real server on 127.0.0.1 over a raw socket and reads the
responses byte-exactly (``h1_support.RawClient``).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from h1_support import App, RawClient, get, post, read_body, running, start

from fastmcp_transport.http_server import H1Limits
from fastmcp_transport.http_server._h1 import H1Connection, Registry
from fastmcp_transport.http_server._h1_io import StreamIO


async def test_keep_alive_serves_requests_in_turn_on_one_connection() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        for i in range(3):
            body = b"x" * (i * 1000 + 1)
            await client.send(post("/echo", body))
            response = await client.response()
            assert response.status == 200
            assert response.body == body
            assert response.header("content-length") == str(len(body))
            assert response.header("connection") is None  # kept open
            assert response.header("date") is not None
        await client.send(get("/"))
        assert (await client.response()).body == b"ok"
    assert len(app.scopes) == 4


async def test_pipelined_requests_are_answered_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(
            post("/hold", b"first")
            + post("/echo", b"second")
            + b"GET /three HTTP/1.1\r\nHost: test\r\n\r\n"
            + post("/echo", b"fourth")
        )
        await app.arrived.wait()
        await trio.sleep(1)
        assert app.events == ["holding"]
        assert len(app.scopes) == 1  # the next ones wait for the first answer
        app.gate("hold").set()
        bodies = [(await client.response()).body for _ in range(4)]
    assert bodies == [b"released", b"second", b"ok", b"fourth"]
    assert [s["path"] for s in app.scopes] == ["/hold", "/echo", "/three", "/echo"]


async def test_a_request_split_across_many_writes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    request = post("/echo", b"0123456789" * 10, "X-Long: " + "v" * 300)
    async with running(app) as server, server.client() as client:
        for i in range(0, len(request), 7):
            await client.send(request[i : i + 7])
            await trio.lowlevel.checkpoint()
        response = await client.response()
    assert response.body == b"0123456789" * 10
    assert (b"x-long", b"v" * 300) in app.scopes[0]["headers"]


async def test_a_chunked_request_body_arrives_whole(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = App()
    head = b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
    async with running(app) as server, server.client() as client:
        await client.send(head + b"5\r\nhello\r\n")
        await trio.sleep(0.01)
        await client.send(b"1;ext=1\r\n \r\n6\r\nworld!\r\n")
        await client.send(b"0\r\nX-Trailer: t\r\n\r\n")
        response = await client.response()
        assert response.body == b"hello world!"
        await client.send(get("/after"))  # the framing is intact
        assert (await client.response()).body == b"ok"
    assert all(name != b"x-trailer" for name, _ in app.scopes[0]["headers"])


async def test_a_streamed_response_is_chunked_and_each_part_flushed_at_once() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(get("/stream?3"))
        status, _, headers = await client.head()
        assert status == 200
        assert ("transfer-encoding", "chunked") in headers
        assert not any(name == "content-length" for name, _ in headers)
        for i in range(3):
            app.gate(str(i)).set()
            # each event arrives before the app is allowed to write the next one
            assert await client.chunk() == b"data: %d\n\n" % i
        assert await client.chunk() == b""
        await client.send(get("/"))
        assert (await client.response()).body == b"ok"


async def test_a_whole_body_without_a_length_gets_one() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(post("/echo?nolength", b"abc"))
        response = await client.response()
    assert response.header("content-length") == "3"
    assert response.header("transfer-encoding") is None
    assert response.body == b"abc"


class CountingIO(StreamIO):
    """``StreamIO`` that remembers every write."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        super().__init__(stream)
        self.writes: list[bytes] = []

    async def send(self, data: bytes, timeout: float) -> bool:
        self.writes.append(data)
        return await super().send(data, timeout)


async def test_a_small_response_is_one_write_and_a_stream_one_per_part() -> None:
    app = App()
    app.gate("0").set()
    app.gate("1").set()
    ours, theirs = trio.testing.memory_stream_pair()
    io = CountingIO(ours)
    connection = H1Connection(
        io, app, H1Limits(), Registry(), scheme="http", client=None, server=None
    )
    client = RawClient(theirs)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.run)
        await client.send(post("/echo", b"payload"))
        assert (await client.response()).body == b"payload"
        assert len(io.writes) == 1
        assert io.writes[0].endswith(b"\r\n\r\npayload")
        await client.send(get("/stream?2"))
        assert (await client.response()).body == b"data: 0\n\ndata: 1\n\n"
        # the head (flushed by an empty part), each event, the last chunk
        head, *parts = io.writes[1:]
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert head.endswith(b"\r\n\r\n")
        assert b"transfer-encoding: chunked\r\n" in head
        assert parts == [b"9\r\ndata: 0\n\n\r\n", b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]
        await client.stream.aclose()


async def test_head_gets_the_headers_of_get_and_no_body() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n")
        response = await client.response(method="HEAD")
        assert response.status == 200
        assert response.header("content-length") == "2"  # what GET would carry
        await client.send(get("/"))  # no stray body bytes came before this answer
        assert (await client.response()).body == b"ok"


async def test_http_1_0_closes_unless_kept_alive_and_never_chunks() -> None:
    app = App()
    app.gate("0").set()
    async with running(app) as server:
        async with server.client() as client:
            await client.send(b"GET / HTTP/1.0\r\n\r\n")
            response = await client.response()
            assert response.body == b"ok"
            assert response.header("connection") == "close"
            assert await client.closed()
        async with server.client() as client:
            await client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = await client.response()
            assert response.header("connection") == "keep-alive"
            await client.send(b"GET /stream?1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = await client.response()  # delimited by the end of the connection
            assert response.header("transfer-encoding") is None
            assert response.header("connection") == "close"
            assert response.body == b"data: 0\n\n"


async def test_connection_close_from_either_side_closes_after_the_response() -> None:
    app = App()

    async def closing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await start(send, 200, [(b"Connection", b"close"), (b"content-length", b"3")])
        await send({"type": "http.response.body", "body": b"bye"})

    async with running(app) as server, server.client() as client:
        await client.send(get("/", "Connection: close") + get("/never"))
        response = await client.response()
        assert response.header("connection") == "close"
        assert await client.closed()
    assert [s["path"] for s in app.scopes] == ["/"]
    async with running(closing) as server, server.client() as client:
        await client.send(get("/"))
        response = await client.response()
        assert response.headers.count(("connection", "close")) == 1
        assert await client.closed()


async def test_expect_100_continue_is_answered_when_the_app_reads_the_body() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        head = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        await client.send(head)
        assert await client.until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue"
        await client.send(b"body")
        response = await client.response()
        assert response.body == b"body"
        # an app that answers without reading: no 100, and the body is not expected
        await client.send(head.replace(b"/echo", b"/"))
        response = await client.response()
        assert response.status == 200
        assert response.header("connection") == "close"
        assert await client.closed()


async def test_an_upgrade_request_is_served_as_plain_http() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 5\r\n\r\nhello"
            + get("/next")
        )
        first = await client.response()
        second = await client.response()
    assert first.status == 200
    assert first.body == b"hello"
    assert second.body == b"ok"


async def test_the_scope_says_what_came() -> None:
    app = App()
    async with running(app) as server, server.client() as client:
        await client.send(
            b"GET /caf%C3%A9/a%20b?x=1&y=%20 HTTP/1.1\r\nHost: test\r\nX-Mixed-Case: Value  \r\n"
            b"X-Twice: 1\r\nX-Twice: 2\r\n\r\n"
        )
        await client.response()
        await client.send(b"GET http://test/absolute?q HTTP/1.1\r\nHost: test\r\n\r\n")
        await client.response()
        port = client.stream.socket.getsockname()[1]
    scope, absolute = app.scopes
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/café/a b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%20b"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["root_path"] == ""
    assert scope["headers"] == [
        (b"host", b"test"),
        (b"x-mixed-case", b"Value"),
        (b"x-twice", b"1"),
        (b"x-twice", b"2"),
    ]
    assert scope["client"] == ("127.0.0.1", port)
    assert scope["server"] == ("127.0.0.1", server.port)
    assert (absolute["path"], absolute["query_string"]) == ("/absolute", b"q")


async def test_a_header_that_would_split_the_response_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def injecting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await start(send, 200, [(b"x-evil", b"a\r\nSet-Cookie: stolen=1")])
        await send({"type": "http.response.body", "body": b"x"})

    async with running(injecting) as server, server.client() as client:
        await client.send(get("/"))
        response = await client.response()
    assert response.status == 500
    assert not any("set-cookie" in name for name, _ in response.headers)
    assert "CR or LF" in caplog.text


async def test_a_body_longer_than_its_content_length_ends_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def lying(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await start(send, 200, [(b"content-length", b"3")])
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"cdef"})

    async with running(lying) as server, server.client() as client:
        await client.send(get("/") + get("/never"))
        status, _, _ = await client.head()
        assert status == 200
        assert await client.exactly(2) == b"ab"
        assert await client.closed()
    assert "does not match" in caplog.text


async def test_the_app_reads_a_large_body_in_parts() -> None:
    seen: list[int] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        total = 0
        while True:
            message = await receive()
            total += len(message["body"])
            seen.append(len(message["body"]))
            if not message["more_body"]:
                break
        await start(send, 200, [(b"content-length", b"%d" % len(str(total)))])
        await send({"type": "http.response.body", "body": str(total).encode()})

    body = b"z" * (3 * 1024 * 1024)
    async with (
        running(counting) as server,
        server.client() as client,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(client.send, post("/", body))
        response = await client.response()
    assert response.body == str(len(body)).encode()
    assert len(seen) > 1  # delivered as it came, not buffered whole
    assert sum(seen) == len(body)


async def test_receive_after_the_response_says_disconnect() -> None:
    messages: list[str] = []

    async def late(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        await start(send, 204, [])
        await send({"type": "http.response.body", "body": b""})
        messages.append((await receive())["type"])

    async with running(late) as server, server.client() as client:
        await client.send(get("/"))
        assert (await client.response()).status == 204
    assert messages == ["http.disconnect"]
