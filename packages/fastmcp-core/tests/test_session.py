"""The session engine: concurrency, cancellation, budgets, closing, bad input."""

from __future__ import annotations

import math
import threading
from typing import Any

import msgspec
import pytest
import trio
import trio.lowlevel
import trio.testing
from core_support import (
    FramesTransport,
    TableDispatcher,
    cancel,
    notification,
    pipe,
    request,
    start,
    text,
)

from fastmcp_core import (
    ConnectionClosed,
    McpContext,
    RequestTimeout,
    Session,
    ToolError,
)
from fastmcp_protocol import CallToolResult, McpError, Result, TextContent


async def test_request_and_response_between_two_sessions() -> None:
    async def echo(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        return text(params["arguments"]["message"])

    a, b = pipe()
    server = Session(a, TableDispatcher({"tools/call": echo}))
    client = Session(b, TableDispatcher())
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        await nursery.start(client.run)
        result = await client.request(
            "tools/call", {"name": "echo", "arguments": {"message": "hi"}}, CallToolResult
        )
        assert result == CallToolResult(content=[TextContent(text="hi")])
        await client.aclose()
    assert server.closed


async def test_timeout_fires_without_any_checkpoint(autojump_clock: trio.testing.MockClock) -> None:
    finished = False

    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        nonlocal finished
        await trio.sleep(3600)  # never calls ctx.checkpoint()
        finished = True
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": slow}), request_timeout=30)
        started = trio.current_time()
        await peer.send(request(1, "tools/call", {"name": "slow"}))
        reply = await peer.next()
        assert trio.current_time() - started == pytest.approx(30)
        assert reply == {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32001, "message": "Request timed out"},
        }
        assert not finished
        nursery.cancel_scope.cancel()


async def test_checkpoint_raises_after_a_cancel(autojump_clock: trio.testing.MockClock) -> None:
    steps: list[int] = []
    cancelled = trio.Event()

    async def loop(ctx: McpContext, params: dict[str, Any]) -> Result:
        try:
            for i in range(1000):
                steps.append(i)
                await ctx.checkpoint()
                await trio.sleep(1)
        except trio.Cancelled:
            cancelled.set()
            raise
        return Result()

    async with trio.open_nursery() as nursery:
        session, peer = await start(nursery, TableDispatcher({"tools/call": loop}))
        await peer.send(request(7, "tools/call", {"name": "loop"}))
        await trio.sleep(5.5)
        await peer.send(cancel(7))
        await cancelled.wait()
        await trio.sleep(1)
        assert len(steps) == 6
        assert await peer.frames() == []  # cancelled by the client: no response
        assert session._inflight == {}
        nursery.cancel_scope.cancel()


async def test_masked_section_completes_and_cancellation_lands_after_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[str] = []
    finished = trio.Event()

    async def write(ctx: McpContext, params: dict[str, Any]) -> Result:
        try:
            with ctx.masked():
                events.append("begin")
                await trio.sleep(10)  # the cancel arrives meanwhile
                events.append("committed")
            events.append("after")
            await ctx.checkpoint()
            events.append("unreachable")
        finally:
            finished.set()
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": write}))
        await peer.send(request(1, "tools/call", {"name": "write"}))
        await trio.sleep(1)
        await peer.send(cancel(1))
        await finished.wait()
        assert events == ["begin", "committed", "after"]
        nursery.cancel_scope.cancel()


async def test_spawned_children_end_with_their_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    started: list[int] = []
    ended: list[int] = []

    async def child(i: int) -> None:
        started.append(i)
        try:
            await trio.sleep_forever()
        finally:
            ended.append(i)

    async def parent(ctx: McpContext, params: dict[str, Any]) -> Result:
        for i in range(3):
            ctx.spawn(child, i)
        await trio.sleep_forever()
        return Result()

    async with trio.open_nursery() as nursery:
        session, peer = await start(nursery, TableDispatcher({"tools/call": parent}))
        await peer.send(request(1, "tools/call", {"name": "parent"}))
        await trio.sleep(1)
        assert sorted(started) == [0, 1, 2]
        await peer.send(cancel(1))
        await trio.sleep(1)
        assert sorted(ended) == [0, 1, 2]
        assert session._inflight == {}
        nursery.cancel_scope.cancel()


async def test_request_waits_for_its_children_before_answering(
    autojump_clock: trio.testing.MockClock,
) -> None:
    done: list[str] = []

    async def child() -> None:
        await trio.sleep(5)
        done.append("child")

    async def parent(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        ctx.spawn(child)
        return text("parent")

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": parent}))
        t0 = trio.current_time()
        await peer.send(request(1, "tools/call", {"name": "parent"}))
        reply = await peer.next()
        assert trio.current_time() - t0 == pytest.approx(5)
        assert done == ["child"]
        assert reply["result"]["content"] == [{"type": "text", "text": "parent"}]
        nursery.cancel_scope.cancel()


async def test_cancel_in_the_same_read_as_its_request_is_not_missed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ran: list[str] = []

    async def work(ctx: McpContext, params: dict[str, Any]) -> Result:
        ran.append("started")
        await ctx.checkpoint()
        ran.append("past the checkpoint")
        return Result()

    class Burst:
        """A transport that delivers a request and its cancel without yielding."""

        def __init__(self) -> None:
            self.frames = [request(1, "tools/call", {"name": "work"}), cancel(1)]
            self.sent: list[bytes] = []

        async def receive(self) -> bytes:
            if self.frames:
                return self.frames.pop(0)  # no checkpoint between the two
            await trio.sleep_forever()
            raise AssertionError

        async def send(self, frame: bytes, *, related: Any = None, final: bool = False) -> None:
            self.sent.append(frame)

        async def aclose(self) -> None:
            pass

    transport = Burst()
    async with trio.open_nursery() as nursery:
        session = Session(transport, TableDispatcher({"tools/call": work}))
        nursery.start_soon(session.run)
        await trio.sleep(1)
        assert "past the checkpoint" not in ran
        assert transport.sent == [b""]  # ended without a response
        nursery.cancel_scope.cancel()


async def test_a_thousand_concurrent_requests_are_bounded_by_the_limiter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    running = 0
    peak = 0

    async def work(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await trio.sleep(1)
        running -= 1
        return text(str(params["n"]))

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": work}), max_concurrency=10)
        t0 = trio.current_time()
        for n in range(1000):
            await peer.send(request(n, "tools/call", {"n": n}))
        replies = [await peer.next() for _ in range(1000)]
        assert trio.current_time() - t0 == pytest.approx(100)
        assert peak == 10
        assert sorted(r["id"] for r in replies) == list(range(1000))
        assert all(r["result"]["content"][0]["text"] == str(r["id"]) for r in replies)
        nursery.cancel_scope.cancel()


async def test_reading_stops_when_max_pending_is_reached(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = trio.Event()

    async def wait(ctx: McpContext, params: dict[str, Any]) -> Result:
        await gate.wait()
        return Result()

    async with trio.open_nursery() as nursery:
        session, peer = await start(
            nursery, TableDispatcher({"tools/call": wait}), max_concurrency=2, max_pending=5
        )
        for n in range(8):
            await peer.send(request(n, "tools/call"))
        await trio.sleep(1)
        assert len(session._inflight) == 5  # the sixth is not read yet
        gate.set()
        replies = [await peer.next() for _ in range(8)]
        assert sorted(r["id"] for r in replies) == list(range(8))
        nursery.cancel_scope.cancel()


async def test_panicking_handler_does_not_take_the_engine_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom(ctx: McpContext, params: dict[str, Any]) -> Result:
        raise ValueError("secret detail")

    async def fine(ctx: McpContext, params: dict[str, Any]) -> Result:
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"explode": boom, "ping": fine}))
        await peer.send(request(1, "explode"))
        assert await peer.next() == {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32603, "message": "Internal error"},
        }
        await peer.send(request(2, "ping"))
        assert await peer.next() == {"jsonrpc": "2.0", "id": 2, "result": {}}
        nursery.cancel_scope.cancel()
    assert "secret detail" in caplog.text  # the traceback went to the log
    assert "ValueError" in caplog.text


async def test_sync_handler_in_a_thread_sees_cancellation_at_its_checkpoint() -> None:
    entered = threading.Event()
    saw_cancel = threading.Event()

    async def blocking(ctx: McpContext, params: dict[str, Any]) -> Result:
        def work() -> None:
            entered.set()
            try:
                while True:
                    ctx.checkpoint_sync()
                    threading.Event().wait(0.001)
            except trio.Cancelled:
                saw_cancel.set()
                raise

        await trio.to_thread.run_sync(work, abandon_on_cancel=True)
        return Result()

    async with trio.open_nursery() as nursery:
        session, peer = await start(nursery, TableDispatcher({"tools/call": blocking}))
        await peer.send(request(1, "tools/call"))
        await trio.to_thread.run_sync(entered.wait)
        await peer.send(cancel(1))
        await trio.to_thread.run_sync(saw_cancel.wait, 10)
        assert saw_cancel.is_set()
        with trio.fail_after(5):
            await session._until_idle()
        nursery.cancel_scope.cancel()


async def test_malformed_frames_are_answered_and_serving_goes_on() -> None:
    async def ok(ctx: McpContext, params: dict[str, Any]) -> Result:
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"ping": ok}))
        await peer.send(b"{not json")
        reply = await peer.next()
        assert reply["id"] is None
        assert reply["error"]["code"] == -32700
        await peer.send(b'{"jsonrpc":"2.0","id":5,"method":"x","params":[1]}')
        reply = await peer.next()
        assert (reply["id"], reply["error"]["code"]) == (5, -32600)
        await peer.send(request(6, "nope"))
        reply = await peer.next()
        assert (reply["id"], reply["error"]["code"]) == (6, -32601)
        await peer.send(request(7, "ping"))
        assert await peer.next() == {"jsonrpc": "2.0", "id": 7, "result": {}}
        nursery.cancel_scope.cancel()


async def test_duplicate_request_id_is_refused_while_in_flight(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep(10)
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"slow": slow}))
        await peer.send(request("a", "slow"))
        await peer.send(request("a", "slow"))
        first = await peer.next()
        assert first["error"]["code"] == -32600
        assert "already in use" in first["error"]["message"]
        assert await peer.next() == {"jsonrpc": "2.0", "id": "a", "result": {}}
        nursery.cancel_scope.cancel()


async def test_batch_requests_get_one_batch_answer() -> None:
    async def ok(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        return text(str(params.get("n")))

    async with trio.open_nursery() as nursery:
        dispatcher = TableDispatcher({"tools/call": ok})
        _, peer = await start(nursery, dispatcher)
        await peer.send(
            b"["
            + request(1, "tools/call", {"n": 1})
            + b","
            + notification("notifications/initialized")
            + b", 17,"
            + request(2, "tools/call", {"n": 2})
            + b"]"
        )
        replies = await peer.next()
        assert isinstance(replies, list)
        assert len(replies) == 3
        assert {r.get("id") for r in replies} == {1, 2, None}
        assert [n.method for n in dispatcher.notes] == ["notifications/initialized"]
        nursery.cancel_scope.cancel()


async def test_closing_transport_fails_waiting_requests_at_once_with_the_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a, b = pipe()
    client = Session(b, TableDispatcher())
    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await client.request("tools/call", {}, Result, timeout=3600)
        except ConnectionClosed as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        for _ in range(3):
            nursery.start_soon(call)
        await trio.sleep(1)
        t0 = trio.current_time()
        await a.aclose()  # the peer goes away without answering
        await trio.lowlevel.checkpoint()
    assert trio.current_time() - t0 < 1
    assert len(errors) == 3
    assert all("end of input" in str(e) for e in errors)
    with pytest.raises(ConnectionClosed):
        await client.request("ping", {}, Result)


async def test_in_flight_handlers_drain_after_end_of_input(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        await trio.sleep(3)
        return text("done")

    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": slow}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        await trio.sleep(0.5)
        await b.outbox.aclose()  # end of input with a request in flight
        reply = await b.next()
        assert reply["result"]["content"][0]["text"] == "done"


async def test_in_flight_handlers_are_cancelled_when_draining_is_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cancelled = trio.Event()

    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        try:
            await trio.sleep(3)
        except trio.Cancelled:
            cancelled.set()
            raise
        return Result()

    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": slow}), drain_on_eof=None)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        await trio.sleep(0.5)
        await b.outbox.aclose()
    assert cancelled.is_set()
    assert session._inflight == {}


async def test_outgoing_timeout_raises_and_tells_the_peer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        session, peer = await start(nursery, TableDispatcher())
        with pytest.raises(RequestTimeout, match="timed out after 2"):
            await session.request("ping", {}, Result, timeout=2)
        sent = await peer.frames()
        assert sent[0]["method"] == "ping"
        assert sent[1] == {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": sent[0]["id"], "reason": "timed out"},
        }
        nursery.cancel_scope.cancel()


async def test_a_shorter_timeout_sent_later_still_fires_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        session, _ = await start(nursery, TableDispatcher())
        timed_out: dict[float, float] = {}

        async def call(timeout: float, task_status: trio.TaskStatus[None]) -> None:
            task_status.started()
            began = trio.current_time()
            with pytest.raises(RequestTimeout):
                await session.request("ping", {}, Result, timeout=timeout)
            timed_out[timeout] = trio.current_time() - began

        async with trio.open_nursery() as calls:
            await calls.start(call, 10)
            await trio.sleep(1)
            await calls.start(call, 2)
        assert timed_out == {10: pytest.approx(10), 2: pytest.approx(2)}
        nursery.cancel_scope.cancel()


async def test_leaving_a_cancel_scope_cancels_the_outgoing_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        session, peer = await start(nursery, TableDispatcher())
        with trio.move_on_after(1):
            await session.request("tools/call", {"name": "x"}, Result)
        frames = await peer.frames()
        assert frames[1]["method"] == "notifications/cancelled"
        assert frames[1]["params"]["requestId"] == frames[0]["id"]
        assert session._pending == {}
        nursery.cancel_scope.cancel()


async def test_progress_goes_to_the_waiting_caller_and_can_extend_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def work(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        for i in range(1, 6):
            await trio.sleep(2)
            await ctx.report_progress(i, total=5, message=f"step {i}")
        return text("done")

    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: Any) -> None:
        seen.append((p.progress, p.total, p.message))

    a, b = pipe()
    async with trio.open_nursery() as nursery:
        await nursery.start(Session(a, TableDispatcher({"tools/call": work})).run)
        client = Session(b, TableDispatcher())
        await nursery.start(client.run)
        # 10 s of work against a 3 s timeout that each progress restarts
        result = await client.request(
            "tools/call",
            {"name": "w"},
            CallToolResult,
            timeout=3,
            on_progress=on_progress,
            reset_timeout_on_progress=True,
        )
        assert result.content == [TextContent(text="done")]
        assert seen == [(i, 5, f"step {i}") for i in range(1, 6)]
        with pytest.raises(RequestTimeout):
            await client.request(
                "tools/call", {"name": "w"}, CallToolResult, timeout=3, on_progress=on_progress
            )
        nursery.cancel_scope.cancel()


async def test_report_progress_without_a_token_sends_nothing() -> None:
    async def work(ctx: McpContext, params: dict[str, Any]) -> Result:
        await ctx.report_progress(1, 2)
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": work}))
        await peer.send(request(1, "tools/call", {}))
        assert await peer.next() == {"jsonrpc": "2.0", "id": 1, "result": {}}
        assert await peer.frames() == []
        nursery.cancel_scope.cancel()


async def test_log_messages_honour_the_requested_level() -> None:
    async def chatty(ctx: McpContext, params: dict[str, Any]) -> Result:
        await ctx.debug("d")
        await ctx.info("i")
        await ctx.warning({"w": 1}, logger="db")
        await ctx.error("e")
        return Result()

    for level, expected in [
        ("warning", ["warning", "error"]),
        (None, []),
        ("debug", ["debug", "info", "warning", "error"]),
    ]:
        dispatcher = TableDispatcher({"tools/call": chatty}, log_level=level)
        async with trio.open_nursery() as nursery:
            _, peer = await start(nursery, dispatcher)
            await peer.send(request(1, "tools/call", {}))
            frames = []
            while True:
                frame = await peer.next()
                if "id" in frame:
                    break
                frames.append(frame)
            assert [f["params"]["level"] for f in frames] == expected
            if "warning" in expected:
                warning = next(f for f in frames if f["params"]["level"] == "warning")
                assert warning["params"] == {"level": "warning", "data": {"w": 1}, "logger": "db"}
            nursery.cancel_scope.cancel()


async def test_notifications_of_a_request_are_routed_with_it() -> None:
    async def work(ctx: McpContext, params: dict[str, Any]) -> Result:
        await ctx.report_progress(1)
        await ctx.info("x")
        return Result()

    async with trio.open_nursery() as nursery:
        session, peer = await start(nursery, TableDispatcher({"tools/call": work}))
        await peer.send(request("r", "tools/call", {"_meta": {"progressToken": 9}}))
        for _ in range(3):
            await peer.next()
        routed = [(related, final) for _, related, final in session.transport.sent]  # type: ignore[attr-defined]
        assert routed == [("r", False), ("r", False), ("r", True)]
        nursery.cancel_scope.cancel()


async def test_broken_output_cancels_everything(autojump_clock: trio.testing.MockClock) -> None:
    cancelled = trio.Event()

    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()
        return Result()

    async def quick(ctx: McpContext, params: dict[str, Any]) -> Result:
        return Result()

    a, b = pipe()
    session = Session(a, TableDispatcher({"slow": slow, "quick": quick}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "slow"))
        await trio.sleep(1)
        await b.inbox.aclose()  # nobody reads our output any more
        await b.send(request(2, "quick"))  # its answer cannot be written
    assert cancelled.is_set()
    assert session.closed


async def test_tool_error_from_a_handler_reaches_the_caller() -> None:
    async def refuse(ctx: McpContext, params: dict[str, Any]) -> Result:
        raise ToolError("no such city")

    async def refuse_other(ctx: McpContext, params: dict[str, Any]) -> Result:
        raise McpError(-32602, "bad cursor", {"cursor": "x"})

    a, b = pipe()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            Session(a, TableDispatcher({"tools/call": refuse, "tools/list": refuse_other})).run
        )
        client = Session(b, TableDispatcher())
        await nursery.start(client.run)
        result = await client.request("tools/call", {"name": "x"}, CallToolResult)
        assert result == CallToolResult(content=[TextContent(text="no such city")], is_error=True)
        with pytest.raises(McpError) as info:
            await client.request("tools/list", {}, Result)
        assert (info.value.code, info.value.message, info.value.data) == (
            -32602,
            "bad cursor",
            {"cursor": "x"},
        )
        nursery.cancel_scope.cancel()


async def test_aclose_ends_run_and_leaves_no_task(autojump_clock: trio.testing.MockClock) -> None:
    async def forever(ctx: McpContext, params: dict[str, Any]) -> Result:
        await trio.sleep_forever()
        return Result()

    a, b = pipe()
    session = Session(a, TableDispatcher({"x": forever}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "x"))
        await trio.sleep(1)
        await session.aclose()
        assert session._inflight == {}
    assert math.isinf(session.default_timeout) is False
    assert msgspec.json.decode(b"{}") == {}


async def test_a_failing_child_fails_its_request_and_cancels_its_siblings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cancelled: list[str] = []

    async def sibling() -> None:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.append("sibling")

    async def failing() -> None:
        await trio.sleep(1)
        raise ToolError("the child failed")

    async def parent(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        ctx.spawn(sibling)
        ctx.spawn(failing)
        await trio.sleep_forever()
        return text("unreachable")

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": parent}))
        await peer.send(request(1, "tools/call"))
        reply = await peer.next()
        assert reply["result"] == {
            "content": [{"type": "text", "text": "the child failed"}],
            "isError": True,
        }
        assert cancelled == ["sibling"]
        nursery.cancel_scope.cancel()


async def test_a_failing_handler_cancels_its_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ended: list[str] = []

    async def child() -> None:
        try:
            await trio.sleep_forever()
        finally:
            ended.append("child")

    async def parent(ctx: McpContext, params: dict[str, Any]) -> Result:
        ctx.spawn(child)
        await trio.sleep(1)
        raise McpError(-32602, "bad")

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"x": parent}))
        await peer.send(request(1, "x"))
        reply = await peer.next()
        assert reply["error"]["code"] == -32602
        assert ended == ["child"]
        nursery.cancel_scope.cancel()


async def test_a_cancel_naming_no_inbound_request_goes_to_the_dispatcher() -> None:
    # a 2026-07-28 server ends a client's subscriptions/listen with notifications/cancelled
    dispatcher = TableDispatcher()
    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, dispatcher)
        await peer.send(cancel(41, "server shutting down"))
        await peer.send(request(1, "ping"))
        await peer.next()  # the ping's answer: the notification was handled before it
        assert [note.method for note in dispatcher.notes] == ["notifications/cancelled"]
        nursery.cancel_scope.cancel()


async def test_a_child_spawned_after_an_earlier_one_ended_is_awaited(
    autojump_clock: trio.testing.MockClock,
) -> None:
    done: list[str] = []

    async def child(name: str, seconds: float) -> None:
        await trio.sleep(seconds)
        done.append(name)

    async def parent(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        ctx.spawn(child, "first", 1)
        await trio.sleep(2)  # the first child has ended by now
        ctx.spawn(child, "second", 5)
        return text("parent")

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": parent}))
        t0 = trio.current_time()
        await peer.send(request(1, "tools/call", {"name": "parent"}))
        reply = await peer.next()
        assert done == ["first", "second"]  # the second child's work happened
        assert trio.current_time() - t0 == pytest.approx(7)
        assert reply["result"]["content"] == [{"type": "text", "text": "parent"}]
        nursery.cancel_scope.cancel()


async def test_every_failing_child_is_kept(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing(message: str) -> None:
        with trio.CancelScope(shield=True):  # the first failure cannot stop the second
            await trio.sleep(1)
        raise RuntimeError(message)

    async def parent(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        ctx.spawn(failing, "first child")
        ctx.spawn(failing, "second child")
        await trio.sleep_forever()
        return text("unreachable")

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": parent}))
        await peer.send(request(1, "tools/call"))
        reply = await peer.next()
        assert reply["result"]["isError"] is True
        nursery.cancel_scope.cancel()
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info is not None
    group = record.exc_info[1]
    assert isinstance(group, BaseExceptionGroup)
    assert sorted(str(e) for e in group.exceptions) == ["first child", "second child"]


async def test_a_request_cancelled_while_waiting_for_a_place_gives_none_away(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With one place: request 2 waits behind 1 and is cancelled while waiting; 3 runs
    once 1 ends, and every place is free again afterwards (none leaked)."""
    running = 0
    most = 0
    ran: list[str] = []

    async def work(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await trio.sleep(params["seconds"])
        finally:
            running -= 1
        ran.append(params["name"])
        return text(params["name"])

    async with trio.open_nursery() as nursery:
        session, peer = await start(
            nursery, TableDispatcher({"tools/call": work}), max_concurrency=1
        )
        await peer.send(request(1, "tools/call", {"name": "one", "seconds": 5}))
        await peer.send(request(2, "tools/call", {"name": "two", "seconds": 5}))
        await peer.send(request(3, "tools/call", {"name": "three", "seconds": 5}))
        await trio.sleep(1)
        await peer.send(cancel(2))
        answers = [await peer.next(), await peer.next()]
        assert [a["id"] for a in answers] == [1, 3]
        assert ran == ["one", "three"]
        assert most == 1
        await peer.send(request(4, "tools/call", {"name": "four", "seconds": 0}))
        assert (await peer.next())["id"] == 4
        # the answer is out before its task ends (trio may run the reader first)
        await trio.testing.wait_all_tasks_blocked()
        assert session._inflight == {}
        nursery.cancel_scope.cancel()


# -- draining: the graceful end a server's shutdown asks for ---------------------------------


def sleeper(seconds: float, log: list[str]) -> Any:
    async def handler(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            log.append(f"cancelled at {trio.current_time():g}")
            raise
        return text(f"slept {seconds:g}")

    return handler


async def test_drain_lets_handlers_finish_within_the_grace_and_stops_reading(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": sleeper(3, log)}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        await trio.sleep(1)
        nursery.start_soon(session.drain, 10)
        await trio.sleep(0.1)
        await b.send(request(2, "tools/call"))  # after the drain began: never read
        reply = await b.next()
        assert reply == {"jsonrpc": "2.0", "id": 1, "result": reply["result"]}
        assert reply["result"]["content"][0]["text"] == "slept 3"
    assert trio.current_time() == pytest.approx(3, abs=0.01)  # done once idle
    assert log == []
    assert await b.frames() == []  # request 2 got nothing: it was not read


async def test_drain_answers_what_is_left_after_the_grace_with_the_shutdown_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": sleeper(60, log)}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        await b.send(request(2, "ping"))  # no handler: answered at once
        assert (await b.next())["error"]["code"] == -32601
        await session.drain(5)
    assert trio.current_time() == pytest.approx(5, abs=0.01)
    assert log == ["cancelled at 5"]
    assert await b.frames() == [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32603, "message": "Server is shutting down"},
        }
    ]
    assert session._inflight == {}


async def test_a_masked_section_completes_when_the_grace_ends_inside_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    marks: list[str] = []

    async def critical(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        with ctx.masked():
            await trio.sleep(params["masked"])
            marks.append(f"written at {trio.current_time():g}")
        await ctx.checkpoint()  # the shutdown lands here
        marks.append("never")
        return text("done")

    for masked, answered in ((3, True), (30, False)):
        marks.clear()
        a, b = pipe()
        session = Session(a, TableDispatcher({"tools/call": critical}))
        start_time = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.run)
            await b.send(request(1, "tools/call", {"masked": masked}))
            await trio.sleep(0.5)
            await session.drain(1)
        # the section is never cut, even when it outlasts the farewell (2 s)
        assert marks == [f"written at {start_time + masked:g}"]
        frames = await b.frames()
        if answered:
            assert frames == [
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "error": {"code": -32603, "message": "Server is shutting down"},
                }
            ]
        else:
            assert frames == []  # past the farewell nobody waits for its answer


async def test_drain_fails_waiting_outgoing_requests_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a, _ = pipe()
    session = Session(a, TableDispatcher())
    errors: list[str] = []

    async def ask() -> None:
        try:
            await session.request("sampling/createMessage", {}, Result, timeout=3600)
        except ConnectionClosed as exc:
            errors.append(str(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        nursery.start_soon(ask)
        await trio.sleep(1)
        await session.drain(10, "the server is shutting down")
    assert trio.current_time() == pytest.approx(1, abs=0.01)
    assert errors == ["Connection closed: the server is shutting down (code -32000)"]


async def test_drain_after_the_end_of_input_shortens_its_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": sleeper(3600, log)}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        await trio.sleep(1)
        await b.outbox.aclose()  # end of input: drain_on_eof is unbounded by default
        await trio.sleep(1)
        await session.drain(2)
    assert log == ["cancelled at 4"]
    assert (await b.next())["error"]["message"] == "Server is shutting down"
    # a later drain with a longer grace changes nothing
    await session.drain(100)


async def test_the_end_of_input_grace_is_drain_on_eof_and_is_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": sleeper(3600, log)}), drain_on_eof=7)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        await trio.sleep(1)
        await b.outbox.aclose()
    assert log == ["cancelled at 8"]
    assert (await b.next())["error"] == {"code": -32603, "message": "Server is shutting down"}


async def test_drain_before_run_ends_it_as_soon_as_it_is_idle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a, b = pipe()
    session = Session(a, TableDispatcher())
    session.start_drain(10)
    await b.send(request(1, "ping"))
    with trio.fail_after(1):
        await session.run()
    assert session.closed
    assert await b.frames() == []


async def test_a_request_waiting_for_a_place_when_the_drain_begins_is_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": sleeper(2, log)}), max_pending=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        await b.send(request(2, "tools/call"))  # read, then waits: max_pending is reached
        await trio.sleep(0.5)
        await session.drain(10)
    frames = await b.frames()
    assert frames == [
        {
            "jsonrpc": "2.0",
            "id": 2,
            "error": {"code": -32603, "message": "Server is shutting down"},
        },
        {"jsonrpc": "2.0", "id": 1, "result": frames[1]["result"]},
    ]
    assert frames[1]["result"]["content"][0]["text"] == "slept 2"


async def test_requests_served_by_the_reader_each_have_their_own_context_variables(
    autojump_clock: trio.testing.MockClock,
) -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []

    async def mark(ctx: McpContext, params: dict[str, Any]) -> Result:
        seen.append(var.get())
        var.set(params["name"])
        if params.get("wait"):
            await trio.sleep(1)
            seen.append(var.get())
        return text(params["name"])

    frames = [
        request(1, "tools/call", {"name": "a"}),
        request(2, "tools/call", {"name": "b", "wait": True}),
        request(3, "tools/call", {"name": "c"}),
    ]
    transport = FramesTransport(frames)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Session(transport, TableDispatcher({"tools/call": mark})).run)
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert seen == ["unset", "unset", "unset", "b"]
    assert [m["id"] for m in transport.sent] == [1, 3, 2]


async def test_a_request_that_waits_in_the_reader_lets_reading_go_on_and_stays_cancellable(
    autojump_clock: trio.testing.MockClock,
) -> None:
    release = trio.Event()
    ended: list[str] = []

    async def wait(ctx: McpContext, params: dict[str, Any]) -> Result:
        try:
            await release.wait()
        except trio.Cancelled:
            ended.append(f"{params['name']} cancelled")
            raise
        return text(params["name"])

    async def free(ctx: McpContext, params: dict[str, Any]) -> Result:
        release.set()
        return text("freed")

    frames = [
        request(1, "wait", {"name": "one"}),
        request(2, "wait", {"name": "two"}),
        cancel(2),
        request(3, "free"),
    ]
    transport = FramesTransport(frames)
    async with trio.open_nursery() as nursery:
        session = Session(transport, TableDispatcher({"wait": wait, "free": free}))
        nursery.start_soon(session.run)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert ended == ["two cancelled"]
    answers = {m["id"]: m["result"]["content"][0]["text"] for m in transport.sent}
    assert answers == {3: "freed", 1: "one"}  # the cancelled one is not answered


async def test_a_request_served_by_the_reader_keeps_its_budget_the_drain_and_its_answer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Requests the reader serves without a cancel scope of their own get one when
    they wait: a deadline set while routing, a drain, and an answer given after a
    cancellation was swallowed all behave as in a task of their own."""
    from fastmcp_core import Budget

    async def work(ctx: McpContext, params: dict[str, Any]) -> Result:
        how = params["name"]
        if how == "budget":
            ctx.restrict(Budget(deadline=trio.current_time() + 1))
        elif how == "swallow":
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                return text("swallowed")  # not recommended, but answered all the same
        await trio.sleep_forever()
        raise AssertionError

    frames = [
        request(1, "tools/call", {"name": "budget"}),
        request(2, "tools/call", {"name": "drained"}),
        request(3, "tools/call", {"name": "swallow"}),
    ]
    transport = FramesTransport(frames)
    session = Session(transport, TableDispatcher({"tools/call": work}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await trio.sleep(2)
        assert transport.sent == [
            {"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "Request timed out"}}
        ]
        await session.drain(grace=1)
    assert sorted(transport.sent[1:], key=lambda m: m["id"]) == [
        {
            "jsonrpc": "2.0",
            "id": 2,
            "error": {"code": -32603, "message": "Server is shutting down"},
        },
        {"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": "swallowed"}]}},
    ]
