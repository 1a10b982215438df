"""Middleware: typed hooks per operation, run before routing, beside the function
spelling; checked on the wire."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from server_support import connect

from fastmcp_core import McpContext, ProtocolError, ToolError
from fastmcp_protocol import CallToolRequestParams, CallToolResult, ListToolsResult, TextContent
from fastmcp_server import Component, Middleware, MiddlewareContext, NextHook, Server

ERAS = pytest.mark.parametrize("modern", [False, True], ids=["legacy", "modern"])


def demo(*middleware: Any) -> Server:
    server = Server("mw", middleware=list(middleware))

    @server.tool(tags={"search"})
    async def search(query: str, limit: int = 3) -> str:
        return f"{query}:{limit}"

    @server.tool(tags={"private"})
    async def secret() -> str:
        return "secret"

    @server.prompt
    def review(code: str) -> str:
        return f"Review {code}"

    @server.resource("data://motd")
    def motd() -> str:
        return "hello"

    return server


class Recorder(Middleware):
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def on_message(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        self.seen.append(f"message {context.method} {context.type}")
        return await call_next(context)

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        self.seen.append(f"request {context.method}")
        return await call_next(context)

    async def on_notification(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        self.seen.append(f"notification {context.method}")
        return await call_next(context)

    async def on_call_tool(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        message = context.message
        self.seen.append(f"call {message.name} {message.arguments} {context.name}")
        return await call_next(context)

    async def on_read_resource(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        self.seen.append(f"read {context.message.uri}")
        return await call_next(context)

    async def on_get_prompt(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        self.seen.append(f"prompt {context.message.name} {context.arguments}")
        return await call_next(context)

    async def on_initialize(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        self.seen.append(f"initialize {context.message.client_info.name}")
        return await call_next(context)


async def test_hooks_run_from_general_to_specific_and_see_names_and_arguments() -> None:
    recorder = Recorder()
    async with connect(demo(recorder)) as client:
        await client.call("tools/call", {"name": "search", "arguments": {"query": "q"}})
        await client.call("prompts/get", {"name": "review", "arguments": {"code": "x"}})
        await client.call("resources/read", {"uri": "data://motd"})
    assert recorder.seen == [
        "message initialize request",
        "request initialize",
        "initialize test",
        "message notifications/initialized notification",
        "notification notifications/initialized",
        "message ping request",
        "request ping",
        "message tools/call request",
        "request tools/call",
        "call search {'query': 'q'} search",
        "message prompts/get request",
        "request prompts/get",
        "prompt review {'code': 'x'}",
        "message resources/read request",
        "request resources/read",
        "read data://motd",
    ]


class Gate(Middleware):
    """Answers calls of tools that do not exist, denies private ones."""

    async def on_call_tool(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        component = context.component
        if component is None and context.name == "ghost":
            return CallToolResult(content=[TextContent(text="boo")])
        if component is not None and "private" in component.tags:
            raise ToolError("Access denied: private tool")
        return await call_next(context)


@ERAS
async def test_middleware_runs_before_routing(modern: bool) -> None:
    async with connect(demo(Gate()), modern=modern) as client:
        answered = await client.call("tools/call", {"name": "ghost"})
        assert answered["content"][0]["text"] == "boo"  # no such tool: the middleware answers
        denied = await client.call("tools/call", {"name": "secret"})
        assert denied["isError"] is True
        assert denied["content"][0]["text"] == "Access denied: private tool"
        unknown = await client.error("tools/call", {"name": "nope"})  # passed on: routed
        assert (unknown.code, unknown.message) == (-32602, "Unknown tool: nope")


class Rewriter(Middleware):
    async def on_call_tool(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        message = context.message
        if message.name == "search":
            message.arguments["query"] = message.arguments["query"].strip().lower()
        if message.name == "find":  # an alias: route it to another tool
            renamed = CallToolRequestParams(name="search", arguments={"query": "found"})
            return await call_next(context.copy(message=renamed))
        return await call_next(context)


async def test_what_a_middleware_changes_is_what_is_routed() -> None:
    async with connect(demo(Rewriter())) as client:
        result = await client.call("tools/call", {"name": "search", "arguments": {"query": " Q "}})
        assert result["content"][0]["text"] == "q:3"
        result = await client.call("tools/call", {"name": "find"})
        assert result["content"][0]["text"] == "found:3"


class HidePrivate(Middleware):
    async def on_list_tools(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        tools: list[Component] = await call_next(context)
        return [tool for tool in tools if "private" not in tool.tags]


async def test_list_hooks_filter_components_and_the_server_pages_the_rest() -> None:
    seen: list[Any] = []

    async def plain(ctx: McpContext, call_next: Any) -> Any:
        result = await call_next()
        seen.append(result)
        return result

    server = demo(plain, HidePrivate())
    server.registry.page_size = 1
    async with connect(server) as client:
        first = await client.call("tools/list")
        assert [t["name"] for t in first["tools"]] == ["search"]
        assert "nextCursor" not in first  # the private tool is gone from the list
    assert [c.name for c in seen[-1]] == ["search"]  # functions see the list too

    async def replaced(ctx: McpContext, call_next: Any) -> Any:
        await call_next()
        return ListToolsResult(tools=[])  # a result struct of its own goes out as it is

    async with connect(demo(replaced)) as client:
        assert (await client.call("tools/list"))["tools"] == []


class Refuse(Middleware):
    def __init__(self) -> None:
        self.refused = 0

    async def on_initialize(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        if self.refused == 0:
            self.refused += 1
            raise ProtocolError(-32000, "Client not supported")
        result = await call_next(context)
        return msgspec.structs.replace(result, instructions="Custom instructions")


async def test_on_initialize_may_refuse_a_client_or_change_the_answer() -> None:
    server = demo(Refuse())
    async with connect(server, initialize=False) as client:
        params = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        }
        error = await client.error("initialize", params)
        assert (error.code, error.message) == (-32000, "Client not supported")
        answer = await client.call("initialize", params)  # refused: it may try again
        assert answer["instructions"] == "Custom instructions"


async def test_a_mounted_servers_middleware_sees_its_own_names() -> None:
    recorder = Recorder()
    child = demo(recorder)
    outer = Recorder()
    parent = Server("parent", middleware=[outer]).mount("kid", child)
    async with connect(parent) as client:
        await client.call("tools/call", {"name": "kid_search", "arguments": {"query": "q"}})
        await client.call("resources/read", {"uri": "data://kid/motd"})
    assert "call kid_search {'query': 'q'} kid_search" in outer.seen
    assert recorder.seen == [
        "message tools/call request",
        "request tools/call",
        "call search {'query': 'q'} search",
        "message resources/read request",
        "request resources/read",
        "read data://motd",
    ]


async def test_function_middleware_still_wraps_requests() -> None:
    seen: list[str] = []

    async def audit(ctx: McpContext, call_next: Any) -> Any:
        seen.append(ctx.method)
        return await call_next()

    async with connect(demo(audit)) as client:
        await trio.testing.wait_all_tasks_blocked()
        await client.call("tools/call", {"name": "search", "arguments": {"query": "q"}})
        error = await client.error("tools/call", {"name": "nope"})
        assert error.code == -32602
    assert seen == ["initialize", "ping", "tools/call", "tools/call"]  # no notifications


def test_without_middleware_nothing_of_it_is_loaded() -> None:
    import subprocess
    import sys

    code = (
        "import sys, trio\n"
        "from fastmcp_server import Server\n"
        "s = Server('x')\n"
        "@s.tool\n"
        "async def f() -> str: return 'x'\n"
        "assert 'fastmcp_server._middleware' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
