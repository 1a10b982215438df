"""The conformance client's scenario steps (examples/conformance/client.py), run in-process
against fakes that check what the official suite checks. The HTTP wire itself is not
covered here: it needs the HTTP transport (a later merge)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from client_support import FakeServer, sent, text

from fastmcp_client import Client
from fastmcp_core import McpContext
from fastmcp_protocol import CallToolResult, InputRequiredResult

EXAMPLE = Path(__file__).parents[3] / "examples" / "conformance" / "client.py"


def conformance() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_client", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance_client", module)
    spec.loader.exec_module(module)
    return module


def client(module: ModuleType, fake: FakeServer, version: str | None) -> Client:
    return Client(
        fake,
        protocol_version=version,
        sampling_handler=module.sample,
        elicitation_handler=module.elicit,
        roots=[],
    )


CONFIRM = {
    "confirm": {
        "method": "elicitation/create",
        "params": {
            "message": "Please confirm to continue",
            "requestedSchema": {
                "type": "object",
                "properties": {"confirmed": {"type": "boolean", "description": "Confirm?"}},
            },
        },
    }
}
STATE = '{"nonce":"n-1","originalId":7}'


async def test_mrtr_scenario() -> None:
    module = conformance()
    fake = FakeServer(era="modern")

    def mrtr(name: str, state: str | None) -> Any:
        async def tool(ctx: McpContext, args: dict[str, Any]) -> Any:
            if "inputResponses" not in ctx.lifespan:
                return InputRequiredResult(input_requests=CONFIRM, request_state=state)  # type: ignore[arg-type]
            return text(f"{name}-ok")

        return tool

    async def no_result_type(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        ctx.protocol_version = "2025-11-25"  # answered without resultType
        return text("plain")

    fake.tool("test_mrtr_echo_state", mrtr("echo", STATE), raw=True)
    fake.tool("test_mrtr_no_state", mrtr("none", None), raw=True)
    fake.tool("test_mrtr_unrelated", lambda ctx, args: _done("unrelated"), raw=True)
    fake.tool("test_mrtr_no_result_type", no_result_type, raw=True)
    async with client(module, fake, "2026-07-28") as c:
        await module.SCENARIOS["sep-2322-client-request-state"](c, {})
    calls = [(p["name"], p) for p in sent(fake, "tools/call")]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for name, params in calls:
        by_name.setdefault(name, []).append(params)
    echo = by_name["test_mrtr_echo_state"]
    assert len(echo) == 2
    assert echo[1]["requestState"] == STATE  # byte for byte
    assert echo[1]["inputResponses"] == {
        "confirm": {"action": "accept", "content": {"confirmed": True}}
    }
    none = by_name["test_mrtr_no_state"]
    assert len(none) == 2
    assert "requestState" not in none[1]
    assert all("inputResponses" not in p for p in by_name["test_mrtr_unrelated"])
    assert len(by_name["test_mrtr_no_result_type"]) == 1


async def _done(value: str) -> CallToolResult:
    return text(value)


async def test_elicitation_defaults_scenario() -> None:
    module = conformance()
    fake = FakeServer(era="legacy")
    answers: list[Any] = []
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
        "required": [],
    }

    async def defaults(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        answer = await ctx.elicit(
            "Test client default value handling - please accept with defaults", schema
        )
        answers.append((answer.action, answer.data))
        return text("ok")

    fake.tool("test_client_elicitation_defaults", defaults)
    async with client(module, fake, "2025-11-25") as c:
        await module.SCENARIOS["elicitation-sep1034-client-defaults"](c, {})
    assert answers == [
        (
            "accept",
            {"name": "John Doe", "age": 30, "score": 95.5, "status": "active", "verified": True},
        )
    ]


async def test_request_metadata_scenario() -> None:
    module = conformance()
    fake = FakeServer(era="modern", reject_first=True)
    async with client(module, fake, "2026-07-28") as c:
        await module.SCENARIOS["request-metadata"](c, {})
    assert [m for m, _ in fake.requests] == ["server/discover", "server/discover", "tools/list"]
    caps = fake.requests[-1][1]["_meta"]["io.modelcontextprotocol/clientCapabilities"]
    assert all(isinstance(caps[key], dict) for key in ("roots", "sampling", "elicitation"))


async def test_schema_echo_scenario() -> None:
    module = conformance()
    fake = FakeServer(era="legacy")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"n": {"type": "number"}},
        "properties": {"x": {"$ref": "#/$defs/n"}},
        "additionalProperties": False,
        "if": {"required": ["x"]},
        "then": {"properties": {"x": {"minimum": 0}}},
    }
    fake.tool("json_schema_2020_12_tool", lambda ctx, args: _done("x"))
    fake.tool_defs[-1] = fake.tool_defs[-1].__class__(
        name="json_schema_2020_12_tool", input_schema=schema
    )
    fake.tool("json_schema_echo", lambda ctx, args: _done("echo"))
    async with client(module, fake, None) as c:
        await module.SCENARIOS["json-schema-2020-12-preservation"](c, {})
    assert sent(fake, "tools/call")[-1] == {
        "name": "json_schema_echo",
        "arguments": {"schema": schema},
    }
