"""Callers that read their own responses on stdio (``SharedReadTransport``), for real.

A client's caller that finds nobody reading reads its response itself; anything else
goes back to the session's reader, in order. These tests drive a scripted child
(``scripted_child.py``) and check what a user sees: the right answers, notifications
and server requests handled in their order, nothing lost when a reading caller is
cancelled, times out or sees the end of input.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from fastmcp_core import ConnectionClosed, McpContext, RequestTimeout, Session, SharedReadTransport
from fastmcp_protocol import (
    CallToolResult,
    JSONRPCNotification,
    JSONRPCRequest,
    ProgressNotificationParams,
    Result,
    TextContent,
)
from fastmcp_transport import stdio_client

CHILD = [sys.executable, str(Path(__file__).with_name("scripted_child.py"))]
GUARD = 20  # seconds: only against a hang, never a timing assertion


class Recorder:
    """The client side's dispatcher: answers ``ping``, keeps every notification."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.noted = trio.Event()

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Any:
        assert request.method == "ping"
        self.log.append("ping")

        async def answer() -> Result:
            return Result()

        return answer

    async def notification(self, note: JSONRPCNotification) -> None:
        self.log.append(f"note {note.method}")
        self.noted.set()


@asynccontextmanager
async def session_on_child(log: list[str]) -> AsyncIterator[tuple[Session, Recorder]]:
    recorder = Recorder(log)
    async with stdio_client(CHILD, shutdown_timeout=GUARD) as transport, trio.open_nursery() as n:
        assert isinstance(transport, SharedReadTransport)
        assert transport.shares_reading
        session = Session(transport, recorder, drain_on_eof=None)
        await n.start(session.run)
        try:
            yield session, recorder
        finally:
            await session.aclose()


async def test_sequential_calls_get_their_answers_and_notifications_keep_their_order() -> None:
    log: list[str] = []
    with trio.fail_after(GUARD):
        async with session_on_child(log) as (session, recorder):
            for n in range(50):
                assert await session.request("echo", {"n": n}, dict) == {"n": n}
            assert await session.request("note_first", {}, dict) == {"after": "note"}
            log.append("answered")
            assert log == ["note notifications/message", "answered"]
            # a notification that comes while no call waits is read all the same
            log.clear()
            recorder.noted = trio.Event()
            assert await session.request("note_after", {}, dict) == {}
            await recorder.noted.wait()
            assert log == ["note notifications/message"]
            assert await session.request("echo", {"still": "here"}, dict) == {"still": "here"}


async def test_progress_and_server_requests_are_handled_before_the_answer() -> None:
    log: list[str] = []
    steps: list[float] = []

    def on_progress(params: ProgressNotificationParams) -> None:
        steps.append(params.progress)

    with trio.fail_after(GUARD):
        async with session_on_child(log) as (session, _):
            assert await session.request("echo", {}, dict) == {}  # callers read from now on
            assert await session.request("progress", {}, dict, on_progress=on_progress) == {
                "steps": 3
            }
            assert steps == [1, 2, 3]
            assert await session.request("ask_first", {}, dict) == {"asked": True}
            assert log == ["ping"]
            assert await session.request("echo", {"n": 1}, dict) == {"n": 1}


async def test_concurrent_calls_answered_out_of_order_each_get_their_own() -> None:
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            answers: dict[int, Any] = {}

            async def later(index: int) -> None:
                answers[index] = await session.request("later", {}, dict)

            async with trio.open_nursery() as nursery:
                for index in range(5):
                    nursery.start_soon(later, index)
                await trio.testing.wait_all_tasks_blocked()
                assert await session.request("flush", {}, dict) == {"flushed": True}
            ids = [answer["held"] for answer in answers.values()]
            assert len(set(ids)) == 5  # five answers, each to its own request
            assert await session.request("echo", {"n": 2}, dict) == {"n": 2}


async def test_a_cancelled_reading_caller_loses_no_frame_and_tells_the_peer() -> None:
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            assert await session.request("echo", {}, dict) == {}  # callers read from now on
            held: list[Any] = []

            async def hang(scope: trio.CancelScope) -> None:
                with scope:
                    await session.request("hang", {"tag": "first"}, dict)

            async def later() -> None:
                held.append(await session.request("later", {}, dict))

            async with trio.open_nursery() as nursery:
                scope = trio.CancelScope()
                nursery.start_soon(hang, scope)  # the first to wait reads for itself
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(later)  # waits for someone else to read its answer
                await trio.testing.wait_all_tasks_blocked()
                scope.cancel()  # the reading caller leaves: the other one still hears
                await trio.testing.wait_all_tasks_blocked()
                assert await session.request("flush", {}, dict) == {"flushed": True}
            assert len(held) == 1
            assert "held" in held[0]
            assert await session.request("cancelled", {}, dict) == {"tags": ["first"]}


async def test_a_reading_caller_times_out_and_the_next_call_goes_on(
    mock_clock: trio.testing.MockClock,
) -> None:
    async with session_on_child([]) as (session, _):
        assert await session.request("echo", {}, dict) == {}
        async with trio.open_nursery() as nursery:

            async def hang() -> None:
                with pytest.raises(RequestTimeout):
                    await session.request("hang", {"tag": "slow"}, dict, timeout=5)

            nursery.start_soon(hang)
            await trio.testing.wait_all_tasks_blocked()  # it reads, waiting for the child
            mock_clock.jump(6)
        assert await session.request("cancelled", {}, dict) == {"tags": ["slow"]}


@pytest.mark.parametrize(
    "method",
    [
        "hang",  # it reads for itself until it times out
        "note_then_hang",  # a notification: it gives the turn back and waits for the reader
    ],
)
async def test_a_reading_caller_times_out_at_its_deadline_before_an_earlier_calls(
    method: str, mock_clock: trio.testing.MockClock
) -> None:
    """The deadline watcher sleeps until the deadline of a call answered before (the
    answered ones linger until their deadline): a caller that reads for itself with
    an earlier deadline wakes it, and is still timed once it waits for the reader."""
    log: list[str] = []
    async with session_on_child(log) as (session, _):
        for _ in range(2):  # the first call is read by the reader, the next by its caller
            assert await session.request("echo", {}, dict, timeout=100) == {}
        outcome: list[str] = []

        async def slow() -> None:
            try:
                await session.request(method, {"tag": method}, dict, timeout=5)
            except RequestTimeout as exc:
                outcome.append(str(exc))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow)
            await trio.testing.wait_all_tasks_blocked()  # waiting for the child
            mock_clock.jump(4)
            await trio.testing.wait_all_tasks_blocked()
            assert outcome == []
            mock_clock.jump(2)  # past its deadline, long before the earlier calls'
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()  # not timed out: fail below, do not hang
        assert outcome == [f"{method} timed out after 5 s (code -32001)"]
        assert await session.request("cancelled", {}, dict) == {"tags": [method]}
        assert log == (["note notifications/message"] if method == "note_then_hang" else [])


async def test_the_end_of_input_reaches_a_reading_caller_and_everyone_waiting() -> None:
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            assert await session.request("echo", {}, dict) == {}
            failures: list[str] = []

            async def later() -> None:
                with pytest.raises(ConnectionClosed) as info:
                    await session.request("later", {}, dict)
                failures.append(str(info.value))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(later)
                await trio.testing.wait_all_tasks_blocked()
                with pytest.raises(ConnectionClosed, match="exited with code 0"):
                    await session.request("bye", {}, dict)
            assert len(failures) == 1
            assert "exited with code 0" in failures[0]


async def test_an_expected_result_comes_typed_and_anything_else_raw() -> None:
    text = {"content": [{"type": "text", "text": "hi"}]}
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            for _ in range(2):  # the first call is read by the reader, the next by its caller
                got = await session.request("echo", text, msgspec.Raw, expect=CallToolResult)
                assert got == CallToolResult(content=[TextContent(text="hi")])
            not_complete = {**text, "resultType": "input_required"}
            got = await session.request("echo", not_complete, msgspec.Raw, expect=CallToolResult)
            assert isinstance(got, msgspec.Raw)
            assert msgspec.json.decode(got) == not_complete
            got = await session.request("echo", {"n": 1}, msgspec.Raw, expect=CallToolResult)
            assert isinstance(got, msgspec.Raw)
            assert msgspec.json.decode(got) == {"n": 1}
            # waiting for the reader, not reading: the same answers
            answers: list[Any] = []

            async def later() -> None:
                answers.append(await session.request("later", {}, msgspec.Raw, expect=Result))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(later)
                await trio.testing.wait_all_tasks_blocked()
                got = await session.request("echo", text, msgspec.Raw, expect=CallToolResult)
                assert got == CallToolResult(content=[TextContent(text="hi")])
                assert await session.request("flush", {}, dict) == {"flushed": True}
            assert [type(answer) for answer in answers] == [Result]


async def test_expect_with_a_typed_result_type_is_refused_whoever_would_read() -> None:
    """``expect`` goes with ``msgspec.Raw`` only: otherwise a caller reading its own
    response would get an ``expect`` and one the reader answers a ``result_type``."""
    text = {"content": [{"type": "text", "text": "hi"}]}
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            for _ in range(2):  # the first call is read by the reader, the next by its caller
                expect: Any = CallToolResult  # what the overloads refuse
                with pytest.raises(TypeError, match=r"expect= goes with result_type msgspec\.Raw"):
                    await session.request("echo", text, dict, expect=expect)
                assert await session.request("echo", text, dict) == text


async def test_a_null_result_is_none_also_for_a_caller_reading_its_own_response() -> None:
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            for _ in range(2):  # the first call is read by the reader, the next by its caller
                assert await session.request("null", {}, Any) is None
                assert await session.request("null", {}, dict[str, int] | None) is None
            got = await session.request("null", {}, msgspec.Raw, expect=CallToolResult)
            assert isinstance(got, msgspec.Raw)
            assert bytes(got) == b"null"


class NotAMessageType:
    """A result type msgspec cannot decode into (``fastmcp_protocol``'s decode hook
    knows no such type)."""


async def test_a_result_type_that_cannot_be_decoded_costs_no_other_caller_its_answer() -> None:
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            assert await session.request("echo", {}, dict) == {}  # callers read from now on
            async with trio.open_nursery() as nursery:
                scope = trio.CancelScope()

                async def hang() -> None:
                    with scope:
                        await session.request("hang", {"tag": "odd"}, NotAMessageType)

                nursery.start_soon(hang)  # reads for itself: it reads the next answer too
                await trio.testing.wait_all_tasks_blocked()
                assert await session.request("echo", {"n": 1}, dict) == {"n": 1}
                scope.cancel()
            assert await session.request("cancelled", {}, dict) == {"tags": ["odd"]}
            with pytest.raises(NotImplementedError, match="NotAMessageType"):
                await session.request("echo", {}, NotAMessageType)  # its caller learns why


async def test_requests_bigger_than_the_pipe_are_written_whole_and_in_order() -> None:
    big = "x" * (1 << 20)  # far more than a pipe holds: written in pieces
    with trio.fail_after(GUARD):
        async with session_on_child([]) as (session, _):
            answers: dict[int, Any] = {}

            async def echo(n: int) -> None:
                answers[n] = await session.request("echo", {"n": n, "big": big}, dict)

            async with trio.open_nursery() as nursery:
                for n in range(3):  # the others queue while the first is written
                    nursery.start_soon(echo, n)
            assert answers == {n: {"n": n, "big": big} for n in range(3)}
            assert await session.request("echo", {"n": 9}, dict) == {"n": 9}
