"""What the stateful test of the session engine found (test_session_stateful.py), each
as a deterministic test of its own.

Each failed before its fix in ``_session.py``: the end of input unseen while every
place was taken, a batch cut by a drain never answered, notifications refused in the
grace after the end of input, a cancel behind a request waiting for a place never
read (so a client could not free a place by cancelling).
"""

from __future__ import annotations

from typing import Any

import msgspec
import trio
import trio.testing
from core_support import TableDispatcher, pipe, request, text

from fastmcp_core import McpContext, Session
from fastmcp_protocol import CallToolResult

SHUTDOWN = {"code": -32603, "message": "Server is shutting down"}


async def test_the_end_of_input_is_seen_while_every_place_is_taken(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def endless(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        await trio.sleep_forever()
        raise AssertionError

    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": endless}), max_pending=2, drain_on_eof=5)
    with trio.move_on_after(3600):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.run)
            for rid in (1, 2, 3):  # the third waits for a place, and the reader with it
                await b.send(request(rid, "tools/call"))
            await b.outbox.aclose()  # the client leaves
            await trio.testing.wait_all_tasks_blocked()
    # the end of input drains the session: 5 s of grace, then the shutdown answers
    answered = {frame["id"]: frame.get("error") for frame in await b.frames()}
    assert answered == {1: SHUTDOWN, 2: SHUTDOWN, 3: SHUTDOWN}


async def test_a_batch_cut_by_a_drain_is_still_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        await trio.sleep(1)
        return text("done")

    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": slow}), max_pending=2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call"))
        batch = [msgspec.json.decode(request(rid, "tools/call")) for rid in (2, 3, 4)]
        await b.send(msgspec.json.encode(batch))  # 3 waits for a place, 4 behind it
        await trio.testing.wait_all_tasks_blocked()
        await session.drain(0)
    frames = await b.frames()
    batches = [frame for frame in frames if isinstance(frame, list)]
    assert len(batches) == 1, frames
    assert sorted(member["id"] for member in batches[0]) == [2, 3, 4]


async def test_progress_during_the_drain_after_the_end_of_input(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def counting(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        for step in range(3):
            await ctx.report_progress(step, 3)
            await trio.sleep(1)
        return text("counted")

    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": counting}))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        await b.send(request(1, "tools/call", {"_meta": {"progressToken": "p"}}))
        await trio.sleep(0.5)
        await b.outbox.aclose()  # stdin closes; stdout still works
    frames = await b.frames()
    assert frames[-1] == {"jsonrpc": "2.0", "id": 1, "result": frames[-1].get("result")}
    assert frames[-1]["result"]["content"][0]["text"] == "counted"


async def test_a_cancel_frees_a_place_while_every_place_is_taken(
    autojump_clock: trio.testing.MockClock,
) -> None:
    started: list[Any] = []
    third = trio.Event()

    async def endless(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        started.append(ctx.request_id)
        if ctx.request_id == 3:
            third.set()
        await trio.sleep_forever()
        raise AssertionError

    a, b = pipe()
    session = Session(a, TableDispatcher({"tools/call": endless}), max_pending=2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run)
        for rid in (1, 2, 3):  # the third waits for a place
            await b.send(request(rid, "tools/call"))
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled"}
        await b.send(msgspec.json.encode({**cancel, "params": {"requestId": 1}}))
        with trio.move_on_after(3600):
            await third.wait()
        nursery.cancel_scope.cancel()
    assert started == [1, 2, 3]
