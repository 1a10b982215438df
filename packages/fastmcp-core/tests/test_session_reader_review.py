"""Requests the reader serves in its own task (``_accept_now``, ``_Handoff``): edge
cases found in review."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from core_support import FramesTransport, TableDispatcher, cancel, request, text

from fastmcp_core import Budget, McpContext, Session
from fastmcp_protocol import Result


async def test_a_request_whose_answer_waits_to_be_written_is_answered_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The handler ended within its budget; its answer is queued and the write
    waits (backpressure) past the deadline: the answer stands, no second answer."""

    async def quick(ctx: McpContext, params: dict[str, Any]) -> Result:
        ctx.restrict(Budget(deadline=trio.current_time() + 1))
        return text("done")

    transport = FramesTransport([request(1, "tools/call", {"name": "quick"})], send_waits=5)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Session(transport, TableDispatcher({"tools/call": quick})).run)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert [m["id"] for m in transport.sent] == [1]
    assert transport.sent[0]["result"]["content"][0]["text"] == "done"


async def test_a_request_that_starts_the_drain_gets_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A handler (served by the reader) that starts the drain itself, then waits,
    finishes within the grace and is answered, as in a task of its own."""
    sessions: list[Session] = []

    async def shutdown(ctx: McpContext, params: dict[str, Any]) -> Result:
        sessions[0].start_drain(10)
        await trio.sleep(1)
        return text("bye")

    transport = FramesTransport([request(1, "tools/call", {"name": "shutdown"})])
    session = Session(transport, TableDispatcher({"tools/call": shutdown}))
    sessions.append(session)
    with trio.fail_after(60):
        await session.run()
    assert transport.sent == [
        {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "bye"}]}}
    ]


async def test_a_cancel_read_with_requests_that_go_on_from_schedule_points_is_seen(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two requests that each pass a schedule point, then a cancel of the first, all
    in one read: the first is cancelled at its checkpoint (as a task of its own
    would be, which starts after the whole read)."""
    for _ in range(24):  # trio runs each batch of tasks in a random order

        async def step(ctx: McpContext, params: dict[str, Any]) -> Result:
            await ctx.checkpoint()
            return text(params["name"])

        transport = FramesTransport(
            [
                request(1, "tools/call", {"name": "one"}),
                request(2, "tools/call", {"name": "two"}),
                cancel(1),
            ]
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(Session(transport, TableDispatcher({"tools/call": step})).run)
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
        assert [m["id"] for m in transport.sent] == [2]


async def test_a_handler_that_raises_in_the_reader_is_answered_and_reading_goes_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A bug in a handler (``Panicked``), before or after its first wait, is answered
    with an internal error; the requests read after it are still served."""

    async def fail(ctx: McpContext, params: dict[str, Any]) -> Result:
        if params.get("wait"):
            await trio.sleep(1)
        raise ValueError("boom")

    async def fine(ctx: McpContext, params: dict[str, Any]) -> Result:
        return text("fine")

    transport = FramesTransport(
        [
            request(1, "fail"),
            request(2, "fail", {"wait": True}),
            request(3, "fine"),
        ]
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Session(transport, TableDispatcher({"fail": fail, "fine": fine})).run)
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert [m["id"] for m in transport.sent] == [1, 3, 2]
    assert [m["error"]["code"] for m in transport.sent if "error" in m] == [-32603, -32603]
