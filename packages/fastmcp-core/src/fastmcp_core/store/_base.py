"""The interfaces of a store, its values and its error (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

import attrs

from fastmcp_protocol import INTERNAL_ERROR, LocalError, McpError

__all__ = [
    "Bus",
    "EventLogs",
    "LogEvent",
    "LogGap",
    "Record",
    "Records",
    "Store",
    "StoreUnavailable",
    "Watch",
]


class StoreUnavailable(LocalError, McpError):
    """The store cannot be reached now (its server is down or does not answer in time).

    Every operation that needs the store raises it at once instead of waiting; the
    store reconnects by itself, and the next operation after that succeeds. Raised in a
    handler it answers -32603 with its message (in a tool, an ``isError`` result).
    """

    def __init__(self, message: str) -> None:
        super().__init__(INTERNAL_ERROR, message)


class LogGap(LocalError):
    """The events a reader asked for were forgotten (the log keeps its newest events
    only, or it was dropped): what follows cannot be replayed without a hole."""


@attrs.frozen
class Record:
    """One record as stored: its value, its version and the replica that owns it.

    ``version`` starts at 1 and grows by one with each write; a write names the version
    it read (compare-and-set), so of two replicas writing after reading the same
    version exactly one succeeds. ``owner`` is the replica that created or last
    claimed it: whether that replica still lives is ``Store.alive(owner)``.
    """

    key: str
    value: bytes
    version: int
    owner: str | None


@attrs.frozen
class LogEvent:
    """One event of an event log: its id (1, 2, 3... in the order appended, never
    reused while the log exists) and its data."""

    id: int
    data: bytes


class Watch(Protocol):
    """A wake-up for one record or log, registered before the caller reads it so that
    no change between the read and the wait is missed."""

    async def wait(self, timeout: float = math.inf) -> None:
        """Return once the watched thing may have changed since the last return (or
        since the watch began), or the store reconnected (changes may have been missed
        meanwhile), or after ``timeout`` seconds. Read again after it returns: a wake
        is a hint, never the change itself (a late one may come for a change already
        read)."""
        ...


class Records(Protocol):
    """Versioned records of one namespace, changed only by compare-and-set.

    Keys are the caller's; values are bytes the caller encodes. Every method raises
    ``StoreUnavailable`` when the store cannot be reached.
    """

    async def get(self, key: str) -> Record | None:
        """The record, or ``None`` when there is none (never created, deleted, or its
        ``ttl`` ran out)."""
        ...

    async def create(
        self, key: str, value: bytes, *, ttl: float | None = None, group: str | None = None
    ) -> Record | None:
        """Store a new record (version 1) owned by this replica; ``None`` when the key
        exists already. It is forgotten ``ttl`` seconds later (``None``: kept until
        deleted); ``group`` lists it in ``group(...)``."""
        ...

    async def swap(
        self, key: str, version: int, value: bytes, *, claim: bool = False
    ) -> Record | None:
        """Replace the value when the record is still at ``version``; the record as
        written, or ``None`` when another write came first or the record is gone (read
        it again and decide anew). ``claim`` makes this replica its owner too. The
        ``ttl`` stays the one given at creation.

        A swap cancelled while it waits for the store may or may not have happened:
        shield the writes that must be known (``trio.CancelScope(shield=True)``)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget the record (nothing when there is none)."""
        ...

    async def group(self, group: str) -> list[Record]:
        """The records created with ``group`` that still exist, oldest first."""
        ...

    def watch(self, key: str) -> AbstractAsyncContextManager[Watch]:
        """Wake-ups for changes of ``key`` (see ``Watch``): enter, read, wait, read..."""
        ...


class EventLogs(Protocol):
    """Append-only logs of events, each bounded to its newest events, replayable from
    any id they still hold (what resumable streams need). Every method raises
    ``StoreUnavailable`` when the store cannot be reached."""

    async def append(self, log: str, data: bytes) -> int:
        """Add ``data`` as the log's next event (creating the log); its id."""
        ...

    async def put(self, log: str, event: int, data: bytes) -> None:
        """Append ``data`` as event ``event``, which must be the log's next id (the one
        writer of a log knows it: the id of what it appended last, plus one), without
        waiting for the store's answer: the write is on its way to the store when this
        returns, before anything the caller does next, and its outcome is only
        logged (an id that is not the log's next, a store that fails). For what the
        caller hands out at once and what is read from the log only when that got
        lost, such as the last answer of a resumable stream: one wait for the store
        less. Raises ``StoreUnavailable`` when the store cannot be reached at all."""
        ...

    async def read(self, log: str, after: int = 0, limit: int = 1000) -> list[LogEvent]:
        """Up to ``limit`` events after id ``after`` (0: from the first), oldest first;
        empty when there is none yet. Raises ``LogGap`` when events after ``after``
        were forgotten, or ``after`` names an event the log never had."""
        ...

    def follow(
        self, log: str, after: int = 0
    ) -> AbstractAsyncContextManager[AsyncIterator[LogEvent]]:
        """The events after ``after``, then each new one as it is appended, from any
        replica: ``async with logs.follow(log, n) as events: async for event in
        events``. The iteration raises ``LogGap`` when the follower fell so far behind
        that events were forgotten, ``StoreUnavailable`` when the store went away."""
        ...

    async def drop(self, *logs: str) -> None:
        """Forget the logs and their events (several at once: one round trip to a
        remote store)."""
        ...


class Bus(Protocol):
    """How replicas tell one another: hints for all (lossy), messages for one (kept).

    Callbacks run in the store's own task: they must return at once (post, set an
    event, cancel a scope) and raise nothing.
    """

    async def publish(self, topic: str, data: bytes) -> None:
        """Tell every other replica now listening to ``topic`` (this one is not told).
        Lossy: a replica cut off from the store meanwhile misses it, and is told by
        ``on_resync`` when it is back. Raises ``StoreUnavailable`` when the store
        cannot be reached."""
        ...

    def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``callback(data)`` for each hint published on ``topic`` by another
        replica; returns the function that stops it."""
        ...

    async def send(self, replica: str, topic: str, data: bytes) -> None:
        """Put a message into ``replica``'s inbox: kept in the store until that replica
        takes it (a replica that stopped never does; its inbox expires). Returns once
        stored; raises ``StoreUnavailable`` when it could not be."""
        ...

    def receive(self, topic: str, callback: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``callback(data)`` for each message of this replica's inbox sent on
        ``topic`` (once each, in the order sent); returns the function that stops it.
        Messages of a topic nobody receives are dropped."""
        ...

    def on_resync(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` whenever hints may have been missed (the store came back
        after an outage): what depends on hints should look again."""
        ...


@runtime_checkable
class Store(Protocol):
    """The state replicas share (see the package docstring): records, event logs, the
    bus, and which replicas live."""

    @property
    def replica(self) -> str:
        """This replica's id: unique, random, for the life of the process."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other processes may share the state (``False`` for memory)."""
        ...

    @property
    def lease(self) -> float:
        """Seconds a replica counts as alive after it last renewed its lease."""
        ...

    @property
    def bus(self) -> Bus: ...

    @property
    def logs(self) -> EventLogs: ...

    def records(self, namespace: str) -> Records:
        """The records of ``namespace`` (``"tasks"``, ``"sessions"``...)."""
        ...

    async def alive(self, replica: str) -> bool:
        """Whether ``replica`` renewed its lease lately (this replica always lives).
        Raises ``StoreUnavailable`` when the store cannot be reached."""
        ...

    def running(self) -> AbstractAsyncContextManager[None]:
        """Connect and serve for the duration of the block: renew this replica's lease,
        listen to the bus, take the inbox. Never raises for an unreachable store: it
        logs, keeps trying, and ``on_resync`` tells when it is back. A block may be
        entered again after it ended; not twice at once."""
        ...
