"""Tags, versions, duplicates, visibility rules, argument coercion and schema shapes:
what a server offers and how it reads what clients send, checked on the wire."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from server_support import connect

from fastmcp_core import McpContext
from fastmcp_protocol import McpError
from fastmcp_server import (
    Component,
    FunctionTool,
    Server,
    VersionFilter,
    VersionSpec,
    tool,
)

ERAS = pytest.mark.parametrize("modern", [False, True], ids=["legacy", "modern"])


def tagged_server(**options: Any) -> Server:
    server = Server("tagged", **options)

    @server.tool(tags={"public", "read"})
    async def get_data() -> str:
        return "data"

    @server.tool(tags={"admin", "write"})
    async def set_data(value: str) -> str:
        return f"set {value}"

    @server.tool(tags={"admin", "dangerous"})
    async def delete_data() -> str:
        return "deleted"

    @server.tool
    async def status() -> str:
        return "ok"

    @server.resource("data://secrets", tags={"admin"})
    def secrets() -> str:
        return "hunter2"

    @server.prompt(tags={"admin"})
    def audit() -> str:
        return "audit everything"

    return server


async def tool_names(client: Any) -> list[str]:
    return [t["name"] for t in (await client.call("tools/list"))["tools"]]


# -- tags and visibility -----------------------------------------------------------------


def test_components_carry_tags_and_versions() -> None:
    server = tagged_server()
    by_name = {c.name: c for c in server.components("tools")}
    assert by_name["set_data"].tags == {"admin", "write"}
    assert by_name["set_data"].key == "tool:set_data"
    assert by_name["status"].tags == frozenset()
    assert by_name["status"].version is None
    (resource,) = server.components("resources")
    assert isinstance(resource, Component)
    assert resource.key == "resource:data://secrets"
    # tags are the server's own: clients never see them
    assert by_name["get_data"].definition.meta is None


@ERAS
async def test_disabled_components_are_neither_listed_nor_callable(modern: bool) -> None:
    server = tagged_server()
    server.disable(tags={"admin"})
    async with connect(server, modern=modern) as client:
        assert await tool_names(client) == ["get_data", "status"]
        error = await client.error("tools/call", {"name": "delete_data"})
        assert error.code == -32602
        assert "Unknown tool" in error.message
        assert (await client.call("resources/list"))["resources"] == []
        assert (await client.error("resources/read", {"uri": "data://secrets"})).code in (
            -32002,
            -32602,
        )
        assert (await client.call("prompts/list"))["prompts"] == []
        assert (await client.error("prompts/get", {"name": "audit"})).code == -32602
        server.enable(tags={"admin"})  # later rules override earlier ones
        assert "delete_data" in await tool_names(client)
        result = await client.call("tools/call", {"name": "delete_data"})
        assert result["content"][0]["text"] == "deleted"


def test_rules_match_names_keys_tags_versions_and_kinds() -> None:
    server = tagged_server()
    server.disable(keys={"tool:status"}, tags={"dangerous"})  # they add up
    assert [c.name for c in server.components("tools")] == ["get_data", "set_data"]
    server.disable(names={"get_data"})
    assert [c.name for c in server.components("tools")] == ["set_data"]
    server.disable(tags={"admin"}, components={"prompt"})  # only prompts of that tag
    assert [c.name for c in server.components("tools")] == ["set_data"]
    assert server.components("prompts") == []
    assert [c.name for c in server.components("resources")] == ["data://secrets"]
    server.enable(match_all=True)
    assert len(server.components("tools")) == 4
    with pytest.raises(ValueError, match="name what to match"):
        server.disable()


def test_an_allowlist_offers_only_what_it_names() -> None:
    server = tagged_server()
    server.enable(tags={"public"}, only=True)
    assert [c.name for c in server.components("tools")] == ["get_data"]
    assert server.components("resources") == []
    assert server.components("prompts") == []
    # a later allowlist replaces the earlier one; a later disable overrides it
    server.enable(tags={"admin"}, only=True).disable(names={"delete_data"})
    assert [c.name for c in server.components("tools")] == ["set_data"]
    assert [c.name for c in server.components("prompts")] == ["audit"]


def test_a_component_registered_disabled_waits_for_enable() -> None:
    server = Server("s")

    @server.tool(enabled=False, tags={"beta"})
    async def preview() -> str:
        return "new"

    assert server.components("tools") == []
    server.enable(tags={"beta"})
    assert [c.name for c in server.components("tools")] == ["preview"]


async def test_enable_and_disable_tell_the_clients_the_lists_changed() -> None:
    server = tagged_server()
    async with connect(server) as client:
        server.disable(tags={"admin"}, components={"tool"})
        await trio.testing.wait_all_tasks_blocked()
        assert len(client.notifications("notifications/tools/list_changed")) == 1
        assert client.notifications("notifications/prompts/list_changed") == []
        server.enable(tags={"admin"})
        await trio.testing.wait_all_tasks_blocked()
        assert len(client.notifications("notifications/prompts/list_changed")) == 1


async def test_a_parents_rules_apply_to_its_mounted_servers() -> None:
    child = tagged_server()
    child.disable(names={"status"})  # the child's own rules apply first
    parent = Server("parent").mount("inner", child)
    parent.disable(tags={"dangerous"})
    assert [c.name for c in parent.components("tools")] == ["inner_get_data", "inner_set_data"]
    assert parent.components("tools")[1].tags == {"admin", "write"}
    async with connect(parent) as client:
        error = await client.error("tools/call", {"name": "inner_delete_data"})
        assert "Unknown tool" in error.message
        result = await client.call(
            "tools/call", {"name": "inner_set_data", "arguments": {"value": "x"}}
        )
        assert result["content"][0]["text"] == "set x"
    child.enable(names={"status"})  # changes in the child show at once
    assert "inner_status" in [c.name for c in parent.components("tools")]


# -- versions ------------------------------------------------------------------------------


def versioned_server() -> Server:
    server = Server("versions")

    @server.tool(version="1.0")
    async def calculate(x: int, y: int) -> int:
        return x + y

    @server.tool(name="calculate", version="2.0")
    async def calculate_v2(x: int, y: int, z: int = 0) -> int:
        return x + y + z

    @server.tool(name="calculate", version="10.0")
    async def calculate_v10(x: int, y: int) -> int:
        return 10 * (x + y)

    @server.tool
    async def health() -> str:
        return "ok"

    return server


async def test_clients_see_the_highest_version() -> None:
    server = versioned_server()
    (calc, _health) = server.components("tools")
    assert (calc.name, calc.version) == ("calculate", "10.0")  # 10 > 2, not string order
    async with connect(server) as client:
        assert await tool_names(client) == ["calculate", "health"]
        result = await client.call(
            "tools/call", {"name": "calculate", "arguments": {"x": 1, "y": 2}}
        )
        assert result["structuredContent"] == {"result": 30}
    server.remove_tool("calculate", version="10.0")
    assert server.components("tools")[0].version == "2.0"
    assert [o.component.version for o in server.registry.versions("tools", "calculate")] == [
        "1.0",
        "2.0",
    ]
    server.remove_tool("calculate")  # every version
    assert [c.name for c in server.components("tools")] == ["health"]


def test_a_version_filter_offers_a_range() -> None:
    v1 = versioned_server().add_transform(VersionFilter(version_lt="2.0"))
    assert [(c.name, c.version) for c in v1.components("tools")] == [("calculate", "1.0")]
    v2 = versioned_server().add_transform(
        VersionFilter(version_gte="2.0", version_lt="3.0", include_unversioned=True)
    )
    assert [(c.name, c.version) for c in v2.components("tools")] == [
        ("calculate", "2.0"),
        ("health", None),
    ]
    with pytest.raises(TypeError):
        v2.add_transform("not a transform")  # type: ignore[arg-type]


def test_version_rules_and_comparison() -> None:
    server = versioned_server()
    server.disable(version=VersionSpec(gte="2.0"))
    assert [(c.name, c.version) for c in server.components("tools")] == [
        ("calculate", "1.0"),
        ("health", None),
    ]
    assert "1.9" in VersionSpec(lt="1.10")
    assert "v1.0" in VersionSpec(eq="1")
    assert "1.0a1" in VersionSpec(lt="1.0")
    assert "1.0" not in VersionSpec(lt="1.0")
    assert "2025-02-01" in VersionSpec(gte="2025-01-15")  # not PEP 440: as strings


# -- duplicates ---------------------------------------------------------------------------


async def first() -> str:
    return "first"


async def second() -> str:
    return "second"


def test_a_duplicate_name_is_an_error_by_default() -> None:
    server = Server("s").tool(tool(name="greet")(first))
    with pytest.raises(ValueError, match="already registered"):
        server.tool(tool(name="greet")(second))
    with pytest.raises(ValueError, match="already registered"):

        @server.prompt(name="p")
        @server.prompt(name="p")
        def prompt_twice() -> str:
            return "x"


async def test_duplicate_policies(caplog: pytest.LogCaptureFixture) -> None:
    kept = Server("s", on_duplicate="ignore").tool(tool(name="greet")(first))
    kept.tool(tool(name="greet")(second))
    replaced = Server("s", on_duplicate="replace").tool(tool(name="greet")(first))
    replaced.tool(tool(name="greet")(second))
    warned = Server("s", on_duplicate="warn").tool(tool(name="greet")(first))
    with caplog.at_level(logging.WARNING, logger="fastmcp"):
        warned.tool(tool(name="greet")(second))
    assert "registered twice" in caplog.text
    for server, expected in ((kept, "first"), (replaced, "second"), (warned, "second")):
        async with connect(server) as client:
            result = await client.call("tools/call", {"name": "greet"})
            assert result["content"][0]["text"] == expected
    # per call too
    server = Server("s").tool(tool(name="greet")(first))
    server.add_tool(FunctionTool(second, "greet"), on_duplicate="replace")
    with pytest.raises(ValueError, match="on_duplicate"):
        Server("s", on_duplicate="sometimes")  # type: ignore[arg-type]


# -- arguments and schemas -----------------------------------------------------------------


async def test_numbers_and_booleans_sent_as_strings_are_accepted() -> None:
    async def scale(n: int, factor: float, loud: bool = False) -> str:
        return f"{n * factor}{'!' if loud else ''}"

    lenient = Server("s").tool(tool(scale))
    strict = Server("s", strict_input_validation=True).tool(tool(scale))
    arguments = {"n": "5", "factor": "1.5", "loud": "true"}
    async with connect(lenient) as client:
        result = await client.call("tools/call", {"name": "scale", "arguments": arguments})
        assert result["content"][0]["text"] == "7.5!"
        bad = await client.call(
            "tools/call", {"name": "scale", "arguments": {"n": "five", "factor": 1}}
        )
        assert bad["isError"]
        assert "n" in bad["content"][0]["text"]
    async with connect(strict) as client:
        result = await client.call("tools/call", {"name": "scale", "arguments": arguments})
        assert result["isError"]
        assert "Expected `int`, got `str`" in result["content"][0]["text"]


class Address(msgspec.Struct):
    street: str
    city: str = "Oslo"


class Person(msgspec.Struct):
    name: str
    home: Address
    work: Address | None = None


class Node(msgspec.Struct):
    value: int
    children: list[Node] = []


def test_schemas_inline_refs_unless_recursive() -> None:
    server = Server("s")

    @server.tool
    async def register(person: Person) -> Person:
        return person

    @server.tool
    async def walk(tree: Node, depth: int = 1) -> int:
        return depth

    definition = server.registry.tools["register"].definition
    person = definition.input_schema["properties"]["person"]
    assert person["properties"]["home"]["properties"]["city"]["default"] == "Oslo"
    assert "$defs" not in definition.input_schema
    assert "$ref" not in msgspec.json.encode(definition.output_schema).decode()
    walk_schema = server.registry.tools["walk"].definition.input_schema
    assert walk_schema["properties"]["tree"] == {"$ref": "#/$defs/Node"}
    node = walk_schema["$defs"]["Node"]
    assert node["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}

    kept = Server("s", dereference_schemas=False)
    kept.tool(tool(register))
    schema = kept.registry.tools["register"].definition.input_schema
    assert schema["properties"]["person"] == {"$ref": "#/$defs/Person"}
    assert set(schema["$defs"]) == {"Person", "Address"}


# -- per-session visibility ---------------------------------------------------------------


def session_server() -> Server:
    server = Server("sessions")

    @server.tool(tags={"premium"})
    async def premium_analysis(data: str) -> str:
        return f"premium: {data}"

    @server.tool
    async def unlock_premium(ctx: McpContext) -> str:
        await ctx.enable_components(tags={"premium"}, components={"tool"})
        return "unlocked"

    @server.tool
    async def hide_unlock(ctx: McpContext) -> str:
        await ctx.disable_components(names={"unlock_premium"})
        return "hidden"

    @server.tool
    async def reset_features(ctx: McpContext) -> str:
        await ctx.reset_visibility()
        return "reset"

    server.disable(tags={"premium"})
    return server


async def test_a_session_sees_what_it_enabled_and_others_do_not() -> None:
    server = session_server()
    async with connect(server) as alice, connect(server) as bob:
        assert "premium_analysis" not in await tool_names(alice)
        await alice.call("tools/call", {"name": "unlock_premium"})
        await trio.testing.wait_all_tasks_blocked()
        assert len(alice.notifications("notifications/tools/list_changed")) == 1
        assert bob.notifications("notifications/tools/list_changed") == []
        assert "premium_analysis" in await tool_names(alice)
        assert "premium_analysis" not in await tool_names(bob)
        result = await alice.call(
            "tools/call", {"name": "premium_analysis", "arguments": {"data": "x"}}
        )
        assert result["content"][0]["text"] == "premium: x"
        assert (
            "Unknown tool"
            in (
                await bob.error(
                    "tools/call", {"name": "premium_analysis", "arguments": {"data": "x"}}
                )
            ).message
        )
        # a later session rule overrides an earlier one; a server change still shows
        await alice.call("tools/call", {"name": "hide_unlock"})
        assert "unlock_premium" not in await tool_names(alice)
        server.disable(names={"reset_features"})
        assert "reset_features" not in await tool_names(alice)
        server.enable(names={"reset_features"})
        await alice.call("tools/call", {"name": "reset_features"})
        assert await tool_names(alice) == await tool_names(bob)


async def test_session_visibility_in_the_2026_era_reaches_the_listen_stream() -> None:
    server = session_server()
    async with connect(server, modern=True) as client, trio.open_nursery() as nursery:

        async def listen() -> None:
            await client.call("subscriptions/listen", {"notifications": {"toolsListChanged": True}})

        nursery.start_soon(listen)
        await trio.testing.wait_all_tasks_blocked()
        await client.call("tools/call", {"name": "unlock_premium"})
        await trio.testing.wait_all_tasks_blocked()
        (changed,) = client.notifications("notifications/tools/list_changed")
        assert "io.modelcontextprotocol/subscriptionId" in changed["_meta"]
        assert "premium_analysis" in await tool_names(client)  # the connection's rules
        nursery.cancel_scope.cancel()


# -- state and the server's own components ---------------------------------------------------


async def test_state_per_request_and_per_session() -> None:
    server = Server("state")

    async def stamp(ctx: McpContext, call_next: Any) -> Any:
        ctx.state["user"] = "alice"  # middleware leaves it for the handler
        return await call_next()

    server.add_middleware(stamp)

    @server.tool
    async def count(ctx: McpContext) -> str:
        visits = await ctx.get_state("visits", 0) + 1
        await ctx.set_state("visits", visits)  # the session's
        await ctx.set_state("scratch", object(), serializable=False)  # this request's
        return f"{ctx.state['user']} {visits} {ctx.session_state['visits']}"

    @server.tool
    async def scratch(ctx: McpContext) -> bool:
        return await ctx.get_state("scratch") is None

    async with connect(server) as one, connect(server, modern=True) as two:
        for expected in ("alice 1 1", "alice 2 2"):
            result = await one.call("tools/call", {"name": "count"})
            assert result["content"][0]["text"] == expected
        assert (await one.call("tools/call", {"name": "scratch"}))["structuredContent"] == {
            "result": True
        }
        result = await two.call("tools/call", {"name": "count"})
        assert result["content"][0]["text"] == "alice 1 1"  # another session


async def test_a_handler_reads_the_servers_own_resources_prompts_and_tools() -> None:
    child = Server("child")

    @child.resource("config://{section}")
    def config(section: str) -> str:
        return f"[{section}]"

    server = Server("own").mount("inner", child)

    @server.resource("data://motd")
    def motd() -> str:
        return "hello"

    @server.prompt
    def review(code: str) -> str:
        return f"Review {code}"

    @server.tool
    async def add(a: int, b: int) -> int:
        return a + b

    @server.tool(tags={"hidden"})
    async def secret() -> str:
        return "secret"

    server.disable(tags={"hidden"})

    @server.tool
    async def combine(ctx: McpContext) -> str:
        motd = (await ctx.read_resource("data://motd")).contents[0].text
        section = (await ctx.read_resource("config://inner/db")).contents
        prompt = (await ctx.get_prompt("review", {"code": "x = 1"})).messages[0].content.text
        total = (await ctx.call_tool("add", {"a": 2, "b": "3"})).structured_content
        names = [t.name for t in await ctx.list_tools()]
        try:
            await ctx.call_tool("secret")
        except McpError as error:
            hidden = error.message
        return f"{motd}|{section[0].text}@{section[0].uri}|{prompt}|{total}|{names}|{hidden}"

    async with connect(server) as client:
        result = await client.call("tools/call", {"name": "combine"})
        assert result["content"][0]["text"] == (
            "hello|[db]@config://inner/db|Review x = 1|{'result': 5}|['add', 'combine']"
            "|Unknown tool: secret"
        )


async def test_a_wildcard_template_variable_matches_several_segments() -> None:
    server = Server("files")

    @server.resource("files://{path*}")
    async def read(path: str) -> str:
        return f"<{path}>"

    async with connect(server) as client:
        result = await client.call("resources/read", {"uri": "files://docs/guide/intro.md"})
        assert result["contents"][0]["text"] == "<docs/guide/intro.md>"
        error = await client.error("resources/read", {"uri": "files://docs/../secrets"})
        assert "Resource not found" in error.message  # traversal is still refused


async def test_scopes_and_completion_follow_what_is_offered() -> None:
    server = Server("scoped")

    @server.tool(scopes=["admin"], tags={"beta"})
    async def rotate() -> str:
        return "rotated"

    @server.prompt(tags={"beta"}, complete={"topic": lambda value: ["mcp"]})
    def explain(topic: str) -> str:
        return topic

    server.disable(tags={"beta"})
    # a session may enable it: its scopes are still required
    assert server.required_scopes("tools/call", "rotate") == {"admin"}
    async with connect(server) as client:
        error = await client.error(
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "explain"},
                "argument": {"name": "topic", "value": "m"},
            },
        )
        assert "Unknown prompt" in error.message
