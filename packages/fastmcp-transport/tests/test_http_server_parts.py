"""The pieces of the HTTP server on their own: header values, allow-lists, the event
store, the status table, content negotiation, the public surface."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import fastmcp_transport.http_server as http_server
from fastmcp_transport.http_server import (
    DnsRebindingProtection,
    InMemoryEventStore,
    decode_header_value,
    status_for_error,
)
from fastmcp_transport.http_server._http import HttpError, accepts, read_body


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("us-west1", "us-west1"),
        ("  padded\t", "padded"),
        ("=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, 世界"),
        ("=?base64?IHBhZGRlZCA=?=", " padded "),
        ("=?base64?bGluZTEKbGluZTI=?=", "line1\nline2"),
        ("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?="),
        ("SGVsbG8=", "SGVsbG8="),  # no markers: literal
        ("=?base64?SGVsbG8=", "=?base64?SGVsbG8="),  # no suffix: literal
        ("=?BASE64?SGVsbG8=?=", "=?BASE64?SGVsbG8=?="),  # markers are case-sensitive
    ],
)
def test_header_values_decode_as_the_spec_says(header: str, value: str) -> None:
    assert decode_header_value(header) == value


@pytest.mark.parametrize(
    "header",
    ["=?base64?SGVsbG8?=", "=?base64?SGVs!!!bG8=?=", "=?base64?/w==?=", "café", "a\x01b"],
)
def test_bad_header_values_are_refused(header: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any reason is a refusal
        decode_header_value(header)


def test_dns_rebinding_patterns() -> None:
    default = DnsRebindingProtection()
    assert default.local_only
    assert default.refusal({"host": "LOCALHOST:80"}) is None
    assert default.refusal({"host": "[::1]"}) is None
    assert default.refusal({}) is None  # no Host, no Origin: not a browser
    assert default.refusal({"host": "localhost.evil.com"}) is not None
    assert default.refusal({"host": "127.0.0.1", "origin": "http://localhost:1"}) is None
    assert default.refusal({"host": "127.0.0.1", "origin": "http://localhost.evil"}) is not None
    pinned = DnsRebindingProtection(allowed_hosts=["api.example.com:443"], allowed_origins=None)
    assert not pinned.local_only
    assert pinned.refusal({"host": "api.example.com:443", "origin": "http://x"}) is None
    assert pinned.refusal({"host": "api.example.com:8443"}) is not None
    assert pinned.refusal({"host": "api.example.com"}) is not None
    anything = DnsRebindingProtection(allowed_hosts=["*"], allowed_origins=["*"])
    assert anything.refusal({"host": "x", "origin": "y"}) is None


async def test_the_event_store_replays_after_an_id_and_names_the_stream() -> None:
    store = InMemoryEventStore()
    ids = [await store.append("s1", b"%d" % i) for i in range(5)]
    other = await store.append("s2", b"other")
    replay = await store.replay(ids[1])
    assert replay is not None
    assert replay.stream_id == "s1"
    assert [e.message for e in replay.events] == [b"2", b"3", b"4"]
    assert [e.id for e in replay.events] == ids[2:]
    replay = await store.replay(other)
    assert replay is not None
    assert replay.events == []
    assert await store.replay("s3.0") is None
    assert await store.replay("garbage") is None
    assert await store.replay("s1.99") is None
    await store.forget("s1")
    assert await store.replay(ids[0]) is None


async def test_the_event_store_is_bounded_and_refuses_replays_with_holes() -> None:
    store = InMemoryEventStore(max_events=4, max_bytes=1000)
    ids = [await store.append("a", b"x") for _ in range(6)]
    assert len(store._order) == 4
    assert await store.replay(ids[0]) is None  # event 1 was forgotten: a hole
    replay = await store.replay(ids[1])  # events 2.. are all there
    assert replay is not None
    assert len(replay.events) == 4
    await store.append("b", b"y" * 999)  # the byte bound evicts the oldest, any stream
    assert store._bytes <= 1000
    replay = await store.replay(ids[-1])
    assert replay is None or replay.events == []


async def test_a_body_that_trickles_or_stops_gets_408(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def trickle() -> dict[str, Any]:  # a byte every 20 s: never a 30 s pause
        await trio.sleep(20)
        return {"type": "http.request", "body": b"x", "more_body": True}

    with pytest.raises(HttpError) as caught:
        await read_body(trickle, 10**6, None)
    assert caught.value.status == 408
    assert trio.current_time() < 31  # 30 s, plus a byte's worth at 1 KiB/s

    async def stops() -> dict[str, Any]:
        await trio.sleep_forever()
        raise AssertionError

    started = trio.current_time()
    with pytest.raises(HttpError):
        await read_body(stops, 10**6, None, timeout=5)
    assert trio.current_time() - started == 5
    # a steady upload goes on (1 KiB a second, 60 s)
    chunks = 60

    async def steady() -> dict[str, Any]:
        nonlocal chunks
        await trio.sleep(1)
        chunks -= 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": chunks > 0}

    assert len(await read_body(steady, 10**6, None)) == 60 * 1024


async def test_one_session_flooding_the_event_store_keeps_another_s_answer() -> None:
    # (before: one FIFO over all streams; 65,536 events of one session pushed every
    # other session's resumable answer out)
    store = InMemoryEventStore()  # the defaults
    priming = await store.append("quiet-1", b"")
    await store.append("quiet-1", b'{"jsonrpc":"2.0","id":1,"result":{}}')
    for _ in range(70_000):
        await store.append("loud-1", b"x")
    big = b"y" * (1024 * 1024)
    for _ in range(300):  # 300 MiB offered, more than the whole store's bound
        await store.append("loud-2", big)
    replay = await store.replay(priming)
    assert replay is not None
    assert [e.message for e in replay.events] == [b'{"jsonrpc":"2.0","id":1,"result":{}}']
    # the loud session keeps its newest events, within its quota
    assert len(store._order) <= store.max_events_per_session + 2
    assert store._bytes <= store.max_bytes_per_session + 64


async def test_a_session_over_its_quota_forgets_its_own_oldest_events() -> None:
    store = InMemoryEventStore(max_events_per_session=3)
    ids = [await store.append("s-1", b"%d" % n) for n in range(5)]
    other = await store.append("t-1", b"t")
    assert await store.replay(ids[0]) is None  # a hole: refused
    replay = await store.replay(ids[1])
    assert replay is not None
    assert [e.message for e in replay.events] == [b"2", b"3", b"4"]
    assert await store.replay(other) is not None
    await store.forget("s-1")
    assert store._quotas.keys() == {"t"}


@pytest.mark.parametrize(
    ("code", "message", "status"),
    [
        (-32020, "Header mismatch", 400),
        (-32021, "Missing capability", 400),
        (-32022, "Unsupported protocol version", 400),
        (-32700, "Parse error", 400),
        (-32600, "Invalid request", 400),
        (-32601, "Method not found", 404),
        (-32602, "Invalid params: `$.params._meta` lacks required `x`", 400),
        (-32602, "Unknown tool: x", 200),
        (-32603, "Internal error", 200),
        (-32001, "Request timed out", 200),
    ],
)
def test_the_status_of_a_modern_error(code: int, message: str, status: int) -> None:
    assert status_for_error(code, message) == status


@pytest.mark.parametrize(
    ("accept", "media", "ok"),
    [
        (None, "application/json", True),
        ("application/json, text/event-stream", "text/event-stream", True),
        ("text/*", "text/event-stream", True),
        ("*/*;q=0.1", "application/json", True),
        ("APPLICATION/JSON", "application/json", True),
        ("text/event-stream;q=0", "text/event-stream", False),
        ("text/html", "application/json", False),
        ("", "application/json", False),
    ],
)
def test_accept_headers(accept: str | None, media: str, ok: bool) -> None:
    assert accepts(accept, media) is ok


def test_the_public_surface_is_what_all_says() -> None:
    for name in http_server.__all__:
        assert getattr(http_server, name) is not None
    public = {n for n in vars(http_server) if not n.startswith("_")}
    modules = {
        n for n in public if n.startswith("_") or type(vars(http_server)[n]).__name__ == "module"
    }
    assert public - modules == set(http_server.__all__)


async def test_the_store_event_store_keeps_each_stream_in_a_log_of_its_own() -> None:
    from fastmcp_core.store import MemoryStore
    from fastmcp_transport.http_server._shared import (
        END_OF_STREAM,
        StoreEventStore,
        new_stream_id,
        stream_session,
        stream_writer,
    )

    store = MemoryStore(log_limit=3)
    events = StoreEventStore(store)
    loud, quiet = new_stream_id("s1", "r1"), new_stream_id("s2", "r1")
    assert (stream_session(loud), stream_writer(loud)) == ("s1", "r1")
    async with store.running():
        kept = await events.append(quiet, b"kept")
        ids = [await events.append(loud, b"%d" % i) for i in range(5)]
        # one stream's chatter evicts its own events only, never another's
        assert kept == f"{quiet}.1"
        replay = await events.replay(f"{quiet}.0")  # priming: before the first event
        assert replay is not None
        assert [e.message for e in replay.events] == [b"kept"]
        assert await events.replay(ids[0]) is None  # a hole: refused
        await events.append(loud, END_OF_STREAM + b"last")  # the end rides on the last
        replay = await events.replay(ids[-1])
        assert replay is not None
        assert [e.message for e in replay.events] == [b"last"]
        assert await events.replay("no-tilde.1") is None
        await events.forget(loud)
        assert await events.replay(ids[-1]) is None


async def test_a_watch_entry_lets_go_of_its_response_once_the_response_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # the entry waits in the queue until its due time; the response it was for (and
    # with it the whole request) must not wait with it
    import gc
    import weakref

    from fastmcp_transport.http_server._watches import Watches

    class Response:
        helped = 0

        async def helper(self) -> None:
            Response.helped += 1
            await trio.sleep_forever()

    async def quick() -> str:
        return "answered"

    watches = Watches(after=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(watches.run)
        response = Response()
        gone = weakref.ref(response)
        assert await watches.during(response.helper, quick) == "answered"
        del response
        gc.collect()
        assert gone() is None  # long before its entry's due time
        lasting = Response()

        async def slow() -> str:
            await trio.sleep(15)
            return "late"

        assert await watches.during(lasting.helper, slow) == "late"
        assert Response.helped == 1  # the lasting response got its helper, once
        nursery.cancel_scope.cancel()
