"""Every request a server answers, in both protocol eras, checked on the wire."""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import msgspec
import pytest
import trio
import trio.testing
from server_support import MODERN, connect

from fastmcp_core import Budget, McpContext, ToolError, TransportClosed
from fastmcp_protocol import (
    ImageContent,
    McpError,
    PromptMessage,
    TextContent,
    TextResourceContents,
)
from fastmcp_server import (
    ErrorMappingMiddleware,
    Image,
    LoggingMiddleware,
    Server,
    TimingMiddleware,
)

ERAS = pytest.mark.parametrize("modern", [False, True], ids=["legacy", "modern"])
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def demo_server(**options: Any) -> Server:
    server = Server("demo", "1.2.3", instructions="Ask me things.", **options)

    @server.tool
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool
    def blocking(n: int) -> str:
        """A sync tool: runs in a worker thread."""
        return f"{threading.current_thread() is not threading.main_thread()}:{n}"

    @server.tool(timeout=1)
    async def slow() -> str:
        await trio.sleep(10)
        return "done"

    @server.tool
    async def fails() -> str:
        raise ToolError("the city does not exist")

    @server.tool
    async def explodes() -> str:
        raise RuntimeError("secret stack detail")

    @server.tool
    async def progress(ctx: McpContext, steps: int) -> str:
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
        return "ok"

    @server.tool
    async def chatty(ctx: McpContext) -> str:
        await ctx.debug("d")
        await ctx.warning("w")
        return "ok"

    @server.resource("config://app", mime_type="application/json")
    def config() -> dict[str, str]:
        return {"theme": "dark"}

    @server.resource("files://{+path}")
    def file(path: str) -> str:
        return f"contents of {path}"

    @server.resource("users://{id}/avatar", mime_type="image/png")
    def avatar(id: int) -> bytes:
        return PNG

    @server.prompt(
        complete={
            "language": lambda value: [x for x in ["python", "perl", "rust"] if x.startswith(value)]
        }
    )
    def review(code: str, language: str = "python") -> list[Any]:
        """Review some code."""
        return [
            f"Review this {language}:",
            PromptMessage(role="user", content=TextContent(text=code)),
            Image(data=PNG),
        ]

    @server.completion("users://{id}/avatar", "id")
    def ids(value: str, context: dict[str, str]) -> list[str]:
        return [i for i in ["1", "12", "2"] if i.startswith(value)]

    return server


# -- lifecycle ---------------------------------------------------------------------------


async def test_initialize_negotiates_and_describes_the_server() -> None:
    server = demo_server()
    async with connect(server, initialize=False) as c:
        result = await c.call(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "c", "version": "1"},
            },
        )
        assert result["protocolVersion"] == "2025-06-18"
        assert result["serverInfo"] == {"name": "demo", "version": "1.2.3"}
        assert result["instructions"] == "Ask me things."
        caps = result["capabilities"]
        assert caps["tools"] == {"listChanged": True}
        assert caps["resources"] == {"subscribe": True, "listChanged": True}
        assert {"prompts", "logging", "completions"} <= set(caps)
        assert "resultType" not in result
        again = await c.error(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "c", "version": "1"},
            },
        )
        assert again.code == -32600

    async with connect(server, initialize=False) as c:
        result = await c.call(
            "initialize",
            {
                "protocolVersion": "1999-01-01",
                "capabilities": {},
                "clientInfo": {"name": "c", "version": "1"},
            },
        )
        assert result["protocolVersion"] == "2025-11-25"


async def test_requests_before_initialize_are_refused_but_ping_works() -> None:
    async with connect(demo_server(), initialize=False) as c:
        assert await c.call("ping") == {}
        error = await c.error("tools/list")
        assert error.code == -32600
        assert "not initialized" in error.message


async def test_discover_in_the_modern_era() -> None:
    async with connect(demo_server(), modern=True) as c:
        result = await c.call("server/discover")
        assert result["supportedVersions"] == [MODERN]
        assert result["resultType"] == "complete"
        assert result["instructions"] == "Ask me things."
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "demo"
        assert {"ttlMs", "cacheScope"} <= set(result)


async def test_modern_request_meta_is_checked() -> None:
    async with connect(demo_server(), modern=True) as c:
        raw = c.session
        with pytest.raises(McpError) as info:
            await raw.request(
                "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}, dict
            )
        assert info.value.code == -32602
        unsupported = await c.error(
            "tools/list", **{"io.modelcontextprotocol/protocolVersion": "v999"}
        )
        assert unsupported.code == -32022
        assert unsupported.data == {"requested": "v999", "supported": [MODERN]}
        for removed in ("ping", "logging/setLevel", "resources/subscribe", "initialize"):
            assert (await c.error(removed, {"level": "info", "uri": "x"})).code == -32601


async def test_unknown_methods_are_method_not_found() -> None:
    for modern in (False, True):
        async with connect(demo_server(), modern=modern) as c:
            assert (await c.error("tools/frobnicate")).code == -32601


# -- tools -------------------------------------------------------------------------------


@ERAS
async def test_tools_list_and_call(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        tools = (await c.call("tools/list"))["tools"]
        assert [t["name"] for t in tools][:2] == ["add", "blocking"]
        assert tools[0]["inputSchema"]["required"] == ["a", "b"]
        result = await c.call("tools/call", {"name": "add", "arguments": {"a": 2, "b": 40}})
        assert result["content"] == [{"type": "text", "text": "42"}]
        assert result["structuredContent"] == {"result": 42}
        assert ("resultType" in result) is modern


@ERAS
async def test_invalid_arguments_are_tool_errors_naming_the_field(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        result = await c.call("tools/call", {"name": "add", "arguments": {"a": 1, "b": "two"}})
        assert result["isError"] is True
        assert "$.b" in result["content"][0]["text"]
        missing = await c.call("tools/call", {"name": "add", "arguments": {"a": 1}})
        assert "`b`" in missing["content"][0]["text"]


@ERAS
async def test_unknown_tool_is_a_protocol_error(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        error = await c.error("tools/call", {"name": "nope"})
        assert (error.code, error.message) == (-32602, "Unknown tool: nope")
        assert (await c.error("tools/call", {"arguments": {}})).code == -32602


async def test_sync_tools_run_in_a_worker_thread() -> None:
    async with connect(demo_server()) as c:
        result = await c.call("tools/call", {"name": "blocking", "arguments": {"n": 3}})
        assert result["content"][0]["text"] == "True:3"


async def test_tool_timeout_is_a_timeout_error(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(demo_server()) as c:
        error = await c.error("tools/call", {"name": "slow"})
        assert (error.code, error.message) == (-32001, "Request timed out")


async def test_server_request_timeout_is_the_default_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = demo_server(request_timeout=0.5)

    @server.tool
    async def nap() -> str:
        await trio.sleep(0.7)
        return "woke"

    async with connect(server) as c:
        assert (await c.error("tools/call", {"name": "nap"})).code == -32001


@ERAS
async def test_tool_errors_and_panics(modern: bool, caplog: pytest.LogCaptureFixture) -> None:
    async with connect(demo_server(), modern=modern) as c:
        failed = await c.call("tools/call", {"name": "fails"})
        assert failed["isError"] is True
        assert failed["content"] == [{"type": "text", "text": "the city does not exist"}]
        boom = await c.call("tools/call", {"name": "explodes"})
        assert boom["isError"] is True
        assert boom["content"] == [{"type": "text", "text": "Internal error"}]
        assert "secret stack detail" in caplog.text
        assert (await c.call("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}}))[
            "content"
        ][0]["text"] == "2"


async def test_unmasked_error_details() -> None:
    async with connect(demo_server(mask_error_details=False)) as c:
        boom = await c.call("tools/call", {"name": "explodes"})
        assert boom["content"][0]["text"] == "RuntimeError: secret stack detail"


@ERAS
async def test_progress_reaches_the_caller(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        result = await c.call(
            "tools/call", {"name": "progress", "arguments": {"steps": 3}}, with_progress=True
        )
        assert result["content"][0]["text"] == "ok"
        (_token,) = {p["progressToken"] for p in c.progress}
        assert [(p["progress"], p["total"], p["message"]) for p in c.progress] == [
            (1, 3, "step 1"),
            (2, 3, "step 2"),
            (3, 3, "step 3"),
        ]


async def test_logging_levels_in_both_eras() -> None:
    async with connect(demo_server()) as c:
        await c.call("tools/call", {"name": "chatty"})
        assert [m["level"] for m in c.notifications("notifications/message")] == [
            "warning"
        ]  # default: info
        assert await c.call("logging/setLevel", {"level": "debug"}) == {}
        await c.call("tools/call", {"name": "chatty"})
        assert [m["level"] for m in c.notifications("notifications/message")] == [
            "warning",
            "debug",
            "warning",
        ]
    async with connect(demo_server(), modern=True) as c:
        await c.call("tools/call", {"name": "chatty"})
        assert c.notifications("notifications/message") == []  # no level asked: none sent
        await c.call(
            "tools/call", {"name": "chatty"}, **{"io.modelcontextprotocol/logLevel": "debug"}
        )
        assert [m["data"] for m in c.notifications("notifications/message")] == ["d", "w"]


# -- resources ---------------------------------------------------------------------------


@ERAS
async def test_resources_static_and_templates(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        listed = await c.call("resources/list")
        assert [r["uri"] for r in listed["resources"]] == ["config://app"]
        templates = await c.call("resources/templates/list")
        assert [t["uriTemplate"] for t in templates["resourceTemplates"]] == [
            "files://{+path}",
            "users://{id}/avatar",
        ]
        config = await c.call("resources/read", {"uri": "config://app"})
        assert config["contents"] == [
            {"uri": "config://app", "mimeType": "application/json", "text": '{"theme":"dark"}'}
        ]
        nested = await c.call("resources/read", {"uri": "files://a/b/c.txt"})
        assert nested["contents"][0]["text"] == "contents of a/b/c.txt"
        avatar = await c.call("resources/read", {"uri": "users://7/avatar"})
        assert avatar["contents"] == [
            {
                "uri": "users://7/avatar",
                "mimeType": "image/png",
                "blob": base64.b64encode(PNG).decode(),
            }
        ]
        if modern:
            assert (avatar["ttlMs"], avatar["cacheScope"]) == (0, "private")


@ERAS
async def test_unknown_and_traversing_resources_are_not_found(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        for uri in ("nothing://here", "files://a/../../etc/passwd", "users://x/y/avatar"):
            error = await c.error("resources/read", {"uri": uri})
            assert error.code == (-32602 if modern else -32002)
            assert error.data == {"uri": uri}
        bad_type = await c.error("resources/read", {"uri": "users://abc/avatar"})
        assert bad_type.code == -32602


async def test_legacy_subscriptions_and_updates() -> None:
    server = demo_server()
    async with connect(server) as c:
        assert await c.call("resources/subscribe", {"uri": "config://app"}) == {}
        await server.notify_resource_updated("config://app")
        await server.notify_resource_updated("config://other")
        assert await c.call("resources/unsubscribe", {"uri": "config://app"}) == {}
        await server.notify_resource_updated("config://app")
        await trio.testing.wait_all_tasks_blocked()
        assert c.notifications("notifications/resources/updated") == [{"uri": "config://app"}]


# -- prompts and completion --------------------------------------------------------------


@ERAS
async def test_prompts(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        prompts = (await c.call("prompts/list"))["prompts"]
        assert prompts[0]["arguments"] == [
            {"name": "code", "required": True},
            {"name": "language", "required": False},
        ]
        result = await c.call(
            "prompts/get", {"name": "review", "arguments": {"code": "x = 1", "language": "rust"}}
        )
        assert result["description"] == "Review some code."
        assert [m["content"]["type"] for m in result["messages"]] == ["text", "text", "image"]
        assert result["messages"][0]["content"]["text"] == "Review this rust:"
        missing = await c.error("prompts/get", {"name": "review", "arguments": {}})
        assert (missing.code, "code" in missing.message) == (-32602, True)
        assert (await c.error("prompts/get", {"name": "nope"})).code == -32602


@ERAS
async def test_completion_of_prompt_and_template_arguments(modern: bool) -> None:
    async with connect(demo_server(), modern=modern) as c:
        result = await c.call(
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "review"},
                "argument": {"name": "language", "value": "p"},
            },
        )
        assert result["completion"] == {"values": ["python", "perl"], "total": 2, "hasMore": False}
        result = await c.call(
            "completion/complete",
            {
                "ref": {"type": "ref/resource", "uri": "users://{id}/avatar"},
                "argument": {"name": "id", "value": "1"},
                "context": {"arguments": {}},
            },
        )
        assert result["completion"]["values"] == ["1", "12"]
        nothing = await c.call(
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "review"},
                "argument": {"name": "code", "value": "x"},
            },
        )
        assert nothing["completion"]["values"] == []


# -- pagination --------------------------------------------------------------------------


@ERAS
async def test_pagination_with_opaque_cursors(modern: bool) -> None:
    server = Server("many", page_size=2)
    for i in range(5):
        server.tool(name=f"tool_{i}")(lambda: None)
    async with connect(server, modern=modern) as c:
        names: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await c.call("tools/list", {"cursor": cursor} if cursor else {})
            names += [t["name"] for t in page["tools"]]
            pages += 1
            cursor = page.get("nextCursor")
            if cursor is None:
                break
        assert names == [f"tool_{i}" for i in range(5)]
        assert pages == 3
        assert (await c.error("tools/list", {"cursor": "garbage!"})).code == -32602


# -- runtime changes ---------------------------------------------------------------------


async def test_list_changed_when_tools_change_at_runtime() -> None:
    server = demo_server()
    async with connect(server) as c:
        server.tool(name="late")(lambda: "late")
        await trio.testing.wait_all_tasks_blocked()
        assert len(c.notifications("notifications/tools/list_changed")) == 1
        assert "late" in [t["name"] for t in (await c.call("tools/list"))["tools"]]
        server.remove_tool("late")
        server.remove_prompt("review")
        await trio.testing.wait_all_tasks_blocked()
        assert len(c.notifications("notifications/tools/list_changed")) == 2
        assert len(c.notifications("notifications/prompts/list_changed")) == 1


async def test_modern_subscriptions_listen() -> None:
    server = demo_server()
    async with connect(server, modern=True) as c, trio.open_nursery() as nursery:

        async def listen() -> None:
            with trio.move_on_after(5):
                await c.call(
                    "subscriptions/listen",
                    {
                        "notifications": {
                            "toolsListChanged": True,
                            "resourceSubscriptions": ["config://app"],
                        }
                    },
                )

        nursery.start_soon(listen)
        await trio.testing.wait_all_tasks_blocked()
        ack = c.notifications("notifications/subscriptions/acknowledged")
        assert len(ack) == 1
        subscription = ack[0]["_meta"]["io.modelcontextprotocol/subscriptionId"]
        assert ack[0]["notifications"] == {
            "toolsListChanged": True,
            "resourceSubscriptions": ["config://app"],
        }
        server.tool(name="late")(lambda: None)
        server.remove_prompt("review")  # not asked for: not sent
        await server.notify_resource_updated("config://app")
        await server.notify_resource_updated("config://other")
        await trio.testing.wait_all_tasks_blocked()
        changed = c.notifications("notifications/tools/list_changed")
        assert changed == [{"_meta": {"io.modelcontextprotocol/subscriptionId": subscription}}]
        assert c.notifications("notifications/prompts/list_changed") == []
        updated = c.notifications("notifications/resources/updated")
        assert updated == [
            {
                "uri": "config://app",
                "_meta": {"io.modelcontextprotocol/subscriptionId": subscription},
            }
        ]
        nursery.cancel_scope.cancel()


async def test_the_subscription_watcher_sees_every_change_in_both_eras() -> None:
    server = demo_server()
    seen: list[frozenset[str]] = []

    async def watcher(uris: frozenset[str]) -> None:
        seen.append(uris)

    server.on_subscriptions_changed(watcher)
    async with connect(server) as legacy:
        await legacy.call("resources/subscribe", {"uri": "config://app"})
        await legacy.call("resources/subscribe", {"uri": "config://app"})  # no change
        async with connect(server, modern=True) as modern, trio.open_nursery() as nursery:

            async def listen() -> None:
                await modern.call(
                    "subscriptions/listen",
                    {"notifications": {"resourceSubscriptions": ["users://1/avatar"]}},
                )

            nursery.start_soon(listen)
            await trio.testing.wait_all_tasks_blocked()
            assert server.subscribed_resources == {"config://app", "users://1/avatar"}
            nursery.cancel_scope.cancel()  # the listening client leaves
        await trio.testing.wait_all_tasks_blocked()
        await legacy.call("resources/subscribe", {"uri": "config://other"})
        await legacy.call("resources/unsubscribe", {"uri": "config://app"})
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [
        {"config://app"},
        {"config://app", "users://1/avatar"},
        {"config://app"},
        {"config://app", "config://other"},
        {"config://other"},
        frozenset(),  # the legacy client left
    ]
    assert server.subscribed_resources == frozenset()


# -- lifespan, dependencies, middleware, mount -------------------------------------------


class Database:
    def __init__(self) -> None:
        self.rows = ["a", "b"]
        self.closed = False


async def test_lifespan_and_injected_dependencies() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server: Server) -> AsyncIterator[Database]:
        events.append("start")
        db = Database()
        yield db
        db.closed = True
        events.append("stop")

    server = Server("db", lifespan=lifespan).provide(Database)

    @server.tool
    async def count(db: Database, ctx: McpContext) -> int:
        assert ctx.lifespan is db
        return len(db.rows)

    assert "db" not in server.registry.tools["count"].definition.input_schema["properties"]
    async with connect(server) as c:
        assert (await c.call("tools/call", {"name": "count"}))["structuredContent"] == {"result": 2}
        assert events == ["start"]
    assert events == ["start", "stop"]


async def test_middleware_wraps_every_request(caplog: pytest.LogCaptureFixture) -> None:
    timing = TimingMiddleware()
    seen: list[str] = []

    async def record(ctx: McpContext, call_next: Any) -> Any:
        seen.append(ctx.method)
        return await call_next()

    server = demo_server(
        middleware=[record, timing, LoggingMiddleware(), ErrorMappingMiddleware({KeyError: -32602})]
    )

    @server.tool
    async def lookup(key: str) -> str:
        return {"a": "1"}[key]

    caplog.set_level("INFO", logger="fastmcp.requests")
    async with connect(server) as c:
        await c.call("tools/list")
        result = await c.call("tools/call", {"name": "lookup", "arguments": {"key": "zz"}})
        assert result["isError"] is True
        assert result["content"][0]["text"] == "'zz'"
    assert seen == ["initialize", "ping", "tools/list", "tools/call"]
    assert len(timing.timings["tools/call"]) == 1
    assert "tools/call id=" in caplog.text


async def test_mounted_servers_appear_under_their_prefix() -> None:
    weather = Server("weather")

    @weather.tool
    async def forecast(city: str) -> str:
        return f"sunny in {city}"

    @weather.resource("weather://today")
    def today() -> str:
        return "sunny"

    main = Server("main").mount("wx", weather)
    async with connect(main) as c:
        assert [t["name"] for t in (await c.call("tools/list"))["tools"]] == ["wx_forecast"]
        result = await c.call("tools/call", {"name": "wx_forecast", "arguments": {"city": "Oslo"}})
        assert result["content"][0]["text"] == "sunny in Oslo"
        assert [r["uri"] for r in (await c.call("resources/list"))["resources"]] == [
            "weather://wx/today"
        ]
        read = await c.call("resources/read", {"uri": "weather://wx/today"})
        assert read["contents"] == [
            {"uri": "weather://wx/today", "mimeType": "text/plain", "text": "sunny"}
        ]
        weather.tool(name="late")(lambda: None)
        assert "wx_late" in [t["name"] for t in (await c.call("tools/list"))["tools"]]


# -- asking the client ------------------------------------------------------------------


class Contact(msgspec.Struct):
    name: str
    email: str


def asking_server() -> Server:
    server = Server("ask")

    @server.tool
    async def signup(ctx: McpContext) -> str:
        contact = await ctx.elicit("Who are you?", Contact, key="contact")
        if not contact.accepted or contact.data is None:
            return f"declined ({contact.action})"
        reply = await ctx.sample(f"Welcome {contact.data.name}", max_tokens=20)
        roots = await ctx.list_roots()
        assert isinstance(reply.content, TextContent)
        return f"{contact.data.email}|{reply.content.text}|{len(roots)}"

    return server


ANSWERS = {
    "elicitation/create": {"action": "accept", "content": {"name": "Ada", "email": "ada@x.org"}},
    "sampling/createMessage": lambda p: {
        "role": "assistant",
        "content": {"type": "text", "text": p["messages"][0]["content"]["text"].upper()},
        "model": "m",
    },
    "roots/list": {"roots": [{"uri": "file:///home/ada"}]},
}


async def test_legacy_era_asks_with_server_to_client_requests() -> None:
    async with connect(asking_server(), answers=ANSWERS) as c:
        result = await c.call("tools/call", {"name": "signup"})
        assert result["content"][0]["text"] == "ada@x.org|WELCOME ADA|1"


async def test_modern_era_asks_with_input_rounds() -> None:
    async with connect(asking_server(), modern=True) as c:
        first = await c.call("tools/call", {"name": "signup"})
        assert first["resultType"] == "input_required"
        request = first["inputRequests"]["contact"]
        assert request["method"] == "elicitation/create"
        assert request["params"]["requestedSchema"]["required"] == ["name", "email"]
        state = first["requestState"]
        second = await c.call(
            "tools/call",
            {
                "name": "signup",
                "requestState": state,
                "inputResponses": {"contact": ANSWERS["elicitation/create"]},
            },
        )
        assert second["resultType"] == "input_required"
        (key,) = second["inputRequests"]
        assert key == "sample-1"
        assert second["requestState"] != state
        sampled = {"role": "assistant", "content": {"type": "text", "text": "HI"}, "model": "m"}
        third = await c.call(
            "tools/call",
            {
                "name": "signup",
                "requestState": second["requestState"],
                "inputResponses": {key: sampled},
            },
        )
        (roots_key,) = third["inputRequests"]
        done = await c.call(
            "tools/call",
            {
                "name": "signup",
                "requestState": third["requestState"],
                "inputResponses": {
                    roots_key: {"roots": [{"uri": "file:///a"}, {"uri": "file:///b"}]}
                },
            },
        )
        assert done["resultType"] == "complete"
        assert done["content"][0]["text"] == "ada@x.org|HI|2"
        tampered = await c.error(
            "tools/call",
            {"name": "signup", "requestState": state + "-TAMPERED", "inputResponses": {}},
        )
        assert tampered.code == -32602


async def test_modern_ask_respects_declared_capabilities() -> None:
    async with connect(asking_server(), modern=True, caps={"sampling": {}}) as c:
        error = await c.error("tools/call", {"name": "signup"})
        assert error.code == -32021
        assert error.data == {"requiredCapabilities": {"elicitation": {"form": {}}}}


async def test_declined_elicitation() -> None:
    answers = {**ANSWERS, "elicitation/create": {"action": "decline"}}
    async with connect(asking_server(), answers=answers) as c:
        result = await c.call("tools/call", {"name": "signup"})
        assert result["content"][0]["text"] == "declined (decline)"


# -- tasks -------------------------------------------------------------------------------


def task_server() -> Server:
    server = Server("tasks")

    @server.tool(task="optional")
    async def compute(seconds: float) -> str:
        await trio.sleep(seconds)
        return f"computed after {seconds}s"

    @server.tool(task="required")
    async def confirm(ctx: McpContext, filename: str) -> str:
        answer = await ctx.elicit(
            f"Delete {filename}?", {"properties": {"confirm": {"type": "boolean"}}}
        )
        return f"deleted={answer.data}"

    @server.tool(task="required", defer_task=True)
    async def named(ctx: McpContext) -> str:
        who = await ctx.elicit(
            "Name?", {"properties": {"name": {"type": "string"}}}, key="user_name"
        )
        await ctx.start_task()
        await trio.sleep(1)
        assert who.data is not None
        return f"Hello {who.data['name']}"

    return server


TASKS_CAPS = {"elicitation": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}}


async def poll(c: Any, task_id: str, until: set[str]) -> dict[str, Any]:
    while True:
        state = await c.call(
            "tasks/get", {"taskId": task_id}, **{"io.modelcontextprotocol/protocolVersion": MODERN}
        )
        if state["status"] in until:
            return state  # type: ignore[no-any-return]
        await trio.sleep(0.2)


def ack_only(result: dict[str, Any]) -> bool:
    return result["resultType"] == "complete" and set(result) <= {"resultType", "_meta"}


async def test_modern_tasks_extension(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(task_server(), modern=True, caps=TASKS_CAPS) as c:
        created = await c.call("tools/call", {"name": "compute", "arguments": {"seconds": 5}})
        assert created["resultType"] == "task"
        assert created["status"] == "working"
        assert {"taskId", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs"} <= set(created)
        done = await poll(c, created["taskId"], {"completed"})
        assert done["result"]["content"] == [{"type": "text", "text": "computed after 5.0s"}]
        assert done["resultType"] == "complete"

        long = await c.call("tools/call", {"name": "compute", "arguments": {"seconds": 60}})
        assert ack_only(await c.call("tasks/cancel", {"taskId": long["taskId"]}))
        assert (await poll(c, long["taskId"], {"cancelled"}))["status"] == "cancelled"
        assert ack_only(await c.call("tasks/cancel", {"taskId": long["taskId"]}))

        asking = await c.call("tools/call", {"name": "confirm", "arguments": {"filename": "a.txt"}})
        waiting = await poll(c, asking["taskId"], {"input_required"})
        (key,) = waiting["inputRequests"]
        ack = await c.call(
            "tasks/update",
            {
                "taskId": asking["taskId"],
                "inputResponses": {
                    key: {"action": "accept", "content": {"confirm": True}},
                    "other": 1,
                },
            },
        )
        assert ack_only(ack)
        finished = await poll(c, asking["taskId"], {"completed"})
        assert finished["result"]["content"][0]["text"] == "deleted={'confirm': True}"

        assert (await c.error("tasks/get", {"taskId": "nope"})).code == -32602


async def test_input_round_before_a_deferred_task(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(task_server(), modern=True, caps=TASKS_CAPS) as c:
        first = await c.call("tools/call", {"name": "named"})
        assert first["resultType"] == "input_required"
        assert "taskId" not in first
        second = await c.call(
            "tools/call",
            {
                "name": "named",
                "inputResponses": {"user_name": {"action": "accept", "content": {"name": "Alice"}}},
                "requestState": first.get("requestState"),
            },
        )
        assert second["resultType"] == "task"
        assert "requestState" not in second
        done = await poll(c, second["taskId"], {"completed"})
        assert "Alice" in done["result"]["content"][0]["text"]


async def test_task_support_needs_the_extension_per_request() -> None:
    async with connect(task_server(), modern=True, caps={"elicitation": {}}) as c:
        sync = await c.call("tools/call", {"name": "compute", "arguments": {"seconds": 0}})
        assert sync["resultType"] == "complete"
        required = await c.error("tools/call", {"name": "confirm", "arguments": {"filename": "x"}})
        assert required.code == -32021
        assert required.data == {
            "requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}
        }
        assert (await c.error("tasks/get", {"taskId": "gate-test"})).code == -32021
        discover = await c.call("server/discover")
        assert discover["capabilities"]["extensions"] == {"io.modelcontextprotocol/tasks": {}}


async def test_legacy_2025_11_25_tasks(autojump_clock: trio.testing.MockClock) -> None:
    async with connect(task_server()) as c:
        created = await c.call(
            "tools/call", {"name": "compute", "arguments": {"seconds": 3}, "task": {"ttl": 60000}}
        )
        task = created["task"]
        assert task["status"] == "working"
        assert task["ttl"] == 60000
        state = await c.call("tasks/get", {"taskId": task["taskId"]})
        assert state["status"] == "working"
        listed = await c.call("tasks/list")
        assert [t["taskId"] for t in listed["tasks"]] == [task["taskId"]]
        result = await c.call("tasks/result", {"taskId": task["taskId"]})
        assert result["content"][0]["text"] == "computed after 3.0s"
        sync = await c.call("tools/call", {"name": "compute", "arguments": {"seconds": 0}})
        assert "task" not in sync


@ERAS
async def test_image_content_helpers(modern: bool) -> None:
    server = Server("img")

    @server.tool
    async def chart() -> Image:
        return Image(data=PNG)

    async with connect(server, modern=modern) as c:
        result = await c.call("tools/call", {"name": "chart"})
        block = msgspec.convert(result["content"][0], ImageContent)
        assert block.mime_type == "image/png"
        assert base64.b64decode(block.data) == PNG


async def test_per_tool_budget_meets_the_server_budget() -> None:
    server = Server("b", request_timeout=100)

    @server.tool(timeout=5)
    async def remaining(ctx: McpContext) -> float:
        return ctx.budget().remaining()

    async with connect(server) as c:
        result = await c.call("tools/call", {"name": "remaining"})
        assert 0 < result["structuredContent"]["result"] <= 5
    assert Budget.INFINITE.is_infinite()


def test_resource_contents_shapes() -> None:
    from fastmcp_server._results import resource_contents

    result = resource_contents("hi", "a://b", None)
    assert result.contents == [TextResourceContents(uri="a://b", text="hi", mime_type="text/plain")]


async def test_requests_sent_right_behind_initialize_wait_for_it() -> None:
    """A client (or a shell pipe) may send everything at once; the session reads it in
    one go and routes concurrently, yet what came after ``initialize`` is answered as
    initialized."""

    @attrs.define
    class Burst:  # a transport whose frames are all there at once, like one stdio read
        frames: list[bytes]
        sent: list[bytes] = attrs.field(factory=list)
        done: trio.Event = attrs.field(factory=trio.Event)

        async def receive(self) -> bytes:
            if self.frames:
                return self.frames.pop(0)  # no checkpoint: the whole read is there
            await self.done.wait()
            raise TransportClosed("end of input")

        async def send(self, frame: bytes, *, related: Any = None, final: bool = False) -> None:
            self.sent.append(frame)
            if len(self.sent) == 3:
                self.done.set()

        async def aclose(self) -> None:
            self.done.set()

    server = demo_server()
    frames = [
        b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":'
        b'"2025-11-25","capabilities":{},"clientInfo":{"name":"pipe","version":"1"}}}',
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add",'
        b'"arguments":{"a":1,"b":2}}}',
    ]
    for _ in range(20):  # trio shuffles the order of tasks it starts together
        burst = Burst(list(frames))
        await server.serve_transport(burst)
        answers = {m["id"]: m for m in map(msgspec.json.decode, burst.sent)}
        assert answers[0]["result"]["protocolVersion"] == "2025-11-25"
        assert "error" not in answers[1], answers[1]
        assert answers[2]["result"]["structuredContent"] == {"result": 3}


async def test_invalid_utf8_in_tool_arguments_is_a_tool_error_and_serving_goes_on() -> None:
    """Bytes that are not UTF-8 inside a string argument: the envelope skips nested
    strings, so the tool's own decoder meets them; whichever msgspec release is
    installed, the call is answered as invalid arguments and the next call works."""

    @attrs.define
    class Pipe:
        frames: list[bytes]
        sent: list[bytes] = attrs.field(factory=list)

        async def receive(self) -> bytes:
            await trio.lowlevel.checkpoint()
            if self.frames:
                return self.frames.pop(0)
            raise TransportClosed("end of input")

        async def send(self, frame: bytes, *, related: Any = None, final: bool = False) -> None:
            self.sent.append(frame)

        async def aclose(self) -> None:
            pass

    server = Server("utf8", "1")

    @server.tool
    async def shout(text: str) -> str:
        return text.upper()

    meta = (
        b'"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
        b'"io.modelcontextprotocol/clientCapabilities":{}}'
    )
    pipe = Pipe(
        [
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shout",'
            b'"arguments":{"text":"\xff"},' + meta + b"}}",
            b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"shout",'
            b'"arguments":{"text":"ok"},' + meta + b"}}",
        ]
    )
    await server.serve_transport(pipe)
    answers = {m["id"]: m for m in map(msgspec.json.decode, pipe.sent)}
    assert answers[1]["result"]["isError"] is True
    assert "Invalid arguments for tool shout" in answers[1]["result"]["content"][0]["text"]
    assert answers[2]["result"]["content"][0]["text"] == "OK"


async def test_is_cancelled_is_safe_in_a_worker_thread_when_the_request_has_a_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A sync tool (worker thread) polls ``ctx.is_cancelled()`` under a deadline: no
    error, and True once the deadline has passed (the mock clock jumps there while the
    loop waits for the thread)."""
    seen: list[bool] = []
    done = threading.Event()
    server = Server("polling", "1")

    @server.tool(timeout=5)
    def poll(ctx: McpContext) -> str:
        try:
            while not ctx.is_cancelled():
                seen.append(False)
                done.wait(0.001)
            seen.append(True)
        finally:
            done.set()
        return "stopped"

    async with connect(server, modern=True) as client:
        error = await client.error("tools/call", {"name": "poll"})
    assert error.code == -32001
    assert await trio.to_thread.run_sync(done.wait, 30)  # real time: the thread's pace
    assert seen[-1] is True


async def test_the_era_comes_from_the_decoded_meta_not_from_the_bytes() -> None:
    """A legacy call whose argument text names the modern version key is legacy: only
    ``params._meta`` decides."""
    server = Server("era", "1")

    @server.tool
    async def shout(text: str) -> str:
        return text.upper()

    tricky = '{"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}'
    async with connect(server) as c:  # initialized as 2025-11-25
        result = await c.call("tools/call", {"name": "shout", "arguments": {"text": tricky}})
    assert result["content"][0]["text"] == tricky.upper()


async def test_a_subscriber_that_does_not_read_holds_up_no_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One legacy client subscribes and then never reads a notification (its sends
    block forever); the notifier returns at once, another subscriber gets its updates,
    and the stuck one's outbox keeps one entry per URI, however many changes come."""

    @attrs.define
    class Stuck:
        frames: list[bytes]
        answered: int = 0
        blocked: int = 0
        closed: trio.Event = attrs.field(factory=trio.Event)

        async def receive(self) -> bytes:
            await trio.lowlevel.checkpoint()
            if self.frames:
                return self.frames.pop(0)
            await self.closed.wait()
            raise TransportClosed("end of input")

        async def send(self, frame: bytes, *, related: Any = None, final: bool = False) -> None:
            if b'"method"' in frame:  # a notification: never read
                self.blocked += 1
                await trio.sleep_forever()
            self.answered += 1

        async def aclose(self) -> None:
            self.closed.set()

    server = demo_server()
    stuck = Stuck(
        [
            b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":'
            b'"2025-11-25","capabilities":{},"clientInfo":{"name":"stuck","version":"1"}}}',
            b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            b'{"jsonrpc":"2.0","id":1,"method":"resources/subscribe",'
            b'"params":{"uri":"config://app"}}',
        ]
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_transport, stuck)
        async with connect(server) as reader:
            await reader.call("resources/subscribe", {"uri": "config://app"})
            await trio.testing.wait_all_tasks_blocked()
            assert stuck.answered == 2  # initialized and subscribed
            await server.notify_resource_updated("config://app")
            await trio.testing.wait_all_tasks_blocked()
            assert stuck.blocked == 1  # its first update is stuck in its send
            t0 = trio.current_time()
            for _ in range(50):
                await server.notify_resource_updated("config://app")
            server.tool(name="late")(lambda: "late")  # a list change too
            assert trio.current_time() == t0  # the notifier never waited
            await trio.testing.wait_all_tasks_blocked()
            assert len(reader.notifications("notifications/resources/updated")) >= 2
            assert len(reader.notifications("notifications/tools/list_changed")) == 1
            (stuck_connection,) = [
                c for c in server._connections if c.client_info and c.client_info.name == "stuck"
            ]
            assert stuck_connection.outbox is not None
            # behind the stuck send wait one update and one list change, not fifty-one
            assert len(stuck_connection.outbox._pending) == 2
        await stuck.aclose()
        nursery.cancel_scope.cancel()
