"""Scale-out with real processes: 2-3 replicas of one server (``replica_server.py``,
over stdio) share one real Redis on 127.0.0.1 and the same state secret; each test
sends each request to the replica it names, as a round-robin balancer would. Tasks
are answered by any replica and a cancel wins wherever it lands, subscriptions reach
listeners on every replica in both eras, a Redis restart loses nothing acknowledged,
and while Redis is stopped no replica exits and the errors say why.

Waiting is on events (a notification, a marker file, a status), each bounded.
"""

from __future__ import annotations

import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import msgspec
import pytest
import trio
from redis_server import RedisServer, redis_server

from fastmcp_core import McpContext, Session
from fastmcp_protocol import JSONRPCNotification, JSONRPCRequest, McpError
from fastmcp_transport import StdioClientTransport, stdio_client

HERE = Path(__file__).parent
SERVER = HERE / "replica_server.py"
SECRET = "replicas-share-this-secret"
MODERN = "2026-07-28"
CAPS = {"elicitation": {"form": {}}, "extensions": {"io.modelcontextprotocol/tasks": {}}}
WAIT = 20.0  # seconds any awaited event may take before the test fails


@attrs.define(eq=False)
class Replica:
    """One replica process and a raw session to it (both eras on one stdio connection)."""

    name: str
    transport: StdioClientTransport
    session: Session = attrs.field(init=False)
    notes: list[JSONRPCNotification] = attrs.field(factory=list)
    stderr: list[str] = attrs.field(factory=list)
    _noted: trio.Event = attrs.field(factory=trio.Event)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A 2026-07-28 request (its ``_meta`` says so): answered by this replica."""
        params = dict(params or {})
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": CAPS,
            **params.get("_meta", {}),
        }
        return await self.session.request(method, params, dict)

    async def legacy(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A request of the session (2025-11-25) this connection initialized."""
        return await self.session.request(method, params or {}, dict)

    async def error(self, method: str, params: dict[str, Any] | None = None) -> McpError:
        try:
            await self.call(method, params)
        except McpError as exc:
            return exc
        raise AssertionError(f"{method} on {self.name} did not fail")

    def notifications(self, method: str) -> list[dict[str, Any]]:
        return [
            msgspec.json.decode(n.params) if n.params is not msgspec.UNSET else {}
            for n in self.notes
            if n.method == method
        ]

    async def heard(self, method: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait until ``count`` notifications of ``method`` arrived."""
        with trio.fail_after(WAIT):
            while len(self.notifications(method)) < count:
                await self._noted.wait()
        return self.notifications(method)

    # -- the session's dispatcher: no requests come from a 2026 server; notifications

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Any:
        raise McpError(-32601, f"no answer for {request.method}")

    async def notification(self, note: JSONRPCNotification) -> None:
        self.notes.append(note)
        self._noted.set()
        self._noted = trio.Event()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@asynccontextmanager
async def replica(
    name: str, store: str, markers: Path, *, command_line: bool = False
) -> AsyncIterator[Replica]:
    """A replica over stdio: ``python replica_server.py`` with the variables, or
    ``fastmcp run`` with ``--store`` and ``--state-secret``."""
    env = {"MARKERS": str(markers), "PYTHONUNBUFFERED": "1"}
    if command_line:
        argv = [sys.executable, "-m", "fastmcp", "run", str(SERVER)]
        argv += ["--store", store, "--state-secret", SECRET]
        env.update(FASTMCP_STORE="", FASTMCP_STATE_SECRET="")
    else:
        argv = [sys.executable, str(SERVER)]
        env.update(FASTMCP_STORE=store, FASTMCP_STATE_SECRET=SECRET)
    lines: list[str] = []
    async with stdio_client(argv, env=env, stderr=lines.append, shutdown_timeout=5) as transport:
        client = Replica(name, transport, stderr=lines)
        client.session = Session(transport, client, drain_on_eof=None)
        async with trio.open_nursery() as nursery:
            await nursery.start(client.session.run)
            yield client
            await client.session.aclose()


async def initialize(client: Replica) -> None:
    """The session era's handshake (2025-11-25); 2026-07-28 requests need none."""
    await client.legacy(
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "scale-out test", "version": "1"},
        },
    )
    await client.session.notify("notifications/initialized")


@asynccontextmanager
async def replicas(
    server: RedisServer, markers: Path, count: int = 3, *, lease: float = 10.0
) -> AsyncIterator[list[Replica]]:
    """``count`` replicas on one Redis (a prefix of their own per test); the first is
    started by ``fastmcp run --store``, the others with ``FASTMCP_STORE``."""
    store = f"{server.url}?prefix=t{secrets.token_hex(4)}&lease={lease:g}"
    async with AsyncExitStack() as stack:
        started = [
            await stack.enter_async_context(
                replica("abc"[index], store, markers, command_line=index == 0)
            )
            for index in range(count)
        ]
        async with trio.open_nursery() as nursery:  # they start side by side
            for client in started:
                nursery.start_soon(initialize, client)
        yield started


async def status(on: Replica, task_id: str, until: set[str]) -> dict[str, Any]:
    """Ask ``on`` until the task's status is one of ``until`` (bounded)."""
    with trio.fail_after(WAIT):
        while True:
            state = await on.call("tasks/get", {"taskId": task_id})
            if state["status"] in until:
                return state  # type: ignore[no-any-return]
            await trio.sleep(0.02)


async def appears(path: Path) -> None:
    """Wait until ``path`` exists (the tool of another process wrote it; bounded)."""
    with trio.fail_after(WAIT):
        while True:
            if await trio.Path(path).exists():
                return
            await trio.sleep(0.01)


def text(result: dict[str, Any]) -> str:
    return str(result["content"][0]["text"])


# -- tasks -------------------------------------------------------------------------------


async def test_any_replica_answers_a_task_in_both_eras(redis: RedisServer, tmp_path: Path) -> None:
    async with replicas(redis, tmp_path) as (a, b, c):
        created = await a.call("tools/call", {"name": "compute", "arguments": {"seconds": 0.3}})
        assert created["resultType"] == "task"
        assert (await b.call("tasks/get", {"taskId": created["taskId"]}))["status"] in (
            "working",
            "completed",
        )
        done = await status(c, created["taskId"], {"completed"})
        assert text(done["result"]) == "computed after 0.3s"

        # 2025-11-25: created on b, listed on c, awaited on a (following the store)
        legacy = await b.legacy(
            "tools/call", {"name": "compute", "arguments": {"seconds": 0.3}, "task": {}}
        )
        task_id = legacy["task"]["taskId"]
        assert task_id in [t["taskId"] for t in (await c.legacy("tasks/list"))["tasks"]]
        assert text(await a.legacy("tasks/result", {"taskId": task_id})) == "computed after 0.3s"

        # tasks/update answered on c reaches the tool running on a
        asking = await a.call("tools/call", {"name": "confirm", "arguments": {"filename": "x"}})
        waiting = await status(b, asking["taskId"], {"input_required"})
        (key,) = waiting["inputRequests"]
        answer = {key: {"action": "accept", "content": {"ok": True}}}
        await c.call("tasks/update", {"taskId": asking["taskId"], "inputResponses": answer})
        finished = await status(b, asking["taskId"], {"completed"})
        assert text(finished["result"]) == "deleted={'ok': True}"

        # an input round begun on a ends on b: the same state secret
        first = await a.call("tools/call", {"name": "greet"})
        second = await b.call(
            "tools/call",
            {
                "name": "greet",
                "inputResponses": {"name": {"action": "accept", "content": {"name": "Ada"}}},
                "requestState": first["requestState"],
            },
        )
        assert text(second).startswith("Hello Ada from ")


@pytest.mark.parametrize("where", ["owner", "other replica"])
async def test_a_cancel_wins_wherever_it_lands(
    redis: RedisServer, tmp_path: Path, where: str
) -> None:
    async with replicas(redis, tmp_path, count=2) as (a, b):
        created = await a.call(
            "tools/call", {"name": "deliver", "arguments": {"name": "job", "seconds": 5}}
        )
        await appears(tmp_path / "job.started")  # running on a, its effect not yet had
        canceller = a if where == "owner" else b
        await canceller.call("tasks/cancel", {"taskId": created["taskId"]})
        await appears(tmp_path / "job.ended")  # the run on a was cancelled...
        assert not (tmp_path / "job.delivered").exists()  # ...before its effect
        state = await b.call("tasks/get", {"taskId": created["taskId"]})
        assert state["status"] == "cancelled"


async def test_the_tasks_of_a_replica_that_died_fail(redis: RedisServer, tmp_path: Path) -> None:
    async with replicas(redis, tmp_path, count=2, lease=1.0) as (a, b):
        created = await a.call(
            "tools/call", {"name": "deliver", "arguments": {"name": "job", "seconds": 60}}
        )
        await appears(tmp_path / "job.started")
        a.transport.process.send_signal(signal.SIGKILL)  # a crash: no clean end
        failed = await status(b, created["taskId"], {"failed"})  # once its lease ran out
        assert failed["error"]["message"] == "the server replica running the task stopped"


# -- subscriptions -----------------------------------------------------------------------


async def test_changes_reach_the_subscribers_of_every_replica_in_both_eras(
    redis: RedisServer, tmp_path: Path
) -> None:
    async with replicas(redis, tmp_path) as (a, b, c), trio.open_nursery() as nursery:
        await a.legacy("resources/subscribe", {"uri": "config://app"})

        async def listen() -> None:
            wanted = {"toolsListChanged": True, "resourceSubscriptions": ["config://app"]}
            await b.call("subscriptions/listen", {"notifications": wanted})

        nursery.start_soon(listen)
        (ack,) = await b.heard("notifications/subscriptions/acknowledged")
        tag = ack["_meta"]
        await c.call("tools/call", {"name": "touch", "arguments": {"uri": "config://app"}})
        await c.call("tools/call", {"name": "grow", "arguments": {"name": "late"}})
        assert await a.heard("notifications/resources/updated") == [{"uri": "config://app"}]
        assert await a.heard("notifications/tools/list_changed") == [{}]
        assert await b.heard("notifications/resources/updated") == [
            {"uri": "config://app", "_meta": tag}
        ]
        # b's listen stream, and b's session (initialized: it gets every list change)
        changed = await b.heard("notifications/tools/list_changed", 2)
        assert sorted(changed, key=len) == [{}, {"_meta": tag}]
        assert c.notifications("notifications/resources/updated") == []  # not subscribed
        nursery.cancel_scope.cancel()


# -- Redis restarts and stops ------------------------------------------------------------


async def test_a_redis_restart_loses_nothing_acknowledged(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        async with replicas(server, tmp_path, count=2) as (a, b):
            await b.legacy("resources/subscribe", {"uri": "config://app"})
            created = await a.call("tools/call", {"name": "compute", "arguments": {"seconds": 0.5}})
            running = await a.call(
                "tools/call", {"name": "deliver", "arguments": {"name": "job", "seconds": 30}}
            )
            await appears(tmp_path / "job.started")
            await trio.to_thread.run_sync(server.restart)  # SIGKILL, then start again
            # the acknowledged task is there, and ends on a as if nothing happened
            done = await status(b, created["taskId"], {"completed"})
            assert text(done["result"]) == "computed after 0.5s"
            # b was told to look again, and hears a's changes once more
            await b.heard("notifications/resources/updated")
            before = len(b.notifications("notifications/resources/updated"))
            await a.call("tools/call", {"name": "touch", "arguments": {"uri": "config://app"}})
            await b.heard("notifications/resources/updated", before + 1)
            # a cancel still reaches the replica running the tool, through its inbox
            await b.call("tasks/cancel", {"taskId": running["taskId"]})
            await appears(tmp_path / "job.ended")
            assert not (tmp_path / "job.delivered").exists()


async def test_while_redis_is_stopped_no_replica_exits_and_the_errors_say_why(
    tmp_path: Path,
) -> None:
    with redis_server(tmp_path / "redis") as server:
        async with replicas(server, tmp_path, count=2) as (a, b):
            await trio.to_thread.run_sync(server.stop)
            # what needs no store goes on: calls, and input rounds across replicas
            first = await a.call("tools/call", {"name": "greet"})
            second = await b.call(
                "tools/call",
                {
                    "name": "greet",
                    "inputResponses": {"name": {"action": "accept", "content": {"name": "Bo"}}},
                    "requestState": first["requestState"],
                },
            )
            assert text(second).startswith("Hello Bo from ")
            # what needs it fails at once, saying so
            where = f"the store at redis://127.0.0.1:{server.port}/0 cannot be reached"
            with trio.fail_after(5):
                refused = await a.error(
                    "tools/call", {"name": "compute", "arguments": {"seconds": 0}}
                )
                assert refused.code == -32603
                assert refused.message.startswith(where)
                missing = await b.error("tasks/get", {"taskId": "0" * 32})
                assert missing.message.startswith(where)
            assert a.transport.process.returncode is None
            assert b.transport.process.returncode is None
            # and it all comes back by itself with Redis
            await trio.to_thread.run_sync(server.start)
            created = await retry(
                lambda: b.call("tools/call", {"name": "compute", "arguments": {"seconds": 0}})
            )
            assert (await status(a, created["taskId"], {"completed"}))["status"] == "completed"
        assert any(where in line for line in a.stderr), a.stderr  # and its log said so


async def retry(request: Callable[[], Any]) -> Any:
    """``request()`` until it stops failing with the store's error (bounded)."""
    with trio.fail_after(WAIT):
        while True:
            try:
                return await request()
            except McpError as exc:
                if "cannot be reached" not in exc.message:
                    raise
            await trio.sleep(0.05)
