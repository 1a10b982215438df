"""``H1Connection`` against arbitrary bytes: whatever a client sends, the connection
answers with well-formed responses or closes, ends by itself once the client has,
and never logs an error (an error log would mean a bug of ours: the apps here do
not fail).

Runs on an in-memory stream pair (no sockets: thousands of examples are cheap).
"""

from __future__ import annotations

import logging

import hypothesis.strategies as st
import trio
import trio.testing
from h1_support import App, get, post
from hypothesis import HealthCheck, given, settings

from fastmcp_transport.http_server import H1Limits
from fastmcp_transport.http_server._h1 import H1Connection, Registry
from fastmcp_transport.http_server._h1_io import StreamIO

VALID = [
    get("/"),
    post("/echo", b"hello"),
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /stream?1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Valid requests, pipelined, with bytes replaced, inserted and deleted."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=3))))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from([0, 9, 10, 13, 32, 58, 0x7F, 0xC3, *b"0aZ;%/?"]))
        if kind == "insert":
            data.insert(at, byte)
        elif at < len(data):
            if kind == "replace":
                data[at] = byte
            else:
                del data[at]
    return bytes(data)


class _OpenApp(App):
    """The test app with every gate open: a mutated query (``/stream?10``) never waits
    for a gate nobody opens."""

    def gate(self, name: str) -> trio.Event:
        event = super().gate(name)
        event.set()
        return event


async def exchange(data: bytes, cut: int) -> bytes:
    """Send ``data`` in two parts, close the client side; what the server said."""
    app = _OpenApp()
    ours, theirs = trio.testing.memory_stream_pair()
    limits = H1Limits(max_head_size=512, max_headers=20, max_body_size=64)
    connection = H1Connection(
        StreamIO(ours), app, limits, Registry(), scheme="http", client=None, server=None
    )
    received = bytearray()

    async def read() -> None:
        while data := await theirs.receive_some(65536):
            received.extend(data)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.run)
            nursery.start_soon(read)
            try:
                await theirs.send_all(data[:cut])
                await trio.sleep(0.5)
                await theirs.send_all(data[cut:])
                await theirs.send_eof()
            except trio.BrokenResourceError:
                pass  # the server hung up first: fine
    return bytes(received)


def well_formed(answer: bytes) -> bool:
    """Whether ``answer`` is a run of status lines and heads (bodies not checked)."""
    return answer == b"" or answer.startswith(b"HTTP/1.1 ")


class Collected(logging.Handler):
    """The records of one example (caplog is per test, not per example)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(), cut=st.integers(0, 400))
def test_arbitrary_bytes_get_answers_or_a_close_and_no_error(data: bytes, cut: int) -> None:
    logger = logging.getLogger("fastmcp.http")
    collected = Collected()
    logger.addHandler(collected)
    try:
        clock = trio.testing.MockClock(autojump_threshold=0)
        answer = trio.run(exchange, data, cut, clock=clock)
    finally:
        logger.removeHandler(collected)
    assert well_formed(answer), answer[:200]
    assert collected.records == [], [r.getMessage() for r in collected.records]
