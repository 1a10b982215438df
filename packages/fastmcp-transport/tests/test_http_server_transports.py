"""The transports the HTTP server hands to connection handlers, on their own.

The contract every transport keeps (order, whole frames under concurrency, close
semantics) and what is particular to HTTP: routing by ``related``, ``final``, and
cancellation when the client goes away.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec
import pytest
import trio
from http_server_support import body

from fastmcp_core import TransportClosed
from fastmcp_protocol import encode_notification, encode_result
from fastmcp_transport import SSEParser
from fastmcp_transport.http_server import InMemoryEventStore, RequestTransport, SessionTransport
from fastmcp_transport.http_server._http import Responder
from fastmcp_transport.http_server._sse_writer import SSEConnection


async def _drain(outbox: trio.MemoryReceiveChannel[Any], into: list[Any]) -> None:
    async for item in outbox:
        into.append(item)


async def test_a_request_transport_yields_its_frames_then_ends_after_the_answer() -> None:
    request = body(1, "tools/call", {"name": "x"})
    transport, outbox = RequestTransport.open([request], [1])
    sent: list[Any] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_drain, outbox, sent)
        assert await transport.receive() == request
        frames = [encode_notification("notifications/progress", {"n": i}) for i in range(50)]
        async with trio.open_nursery() as senders:
            for frame in frames:
                senders.start_soon(transport.send, frame)
        # our own request's end (an outgoing cancel) is not the answer
        cancel = encode_notification("notifications/cancelled", {"requestId": 1})
        await transport.send(cancel, related=1, final=True)
        await transport.send(encode_result(1, {}), related=1, final=True)
        with pytest.raises(TransportClosed):
            await transport.receive()
    assert sorted(item.frame for item in sent[:51]) == sorted([*frames, cancel])
    assert [item.final for item in sent] == [False] * 51 + [True]
    with pytest.raises(TransportClosed):
        await transport.send(b'{"late":1}')


async def test_a_client_that_leaves_cancels_every_unanswered_request() -> None:
    transport, outbox = RequestTransport.open([b"a", b"b"], ["x", 2])
    assert await transport.receive() == b"a"
    assert await transport.receive() == b"b"
    transport.client_disconnected()
    outbox.close()
    cancels = [msgspec.json.decode(await transport.receive()) for _ in range(2)]
    assert {c["params"]["requestId"] for c in cancels} == {"x", 2}
    assert {c["method"] for c in cancels} == {"notifications/cancelled"}
    with pytest.raises(TransportClosed):
        await transport.send(b'{"progress":1}', related=2)
    await transport.send(b"", related=2, final=True)  # a cancelled request's end is fine
    await transport.send(b"", related="x", final=True)
    with pytest.raises(TransportClosed):
        await transport.receive()


async def test_closing_a_request_transport_is_idempotent_and_ends_both_directions() -> None:
    transport, _ = RequestTransport.open([b"a"], [1])
    await transport.aclose()
    await transport.aclose()
    with pytest.raises(TransportClosed):
        await transport.receive()
    with pytest.raises(TransportClosed):
        await transport.send(b"x", related=1, final=True)


class _Sink:
    """An ASGI send that keeps the body."""

    def __init__(self) -> None:
        self.body = b""
        self.ended = trio.Event()

    async def __call__(self, message: Any) -> None:
        if message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                self.ended.set()


async def test_a_session_routes_by_related_and_keeps_concurrent_events_whole() -> None:
    session = SessionTransport("s", InMemoryEventStore())
    stream = session.open_stream([7], json=False)
    post, get = _Sink(), _Sink()
    post_connection = SSEConnection(Responder(post), keepalive=None)
    get_connection = SSEConnection(Responder(get), keepalive=None)
    await session.carry(stream, post_connection)
    await session.carry(session.standalone, get_connection)
    frames = [b'{"n":%d,"pad":"%s"}' % (i, b"x" * (1000 * i)) for i in range(40)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(post_connection.pump)
        nursery.start_soon(get_connection.pump)
        async with trio.open_nursery() as senders:
            for frame in frames:
                senders.start_soon(partial(session.send, frame, related=7))
        await session.send(b'{"unrelated":1}')
        await session.send(b'{"unknown request":1}', related=99)
        await session.send(encode_result(7, {}), related=7, final=True)
        await post.ended.wait()
        get_connection.end()
    post_events = SSEParser().feed(post.body)
    assert sorted(e.data.encode() for e in post_events[:-1]) == sorted(frames)
    assert msgspec.json.decode(post_events[-1].data)["id"] == 7
    ids = [e.id for e in post_events]
    assert len(set(ids)) == len(ids)
    get_data = [e.data for e in SSEParser().feed(get.body)]
    assert get_data == ['{"unrelated":1}', '{"unknown request":1}']


async def test_a_session_delivers_posted_frames_in_order_and_closes() -> None:
    session = SessionTransport("s")
    for i in range(10):
        await session.deliver(b"%d" % i)
    assert [await session.receive() for _ in range(10)] == [b"%d" % i for i in range(10)]
    session._close("gone")
    with pytest.raises(TransportClosed, match="gone"):
        await session.receive()
    with pytest.raises(TransportClosed):
        await session.send(b"{}")
    await session.aclose()
