"""Every request, in both eras: tools (typed results), resources, prompts, completion,
pagination, progress, logging, timeouts, cancellation and errors."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from client_support import FakeServer, prompt_text, sent, text

from fastmcp_client import Client, ToolCallError
from fastmcp_core import McpContext, RequestTimeout, ToolError
from fastmcp_protocol import (
    CallToolResult,
    LoggingMessageNotificationParams,
    McpError,
    ProgressNotificationParams,
    PromptReference,
    ResourceTemplateReference,
    TextContent,
    TextResourceContents,
    UnexpectedResult,
)

ERAS = ["modern", "legacy"]


class Sum(msgspec.Struct):
    total: int
    terms: list[int]


async def add(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    total = args["a"] + args["b"]
    return CallToolResult(
        content=[TextContent(text=str(total))],
        structured_content={"total": total, "terms": [args["a"], args["b"]]},
    )


async def fail(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    raise ToolError("the disk is full")


async def wrapped(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(text="42")], structured_content={"result": 42})


async def json_text(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    return text('{"total": 3, "terms": [1, 2]}')


async def progress(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    for step in range(1, 4):
        await ctx.report_progress(step, 3, f"step {step}")
        await ctx.info({"step": step})
    return text("done")


async def slow(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    for _ in range(args.get("steps", 1000)):
        await trio.sleep(1)
        if args.get("report"):
            await ctx.report_progress(1)
    return text("slow done")


def server(era: Any) -> FakeServer:
    fake = FakeServer(era=era)
    for name, fn in {
        "add": add,
        "fail": fail,
        "wrapped": wrapped,
        "json_text": json_text,
        "progress": progress,
        "slow": slow,
    }.items():
        fake.tool(name, fn)
    fake.resources = {"mem://a": "A", "mem://b": "B", "mem://c": "C"}

    async def greet(ctx: McpContext, args: dict[str, str]) -> Any:
        return prompt_text(f"Hello {args['name']}")

    fake.prompts = {"greet": greet}
    return fake


@pytest.mark.parametrize("era", ERAS)
async def test_call_tool_returns_the_result_and_decodes_structured_content(era: str) -> None:
    async with Client(server(era)) as client:
        result = await client.call_tool("add", {"a": 1, "b": 2})
        assert result.structured_content == {"total": 3, "terms": [1, 2]}
        assert await client.call_tool("add", {"a": 1, "b": 2}, result_type=Sum) == Sum(3, [1, 2])
        assert await client.call_tool("wrapped", result_type=int) == 42
        assert await client.call_tool("json_text", result_type=Sum) == Sum(3, [1, 2])


@pytest.mark.parametrize("era", ERAS)
async def test_a_failed_tool_is_a_result_or_a_clear_error(era: str) -> None:
    async with Client(server(era)) as client:
        result = await client.call_tool("fail")
        assert result.is_error
        assert result.content == [TextContent(text="the disk is full")]
        with pytest.raises(ToolCallError, match="'fail' failed: the disk is full") as caught:
            await client.call_tool("fail", result_type=Sum)
        assert caught.value.result == result


async def test_structured_content_that_does_not_fit_is_an_unexpected_result() -> None:
    async with Client(server("modern")) as client:
        with pytest.raises(UnexpectedResult, match="does not fit str"):
            await client.call_tool("add", {"a": 1, "b": 2}, result_type=str)
        with pytest.raises(UnexpectedResult, match="not JSON of int"):
            await client.call_tool("progress", result_type=int)


async def test_a_text_result_is_a_str_as_it_is() -> None:
    async with Client(server("modern")) as client:
        assert await client.call_tool("progress", result_type=str) == "done"
        assert (
            await client.call_tool("json_text", result_type=str) == '{"total": 3, "terms": [1, 2]}'
        )


@pytest.mark.parametrize("era", ERAS)
async def test_errors_from_the_server_are_mcp_errors(era: str) -> None:
    async with Client(server(era)) as client:
        with pytest.raises(McpError) as caught:
            await client.call_tool("nope")
        assert caught.value.code == -32602
        assert "Unknown tool: nope" in caught.value.message
        with pytest.raises(McpError) as caught:
            await client.read_resource("mem://missing")
        assert caught.value.code == -32602


@pytest.mark.parametrize("era", ERAS)
async def test_resources_prompts_and_completion(era: str) -> None:
    async with Client(server(era)) as client:
        listed = await client.list_resources()
        assert [r.uri for r in listed.resources] == ["mem://a", "mem://b", "mem://c"]
        read = await client.read_resource("mem://b")
        assert read.contents == [TextResourceContents(uri="mem://b", text="B")]
        templates = await client.list_all_resource_templates()
        assert [t.uri_template for t in templates] == ["mem://{name}"]
        assert [p.name for p in await client.list_all_prompts()] == ["greet"]
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        assert prompt.messages[0].content == TextContent(text="Hello Ada")
        done = await client.complete(PromptReference(name="greet"), "name", "al")
        assert done.completion.values == ["alpha", "alpine"]
        done = await client.complete(ResourceTemplateReference(uri="mem://{name}"), "name", "b")
        assert done.completion.values == ["beta"]


@pytest.mark.parametrize("era", ERAS)
async def test_list_all_follows_every_cursor(era: str) -> None:
    fake = server(era)
    fake.page_size = 2
    async with Client(fake) as client:
        page = await client.list_tools()
        assert len(page.tools) == 2
        assert page.next_cursor == "2"
        tools = await client.list_all_tools()
        resources = await client.list_all_resources()
    assert [t.name for t in tools] == ["add", "fail", "wrapped", "json_text", "progress", "slow"]
    assert [r.uri for r in resources] == ["mem://a", "mem://b", "mem://c"]
    cursors = [p.get("cursor") for p in sent(fake, "tools/list")]
    assert cursors == [None, None, "2", "4"]


async def test_a_repeated_cursor_stops_pagination() -> None:
    fake = server("modern")
    original = fake._tools_list

    async def stuck(ctx: McpContext, params: dict[str, Any]) -> Any:
        result = await original(ctx, params)
        return msgspec.structs.replace(result, next_cursor="")  # "" is a cursor too

    fake._tools_list = stuck  # type: ignore[method-assign]
    async with Client(fake) as client:
        with pytest.raises(UnexpectedResult, match="repeated the pagination cursor ''"):
            await client.list_all_tools()
    assert len(sent(fake, "tools/list")) == 2


@pytest.mark.parametrize("era", ERAS)
async def test_progress_and_log_messages_reach_their_callbacks(era: str) -> None:
    updates: list[ProgressNotificationParams] = []
    logs: list[LoggingMessageNotificationParams] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        updates.append(params)

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with Client(server(era), log_handler=on_log, log_level="info") as client:
        result = await client.call_tool("progress", on_progress=on_progress)
    assert result.content == [TextContent(text="done")]
    assert [(p.progress, p.total, p.message) for p in updates] == [
        (1, 3, "step 1"),
        (2, 3, "step 2"),
        (3, 3, "step 3"),
    ]
    assert [(entry.level, entry.data) for entry in logs] == [
        ("info", {"step": i}) for i in (1, 2, 3)
    ]


async def test_without_a_log_level_a_modern_server_sends_no_logs() -> None:
    logs: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with Client(server("modern"), log_handler=on_log) as client:
        await client.call_tool("progress")
    assert logs == []


async def test_default_log_handler_uses_python_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="fastmcp.server_log")
    async with Client(server("legacy"), log_level="info") as client:
        await client.call_tool("progress")
    assert [r.getMessage() for r in caplog.records if r.name == "fastmcp.server_log"] == [
        "{'step': 1}",
        "{'step': 2}",
        "{'step': 3}",
    ]


@pytest.mark.parametrize("era", ERAS)
async def test_a_request_times_out_and_the_server_is_told(
    era: str, autojump_clock: trio.testing.MockClock
) -> None:
    fake = server(era)
    async with Client(fake, request_timeout=30) as client:
        started = trio.current_time()
        with pytest.raises(RequestTimeout, match="tools/call timed out after 30 s"):
            await client.call_tool("slow")
        assert trio.current_time() - started == pytest.approx(30)
        with pytest.raises(RequestTimeout):
            await client.call_tool("slow", timeout=5)
        await trio.sleep(1)
    assert fake.cancelled == ["tools/call", "tools/call"]


async def test_progress_can_keep_a_request_alive(autojump_clock: trio.testing.MockClock) -> None:
    async def on_progress(params: ProgressNotificationParams) -> None:
        pass

    fake = server("modern")
    async with Client(fake, request_timeout=5, reset_timeout_on_progress=True) as client:
        result = await client.call_tool(
            "slow", {"steps": 20, "report": True}, on_progress=on_progress
        )
    assert result.content == [TextContent(text="slow done")]


@pytest.mark.parametrize("era", ERAS)
async def test_leaving_a_cancel_scope_cancels_the_call(
    era: str, autojump_clock: trio.testing.MockClock
) -> None:
    fake = server(era)
    async with Client(fake) as client:
        with trio.move_on_after(3) as scope:
            await client.call_tool("slow")
        assert scope.cancelled_caught
        # the connection is still good
        assert (await client.call_tool("add", {"a": 2, "b": 2}, result_type=Sum)).total == 4
    assert fake.cancelled == ["tools/call"]


async def test_calls_run_concurrently() -> None:
    async with Client(server("modern")) as client:
        results: list[int] = []

        async def one(i: int) -> None:
            results.append((await client.call_tool("add", {"a": i, "b": 0}, result_type=Sum)).total)

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(one, i)
    assert sorted(results) == list(range(20))


async def test_meta_entries_of_the_caller_are_sent() -> None:
    fake = server("modern")
    async with Client(fake) as client:
        await client.call_tool("add", {"a": 1, "b": 1}, meta={"com.example/trace": "t-1"})
    meta = sent(fake, "tools/call")[0]["_meta"]
    assert meta["com.example/trace"] == "t-1"
    assert meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"


@pytest.mark.parametrize("era", ERAS)
async def test_plain_functions_are_callbacks_too(
    era: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``def`` on_progress / log_handler is called inline, in order, and nothing
    fails; a lambda that returns a coroutine has it awaited."""
    updates: list[float] = []
    logs: list[Any] = []
    awaited: list[float] = []

    def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def record(params: ProgressNotificationParams) -> None:
        awaited.append(params.progress)

    async with Client(server(era), log_handler=on_log, log_level="info") as client:
        await client.call_tool("progress", on_progress=lambda p: updates.append(p.progress))
        await client.call_tool("progress", on_progress=lambda p: record(p))
    assert updates == [1, 2, 3]
    assert awaited == [1, 2, 3]
    assert logs == [{"step": i} for i in (1, 2, 3)] * 2
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
