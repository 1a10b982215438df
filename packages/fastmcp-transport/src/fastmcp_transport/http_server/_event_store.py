"""Resumable SSE: where the events of a stream wait for a client that reconnects.

Streamable HTTP up to 2025-11-25 lets a client that lost an SSE connection (or
whose connection the server closed on purpose: "SSE polling") reconnect with GET and
``Last-Event-ID`` and receive what it missed. The server stores every event it
writes on a resumable stream; the id of an event names its stream, so a
``Last-Event-ID`` alone finds the stream to resume (the specification forbids
replaying another stream's events). The app checks that the stream belongs to the
session asking.

``EventStore`` is the interface (a shared store such as Redis lets any replica
resume a stream). The stream ids the app gives are ``<session>-<n>``: what comes
before the last ``-`` names the session (``session_of``). ``InMemoryEventStore`` is
the default: bounded per session and over all streams, by a number of events and of
bytes; a session over its quota forgets its own oldest events, so one session's flood
never pushes another session's answer out; a store over its bound forgets the oldest
events of all.
A ``Last-Event-ID`` whose successors were forgotten cannot be resumed faithfully
and is refused rather than replayed with a hole.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["EventStore", "InMemoryEventStore", "Replay", "StoredEvent"]


def session_of(stream_id: str) -> str:
    """The session a stream id of the app belongs to (``<session>-<n>``)."""
    return stream_id.rpartition("-")[0]


@attrs.frozen
class StoredEvent:
    """One event of a stream: its id and the message (empty for a priming event)."""

    id: str
    message: bytes


@attrs.frozen
class Replay:
    """What a ``Last-Event-ID`` resumes: the stream, and its events after that id."""

    stream_id: str
    events: Sequence[StoredEvent]


@runtime_checkable
class EventStore(Protocol):
    """Stores the events of resumable SSE streams.

    Methods may be called from many tasks at once. An exception raised by ``append``
    is logged and the event is delivered live only (the stream is then not fully
    resumable); one raised by ``replay`` refuses the resumption.
    """

    async def append(self, stream_id: str, message: bytes) -> str:
        """Store ``message`` as the next event of ``stream_id``; return its event id.

        Ids are unique in the store and name their stream (``replay`` finds the
        stream from the id alone).
        """
        ...

    async def replay(self, last_event_id: str) -> Replay | None:
        """The stream of ``last_event_id`` and its events after it, oldest first.

        ``None`` when the id is unknown or events after it were forgotten.
        """
        ...

    async def forget(self, stream_id: str) -> None:
        """Drop every event of ``stream_id`` (its session ended)."""
        ...


@attrs.define(eq=False, slots=True)
class _Log:
    events: deque[tuple[int, bytes]] = attrs.field(factory=deque)
    next_seq: int = 0


@attrs.define(eq=False, slots=True)
class _Quota:
    """One session's stored events, in the order stored, and their bytes."""

    order: OrderedDict[tuple[str, int], int] = attrs.field(factory=OrderedDict)
    bytes: int = 0


@attrs.define(eq=False)
class InMemoryEventStore:
    """The default event store: this process's memory, bounded.

    At most ``max_events_per_session`` events and ``max_bytes_per_session`` message
    bytes per session (``session_of``): beyond, that session's own oldest events are
    forgotten first. At most ``max_events`` events and ``max_bytes`` bytes over all
    streams: beyond, the oldest events of any stream are forgotten first. Event ids
    are ``<stream id>.<sequence number>``.
    """

    max_events: int = 65_536
    max_bytes: int = 256 * 1024 * 1024
    max_events_per_session: int = 4096
    max_bytes_per_session: int = 16 * 1024 * 1024
    _logs: dict[str, _Log] = attrs.field(init=False, factory=dict)
    # Every stored event in the order stored: eviction pops the oldest overall (or a
    # session's oldest), which is always the front of its own stream's log.
    _order: OrderedDict[tuple[str, int], int] = attrs.field(init=False, factory=OrderedDict)
    _bytes: int = attrs.field(init=False, default=0)
    _quotas: dict[str, _Quota] = attrs.field(init=False, factory=dict)

    async def append(self, stream_id: str, message: bytes) -> str:
        log = self._logs.get(stream_id)
        if log is None:
            log = self._logs[stream_id] = _Log()
        seq = log.next_seq
        log.next_seq += 1
        log.events.append((seq, message))
        size = len(message)
        self._order[(stream_id, seq)] = size
        self._bytes += size
        session = session_of(stream_id)
        quota = self._quotas.get(session)
        if quota is None:
            quota = self._quotas[session] = _Quota()
        quota.order[(stream_id, seq)] = size
        quota.bytes += size
        while len(quota.order) > self.max_events_per_session or (
            quota.bytes > self.max_bytes_per_session
        ):
            self._evict(next(iter(quota.order)))
        while len(self._order) > self.max_events or self._bytes > self.max_bytes:
            self._evict(next(iter(self._order)))
        return f"{stream_id}.{seq}"

    def _evict(self, key: tuple[str, int]) -> None:
        stream_id, seq = key
        size = self._order.pop(key)
        self._bytes -= size
        self._unquota(key, size)
        log = self._logs[stream_id]
        if log.events and log.events[0][0] == seq:
            log.events.popleft()

    async def replay(self, last_event_id: str) -> Replay | None:
        stream_id, _, raw_seq = last_event_id.rpartition(".")
        log = self._logs.get(stream_id)
        if log is None or not raw_seq.isdigit():
            return None
        seq = int(raw_seq)
        if seq >= log.next_seq:
            return None
        oldest = log.events[0][0] if log.events else log.next_seq
        if seq + 1 < oldest:
            return None  # events after it were forgotten: a replay would have a hole
        events = [StoredEvent(f"{stream_id}.{n}", message) for n, message in log.events if n > seq]
        return Replay(stream_id, events)

    async def forget(self, stream_id: str) -> None:
        log = self._logs.pop(stream_id, None)
        if log is None:
            return
        for seq, _ in log.events:
            size = self._order.pop((stream_id, seq), None)
            if size is not None:
                self._bytes -= size
                self._unquota((stream_id, seq), size)

    def _unquota(self, key: tuple[str, int], size: int) -> None:
        session = session_of(key[0])
        quota = self._quotas[session]
        del quota.order[key]
        quota.bytes -= size
        if not quota.order:
            del self._quotas[session]
