"""The store contract (fastmcp_core.store), the same tests against both stores: the
in-memory one (replicas made with ``twin()``) and Redis (a real redis-server on
127.0.0.1; replicas are stores on the same Redis and prefix). Then what only Redis
does: a restart loses nothing acknowledged and the replicas hear one another again;
a stopped Redis makes operations fail at once and clearly, never ``running()``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trio
from redis_server import RedisServer, redis_server

from fastmcp_core.store import (
    LogEvent,
    LogGap,
    MemoryStore,
    Records,
    RedisStore,
    Store,
    StoreUnavailable,
    open_store,
)

WAIT = 10.0  # seconds any awaited event may take before the test fails


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


Replicas = Callable[[], Store]


@pytest.fixture(params=["memory", "redis"])
def replicas(request: pytest.FixtureRequest) -> Replicas:
    """Makes replicas that share one store (each call: another replica)."""
    if request.param == "memory":
        made: list[MemoryStore] = []

        def memory() -> Store:
            store = made[0].twin() if made else MemoryStore(log_limit=50)
            made.append(store)
            return store

        return memory
    server: RedisServer = request.getfixturevalue("redis")
    prefix = f"t{secrets.token_hex(4)}"
    return lambda: RedisStore(server.url, prefix=prefix, log_limit=50, timeout=1.0)


@asynccontextmanager
async def running(*stores: Store) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for store in stores:
            await stack.enter_async_context(store.running())
        yield


async def expired(records: Records, key: str) -> None:
    """Wait until the record is gone: only time makes it go, so this polls (bounded)."""
    with trio.fail_after(WAIT):
        while True:
            if await records.get(key) is None:
                return
            await trio.sleep(0.01)


# -- records -----------------------------------------------------------------------------


async def test_records_change_only_by_compare_and_set(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        tasks_a, tasks_b = a.records("tasks"), b.records("tasks")
        created = await tasks_a.create("t1", b"working")
        assert created is not None
        assert (created.version, created.owner) == (1, a.replica)
        assert await tasks_b.create("t1", b"other") is None  # the key exists
        seen = await tasks_b.get("t1")
        assert seen is not None
        assert (seen.value, seen.version, seen.owner) == (b"working", 1, a.replica)
        # both read version 1; the first swap wins, the second must read again
        won = await tasks_b.swap("t1", 1, b"cancelled")
        assert won is not None
        assert (won.version, won.owner) == (2, a.replica)
        assert await tasks_a.swap("t1", 1, b"completed") is None
        now = await tasks_a.get("t1")
        assert now is not None
        assert (now.value, now.version) == (b"cancelled", 2)
        claimed = await tasks_b.swap("t1", 2, b"adopted", claim=True)
        assert claimed is not None
        assert claimed.owner == b.replica
        await tasks_a.delete("t1")
        assert await tasks_b.get("t1") is None
        assert await tasks_b.swap("t1", 3, b"late") is None
        # namespaces are apart
        assert await a.records("sessions").create("t1", b"s") is not None
        assert await tasks_a.get("t1") is None


async def test_records_expire_and_groups_list_what_is_left(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        records = a.records("tasks")
        await records.create("old", b"1", group="alice")
        await records.create("brief", b"2", ttl=0.05, group="alice")
        await records.create("bob's", b"3", group="bob")
        await records.create("new", b"4", ttl=60, group="alice")
        other = b.records("tasks")
        await expired(other, "brief")
        listed = await other.group("alice")
        assert [(r.key, r.value) for r in listed] == [("old", b"1"), ("new", b"4")]
        await records.delete("old")
        assert [r.key for r in await other.group("alice")] == ["new"]
        assert await other.group("nobody") == []


async def test_a_watch_wakes_on_another_replica_s_write(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        mine, theirs = a.records("tasks"), b.records("tasks")
        await mine.create("t", b"working")
        async with theirs.watch("t") as watch:
            seen = await theirs.get("t")
            assert seen is not None
            await mine.swap("t", seen.version, b"completed")
            with trio.fail_after(WAIT):
                await watch.wait()
            now = await theirs.get("t")
            assert now is not None
            assert now.value == b"completed"
            await watch.wait(timeout=0.01)  # returns by then, woken or not
            await mine.delete("t")
            with trio.fail_after(WAIT):
                await watch.wait()
            assert await theirs.get("t") is None


# -- event logs --------------------------------------------------------------------------


async def test_event_logs_replay_from_any_id_they_hold(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        ids = [await a.logs.append("s1", f"m{n}".encode()) for n in range(1, 4)]
        assert ids == [1, 2, 3]
        assert await b.logs.read("s1") == [
            LogEvent(1, b"m1"),
            LogEvent(2, b"m2"),
            LogEvent(3, b"m3"),
        ]
        assert await b.logs.read("s1", 2) == [LogEvent(3, b"m3")]
        assert await b.logs.read("s1", 3) == []
        assert await b.logs.read("s1", 1, limit=1) == [LogEvent(2, b"m2")]
        assert await b.logs.read("never") == []
        with pytest.raises(LogGap):
            await b.logs.read("s1", 7)  # an id the log never gave
        with pytest.raises(LogGap):
            await b.logs.read("never", 1)
        await a.logs.drop("s1")
        with pytest.raises(LogGap):
            await b.logs.read("s1", 2)


async def test_a_log_keeps_its_newest_events_and_refuses_a_hole(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        for n in range(400):  # the limit is 50 (Redis trims in whole nodes: about)
            await a.logs.append("s", str(n).encode())
        with pytest.raises(LogGap):
            await b.logs.read("s", 1)
        newest = await b.logs.read("s", 390)
        assert [e.id for e in newest] == list(range(391, 401))


async def test_a_log_is_followed_live_from_another_replica(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        await a.logs.append("s", b"before")
        got: list[LogEvent] = []
        async with trio.open_nursery() as nursery:
            started = trio.Event()

            async def follow() -> None:
                async with b.logs.follow("s") as events:
                    started.set()
                    async for event in events:
                        got.append(event)
                        if len(got) == 3:
                            return

            nursery.start_soon(follow)
            await started.wait()
            await a.logs.append("s", b"one")
            await a.logs.append("s", b"two")
        assert got == [LogEvent(1, b"before"), LogEvent(2, b"one"), LogEvent(3, b"two")]


async def test_logs_dropped_together_are_gone_and_their_followers_told(
    replicas: Replicas,
) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        for log in ("d1", "d2", "d3", "kept"):
            await a.logs.append(log, b"x")
        failed: list[BaseException] = []
        async with trio.open_nursery() as nursery:
            following = trio.Event()

            async def follow() -> None:
                async with b.logs.follow("d2", 1) as events:
                    following.set()
                    try:
                        async for _ in events:
                            pass
                    except LogGap as exc:
                        failed.append(exc)

            nursery.start_soon(follow)
            await following.wait()
            await a.logs.drop("d1", "d2", "d3")
            await a.logs.drop()  # nothing to drop: nothing happens
        assert len(failed) == 1  # the follower of a dropped log learns that it is gone
        for log in ("d1", "d2", "d3"):
            with pytest.raises(LogGap):
                await b.logs.read(log, 1)
            assert await b.logs.read(log) == []
        assert await b.logs.read("kept") == [LogEvent(1, b"x")]


async def test_an_event_put_at_its_id_is_there_for_any_replica(
    replicas: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        await a.logs.append("p", b"one")
        events: list[LogEvent] = []
        async with b.logs.follow("p") as following:
            await a.logs.put("p", 2, b"two")  # sent, not waited for
            await a.logs.put("p", 2, b"again")  # not the next id: refused
            await a.logs.put("p", 4, b"hole")  # neither
            await a.logs.put("p", 3, b"three")
            async for event in following:
                events.append(event)
                if len(events) == 3:
                    break
        assert events == [LogEvent(1, b"one"), LogEvent(2, b"two"), LogEvent(3, b"three")]
        await a.logs.put("fresh", 1, b"first")  # a new log
        await a.logs.put("fresh", 1, b"twice")  # its first event again: refused
        await a.logs.append("p", b"four")  # the replies of the puts are read by now
        assert await b.logs.read("fresh") == [LogEvent(1, b"first")]
        assert await b.logs.read("p", 2) == [LogEvent(3, b"three"), LogEvent(4, b"four")]
        refused = [r for r in caplog.records if "is not the next" in r.getMessage()]
        assert len(refused) == 3


# -- the bus -----------------------------------------------------------------------------


async def test_hints_reach_the_other_replicas_only(replicas: Replicas) -> None:
    a, b, c = replicas(), replicas(), replicas()
    async with running(a, b, c):
        heard: dict[str, list[bytes]] = {"a": [], "b": [], "c": []}
        done = trio.Event()

        def hear(name: str) -> Callable[[bytes], None]:
            def callback(data: bytes) -> None:
                heard[name].append(data)
                if heard["b"] and heard["c"]:
                    done.set()

            return callback

        a.bus.subscribe("changes", hear("a"))
        b.bus.subscribe("changes", hear("b"))
        stop = c.bus.subscribe("changes", hear("c"))
        b.bus.subscribe("other", hear("b"))
        await a.bus.publish("changes", b"tools")
        with trio.fail_after(WAIT):
            await done.wait()
        assert heard == {"a": [], "b": [b"tools"], "c": [b"tools"]}
        stop()
        heard_a = trio.Event()
        a.bus.subscribe("changes", lambda data: heard_a.set())
        await b.bus.publish("changes", b"x\nwith a newline")
        with trio.fail_after(WAIT):
            await heard_a.wait()
        assert heard["a"] == [b"x\nwith a newline"]
        assert heard["c"] == [b"tools"]


async def test_inbox_messages_reach_their_replica_once_in_order(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a, b):
        got: list[bytes] = []
        others: list[bytes] = []
        enough = trio.Event()

        def take(data: bytes) -> None:
            got.append(data)
            if len(got) == 20:
                enough.set()

        b.bus.receive("cancel", take)
        a.bus.receive("cancel", others.append)
        for n in range(20):
            await a.bus.send(b.replica, "cancel", str(n).encode())
        with trio.fail_after(WAIT):
            await enough.wait()
        assert got == [str(n).encode() for n in range(20)]
        assert others == []


async def test_leases_tell_who_lives(replicas: Replicas) -> None:
    a, b = replicas(), replicas()
    async with running(a):
        assert await a.alive(a.replica)
        assert not await a.alive(b.replica)  # never ran
        async with running(b):
            assert await a.alive(b.replica)
        assert not await a.alive(b.replica)  # a clean end gives the lease up at once


# -- an unreachable store ----------------------------------------------------------------


async def test_memory_replicas_lose_and_regain_the_store() -> None:
    a = MemoryStore()
    b = a.twin()
    async with running(a, b):
        resynced: list[str] = []
        hints: list[bytes] = []
        b.bus.on_resync(lambda: resynced.append("b"))
        b.bus.subscribe("changes", hints.append)
        b.disconnect()
        with pytest.raises(StoreUnavailable, match="cannot be reached"):
            await b.records("tasks").get("t")
        await a.bus.publish("changes", b"missed")
        await a.bus.send(b.replica, "cancel", b"kept")
        mail: list[bytes] = []
        delivered = trio.Event()
        b.bus.receive("cancel", mail.append)
        b.bus.receive("cancel", lambda data: delivered.set())
        b.reconnect()
        assert resynced == ["b"]
        assert hints == []  # hints are lossy: the resync says so
        with trio.fail_after(WAIT):
            await delivered.wait()
        assert mail == [b"kept"]


async def test_a_dead_memory_replica_s_lease_runs_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a = MemoryStore(lease=3.0)
    b = a.twin()
    async with running(a, b):
        assert await a.alive(b.replica)
        b.disconnect()  # as a crashed or cut-off process: no renewal
        await trio.sleep(3.5)
        assert not await a.alive(b.replica)
        b.reconnect()
        await trio.sleep(1.1)
        assert await a.alive(b.replica)


async def test_a_redis_restart_loses_nothing_acknowledged(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        prefix = f"r{secrets.token_hex(4)}"
        a = RedisStore(server.url, prefix=prefix, timeout=1.0)
        b = RedisStore(server.url, prefix=prefix, timeout=1.0)
        async with running(a, b):
            resynced = trio.Event()
            b.bus.on_resync(resynced.set)
            hints: list[bytes] = []
            hinted = trio.Event()

            def hint(data: bytes) -> None:
                hints.append(data)
                hinted.set()

            b.bus.subscribe("changes", hint)
            await a.records("tasks").create("t", b"working")
            await a.logs.append("s", b"one")
            # acknowledged before the crash: kept (append-only file, fsync always)
            await trio.to_thread.run_sync(server.restart)
            with trio.fail_after(WAIT):
                await resynced.wait()
            record = await b.records("tasks").get("t")
            assert record is not None
            assert record.value == b"working"
            assert await b.logs.read("s") == [LogEvent(1, b"one")]
            # the replicas hear one another again (a fresh pub/sub connection)
            await a.bus.publish("changes", b"after")
            with trio.fail_after(WAIT):
                await hinted.wait()
            assert hints == [b"after"]
            got = trio.Event()
            b.bus.receive("cancel", lambda data: got.set())
            await a.bus.send(b.replica, "cancel", b"x")
            with trio.fail_after(WAIT):
                await got.wait()


async def test_a_stopped_redis_fails_fast_and_clearly_and_comes_back(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        store = RedisStore(server.url, prefix="s", timeout=1.0)
        async with running(store):
            resynced = trio.Event()
            store.bus.on_resync(resynced.set)
            await store.records("tasks").create("t", b"1")
            await trio.to_thread.run_sync(server.stop)
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                await store.records("tasks").get("t")
            assert time.monotonic() - started < 1.0  # refused: no waiting
            assert f"the store at redis://127.0.0.1:{server.port}/0 cannot be reached" in str(
                caught.value
            )
            with pytest.raises(StoreUnavailable):
                await store.bus.publish("changes", b"x")
            await trio.to_thread.run_sync(server.start)
            with trio.fail_after(WAIT):
                await resynced.wait()
            record = await store.records("tasks").get("t")
            assert record is not None


async def test_a_store_that_cannot_be_reached_at_start_still_runs(tmp_path: Path) -> None:
    port = RedisServer(tmp_path).port  # nothing listens there
    store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    with trio.fail_after(WAIT):
        async with running(store):
            with pytest.raises(StoreUnavailable):
                await store.alive("someone")


def test_open_store_reads_the_url() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    store = open_store("redis://user:pw@127.0.0.1:6390/2?prefix=app&lease=2.5")
    assert isinstance(store, RedisStore)
    assert (store.prefix, store.lease) == ("app", 2.5)
    assert store.where == "redis://127.0.0.1:6390/2"
    assert "pw" not in repr(store)
    with pytest.raises(ValueError, match="unknown store 'mongodb://x'"):
        open_store("mongodb://x")
