"""Tool calls as tasks: the 2026 tasks extension and the 2025-11-25 tasks, one handle."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from client_support import FakeServer, FakeTask, sent, text

from fastmcp_client import Client, ClientError, TaskFailed, ToolCallError
from fastmcp_protocol import (
    CallToolResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    McpError,
    TextContent,
)

ERAS = ["modern", "legacy"]


class Out(msgspec.Struct):
    value: int


async def compute(task: FakeTask, args: dict[str, Any]) -> CallToolResult:
    await trio.sleep(args.get("seconds", 1))
    return CallToolResult(content=[TextContent(text="computed")], structured_content={"value": 7})


async def broken(task: FakeTask, args: dict[str, Any]) -> CallToolResult:
    await trio.sleep(0.5)
    raise McpError(-32603, "Internal error: the job exploded")


async def tool_failure(task: FakeTask, args: dict[str, Any]) -> CallToolResult:
    await trio.sleep(0.5)
    return text("Job failed: no input", is_error=True)


async def confirm(task: FakeTask, args: dict[str, Any]) -> CallToolResult:
    form = {
        "type": "object",
        "properties": {"confirm": {"type": "boolean"}, "name": {"type": "string"}},
    }
    first, second = await _both(task, form)
    return text(f"confirmed={first['content']['confirm']} name={second['content']['name']}")


async def _both(task: FakeTask, form: dict[str, Any]) -> tuple[Any, Any]:
    answers: dict[str, Any] = {}

    async def one(key: str, message: str) -> None:
        request = {
            "method": "elicitation/create",
            "params": {"message": message, "requestedSchema": form},
        }
        answers[key] = await task.ask(key, request)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one, "a", "Sure?")
        nursery.start_soon(one, "b", "Name?")
    return answers["a"], answers["b"]


async def answer(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True, "name": "Ada"})


def server(era: str) -> FakeServer:
    fake = FakeServer(era=era)  # type: ignore[arg-type]
    fake.task_tool("compute", compute)
    fake.task_tool("broken", broken)
    fake.task_tool("tool_failure", tool_failure)
    fake.task_tool("confirm", confirm)
    fake.task_tool("must", compute, task_support="required")
    return fake


@pytest.mark.parametrize("era", ERAS)
async def test_a_task_handle_polls_to_the_result(
    era: str, autojump_clock: trio.testing.MockClock
) -> None:
    fake = server(era)
    async with Client(fake) as client:
        handle = await client.call_tool_task("compute", {"seconds": 2})
        assert handle.task_id == "task-1"
        assert handle.state is not None
        assert handle.state.status == "working"
        assert (await handle.status()).status == "working"
        result = await handle.result()
        assert result.content == [TextContent(text="computed")]
        typed = await client.call_tool_task("compute", result_type=Out)
        assert await typed.result() == Out(7)
    polls = sent(fake, "tasks/get")
    # 2 s at the server's 100 ms interval: polled, not hammered, not forgotten
    assert 5 <= len([p for p in polls if p["taskId"] == "task-1"]) <= 25


async def test_modern_call_tool_follows_a_task_the_server_chose(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = server("modern")
    async with Client(fake) as client:
        result = await client.call_tool("compute", {"seconds": 1})
        assert result.content == [TextContent(text="computed")]
        assert await client.call_tool("compute", result_type=Out) == Out(7)
    meta = sent(fake, "tools/call")[0]["_meta"]
    assert meta["io.modelcontextprotocol/clientCapabilities"]["extensions"] == {
        "io.modelcontextprotocol/tasks": {}
    }


async def test_without_the_extension_the_server_answers_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = server("modern")
    async with Client(fake, tasks=False) as client:
        result = await client.call_tool("compute", {"seconds": 1})
        assert result.content == [TextContent(text="computed")]
        assert not fake.tasks
        # an explicit task call opts in for that request only
        handle = await client.call_tool_task("compute", {"seconds": 1})
        assert handle.task_id is not None
        assert (await handle.result()).content == [TextContent(text="computed")]


async def test_a_legacy_server_without_task_support_gives_an_immediate_handle() -> None:
    fake = server("legacy")
    original = fake.capabilities
    fake.capabilities = lambda modern: msgspec.structs.replace(original(modern), tasks=None)  # type: ignore[method-assign]
    async with Client(fake) as client:
        handle = await client.call_tool_task("compute", {"seconds": 0})
        assert handle.task_id is None
        assert (await handle.result()).content == [TextContent(text="computed")]
        await handle.cancel()  # nothing to cancel
        with pytest.raises(ClientError, match="did not run as a task"):
            await handle.status()
    assert "task" not in sent(fake, "tools/call")[0]


@pytest.mark.parametrize("era", ERAS)
async def test_failures_of_a_task(era: str, autojump_clock: trio.testing.MockClock) -> None:
    async with Client(server(era)) as client:
        failed_tool = await (await client.call_tool_task("tool_failure")).result()
        assert failed_tool.is_error
        with pytest.raises(ToolCallError, match="Job failed"):
            await (await client.call_tool_task("tool_failure", result_type=Out)).result()
        with pytest.raises(McpError) as caught:
            await (await client.call_tool_task("broken")).result()
    assert caught.value.code == -32603
    assert "the job exploded" in caught.value.message
    if era == "modern":
        assert isinstance(caught.value, TaskFailed)
        assert caught.value.status == "failed"


@pytest.mark.parametrize("era", ERAS)
async def test_cancelling_a_task(era: str, autojump_clock: trio.testing.MockClock) -> None:
    fake = server(era)
    async with Client(fake) as client:
        handle = await client.call_tool_task("compute", {"seconds": 60})
        await handle.cancel()
        assert (await handle.status()).status == "cancelled"
        with pytest.raises(TaskFailed) as caught:
            await handle.result()
    assert caught.value.status == "cancelled"
    assert fake.tasks["task-1"].status == "cancelled"


async def test_modern_task_input_is_answered_with_tasks_update(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = server("modern")
    async with Client(fake, elicitation_handler=answer) as client:
        result = await client.call_tool("confirm")
    assert result.content == [TextContent(text="confirmed=True name=Ada")]
    updates = sent(fake, "tasks/update")
    answered = sorted(key for update in updates for key in update["inputResponses"])
    assert answered == ["a", "b"]
    for update in updates:
        assert update["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"


async def test_leaving_a_cancel_scope_cancels_a_task_call_tool_waits_for(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = server("modern")
    async with Client(fake) as client:
        with trio.move_on_after(5):
            await client.call_tool("compute", {"seconds": 600})
        assert fake.tasks["task-1"].status == "cancelled"
    assert len(sent(fake, "tasks/cancel")) == 1


async def test_legacy_tasks_are_asked_for_and_listed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = server("legacy")
    async with Client(fake) as client:
        handle = await client.call_tool_task("compute", {"seconds": 1}, ttl_ms=5000)
        await handle.result()
        listed = await client.list_tasks()
        assert [t.task_id for t in listed.tasks] == ["task-1"]
        # a tool that requires a task is called as one once the client has seen it listed
        await client.list_tools()
        result = await client.call_tool("must", {"seconds": 1})
        assert result.content == [TextContent(text="computed")]
    calls = sent(fake, "tools/call")
    assert calls[0]["task"] == {"ttl": 5000}
    assert calls[1]["task"] == {}
    assert len(sent(fake, "tasks/result")) == 2
