"""``fastmcp.proxy``: a remote server served as a local one, against our own server
in-process and over HTTP, with the proxy's client and the remote in either era."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from fastmcp.proxy import proxy
from fastmcp_client import Client, IncomingNotification
from fastmcp_core import McpContext, ToolError
from fastmcp_protocol import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    McpError,
    ProgressNotificationParams,
    PromptReference,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
    TextContent,
    TextResourceContents,
    ToolListChangedNotification,
)
from fastmcp_server import Server

ERAS = {"modern": None, "legacy": "2025-11-25"}


class Name(msgspec.Struct):
    name: str


class Seen:
    """What the remote's ``wait`` tool went through."""

    def __init__(self) -> None:
        self.started = trio.Event()
        self.cancelled = trio.Event()


def make_remote(seen: Seen) -> Server:
    server = Server("remote", "2.0", instructions="The remote server.")

    @server.tool
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool
    async def fail() -> str:
        """Always fails."""
        raise ToolError("it failed")

    @server.tool
    async def count(steps: int, ctx: McpContext) -> str:
        """Report progress."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step}")
        return "counted"

    @server.tool
    async def wait(ctx: McpContext) -> str:
        """Wait until cancelled."""
        seen.started.set()
        try:
            await trio.sleep_forever()
        finally:
            seen.cancelled.set()
        return "unreachable"

    @server.tool
    async def greet(ctx: McpContext) -> str:
        """Ask for a name."""
        answer = await ctx.elicit("Your name?", Name)
        return f"Hello {answer.data.name}" if answer.data else f"no name ({answer.action})"

    @server.tool
    async def think(ctx: McpContext) -> str:
        """Ask the client's model."""
        result = await ctx.sample("What is 6 x 7?", max_tokens=10)
        assert isinstance(result.content, TextContent)
        return result.content.text

    @server.tool
    async def where(ctx: McpContext) -> str:
        """The client's roots."""
        return ", ".join(root.uri for root in await ctx.list_roots())

    @server.tool
    async def echo_meta(ctx: McpContext) -> str:
        """Tell what _meta entries of ours arrived."""
        return repr({k: v for k, v in ctx.meta.items() if k.startswith("test/")})

    @server.resource("mem://motd", mime_type="text/plain")
    async def motd() -> str:
        return "message of the day"

    @server.resource("mem://users/{user}")
    async def user(user: str) -> str:
        return f"user {user}"

    @server.prompt(
        complete={"topic": lambda value: [t for t in ("trio", "tcp") if t.startswith(value)]}
    )
    async def ask(topic: str) -> str:
        """Ask about a topic."""
        return f"Tell me about {topic}"

    return server


async def answer_elicitation(
    params: ElicitRequestFormParams | ElicitRequestURLParams,
) -> ElicitResult:
    return ElicitResult(action="accept", content={"name": "Lin"})


async def answer_sampling(params: CreateMessageRequestParams) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", content=TextContent(text="42"), model="m")


@asynccontextmanager
async def remote_target(server: Server, how: str) -> AsyncIterator[Any]:
    if how == "memory":
        yield server
        return
    async with trio.open_nursery() as nursery:
        address = await nursery.start(
            lambda task_status: server.serve_http(port=0, task_status=task_status)
        )
        yield address.url
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("how", ["memory", "http"])
@pytest.mark.parametrize("remote_era", ERAS)
@pytest.mark.parametrize("era", ERAS)
async def test_proxy_forwards_everything(how: str, remote_era: str, era: str) -> None:
    seen = Seen()
    remote = make_remote(seen)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: ProgressNotificationParams) -> None:
        progress.append((p.progress, p.total, p.message))

    async with remote_target(remote, how) as target:
        front = proxy(target, protocol_version=ERAS[remote_era])
        async with Client(
            front,
            protocol_version=ERAS[era],
            elicitation_handler=answer_elicitation,
            sampling_handler=answer_sampling,
            roots=["file:///home/lin/project"],
        ) as client:
            # the remote's identity
            assert client.server_info is not None
            assert (client.server_info.name, client.server_info.version) == ("remote", "2.0")
            assert client.instructions == "The remote server."
            # lists
            tools = {t.name: t for t in await client.list_all_tools()}
            assert set(tools) == {
                "add", "fail", "count", "wait", "greet", "think", "where", "echo_meta"
            }  # fmt: skip
            assert tools["add"].description == "Add two integers."
            assert tools["add"].input_schema["properties"]["a"] == {"type": "integer"}
            assert [r.uri for r in await client.list_all_resources()] == ["mem://motd"]
            templates = await client.list_all_resource_templates()
            assert [t.uri_template for t in templates] == ["mem://users/{user}"]
            assert [p.name for p in await client.list_all_prompts()] == ["ask"]
            # calls
            added = await client.call_tool("add", {"a": 2, "b": 3})
            assert added.structured_content == {"result": 5}
            assert added.content == [TextContent(text="5")]
            failed = await client.call_tool("fail")
            assert failed.is_error
            assert failed.content == [TextContent(text="it failed")]
            bad = await client.call_tool("add", {"a": "two", "b": 3})
            assert bad.is_error  # input validation fails as a tool error, as the remote says
            counted = await client.call_tool("count", {"steps": 3}, on_progress=on_progress)
            assert counted.content == [TextContent(text="counted")]
            assert progress == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
            meta = await client.call_tool("echo_meta", meta={"test/trace": "abc"})
            assert meta.content == [TextContent(text="{'test/trace': 'abc'}")]
            # questions of the remote, relayed to our client
            greeted = await client.call_tool("greet")
            assert greeted.content == [TextContent(text="Hello Lin")]
            thought = await client.call_tool("think")
            assert thought.content == [TextContent(text="42")]
            rooted = await client.call_tool("where")
            assert rooted.content == [TextContent(text="file:///home/lin/project")]
            # resources, templates, prompts, completion
            motd = await client.read_resource("mem://motd")
            assert motd.contents == [
                TextResourceContents(
                    uri="mem://motd", text="message of the day", mime_type="text/plain"
                )
            ]
            user = await client.read_resource("mem://users/ada")
            assert isinstance(user.contents[0], TextResourceContents)
            assert user.contents[0].text == "user ada"
            with pytest.raises(McpError) as missing:
                await client.read_resource("mem://nothing")
            assert missing.value.code in (-32602, -32002)
            prompt = await client.get_prompt("ask", {"topic": "trio"})
            assert prompt.messages[0].content == TextContent(text="Tell me about trio")
            done = await client.complete(PromptReference(name="ask"), "topic", "t")
            assert done.completion.values == ["trio", "tcp"]
            none = await client.complete(
                ResourceTemplateReference(uri="mem://users/{user}"), "user", "a"
            )
            assert none.completion.values == []
            # cancellation reaches the remote
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.call_tool, "wait")
                await seen.started.wait()
                nursery.cancel_scope.cancel()
            with trio.fail_after(5):
                await seen.cancelled.wait()


async def test_list_changes_reach_the_proxys_clients() -> None:
    remote = make_remote(Seen())
    changes: list[IncomingNotification] = []
    changed = trio.Event()

    async def on_notification(note: IncomingNotification) -> None:
        changes.append(note)
        changed.set()

    async with Client(
        proxy(remote), protocol_version="2025-11-25", notification_handler=on_notification
    ) as client:
        assert "sub" not in {t.name for t in await client.list_all_tools()}

        @remote.tool
        async def sub(a: int, b: int) -> int:
            return a - b

        with trio.fail_after(5):
            await changed.wait()
        changed = trio.Event()
        assert isinstance(changes[0], ToolListChangedNotification)
        assert "sub" in {t.name for t in await client.list_all_tools()}
        result = await client.call_tool("sub", {"a": 5, "b": 3})
        assert result.structured_content == {"result": 2}
        remote.remove_tool("sub")
        with trio.fail_after(5):
            await changed.wait()
        assert "sub" not in {t.name for t in await client.list_all_tools()}


@pytest.mark.parametrize("how", ["memory", "http"])
@pytest.mark.parametrize("remote_era", ERAS)
@pytest.mark.parametrize("era", ERAS)
async def test_resource_updates_reach_subscribed_clients(
    how: str, remote_era: str, era: str
) -> None:
    remote = make_remote(Seen())
    unwatched = trio.Event()

    async def watch(uris: frozenset[str]) -> None:
        if not uris:
            unwatched.set()

    remote.on_subscriptions_changed(watch)
    async with remote_target(remote, how) as target:
        front = proxy(target, protocol_version=ERAS[remote_era])
        async with Client(front, protocol_version=ERAS[era]) as client:
            assert remote.subscribed_resources == frozenset()
            async with client.subscribe(resources=["mem://motd", "mem://users/ada"]) as updates:
                # answered once the proxy is subscribed at the remote: nothing is missed
                assert remote.subscribed_resources == {"mem://motd", "mem://users/ada"}
                await remote.notify_resource_updated("mem://users/ada")
                await remote.notify_resource_updated("mem://elsewhere")
                await remote.notify_resource_updated("mem://motd")
                with trio.fail_after(5):
                    first, second = await updates.__anext__(), await updates.__anext__()
                assert isinstance(first, ResourceUpdatedNotification)
                assert isinstance(second, ResourceUpdatedNotification)
                # each subscription has its own outbox: no order between two of them
                assert {first.params.uri, second.params.uri} == {"mem://users/ada", "mem://motd"}
            # the last local subscription gone, so is the remote one
            with trio.fail_after(5):
                await unwatched.wait()


async def test_names_given_to_the_proxy_win() -> None:
    front = proxy(make_remote(Seen()), name="front", version="9", instructions="Use me.")
    async with Client(front) as client:
        assert client.server_info is not None
        assert (client.server_info.name, client.server_info.version) == ("front", "9")
        assert client.instructions == "Use me."


@pytest.mark.parametrize("era", ERAS)
async def test_a_question_our_client_cannot_answer_fails_as_the_remote_would(era: str) -> None:
    async with Client(proxy(make_remote(Seen())), protocol_version=ERAS[era]) as client:
        with pytest.raises(McpError) as failed:
            await client.call_tool("greet")  # our client has no elicitation handler
        assert failed.value.code == -32021  # missing client capability
        assert "elicitation" in failed.value.message


async def test_relay_requests_off_declares_nothing_to_the_remote() -> None:
    capabilities: list[Any] = []
    remote = Server("caps")

    @remote.tool
    async def caps(ctx: McpContext) -> str:
        capabilities.append(ctx.client_capabilities)
        return "ok"

    async with Client(
        proxy(remote, relay_requests=False), elicitation_handler=answer_elicitation
    ) as client:
        await client.call_tool("caps")
    assert capabilities[0].elicitation is None
    assert capabilities[0].sampling is None
    assert capabilities[0].roots is None


async def test_an_unreachable_remote_fails_when_serving_starts() -> None:
    front = proxy(["/nonexistent/mcp-server"])
    with pytest.raises(McpError, match="could not start the server '/nonexistent/mcp-server'"):
        async with Client(front):
            pass


def test_proxy_refuses_handlers_of_its_own() -> None:
    with pytest.raises(TypeError, match="sampling_handler"):
        proxy("https://example.com/mcp", sampling_handler=answer_sampling)


# -- sessions ---------------------------------------------------------------------------


class Closed:
    """The connections a remote saw end."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.changed = trio.Event()

    async def wait_for(self, connection: int) -> None:
        while connection not in self.ids:
            await self.changed.wait()
            self.changed = trio.Event()


def session_remote(closed: Closed) -> Server:
    """A remote whose ``whoami`` names the connection (the session) it came on."""
    remote = Server("sessions")

    @remote.tool
    async def whoami() -> int:
        connection = Server.current_connection()
        assert connection is not None
        return id(connection)

    @remote.on_connection_closed
    async def gone(connection: Any) -> None:
        closed.ids.append(id(connection))
        closed.changed.set()

    return remote


async def whoami(client: Client) -> int:
    result = await client.call_tool("whoami")
    assert result.structured_content is not None
    session: int = result.structured_content["result"]
    return session


@pytest.mark.parametrize("how", ["memory", "http"])
async def test_each_session_of_the_proxy_has_its_own_upstream_session(how: str) -> None:
    closed = Closed()
    remote = session_remote(closed)
    async with remote_target(remote, how) as target:
        # upstream sessions are those of 2025-11-25 (2026-07-28 has none)
        front = proxy(target, protocol_version="2025-11-25")  # sessions="isolated"
        async with Client(front, protocol_version="2025-11-25") as first:
            async with Client(front, protocol_version="2025-11-25") as second:
                one, two = await whoami(first), await whoami(second)
                assert one != two
                assert await whoami(first) == one  # the same session each time
            # the second client gone, so is its upstream session; the first stays
            with trio.fail_after(5):
                await closed.wait_for(two)
            assert one not in closed.ids
            assert await whoami(first) == one
            # a 2026-07-28 client has no session: the proxy's own connection serves it
            async with Client(front) as modern:
                shared = await whoami(modern)
                assert shared not in (one, two)
                async with Client(front) as modern_too:
                    assert await whoami(modern_too) == shared


async def test_shared_sessions_send_every_request_through_one_connection() -> None:
    front = proxy(session_remote(Closed()), sessions="shared")
    async with (
        Client(front, protocol_version="2025-11-25") as first,
        Client(front, protocol_version="2025-11-25") as second,
        Client(front) as modern,
    ):
        assert await whoami(first) == await whoami(second) == await whoami(modern)


# -- reconnecting -----------------------------------------------------------------------

REMOTE_SCRIPT = str(Path(__file__).with_name("proxy_remote.py"))


@contextmanager
def proxy_log(wanted: str) -> Iterator[trio.Event]:
    """An event set when the proxy logs a message starting with ``wanted``."""
    seen = trio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith(wanted):
                seen.set()

    handler = Watch()
    log = logging.getLogger("fastmcp.proxy")
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


async def pid_of(client: Client) -> int:
    result = await client.call_tool("pid")
    assert result.structured_content is not None
    pid: int = result.structured_content["result"]
    return pid


@pytest.mark.parametrize("era", ERAS)
async def test_a_killed_child_process_is_started_again(era: str) -> None:
    # the legacy client has an upstream session of its own, the modern one the
    # proxy's own connection: both come back
    front = proxy([sys.executable, REMOTE_SCRIPT])
    async with Client(front, protocol_version=ERAS[era]) as client:
        first = await pid_of(client)
        with proxy_log("reconnected") as reconnected:
            os.kill(first, signal.SIGKILL)
            with trio.fail_after(10):
                await reconnected.wait()
        second = await pid_of(client)
        assert second != first
        assert [t.name for t in await client.list_all_tools()] == ["pid"]


async def test_an_http_remote_that_restarts_is_reached_again() -> None:
    remote = make_remote(Seen())
    stop, stopped = trio.Event(), trio.Event()

    async def serve(port: int, task_status: trio.TaskStatus[Any]) -> None:
        """Serve until ``stop``; ``stopped`` once the server has shut down."""
        async with trio.open_nursery() as inner:
            address = await inner.start(partial(remote.serve_http, port=port))
            task_status.started(address)
            await stop.wait()
            inner.cancel_scope.cancel()
        stopped.set()

    async with trio.open_nursery() as nursery:
        address = await nursery.start(serve, 0)
        front = proxy(address.url, sessions="shared", reconnect_wait=0)
        async with Client(front) as client:
            added = await client.call_tool("add", {"a": 1, "b": 2})
            assert added.structured_content == {"result": 3}
            with proxy_log("reconnected") as reconnected:
                stop.set()  # the remote stops...
                await stopped.wait()
                with pytest.raises(McpError, match="the proxied server is unavailable"):
                    await client.call_tool("add", {"a": 1, "b": 2})
                stop = trio.Event()
                await nursery.start(serve, address.port)  # ... and starts again
                with trio.fail_after(30):
                    await reconnected.wait()
            added = await client.call_tool("add", {"a": 2, "b": 2})
            assert added.structured_content == {"result": 4}
        stop.set()


# -- tasks ------------------------------------------------------------------------------


class Brewing:
    """What the remote's ``brew`` tool went through."""

    def __init__(self) -> None:
        self.started = trio.Event()
        self.release = trio.Event()
        self.cancelled = trio.Event()
        self.as_task: list[bool] = []


def task_remote(brewing: Brewing) -> Server:
    remote = Server("tasks")

    @remote.tool(task="optional")
    async def brew(ctx: McpContext) -> str:
        """Brew until released."""
        brewing.as_task.append(ctx.is_task)
        brewing.started.set()
        try:
            await brewing.release.wait()
        finally:
            if not brewing.release.is_set():
                brewing.cancelled.set()
        return "brewed"

    return remote


@pytest.mark.parametrize("remote_era", ERAS)
@pytest.mark.parametrize("era", ERAS)
async def test_tasks_are_forwarded(remote_era: str, era: str) -> None:
    brewing = Brewing()
    front = proxy(task_remote(brewing), protocol_version=ERAS[remote_era])
    async with Client(front, protocol_version=ERAS[era]) as client:
        [tool] = await client.list_all_tools()
        assert tool.execution is not None
        assert tool.execution.task_support == "optional"  # the remote's, kept
        handle = await client.call_tool_task("brew")
        assert handle.task_id is not None  # a task of the proxy
        with trio.fail_after(5):
            await brewing.started.wait()
        assert brewing.as_task == [True]  # and one of the remote
        assert (await handle.status()).status == "working"
        brewing.release.set()
        with trio.fail_after(10):
            result = await handle.result()
        assert result.content == [TextContent(text="brewed")]
        # cancelling the proxy's task cancels the remote's
        brewing.started, brewing.release = trio.Event(), trio.Event()
        cancelled = await client.call_tool_task("brew")
        with trio.fail_after(5):
            await brewing.started.wait()
        await cancelled.cancel()
        with trio.fail_after(10):
            await brewing.cancelled.wait()


# -- mounted ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["memory", "http"])
@pytest.mark.parametrize("era", ERAS)
async def test_a_mounted_proxy_serves_what_a_proxy_serves(how: str, era: str) -> None:
    remote = make_remote(Seen())
    changed = trio.Event()

    async def on_notification(note: IncomingNotification) -> None:
        if isinstance(note, ToolListChangedNotification):
            changed.set()

    async with remote_target(remote, how) as target:
        parent = Server("parent")

        @parent.tool
        async def local() -> str:
            return "here"

        parent.mount("r", proxy(target))
        async with Client(
            parent,
            protocol_version=ERAS[era],
            elicitation_handler=answer_elicitation,
            notification_handler=on_notification,
        ) as client:
            names = {t.name for t in await client.list_all_tools()}
            assert {"local", "r_add", "r_greet"} <= names
            added = await client.call_tool("r_add", {"a": 2, "b": 3})
            assert added.structured_content == {"result": 5}
            greeted = await client.call_tool("r_greet")
            assert greeted.content == [TextContent(text="Hello Lin")]
            motd = await client.read_resource("mem://r/motd")
            assert motd.contents[0].uri == "mem://r/motd"
            user = await client.read_resource("mem://r/users/ada")
            assert isinstance(user.contents[0], TextResourceContents)
            assert user.contents[0].text == "user ada"
            prompt = await client.get_prompt("r_ask", {"topic": "trio"})
            assert prompt.messages[0].content == TextContent(text="Tell me about trio")
            # completion reaches the mounted proxy's remote
            done = await client.complete(PromptReference(name="r_ask"), "topic", "t")
            assert done.completion.values == ["trio", "tcp"]
            # subscriptions reach the remote, updates come back under the parent's name
            async with client.subscribe(resources=["mem://r/motd"]) as updates:
                assert remote.subscribed_resources == {"mem://motd"}
                await remote.notify_resource_updated("mem://motd")
                with trio.fail_after(5):
                    update = await updates.__anext__()
                assert isinstance(update, ResourceUpdatedNotification)
                assert update.params.uri == "mem://r/motd"
            # the remote's list changes reach the parent's clients
            if era == "legacy":

                @remote.tool
                async def sub(a: int, b: int) -> int:
                    return a - b

                with trio.fail_after(5):
                    await changed.wait()
                assert "r_sub" in {t.name for t in await client.list_all_tools()}
