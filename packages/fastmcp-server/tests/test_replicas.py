"""Replicas of one server in one process, sharing a store (``MemoryStore.twin()``): any
replica answers any task request, a cancel wins wherever it lands, a dead replica's
tasks fail, changes reach the listeners of every replica, and a store that cannot be
reached fails only what needs it. (The same with real processes on Redis:
tests-integration/test_scale_out.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from server_support import MODERN, RawClient, connect

from fastmcp_core import McpContext
from fastmcp_core.store import MemoryStore
from fastmcp_server import Server

TASKS_CAPS = {"elicitation": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}}
MODERN_META = {"io.modelcontextprotocol/protocolVersion": MODERN}


def replica(store: MemoryStore, effects: list[str]) -> Server:
    """One replica: the same tools on every replica, as replicas are."""
    server = Server("jobs", store=store)

    @server.tool(task="optional")
    async def compute(seconds: float) -> str:
        await trio.sleep(seconds)
        return f"computed after {seconds}s"

    @server.tool(task="optional")
    async def deliver(seconds: float) -> str:
        """Waits, then has its effect: the effect must never follow a cancel."""
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            effects.append("stopped")
            raise
        effects.append("delivered")
        return "delivered"

    @server.tool(task="required")
    async def confirm(ctx: McpContext, filename: str) -> str:
        answer = await ctx.elicit(
            f"Delete {filename}?", {"properties": {"confirm": {"type": "boolean"}}}
        )
        return f"deleted={answer.data}"

    @server.tool
    async def echo(text: str) -> str:
        return text

    @server.tool
    async def greet(ctx: McpContext) -> str:
        who = await ctx.elicit("Name?", {"properties": {"name": {"type": "string"}}}, key="name")
        assert who.data is not None
        return f"Hello {who.data['name']}"

    return server


@asynccontextmanager
async def replicas(
    count: int = 2, *, lease: float = 10.0, modern: bool = True
) -> AsyncIterator[tuple[list[Server], list[RawClient], list[MemoryStore], list[str]]]:
    first = MemoryStore(lease=lease)
    stores = [first, *(first.twin() for _ in range(count - 1))]
    effects: list[str] = []
    servers = [replica(store, effects) for store in stores]
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                connect(server, modern=modern, caps=TASKS_CAPS if modern else None)
            )
            for server in servers
        ]
        yield servers, clients, stores, effects


async def poll(c: RawClient, task_id: str, until: set[str]) -> dict[str, Any]:
    while True:
        state = await c.call("tasks/get", {"taskId": task_id}, **MODERN_META)
        if state["status"] in until:
            return state  # type: ignore[no-any-return]
        await trio.sleep(0.2)


async def eventually(check: Callable[[], bool]) -> None:
    """Let every task run until ``check()`` holds (in-process: nothing else to wait for)."""
    for _ in range(100):
        await trio.testing.wait_all_tasks_blocked()
        if check():
            return
    raise AssertionError("never happened")


# -- tasks -------------------------------------------------------------------------------


async def test_any_replica_answers_a_task_s_requests(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with replicas() as (_, (a, b), _, _):
        created = await a.call("tools/call", {"name": "compute", "arguments": {"seconds": 5}})
        assert created["resultType"] == "task"
        seen = await b.call("tasks/get", {"taskId": created["taskId"]})
        assert seen["status"] == "working"
        done = await poll(b, created["taskId"], {"completed"})
        assert done["result"]["content"] == [{"type": "text", "text": "computed after 5.0s"}]

        # tasks/update on another replica reaches the one running the tool
        asking = await a.call("tools/call", {"name": "confirm", "arguments": {"filename": "x"}})
        waiting = await poll(b, asking["taskId"], {"input_required"})
        (key,) = waiting["inputRequests"]
        await b.call(
            "tasks/update",
            {
                "taskId": asking["taskId"],
                "inputResponses": {key: {"action": "accept", "content": {"confirm": True}}},
            },
        )
        finished = await poll(a, asking["taskId"], {"completed"})
        assert finished["result"]["content"][0]["text"] == "deleted={'confirm': True}"
        assert (await b.error("tasks/get", {"taskId": "nope"})).code == -32602


async def test_legacy_tasks_are_listed_and_awaited_on_any_replica(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with replicas(modern=False) as (_, (a, b), _, _):
        created = await a.call(
            "tools/call", {"name": "compute", "arguments": {"seconds": 3}, "task": {"ttl": 60000}}
        )
        task_id = created["task"]["taskId"]
        listed = await b.call("tasks/list")
        assert [t["taskId"] for t in listed["tasks"]] == [task_id]
        result = await b.call("tasks/result", {"taskId": task_id})  # follows the store
        assert result["content"][0]["text"] == "computed after 3.0s"
        assert (await a.call("tasks/get", {"taskId": task_id}))["status"] == "completed"


@pytest.mark.parametrize("where", ["same replica", "other replica"])
async def test_a_cancel_wins_wherever_it_lands(
    autojump_clock: trio.testing.MockClock, where: str
) -> None:
    async with replicas() as (_, (a, b), _, effects):
        created = await a.call("tools/call", {"name": "deliver", "arguments": {"seconds": 10}})
        await trio.sleep(1)
        canceller = a if where == "same replica" else b
        await canceller.call("tasks/cancel", {"taskId": created["taskId"]})
        await eventually(lambda: effects == ["stopped"])  # the run itself was cancelled
        await trio.sleep(30)  # long after the effect would have come
        assert effects == ["stopped"]
        state = await b.call("tasks/get", {"taskId": created["taskId"]})
        assert state["status"] == "cancelled"
        assert state["statusMessage"] == "Cancelled by the client"


async def test_a_result_that_comes_after_a_cancel_is_not_recorded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with replicas() as (_, (a, b), stores, _):
        created = await a.call("tools/call", {"name": "compute", "arguments": {"seconds": 10}})
        stores[0]._inbox_callbacks.clear()  # a's cancellations are late: the run goes on
        await b.call("tasks/cancel", {"taskId": created["taskId"]})
        await trio.sleep(20)  # the tool ended; its result came after the cancel
        state = await a.call("tasks/get", {"taskId": created["taskId"]})
        assert state["status"] == "cancelled"
        assert "result" not in state


async def test_the_tasks_of_a_dead_replica_fail(autojump_clock: trio.testing.MockClock) -> None:
    async with replicas(lease=3.0) as (_, (a, b), stores, _):
        created = await a.call("tools/call", {"name": "compute", "arguments": {"seconds": 60}})
        assert (await b.call("tasks/get", {"taskId": created["taskId"]}))["status"] == "working"
        stores[0].disconnect()  # a crashed, as the others see it: its lease runs out
        await trio.sleep(4)
        state = await b.call("tasks/get", {"taskId": created["taskId"]})
        assert state["status"] == "failed"
        assert state["error"]["message"] == "the server replica running the task stopped"
        # a itself goes on serving; once back, its late result does not overwrite that
        assert (await a.call("tools/call", {"name": "echo", "arguments": {"text": "hi"}}))[
            "content"
        ][0]["text"] == "hi"
        stores[0].reconnect()
        await trio.sleep(120)
        assert (await a.call("tasks/get", {"taskId": created["taskId"]}))["status"] == "failed"


# -- a store that cannot be reached ------------------------------------------------------


async def test_a_lost_store_fails_what_needs_it_and_nothing_else(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with replicas(count=1) as (_, (a,), (store,), _):
        running = await a.call("tools/call", {"name": "compute", "arguments": {"seconds": 5}})
        store.disconnect()
        error = await a.error("tools/call", {"name": "compute", "arguments": {"seconds": 1}})
        assert error.code == -32603
        assert error.message == "the store cannot be reached: memory (disconnected)"
        assert (await a.error("tasks/get", {"taskId": running["taskId"]})).code == -32603
        # what needs no store goes on: plain calls and input rounds (2026-07-28)
        echo = await a.call("tools/call", {"name": "echo", "arguments": {"text": "still here"}})
        assert echo["content"][0]["text"] == "still here"
        first = await a.call("tools/call", {"name": "greet"})
        assert first["resultType"] == "input_required"
        second = await a.call(
            "tools/call",
            {
                "name": "greet",
                "inputResponses": {"name": {"action": "accept", "content": {"name": "Ada"}}},
                "requestState": first["requestState"],
            },
        )
        assert second["content"][0]["text"] == "Hello Ada"
        await trio.sleep(10)  # the running task ended while the store was away
        store.reconnect()
        done = await poll(a, running["taskId"], {"completed"})  # its end was kept for it
        assert done["result"]["content"][0]["text"] == "computed after 5.0s"
        again = await a.call("tools/call", {"name": "compute", "arguments": {"seconds": 1}})
        assert again["resultType"] == "task"


# -- subscriptions -----------------------------------------------------------------------


async def test_changes_reach_the_listeners_of_every_replica() -> None:
    first = MemoryStore()
    stores = [first, first.twin(), first.twin()]
    a, b, c = (replica(store, []) for store in stores)
    async with (
        connect(b, modern=True) as listener,
        connect(c) as legacy,
        connect(a, modern=True),
        trio.open_nursery() as nursery,
    ):
        await legacy.call("resources/subscribe", {"uri": "config://app"})

        async def listen() -> None:
            await listener.call(
                "subscriptions/listen",
                {
                    "notifications": {
                        "toolsListChanged": True,
                        "resourceSubscriptions": ["config://app"],
                    }
                },
            )

        nursery.start_soon(listen)
        await eventually(
            lambda: bool(listener.notifications("notifications/subscriptions/acknowledged"))
        )
        await a.notify_resource_updated("config://app")
        await a.notify_resource_updated("config://other")
        a.tool(name="late")(lambda: None)  # a list change on replica a
        await eventually(lambda: len(listener.notes) >= 3 and len(legacy.notes) >= 2)
        tag = listener.notifications("notifications/subscriptions/acknowledged")[0]["_meta"]
        assert listener.notifications("notifications/resources/updated") == [
            {"uri": "config://app", "_meta": tag}
        ]
        assert listener.notifications("notifications/tools/list_changed") == [{"_meta": tag}]
        assert legacy.notifications("notifications/resources/updated") == [{"uri": "config://app"}]
        assert legacy.notifications("notifications/tools/list_changed") == [{}]
        b.subscriptions.end_listeners()


async def test_a_replica_back_from_an_outage_tells_its_listeners_to_look_again() -> None:
    first = MemoryStore()
    cut = first.twin()
    a, b = replica(first, []), replica(cut, [])
    async with connect(a, modern=True), connect(b) as legacy:
        await legacy.call("resources/subscribe", {"uri": "config://app"})
        cut.disconnect()
        await a.notify_resource_updated("config://app")  # missed by b
        await trio.testing.wait_all_tasks_blocked()
        assert legacy.notifications("notifications/resources/updated") == []
        cut.reconnect()
        await eventually(lambda: len(legacy.notes) >= 4)
        assert legacy.notifications("notifications/resources/updated") == [{"uri": "config://app"}]
        for kind in ("tools", "prompts", "resources"):
            assert legacy.notifications(f"notifications/{kind}/list_changed") == [{}]
