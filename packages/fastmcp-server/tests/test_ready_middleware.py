"""The ready-made middleware: rate limits, response caching, retries, error handling
(PrefectHQ fastmcp's names and options); time is trio's MockClock."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing
from server_support import connect

from fastmcp_core import McpContext
from fastmcp_server import (
    CallToolSettings,
    ErrorHandlingMiddleware,
    MiddlewareContext,
    RateLimitingMiddleware,
    ReadResourceSettings,
    ResponseCachingMiddleware,
    RetryMiddleware,
    Server,
    SlidingWindowRateLimitingMiddleware,
)


def counting_server(*middleware: Any) -> tuple[Server, dict[str, int]]:
    calls: dict[str, int] = {}
    server = Server("ready", middleware=list(middleware))

    @server.tool
    async def lookup(key: str) -> str:
        calls[key] = calls.get(key, 0) + 1
        return f"{key}#{calls[key]}"

    @server.tool
    async def flaky(ctx: McpContext) -> str:
        calls["flaky"] = calls.get("flaky", 0) + 1
        if calls["flaky"] < 3:
            raise ConnectionError("the backend hung up")
        return "finally"

    @server.tool
    async def broken() -> str:
        raise ValueError("no such thing")

    @server.resource("data://clock")
    async def clock() -> str:
        calls["clock"] = calls.get("clock", 0) + 1
        return f"tick {calls['clock']}"

    @server.tool(tags={"hidden"})
    async def hidden() -> str:
        calls["hidden"] = calls.get("hidden", 0) + 1
        return "hidden"

    return server, calls


async def call(client: Any, name: str, **arguments: Any) -> Any:
    return await client.call("tools/call", {"name": name, "arguments": arguments})


async def test_a_token_bucket_allows_bursts_then_the_rate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = RateLimitingMiddleware(max_requests_per_second=2, burst_capacity=3)
    server, _ = counting_server(limiter)
    async with connect(server, initialize=False) as client:
        for _ in range(3):
            await client.call("ping")
        error = await client.error("ping")
        assert (error.code, error.message) == (-32000, "Rate limit exceeded: 2 requests per second")
        await trio.sleep(0.5)  # one token back
        await client.call("ping")
        assert (await client.error("ping")).code == -32000


async def test_limits_are_per_client_unless_global(autojump_clock: trio.testing.MockClock) -> None:
    server, _ = counting_server(RateLimitingMiddleware(max_requests_per_second=1, burst_capacity=1))
    async with connect(server, initialize=False) as one, connect(server, initialize=False) as two:
        await one.call("ping")
        await two.call("ping")  # its own bucket
        assert (await one.error("ping")).code == -32000
    shared = RateLimitingMiddleware(max_requests_per_second=1, burst_capacity=1, global_limit=True)
    server, _ = counting_server(shared)
    async with connect(server, initialize=False) as one, connect(server, initialize=False) as two:
        await one.call("ping")
        assert (await two.error("ping")).code == -32000

    def by_name(context: MiddlewareContext) -> str:
        return "everyone"

    custom = RateLimitingMiddleware(
        max_requests_per_second=1, burst_capacity=1, get_client_id=by_name
    )
    server, _ = counting_server(custom)
    async with connect(server, initialize=False) as one, connect(server, initialize=False) as two:
        await one.call("ping")
        assert (await two.error("ping")).code == -32000


async def test_a_sliding_window_has_no_bursts(autojump_clock: trio.testing.MockClock) -> None:
    server, _ = counting_server(
        SlidingWindowRateLimitingMiddleware(max_requests=2, window_minutes=1)
    )
    async with connect(server, initialize=False) as client:
        await client.call("ping")
        await trio.sleep(30)
        await client.call("ping")
        error = await client.error("ping")
        assert "2 requests per 60 seconds" in error.message
        await trio.sleep(30.5)  # the first one left the window
        await client.call("ping")
        assert (await client.error("ping")).code == -32000


async def test_answers_are_cached_by_name_and_arguments(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache = ResponseCachingMiddleware(
        call_tool_settings=CallToolSettings(ttl=10, excluded_tools=["flaky"]),
        read_resource_settings=ReadResourceSettings(enabled=False),
    )
    server, _ = counting_server(cache)
    async with connect(server) as client:
        assert (await call(client, "lookup", key="a"))["content"][0]["text"] == "a#1"
        assert (await call(client, "lookup", key="a"))["content"][0]["text"] == "a#1"  # cached
        assert (await call(client, "lookup", key="b"))["content"][0]["text"] == "b#1"
        await trio.sleep(11)  # expired
        assert (await call(client, "lookup", key="a"))["content"][0]["text"] == "a#2"
        for expected in ("tick 1", "tick 2"):  # reads are not cached here
            read = await client.call("resources/read", {"uri": "data://clock"})
            assert read["contents"][0]["text"] == expected
        # a change of the tools drops their answers
        server.tool(name="extra")(lambda: "x")
        assert (await call(client, "lookup", key="a"))["content"][0]["text"] == "a#3"
        # errors are never kept
        assert (await call(client, "broken"))["isError"] is True
        assert (await call(client, "broken"))["isError"] is True
    assert cache.hits == 1


async def test_a_cached_answer_never_reaches_a_session_that_cannot_see_the_tool() -> None:
    cache = ResponseCachingMiddleware()
    server, calls = counting_server(cache)

    @server.tool
    async def hide(ctx: McpContext) -> str:
        await ctx.disable_components(tags={"hidden"})
        return "hidden now"

    async with connect(server) as one, connect(server) as two:
        assert (await call(one, "hidden"))["content"][0]["text"] == "hidden"
        await call(two, "hide")
        error = await two.error("tools/call", {"name": "hidden", "arguments": {}})
        assert "Unknown tool" in error.message
        names = [t["name"] for t in (await one.call("tools/list"))["tools"]]
        assert "hidden" in names
        names = [t["name"] for t in (await two.call("tools/list"))["tools"]]
        assert "hidden" not in names  # lists are kept per view
        names = [t["name"] for t in (await one.call("tools/list"))["tools"]]
        assert "hidden" in names
        assert (await call(one, "hidden"))["content"][0]["text"] == "hidden"
    assert calls["hidden"] == 1  # the second call of one was answered from the cache


async def test_retries_with_backoff(autojump_clock: trio.testing.MockClock) -> None:
    retry = RetryMiddleware(max_retries=3, base_delay=1.0, retry_exceptions=(ConnectionError,))
    server, calls = counting_server(retry)
    async with connect(server) as client:
        start = trio.current_time()
        result = await call(client, "flaky")
        assert result["content"][0]["text"] == "finally"
        assert trio.current_time() - start == pytest.approx(3.0)  # waited 1 s, then 2 s
        assert calls["flaky"] == 3
    calls["flaky"] = -10
    give_up = RetryMiddleware(max_retries=1, base_delay=0.5)
    server2, calls2 = counting_server(give_up)
    async with connect(server2) as client:
        result = await call(client, "flaky")
        assert result["isError"] is True  # the last failure goes on (masked, as ever)
        assert calls2["flaky"] == 2


async def test_error_handling_logs_counts_and_translates(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, str]] = []

    def remember(error: Exception, context: MiddlewareContext) -> None:
        seen.append((type(error).__name__, context.method))

    quiet = ErrorHandlingMiddleware(error_callback=remember)
    loud = ErrorHandlingMiddleware(transform_errors=True, include_traceback=True)
    for middleware, expected in ((quiet, "Internal error"), (loud, "ValueError: no such thing")):
        server, _ = counting_server(middleware)
        with caplog.at_level(logging.ERROR, logger="fastmcp.errors"):
            async with connect(server) as client:
                result = await call(client, "broken")
        assert result["content"][0]["text"] == expected
    assert quiet.get_error_stats() == {"ValueError:tools/call": 1}
    assert seen == [("ValueError", "tools/call")]
    assert "Error in tools/call: ValueError: no such thing" in caplog.text
    assert "Traceback" in caplog.text  # include_traceback
