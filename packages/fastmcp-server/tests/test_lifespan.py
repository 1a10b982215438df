"""The lifespan runs once per server however it is served, and mounted servers bring
their own lifespan, dependencies and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio
import trio.testing
from server_support import MODERN, connect

from fastmcp_core import McpContext
from fastmcp_server import Server


class Database:
    def __init__(self, name: str) -> None:
        self.name = name


def counting_lifespan(events: list[str], *, start_for: float = 0.0) -> Any:
    @asynccontextmanager
    async def lifespan(server: Server) -> AsyncIterator[Database]:
        events.append(f"start {server.name}")
        await trio.sleep(start_for)
        yield Database(server.name)
        await trio.sleep(0.5)  # cleanup that awaits: it must not be cancelled
        events.append(f"stop {server.name}")

    return lifespan


async def test_a_connection_arriving_while_the_lifespan_starts_waits_for_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[str] = []
    server = Server("slow-start", lifespan=counting_lifespan(events, start_for=5))
    seen: list[Any] = []

    @server.tool
    async def which(ctx: McpContext) -> str:
        seen.append(ctx.lifespan)
        return "ok"

    async def one_client() -> None:
        async with connect(server, modern=True) as c:
            await c.call("tools/call", {"name": "which"})

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one_client)
        nursery.start_soon(one_client)
    assert [type(s) for s in seen] == [Database, Database]
    assert events == ["start slow-start", "stop slow-start"]


async def test_the_first_connection_leaving_does_not_end_the_lifespan_of_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[str] = []
    server = Server("shared", lifespan=counting_lifespan(events))
    seen: list[Any] = []

    @server.tool
    async def which(ctx: McpContext) -> str:
        seen.append(ctx.lifespan)
        return "ok"

    owner_in = trio.Event()
    owner_left = trio.Event()

    async def owner() -> None:  # the first connection: it starts the lifespan
        async with connect(server, modern=True) as c:
            owner_in.set()
            await c.call("tools/call", {"name": "which"})
        owner_left.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
        await owner_in.wait()
        async with connect(server, modern=True) as other:
            with trio.fail_after(10):
                await owner_left.wait()  # the first connection is gone...
            await other.call("tools/call", {"name": "which"})  # ...the lifespan still runs
            assert events == ["start shared"]
    assert events == ["start shared", "stop shared"]  # ended once the last one left
    assert all(isinstance(s, Database) for s in seen)
    assert len(seen) == 2
    assert events == ["start shared", "stop shared"]  # once, and the cleanup finished


async def test_an_app_that_runs_enters_the_lifespan_once_for_all_its_requests() -> None:
    events: list[str] = []
    server = Server("app", lifespan=counting_lifespan(events)).provide(Database)

    @server.tool
    async def ping_db(db: Database) -> str:
        return db.name

    app = server.http_app()
    async with app.running():
        for rid in range(3):
            answer = await call_tool_over_asgi(app, rid, "ping_db")
            assert answer["result"]["content"][0]["text"] == "app"
        assert events == ["start app"]
    assert events == ["start app", "stop app"]


async def call_tool_over_asgi(app: Any, rid: int, name: str) -> Any:
    """One modern ``tools/call`` POST straight into the ASGI app (JSON answer)."""
    body = msgspec.json.encode(
        {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {
                "name": name,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
    )
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": name,
        "host": "localhost",
    }
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return msgspec.json.decode(b"".join(chunks))


async def test_a_mounted_server_brings_its_lifespan_dependencies_and_middleware(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[str] = []
    weather = Server("weather", lifespan=counting_lifespan(events)).provide(Database)
    main = Server("main", lifespan=counting_lifespan(events))

    async def outer(ctx: McpContext, call_next: Any) -> Any:
        events.append(f"main middleware {ctx.method}")
        return await call_next()

    async def inner(ctx: McpContext, call_next: Any) -> Any:
        events.append(f"weather middleware {ctx.method}")
        return await call_next()

    main.add_middleware(outer)
    weather.add_middleware(inner)

    @weather.tool
    async def station(db: Database) -> str:
        return db.name  # the weather server's lifespan yielded it

    main.mount("wx", weather)
    async with connect(main, modern=True) as c:
        result = await c.call("tools/call", {"name": "wx_station"})
        assert result["content"][0]["text"] == "weather"
        await c.call("tools/list")
    assert events == [
        "start main",
        "start weather",
        "main middleware tools/call",
        "weather middleware tools/call",
        "main middleware tools/list",
        "stop weather",
        "stop main",
    ]


async def test_a_request_knows_its_connection_and_a_mounted_server_hears_it_end() -> None:
    parent, child = Server("parent"), Server("child")
    seen: list[Any] = []
    ended: list[Any] = []

    @child.tool
    async def where() -> str:
        seen.append(Server.current_connection())
        return "here"

    @child.on_connection_closed
    async def gone(connection: Any) -> None:
        ended.append(connection)

    parent.mount("c", child)
    assert Server.current_connection() is None
    async with connect(parent) as first, connect(parent) as second:
        for client in (first, second, first):
            await client.call("tools/call", {"name": "c_where", "arguments": {}})
        assert seen[0] is seen[2] is not seen[1]
    assert set(map(id, ended)) == {id(seen[0]), id(seen[1])}
