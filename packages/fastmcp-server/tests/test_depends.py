"""``Depends(factory)``: dependencies made per request, cached within it, cleaned up
after it - cancelled included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from server_support import connect

from fastmcp_core import McpContext
from fastmcp_server import CurrentContext, Depends, Server


class Config:
    def __init__(self) -> None:
        self.url = "https://api.example.com"


class Connection:
    opened = 0

    def __init__(self, events: list[str]) -> None:
        Connection.opened += 1
        self.number = Connection.opened
        self.events = events


def dependency_server(events: list[str]) -> Server:
    server = Server("deps").provide(Config, Config())

    def settings(config: Config) -> str:  # a type the server provides
        return config.url

    async def user_id(ctx: McpContext) -> str:
        return f"user-of-{ctx.method}"

    @asynccontextmanager
    async def database() -> AsyncIterator[Connection]:
        connection = Connection(events)
        events.append(f"open {connection.number}")
        try:
            yield connection
        except Exception as exc:
            events.append(f"rollback {connection.number}: {exc}")
            raise
        finally:
            await trio.lowlevel.checkpoint()  # cleanup may await, even when cancelled
            events.append(f"close {connection.number}")

    def users(db: Connection = Depends(database)) -> str:
        return f"users@{db.number}"

    async def orders(db: Connection = Depends(database)) -> str:
        return f"orders@{db.number}"

    def lines() -> Iterator[str]:
        events.append("lines start")
        yield "lines"
        events.append("lines end")

    async def stream() -> AsyncIterator[str]:
        yield "stream"
        events.append("stream end")

    @contextmanager
    def lock() -> Iterator[str]:
        yield "locked"
        events.append("unlocked")

    @server.tool
    async def report(
        query: str,
        url: str = Depends(settings),
        user: str = Depends(user_id),
        left: str = Depends(users),
        right: str = Depends(orders),
        line: str = Depends(lines),
        chunk: str = Depends(stream),
        held: str = Depends(lock),
    ) -> str:
        events.append("report")
        return f"{query} {url} {user} {left} {right} {line} {chunk} {held}"

    @server.tool
    async def fail(db: Connection = Depends(database)) -> str:
        raise RuntimeError("boom")

    @server.tool
    async def hang(db: Connection = Depends(database)) -> str:
        events.append("hanging")
        await trio.sleep_forever()
        return "never"

    @server.resource("data://{name}")
    async def data(name: str, db: Connection = Depends(database)) -> str:
        return f"{name}@{db.number}"

    @server.prompt
    async def ask(topic: str, ctx: McpContext = CurrentContext()) -> str:
        return f"{topic} via {ctx.method}"

    return server


async def test_factories_of_every_kind_are_made_per_request_and_cleaned_up() -> None:
    Connection.opened = 0
    events: list[str] = []
    server = dependency_server(events)
    (tool, *_) = server.components("tools")
    assert list(tool.definition.input_schema["properties"]) == ["query"]
    async with connect(server) as client:
        result = await client.call("tools/call", {"name": "report", "arguments": {"query": "q"}})
        assert result["content"][0]["text"] == (
            "q https://api.example.com user-of-tools/call users@1 orders@1 lines stream locked"
        )  # one database per request, shared by the two factories that need it
        assert events == [
            "open 1",
            "lines start",
            "report",
            "unlocked",  # exited in reverse order, after the handler
            "stream end",
            "lines end",
            "close 1",
        ]
        await client.call("tools/call", {"name": "report", "arguments": {"query": "q"}})
        assert Connection.opened == 2  # not shared between requests
        read = await client.call("resources/read", {"uri": "data://x"})
        assert read["contents"][0]["text"] == "x@3"
        got = await client.call("prompts/get", {"name": "ask", "arguments": {"topic": "t"}})
        assert got["messages"][0]["content"]["text"] == "t via prompts/get"


async def test_cleanup_sees_the_error_and_runs_when_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    Connection.opened = 0
    events: list[str] = []
    server = dependency_server(events)
    async with connect(server) as client:
        result = await client.call("tools/call", {"name": "fail"})
        assert result["isError"] is True
        assert events == ["open 1", "rollback 1: boom", "close 1"]
        events.clear()
        with trio.move_on_after(0.5):  # the client gives up: notifications/cancelled
            await client.call("tools/call", {"name": "hang"})
        await trio.testing.wait_all_tasks_blocked()
        assert events[:2] == ["open 2", "hanging"]
        assert events[-1] == "close 2"


def test_a_factory_parameter_nothing_fills_is_refused() -> None:
    server = Server("s")

    def needs(mystery: int) -> int:
        return mystery

    with pytest.raises(TypeError, match="nothing fills its parameter 'mystery'"):

        @server.tool
        async def broken(value: int = Depends(needs)) -> int:
            return value

    with pytest.raises(TypeError, match="takes a callable"):
        Depends(42)  # type: ignore[call-overload]


async def test_use_cache_false_calls_the_factory_each_time() -> None:
    made: list[int] = []

    def counter() -> int:
        made.append(len(made))
        return len(made)

    server = Server("s")

    @server.tool
    async def twice(
        a: int = Depends(counter, use_cache=False), b: int = Depends(counter, use_cache=False)
    ) -> str:
        return f"{a} {b}"

    async with connect(server) as client:
        result: Any = await client.call("tools/call", {"name": "twice"})
        assert result["content"][0]["text"] == "1 2"
