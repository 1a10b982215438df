"""Legacy Streamable HTTP sessions (2025-03-26 to 2025-11-25): one transport each.

Theory of operation. An ``initialize`` POST without ``Mcp-Session-Id`` creates a
``SessionTransport`` under a fresh, unguessable id and starts the ``ConnectionHandler``
on it in the app's task group; the session lives until the client DELETEs it, it
stays idle for ``idle_timeout`` seconds, the handler returns, or the app shuts down.
Later POSTs feed their messages into the transport. Once the session engine has
attached itself (``SessionTransport`` is a ``DirectTransport``), each POST hands its
messages, decoded once by the app, straight to the engine in the POST's own task
(``Inbound.deliver``: a request's handler starts without a hop through the engine's
reading task); until then, or for a handler that reads frames itself, they wait in
an inbox that ``receive`` (frames) and ``receive_message`` (decoded) drain in
arrival order.

What the handler sends is routed by ``related`` (the engine says what each frame
is; a frame sent without a description is read for it):

* a message about a request the client POSTed (its progress, its log messages, the
  server-to-client requests it makes, its response) goes on that POST's stream;
  ``final`` on it ends the stream once every request of the POST is answered;
* anything else (``related=None``, or a request whose stream has ended) goes on the
  session's standalone stream, which the client opens with GET; while no GET is
  connected, up to ``pending_limit`` messages wait for the next one.

Streams are logical: each has an id, each event an id from the event store, and the
HTTP response carrying a stream may end before the stream does (the client lost the
connection, or the server closed it on purpose with a ``retry`` hint: SSE polling).
A GET with ``Last-Event-ID`` replays what the stream wrote after that event and
then carries the rest of it. A POST in JSON mode (``json_response``, or a client that
accepts no SSE) gets its responses as one JSON body; the other messages of its
requests go on the standalone stream, since a JSON body cannot carry them.

Closing: DELETE, expiry and the handler's end all remove the session at once (the id
then gets 404), end its HTTP responses, drop its stored events and cancel the
handler. At app shutdown no session is opened any more and the GET streams end (with
a ``retry`` hint); the handlers first get ``grace`` seconds to finish the requests in
flight (they see their input end), then the sessions still open are ended.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any

import attrs
import msgspec
import trio

from fastmcp_core import (
    Inbound,
    IncomingMessage,
    MessageKind,
    Outgoing,
    RateLimitedLog,
    TransportClosed,
    redacted,
)
from fastmcp_core.store import LogEvent, LogGap, Store, StoreUnavailable
from fastmcp_protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    JSONRPCMessage,
    JSONRPCRequest,
    RequestId,
)
from fastmcp_transport._http_common import ConnectionHandler, HttpConnectionInfo
from fastmcp_transport._sse import encode_event
from fastmcp_transport.http_server._event_store import EventStore, Replay
from fastmcp_transport.http_server._http import (
    SSE_HEADERS,
    HttpError,
    Receive,
    Responder,
    error_body,
    watch_disconnect,
)
from fastmcp_transport.http_server._modern import peek_frame
from fastmcp_transport.http_server._shared import (
    END_OF_STREAM,
    FORGET_BATCH,
    FORWARD_TOPIC,
    RECORD_TTL,
    SESSIONS,
    Forward,
    SessionRecord,
    StoreEventStore,
    encode_forward,
    forward_channel,
    forward_decoder,
    log_name,
    new_stream_id,
    owner_alive,
    parse_event_id,
    principal_key,
    record_decoder,
    record_encoder,
    standalone_stream_id,
    stream_session,
    stream_writer,
    watch_owner,
)
from fastmcp_transport.http_server._sse_writer import SSEConnection, priming_event
from fastmcp_transport.http_server._watches import Watches

__all__ = ["RemoteSession", "SSEOptions", "SessionManager", "SessionTransport"]

logger = logging.getLogger("fastmcp.http")
_dropped = RateLimitedLog(logger, clock=trio.current_time)
_evicted = RateLimitedLog(logger, clock=trio.current_time)
"""A client that never opens its GET stream makes the server drop messages, one that
opens sessions without end makes it end its idlest: one line a minute at most of
each, whichever sessions they are."""

PRIMING_SINCE = "2025-11-25"
"""Priming events (an id with empty data) came with 2025-11-25; older clients may
choke on empty data, so sessions of older versions get none."""


@attrs.frozen
class SSEOptions:
    """How the app's SSE responses behave (see ``StreamableHTTPApp``)."""

    keepalive: float | None = 15.0
    retry_ms: int | None = 3000
    poll_after: float | None = None

    def connection(self, responder: Responder, *, inline: bool = False) -> SSEConnection:
        return SSEConnection(
            responder,
            keepalive=self.keepalive,
            poll_after=self.poll_after,
            retry_ms=self.retry_ms,
            inline=inline,
        )


async def _acquire(lock: trio.Lock) -> None:
    """``lock.acquire()``, without the scheduling round when the lock is free (a
    stream's lock is nearly always free: one message at a time)."""
    try:
        lock.acquire_nowait()
    except trio.WouldBlock:
        await lock.acquire()


@attrs.define(eq=False)
class _Stream:
    """A logical SSE stream of a session: the standalone one, or one POST's."""

    session: SessionTransport
    stream_id: str
    waiting: set[RequestId] = attrs.field(factory=set)
    standalone: bool = False
    json: bool = False
    initialize: bool = False
    responses: list[bytes] = attrs.field(factory=list)
    done: trio.Event = attrs.field(factory=trio.Event)
    connection: SSEConnection | None = None
    lock: trio.Lock = attrs.field(factory=trio.Lock)
    pending: deque[bytes] = attrs.field(factory=deque)
    writing: int = 0
    """Answers being written now (the stream ends after the last of them)."""
    forwarded: bool = False
    """Opened for another replica (see ``_shared``): its log carries everything,
    answers included, and ends with ``END_OF_STREAM``."""
    logged_end: bool = False
    """Whether the log has its end already (marked on the last answer)."""
    stored: int | None = 0
    """The id of the last event this replica stored for the stream (shared sessions,
    which alone write their POST streams), ``None`` once unknown (a write failed)."""

    async def write(self, frame: bytes, *, last: bool = False) -> None:
        """Store (when resumable) and deliver one message, in order. ``last``: the
        stream's last message (it ends after it; a shared stream's log marks it: one
        write less)."""
        await _acquire(self.lock)
        try:
            await self._write(frame, last)
        finally:
            self.lock.release()

    async def _write(self, frame: bytes, last: bool) -> None:
        session = self.session
        if not session.resumable:
            event_id = None
        elif last and session.shared:
            self.logged_end = True
            event_id = await self._store_last(END_OF_STREAM + frame)
        else:
            event_id = await session._store(self.stream_id, frame)
            if session.shared:
                self._stored(event_id)
        chunk = encode_event(frame, event="message", id=event_id)
        connection = self.connection
        if connection is not None and await connection.push(chunk, last=last):
            return
        if self.standalone:
            if len(self.pending) >= session.pending_limit:
                self.pending.popleft()
                _dropped.log(
                    "session %s: no GET stream is open; dropped its oldest waiting message",
                    redacted(session.session_id),
                )
            self.pending.append(chunk)
        elif event_id is None:
            logger.debug(
                "session %s: a message was lost (no connection, no event store)",
                session.session_id,
            )

    def _stored(self, event_id: str | None) -> None:
        if self.stored is None:
            return
        parsed = parse_event_id(event_id) if event_id is not None else None
        self.stored = parsed[1] if parsed is not None else None

    async def _store_last(self, message: bytes) -> str | None:
        """Store the stream's last message (an answer, with the end marker). Sent to
        the store before the client can see it, without waiting for the store's
        answer when the next id is known (``StoreEventStore.put``): a client that got
        it needs no replay, one that lost it resumes after Redis has it; what the
        store refuses is logged, as a failed write is."""
        session = self.session
        store = session.event_store
        if self.stored is None or self.standalone or not isinstance(store, StoreEventStore):
            return await session._store(self.stream_id, message)
        try:
            return await store.put(self.stream_id, self.stored + 1, message)
        except Exception:
            logger.exception("the event store failed; the event is delivered live only")
            return None


class _InitializeResult(msgspec.Struct, rename="camel"):
    protocol_version: str


class _InitializeResponse(msgspec.Struct):
    result: _InitializeResult | None = None


_initialize_response = msgspec.json.Decoder(_InitializeResponse)


class _Busy:
    """``SessionTransport.busy()``: an HTTP request of the session in progress."""

    __slots__ = ("session",)

    def __init__(self, session: SessionTransport) -> None:
        self.session = session

    def __enter__(self) -> None:
        session = self.session
        session._active += 1
        if session._active == 1:
            session._idle = trio.Event()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
        session._active -= 1
        session._last_seen = trio.current_time()
        if not session._active:
            session._idle.set()


_Queued = tuple[bytes, JSONRPCMessage | None]
"""A message waiting in a session's inbox: its frame, and what it decoded to."""


@attrs.define(eq=False)
class SessionTransport:
    """The transport of one legacy Streamable HTTP session (see the module docstring).

    The ``ConnectionHandler`` gets it as its transport (a ``DirectTransport``).
    Beyond the ``Transport`` methods it offers ``close_sse_stream`` (SSE polling) and
    tells the negotiated ``protocol_version``.
    """

    session_id: str
    event_store: EventStore | None = None
    pending_limit: int = 1024
    finished_limit: int = 1024
    protocol_version: str | None = None
    """The version ``initialize`` negotiated (``None`` until it has been answered)."""
    info: HttpConnectionInfo | None = None
    """What the connection handler was given (its principal is the session's)."""
    initialize_failed: bool = False
    shared: bool = False
    """Whether other replicas serve it too (see ``_shared``): stream ids name the
    session, the GET stream's id is the same on every replica."""
    replica: str = ""
    """The replica it runs on (shared sessions: its POST streams' ids name it)."""
    handover: bool = False
    """Set when this replica stops: the session's record and logs stay for another
    replica to adopt."""
    _orphans: dict[str, list[RequestId]] = attrs.field(init=False, factory=dict)
    owner: Hashable = None
    """Whose session it is (``client_key``): the sessions a client may hold are counted
    by it."""
    _inbox: trio.MemorySendChannel[_Queued] = attrs.field(init=False)
    _frames: trio.MemoryReceiveChannel[_Queued] = attrs.field(init=False)
    _queued: int = attrs.field(init=False, default=0)
    """Messages in the inbox (while there are, later ones queue behind them)."""
    _inbound: Inbound | None = attrs.field(init=False, default=None)
    _key: str = attrs.field(init=False, factory=lambda: secrets.token_urlsafe(6))
    _counter: int = attrs.field(init=False, default=0)
    _standalone: _Stream = attrs.field(init=False)
    _by_request: dict[RequestId, _Stream] = attrs.field(init=False, factory=dict)
    _streams: dict[str, _Stream] = attrs.field(init=False, factory=dict)
    _finished: OrderedDict[str, None] = attrs.field(init=False, factory=OrderedDict)
    _closed: str | None = attrs.field(init=False, default=None)
    _scope: trio.CancelScope = attrs.field(init=False, factory=trio.CancelScope)
    _active: int = attrs.field(init=False, default=0)
    _last_seen: float = attrs.field(init=False, factory=trio.current_time)
    _idle: trio.Event = attrs.field(init=False, factory=trio.Event)
    _ended: trio.Event = attrs.field(init=False, factory=trio.Event)
    _ready: trio.Event = attrs.field(init=False, factory=trio.Event)
    """Set once the session takes requests (at once, or when an adoption has replayed
    its ``initialize``)."""

    def __attrs_post_init__(self) -> None:
        # A few frames of slack; beyond that a POST waits until the handler reads.
        self._inbox, self._frames = trio.open_memory_channel[_Queued](16)
        if self.shared:
            self._key = new_stream_id(self.session_id, self.replica)
        self._standalone = self._new_stream(standalone=True)
        self._idle.set()
        self._ready.set()

    # -- the Transport interface -----------------------------------------------------

    async def receive(self) -> bytes:
        """The next frame POSTed to the session; ``TransportClosed`` once it ended."""
        return (await self._next())[0]

    async def receive_message(self) -> bytes | IncomingMessage:
        """The next message POSTed before the engine attached, decoded."""
        frame, message = await self._next()
        return frame if message is None else message

    async def _next(self) -> _Queued:
        try:
            queued = await self._frames.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise TransportClosed(self._closed or "the session ended") from None
        self._queued -= 1
        return queued

    @property
    def serves_inline(self) -> bool:
        """Whether a POST can have its request served in its own task (``serve``):
        the engine is attached and no message waits before it."""
        return self._inbound is not None and not self._queued and self._closed is None

    async def serve(self, message: JSONRPCRequest) -> None:
        """Have the attached engine serve one request in this task (see
        ``serves_inline``); returns once it is answered. 404 when the session is
        gone."""
        inbound = self._inbound
        if inbound is None or self._closed is not None:
            raise _gone()
        try:
            await inbound.serve(message)
        except TransportClosed:
            raise _gone() from None

    def attach(self, inbound: Inbound | None) -> None:
        """The engine: POSTs hand their messages to it from now on (see the module
        docstring); ``None`` when it stops."""
        self._inbound = inbound

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        """``send_described``, for a sender that does not say what ``frame`` is (it
        is read: a final response ends its request's stream)."""
        kind: MessageKind = "notification"
        if final and (not frame or not peek_frame(frame).is_notification_or_request):
            kind = "response"
        await self.send_described(frame, Outgoing(kind, related, final))

    async def send_described(self, frame: bytes, about: Outgoing) -> None:
        """Route a message by ``about.related`` (see the module docstring).

        Waits while the client reading its stream is behind. A stream whose client
        is away keeps the message in the event store (or, for the GET stream, for
        the next GET). Raises ``TransportClosed`` once the session has ended.
        """
        if self._closed is not None:
            raise TransportClosed(self._closed)
        related = about.related
        stream = self._by_request.get(related) if related is not None else None
        if stream is None:
            stream = self._standalone
        elif about.final and about.kind == "response":
            # the response to ``related`` (or its end without one): its last message
            assert related is not None
            del self._by_request[related]
            stream.waiting.discard(related)
            if frame:
                if stream.initialize and not self.learn_version(frame):
                    self.initialize_failed = True
                if stream.json:
                    stream.responses.append(frame)
                else:
                    last = not stream.waiting and not stream.writing
                    stream.writing += 1
                    try:
                        await stream.write(frame, last=last)
                    finally:
                        stream.writing -= 1
            # the last answer ends the stream, and only once every answer is written
            if not stream.waiting and not stream.writing:
                await self._finish(stream)
            return
        if not frame:
            return
        if stream.json:
            stream = self._standalone  # a JSON body cannot carry it
        await stream.write(frame)

    async def aclose(self) -> None:
        """End the session's input and output (the app forgets it when its handler
        returns). Idempotent."""
        self._close("the session was closed")

    # -- for the server layer --------------------------------------------------------

    def close_sse_stream(self, related: RequestId | None = None) -> bool:
        """End the HTTP response now carrying the stream of request ``related``
        (``None``: the standalone GET stream), with a ``retry`` hint; the stream
        itself goes on and the client resumes it with ``Last-Event-ID``.

        Returns whether a response was ended. Without an event store, what the
        stream writes until the client reconnects is lost; and a request served in
        the task of its POST (no event store, no ``sse_poll_after``) keeps its
        response to its end: ``False``.
        """
        stream = self._by_request.get(related) if related is not None else self._standalone
        connection = stream.connection if stream is not None else None
        if connection is None or not connection.open or connection.inline:
            return False
        connection.close_early()
        return True

    @property
    def closed(self) -> bool:
        return self._closed is not None

    # -- for the app -----------------------------------------------------------------

    @property
    def resumable(self) -> bool:
        return self.event_store is not None

    @property
    def priming(self) -> bool:
        version = self.protocol_version
        return self.resumable and version is not None and version >= PRIMING_SINCE

    @property
    def standalone(self) -> _Stream:
        return self._standalone

    def _new_stream(
        self,
        *,
        standalone: bool = False,
        json: bool = False,
        initialize: bool = False,
        stream_id: str | None = None,
    ) -> _Stream:
        forwarded = stream_id is not None
        if stream_id is None:
            if standalone and self.shared:
                stream_id = standalone_stream_id(self.session_id)
            else:
                stream_id = f"{self._key}-{self._counter}"
                self._counter += 1
        stream = _Stream(
            self,
            stream_id,
            standalone=standalone,
            json=json,
            initialize=initialize,
            forwarded=forwarded,
        )
        self._streams[stream.stream_id] = stream
        return stream

    def open_stream(
        self,
        request_ids: Sequence[RequestId],
        *,
        json: bool,
        initialize: bool = False,
        stream_id: str | None = None,
    ) -> _Stream:
        """The stream of a POST carrying these requests; register it before delivering.

        ``stream_id``: the id another replica chose for it (a forwarded POST)."""
        for rid in request_ids:
            if rid in self._by_request:
                raise HttpError(
                    400,
                    INVALID_REQUEST,
                    f"Invalid request: id {rid!r} is already in use",
                    request_id=rid,
                )
        stream = self._new_stream(json=json, initialize=initialize, stream_id=stream_id)
        stream.waiting.update(request_ids)
        for rid in request_ids:
            self._by_request[rid] = stream
        return stream

    async def deliver(self, frame: bytes, message: JSONRPCMessage | None = None) -> None:
        """Hand a message from a POST to the handler: to the attached engine in this
        task, else (or while earlier ones wait) through the inbox, waiting while it
        is full. ``message`` is what ``frame`` decoded to, when known."""
        inbound = self._inbound
        if inbound is not None and message is not None and not self._queued and not self.closed:
            try:
                await inbound.deliver(message)
            except TransportClosed:
                raise _gone() from None
            return
        queued = (frame, message)
        self._queued += 1
        try:
            try:  # no scheduling round while there is room
                self._inbox.send_nowait(queued)
            except trio.WouldBlock:
                await self._inbox.send(queued)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._queued -= 1
            raise _gone() from None
        except BaseException:
            self._queued -= 1
            raise

    async def _store(self, stream_id: str, message: bytes) -> str | None:
        store = self.event_store
        if store is None:
            return None
        try:
            return await store.append(stream_id, message)
        except Exception:
            logger.exception("the event store failed; the event is delivered live only")
            return None

    async def _finish(self, stream: _Stream) -> None:
        """Every request of ``stream`` is answered: end it; keep it resumable a while."""
        if stream.forwarded and stream.json:  # the replica holding the POST reads them
            for index, response in enumerate(stream.responses, 1):
                stream.logged_end = index == len(stream.responses)
                end = END_OF_STREAM if stream.logged_end else b""
                await self._store(stream.stream_id, end + response)
        if self.shared and not stream.standalone and not stream.logged_end:
            # followers elsewhere stop here; stored before the client learns the
            # stream ended, so that no acknowledged stream lacks its end
            stream.logged_end = True
            await self._store(stream.stream_id, END_OF_STREAM)
        if stream.connection is not None:
            stream.connection.end()
        stream.done.set()
        if self._streams.pop(stream.stream_id, None) is None:
            return
        self._finished[stream.stream_id] = None
        excess = len(self._finished) - self.finished_limit
        if excess > 0 and (excess >= FORGET_BATCH or not self.shared):
            # a shared store forgets the oldest streams in batches: one round trip
            oldest = [self._finished.popitem(last=False)[0] for _ in range(excess)]
            await self._forget_streams(oldest)

    async def carry(self, stream: _Stream, connection: SSEConnection) -> None:
        """Carry ``stream`` on a new response (priming it when the version says so)."""
        await _acquire(stream.lock)
        try:
            if self.priming:
                if self.shared and not stream.standalone:
                    # a new stream: "before its first event" needs no write
                    event_id: str | None = f"{stream.stream_id}.0"
                else:
                    event_id = await self._store(stream.stream_id, b"")
                if event_id is not None:
                    connection.push_nowait(priming_event(event_id, connection.retry_ms))
            while stream.pending:
                connection.push_nowait(stream.pending.popleft())
            self._replace_connection(stream, connection)
        finally:
            stream.lock.release()

    async def resume(self, last_event_id: str, connection: SSEConnection) -> _Stream | None:
        """Replay the stream of ``last_event_id`` after it, then carry the rest of it.

        Returns the stream, or ``None`` when it had ended (the replay is all there
        is; the response ends after it). Raises ``HttpError(400)`` when the id is
        unknown, expired, or of another session's stream.
        """
        replay = await self._replay(last_event_id)
        live = self._streams.get(replay.stream_id)
        if live is None:
            _push_replay(connection, replay)
            connection.end()
            return None
        async with live.lock:
            # again under the stream's lock: nothing is written between replay and attach
            _push_replay(connection, await self._replay(last_event_id))
            live.pending.clear()  # what waited for a GET is in the replay
            self._replace_connection(live, connection)
        return live

    async def _replay(self, last_event_id: str) -> Replay:
        replay: Replay | None = None
        if self.event_store is not None:
            try:
                replay = await self.event_store.replay(last_event_id)
            except Exception:
                logger.exception("the event store failed to replay %r", last_event_id)
        if replay is None or (
            (stream_session(replay.stream_id) != self.session_id if self.shared else True)
            and replay.stream_id not in self._streams
            and replay.stream_id not in self._finished
        ):
            raise HttpError(
                400,
                INVALID_REQUEST,
                f"Bad Request: Last-Event-ID {last_event_id!r} is unknown or expired",
            )
        return replay

    @staticmethod
    def _replace_connection(stream: _Stream, connection: SSEConnection) -> None:
        old = stream.connection
        if old is not None:
            # the client reconnected, so the old response is stale: drop what it still
            # had queued (the replay covered it) and release writers waiting on it
            old.client_gone()
        if stream.done.is_set():
            connection.end()
        else:
            stream.connection = connection

    def detach(self, stream: _Stream | None, connection: SSEConnection) -> None:
        if stream is not None and stream.connection is connection:
            stream.connection = None

    def busy(self) -> _Busy:
        """``with session.busy():`` marks an HTTP request of this session in
        progress (it is not idle)."""
        return _Busy(self)

    def learn_version(self, response: bytes) -> bool:
        """Read the negotiated version from the ``initialize`` response.

        Returns ``False`` when it is an error (the session is then useless).
        """
        try:
            result = _initialize_response.decode(response).result
        except (msgspec.DecodeError, UnicodeDecodeError):
            return False
        if result is None:
            return False
        self.protocol_version = result.protocol_version
        return True

    def _stop_input(self) -> None:
        """No more frames (the handler drains what is in flight); end the GET stream."""
        self._inbox.close()
        connection = self._standalone.connection
        if connection is not None:
            connection.close_early()

    def _close(self, reason: str, *, answer_pending: bool = True) -> None:
        """Refuse further frames and writes; end every response of the session.

        With ``answer_pending``, requests still waiting for their response get an
        internal error naming ``reason`` on their stream (when it is connected or
        JSON), so that their clients do not wait forever.
        """
        if self._closed is not None:
            return
        self._closed = reason
        self._inbox.close()
        if answer_pending:
            for rid, stream in self._by_request.items():
                answer = error_body(INTERNAL_ERROR, f"Internal error: {reason}", rid)
                if stream.forwarded:
                    self._orphans.setdefault(stream.stream_id, []).append(rid)
                elif stream.json:
                    stream.responses.append(answer)
                elif stream.connection is not None:
                    stream.connection.push_nowait(encode_event(answer, event="message"))
        for stream in (*self._streams.values(),):
            if stream.connection is not None:
                stream.connection.end()
            stream.done.set()
        self._by_request.clear()

    async def _answer_orphans(self) -> None:
        """Answer (in their logs) the forwarded requests the session's end left
        unanswered, and end their streams: their replicas stop following."""
        reason = self._closed or "the session ended"
        for stream_id, ids in self._orphans.items():
            for rid in ids:
                await self._store(
                    stream_id, error_body(INTERNAL_ERROR, f"Internal error: {reason}", rid)
                )
            await self._store(stream_id, END_OF_STREAM)
        self._orphans.clear()

    async def _forget_events(self) -> None:
        if self.handover:
            return
        await self._forget_streams([*self._streams, *self._finished])

    async def _forget_streams(self, stream_ids: Sequence[str]) -> None:
        """Drop the events of these streams (best effort: a failure is logged; the
        store's own bounds forget them in the end)."""
        store = self.event_store
        if store is None or not stream_ids:
            return
        if isinstance(store, StoreEventStore):
            for start in range(0, len(stream_ids), FORGET_BATCH):
                batch = stream_ids[start : start + FORGET_BATCH]
                try:
                    await store.forget(*batch)
                except Exception:
                    logger.exception("the store failed to forget %d streams", len(batch))
            return
        for stream_id in stream_ids:
            try:
                await store.forget(stream_id)
            except Exception:
                logger.exception("the event store failed to forget stream %s", stream_id)


def _push_replay(connection: SSEConnection, replay: Replay) -> None:
    for event in replay.events:
        if event.message:  # priming events carry nothing to replay
            connection.push_nowait(encode_event(event.message, event="message", id=event.id))


def _gone() -> HttpError:
    return HttpError(404, INVALID_REQUEST, "Not Found: the session has ended")


def identity(principal: Any) -> Any:
    """Who a principal is: its ``id`` when it has one, else itself (``None``: none)."""
    return None if principal is None else getattr(principal, "id", principal)


def client_key(info: HttpConnectionInfo) -> Hashable:
    """Who opens a session, for the per-client bound: the authenticated principal's
    identity (its ``id``, else itself) when there is one, else the client's address
    (without its port: one host's many connections are one client)."""
    if info.principal is not None:
        return ("principal", identity(info.principal))
    if info.client is not None:
        return ("address", info.client[0])
    return ("unknown",)


def _idlest(sessions: Iterable[SessionTransport]) -> SessionTransport | None:
    """The session idle for longest (no request in progress, no GET stream open)."""
    idle = [session for session in sessions if not session._active]
    return min(idle, key=lambda session: session._last_seen, default=None)


@attrs.define(eq=False)
class SessionManager:
    """Creates, finds, runs and ends the legacy sessions of an app, and answers the
    HTTP requests that name one.

    Sessions are bounded per client (``max_sessions_per_client``, by ``client_key``)
    and in all (``max_sessions``). A client at its bound that opens another loses its
    own session idle for longest (429 when none of its sessions is idle); when the
    server is at its bound, the client holding the most sessions loses its session idle
    for longest (else the session idle for longest of all; 503 when none is idle). So
    one client opening sessions without end never locks the others out.
    """

    connect: ConnectionHandler
    event_store: EventStore | None
    idle_timeout: float | None
    max_sessions: int
    sse: SSEOptions
    watches: Watches = attrs.field(factory=Watches)
    """Where the helpers of lasting responses start (the app's)."""
    max_sessions_per_client: int = 100
    store: Store | None = attrs.field(default=None, kw_only=True)
    """A shared store: the sessions are served by every replica (see ``_shared``)."""
    _sessions: dict[str, SessionTransport] = attrs.field(init=False, factory=dict)
    _by_client: dict[Hashable, dict[str, SessionTransport]] = attrs.field(init=False, factory=dict)
    _nursery: trio.Nursery | None = attrs.field(init=False, default=None)
    _accepting: bool = attrs.field(init=False, default=True)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the sessions' tasks until cancelled. Cancelling ends every session
        at once (``shutdown`` first, for a graceful end)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._accepting = True
                if self.store is None:
                    task_status.started()
                    await trio.sleep_forever()
                send, receive = forward_channel()
                stop = self.store.bus.receive(FORWARD_TOPIC, send.send_nowait)
                try:
                    nursery.start_soon(self._take_forwards, receive)
                    task_status.started()
                    await trio.sleep_forever()
                finally:
                    stop()
        finally:
            self._nursery = None

    @property
    def running(self) -> bool:
        return self._nursery is not None

    def __len__(self) -> int:
        return len(self._sessions)

    def find(self, session_id: str) -> SessionTransport:
        """The live session with this id; ``HttpError(404)`` when there is none."""
        session = self._sessions.get(session_id)
        if session is None:
            raise HttpError(404, INVALID_REQUEST, "Not Found: unknown or expired session")
        return session

    def open(self, info: HttpConnectionInfo) -> SessionTransport:
        """A new session; its handler starts at once (``info.session_id`` is set here)."""
        nursery = self._nursery
        if nursery is None or not self._accepting:
            if nursery is None:
                logger.error(
                    "a legacy session was requested but the app is not running: serve it "
                    "with serve_http, a server that runs the ASGI lifespan, or inside "
                    "`async with app.running():`"
                )
            raise HttpError(503, INTERNAL_ERROR, "Service Unavailable: not accepting sessions")
        owner = client_key(info)
        mine = self._by_client.get(owner, {})
        if len(mine) >= self.max_sessions_per_client:
            victim = _idlest(mine.values())
            if victim is None:
                raise HttpError(
                    429, INTERNAL_ERROR, "Too Many Requests: this client's sessions are all busy"
                )
            _evicted.log("a client at its bound of sessions opened another: its idlest ended")
            self.end(victim, "the client opened too many sessions")
        if len(self._sessions) >= self.max_sessions:
            largest = max(self._by_client.values(), key=len)
            victim = _idlest(largest.values()) or _idlest(self._sessions.values())
            if victim is None:
                raise HttpError(503, INTERNAL_ERROR, "Service Unavailable: too many sessions")
            _evicted.log("the server is at its bound of sessions: the idlest of the most ended")
            self.end(victim, "the server has too many sessions")
        session_id = secrets.token_urlsafe(24)
        info = attrs.evolve(info, session_id=session_id)
        session = SessionTransport(
            session_id,
            self.event_store,
            info=info,
            owner=owner,
            shared=self.store is not None,
            replica=self.store.replica if self.store is not None else "",
        )
        self._sessions[session_id] = session
        self._by_client.setdefault(owner, {})[session_id] = session
        nursery.start_soon(self._serve, session, info)
        return session

    async def _serve(self, session: SessionTransport, info: HttpConnectionInfo) -> None:
        try:
            with session._scope:
                async with trio.open_nursery() as nursery:
                    if self.idle_timeout is not None:
                        nursery.start_soon(self._expire, session, self.idle_timeout)
                    try:
                        await self.connect(session, info)
                    except Exception:
                        logger.exception(
                            "the connection handler of session %s failed",
                            redacted(session.session_id),
                        )
                    nursery.cancel_scope.cancel()
        finally:
            self.end(session, "the session ended")
            session._ended.set()
            with trio.CancelScope(shield=True):
                await self._forget(session)

    async def _forget(self, session: SessionTransport) -> None:
        """What an ended session leaves: its events (and, shared, its record) go,
        unless it is handed over to another replica."""
        if self.store is not None:
            try:
                await session._answer_orphans()
                if not session.handover:
                    await self.store.records(SESSIONS).delete(session.session_id)
            except Exception:
                logger.exception("the store failed to forget session %s", session.session_id)
        await session._forget_events()

    async def _expire(self, session: SessionTransport, timeout: float) -> None:
        while True:
            if session._active:
                await session._idle.wait()
                continue
            deadline = session._last_seen + timeout
            if trio.current_time() >= deadline:
                break
            await trio.sleep_until(deadline)
        logger.info(
            "session %s expired after %g s without requests", redacted(session.session_id), timeout
        )
        self.end(session, "the session expired")

    def end(self, session: SessionTransport, reason: str, *, by_client: bool = False) -> None:
        """End a session now: its id is forgotten, its responses end (requests still
        unanswered get an error, unless the client itself ended the session), its
        handler is cancelled."""
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]
            mine = self._by_client.get(session.owner)
            if mine is not None:
                mine.pop(session.session_id, None)
                if not mine:
                    del self._by_client[session.owner]
        session._close(reason, answer_pending=not by_client)
        session._scope.cancel()

    def stop_accepting(self) -> None:
        """Open no more sessions; end the GET streams of the open ones (with a retry
        hint: the client may come back to another replica)."""
        self._accepting = False
        for session in self._sessions.values():
            connection = session.standalone.connection
            if connection is not None:
                connection.close_early()

    async def shutdown(self, grace: float) -> None:
        """Stop accepting sessions; end them, giving requests in flight ``grace``
        seconds to finish (their handlers see the input end, as on stdio)."""
        self.stop_accepting()
        sessions = list(self._sessions.values())
        for session in sessions:
            session.handover = self.store is not None  # another replica adopts it
            session._stop_input()
        with trio.move_on_after(grace):
            for session in sessions:
                await session._ended.wait()
        for session in sessions:
            self.end(session, "the server is shutting down")

    # -- the HTTP requests that name a session ---------------------------------------

    async def post(
        self,
        session: SessionTransport,
        frames: Sequence[bytes],
        messages: Sequence[JSONRPCMessage],
        request_ids: Sequence[RequestId],
        *,
        json: bool,
        initialize: bool,
        responder: Responder,
        receive: Receive,
    ) -> None:
        """Feed a POST's messages (``frames``, decoded as ``messages``) to the session
        and answer it.

        Notifications and responses only: 202 once the handler has them. Requests:
        their messages on an SSE response (``json=False``) or their responses as one
        JSON body. The client disconnecting does not cancel anything (2025-11-25:
        a client cancels with ``notifications/cancelled``); what the stream writes
        meanwhile waits in the event store for a GET with ``Last-Event-ID``.
        """
        try:
            if initialize and self.store is not None:
                await self._record(session, frames[0], request_ids[0])
            with session.busy():
                await self._post(
                    session, frames, messages, request_ids, json, initialize, responder, receive
                )
            if initialize and self.store is not None and session.protocol_version is not None:
                await self._record(session, frames[0], request_ids[0])
        except HttpError as error:
            if not initialize or error.status != 404:
                raise
            # the session died before answering its own initialize: a 404 would make
            # the client open another session, and again
            raise HttpError(
                500, INTERNAL_ERROR, "Internal error", request_id=request_ids[0]
            ) from None

    async def _post(
        self,
        session: SessionTransport,
        frames: Sequence[bytes],
        messages: Sequence[JSONRPCMessage],
        request_ids: Sequence[RequestId],
        json: bool,
        initialize: bool,
        responder: Responder,
        receive: Receive,
    ) -> None:
        if not request_ids:
            for frame, message in zip(frames, messages, strict=True):
                await session.deliver(frame, message)
            await responder.respond(202)
            return
        stream = session.open_stream(request_ids, json=json, initialize=initialize)
        headers = [(b"mcp-session-id", session.session_id.encode())] if initialize else []
        # A request whose stream cannot outlive this POST (a JSON answer; an SSE one
        # neither resumable nor polled) is served in this task: no task, no hop.
        inline: JSONRPCRequest | None = None
        carried = json or (not session.resumable and self.sse.poll_after is None)
        if carried and len(messages) == 1 and session.serves_inline:
            first = messages[0]
            inline = first if isinstance(first, JSONRPCRequest) else None
        if json:
            if inline is None:
                for frame, message in zip(frames, messages, strict=True):
                    await session.deliver(frame, message)
            await self._answer_json(session, stream, inline, responder, receive, headers)
        else:
            connection = self.sse.connection(responder, inline=inline is not None)
            await responder.start(200, (*SSE_HEADERS, *headers) if headers else SSE_HEADERS)
            await session.carry(stream, connection)
            watch = partial(watch_disconnect, receive, connection.client_gone)
            try:
                if inline is not None:
                    work = partial(session.serve, inline)
                    await connection.run_inline(work, watch, self.watches)
                else:
                    for frame, message in zip(frames, messages, strict=True):
                        await session.deliver(frame, message)
                    await connection.pump(watch, self.watches)
            finally:
                session.detach(stream, connection)
        if session.initialize_failed:
            self.end(session, "initialize failed")

    async def _answer_json(
        self,
        session: SessionTransport,
        stream: _Stream,
        inline: JSONRPCRequest | None,
        responder: Responder,
        receive: Receive,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        def gone() -> None:
            responder.gone = True
            stream.done.set()

        work = stream.done.wait if inline is None else partial(session.serve, inline)
        await self.watches.during(partial(watch_disconnect, receive, gone), work)
        if responder.gone:
            return  # the client left; the answer is dropped when it comes
        if not stream.responses:
            if session.closed:
                raise _gone()
            await responder.respond(204, headers=headers)  # every request was cancelled
            return
        if session.initialize_failed:
            self.end(session, "initialize failed")  # before the client can use the id
        if session.closed:
            headers = []  # no session to name
        responses = stream.responses
        body = responses[0] if len(responses) == 1 else b"[" + b",".join(responses) + b"]"
        await responder.json(200, body, headers)

    async def _pump(
        self,
        session: SessionTransport,
        stream: _Stream | None,
        connection: SSEConnection,
        receive: Receive,
    ) -> None:
        try:
            watch = partial(watch_disconnect, receive, connection.client_gone)
            await connection.pump(watch, self.watches)
        finally:
            session.detach(stream, connection)

    async def stream(
        self,
        session: SessionTransport,
        last_event_id: str | None,
        responder: Responder,
        receive: Receive,
    ) -> None:
        """Open the standalone stream, or resume a stream after ``last_event_id``.

        A second standalone stream while one is open gets 409 (a message goes on one
        stream only). Resuming a stream whose response is still open replaces that
        response (the client evidently lost it).
        """
        with session.busy():
            connection = self.sse.connection(responder)
            stream: _Stream | None
            if last_event_id is None:
                stream = session.standalone
                if stream.connection is not None and stream.connection.open:
                    raise HttpError(
                        409, INVALID_REQUEST, "Conflict: this session's GET stream is open"
                    )
                await responder.start(200, SSE_HEADERS)
                await session.carry(stream, connection)
            else:
                stream = await session.resume(last_event_id, connection)
                await responder.start(200, SSE_HEADERS)
            await self._pump(session, stream, connection, receive)

    def delete(self, session: SessionTransport) -> None:
        """The client ends the session: in-flight handlers are cancelled."""
        self.end(session, "the client ended the session", by_client=True)

    # -- sessions shared by replicas (see ``_shared``) --------------------------------

    async def _record(self, session: SessionTransport, frame: bytes, request_id: RequestId) -> None:
        """Create the session's record (before its ``initialize`` is delivered), or
        add the negotiated version to it (once answered)."""
        assert self.store is not None
        info = session.info
        data = record_encoder.encode(
            SessionRecord(
                initialize=frame,
                initialize_id=request_id,
                version=session.protocol_version,
                principal=principal_key(info.principal if info is not None else None),
            )
        )
        records = self.store.records(SESSIONS)
        try:
            if session.protocol_version is None:
                await records.create(session.session_id, data, ttl=RECORD_TTL)
                return
            current = await records.get(session.session_id)
            if current is not None:
                await records.swap(session.session_id, current.version, data)
        except StoreUnavailable as exc:
            if session.protocol_version is not None:
                logger.warning("session %s: its version was not recorded (%s)", session, exc)
                return
            self.end(session, "the store cannot be reached")
            raise _unavailable(exc) from None

    async def locate(
        self, session_id: str, describe: Callable[[], HttpConnectionInfo]
    ) -> SessionTransport | RemoteSession:
        """The session with this id: this replica's, another live replica's (its
        requests are forwarded there), or adopted here when its owner died.

        ``describe()``: the request as a connection (its principal, and what an
        adopted session is told); not called for a session of this replica.
        ``HttpError``: 404 when no replica knows it, 403 when that principal is not
        the session's, 503 when the store cannot be reached.
        """
        local = self._sessions.get(session_id)
        if local is not None:
            if not local._ready.is_set():  # no scheduling round for a ready session
                await local._ready.wait()
            return self.find(session_id)
        if self.store is None:
            return self.find(session_id)
        info = describe()
        records = self.store.records(SESSIONS)
        try:
            for _ in range(3):  # a lost claim: the winner is alive now, read again
                record = await records.get(session_id)
                if record is None or record.owner == self.store.replica:
                    break
                value = record_decoder.decode(record.value)
                if value.principal != principal_key(info.principal):
                    raise HttpError(
                        403, INVALID_REQUEST, "Forbidden: this session belongs to another principal"
                    )
                if await owner_alive(self.store, record.owner):
                    assert record.owner is not None
                    return RemoteSession(session_id, value, record.owner)
                claimed = await records.swap(session_id, record.version, record.value, claim=True)
                if claimed is not None:
                    return await self._adopt(session_id, value, info)
        except StoreUnavailable as exc:
            raise _unavailable(exc) from None
        return self.find(session_id)

    async def _adopt(
        self, session_id: str, record: SessionRecord, info: HttpConnectionInfo
    ) -> SessionTransport:
        """Serve here a session whose owner died: a new handler, its ``initialize``
        replayed (the answer dropped), then ``notifications/initialized``."""
        assert self.store is not None
        nursery = self._nursery
        if nursery is None or not self._accepting:
            raise HttpError(503, INTERNAL_ERROR, "Service Unavailable: not accepting sessions")
        info = attrs.evolve(info, session_id=session_id)
        owner = client_key(info)
        session = SessionTransport(
            session_id,
            self.event_store,
            info=info,
            shared=True,
            replica=self.store.replica,
            owner=owner,
        )
        session._ready = trio.Event()
        self._sessions[session_id] = session
        self._by_client.setdefault(owner, {})[session_id] = session  # counted as its own
        nursery.start_soon(self._serve, session, info)
        try:
            stream = session.open_stream([record.initialize_id], json=True, initialize=True)
            await session.deliver(record.initialize)
            await stream.done.wait()
            if session.initialize_failed or session.closed:
                self.end(session, "its initialize failed on adoption")
                raise _gone()
            await session.deliver(_INITIALIZED)
        finally:
            session._ready.set()
        logger.info("adopted session %s (its replica's lease ran out)", session_id)
        return session

    async def _send(self, owner: str, message: bytes) -> None:
        assert self.store is not None
        try:
            await self.store.bus.send(owner, FORWARD_TOPIC, message)
        except StoreUnavailable as exc:
            raise _unavailable(exc) from None

    async def forward_post(
        self,
        remote: RemoteSession,
        frames: Sequence[bytes],
        request_ids: Sequence[RequestId],
        *,
        json: bool,
        responder: Responder,
        receive: Receive,
        headers: Mapping[str, str] | None = None,
        client: tuple[str, int] | None = None,
    ) -> None:
        """``post`` for a session of another replica: its frames go to the owner's
        inbox (with the POST's ``headers`` and ``client``, for ``ctx.http`` there), the
        answer is the log of a stream opened there for them."""
        assert self.store is not None
        session_id = remote.session_id
        if not request_ids:
            forward = encode_forward(session_id, frames, [], None, headers=headers, client=client)
            await self._send(remote.owner, forward)
            await responder.respond(202)
            return
        stream_id = new_stream_id(session_id, remote.owner)
        priming = not json and (remote.record.version or "") >= PRIMING_SINCE
        after = 0  # a new stream: its priming event (id 0) is "before the first"
        message = encode_forward(
            session_id, frames, request_ids, stream_id, json=json, headers=headers, client=client
        )
        await self._send(remote.owner, message)
        if json:
            responses: list[bytes] = []

            async def collect(event: LogEvent) -> bool:
                responses.append(event.data)
                return True

            ended = await self._relay(stream_id, after, remote.owner, receive, collect)
            if not ended:
                raise HttpError(
                    503, INTERNAL_ERROR, "Service Unavailable: the session's replica died"
                )
            if not responses:
                await responder.respond(204)
                return
            body = responses[0] if len(responses) == 1 else b"[" + b",".join(responses) + b"]"
            await responder.json(200, body, [])
            return
        connection = self.sse.connection(responder)
        await responder.start(200, SSE_HEADERS)
        if priming:
            connection.push_nowait(priming_event(f"{stream_id}.{after}", connection.retry_ms))
        await self._relay_sse(stream_id, after, remote.owner, connection, receive)

    async def forward_stream(
        self,
        remote: RemoteSession,
        last_event_id: str | None,
        responder: Responder,
        receive: Receive,
    ) -> None:
        """``stream`` for a session of another replica: the stream's log, replayed
        after ``last_event_id`` (or from now on, for a new GET) and followed live."""
        assert self.store is not None
        priming = (remote.record.version or "") >= PRIMING_SINCE
        writer = remote.owner
        if last_event_id is None:
            stream_id = standalone_stream_id(remote.session_id)
            after = await self._storing(self.store.logs.append(log_name(stream_id), b""))
        else:
            parsed = parse_event_id(last_event_id)
            if parsed is None or stream_session(parsed[0]) != remote.session_id:
                raise _unknown_event(last_event_id)
            stream_id, after = parsed
            writer = stream_writer(stream_id) or writer
            priming = False
            try:
                await self.store.logs.read(log_name(stream_id), after, limit=1)
            except LogGap:
                raise _unknown_event(last_event_id) from None
            except StoreUnavailable as exc:
                raise _unavailable(exc) from None
        connection = self.sse.connection(responder)
        await responder.start(200, SSE_HEADERS)
        if priming:
            connection.push_nowait(priming_event(f"{stream_id}.{after}", connection.retry_ms))
        await self._relay_sse(stream_id, after, writer, connection, receive)

    async def forward_delete(self, remote: RemoteSession) -> None:
        """``delete`` for a session of another replica."""
        await self._send(remote.owner, encode_forward(remote.session_id, [], [], None, delete=True))

    async def _storing(self, operation: Awaitable[int]) -> int:
        try:
            return await operation
        except StoreUnavailable as exc:
            raise _unavailable(exc) from None

    async def _relay(
        self,
        stream_id: str,
        after: int,
        owner: str,
        receive: Receive,
        deliver: Callable[[LogEvent], Awaitable[bool]],
    ) -> bool:
        """Hand each message of the stream's log after ``after`` to ``deliver`` until
        its end (``True``), the client leaves or the owner dies (``False``)."""
        assert self.store is not None
        ended = False
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_disconnect, receive, nursery.cancel_scope.cancel)
            nursery.start_soon(watch_owner, self.store, owner, nursery.cancel_scope)
            ended = await self._follow(stream_id, after, deliver)
            nursery.cancel_scope.cancel()
        return ended

    async def _follow(
        self, stream_id: str, after: int, deliver: Callable[[LogEvent], Awaitable[bool]]
    ) -> bool:
        """Hand each message of the stream's log after ``after`` to ``deliver``
        (priming events skipped) until the log's end marker (``True``), ``deliver``
        returns ``False``, or the log cannot be followed (``False``)."""
        assert self.store is not None
        try:
            async with self.store.logs.follow(log_name(stream_id), after) as events:
                async for event in events:
                    data = event.data
                    last = data.startswith(END_OF_STREAM)
                    if last:
                        event = LogEvent(event.id, data[len(END_OF_STREAM) :])
                    if event.data and not await deliver(event):
                        return False
                    if last:
                        return True
        except (LogGap, StoreUnavailable) as exc:
            logger.warning("stream %s could not be followed (%s)", stream_id, exc)
        return False

    async def _relay_sse(
        self,
        stream_id: str,
        after: int,
        owner: str,
        connection: SSEConnection,
        receive: Receive,
    ) -> None:
        assert self.store is not None
        store = self.store

        async def push(event: LogEvent) -> bool:
            event_id = f"{stream_id}.{event.id}"
            return await connection.push(encode_event(event.data, event="message", id=event_id))

        async def relay() -> None:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_owner, store, owner, nursery.cancel_scope)
                await self._follow(stream_id, after, push)
                nursery.cancel_scope.cancel()
            connection.end()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(relay)
            await connection.pump(partial(watch_disconnect, receive, connection.client_gone))
            nursery.cancel_scope.cancel()

    async def _take_forwards(self, receive: trio.MemoryReceiveChannel[bytes]) -> None:
        """Serve what other replicas forward to this one's sessions, in order."""
        async for data in receive:
            try:
                message = forward_decoder.decode(data)
            except msgspec.DecodeError:
                logger.exception("an unreadable message was forwarded to this replica; dropped")
                continue
            await self._forwarded(message)

    async def _forwarded(self, message: Forward) -> None:
        session = self._sessions.get(message.session)
        if session is None or session.closed:
            if message.stream is not None:
                await self._answer_lost(message, "Not Found: the session has ended")
            return
        if message.delete:
            self.delete(session)
            return
        if message.ids and session.info is not None:  # ctx.http: the POST's own
            session.info.note_requests(message.ids, message.headers, message.client)
        stream: _Stream | None = None
        if message.stream is not None:
            try:
                stream = session.open_stream(
                    message.ids, json=message.json, stream_id=message.stream
                )
            except HttpError as error:
                await self._answer_lost(message, error.message)
                return
        with session.busy():
            for frame in message.frames:
                try:
                    await session.deliver(frame)
                except HttpError:
                    return  # the session ended: its end answers the stream
        if stream is not None and self._nursery is not None:
            self._nursery.start_soon(self._busy_until, session, stream)

    @staticmethod
    async def _busy_until(session: SessionTransport, stream: _Stream) -> None:
        with session.busy():  # a forwarded request in flight keeps its session alive
            await stream.done.wait()

    async def _answer_lost(self, message: Forward, reason: str) -> None:
        assert self.store is not None
        assert message.stream is not None
        log = log_name(message.stream)
        try:
            for rid in message.ids:
                await self.store.logs.append(log, error_body(INVALID_REQUEST, reason, rid))
            await self.store.logs.append(log, END_OF_STREAM)
        except StoreUnavailable:
            logger.warning("a forwarded request of session %s was not answered", message.session)


@attrs.frozen
class RemoteSession:
    """A session that another replica (``owner``) runs."""

    session_id: str
    record: SessionRecord
    owner: str


_INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'


def _unavailable(exc: Exception) -> HttpError:
    return HttpError(503, INTERNAL_ERROR, f"Service Unavailable: {exc}")


def _unknown_event(last_event_id: str) -> HttpError:
    return HttpError(
        400, INVALID_REQUEST, f"Bad Request: Last-Event-ID {last_event_id!r} is unknown or expired"
    )
