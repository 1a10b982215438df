"""Every Outcome produces exactly the documented wire message, per method kind."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio

from fastmcp_core import (
    Cancelled,
    CancelReason,
    Err,
    MissingCapability,
    Ok,
    Panicked,
    ToolError,
    capture,
    response_for,
)
from fastmcp_protocol import (
    CallToolResult,
    ClientCapabilities,
    Implementation,
    ListToolsResult,
    McpError,
    SamplingCapability,
    TextContent,
)

SERVER = Implementation(name="s", version="1")


def wire(outcome: Any, method: str, version: str = "2025-11-25", **kw: Any) -> Any:
    frame = response_for(outcome, request_id=5, method=method, version=version, **kw)
    return None if frame is None else msgspec.json.decode(frame)


def test_ok_is_the_result_shaped_for_the_version() -> None:
    ok = Ok(ListToolsResult(tools=[]))
    assert wire(ok, "tools/list") == {"jsonrpc": "2.0", "id": 5, "result": {"tools": []}}
    assert wire(ok, "tools/list", "2026-07-28", server_info=SERVER) == {
        "jsonrpc": "2.0",
        "id": 5,
        "result": {
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "s", "version": "1"}},
            "resultType": "complete",
            "tools": [],
            "ttlMs": 0,
            "cacheScope": "private",
        },
    }


def test_err_in_a_tool_is_an_is_error_result() -> None:
    expected = {
        "jsonrpc": "2.0",
        "id": 5,
        "result": {"content": [{"type": "text", "text": "no such city"}], "isError": True},
    }
    assert wire(Err(ToolError("no such city")), "tools/call") == expected
    assert wire(Err(McpError(-32602, "no such city")), "tools/call") == expected


def test_err_elsewhere_is_a_json_rpc_error_with_its_code() -> None:
    assert wire(Err(McpError(-32602, "bad cursor", {"c": 1})), "tools/list") == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {"code": -32602, "message": "bad cursor", "data": {"c": 1}},
    }


def test_protocol_errors_stay_json_rpc_errors_even_in_tools() -> None:
    error = MissingCapability("needs sampling", ClientCapabilities(sampling=SamplingCapability()))
    assert wire(Err(error), "tools/call", "2026-07-28") == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {
            "code": -32021,
            "message": "needs sampling",
            "data": {"requiredCapabilities": {"sampling": {}}},
        },
    }


@pytest.mark.parametrize("method", ["tools/call", "prompts/get"])
def test_cancelled_by_the_client_sends_nothing(method: str) -> None:
    assert wire(Cancelled(CancelReason.CLIENT, "user"), method) is None


@pytest.mark.parametrize("method", ["tools/call", "prompts/get"])
def test_cancelled_by_the_budget_is_a_timeout_error(method: str) -> None:
    assert wire(Cancelled(CancelReason.BUDGET), method) == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {"code": -32001, "message": "Request timed out"},
    }


def test_cancelled_by_shutdown_is_an_internal_error() -> None:
    assert wire(Cancelled(CancelReason.SHUTDOWN), "prompts/get")["error"] == {
        "code": -32603,
        "message": "Server is shutting down",
    }


def test_panicked_is_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    boom = Panicked(KeyError("password"))
    assert wire(boom, "prompts/get") == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {"code": -32603, "message": "Internal error"},
    }
    assert wire(boom, "tools/call") == {
        "jsonrpc": "2.0",
        "id": 5,
        "result": {"content": [{"type": "text", "text": "Internal error"}], "isError": True},
    }
    assert "password" in caplog.text


def test_panicked_details_when_unmasked() -> None:
    boom = Panicked(KeyError("password"))
    assert wire(boom, "tools/call", mask_error_details=False)["result"]["content"][0]["text"] == (
        "KeyError: 'password'"
    )


def test_tool_error_results_are_shaped_for_modern_versions() -> None:
    result = wire(Err(ToolError("x")), "tools/call", "2026-07-28")["result"]
    assert result["resultType"] == "complete"
    assert result["isError"] is True


async def test_capture_sorts_every_ending() -> None:
    async def ok() -> int:
        return 1

    async def err() -> int:
        raise ToolError("e")

    async def bug() -> int:
        raise ZeroDivisionError

    async def child_err() -> int:
        async with trio.open_nursery() as nursery:

            async def fail() -> None:
                raise ToolError("from a child")

            nursery.start_soon(fail)
        return 0

    assert await capture(ok) == Ok(1)
    assert isinstance(await capture(err), Err)
    assert isinstance((await capture(bug)), Panicked)
    outcome = await capture(child_err)
    assert isinstance(outcome, Err)
    assert outcome.error.message == "from a child"


async def test_capture_lets_cancellation_through() -> None:
    async def forever() -> None:
        await trio.sleep_forever()

    with trio.CancelScope() as scope:
        scope.cancel()
        await capture(forever)
    assert scope.cancelled_caught


def test_tool_result_stays_a_plain_tool_result() -> None:
    frame = wire(Ok(CallToolResult(content=[TextContent(text="hi")])), "tools/call")
    assert frame["result"] == {"content": [{"type": "text", "text": "hi"}]}
