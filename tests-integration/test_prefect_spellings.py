"""PrefectHQ fastmcp's spellings, written the way its documentation writes them, run
against this project's ``fastmcp`` facade (not PrefectHQ's package): a user moving
from there finds each concept under the same name and call shape. Only the server's
class (``Server`` for ``FastMCP``) and the context's (``McpContext`` for ``Context``)
are named differently (see docs/migrating.md).
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import trio
import trio.testing

from fastmcp import (
    ArgTransform,
    CallToolSettings,
    Client,
    Component,
    CurrentContext,
    Depends,
    ErrorHandlingMiddleware,
    ListToolsSettings,
    LoggingMiddleware,
    McpContext,
    McpError,
    Middleware,
    MiddlewareContext,
    ProtocolError,
    RateLimitingMiddleware,
    ReadResourceSettings,
    ResponseCachingMiddleware,
    RetryMiddleware,
    Server,
    SlidingWindowRateLimitingMiddleware,
    TimingMiddleware,
    ToolError,
    TransformedTool,
    VersionFilter,
    VersionSpec,
    forward,
    forward_raw,
)
from fastmcp_protocol import ElicitRequestFormParams, ElicitResult, Implementation

FastMCP = Server  # the one name to change in a PrefectHQ fastmcp server
Context = McpContext  # and the other


async def tool_names(client: Client) -> list[str]:
    return [t.name for t in await client.list_all_tools()]


# -- visibility (docs/servers/visibility.mdx) ---------------------------------------------


async def test_disable_and_enable_by_tag_key_and_name() -> None:
    mcp = FastMCP("Server")

    @mcp.tool(tags={"admin"})
    def delete_everything() -> str:
        """Delete all data."""
        return "Deleted"

    @mcp.tool(tags={"admin"})
    def reset_system() -> str:
        """Reset the system."""
        return "Reset"

    @mcp.tool
    def get_status() -> str:
        """Get system status."""
        return "OK"

    mcp.disable(tags={"admin"})
    async with Client(mcp) as client:
        assert await tool_names(client) == ["get_status"]
        with pytest.raises(McpError, match="Unknown tool"):
            await client.call_tool("delete_everything")
    mcp.enable(tags={"admin"})
    mcp.disable(keys={"tool:delete_everything"})
    mcp.disable(names={"get_status"})
    async with Client(mcp) as client:
        assert await tool_names(client) == ["reset_system"]


async def test_allowlist_mode_and_overrides() -> None:
    mcp = FastMCP("Server")

    @mcp.tool(tags={"safe"})
    def read_only_operation() -> str:
        return "Read"

    @mcp.tool(tags={"safe"})
    def list_items() -> list[str]:
        return ["a", "b", "c"]

    @mcp.tool(tags={"dangerous"})
    def delete_all() -> str:
        return "Deleted"

    @mcp.tool
    def untagged_tool() -> str:
        return "Untagged"

    mcp.enable(tags={"safe"}, only=True)
    async with Client(mcp) as client:
        assert await tool_names(client) == ["read_only_operation", "list_items"]
    mcp.enable(tags={"safe"}, only=True).disable(keys={"tool:list_items"})
    async with Client(mcp) as client:
        assert await tool_names(client) == ["read_only_operation"]


async def test_per_session_visibility_and_namespace_activation() -> None:
    server = FastMCP("Multi-Domain Assistant")

    @server.tool(tags={"namespace:finance"})
    def analyze_portfolio(symbols: list[str]) -> str:
        return f"Analysis for: {', '.join(symbols)}"

    @server.tool(tags={"namespace:admin"})
    def list_users() -> list[str]:
        return ["alice", "bob", "charlie"]

    @server.tool
    async def activate_finance(ctx: Context) -> str:
        await ctx.enable_components(tags={"namespace:finance"}, components={"tool"})
        return "Finance tools activated"

    @server.tool
    async def deactivate_all(ctx: Context) -> str:
        await ctx.reset_visibility()
        return "All namespaces deactivated"

    @server.tool
    async def enable_recent_tools(ctx: Context) -> str:
        await ctx.enable_components(version=VersionSpec(gte="2.0"), components={"tool"})
        return "Recent tools enabled"

    server.disable(tags={"namespace:finance", "namespace:admin"})
    changes: list[str] = []

    async def on_notification(note: Any) -> None:
        changes.append(type(note).__name__)

    async with (
        Client(
            server, protocol_version="2025-11-25", notification_handler=on_notification
        ) as alice,
        Client(server) as bob,
    ):
        await alice.call_tool("activate_finance")
        assert "analyze_portfolio" in await tool_names(alice)
        assert "analyze_portfolio" not in await tool_names(bob)
        result = await alice.call_tool("analyze_portfolio", {"symbols": ["ACME"]})
        assert result.content[0].text == "Analysis for: ACME"
        await alice.call_tool("deactivate_all")
        assert "analyze_portfolio" not in await tool_names(alice)
        await alice.call_tool("enable_recent_tools")
        await trio.testing.wait_all_tasks_blocked()
    assert "ToolListChangedNotification" in changes


# -- versions (docs/servers/versioning.mdx) ------------------------------------------------


async def test_versioned_api_surfaces() -> None:
    def components() -> FastMCP:
        mcp = FastMCP("versions")

        @mcp.tool(version="1.0")
        def calculate(x: int, y: int) -> int:
            """Add two numbers."""
            return x + y

        @mcp.tool(name="calculate", version="2.0")
        def calculate_v2(x: int, y: int, z: int = 0) -> int:
            """Add two or three numbers."""
            return x + y + z

        @mcp.resource("config://app", version="1.0")
        def config_v1() -> str:
            return '{"format": "legacy"}'

        @mcp.resource("config://app", name="config_v2", version="2.0")
        def config_v2() -> str:
            return '{"format": "modern", "schema": "v2"}'

        return mcp

    api_v1 = components()
    api_v1.add_transform(VersionFilter(version_lt="2.0"))
    api_v2 = components()
    api_v2.add_transform(VersionFilter(version_gte="2.0"))
    async with Client(api_v1) as v1, Client(api_v2) as v2:
        assert await v1.call_tool("calculate", {"x": 1, "y": 2}, result_type=int) == 3
        assert await v2.call_tool("calculate", {"x": 1, "y": 2, "z": 3}, result_type=int) == 6
        assert (await v1.read_resource("config://app")).contents[0].text == '{"format": "legacy"}'
    mcp = components()
    mcp.remove_tool("calculate", version="2.0")
    assert [c.version for c in mcp.components("tools")] == ["1.0"]


# -- middleware (docs/servers/middleware.mdx) ------------------------------------------------


class LoggingHooks(Middleware):
    def __init__(self) -> None:
        self.log: list[str] = []

    async def on_message(self, context: MiddlewareContext, call_next: Any) -> Any:
        self.log.append(f"→ {context.method} from {context.source}")
        result = await call_next(context)
        self.log.append(f"← {context.method}")
        return result


class PrivateToolFilter(Middleware):
    async def on_list_tools(self, context: MiddlewareContext, call_next: Any) -> Any:
        tools = await call_next(context)
        return [tool for tool in tools if "private" not in tool.tags]

    async def on_call_tool(self, context: MiddlewareContext, call_next: Any) -> Any:
        tool = context.component  # theirs: await context.fastmcp_context.fastmcp.get_tool(...)
        if tool is not None and "private" in tool.tags:
            raise ToolError("Tool not found")
        return await call_next(context)


class ResponseEnricher(Middleware):
    async def on_call_tool(self, context: MiddlewareContext, call_next: Any) -> Any:
        result = await call_next(context)
        if context.message.name == "get_data" and result.structured_content:
            result.structured_content["processed_by"] = "enricher"
        return result


class BlockClients(Middleware):
    async def on_initialize(self, context: MiddlewareContext, call_next: Any) -> Any:
        client_name = context.message.client_info.name
        if client_name == "blocked-client":
            raise ProtocolError(-32000, "Client not supported")
        return await call_next(context)


async def test_middleware_hooks_as_their_docs_write_them() -> None:
    logger = LoggingHooks()
    mcp = FastMCP("MyServer")
    mcp.add_middleware(logger)
    mcp.add_middleware(PrivateToolFilter())
    mcp.add_middleware(ResponseEnricher())
    mcp.add_middleware(BlockClients())

    @mcp.tool
    def get_data() -> dict[str, str]:
        return {"data": "x"}

    @mcp.tool(tags={"private"})
    def internal() -> str:
        return "secret"

    async with Client(mcp) as client:
        assert await tool_names(client) == ["get_data"]
        result = await client.call_tool("get_data")
        assert result.structured_content == {"data": "x", "processed_by": "enricher"}
        denied = await client.call_tool("internal")
        assert denied.is_error
        assert denied.content[0].text == "Tool not found"
    assert "→ tools/call from client" in logger.log
    assert "← tools/list" in logger.log
    blocked = Implementation(name="blocked-client", version="1")
    with pytest.raises(McpError, match="Client not supported"):
        async with Client(mcp, protocol_version="2025-11-25", client_info=blocked):
            pass


async def test_ready_made_middleware_with_their_options(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[str] = []

    def my_error_callback(error: Exception, context: MiddlewareContext) -> None:
        errors.append(f"{type(error).__name__} in {context.method}")

    attempts = itertools.count(1)
    mcp = FastMCP("Production Server")
    mcp.add_middleware(
        ErrorHandlingMiddleware(
            include_traceback=True, transform_errors=True, error_callback=my_error_callback
        )
    )
    mcp.add_middleware(
        RetryMiddleware(max_retries=3, retry_exceptions=(ConnectionError, TimeoutError))
    )
    mcp.add_middleware(RateLimitingMiddleware(max_requests_per_second=10.0, burst_capacity=20))
    mcp.add_middleware(SlidingWindowRateLimitingMiddleware(max_requests=100, window_minutes=1))
    mcp.add_middleware(
        ResponseCachingMiddleware(
            list_tools_settings=ListToolsSettings(ttl=30),
            call_tool_settings=CallToolSettings(included_tools=["expensive_tool"]),
            read_resource_settings=ReadResourceSettings(enabled=False),
        )
    )
    timing = TimingMiddleware()
    mcp.add_middleware(timing)
    mcp.add_middleware(LoggingMiddleware(include_payloads=True, max_payload_length=1000))
    computed: list[int] = []

    @mcp.tool
    async def expensive_tool(n: int) -> int:
        computed.append(n)
        return n * n

    @mcp.tool
    async def flaky() -> str:
        if next(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    @mcp.tool
    async def broken() -> str:
        raise ValueError("bad input")

    with caplog.at_level(logging.INFO):
        async with Client(mcp) as client:
            assert await client.call_tool("expensive_tool", {"n": 3}, result_type=int) == 9
            assert await client.call_tool("expensive_tool", {"n": 3}, result_type=int) == 9
            assert await client.call_tool("flaky", result_type=str) == "ok"
            failed = await client.call_tool("broken")
            assert failed.content[0].text == "ValueError: bad input"  # transform_errors
            for _ in range(20):  # the bucket's burst, then the rate
                try:
                    await client.ping()
                except McpError as error:
                    assert error.code == -32000
                    break
            else:
                raise AssertionError("no rate limit")
    assert computed == [3]  # the second call was answered from the cache
    assert errors == ["ValueError in tools/call", "RateLimitError in server/discover"]
    assert timing.timings["tools/call"]
    assert '"name":"expensive_tool"' in caplog.text  # include_payloads


# -- dependencies and context (docs/servers/dependency-injection.mdx, context.mdx) ------------


async def test_depends_and_context_state() -> None:
    mcp = FastMCP("Custom Deps Demo")
    connections: list[str] = []

    def get_config() -> dict[str, Any]:
        return {"api_url": "https://api.example.com", "timeout": 30}

    async def get_user_id() -> int:
        return 42

    def get_db_connection() -> dict[str, str]:
        connections.append("connect")  # once per request
        return {"connection": "active"}

    def get_user_repo(db: dict[str, str] = Depends(get_db_connection)) -> dict[str, Any]:
        return {"db": db, "type": "user"}

    def get_order_repo(db: dict[str, str] = Depends(get_db_connection)) -> dict[str, Any]:
        return {"db": db, "type": "order"}

    @asynccontextmanager
    async def get_database() -> AsyncIterator[str]:
        try:
            yield "db"
        finally:
            connections.append("closed")

    @mcp.tool
    async def fetch_data(
        query: str,
        config: dict[str, Any] = Depends(get_config),
        user_id: int = Depends(get_user_id),
    ) -> str:
        return f"User {user_id} fetching '{query}' from {config['api_url']}"

    @mcp.tool
    async def process_order(
        order_id: str,
        users: dict[str, Any] = Depends(get_user_repo),
        orders: dict[str, Any] = Depends(get_order_repo),
        db: str = Depends(get_database),
        ctx: Context = CurrentContext(),
    ) -> str:
        assert users["db"] is orders["db"]
        await ctx.set_state("last_order", order_id)
        return f"Processed order {order_id} with {db}"

    @mcp.tool
    async def last_order(ctx: Context) -> str:
        return await ctx.get_state("last_order") or "none"

    async with Client(mcp) as client:
        assert await client.call_tool("fetch_data", {"query": "q"}, result_type=str) == (
            "User 42 fetching 'q' from https://api.example.com"
        )
        assert await client.call_tool("process_order", {"order_id": "o-1"}, result_type=str) == (
            "Processed order o-1 with db"
        )
        assert await client.call_tool("last_order", result_type=str) == "o-1"
    assert connections == ["connect", "closed"]


async def test_context_reads_the_servers_resources_and_prompts() -> None:
    mcp = FastMCP(name="Context Demo")

    @mcp.resource("resource://config")
    def config() -> str:
        return '{"theme": "dark"}'

    @mcp.prompt
    def analyze_data(dataset: str) -> str:
        return f"Please analyze {dataset}"

    @mcp.tool
    async def process_file(ctx: Context = CurrentContext()) -> str:
        resources = await ctx.list_resources()
        resource_result = await ctx.read_resource("resource://config")
        prompts = await ctx.list_prompts()
        result = await ctx.get_prompt("analyze_data", {"dataset": "users"})
        return (
            f"{len(resources)} {resource_result.contents[0].text} {len(prompts)} "
            f"{result.messages[0].content.text}"
        )

    async with Client(mcp) as client:
        assert await client.call_tool("process_file", result_type=str) == (
            '1 {"theme": "dark"} 1 Please analyze users'
        )


# -- tool transformation (docs/patterns/tool-transformation.mdx) ------------------------------


async def test_tool_from_tool() -> None:
    mcp = FastMCP("transforms")
    timestamps = itertools.count(1)

    @mcp.tool
    def search(q: str, category: str = "all") -> str:
        """Searches for items in the database."""
        return f"{q} in {category}"

    @mcp.tool
    def send_email(to: str, subject: str, body: str, api_key: str, sent_at: int = 0) -> str:
        """Sends an email."""
        return f"{to}|{subject}|{body}|{api_key}|{sent_at}"

    @mcp.tool
    def add(x: int, y: int) -> int:
        """Adds two numbers."""
        return x + y

    async def ensure_positive(a: int, b: int) -> int:
        if a <= 0 or b <= 0:
            raise ValueError("a and b must be positive")
        return await forward(a=a, b=b)

    async def raw_positive(a: int, b: int) -> int:
        return await forward_raw(x=a, y=b)

    mcp.add_tool(
        TransformedTool.from_tool(
            search,
            name="find_products",
            description="Search for products in the e-commerce catalog.",
            transform_args={"q": ArgTransform(name="search_query")},
        )
    )
    mcp.add_tool(
        TransformedTool.from_tool(
            send_email,
            name="send_notification",
            transform_args={
                "api_key": ArgTransform(hide=True, default="EMAIL_API_KEY"),
                "sent_at": ArgTransform(hide=True, default_factory=lambda: next(timestamps)),
            },
        )
    )
    renames = {"x": ArgTransform(name="a"), "y": ArgTransform(name="b")}
    for name, fn in (("add_positive", ensure_positive), ("add_raw", raw_positive)):
        mcp.add_tool(
            TransformedTool.from_tool(add, name=name, transform_fn=fn, transform_args=renames)
        )
    mcp.disable(names={"search", "send_email", "add"})

    async with Client(mcp) as client:
        tools = {t.name: t for t in await client.list_all_tools()}
        assert set(tools) == {"find_products", "send_notification", "add_positive", "add_raw"}
        assert list(tools["find_products"].input_schema["properties"]) == [
            "search_query",
            "category",
        ]
        assert list(tools["send_notification"].input_schema["properties"]) == [
            "to",
            "subject",
            "body",
        ]
        assert (
            await client.call_tool("find_products", {"search_query": "lamp"}, result_type=str)
            == "lamp in all"
        )
        sent = await client.call_tool(
            "send_notification", {"to": "ann", "subject": "hi", "body": "..."}, result_type=str
        )
        assert sent == "ann|hi|...|EMAIL_API_KEY|1"
        assert await client.call_tool("add_positive", {"a": 1, "b": 2}, result_type=int) == 3
        assert await client.call_tool("add_raw", {"a": 1, "b": 2}, result_type=int) == 3
        assert (await client.call_tool("add_positive", {"a": -1, "b": 2})).is_error


# -- tools, schemas, elicitation, templates (docs/servers/*.mdx) -------------------------------


class Priority(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass
class TaskDetails:
    title: str
    priority: Literal["low", "medium", "high"] = "medium"


async def test_elicitation_response_types() -> None:
    mcp = FastMCP("Elicitation Server")

    @mcp.tool
    async def plan_meeting(ctx: Context) -> str:
        title_result = await ctx.elicit("What's the meeting title?", response_type=str)
        duration_result = await ctx.elicit("Duration in minutes?", response_type=int)
        priority_result = await ctx.elicit("Is this urgent?", response_type=["yes", "no"])
        level = await ctx.elicit("What priority level?", response_type=Priority)
        tags = await ctx.elicit("Choose tags", response_type=[["bug", "feature", "documentation"]])
        task = await ctx.elicit("Please provide task details", response_type=TaskDetails)
        approve = await ctx.elicit("Approve this action?", response_type=None)
        urgent = priority_result.data == "yes"
        assert level.data is not None
        assert task.data is not None
        return (
            f"Meeting '{title_result.data}' for {duration_result.data} minutes "
            f"(Urgent: {urgent}, {level.data.value}, {tags.data}, {task.data.priority}, "
            f"{approve.action})"
        )

    schemas: list[dict[str, Any]] = []

    async def handler(params: ElicitRequestFormParams) -> ElicitResult:
        schemas.append(params.requested_schema.properties)
        return ElicitResult(action="accept", content=next(answers))

    for version in ("2026-07-28", "2025-11-25"):
        answers = iter(
            [
                {"value": "Standup"},
                {"value": 15},
                {"value": "yes"},
                {"value": "high"},
                {"value": ["bug", "documentation"]},
                {"title": "t"},
                {},
            ]
        )
        async with Client(mcp, protocol_version=version, elicitation_handler=handler) as client:
            assert await client.call_tool("plan_meeting", result_type=str) == (
                "Meeting 'Standup' for 15 minutes (Urgent: True, high, "
                "['bug', 'documentation'], medium, accept)"
            )
    assert schemas[3]["value"]["enum"] == ["low", "medium", "high"]  # declared order
    assert schemas[5]["priority"]["enum"] == ["low", "medium", "high"]


async def test_server_options_and_templates(caplog: pytest.LogCaptureFixture) -> None:
    mcp = FastMCP("MyServer", on_duplicate="warn", strict_input_validation=False)

    @mcp.tool
    def multiply(a: float, b: float) -> float:
        """Multiplies two numbers together."""
        return a * b

    with caplog.at_level(logging.WARNING):

        @mcp.tool(name="multiply")
        def multiply_again(a: float, b: float) -> float:
            return a * b * 1.0

    assert "registered twice" in caplog.text

    @mcp.resource("files://{path*}")
    def get_file(path: str) -> str:
        return f"file {path}"

    @mcp.tool
    def register(name: str, address: Address) -> str:
        return f"{name} at {address.street}"

    async with Client(mcp) as client:
        assert await client.call_tool("multiply", {"a": "2", "b": "3.5"}, result_type=float) == 7.0
        read = await client.read_resource("files://a/b/c.txt")
        assert read.contents[0].text == "file a/b/c.txt"
        (tool,) = [t for t in await client.list_all_tools() if t.name == "register"]
        assert "$defs" not in tool.input_schema  # dereferenced
    strict = FastMCP("strict")
    strict.tool(multiply)
    with pytest.raises(ValueError, match="already registered"):
        strict.tool(multiply)  # ours defaults to "error"
    assert isinstance(mcp.components("tools")[0], Component)


@dataclass
class Address:
    street: str
    city: str = "Oslo"
