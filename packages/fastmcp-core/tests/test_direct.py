"""The engine at a direct transport's boundary, and one-shot exchanges.

A ``DirectTransport`` hands the engine messages it decoded itself (pushed with
``deliver`` or pulled with ``receive_message``), says when the peer of one request is
gone (``peer_gone``), and is told what every frame it sends is (``Outgoing``).
``Exchanges`` serves a request in its caller's task, answered through a ``Reply``.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import attrs
import msgspec
import pytest
import trio
import trio.testing
from core_support import TableDispatcher, text

from fastmcp_core import (
    CancelReason,
    ConnectionClosed,
    DirectTransport,
    Exchanges,
    Inbound,
    IncomingMessage,
    McpContext,
    Outgoing,
    Session,
    TransportClosed,
)
from fastmcp_protocol import (
    CallToolResult,
    JSONRPCNotification,
    JSONRPCRequest,
    McpError,
    Result,
    decode_message,
    encode_notification,
)


def call(rid: Any, name: str = "x", **meta: Any) -> JSONRPCRequest:
    params = {"name": name, "_meta": meta} if meta else {"name": name}
    return JSONRPCRequest(
        id=rid, method="tools/call", params=msgspec.Raw(msgspec.json.encode(params))
    )


@attrs.define(eq=False)
class Direct:
    """A direct transport: messages in through ``deliver`` (or ``queued``/``push``,
    pulled), every frame out recorded with its description; it counts the tasks
    pulling at once (``most_receiving``)."""

    queued: list[bytes | IncomingMessage] = attrs.field(factory=list)
    sent: list[tuple[bytes, Outgoing]] = attrs.field(factory=list)
    inbound: Inbound | None = None
    attached: trio.Event = attrs.field(factory=trio.Event)
    closed: trio.Event = attrs.field(factory=trio.Event)
    changed: trio.Event = attrs.field(factory=trio.Event)
    arrived: trio.Event = attrs.field(factory=trio.Event)
    receiving: int = 0
    most_receiving: int = 0

    def attach(self, inbound: Inbound | None) -> None:
        self.inbound = inbound
        if inbound is not None:
            self.attached.set()

    def push(self, message: bytes | IncomingMessage) -> None:
        """A message for ``receive_message`` (one that came before an engine took
        messages in its own task)."""
        self.queued.append(message)
        self.arrived.set()
        self.arrived = trio.Event()

    async def receive_message(self) -> bytes | IncomingMessage:
        self.receiving += 1
        self.most_receiving = max(self.most_receiving, self.receiving)
        try:
            while not self.queued:
                if self.closed.is_set():
                    raise TransportClosed("closed")
                arrived = self.arrived
                async with trio.open_nursery() as nursery:  # whichever comes first

                    async def until(event: trio.Event) -> None:
                        await event.wait()
                        nursery.cancel_scope.cancel()

                    nursery.start_soon(until, arrived)
                    nursery.start_soon(until, self.closed)
            return self.queued.pop(0)
        finally:
            self.receiving -= 1

    async def receive(self) -> bytes:
        raise AssertionError("an attached engine pulls with receive_message")

    async def send_described(self, frame: bytes, about: Outgoing) -> None:
        self.sent.append((frame, about))
        self.changed.set()
        self.changed = trio.Event()

    async def send(self, frame: bytes, *, related: Any = None, final: bool = False) -> None:
        raise AssertionError("a direct transport is told what it sends")

    async def aclose(self) -> None:
        self.closed.set()

    async def until_sent(self, count: int) -> list[tuple[Any, Outgoing]]:
        while len(self.sent) < count:
            await self.changed.wait()
        return [(msgspec.json.decode(f) if f else None, about) for f, about in self.sent]


def test_the_fake_is_a_direct_transport() -> None:
    assert isinstance(Direct(), DirectTransport)


async def test_a_delivered_request_is_served_and_its_answer_described() -> None:
    async def echo(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        await ctx.info("working")
        return text(params["name"])

    async def refuse(ctx: McpContext, params: dict[str, Any]) -> Result:
        raise McpError(-32042, "no")

    transport = Direct()
    session = Session(transport, TableDispatcher({"tools/call": echo, "ping": refuse}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        assert transport.inbound is session
        await session.deliver(call(7, "hi"))
        ping = JSONRPCRequest(id=8, method="ping")
        await session.deliver(ping)
        sent = await transport.until_sent(3)
        by_kind = {(about.kind, about.related): (frame, about) for frame, about in sent}
        log, about = by_kind["notification", 7]
        assert log["method"] == "notifications/message"
        assert about == Outgoing("notification", 7, final=False)
        answer, about = by_kind["response", 7]
        assert answer["result"]["content"][0]["text"] == "hi"
        assert about.final
        assert about.error is None
        error, about = by_kind["response", 8]
        assert error["error"]["code"] == -32042
        assert about.final
        assert about.error is not None
        assert about.error.code == -32042
        await transport.aclose()
    assert transport.inbound is None  # detached when the session ended
    with pytest.raises(TransportClosed):
        await session.deliver(call(9))


async def test_a_pulled_message_may_come_decoded_or_as_bytes() -> None:
    async def echo(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        return text(params["name"])

    transport = Direct(
        queued=[
            call(1, "decoded"),
            b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"raw"}}',
            b"{bad",
        ]
    )
    session = Session(transport, TableDispatcher({"tools/call": echo}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        sent = await transport.until_sent(3)
        await transport.aclose()
    answers = {about.related: frame for frame, about in sent if about.kind == "response"}
    assert answers[1]["result"]["content"][0]["text"] == "decoded"
    assert answers[2]["result"]["content"][0]["text"] == "raw"
    assert answers[None]["error"]["code"] == -32700  # not final: it answers no request
    assert [about.final for _, about in sent if about.related is None] == [False]


async def test_peer_gone_cancels_the_handler_without_an_answer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[Any] = []

    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        try:
            await trio.sleep(3600)
        finally:
            seen.append((ctx.cancel_reason, ctx._cancel_message))
        return Result()

    transport = Direct()
    session = Session(transport, TableDispatcher({"tools/call": slow}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        await session.deliver(call(1))
        await session.deliver(call(2))
        await trio.sleep(10)
        session.peer_gone(1, "the client closed its stream")
        session.peer_gone(1)  # twice: nothing more
        session.peer_gone(99)  # unknown: ignored
        sent = await transport.until_sent(1)
        assert sent == [(None, Outgoing("response", 1, final=True))]  # the end, unanswered
        assert seen == [(CancelReason.CLIENT, "the client closed its stream")]
        assert trio.current_time() == pytest.approx(10)  # at once, not at the budget
        assert 2 in session._inflight  # the other request goes on
        await session.drain(0)
    assert transport.sent[-1][1] == Outgoing("response", 2, True, transport.sent[-1][1].error)
    assert transport.sent[-1][1].error is not None
    assert transport.sent[-1][1].error.message == "Server is shutting down"


async def test_a_request_delivered_while_the_session_drains_is_refused_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep(5)
        return Result()

    transport = Direct()
    session = Session(transport, TableDispatcher({"tools/call": slow}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        await session.deliver(call(1))
        session.start_drain(60)
        await session.deliver(call(2))
        assert transport.sent[0][1].related == 2
        assert msgspec.json.decode(transport.sent[0][0])["error"]["message"] == (
            "Server is shutting down"
        )
    assert [about.related for _, about in transport.sent] == [2, 1]


async def test_a_delivered_request_waiting_for_a_place_is_refused_by_a_drain(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep(5)
        return Result()

    transport = Direct()
    session = Session(transport, TableDispatcher({"tools/call": slow}), max_pending=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        await session.deliver(call(1))
        nursery.start_soon(session.deliver, call(2))  # waits: max_pending is reached
        await trio.sleep(1)
        assert transport.sent == []
        await session.drain(60)
    answers = [(about.related, msgspec.json.decode(f)) for f, about in transport.sent]
    assert answers[0][0] == 2
    assert answers[0][1]["error"]["code"] == -32603
    assert answers[1][0] == 1
    assert "result" in answers[1][1]


async def test_a_delivered_request_waiting_for_a_place_reads_nothing_ahead(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # the reader is free (it reads on and sees the end itself): a read-ahead started
    # for a deliverer's wait would pull beside it
    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep(5)
        return Result()

    transport = Direct()
    session = Session(transport, TableDispatcher({"tools/call": slow}), max_pending=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        await session.deliver(call(1))
        nursery.start_soon(session.deliver, call(2))  # waits: max_pending is reached
        await trio.testing.wait_all_tasks_blocked()
        assert transport.most_receiving == 1
        await transport.until_sent(2)  # 2 got the place 1 freed
        await transport.aclose()
    assert [about.related for _, about in transport.sent] == [1, 2]
    assert transport.most_receiving == 1


async def test_a_delivered_request_waiting_for_a_place_is_refused_at_the_end_of_input(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def endless(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep_forever()
        raise AssertionError

    transport = Direct()
    session = Session(
        transport, TableDispatcher({"tools/call": endless}), max_pending=1, drain_on_eof=30
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        await session.deliver(call(1))
        nursery.start_soon(session.deliver, call(2))  # waits: max_pending is reached
        await trio.sleep(1)
        await transport.aclose()  # the end of input: the grace begins
        sent = await transport.until_sent(1)
        assert sent[0][1].related == 2  # refused at once, not started when 1 ends
        assert sent[0][0]["error"]["message"] == "Server is shutting down"
        assert trio.current_time() == pytest.approx(1)
    answers = [(about.related, msgspec.json.decode(f)) for f, about in transport.sent]
    assert [rid for rid, _ in answers] == [2, 1]  # 1 at the grace's end, shut down
    assert answers[1][1]["error"]["message"] == "Server is shutting down"
    assert trio.current_time() == pytest.approx(31)


async def test_a_delivered_request_waiting_when_the_session_is_closed_is_not_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # ``aclose`` cancels everything at once: the deliverer is told the session ended
    # (an HTTP POST: 404), nothing starts in a nursery that is closing
    async def endless(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep_forever()
        raise AssertionError

    transport = Direct()
    dispatcher = TableDispatcher({"tools/call": endless})
    session = Session(transport, dispatcher, max_pending=1)
    outcome: list[str] = []

    async def deliver_second() -> None:
        try:
            await session.deliver(call(2))  # waits: max_pending is reached
        except TransportClosed as exc:
            outcome.append(str(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        await session.deliver(call(1))
        nursery.start_soon(deliver_second)
        await trio.sleep(1)
        await session.aclose()
    assert outcome == ["the session was closed"]
    assert transport.sent == []  # everything cancelled at once, as ``aclose`` says


async def test_a_cancel_pulled_behind_a_waiting_request_frees_a_place(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # the reader of a direct transport waits for a place too: it reads ahead what it
    # pulls, decoded, as over any transport
    started: list[Any] = []

    async def endless(ctx: McpContext, params: dict[str, Any]) -> Result:
        started.append(ctx.request_id)
        await trio.sleep_forever()
        raise AssertionError

    cancel = decode_message(
        encode_notification("notifications/cancelled", {"requestId": 1, "reason": "enough"})
    )
    transport = Direct(queued=[call(1), call(2), cancel])
    session = Session(transport, TableDispatcher({"tools/call": endless}), max_pending=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.until_sent(1)  # 1 cancelled: its stream ends without an answer
        await trio.testing.wait_all_tasks_blocked()
        assert started == [1, 2]
        assert transport.sent == [(b"", Outgoing("response", 1, final=True))]
        assert transport.most_receiving == 1
        await session.drain(0)


async def test_a_delivered_notification_reaches_the_dispatcher_before_deliver_returns() -> None:
    dispatcher = TableDispatcher()
    transport = Direct()
    session = Session(transport, dispatcher)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await transport.attached.wait()
        note = decode_message(encode_notification("notifications/roots/list_changed"))
        assert isinstance(note, JSONRPCNotification)
        await session.deliver(note)
        assert [n.method for n in dispatcher.notes] == ["notifications/roots/list_changed"]
        await transport.aclose()


# -- one-shot exchanges -----------------------------------------------------------------


@attrs.define(eq=False)
class Answer:
    """A reply that records what it is sent."""

    sent: list[tuple[bytes, Outgoing]] = attrs.field(factory=list)
    inbound: Inbound | None = None
    attached: list[bool] = attrs.field(factory=list)

    def attach(self, inbound: Inbound | None) -> None:
        self.inbound = inbound
        self.attached.append(inbound is not None)

    async def send_described(self, frame: bytes, about: Outgoing) -> None:
        self.sent.append((frame, about))

    def messages(self) -> list[Any]:
        return [msgspec.json.decode(frame) if frame else None for frame, _ in self.sent]


async def test_an_exchange_is_served_in_the_callers_task() -> None:
    tasks: list[Any] = []

    async def echo(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        tasks.append(trio.lowlevel.current_task())
        await ctx.report_progress(1, 2)
        return text(params["name"])

    async with trio.open_nursery() as nursery:
        exchanges = Exchanges(nursery, server_info=None)
        answer = Answer()
        await exchanges.open(answer).handle(
            call(3, "hi", progressToken="p"), TableDispatcher({"tools/call": echo})
        )
    assert tasks == [trio.lowlevel.current_task()]
    progress, result = answer.messages()
    assert progress["method"] == "notifications/progress"
    assert result == {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {"content": [{"type": "text", "text": "hi"}]},
    }
    assert [about for _, about in answer.sent] == [
        Outgoing("notification", 3),
        Outgoing("response", 3, final=True),
    ]
    assert answer.attached == [True, False]
    assert len(exchanges) == 0


async def test_an_exchange_whose_client_is_gone_is_cancelled_unanswered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reasons: list[Any] = []
    child_ended = trio.Event()

    async def child() -> None:
        try:
            await trio.sleep_forever()
        finally:
            child_ended.set()

    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        ctx.spawn(child)
        try:
            await trio.sleep(3600)
        finally:
            reasons.append(ctx.cancel_reason)
        return Result()

    async with trio.open_nursery() as nursery:
        exchanges = Exchanges(nursery)
        answer = Answer()
        exchange = exchanges.open(answer)

        async def leave() -> None:
            await trio.sleep(1)
            assert answer.inbound is exchange
            answer.inbound.peer_gone(5, "the client closed the response")

        nursery.start_soon(leave)
        await exchange.handle(call(5), TableDispatcher({"tools/call": slow}))
        assert trio.current_time() == pytest.approx(1)
        assert child_ended.is_set()  # the request ended with its children
    assert reasons == [CancelReason.CLIENT]
    assert answer.sent == [(b"", Outgoing("response", 5, final=True))]
    with pytest.raises(ConnectionClosed):
        await exchange.notify("notifications/message", {"level": "info", "data": 1})
    with pytest.raises(ConnectionClosed):
        await exchange.request("roots/list", None, Result)


async def test_draining_exchanges_refuses_new_ones_and_ends_the_rest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep(float(params["name"]))
        return Result()

    dispatcher = TableDispatcher({"tools/call": slow})
    async with trio.open_nursery() as nursery:
        exchanges = Exchanges(nursery)
        quick, late, refused = Answer(), Answer(), Answer()
        nursery.start_soon(exchanges.open(quick).handle, call(1, "5"), dispatcher)
        nursery.start_soon(exchanges.open(late).handle, call(2, "3600"), dispatcher)
        await trio.sleep(1)
        assert len(exchanges) == 2
        await exchanges.drain(10)
        assert trio.current_time() == pytest.approx(11)
        await exchanges.open(refused).handle(call(3, "1"), dispatcher)
    assert "result" in quick.messages()[0]
    for answer in (late, refused):
        (message,) = answer.messages()
        assert message["error"] == {"code": -32603, "message": "Server is shutting down"}
        assert answer.sent[0][1].error is not None
        assert answer.sent[0][1].final


async def test_a_drain_keeps_its_grace_when_its_caller_stops_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # an HTTP server bounds its wait for the drain by the same grace: the requests in
    # flight must still be cancelled and answered with the shutdown error
    async def hang(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep_forever()
        raise AssertionError

    dispatcher = TableDispatcher({"tools/call": hang})
    async with trio.open_nursery() as nursery:
        exchanges = Exchanges(nursery)
        answer = Answer()
        nursery.start_soon(exchanges.open(answer).handle, call(1), dispatcher)
        await trio.sleep(1)
        with trio.move_on_after(1):  # the caller gives up before the grace ends
            await exchanges.drain(2)
        exchanges.start_drain(60)  # a second call cannot lengthen the grace
        assert exchanges.draining
        await exchanges.idle()
        assert trio.current_time() == pytest.approx(3)
    (message,) = answer.messages()
    assert message["error"] == {"code": -32603, "message": "Server is shutting down"}


async def test_an_exchange_is_freed_when_it_ends_without_the_collector() -> None:
    # no reference cycle per request: a busy server would otherwise leave every
    # request's objects to the garbage collector, whose full passes cost much more
    contexts: list[weakref.ref[McpContext]] = []

    async def remember(ctx: McpContext, params: dict[str, Any]) -> Result:
        contexts.append(weakref.ref(ctx))
        return Result()

    dispatcher = TableDispatcher({"tools/call": remember})
    async with trio.open_nursery() as nursery:
        exchanges = Exchanges(nursery)
        enabled = gc.isenabled()
        gc.disable()
        try:
            exchange = exchanges.open(Answer())
            await exchange.handle(call(1), dispatcher)
            del exchange
            assert contexts[0]() is None
        finally:
            if enabled:
                gc.enable()


async def test_an_exchange_of_a_notification_hands_it_to_the_dispatcher() -> None:
    dispatcher = TableDispatcher()
    async with trio.open_nursery() as nursery:
        answer = Answer()
        note = JSONRPCNotification(method="notifications/initialized")
        await Exchanges(nursery).open(answer).handle(note, dispatcher)
    assert [n.method for n in dispatcher.notes] == ["notifications/initialized"]
    assert answer.sent == []
