"""Tool transformation: a new tool made from another (PrefectHQ fastmcp's
``Tool.from_tool``), checked on the wire."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import trio
from server_support import connect

from fastmcp_core import McpContext, ToolError
from fastmcp_protocol import CallToolResult, TextContent, ToolAnnotations
from fastmcp_server import ArgTransform, Server, TransformedTool, forward, forward_raw, tool


class Keys:
    def __init__(self, key: str) -> None:
        self.key = key


def base_server() -> Server:
    server = Server("transform").provide(Keys, Keys("k-1"))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True), tags={"search"})
    async def search(q: str, category: str = "all", limit: int = 10) -> str:
        """Search the catalog."""
        return f"{q}/{category}/{limit}"

    @server.tool
    async def send_email(to: str, subject: str, api_key: str, keys: Keys) -> str:
        """Send an email."""
        return f"{to}:{subject}:{api_key}:{keys.key}"

    @server.tool
    async def add(x: int, y: int) -> int:
        """Add two numbers."""
        return x + y

    return server


def properties(server: Server, name: str) -> dict[str, Any]:
    tool_ = next(c for c in server.components("tools") if c.name == name)
    schema: dict[str, Any] = tool_.definition.input_schema
    return schema


async def call(client: Any, name: str, **arguments: Any) -> Any:
    return await client.call("tools/call", {"name": name, "arguments": arguments})


async def test_renamed_redescribed_and_with_new_defaults() -> None:
    server = base_server()
    find = TransformedTool.from_tool(
        _registered(server, "search"),
        name="find_products",
        description="Search for products.",
        transform_args={
            "q": ArgTransform(name="query", description="what to look for"),
            "limit": ArgTransform(default=3),
            "category": ArgTransform(required=True),
        },
    )
    server.add_tool(find)
    schema = properties(server, "find_products")
    assert list(schema["properties"]) == ["query", "category", "limit"]
    assert schema["properties"]["query"]["description"] == "what to look for"
    assert schema["properties"]["limit"]["default"] == 3
    assert schema["required"] == ["query", "category"]
    (found,) = [c for c in server.components("tools") if c.name == "find_products"]
    assert found.description == "Search for products."
    assert found.definition.annotations.read_only_hint is True  # kept from the parent
    assert found.tags == {"search"}
    async with connect(server) as client:
        result = await call(client, "find_products", query="lamp", category="home")
        assert result["content"][0]["text"] == "lamp/home/3"
        bad = await call(client, "find_products", query="lamp", category="home", limit="many")
        assert bad["isError"] is True  # the parent still checks its arguments


def _registered(server: Server, name: str) -> Any:
    """The function ``@server.tool`` registered as ``name`` (what it returned)."""
    compiled = server.registry.tools[name].compiled
    return compiled.call.fn  # type: ignore[union-attr]


async def test_hidden_and_fixed_arguments() -> None:
    server = base_server()
    counter = itertools.count(1)
    notify = TransformedTool.from_tool(
        _registered(server, "send_email"),
        name="send_notification",
        transform_args={
            "api_key": ArgTransform(hide=True, default="secret"),
            "subject": ArgTransform(hide=True, default_factory=lambda: f"#{next(counter)}"),
        },
    )
    server.add_tool(notify)
    assert list(properties(server, "send_notification")["properties"]) == ["to"]
    async with connect(server) as client:
        for expected in ("ann:#1:secret:k-1", "ann:#2:secret:k-1"):  # the server's Keys too
            result = await call(client, "send_notification", to="ann")
            assert result["content"][0]["text"] == expected


async def test_a_function_wraps_the_call() -> None:
    server = base_server()

    async def ensure_positive(a: int, b: int) -> int:
        if a <= 0 or b <= 0:
            raise ToolError("a and b must be positive")
        result = await forward(a=a, b=b)
        assert result.structured_content is not None
        return int(result.structured_content["result"]) * 10

    async def raw(a: int, b: int) -> CallToolResult:
        return await forward_raw(x=a, y=b)

    async def logged(ctx: McpContext, **kwargs: Any) -> CallToolResult:
        result = await forward(**kwargs)
        return CallToolResult(content=[TextContent(text=f"{ctx.method}: {result.content[0].text}")])

    renames = {"x": ArgTransform(name="a"), "y": ArgTransform(name="b")}
    server.add_tool(
        TransformedTool.from_tool(
            _registered(server, "add"), name="safe_add", transform_fn=ensure_positive,
            transform_args=renames,
        )
    )  # fmt: skip
    server.add_tool(
        TransformedTool.from_tool(
            _registered(server, "add"), name="raw_add", transform_fn=raw, transform_args=renames
        )
    )
    server.add_tool(
        TransformedTool.from_tool(
            _registered(server, "add"), name="logged_add", transform_fn=logged
        )
    )
    assert properties(server, "safe_add")["required"] == ["a", "b"]
    assert list(properties(server, "logged_add")["properties"]) == ["x", "y"]  # via **kwargs
    async with connect(server) as client:
        assert (await call(client, "safe_add", a=2, b=3))["structuredContent"] == {"result": 50}
        denied = await call(client, "safe_add", a=-1, b=3)
        assert denied["content"][0]["text"] == "a and b must be positive"
        assert (await call(client, "raw_add", a=2, b=3))["structuredContent"] == {"result": 5}
        logged_result = await call(client, "logged_add", x=1, y=1)
        assert logged_result["content"][0]["text"] == "tools/call: 2"


def test_mistakes_show_when_the_tool_is_made() -> None:
    @tool
    async def needs(value: int) -> int:
        return value

    with pytest.raises(ValueError, match="no arguments"):
        TransformedTool.from_tool(needs, transform_args={"nope": ArgTransform(name="x")})
    with pytest.raises(ValueError, match="no default to hide it with"):
        TransformedTool.from_tool(needs, transform_args={"value": ArgTransform(hide=True)})
    with pytest.raises(ValueError, match="hide=True"):
        ArgTransform(default_factory=lambda: 1)
    with pytest.raises(RuntimeError, match="inside the transform_fn"):
        trio.run(forward)


async def test_a_transformed_tool_of_a_transformed_tool() -> None:
    server = base_server()
    first = TransformedTool.from_tool(
        _registered(server, "search"), name="s1", transform_args={"q": ArgTransform(name="query")}
    )
    second = TransformedTool.from_tool(
        first,
        name="s2",
        transform_args={
            "query": ArgTransform(name="text"),
            "limit": ArgTransform(hide=True, default=1),
        },
    )
    server.add_tool(second)
    async with connect(server) as client:
        result = await call(client, "s2", text="x")
        assert result["content"][0]["text"] == "x/all/1"
