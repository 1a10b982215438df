"""The contract every transport keeps: order, concurrency, close semantics, big frames.

Each transport kind contributes a factory of connected (client end, server end)
pairs; every test runs against every kind: in memory, newline-delimited JSON over real
OS pipes (what stdio does), and a legacy Streamable HTTP session over a real socket
(the client's notifications are POSTs, the server's travel on the session's GET
stream), served by hypercorn (``http``) and by our own HTTP/1.1 server (``http-h1``). Frames are JSON-RPC notifications, the one kind of message both sides of
every transport may send at any time.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
from transport_support import send_until_refused

from fastmcp_core import Transport, TransportClosed
from fastmcp_transport import StdioServerTransport, memory_pair

Pair = tuple[Transport, Transport]


@asynccontextmanager
async def memory() -> AsyncIterator[Pair]:
    a, b = memory_pair()
    yield a, b


@asynccontextmanager
async def ndjson_pipes() -> AsyncIterator[Pair]:
    """Two newline-delimited JSON ends over two OS pipes (what stdio does)."""
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    a = StdioServerTransport(trio.lowlevel.FdStream(r1), trio.lowlevel.FdStream(w2))
    b = StdioServerTransport(trio.lowlevel.FdStream(r2), trio.lowlevel.FdStream(w1))
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


@asynccontextmanager
async def http_session(server: str = "hypercorn") -> AsyncIterator[Pair]:
    """A legacy Streamable HTTP session: our client transport against our server app,
    served by ``serve_http`` (hypercorn) or ``serve_h1``."""
    from fastmcp_transport.http_client import streamable_http_client
    from fastmcp_transport.http_server import StreamableHTTPApp, serve_h1, serve_http

    serve = serve_h1 if server == "h1" else serve_http

    opened: trio.MemorySendChannel[Transport]
    opened, accepted = trio.open_memory_channel[Transport](1)
    finished = trio.Event()

    async def connect(transport: Transport, info: Any) -> None:
        await opened.send(transport)
        await finished.wait()

    async with trio.open_nursery() as nursery:
        address = await nursery.start(partial(serve, StreamableHTTPApp(connect), port=0))
        async with streamable_http_client(address.url, era="legacy") as client:
            initialize = (
                b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":'
                b'"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
            )
            await client.send(initialize)
            server = await accepted.receive()
            assert await server.receive() == initialize
            await server.send(
                b'{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25",'
                b'"capabilities":{},"serverInfo":{"name":"s","version":"1"}}}',
                related=1,
                final=True,
            )
            await client.receive()
            await client.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
            await server.receive()
            try:
                yield client, server
            finally:
                finished.set()
        nursery.cancel_scope.cancel()


def note(body: bytes) -> bytes:
    """A JSON-RPC notification carrying ``body`` as its params."""
    return b'{"jsonrpc":"2.0","method":"test","params":' + body + b"}"


PAIRS: dict[str, Callable[[], Any]] = {
    "memory": memory,
    "ndjson": ndjson_pipes,
    "http": http_session,
    "http-h1": partial(http_session, "h1"),
}
BYTE_STREAMS = {"memory", "ndjson"}


@pytest.fixture(params=sorted(PAIRS))
def make_pair(request: pytest.FixtureRequest) -> Callable[[], Any]:
    return PAIRS[request.param]


@pytest.fixture(params=sorted(BYTE_STREAMS))
def make_stream_pair(request: pytest.FixtureRequest) -> Callable[[], Any]:
    return PAIRS[request.param]


async def test_frames_arrive_in_order_both_ways(make_pair: Callable[[], Any]) -> None:
    async def send_all(end: Transport, label: bytes, count: int) -> None:
        for i in range(count):
            await end.send(note(b'{"%s":%d}' % (label, i)))

    async with make_pair() as (a, b):
        async with trio.open_nursery() as nursery:  # sending may wait for the reader
            nursery.start_soon(send_all, a, b"n", 100)
            for i in range(100):
                assert await b.receive() == note(b'{"n":%d}' % i)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_all, b, b"back", 20)
            for i in range(20):
                assert await a.receive() == note(b'{"back":%d}' % i)


async def test_concurrent_senders_never_interleave(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        frames = {note(b'{"task":%d,"pad":"%s"}' % (i, b"x" * (1000 * i))) for i in range(50)}
        received: set[bytes] = set()

        async def reader() -> None:
            for _ in range(len(frames)):
                received.add(await b.receive())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            for frame in frames:
                nursery.start_soon(a.send, frame)
        assert received == frames


async def test_a_ten_mebibyte_message(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        big = note(b'{"data":"' + b"y" * (10 * 1024 * 1024) + b'"}')
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.send, big)
            assert await b.receive() == big


async def test_closing_one_end_ends_the_other_after_its_frames(
    make_pair: Callable[[], Any],
) -> None:
    async with make_pair() as (a, b):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.send, note(b'{"last":true}'))
            assert await b.receive() == note(b'{"last":true}')
        await a.aclose()
        with pytest.raises(TransportClosed):
            await b.receive()
        await a.aclose()  # idempotent


async def test_send_to_a_closed_peer_raises_transport_closed(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        await b.aclose()
        with pytest.raises(TransportClosed):
            await send_until_refused(a)


async def test_empty_final_frame_writes_nothing(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        await a.send(b"", related=1, final=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.send, note(b'{"after":1}'))
            assert await b.receive() == note(b'{"after":1}')


async def test_frames_are_delivered_as_they_are_even_when_not_json(
    make_stream_pair: Callable[[], Any],
) -> None:
    """Byte-stream transports move frames; judging them is the session engine's job.
    (The HTTP server refuses a body that is not JSON itself: see its own tests.)"""
    async with make_stream_pair() as (a, b):
        await a.send(b"not json at all")
        assert await b.receive() == b"not json at all"
