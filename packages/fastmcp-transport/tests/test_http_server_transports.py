"""The transports the HTTP server hands to connection handlers, on their own.

The contract every transport keeps (order, whole frames under concurrency, close
semantics) and what is particular to HTTP: routing by ``related``, ``final``, and
cancellation when the client goes away.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import attrs
import msgspec
import pytest
import trio
from http_server_support import body

from fastmcp_core import TransportClosed
from fastmcp_protocol import decode_message, encode_notification, encode_result
from fastmcp_transport import SSEParser
from fastmcp_transport.http_server import InMemoryEventStore, RequestTransport, SessionTransport
from fastmcp_transport.http_server._http import Responder
from fastmcp_transport.http_server._oneshot import Answer, AnswerMode
from fastmcp_transport.http_server._sse_writer import SSEConnection


def _one_shot(
    frames: list[bytes], ids: list[Any], sink: Any = None, mode: AnswerMode = AnswerMode.AUTO
) -> RequestTransport:
    """The transport of a POST carrying ``frames``, answering into ``sink``."""
    messages = [decode_message(frame) for frame in frames]
    answer = Answer(Responder(sink or _Sink()), ids, mode, lambda error: 200, keepalive=None)
    return RequestTransport(frames, messages, ids, answer)  # type: ignore[arg-type]


@attrs.define
class _Inbound:
    """What a transport tells its engine."""

    gone: list[tuple[Any, str | None]] = attrs.field(factory=list)

    async def deliver(self, message: Any) -> None:
        raise AssertionError

    async def serve(self, request: Any) -> None:
        raise AssertionError

    def peer_gone(self, request_id: Any, reason: str | None = None) -> None:
        self.gone.append((request_id, reason))


async def test_a_request_transport_yields_its_frames_then_ends_after_the_answer() -> None:
    request = body(1, "tools/call", {"name": "x"})
    sink = _Sink()
    transport = _one_shot([request], [1], sink)
    assert await transport.receive_message() == decode_message(request)
    frames = [encode_notification("notifications/progress", {"n": i}) for i in range(50)]
    async with trio.open_nursery() as senders:
        for frame in frames:
            senders.start_soon(transport.send, frame)
    # our own request's end (an outgoing cancel) is not the answer
    cancel = encode_notification("notifications/cancelled", {"requestId": 1})
    await transport.send(cancel, related=1, final=True)
    assert not sink.ended.is_set()
    await transport.send(encode_result(1, {}), related=1, final=True)
    assert sink.ended.is_set()
    with pytest.raises(TransportClosed):
        await transport.receive()
    events = [e.data.encode() for e in SSEParser().feed(sink.body)]
    assert sorted(events[:51]) == sorted([*frames, cancel])
    assert msgspec.json.decode(events[51]) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    with pytest.raises(TransportClosed):
        await transport.send(b'{"late":1}')


async def test_a_client_that_leaves_cancels_every_unanswered_request() -> None:
    transport = _one_shot([body("x", "ping"), body(2, "ping")], ["x", 2])
    inbound = _Inbound()
    transport.attach(inbound)
    transport.client_disconnected()
    transport.client_disconnected()  # once only
    reason = "the client closed the response stream"
    assert len(inbound.gone) == 2
    assert set(inbound.gone) == {(2, reason), ("x", reason)}
    with pytest.raises(TransportClosed):
        await transport.send(b'{"progress":1}', related=2)
    await transport.send(b"", related=2, final=True)  # a cancelled request's end is fine
    await transport.send(b"", related="x", final=True)
    assert await transport.receive() == body("x", "ping")  # what the POST carried
    assert await transport.receive() == body(2, "ping")
    with pytest.raises(TransportClosed):
        await transport.receive()


async def test_a_client_that_leaves_a_handler_without_engine_closes_its_transport() -> None:
    transport = _one_shot([body(1, "ping")], [1])
    transport.client_disconnected()
    with pytest.raises(TransportClosed):
        await transport.receive()
    with pytest.raises(TransportClosed):
        await transport.send(encode_result(1, {}), related=1, final=True)


async def test_closing_a_request_transport_is_idempotent_and_ends_both_directions() -> None:
    transport = _one_shot([body(1, "ping")], [1])
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
