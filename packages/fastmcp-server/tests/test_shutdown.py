"""Stopping a server gracefully: ``Server.drain`` over in-memory connections.

(The process part, signals and terminals, runs in real processes:
tests-integration/test_lifecycle.py.)
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from server_support import connect

from fastmcp_core import McpContext
from fastmcp_protocol import McpError
from fastmcp_server import Server


def sleepy_server(marks: list[str]) -> Server:
    server = Server("sleepy", "1.0")

    @server.tool
    async def nap(seconds: float) -> str:
        """Sleep, then say so."""
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            marks.append(f"nap {seconds:g} cancelled at {trio.current_time():g}")
            raise
        return f"slept {seconds:g}"

    @server.tool
    async def save(ctx: McpContext, seconds: float) -> str:
        """A write that must not be cut: a masked section."""
        with ctx.masked():
            await trio.sleep(seconds)
            marks.append(f"saved at {trio.current_time():g}")
        await ctx.checkpoint()
        return "saved"

    return server


async def _outcome(client: Any, tool: str, **arguments: Any) -> Any:
    try:
        result = await client.call("tools/call", {"name": tool, "arguments": arguments})
    except McpError as error:
        return (error.code, error.message)
    return result["content"][0]["text"]


@pytest.mark.parametrize("modern", [False, True], ids=["2025-11-25", "2026-07-28"])
async def test_drain_answers_every_request_in_flight(
    autojump_clock: trio.testing.MockClock, modern: bool
) -> None:
    marks: list[str] = []
    server = sleepy_server(marks)
    outcomes: dict[str, Any] = {}
    async with connect(server, modern=modern) as c:

        async def call(key: str, tool: str, seconds: float) -> None:
            outcomes[key] = await _outcome(c, tool, seconds=seconds)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "quick", "nap", 2)
            nursery.start_soon(call, "slow", "nap", 600)
            nursery.start_soon(call, "masked", "save", 6)
            await trio.testing.wait_all_tasks_blocked()
            began = trio.current_time()
            await server.drain(5)
            assert trio.current_time() - began == pytest.approx(6, abs=0.01)
    assert outcomes == {
        "quick": "slept 2",  # finished within the grace
        "slow": (-32603, "Server is shutting down"),  # cancelled when it ended
        "masked": (-32603, "Server is shutting down"),  # its write ran to its end first
    }
    assert marks == [f"nap 600 cancelled at {began + 5:g}", f"saved at {began + 6:g}"]


async def test_drain_stops_reading_and_ends_the_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = sleepy_server([])
    async with connect(server) as c, trio.open_nursery() as nursery:
        outcomes: list[Any] = []

        async def call() -> None:
            outcomes.append(await _outcome(c, "nap", seconds=3))

        nursery.start_soon(call)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(server.drain, 10)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(McpError, match="Connection closed"):
            await c.call("ping")  # not read: it fails when the connection ends (at 3 s)
        assert outcomes == ["slept 3"]


async def test_drain_ends_listen_streams_at_once_as_usual(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = sleepy_server([])
    async with connect(server, modern=True) as c, trio.open_nursery() as nursery:
        results: list[Any] = []

        async def listen() -> None:
            results.append(
                await c.call("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
            )

        nursery.start_soon(listen)
        await trio.testing.wait_all_tasks_blocked()
        began = trio.current_time()
        await server.drain(30)
        assert trio.current_time() == began  # not a request to wait for
        (result,) = results
        assert "io.modelcontextprotocol/subscriptionId" in result["_meta"]


async def test_a_connection_opened_while_draining_is_drained_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = sleepy_server([])
    async with connect(server) as first, trio.open_nursery() as nursery:
        outcomes: list[Any] = []

        async def call() -> None:
            outcomes.append(await _outcome(first, "nap", seconds=600))

        nursery.start_soon(call)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(server.drain, 10)
        await trio.sleep(4)
        refused: list[str] = []
        try:
            async with connect(server) as late:  # its initialize is never read
                await late.call("ping")
        except* McpError as group:
            refused += [str(error) for error in group.exceptions]
        assert len(refused) == 1
        assert refused[0].startswith("Connection closed")
        await trio.sleep(7)
        assert outcomes == [(-32603, "Server is shutting down")]


async def test_drain_on_a_server_that_is_not_serving_changes_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = sleepy_server([])
    await server.drain(1)
    async with connect(server) as c:
        assert await _outcome(c, "nap", seconds=3) == "slept 3"
    # nor does a finished drain outlive the serving it stopped
    async with connect(server) as c, trio.open_nursery() as nursery:
        nursery.start_soon(server.drain, 1)
        await trio.sleep(2)
    async with connect(server) as c:
        assert await _outcome(c, "nap", seconds=3) == "slept 3"


# -- the process part, in this process (signals themselves: tests-integration) ----------


def test_an_interrupt_before_serving_is_one_line_and_status_130(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fastmcp_server._lifecycle import run_until_stopped

    async def serve(task_status: trio.TaskStatus[str]) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            raise KeyboardInterrupt  # as trio delivers one that lands before the receiver

    with pytest.raises(SystemExit) as exited:
        run_until_stopped(serve, grace=1, on_ready=print)
    assert exited.value.code == 130
    assert exited.value.__suppress_context__  # no traceback of the interrupt behind it
    assert capsys.readouterr().err == "fastmcp: interrupted (Ctrl-C) before the server was ready\n"


def test_a_failure_to_serve_is_raised_as_itself(capsys: pytest.CaptureFixture[str]) -> None:
    from fastmcp_server._lifecycle import run_until_stopped

    ready: list[str] = []

    async def serve(task_status: trio.TaskStatus[str]) -> None:
        task_status.started("somewhere")
        async with trio.open_nursery():
            raise OSError(98, "Address already in use")

    with pytest.raises(OSError, match="Address already in use"):
        run_until_stopped(serve, grace=1, on_ready=ready.append)
    assert ready == ["somewhere"]
    assert capsys.readouterr().err == ""


def test_serving_to_the_end_returns_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    from fastmcp_server._lifecycle import run_until_stopped

    async def serve(task_status: trio.TaskStatus[str]) -> None:
        task_status.started("stdio")

    run_until_stopped(serve, grace=1, on_ready=lambda where: None)
    assert capsys.readouterr().err == ""


def test_while_serving_the_objects_made_before_are_out_of_the_collectors_sight() -> None:
    # collections triggered by the requests' short-lived objects skip the modules,
    # classes and components of the server; back in sight once serving ends
    import gc

    from fastmcp_server._lifecycle import run_until_stopped

    frozen: list[int] = []

    async def serve(task_status: trio.TaskStatus[str]) -> None:
        task_status.started("stdio")
        for _ in range(3):  # the runner goes on once this task lets it
            await trio.lowlevel.checkpoint()
        frozen.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    run_until_stopped(serve, grace=1, on_ready=lambda where: None)
    assert frozen[0] > 10_000  # the interpreter's and the test run's objects
    assert gc.get_freeze_count() == 0


def test_run_refuses_what_the_transport_does_not_take() -> None:
    server = sleepy_server([])
    with pytest.raises(
        TypeError, match=r"stdio takes only shutdown_grace and on_ready, got \['port'\]"
    ):
        server.run("stdio", shutdown_grace=1, port=8000)
    with pytest.raises(ValueError, match="unknown transport 'pigeon'"):
        server.run("pigeon")  # type: ignore[arg-type]
