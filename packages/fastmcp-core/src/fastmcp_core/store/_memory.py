"""The embedded store: this process's memory, no server needed (the default).

One ``MemoryStore`` is one replica of one process, which is what a server that is
not scaled out needs. ``twin()`` makes another replica on the same memory: replicas
in one process (tests, or servers that share one event loop) see one another exactly
as Redis replicas do, leases, inboxes and lossy hints included; ``disconnect()`` and
``reconnect()`` make one of them lose the store and get it back, as a replica whose
Redis went down would. Time is trio's clock, so ``trio.testing.MockClock`` drives
leases and time-to-live.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import attrs
import trio

from fastmcp_core.store._base import LogEvent, LogGap, Record, StoreUnavailable, Watch
from fastmcp_core.store._follow import follow_log
from fastmcp_core.store._wakes import Wakes, add_callback, call_safely

__all__ = ["MemoryStore"]

Callback = Callable[[bytes], None]


logger = logging.getLogger("fastmcp.store")


@attrs.define(eq=False, slots=True)
class _Entry:
    value: bytes
    version: int
    owner: str | None
    expires: float
    group: str | None


@attrs.define(eq=False, slots=True)
class _Log:
    events: deque[LogEvent] = attrs.field(factory=deque)
    last: int = 0


@attrs.define(eq=False, repr=False)
class _Space:
    """What the replicas of one memory share."""

    records: dict[str, _Entry] = attrs.field(factory=dict)
    groups: dict[str, dict[str, None]] = attrs.field(factory=dict)
    logs: dict[str, _Log] = attrs.field(factory=dict)
    leases: dict[str, float] = attrs.field(factory=dict)
    inboxes: dict[str, deque[tuple[str, bytes]]] = attrs.field(factory=dict)
    replicas: dict[str, MemoryStore] = attrs.field(factory=dict)

    def wake(self, key: str) -> None:
        for replica in self.replicas.values():
            if replica.connected:
                replica.wakes.wake(key)


@attrs.define(eq=False, repr=False)
class MemoryStore:
    """The store in this process's memory (see the module docstring).

    ``lease``: seconds a replica counts as alive after its last renewal (renewed every
    third of it while running). ``log_limit``: events an event log keeps (the oldest
    are forgotten first).
    """

    lease: float = 10.0
    log_limit: int = 10_000
    _space: _Space = attrs.field(factory=_Space, alias="space")
    _replica: str = attrs.field(factory=lambda: secrets.token_hex(8), alias="replica")
    connected: bool = attrs.field(init=False, default=True)
    """False between ``disconnect()`` and ``reconnect()``."""
    wakes: Wakes = attrs.field(init=False, factory=Wakes)
    _hints: dict[str, list[Callback]] = attrs.field(init=False, factory=dict)
    _inbox_callbacks: dict[str, list[Callback]] = attrs.field(init=False, factory=dict)
    _resyncs: list[Callable[[], None]] = attrs.field(init=False, factory=list)
    _running: bool = attrs.field(init=False, default=False)
    _mail: trio.Event = attrs.field(init=False, factory=trio.Event)

    def __attrs_post_init__(self) -> None:
        self._space.replicas[self._replica] = self

    def __repr__(self) -> str:
        return f"<MemoryStore replica {self._replica}>"

    # -- Store ---------------------------------------------------------------------

    @property
    def replica(self) -> str:
        return self._replica

    @property
    def shared(self) -> bool:
        return False

    @property
    def bus(self) -> MemoryStore:
        return self

    @property
    def logs(self) -> MemoryStore:
        return self

    def records(self, namespace: str) -> _MemoryRecords:
        return _MemoryRecords(self, namespace)

    def twin(self) -> MemoryStore:
        """Another replica on the same memory (see the module docstring)."""
        return MemoryStore(self.lease, self.log_limit, space=self._space)

    async def alive(self, replica: str) -> bool:
        self._check()
        if replica == self._replica:
            return True
        return self._space.leases.get(replica, -math.inf) > trio.current_time()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        if self._running:
            raise RuntimeError(f"{self!r} is running already")
        self._running = True
        self._renew_now()  # alive from the start
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._renew)
                nursery.start_soon(self._take_mail)
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            self._running = False
            self._space.leases.pop(self._replica, None)  # a clean end: gone at once
            self._space.inboxes.pop(self._replica, None)

    def disconnect(self) -> None:
        """Lose the store, as when its server goes down: every operation raises
        ``StoreUnavailable``, hints and wakes are missed, the lease is not renewed."""
        self.connected = False

    def reconnect(self) -> None:
        """Get the store back: the watches wake, ``on_resync`` callbacks run, the inbox
        is taken."""
        self.connected = True
        self.wakes.wake_all()
        for callback in list(self._resyncs):
            call_safely(callback)
        self._mail.set()

    def _check(self) -> None:
        if not self.connected:
            raise StoreUnavailable("the store cannot be reached: memory (disconnected)")

    async def _renew(self) -> None:
        while True:
            self._renew_now()
            await trio.sleep(self.lease / 3)

    def _renew_now(self) -> None:
        if self.connected:
            self._space.leases[self._replica] = trio.current_time() + self.lease

    async def _take_mail(self) -> None:
        while True:
            inbox = self._space.inboxes.get(self._replica)
            while inbox and self.connected:
                topic, data = inbox.popleft()
                for callback in list(self._inbox_callbacks.get(topic, ())):
                    call_safely(callback, data)
            await self._mail.wait()
            self._mail = trio.Event()

    # -- Bus -------------------------------------------------------------------------

    async def publish(self, topic: str, data: bytes) -> None:
        self._check()
        for replica in list(self._space.replicas.values()):
            if replica is not self and replica.connected and replica._running:
                for callback in list(replica._hints.get(topic, ())):
                    call_safely(callback, data)

    def subscribe(self, topic: str, callback: Callback) -> Callable[[], None]:
        return add_callback(self._hints.setdefault(topic, []), callback)

    async def send(self, replica: str, topic: str, data: bytes) -> None:
        self._check()
        self._space.inboxes.setdefault(replica, deque()).append((topic, data))
        target = self._space.replicas.get(replica)
        if target is not None and target.connected:
            target._mail.set()

    def receive(self, topic: str, callback: Callback) -> Callable[[], None]:
        return add_callback(self._inbox_callbacks.setdefault(topic, []), callback)

    def on_resync(self, callback: Callable[[], None]) -> Callable[[], None]:
        return add_callback(self._resyncs, callback)

    # -- EventLogs -------------------------------------------------------------------

    async def append(self, log: str, data: bytes) -> int:
        self._check()
        entry = self._space.logs.setdefault(log, _Log())
        entry.last += 1
        entry.events.append(LogEvent(entry.last, data))
        while len(entry.events) > self.log_limit:
            entry.events.popleft()
        self._space.wake(f"log:{log}")
        return entry.last

    async def put(self, log: str, event: int, data: bytes) -> None:
        self._check()
        entry = self._space.logs.get(log)
        if event != (entry.last if entry is not None else event - 1) + 1 or event < 1:
            logger.warning("event %d is not the next of the event log %s: not stored", event, log)
            return
        if entry is None:
            entry = self._space.logs[log] = _Log(last=event - 1)
        entry.last = event
        entry.events.append(LogEvent(event, data))
        while len(entry.events) > self.log_limit:
            entry.events.popleft()
        self._space.wake(f"log:{log}")

    async def read(self, log: str, after: int = 0, limit: int = 1000) -> list[LogEvent]:
        self._check()
        entry = self._space.logs.get(log)
        if entry is None:
            if after:
                raise LogGap(f"the event log {log} holds no event {after}")
            return []
        if after > entry.last:
            raise LogGap(f"the event log {log} never had event {after}")
        first = entry.events[0].id if entry.events else entry.last + 1
        if after + 1 < first:
            raise LogGap(f"the events of {log} after {after} were forgotten")
        start = after + 1 - first
        return [entry.events[i] for i in range(start, min(len(entry.events), start + limit))]

    def follow(
        self, log: str, after: int = 0
    ) -> AbstractAsyncContextManager[AsyncIterator[LogEvent]]:
        return follow_log(self, self._watch_log, log, after)

    def _watch_log(self, log: str) -> AbstractAsyncContextManager[Watch]:
        return self.wakes.watch(f"log:{log}")

    async def drop(self, *logs: str) -> None:
        self._check()
        for log in logs:
            self._space.logs.pop(log, None)
            self._space.wake(f"log:{log}")


@attrs.define(eq=False, repr=False)
class _MemoryRecords:
    store: MemoryStore
    namespace: str

    def _key(self, key: str) -> str:
        return f"rec:{self.namespace}:{key}"

    def _entry(self, key: str) -> _Entry | None:
        full = self._key(key)
        space = self.store._space
        entry = space.records.get(full)
        if entry is not None and entry.expires <= trio.current_time():
            self._forget(full, entry)
            return None
        return entry

    def _forget(self, full: str, entry: _Entry) -> None:
        space = self.store._space
        del space.records[full]
        if entry.group is not None:
            members = space.groups.get(f"{self.namespace}:{entry.group}")
            if members is not None:
                members.pop(full, None)
        space.wake(full)

    def _record(self, key: str, entry: _Entry) -> Record:
        return Record(key, entry.value, entry.version, entry.owner)

    async def get(self, key: str) -> Record | None:
        self.store._check()
        entry = self._entry(key)
        return None if entry is None else self._record(key, entry)

    async def create(
        self, key: str, value: bytes, *, ttl: float | None = None, group: str | None = None
    ) -> Record | None:
        store = self.store
        store._check()
        if self._entry(key) is not None:
            return None
        expires = math.inf if ttl is None else trio.current_time() + ttl
        entry = _Entry(value, 1, store.replica, expires, group)
        full = self._key(key)
        store._space.records[full] = entry
        if group is not None:
            store._space.groups.setdefault(f"{self.namespace}:{group}", {})[full] = None
        store._space.wake(full)
        return self._record(key, entry)

    async def swap(
        self, key: str, version: int, value: bytes, *, claim: bool = False
    ) -> Record | None:
        store = self.store
        store._check()
        entry = self._entry(key)
        if entry is None or entry.version != version:
            return None
        entry.value = value
        entry.version += 1
        if claim:
            entry.owner = store.replica
        store._space.wake(self._key(key))
        return self._record(key, entry)

    async def delete(self, key: str) -> None:
        self.store._check()
        entry = self._entry(key)
        if entry is not None:
            self._forget(self._key(key), entry)

    async def group(self, group: str) -> list[Record]:
        self.store._check()
        members = self.store._space.groups.get(f"{self.namespace}:{group}", {})
        prefix = len(self._key(""))
        found = []
        for full in list(members):
            entry = self._entry(full[prefix:])
            if entry is not None:
                found.append(self._record(full[prefix:], entry))
        return found

    def watch(self, key: str) -> AbstractAsyncContextManager[Watch]:
        return self.store.wakes.watch(self._key(key))
