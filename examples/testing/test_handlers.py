"""Testing handlers: call them directly with a testing context, or through a client.

    pytest examples/testing

A decorated handler is still the plain function, so a unit test calls it with
``McpContext.for_testing()``: a context that records progress and log messages and
answers the handler's questions to the client. ``Client(server)`` runs the whole server
in-process over a memory transport: schemas, argument checking, results and errors are
exactly what a real client would see, with no process and no socket. Tests that involve
time run on trio's mock clock (``autojump_clock``), so they are fast and deterministic.
"""

import pytest
import trio
import trio.testing
from budget_aware import search
from dependencies import Notes, add_note
from dependencies import server as notes_server
from parallel_fetch import parallel_fetch
from process_items import process_items
from process_items import server as items_server
from quickstart import add

from fastmcp import Budget, Client, McpContext, ToolCallError


async def test_a_handler_is_a_plain_function() -> None:
    ctx = McpContext.for_testing()
    assert await add(ctx, 2, 3) == "5"


async def test_progress_is_recorded(autojump_clock: trio.testing.MockClock) -> None:
    ctx = McpContext.for_testing()
    assert await process_items(ctx, ["a", "b"]) == ["A", "B"]
    assert [(p.progress, p.total) for p in ctx.progress] == [(0, 2), (1, 2), (2, 2)]
    assert ctx.progress[-1].message == "done"


async def test_injected_dependencies_are_ordinary_arguments() -> None:
    notes = Notes()
    ctx = McpContext.for_testing()
    assert await add_note(ctx, notes, "buy milk") == 1
    assert notes.items == ["buy milk"]
    assert [log.data for log in ctx.logs] == ["stored note 1"]


async def test_spawned_children_need_the_context_region(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with McpContext.for_testing() as ctx:  # a nursery for ctx.spawn
        pages = await parallel_fetch(ctx, ["a://1", "b://2"])
    assert pages == {"a://1": "<contents of a://1>", "b://2": "<contents of b://2>"}


async def test_a_handler_adapts_to_its_budget(autojump_clock: trio.testing.MockClock) -> None:
    budget = Budget(deadline=trio.current_time() + 0.55)  # barely more than it keeps back
    async with McpContext.for_testing(budget=budget) as ctx:
        answer = await search(ctx, "trio")
    assert answer.startswith("searched 'trio' 5 levels deep")


async def test_through_the_in_memory_client() -> None:
    async with Client(items_server) as client:
        tools = {tool.name: tool for tool in await client.list_all_tools()}
        assert tools["process_items"].input_schema["required"] == ["items"]
        assert await client.call_tool("process_items", {"items": ["x"]}, result_type=list[str]) == [
            "X"
        ]


async def test_the_lifespan_runs_around_the_client(autojump_clock: trio.testing.MockClock) -> None:
    async with Client(notes_server) as client:
        assert await client.call_tool("add_note", {"text": "one"}, result_type=int) == 1
        assert await client.call_tool("list_notes", result_type=list[str]) == ["one"]


async def test_bad_arguments_are_refused_before_the_handler_runs() -> None:
    async with Client(items_server) as client:
        result = await client.call_tool("process_items", {"items": "not a list"})
        assert result.is_error
        with pytest.raises(ToolCallError):
            await client.call_tool("process_items", {"items": 3}, result_type=list[str])


async def test_cancelling_a_call_stops_the_handler(autojump_clock: trio.testing.MockClock) -> None:
    async with Client(items_server) as client:
        with trio.move_on_after(0.025) as scope:  # three items in, of a thousand
            await client.call_tool("process_items", {"items": ["x"] * 1000})
        assert scope.cancelled_caught
        assert await client.call_tool("process_items", {"items": ["y"]}, result_type=list[str]) == [
            "Y"
        ]
