"""Legacy sessions shared by the replicas of a server (a ``fastmcp_core.store.Store``).

Theory of operation. A legacy Streamable HTTP session runs on one replica, its
*owner*: the one whose ``ConnectionHandler`` holds the session's state (the
negotiated version, the requests in flight, the server-to-client requests waiting
for answers). With a shared store, behind a plain round robin, any replica serves
any request of the session:

* the session has a record in ``store.records("sessions")`` (``SessionRecord``: the
  ``initialize`` request, the negotiated version, the principal's id), created by
  the owner when it opens the session and deleted when the session ends (DELETE,
  expiry, its handler's end) - not when the owner stops or dies: the record
  survives its replica;
* every stream of the session writes its events to the store's event logs
  (``StoreEventStore``: one log per stream, each bounded by the store, so that one
  session's chatter never evicts another's resumable answer), so any replica
  replays a ``Last-Event-ID`` and follows the rest of the stream live; a stream's
  last answer is sent to the store before the client can see it, without waiting
  for the store's reply (``EventLogs.put``: its writer knows the next id);
* a replica that gets a request of a session it does not hold looks the record up:
  while the owner lives (its lease), the frames go to the owner's inbox (the bus's
  reliable messages, ``Forward``) under a stream id chosen here, and the response
  is the stream's log, followed until its end marker; when the owner's lease ran
  out, the first replica to claim the record (compare-and-set) *adopts* the
  session: it starts a handler of its own under the same id and replays the
  stored ``initialize`` into it (its answer dropped), then serves the request.

What adoption does not carry: the requests the dead owner was running (their
streams end without an answer: the client retries), the log level and resource
subscriptions the client set on the old handler. A fresh GET (no ``Last-Event-ID``)
on a replica that does not own the session carries what the session sends from
then on; messages sent while no GET was open wait on the owner only.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Mapping, Sequence

import attrs
import msgspec
import trio

from fastmcp_core.store import LogGap, Store, StoreUnavailable
from fastmcp_transport.http_server._event_store import Replay, StoredEvent

__all__ = [
    "END_OF_STREAM",
    "Forward",
    "SessionRecord",
    "StoreEventStore",
    "log_name",
    "new_stream_id",
    "parse_event_id",
    "standalone_stream_id",
]

logger = logging.getLogger("fastmcp.http")

END_OF_STREAM = b"\x00"
"""Marks the last event of a stream's log (every request of it is answered): the
prefix of its last message, or an event of its own (a frame is JSON, so it never
starts with a NUL byte)."""

SESSIONS = "sessions"
"""The namespace of the session records."""

FORWARD_TOPIC = "http.session"
"""The inbox topic of the frames forwarded to a session's owner."""

FORGET_BATCH = 64
"""Finished streams a shared session forgets at once, beyond its ``finished_limit``
(one round trip to the store for them all, instead of one per request)."""

RECORD_TTL = 7 * 86400.0
"""Seconds a session record is kept at most: a session whose replicas all died and
whose client never came back is forgotten then."""


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What any replica needs to serve, or adopt, a session."""

    initialize: bytes
    """The ``initialize`` request as the client sent it (replayed on adoption)."""
    initialize_id: str | int
    """Its request id."""
    version: str | None = None
    """The negotiated protocol version (``None`` until ``initialize`` is answered)."""
    principal: str | None = None
    """The id of the principal the session is bound to (``None``: unauthenticated)."""


class Forward(msgspec.Struct, frozen=True, kw_only=True):
    """Frames of a session's POST (or its DELETE) sent to the replica that owns it."""

    session: str
    frames: list[bytes] = []
    ids: list[str | int] = []
    stream: str | None = None
    """The stream the owner opens for ``ids`` (its log carries the answers)."""
    json: bool = False
    delete: bool = False
    headers: dict[str, str] = {}
    """The forwarded POST's headers, its credentials left out (``ctx.http`` on the
    owner: the request's own, as on the replica it came to)."""
    client: tuple[str, int] | None = None


CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Headers never put on the bus: the replica a POST came to checked them already."""


def forwardable(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` without credentials (see ``CREDENTIALS``)."""
    return {name: value for name, value in headers.items() if name.lower() not in CREDENTIALS}


record_encoder = msgspec.msgpack.Encoder()
record_decoder = msgspec.msgpack.Decoder(SessionRecord)
forward_decoder = msgspec.msgpack.Decoder(Forward)


def standalone_stream_id(session_id: str) -> str:
    """The id of a session's GET stream: the same on every replica (an adopter
    continues the log)."""
    return f"{session_id}~g"


def new_stream_id(session_id: str, writer: str) -> str:
    """A fresh, unique id for a POST's stream of ``session_id`` written by the
    replica ``writer``."""
    return f"{session_id}~{writer}~{secrets.token_urlsafe(9)}"


def stream_session(stream_id: str) -> str:
    """The session a stream belongs to."""
    return stream_id.partition("~")[0]


def stream_writer(stream_id: str) -> str | None:
    """The replica that writes a POST's stream (``None`` for a GET stream, whose
    writer is whichever replica holds the session)."""
    parts = stream_id.split("~")
    return parts[1] if len(parts) == 3 else None


def log_name(stream_id: str) -> str:
    return f"sse:{stream_id}"


def parse_event_id(event_id: str) -> tuple[str, int] | None:
    """``(stream id, sequence)`` of an event id made by ``StoreEventStore``."""
    stream_id, _, raw = event_id.rpartition(".")
    if not stream_id or not raw.isdigit() or "~" not in stream_id:
        return None
    return stream_id, int(raw)


@attrs.define(eq=False)
class StoreEventStore:
    """An ``EventStore`` on a store's event logs: one log per stream, bounded by the
    store (``RedisStore.log_limit`` events, kept ``log_ttl`` seconds after the last
    append), so that a stream's events are evicted only by that stream's own.

    Event ids are ``<stream id>.<n>`` (``.0``: before the first event, the id of a
    new stream's priming event, never stored); the end marker of a stream
    (``END_OF_STREAM``) is never replayed.
    """

    store: Store

    async def append(self, stream_id: str, message: bytes) -> str:
        return f"{stream_id}.{await self.store.logs.append(log_name(stream_id), message)}"

    async def replay(self, last_event_id: str) -> Replay | None:
        parsed = parse_event_id(last_event_id)
        if parsed is None:
            return None
        stream_id, after = parsed
        events: list[StoredEvent] = []
        try:
            while True:
                batch = await self.store.logs.read(log_name(stream_id), after)
                for event in batch:
                    after = event.id
                    data = event.data.removeprefix(END_OF_STREAM)
                    if data:
                        events.append(StoredEvent(f"{stream_id}.{event.id}", data))
                if len(batch) < 1000:
                    break
        except LogGap:
            return None
        return Replay(stream_id, events)

    async def put(self, stream_id: str, event: int, message: bytes) -> str:
        """Store ``message`` as event ``event`` of the stream (the next one: its
        writer knows it) without waiting for the store (``EventLogs.put``); its id."""
        await self.store.logs.put(log_name(stream_id), event, message)
        return f"{stream_id}.{event}"

    async def forget(self, *stream_ids: str) -> None:
        """Drop the logs of these streams (all in one step of the store)."""
        await self.store.logs.drop(*(log_name(stream_id) for stream_id in stream_ids))

    async def end(self, stream_id: str) -> None:
        """Mark the stream's log complete (its followers on other replicas stop)."""
        await self.store.logs.append(log_name(stream_id), END_OF_STREAM)


def principal_key(principal: object) -> str | None:
    """How a record names a principal: its ``id`` when it has one (the rule of
    ``_bind_principal``), as text."""
    if principal is None:
        return None
    return str(getattr(principal, "id", principal))


async def owner_alive(store: Store, owner: str | None) -> bool:
    """Whether the replica ``owner`` lives (``False`` for ``None``)."""
    return owner is not None and await store.alive(owner)


async def watch_owner(store: Store, owner: str, cancel: trio.CancelScope) -> None:
    """Cancel ``cancel`` once ``owner``'s lease has run out (checked every half lease).

    A store that cannot be reached does not count as a dead owner."""
    while True:
        await trio.sleep(store.lease / 2)
        try:
            if not await store.alive(owner):
                logger.warning("replica %s died while serving a forwarded request", owner)
                cancel.cancel()
                return
        except StoreUnavailable:
            continue


def forward_channel() -> tuple[trio.MemorySendChannel[bytes], trio.MemoryReceiveChannel[bytes]]:
    """Where the bus's callback puts forwarded messages (it must not wait)."""
    return trio.open_memory_channel[bytes](math.inf)


def encode_forward(
    session_id: str,
    frames: Sequence[bytes],
    ids: Sequence[str | int],
    stream: str | None,
    *,
    json: bool = False,
    delete: bool = False,
    headers: Mapping[str, str] | None = None,
    client: tuple[str, int] | None = None,
) -> bytes:
    """A ``Forward``; ``headers`` (of the POST) are sent without credentials."""
    return record_encoder.encode(
        Forward(
            session=session_id,
            frames=list(frames),
            ids=list(ids),
            stream=stream,
            json=json,
            delete=delete,
            headers=forwardable(headers) if headers else {},
            client=client,
        )
    )
