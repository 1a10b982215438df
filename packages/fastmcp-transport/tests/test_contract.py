"""The contract every transport keeps: order, concurrency, close semantics, big frames.

Each transport kind contributes a factory of connected (client end, server end)
pairs; every test runs against every kind. Byte-stream transports are tested over
real OS pipes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
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


PAIRS: dict[str, Callable[[], Any]] = {"memory": memory, "ndjson": ndjson_pipes}


@pytest.fixture(params=sorted(PAIRS))
def make_pair(request: pytest.FixtureRequest) -> Callable[[], Any]:
    return PAIRS[request.param]


async def test_frames_arrive_in_order_both_ways(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        for i in range(100):
            await a.send(b'{"n":%d}' % i)
        for i in range(100):
            assert await b.receive() == b'{"n":%d}' % i
        await b.send(b'{"back":1}', related=3, final=True)
        assert await a.receive() == b'{"back":1}'


async def test_concurrent_senders_never_interleave(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        frames = {b'{"task":%d,"pad":"%s"}' % (i, b"x" * (1000 * i)) for i in range(50)}
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
        big = b'{"data":"' + b"y" * (10 * 1024 * 1024) + b'"}'
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.send, big)
            assert await b.receive() == big


async def test_closing_one_end_ends_the_other_after_its_frames(
    make_pair: Callable[[], Any],
) -> None:
    async with make_pair() as (a, b):
        await a.send(b'{"last":true}')
        await a.aclose()
        assert await b.receive() == b'{"last":true}'
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
        await a.send(b'{"after":1}')
        assert await b.receive() == b'{"after":1}'


async def test_frames_are_delivered_as_they_are_even_when_not_json(
    make_pair: Callable[[], Any],
) -> None:
    """Transports move frames; judging them is the session engine's job."""
    async with make_pair() as (a, b):
        await a.send(b"not json at all")
        assert await b.receive() == b"not json at all"
