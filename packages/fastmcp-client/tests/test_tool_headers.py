"""x-mcp-header annotations: which tool definitions an HTTP client must drop."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from client_support import FakeServer, text

from fastmcp_client import Client
from fastmcp_client._tool_headers import header_problem
from fastmcp_protocol import Tool


def tool(properties: dict[str, Any], **schema: Any) -> Tool:
    return Tool(name="t", input_schema={"type": "object", "properties": properties, **schema})


def header(kind: str, name: Any = "Region", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "x-mcp-header": name, **extra}


VALID = [
    tool({}),
    tool({"region": header("string")}),
    tool({"n": header("integer", "Count"), "b": header("boolean", "Flag-1")}),
    tool({"outer": {"type": "object", "properties": {"inner": header("string", "Inner")}}}),
    tool({"x-mcp-header": {"type": "string"}}),  # a property that is merely named so
]

INVALID = {
    "empty": tool({"r": header("string", "")}),
    "space": tool({"r": header("string", "Bad Name")}),
    "control": tool({"r": header("string", "Bad\r\nName")}),
    "colon": tool({"r": header("string", "Bad:Name")}),
    "not a string": tool({"r": header("string", 7)}),
    "duplicate": tool({"a": header("string", "Same"), "b": header("string", "same")}),
    "number": tool({"r": header("number")}),
    "object": tool({"r": header("object")}),
    "array items": tool({"r": {"type": "array", "items": header("string")}}),
    "anyOf": tool({"r": {"anyOf": [header("string")]}}),
    "defs": tool({"r": {"$ref": "#/$defs/d"}}, **{"$defs": {"d": header("string")}}),
    "conditional": tool({}, **{"if": {"properties": {"r": header("string")}}}),
}


@pytest.mark.parametrize("definition", VALID)
def test_valid_annotations(definition: Tool) -> None:
    assert header_problem(definition) is None


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_annotations(case: str) -> None:
    assert header_problem(INVALID[case]) is not None


async def test_http_clients_drop_invalid_tools(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeServer(era="modern")
    fake.tool("good", lambda ctx, args: _ok())
    fake.tool_defs[-1] = Tool(name="good", input_schema=VALID[1].input_schema)
    fake.tool("bad", lambda ctx, args: _ok())
    fake.tool_defs[-1] = Tool(name="bad", input_schema=INVALID["number"].input_schema)
    client = Client(fake)
    async with client:
        assert [t.name for t in await client.list_all_tools()] == ["good", "bad"]  # not HTTP
        client._connector = attrs.evolve(client._connector, kind="http")
        assert [t.name for t in await client.list_all_tools()] == ["good"]
    assert "ignoring tool 'bad'" in caplog.text


async def _ok() -> Any:
    return text("ok")
