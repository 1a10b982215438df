"""The JSON-RPC session engine: one, shared by servers and clients.

Theory of operation. ``Session.run`` reads frames from a transport until it closes.
Each frame is decoded once (envelope only) and handled by kind:

* a request gets a ``McpContext`` whose cancel scope is registered under the request
  id *before* it starts, so a ``notifications/cancelled`` read in the same
  chunk still finds it; it waits for a place among the running handlers (bounded
  concurrency), asks the dispatcher to route the request, runs the handler (its
  children end with it), and answers through the Outcome table (``response_for``).
  Routing errors (unknown method or tool, bad params of the request itself) are
  JSON-RPC errors; handler outcomes follow the table.
* the reader serves a request in its own task, as far as the request goes without
  waiting: most never wait, and a task per request would cost more than the rest of
  them (``_accept_now``). One that waits keeps the reader's task, and a new task
  reads on (``_Handoff``; from a mere schedule point the request goes on only once
  the new reader has taken what was read with it, a cancel of it say). Each request
  has its own copy of the context, as a task would. Requests read while handlers keep
  waiting (``_HANDOFFS`` in a row) get tasks of their own for a while; so do batch
  members and requests delivered by a ``DirectTransport``.
* ``notifications/cancelled`` cancels the named in-flight request (one that names
  no inbound request goes to the dispatcher: a server ends a client's
  ``subscriptions/listen`` that way); ``notifications/progress`` goes to the caller waiting on that token; other
  notifications go to the dispatcher, in order, in the reading task.
* a response completes the outgoing request with its id.
* a batch is answered as one array once each of its requests is answered (a drain
  that cuts it answers the members it did not start with the shutdown error).
* a malformed frame is answered with -32700/-32600 (id ``null`` when unreadable),
  and reading goes on.

A ``DirectTransport`` (see ``_transport``) gets the session attached to it when
``run`` starts: it may then push the messages it decoded itself (``deliver``, in the
task that received them: a request is accepted there, without a hop through the
reading task and without a second decode), and tell that nothing about one inbound
request can reach the peer any more (``peer_gone``: the handler is cancelled as by
the peer's ``notifications/cancelled``). It may even have a request served in its own
task (``serve``: no task is spawned; the request is in flight as any other, drained,
cancelled and answered by the same rules, and ``run`` does not return before it has
ended). Each frame the session sends it is described (``Outgoing``: kind, related
request, final, error), so that it never reads one back.

``Exchanges`` serves requests that come without a session around them (one
stateless HTTP POST each): in the caller's task, by the same rules (budget, children,
the Outcome table), answered through a ``Reply``; see its docstring.

Shared reading: on a ``SharedReadTransport`` (stdio's client side) a caller of
``request`` that finds nobody reading reads its own response (``_lead``) instead of
waiting for the reader task to read it and wake it: a sequential call wakes one task,
not two. One task reads at a time (``_turn``). The caller takes responses only (its
own and others'); any other frame, the end of input, a failure, its cancellation or
other callers still waiting give the turn back to the reader, which handles what is
left in order. The reader stands by while callers read, and reads again at most
``_STANDBY`` seconds after the last call (see ``_stand_by``). A caller reading is
woken when its request times out or reading stops.

Backpressure: at most ``max_concurrency`` handlers run at once; further requests
wait for a slot (still cancellable). Once ``max_pending`` requests are outstanding the
reader stops reading until one finishes, which pushes back on the peer. While it
waits, it reads ahead (``_Peek``): a cancel of a request in flight and a response
to an outgoing request are handled at once (each may free a place), the first other
frame is held (at most one); an end of input that comes next is seen even when every
place is taken by handlers that never end (the grace begins, the waiting request is
refused). An end behind more
frames than that is seen once places free up (a budget, ``request_timeout``, ends
handlers that would never end). With a ``DirectTransport`` the read-ahead reads what
the reader would (``receive_message``); a request a transport delivers in its own
task waits for a place there (nothing is read ahead for it: the reader reads on and
sees the end of input itself). When reading stops (a drain, the end of input), every
request waiting for a place, and any request delivered later, is refused with the
shutdown error; so is one waiting when the session ends.

Closing: reading ends when the transport can give no more frames, or when the owner
calls ``drain(grace)`` (a server shutting down: reading stops at once). Then every
outgoing request still waiting fails at once with ``ConnectionClosed`` (naming why),
and the in-flight handlers get the grace (``drain_on_eof`` seconds after the end of
input; ``grace`` after ``drain``; the earlier deadline wins) to finish and answer; they
may still notify (progress, logs) meanwhile: the output works until the session stops.
The handlers still running then are cancelled with ``CancelReason.SHUTDOWN`` and
answered by the Outcome table ("Server is shutting down"); they get ``farewell``
seconds to write those answers (a masked section runs to its end first) before the
session's tasks are cancelled. When writing fails, or on ``aclose``, everything is
cancelled at once. When ``run`` returns, no task of the session is left.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import logging
import math
import types
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from typing import Any, Protocol, TypeVar, overload

import attrs
import msgspec
import trio

from fastmcp_core._budget import Budget
from fastmcp_core._callbacks import call_callback
from fastmcp_core._context import McpContext
from fastmcp_core._errors import ConnectionClosed, RequestTimeout, TransportClosed, TransportError
from fastmcp_core._outcome import (
    SHUTTING_DOWN,
    Cancelled,
    CancelReason,
    Err,
    Ok,
    Outcome,
    Panicked,
    answer_for,
    error_answer,
    failure_outcome,
    outcome_of,
)
from fastmcp_core._transport import (
    DirectTransport,
    IncomingMessage,
    LocalErrorFrame,
    MessageKind,
    Outgoing,
    Reply,
    SharedReadTransport,
    Transport,
)
from fastmcp_protocol import (
    INVALID_REQUEST,
    LATEST_PROTOCOL_VERSION,
    RESULT_COMPLETE,
    UNSET,
    CancelledNotificationParams,
    Error,
    Implementation,
    JSONRPCErrorResponse,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResultResponse,
    MalformedMessage,
    McpError,
    PeerError,
    ProgressNotificationParams,
    RequestId,
    UnexpectedResult,
    decode_answer,
    decode_message,
    decode_params,
    decode_result,
    encode_error,
    encode_notification,
    encode_request,
)

__all__ = ["Dispatcher", "Exchange", "Exchanges", "ProgressCallback", "Session"]

T = TypeVar("T")
logger = logging.getLogger("fastmcp")

_BURST = 64
"""Frames read in a row (when the transport has them buffered) before the reader yields."""

_STANDBY = 0.01
"""Seconds after the last request sent or answered during which the reader of a
``SharedReadTransport`` leaves reading to the callers (see ``_stand_by``)."""

_SERVE = "fastmcp_core.Session._serve"
"""The name of every request's task (trio would format it anew for each)."""

_READ = "fastmcp_core.Session._read"
"""The name of the reading task."""

_HANDOFFS = 4
"""Requests served in the reader that had to wait, in a row, after which the reader
spawns a task for each (``_SPAWN_SPELL`` of them) before it tries again."""
_SPAWN_SPELL = 256


def _schedule_point() -> Any:
    """What ``trio.lowlevel.cancel_shielded_checkpoint`` yields to trio (a schedule
    point that delivers no cancellation), taken from the function itself."""
    probe = trio.lowlevel.cancel_shielded_checkpoint()  # noqa: ASYNC105 - never run
    try:
        return probe.send(None)
    finally:
        probe.close()


_SCHEDULE_POINT = _schedule_point()

ProgressCallback = Callable[[ProgressNotificationParams], Awaitable[None] | None]
"""Called with each progress notification of an outgoing request, in the reading task
and in order: an ``async def`` is awaited, a plain function is called inline (keep it
quick)."""

Handler = Callable[[], Awaitable[Any]]


class Dispatcher(Protocol):
    """What a session needs from its owner (a server or a client).

    ``route`` looks a request up and returns the handler that answers it (called with
    no arguments; it returns a result struct). It may fill in the context (protocol
    version, capabilities, budget, lifespan). Raising ``McpError`` from ``route``
    answers with that JSON-RPC error. ``notification`` handles every notification the
    session does not handle itself; it runs in the reading task, so it must be quick.

    Requests are routed concurrently, in no particular order. A dispatcher that
    needs to see them in the order they arrived may define ``accepted(request)``:
    it is called synchronously, in the reading task, for every request as it is read.
    """

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Handler: ...

    async def notification(self, note: JSONRPCNotification) -> None: ...


@attrs.define(eq=False, slots=True, repr=False)
class _Pending:
    """An outgoing request waiting for its response."""

    done: bool = False
    """Settled: answered, timed out, or the connection closed (``settle``)."""
    _event: trio.Event | None = None
    """Made only for a caller that waits (``wait``): one reading its own response
    (``Session._lead``) never needs it."""
    response: JSONRPCResultResponse | JSONRPCErrorResponse | None = None
    value: Any = UNSET
    """The result, already decoded, when it came straight in the expected type
    (``Session._lead``, ``decode_answer``); ``response`` is ``None`` then. ``UNSET``
    otherwise (a result may decode to ``None``)."""
    closed: str | None = None
    on_progress: ProgressCallback | None = None
    deadline: float = math.inf
    reset_on_progress: float | None = None
    timed_out: bool = False
    local: bool = False  # the response is the transport's LocalErrorFrame
    following: bool = False
    """Its caller waits for the reader to read its response (counted in ``_followers``)."""

    def settle(self) -> None:
        self.done = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        """Until it is settled (at once when it is)."""
        if not self.done:
            if self._event is None:
                self._event = trio.Event()
            await self._event.wait()


@attrs.define(eq=False, slots=True, repr=False)
class _Batch:
    """Collects the answers of one batch and sends them as one array."""

    waiting: int
    frames: list[bytes] = attrs.field(factory=list)


@attrs.define(eq=False, slots=True, repr=False)
class _Peek:
    """The one frame read ahead while the reader waits for a place."""

    done: trio.Event = attrs.field(factory=trio.Event)
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    """Around the read-ahead: cancelled when reading stops."""
    frame: bytes | IncomingMessage | None = None
    ended: str | None = None  # the end of input, seen ahead


@attrs.define(eq=False, slots=True, repr=False)
class _Handoff:
    """A request the reader began to serve in its own task that had to wait: the
    reader's task goes on serving it (its waits are bound to that task), a new task
    reads on (see ``Session._read_loop``)."""

    request: JSONRPCRequest
    ctx: McpContext
    coro: Any
    """``Session._serve_inline`` of the request, suspended at ``trap``."""
    trap: Any
    """What it yielded to trio: passed on as is."""
    context: contextvars.Context
    """The request's own copy of the reader's context (as a task of its own has)."""
    deferred: bool
    """Served without a scope of its own (``Session._serve_inline``): the reader's
    scope becomes its scope."""

    @types.coroutine
    def resume(self, session: Session) -> Generator[Any, Any, None]:
        """Drive the request to its end in this task: each trap goes to trio, each
        answer (or exception, a cancellation included) back into the request."""
        coro, trap, run = self.coro, self.trap, self.context.run
        self.coro = self.trap = None
        if trap is _SCHEDULE_POINT:
            # the request would go on in the next round, with the new reader: rounds
            # more, until a reader has started and not handed off in turn, so that
            # the readers first take what came with the request (its cancel, say),
            # as they would before a task of the request's own ran
            yield trap
            while session._reader is None:
                yield trap
        while True:
            try:
                sent = yield trap
            except BaseException as exc:  # handed to the request
                try:
                    trap = run(coro.throw, exc)
                except StopIteration:
                    return
            else:
                try:
                    trap = run(coro.send, sent)
                except StopIteration:
                    return


@attrs.define(eq=False, repr=False)
class Session:
    """A JSON-RPC session over one transport. Run it with ``await session.run()``
    (or ``nursery.start``), send with ``request``/``notify``; ``aclose`` ends it.

    ``request_timeout`` (seconds) becomes each inbound request's budget; the
    dispatcher may tighten it per handler. ``server_info`` is written into modern
    results' ``_meta``. ``protocol_version`` is the version inbound requests are
    answered under until the dispatcher says otherwise for a request.
    """

    transport: Transport
    dispatcher: Dispatcher
    request_timeout: float | None = None
    default_timeout: float = 60.0
    """Timeout of outgoing requests that are given none."""
    max_concurrency: int = 128
    max_pending: int = 4096
    drain_on_eof: float | None = math.inf
    """Seconds in-flight handlers get to finish after the input ends (None: they are
    cancelled at once, unanswered)."""
    farewell: float = 2.0
    """Seconds the handlers cancelled at the end of a drain get to write their answers
    before the session's tasks are cancelled."""
    mask_error_details: bool = True
    server_info: Implementation | None = None
    protocol_version: str = LATEST_PROTOCOL_VERSION
    _running: trio.Semaphore = attrs.field(init=False)
    """Handlers running (``max_concurrency``)."""
    _outstanding: trio.Semaphore = attrs.field(init=False)
    """Requests read and not yet answered (``max_pending``)."""
    _inflight: dict[RequestId, McpContext] = attrs.field(init=False, factory=dict)
    _pending: dict[RequestId, _Pending] = attrs.field(init=False, factory=dict)
    _next_id: int = attrs.field(init=False, default=1)
    _nursery: trio.Nursery | None = attrs.field(init=False, default=None)
    _idle: trio.Event | None = attrs.field(init=False, default=None)
    """Set when no request is in flight; made by the first that waits (``_until_idle``)."""
    _closed: str | None = attrs.field(init=False, default=None)
    _stopped: trio.Event = attrs.field(init=False, factory=trio.Event)
    _deadlines: list[tuple[float, int, _Pending]] | None = attrs.field(init=False, default=None)
    """Outgoing requests by deadline (a heap), for ``_watch_deadlines``."""
    _order: Iterator[int] = attrs.field(init=False, factory=itertools.count)
    _earliest: float = attrs.field(init=False, default=math.inf)
    _rearm: trio.Event = attrs.field(init=False, factory=trio.Event)

    _reading: trio.CancelScope = attrs.field(init=False, factory=trio.CancelScope)
    """Around the reader: ``drain`` cancels it."""
    _grace: trio.CancelScope = attrs.field(init=False, factory=trio.CancelScope)
    """Around the wait for the in-flight handlers; its deadline ends the grace."""
    _drain_reason: str | None = attrs.field(init=False, default=None)
    _waiting: set[trio.CancelScope] = attrs.field(init=False, factory=set)
    """Accepts waiting for a place (``max_pending``): when reading stops, they are
    refused."""
    _reader: trio.lowlevel.Task | None = attrs.field(init=False, default=None)
    """The task of ``_read_loop``: only its waits read ahead (``_Peek``)."""
    _read_over: trio.Event = attrs.field(init=False, factory=trio.Event)
    """Set when reading has ended (``_read_ending`` says why)."""
    _read_ending: str | None = attrs.field(init=False, default=None)
    _adopted: dict[McpContext, trio.CancelScope] = attrs.field(init=False, factory=dict)
    """Requests served without a scope of their own that waited: the reader's scope
    that became theirs (``_hand_off``), until they end."""
    _handoffs: int = attrs.field(init=False, default=0)
    """Requests served in the reader that had to wait, in a row."""
    _spawn_next: int = attrs.field(init=False, default=0)
    """Requests the reader starts in tasks of their own before it serves one itself."""
    _reader_stops: bool = attrs.field(init=False, default=False)
    """Reading was stopped in the reader's own task: it stops before the next frame."""
    _answering: McpContext | None = attrs.field(init=False, default=None)
    """The request served in the reader whose handler has ended and whose answer is
    being written (``_serve_inline``): if it waits now, it is handed off without
    taking the reader's scope."""
    _peek: _Peek | None = attrs.field(init=False, default=None)
    _input_ended: str | None = attrs.field(init=False, default=None)
    """The end of input, once seen (by the reader, or ahead of it: ``_Peek``)."""
    _mute: str | None = attrs.field(init=False, default=None)
    """Why nothing can be written any more (the output broke, the session closed or
    stopped); ``notify`` raises then, and only then."""
    _on_accept: Callable[[JSONRPCRequest], object] | None = attrs.field(init=False)
    _direct: DirectTransport | None = attrs.field(init=False)
    """The transport, when it is a ``DirectTransport``."""
    _shared: SharedReadTransport | None = attrs.field(init=False)
    """The transport, when it is a ``SharedReadTransport`` whose callers may read."""
    _turn: _Pending | bool = attrs.field(init=False, default=True)
    """Whose turn it is to read (shared reading): ``True`` the reader's, a request:
    its caller's (``_lead``), ``False``: nobody's (the reader stands by)."""
    _followers: int = attrs.field(init=False, default=0)
    """Callers waiting for the reader to read their responses."""
    _last_call: float = attrs.field(init=False, default=-math.inf)
    """When the last request was sent, or the reader last stood by after answering
    one (shared reading)."""
    _answered: bool = attrs.field(init=False, default=False)
    """A response was taken since the reader last stood by (shared reading)."""
    _wake: trio.Event = attrs.field(init=False, factory=trio.Event)
    """Wakes the reader standing by."""
    _ask: bool = attrs.field(init=False, default=False)
    """The reader standing by wants to hear when the caller reading stops."""
    _urgent: bool = attrs.field(init=False, default=False)
    """The reader must read again (a caller gave its turn back with work left)."""

    def __attrs_post_init__(self) -> None:
        self._on_accept = getattr(self.dispatcher, "accepted", None)
        self._direct = self.transport if isinstance(self.transport, DirectTransport) else None
        shared = self.transport
        self._shared = (
            shared if isinstance(shared, SharedReadTransport) and shared.shares_reading else None
        )
        # FIFO and fair: ``release`` hands a place straight to the first waiter, so
        # ``acquire_nowait`` never overtakes one
        self._running = trio.Semaphore(self.max_concurrency)
        self._outstanding = trio.Semaphore(self.max_pending)

    # -- running ---------------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[Session] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until the transport closes (or ``aclose``); then close the transport.

        Returns only when every task of the session has ended.
        """
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._direct is not None:
                    self._direct.attach(self)
                task_status.started(self)
                nursery.start_soon(self._read, self._reading, name=_READ)
                await self._read_over.wait()
                reason = self._read_ending
                if reason is not None:  # the reader saw the end of input itself
                    self._input_ended = self._input_ended or reason
                    self._stop_reading()  # requests delivered meanwhile wait no more
                reason = reason or self._input_ended
                self._close_pending(reason or self._drain_reason or "the session is draining")
                await self._refuse_peeked()
                if self._drain_reason is None:  # the end of input
                    if self.drain_on_eof is None:
                        self._shutdown(nursery)
                        return
                    self._tighten(trio.current_time() + self.drain_on_eof)
                await self._wind_down(nursery)
        finally:
            self._close_pending(self._closed or "the session ended")
            self._mute = self._mute or self._closed
            self._nursery = None
            self._stop_reading()  # accepts still waiting (delivered) end too (see _accept)
            self._stopped.set()
            if self._direct is not None:
                self._direct.attach(None)
            if self._inflight:  # served in their transport's tasks: they end now too
                for ctx in list(self._inflight.values()):
                    ctx._cancel(CancelReason.SHUTDOWN)
                with trio.CancelScope(shield=True), trio.move_on_after(self.farewell):
                    await self._until_idle()
            with trio.CancelScope(shield=True):
                await self.transport.aclose()

    async def drain(self, grace: float, reason: str = "the server is shutting down") -> None:
        """End the session gracefully; returns once ``run`` has returned.

        Reading stops at once (a transport may still hand over, without waiting,
        frames it holds already; nothing more is read), outgoing requests still
        waiting fail with ``ConnectionClosed`` naming ``reason``, and the in-flight
        handlers get ``grace`` seconds to finish. Those still running then are
        cancelled with ``CancelReason.SHUTDOWN`` and answered ("Server is shutting
        down"), within ``farewell`` seconds; a masked section always runs to its end.
        A second call can only shorten the grace. Called before ``run``, ``run``
        drains at once. A request that was read but waits for a place (``max_pending``)
        when reading stops is answered with the same error.
        """
        self.start_drain(grace, reason)
        if self._nursery is not None:
            await self._stopped.wait()

    def start_drain(self, grace: float, reason: str = "the server is shutting down") -> None:
        """``drain`` without waiting (usable from synchronous code)."""
        if self._drain_reason is None:
            self._drain_reason = reason
        self._tighten(trio.current_time() + max(grace, 0.0))
        self._stop_reading()

    def _tighten(self, deadline: float) -> None:
        if deadline < self._grace.deadline:
            self._grace.deadline = deadline

    async def _wind_down(self, nursery: trio.Nursery) -> None:
        """The end of a drain: wait for the handlers until the grace ends, cancel the
        rest (SHUTDOWN), give their answers ``farewell`` seconds, then stop."""
        with self._grace:
            await self._until_idle()
        if self._inflight:
            for ctx in list(self._inflight.values()):
                ctx._cancel(CancelReason.SHUTDOWN)
            with trio.move_on_after(self.farewell):
                await self._until_idle()
        nursery.cancel_scope.cancel()

    async def aclose(self) -> None:
        """End the session: cancel in-flight handlers, fail waiting requests, close the
        transport. Waits until ``run`` has returned."""
        self.close()
        if self._nursery is not None or not self._stopped.is_set():
            with trio.CancelScope(shield=True):
                await self.transport.aclose()
                if self._nursery is not None:
                    await self._stopped.wait()

    def close(self) -> None:
        """``aclose`` without waiting (usable from synchronous code)."""
        self._close_pending("the session was closed")
        self._mute = self._mute or "the session was closed"
        if self._nursery is not None:
            self._shutdown(self._nursery)

    @property
    def closed(self) -> bool:
        """Whether the session can no longer send requests."""
        return self._closed is not None

    def _shutdown(self, nursery: trio.Nursery) -> None:
        for ctx in list(self._inflight.values()):
            ctx._cancel(CancelReason.SHUTDOWN)
        nursery.cancel_scope.cancel()

    async def _read(self, scope: trio.CancelScope) -> None:
        """A reading task: reads in ``scope`` (``_stop_reading`` cancels it) until the
        input ends or reading stops, then tells ``run`` (``_read_over``); or, when
        a request it served itself had to wait, serves that request to its end
        while a new reading task reads on."""
        ended: str | _Handoff | None = None
        try:
            with scope:
                ended = await self._read_loop()
                if isinstance(ended, _Handoff):
                    await ended.resume(self)
                    return
            if isinstance(ended, _Handoff):  # the scope, the request's now, caught its cancel
                await self._conclude(ended.request, ended.ctx, await _closing(ended.ctx, None))
                return
        finally:
            if isinstance(ended, _Handoff):
                self._adopted.pop(ended.ctx, None)
                self._done(ended.request.id, ended.ctx)  # whatever happened
        self._read_ending = ended
        self._read_over.set()

    def _hand_off(self, handoff: _Handoff) -> _Handoff:
        """The reader's task stays with ``handoff``'s request: reading goes on in a
        new task, in a scope of its own. A request served without a scope of its
        own (``deferred``) gets the reader's scope, which is around all it did: the
        scope takes over the deadline and any cancel of the one the request had
        until now, which was never entered."""
        scope, ctx = self._reading, handoff.ctx
        if handoff.deferred:
            own = ctx._cancel_scope  # ``None``: nothing restricted or cancelled it
            if own is not None:
                if own.deadline != math.inf:
                    scope.deadline = own.deadline
                if own.cancel_called:
                    scope.cancel()
            ctx._scope = scope
            self._adopted[ctx] = scope
        scope = self._reading = trio.CancelScope()
        if self._stopped_reading():
            scope.cancel()
        self._reader = None
        assert self._nursery is not None
        self._nursery.start_soon(self._read, scope, name=_READ)
        return handoff

    async def _read_loop(self) -> str | _Handoff:
        receive: Callable[[], Awaitable[bytes | IncomingMessage]] = (
            self.transport.receive if self._direct is None else self._direct.receive_message
        )
        self._reader = trio.lowlevel.current_task()
        shared = self._shared
        burst = 0
        while True:
            if self._reader_stops:  # stopped by what it served (``_stop_reading``)
                self._reading.cancel()
                await trio.lowlevel.checkpoint()
            burst += 1
            if burst == _BURST:  # let the handlers run before reading on (bounded batches)
                burst = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
            if (
                shared is not None
                and not self._followers
                and self._peek is None
                and not shared.buffered()
            ):
                await self._stand_by()
            try:
                frame = await receive() if self._peek is None else await self._peeked()
            except TransportClosed as exc:
                return str(exc) or "the connection closed"
            if isinstance(frame, bytes):
                try:
                    decoded = decode_message(frame)
                except MalformedMessage as error:
                    frame, error_sent = error_answer(error.request_id, error.to_error())
                    await self._send(frame, None, error_sent, final=False)
                    continue
                if type(frame) is LocalErrorFrame and type(decoded) is JSONRPCErrorResponse:
                    self._response(decoded, local=True)
                    continue
            else:
                decoded = frame
            if type(decoded) is JSONRPCRequest:
                accepted = self._accept_now(decoded, inline=True)
                if accepted is False:
                    await self._accept(decoded, None)
                elif accepted is not True:
                    return self._hand_off(accepted)
            elif type(decoded) is JSONRPCResultResponse:
                self._response(decoded)
            elif isinstance(decoded, list):
                await self._batch(decoded)
            else:
                await self._dispatch(decoded, None)

    async def _stand_by(self) -> None:
        """Leave reading to the callers while they send requests (shared reading);
        return once it is the reader's turn again.

        A caller that finds nobody reading reads its own response (``_lead``): a
        sequential call then wakes one task, not two. Nobody has to read when no
        caller waits for the reader (``_followers``) and nothing is buffered; the
        reader reads again when a caller gives its turn back with work left (a frame
        that is not a response, the end of input, callers waiting, its cancellation)
        and once ``_STANDBY`` seconds have passed since the last request was sent or
        answered (a server's own messages between calls wait at most that long).
        While a caller reads it asks to hear when that caller stops, but not at every
        call: it looks again ``_STANDBY`` seconds later.
        """
        self._turn = False
        if self._answered:  # a slow answer: callers may read from now on all the same
            self._answered = False
            self._last_call = max(self._last_call, trio.current_time())
        asked = False
        while not self._urgent:
            turn = self._turn
            if turn is False:
                if self._followers:
                    break
                until = self._last_call + _STANDBY
                if trio.current_time() >= until:
                    break
                asked = False
            elif not asked:
                self._ask = asked = True
                until = math.inf
            else:
                asked = False
                until = trio.current_time() + _STANDBY
            wake = self._wake = trio.Event()
            with trio.move_on_at(until):
                await wake.wait()
        self._urgent = False
        self._turn = True

    async def _lead(self, pending: _Pending, rid: RequestId, expect: type[Any]) -> None:
        """Read for the caller of ``pending`` until its response came (shared reading,
        its turn): every response read completes its request; any other frame is put
        back for the reader, and the turn with it, as on the end of input. Cancelling
        the caller loses no frame (nothing read is left unhandled). Its wait is
        interrupted (``_interrupt``) when its request times out or reading stops.
        Its own response (``rid``), when it is a complete ``expect``, is decoded with
        its envelope in one pass."""
        shared = self._shared
        assert shared is not None
        self._turn = pending
        if pending.deadline < self._earliest or self._deadlines is None:
            self._watch(pending, lead=True)
        handed = True  # the reader must go on: not when only our response was read
        try:
            if shared.buffered():
                await trio.lowlevel.checkpoint()
            else:  # the answer is not there yet (the request was just sent): wait at once
                await shared.wait_readable()
            while not pending.done:
                frame = shared.take_frame()
                if frame is None:
                    if self._stopped_reading():
                        break
                    await shared.wait_readable()
                    continue
                if not frame or type(frame) is LocalErrorFrame:
                    if frame:
                        shared.put_back(frame)
                    break
                answer = decode_answer(frame, expect)
                if answer is not None and answer[0] == rid and _complete(answer[1]):
                    pending.value = answer[1]
                    self._answered = True
                    pending.settle()
                    continue
                try:
                    decoded = decode_message(frame)
                except MalformedMessage:
                    decoded = None
                if type(decoded) is JSONRPCResultResponse or type(decoded) is JSONRPCErrorResponse:
                    self._response(decoded)
                else:
                    shared.put_back(frame)
                    break
            else:
                handed = False
        finally:
            self._turn = False
            if handed or self._followers or shared.buffered():
                self._urgent = True
                self._ask = False
                self._wake.set()
            elif self._ask:
                self._ask = False
                self._wake.set()

    def _interrupt(self) -> None:
        """Wake the caller reading for itself (``_lead``), if any: it looks again whether
        its request is done and whether reading goes on."""
        if type(self._turn) is _Pending and self._shared is not None:
            self._shared.interrupt()

    # -- what a direct transport hands over ------------------------------------------

    async def deliver(self, message: IncomingMessage) -> None:
        """Take a message a ``DirectTransport`` decoded, in the task that received it
        (``Inbound.deliver``). A request is accepted as if read (its handler runs in
        the session's nursery; this waits only while ``max_pending`` requests are
        outstanding, and is refused when reading stops meanwhile); once reading
        has stopped (a drain, the end of input), a request is answered with the
        shutdown error at once. Raises ``TransportClosed`` once the session has
        ended (or before it runs)."""
        if self._nursery is None:
            raise TransportClosed(self._closed or "the session is not running")
        if type(message) is JSONRPCRequest:
            if self._stopped_reading():
                await self._refuse(message, None)
            elif not self._accept_now(message):
                await self._accept(message, None)
        elif type(message) is JSONRPCResultResponse:
            self._response(message)
        elif isinstance(message, list):
            await self._batch(message)
        else:
            await self._dispatch(message, None)

    async def serve(self, request: JSONRPCRequest) -> None:
        """``deliver`` for a request whose handler runs in this task (``Inbound.serve``):
        returns once it is answered. It is in flight like any other (cancelled by
        the peer, drained, answered by the Outcome table); its children run in the
        session's nursery. When the session ends first, it is cancelled with
        ``CancelReason.SHUTDOWN`` and ``run`` waits (``farewell`` seconds at most)
        for it to end."""
        if self._nursery is None:
            raise TransportClosed(self._closed or "the session is not running")
        if self._stopped_reading():
            await self._refuse(request, None)
            return
        rid = request.id
        if rid not in self._inflight:
            try:
                self._outstanding.acquire_nowait()
            except trio.WouldBlock:
                pass
            else:
                ctx = self._context(request)
                self._register(request, ctx)
                await self._serve(request, ctx, None)
                return
        await self._accept(request, None, inline=True)

    def peer_gone(self, request_id: RequestId, reason: str | None = None) -> None:
        """Nothing about inbound request ``request_id`` can reach the peer any more
        (an HTTP client closed that request's response): its handler is cancelled
        with ``CancelReason.CLIENT`` and gets no answer, as if the peer had sent
        ``notifications/cancelled`` (``initialize`` too: nobody could read its answer).
        Unknown and finished requests are ignored; a second call changes nothing."""
        ctx = self._inflight.get(request_id)
        if ctx is not None:
            ctx._cancel(CancelReason.CLIENT, reason)

    # -- reading ahead while the reader waits for a place ----------------------------

    def _read_ahead(self) -> None:
        """Start the read-ahead (``_ahead``) for the reader, which is about to wait for
        a place; one at a time. Only the reader's waits read ahead: a request a
        ``DirectTransport`` delivered waits in its own task while the reader reads
        on (and sees the end of input itself)."""
        if self._peek is None and not self._stopped_reading():
            self._peek = _Peek()
            assert self._nursery is not None
            self._nursery.start_soon(self._ahead, self._peek)

    async def _ahead(self, peek: _Peek) -> None:
        """Read ahead for the reader, which waits for a place: what frees a place (a
        cancel of a request in flight, a response a handler waits for) is handled at
        once and reading goes on; anything else is the one frame held. Ends when
        reading stops (``peek.scope``), as the reader's own read would."""
        receive: Callable[[], Awaitable[bytes | IncomingMessage]] = (
            self.transport.receive if self._direct is None else self._direct.receive_message
        )
        try:
            with peek.scope:
                while True:
                    frame = await receive()
                    if not self._frees_a_place(frame):
                        peek.frame = frame
                        return
        except TransportClosed as exc:
            peek.ended = str(exc) or "the connection closed"
            self._input_ended = self._input_ended or peek.ended
            self._stop_reading()  # the waiting request is refused; the grace begins
        finally:
            peek.done.set()

    def _frees_a_place(self, frame: bytes | IncomingMessage) -> bool:
        """Handle ``frame`` now if it is a response, or a cancel of a request in flight
        (neither needs a place; handling them sooner changes no order that matters);
        whether it was handled."""
        if isinstance(frame, bytes):
            try:
                decoded = decode_message(frame)
            except MalformedMessage:
                return False
            if type(frame) is LocalErrorFrame and type(decoded) is JSONRPCErrorResponse:
                self._response(decoded, local=True)
                return True
        else:
            decoded = frame
        if type(decoded) is JSONRPCResultResponse or type(decoded) is JSONRPCErrorResponse:
            self._response(decoded)
            return True
        if type(decoded) is JSONRPCNotification and decoded.method == "notifications/cancelled":
            # not one in flight: perhaps the waiting request's, kept in its place
            return self._cancel_inbound(decoded)
        return False

    async def _peeked(self) -> bytes | IncomingMessage:
        assert self._peek is not None
        await self._peek.done.wait()
        peek, self._peek = self._peek, None
        if peek.frame is None:
            raise TransportClosed(peek.ended or "the connection closed")
        return peek.frame

    async def _refuse_peeked(self) -> None:
        """Reading stopped with a frame read ahead: its requests get the shutdown
        error (a request read is always answered)."""
        peek, self._peek = self._peek, None
        if peek is None:
            return
        peek.scope.cancel()  # reading has stopped: so has the read-ahead
        with trio.CancelScope(shield=True):
            await peek.done.wait()
        if peek.frame is None:
            return
        decoded: Any = peek.frame
        if isinstance(decoded, bytes):
            try:
                decoded = decode_message(decoded)
            except MalformedMessage:
                return
        if type(decoded) is JSONRPCRequest:
            await self._refuse(decoded, None)
        elif isinstance(decoded, list):
            answered = sum(isinstance(m, JSONRPCRequest | MalformedMessage) for m in decoded)
            if answered:
                await self._refuse_all(decoded, _Batch(answered))

    async def _dispatch(
        self,
        message: JSONRPCRequest
        | JSONRPCNotification
        | JSONRPCResultResponse
        | JSONRPCErrorResponse,
        batch: _Batch | None,
    ) -> None:
        if isinstance(message, JSONRPCRequest):
            await self._accept(message, batch)
        elif isinstance(message, JSONRPCNotification):
            await self._notification(message)
        else:
            self._response(message)

    async def _batch(self, members: list[Any]) -> None:
        requests = sum(isinstance(m, JSONRPCRequest) for m in members)
        errors = sum(isinstance(m, MalformedMessage) for m in members)
        batch = _Batch(requests + errors) if requests + errors else None
        for index, member in enumerate(members):
            try:
                if isinstance(member, MalformedMessage):
                    assert batch is not None
                    await self._batch_answer(batch, encode_error(member.request_id, member))
                else:
                    await self._dispatch(member, batch)
            except trio.Cancelled:
                if batch is None or not self._stopped_reading():
                    raise
                # reading stopped in the batch: the members not started are answered
                # too, so that the batch's array is sent once the started ones are
                with trio.CancelScope(shield=True), trio.move_on_after(self.farewell):
                    await self._refuse_all(members[index + 1 :], batch)
                raise

    async def _refuse_all(self, members: list[Any], batch: _Batch) -> None:
        """Answer the members of ``batch`` that will not be started, reading having
        stopped: each request with the shutdown error (``_refuse``), each malformed
        member with its error."""
        for member in members:
            if isinstance(member, MalformedMessage):
                await self._batch_answer(batch, encode_error(member.request_id, member))
            elif type(member) is JSONRPCRequest:
                await self._refuse(member, batch)

    def _stopped_reading(self) -> bool:
        """Whether reading stopped (a drain, or the end of input) rather than the
        session being cancelled: requests are refused from then on."""
        return self._drain_reason is not None or self._input_ended is not None

    def _ending(self) -> bool:
        """Whether the session's tasks are ending (``aclose``, a broken output, the
        end of a drain) or have ended: no request starts any more."""
        return self._nursery is None or self._nursery.cancel_scope.cancel_called

    def _stop_reading(self) -> None:
        """Reading stops (``_stopped_reading`` says why): the reader, its read-ahead
        and every accept waiting for a place (they refuse their requests).

        Called in the reader's own task (by a request it serves, or a notification it
        hands to the dispatcher), the reader's scope, around that request, is left
        alone (the request gets the grace, as in a task of its own): the reader stops
        once done with that frame (``_read_loop``)."""
        reader = self._reader
        if reader is not None and reader is trio.lowlevel.current_task():
            self._reader_stops = True
        else:
            self._reading.cancel()
        self._interrupt()  # a caller reading for itself stops
        if self._peek is not None:
            self._peek.scope.cancel()
        for waiting in self._waiting:
            waiting.cancel()

    async def _batch_answer(self, batch: _Batch, frame: bytes | None) -> None:
        if frame:
            batch.frames.append(frame)
        batch.waiting -= 1
        if batch.waiting == 0 and batch.frames:
            await self._send(b"[" + b",".join(batch.frames) + b"]", None, None, final=False)

    # -- inbound requests ------------------------------------------------------------

    async def _accept(
        self, request: JSONRPCRequest, batch: _Batch | None, *, inline: bool = False
    ) -> None:
        rid = request.id
        if rid in self._inflight:
            frame, error = error_answer(
                rid,
                Error(
                    code=INVALID_REQUEST, message=f"Invalid request: id {rid!r} is already in use"
                ),
            )
            if batch is None:
                await self._send(frame, rid, error, final=False)
            else:
                await self._batch_answer(batch, frame)
            return
        try:
            self._outstanding.acquire_nowait()
        except trio.WouldBlock:  # backpressure: stop reading at max_pending
            reader = trio.lowlevel.current_task() is self._reader
            if reader:
                self._read_ahead()  # so that a cancel or the end of input is seen
            waiting = trio.CancelScope()
            if self._stopped_reading():
                waiting.cancel()
            self._waiting.add(waiting)
            try:
                with waiting:
                    await self._outstanding.acquire()
            except trio.Cancelled:  # not by ``waiting``: the task itself is cancelled
                if not self._stopped_reading():  # the session itself is cancelled
                    raise
                await self._refuse(request, batch)
                raise
            finally:
                self._waiting.discard(waiting)
            late = waiting.cancelled_caught
            if not late and (self._stopped_reading() or (not reader and self._ending())):
                self._outstanding.release()  # a place, but too late: as if still waiting
                late = True
            if late:
                if not self._stopped_reading():  # a deliverer's, and the session ended
                    raise TransportClosed(self._closed or "the session ended") from None
                await self._refuse(request, batch)  # reading stopped: a drain, the end
                return
        ctx = self._context(request)
        if inline:
            self._register(request, ctx)
            await self._serve(request, ctx, batch)
        else:
            self._start(request, ctx, batch)

    async def _refuse(self, request: JSONRPCRequest, batch: _Batch | None) -> None:
        """Answer a request kept from starting because reading stopped (a drain, the
        end of input): the shutdown error, as the Outcome table answers a request
        cancelled by a shutdown."""
        frame, error = error_answer(request.id, SHUTTING_DOWN)
        with trio.CancelScope(shield=True), trio.move_on_after(self.farewell):
            if batch is None:
                await self._send(frame, request.id, error)
            else:
                await self._batch_answer(batch, frame)

    def _accept_now(self, request: JSONRPCRequest, *, inline: bool = False) -> bool | _Handoff:
        """``_accept`` without waiting, for the common case: a fresh id and a free place.
        ``False``: nothing was done, use ``_accept``.

        ``inline`` (the reader): the request is served in this task, without a task
        of its own, as far as it goes without waiting - most handlers never wait,
        and a task costs more than the rest of such a request. It runs as in a task
        of its own, with its own copy of the context; without a deadline, not even
        in a cancel scope of its own (``_serve_inline``: entering and leaving one
        costs about as much as a task): nothing can cancel it before it waits, and
        when it waits the reader's scope becomes its scope. ``True``: it was
        answered; a ``_Handoff``: it waits (its first trap is not yet passed on to
        trio), and this task must go on with it (``_hand_off``). After ``_HANDOFFS``
        such waits in a row (handlers that wait, a transport whose sends wait), the
        next ``_SPAWN_SPELL`` requests get tasks of their own, as do those read once
        reading was stopped (the reader's scope is cancelled then: they must not be
        under it)."""
        if request.id in self._inflight:
            return False
        try:
            self._outstanding.acquire_nowait()
        except trio.WouldBlock:
            return False
        ctx = self._context(request)
        if not inline or self._spawn_next or self._stopped_reading():
            if self._spawn_next:
                self._spawn_next -= 1
            self._start(request, ctx, None)
            return True
        self._register(request, ctx)
        deferred = self.request_timeout is None  # the only deadline a context starts with
        # with a deadline from the start, its own scope at once: trio sees it
        # (``current_effective_deadline``) from the first line of the handler
        coro = self._serve_inline(request, ctx) if deferred else self._serve(request, ctx, None)
        context = contextvars.copy_context()
        try:
            trap = context.run(coro.send, None)
        except StopIteration:
            self._handoffs = 0
            self._answering = None
            return True
        self._handoffs += 1
        if self._handoffs >= _HANDOFFS:
            self._handoffs = 0
            self._spawn_next = _SPAWN_SPELL
        if self._answering is ctx:  # it ended: only its answer waits to be written
            self._answering = None
            deferred = False  # the reader's scope must not become its scope now
        return _Handoff(request, ctx, coro, trap, context, deferred)

    def _context(self, request: JSONRPCRequest) -> McpContext:
        return _new_context(
            request, self, self.request_timeout, self._nursery, self.protocol_version
        )

    def _start(self, request: JSONRPCRequest, ctx: McpContext, batch: _Batch | None) -> None:
        # registered before the task starts: a cancel in the same read finds it
        self._register(request, ctx)
        assert self._nursery is not None
        self._nursery.start_soon(self._serve, request, ctx, batch, name=_SERVE)

    def _register(self, request: JSONRPCRequest, ctx: McpContext) -> None:
        self._inflight[request.id] = ctx
        if self._on_accept is not None:
            self._on_accept(request)

    async def _serve(self, request: JSONRPCRequest, ctx: McpContext, batch: _Batch | None) -> None:
        try:
            result = await _run(request, ctx, self.dispatcher, self._running)
            frame, error = _answer(request, ctx, result, self.server_info, self.mask_error_details)
            if batch is None:
                await self._send(frame or b"", request.id, error)
            else:
                await self._batch_answer(batch, frame)
        finally:
            self._done(request.id, ctx)

    async def _serve_inline(self, request: JSONRPCRequest, ctx: McpContext) -> None:
        """``_serve`` for a request the reader serves in its own task (``_accept_now``),
        without entering a cancel scope of its own: nothing can cancel it before it
        waits, and once it waits the reader's scope becomes its scope
        (``_hand_off``). A cancellation goes through, for ``_read`` to answer once
        that scope has caught it; the answer of a request that ended is sent with
        the request's scope disarmed (as ``_serve`` sends it out of that scope)."""
        own = ctx._cancel_scope
        try:
            result = await _run_in_scope(request, ctx, self.dispatcher, self._running)
        except trio.Cancelled:
            raise
        except BaseException:
            self._done(request.id, ctx)
            raise
        scope = self._adopted.pop(ctx, None) if self._adopted else None
        if scope is not None:  # handed off: the reader's scope is the request's
            ctx._scope = own  # cancels from now on change nothing (as out of the scope)
            scope.deadline = math.inf
            if scope.cancel_called:  # too late to catch: it ended; answered all the same
                deadline = trio.current_time() + self.farewell
                with trio.CancelScope(shield=True, deadline=deadline):
                    await self._conclude(request, ctx, await _closing(ctx, result))
                return
        if ctx._region is not None:
            result = await _closing(ctx, result)
        try:  # ``_conclude``, inline: one coroutine less per request
            frame, error = _answer(request, ctx, result, self.server_info, self.mask_error_details)
            # the request has ended: if writing its answer is its first wait, it is
            # handed off out of any scope of its own (``_accept_now``), as ``_serve``
            # writes outside the request's scope (a deadline or cancel now would
            # answer it twice)
            self._answering = ctx
            await self._send(frame or b"", request.id, error)
        finally:
            self._done(request.id, ctx)

    async def _conclude(
        self, request: JSONRPCRequest, ctx: McpContext, result: Outcome[Any] | McpError
    ) -> None:
        """Answer a request served in the reader (not in a batch) and let it go."""
        try:
            frame, error = _answer(request, ctx, result, self.server_info, self.mask_error_details)
            await self._send(frame or b"", request.id, error)
        finally:
            self._done(request.id, ctx)

    def _done(self, rid: RequestId, ctx: McpContext) -> None:
        """Request ``rid`` (``ctx``) is over: its place is free (once only)."""
        if self._inflight.get(rid) is not ctx:
            return
        del self._inflight[rid]
        self._outstanding.release()
        if not self._inflight and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def _until_idle(self) -> None:
        """Return once no request is in flight (at once when none is)."""
        while self._inflight:
            if self._idle is None:
                self._idle = trio.Event()
            await self._idle.wait()

    def _cancel_inbound(self, note: JSONRPCNotification) -> bool:
        """Act on a ``notifications/cancelled`` that names an inbound request in flight
        (``initialize`` is not cancelled); whether it did (a malformed one counts:
        it gets no answer)."""
        try:
            params = decode_params(note.params, CancelledNotificationParams)
        except McpError:
            return True
        target = self._inflight.get(params.request_id) if params.request_id is not None else None
        if target is None:
            return False
        if target.method != "initialize":
            target._cancel(CancelReason.CLIENT, params.reason)
        return True

    async def _notification(self, note: JSONRPCNotification) -> None:
        if note.method == "notifications/cancelled" and self._cancel_inbound(note):
            return
        # a cancel that names none of our inbound requests: from 2026-07-28 a server
        # cancels its side of a client's `subscriptions/listen` this way; the
        # dispatcher decides
        if note.method == "notifications/progress":
            try:
                progress = decode_params(note.params, ProgressNotificationParams)
            except McpError:
                return
            pending = self._pending.get(progress.progress_token)
            if pending is not None and pending.on_progress is not None:
                if pending.reset_on_progress is not None:
                    pending.deadline = trio.current_time() + pending.reset_on_progress
                try:
                    await call_callback(pending.on_progress, progress)
                except Exception:
                    logger.exception("progress callback failed")
            return
        await _notify(self.dispatcher, note)

    # -- outbound --------------------------------------------------------------------

    def _response(
        self, response: JSONRPCResultResponse | JSONRPCErrorResponse, *, local: bool = False
    ) -> None:
        rid = response.id
        pending = self._pending.get(rid) if rid is not None and rid is not UNSET else None
        if pending is None:
            logger.debug("dropping a response to unknown request %r", rid)
            return
        pending.response = response
        pending.local = local
        self._answered = True
        if pending.following:
            pending.following = False
            self._followers -= 1
        pending.settle()

    async def _send(
        self,
        frame: bytes,
        related: RequestId | None,
        error: Error | None,
        *,
        final: bool = True,
    ) -> None:
        """Send a response (final for ``related`` unless told); a broken transport
        ends the session."""
        try:
            await self._emit(frame, "response", related, final, error)
        except TransportClosed as exc:
            self._broken(str(exc) or "the connection closed")

    def _emit(
        self,
        frame: bytes,
        kind: MessageKind,
        related: RequestId | None = None,
        final: bool = False,
        error: Error | None = None,
    ) -> Awaitable[None]:
        """Hand a frame to the transport, described to a direct one (``Outgoing``).
        Not a coroutine of its own: what it returns is the transport's (one frame
        less per message on the hot path)."""
        if self._direct is None:
            return self.transport.send(frame, related=related, final=final)
        return self._direct.send_described(frame, Outgoing(kind, related, final, error))

    def _broken(self, reason: str) -> None:
        self._close_pending(reason)
        self._mute = self._mute or reason
        if self._nursery is not None:
            self._shutdown(self._nursery)

    def _close_pending(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
        self._interrupt()  # a caller reading for itself: its request is done
        for pending in self._pending.values():
            if not pending.done:
                pending.closed = reason
                pending.settle()

    async def notify(
        self, method: str, params: Any = UNSET, *, related: RequestId | None = None
    ) -> None:
        """Send a notification. Raises ``ConnectionClosed`` once nothing can be written
        (the output broke, or the session was closed or has stopped); a session that
        only stopped reading (its input ended, or a drain) still sends them."""
        if self._mute is not None:
            raise ConnectionClosed(f"Connection closed: {self._mute}")
        try:
            frame = encode_notification(method, params)
            await self._emit(frame, "notification", related)
        except TransportClosed as exc:
            self._broken(str(exc) or "the connection closed")
            raise ConnectionClosed(f"Connection closed: {exc}") from None
        # a schedule point: a handler that does nothing but notify (progress in a loop)
        # still lets the session read (a transport may write without waiting)
        await trio.lowlevel.cancel_shielded_checkpoint()

    @overload
    async def request(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        related: RequestId | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        reset_timeout_on_progress: bool = False,
        expect: None = None,
    ) -> T: ...

    @overload
    async def request(
        self,
        method: str,
        params: Any,
        result_type: type[msgspec.Raw],
        *,
        related: RequestId | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        reset_timeout_on_progress: bool = False,
        expect: type[T],
    ) -> T | msgspec.Raw: ...

    async def request(
        self,
        method: str,
        params: Any,
        result_type: type[Any],
        *,
        related: RequestId | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        reset_timeout_on_progress: bool = False,
        expect: type[Any] | None = None,
    ) -> Any:
        """Send a request and wait for its result, decoded into ``result_type``.

        ``expect`` (with ``result_type`` ``msgspec.Raw``): the type the result most
        likely has. A complete result of that type (no ``resultType``, or
        ``"complete"``) is returned decoded into it, anything else raw, for the
        caller to tell apart; a caller reading its own response then decodes it in
        one pass with its envelope (``decode_answer``).

        Raises ``PeerError`` with the peer's error, ``RequestTimeout`` after
        ``timeout`` seconds (default ``default_timeout``; progress restarts it when
        ``reset_timeout_on_progress``), ``ConnectionClosed`` if the connection goes
        away first, ``TransportError`` when the transport could not get the answer
        (``LocalErrorFrame``), ``UnexpectedResult`` for a result that does not decode
        into ``result_type``. Leaving the caller's cancel scope cancels the request: the peer is
        told with ``notifications/cancelled``. ``TypeError`` (nothing sent) for an
        ``expect`` with another ``result_type`` than ``msgspec.Raw``.
        """
        if expect is not None and result_type is not msgspec.Raw:
            raise TypeError(
                f"request({method!r}): expect= goes with result_type msgspec.Raw, "
                f"not {getattr(result_type, '__name__', result_type)}"
            )
        if self._closed is not None:
            raise ConnectionClosed(f"Connection closed: {self._closed}")
        rid = self._next_id
        self._next_id += 1
        wait = self.default_timeout if timeout is None else timeout
        self._last_call = now = trio.current_time()
        pending = _Pending(
            on_progress=on_progress,
            deadline=now + wait,
            reset_on_progress=wait if reset_timeout_on_progress else None,
        )
        if on_progress is not None:
            params = _with_meta(params, {"progressToken": rid})
        self._pending[rid] = pending
        try:
            try:
                await self._emit(encode_request(rid, method, params), "request", related)
            except TransportClosed as exc:
                self._broken(str(exc) or "the connection closed")
                raise ConnectionClosed(f"Connection closed: {exc}") from None
            try:
                if self._nursery is not None or self._closed is not None:
                    if (
                        self._turn is False
                        and self._shared is not None
                        and not self._urgent
                        and not self._followers
                        and self._drain_reason is None  # not ``_stopped_reading()``
                        and self._input_ended is None
                    ):
                        # nobody reads: read our response
                        await self._lead(pending, rid, expect or result_type)
                    if not pending.done:
                        self._watch(pending)
                        pending.following = True
                        self._followers += 1
                        await pending.wait()
                else:  # not running (yet): a timer of its own
                    while not pending.done:
                        with trio.move_on_at(pending.deadline):
                            await pending.wait()
                        if not pending.done and trio.current_time() >= pending.deadline:
                            pending.timed_out = True
                            break
                if pending.timed_out and pending.response is None and pending.closed is None:
                    await self._cancel_outgoing(rid, "timed out")
                    raise RequestTimeout(f"{method} timed out after {wait:g} s")
            except trio.Cancelled:
                await self._cancel_outgoing(rid, "cancelled by the caller")
                raise
        finally:
            if pending.following:
                pending.following = False
                self._followers -= 1
            del self._pending[rid]
            deadlines = self._deadlines
            if deadlines is not None and len(deadlines) > 2 * len(self._pending) + 64:
                # answered requests linger in the heap until their deadline: sweep them
                deadlines[:] = [entry for entry in deadlines if not entry[2].done]
                heapq.heapify(deadlines)
        response = pending.response
        if response is None:
            if pending.value is not UNSET:
                return pending.value
            raise ConnectionClosed(f"Connection closed: {pending.closed}")
        if isinstance(response, JSONRPCErrorResponse):
            if pending.local:
                raise TransportError.from_error(response.error)
            raise PeerError.from_error(response.error)
        if result_type is not msgspec.Raw:
            return decode_result(response.result, result_type)
        if expect is not None:
            try:
                value = decode_result(response.result, expect)
            except UnexpectedResult:
                pass
            else:
                if _complete(value):
                    return value
        return response.result  # the caller decodes it: no copy

    def _watch(self, pending: _Pending, *, lead: bool = False) -> None:
        """Time ``pending`` (the session runs): the deadline watcher, started with the
        first request that has a deadline, settles it as timed out when its deadline
        passes. A request whose caller reads for itself (``lead``, it is ``_turn``) is
        watched as the turn, without an entry of its own; any other goes into the
        heap. A deadline earlier than the one the watcher sleeps until wakes it."""
        if pending.deadline == math.inf or self._closed is not None:
            return  # nothing to time, or the session's end settles it
        deadlines = self._deadlines
        if deadlines is None:
            assert self._nursery is not None
            deadlines = self._deadlines = []
            self._nursery.start_soon(self._watch_deadlines)
        if not lead:
            heapq.heappush(deadlines, (pending.deadline, next(self._order), pending))
        if pending.deadline < self._earliest:
            self._rearm.set()

    async def _watch_deadlines(self) -> None:
        """Time out outgoing requests: one task sleeping until the earliest deadline
        (of the heap's, and of the request whose caller reads for itself) instead of
        a timer per request. A request whose progress moved its deadline goes back
        into the heap."""
        deadlines = self._deadlines
        assert deadlines is not None
        while True:
            self._rearm = trio.Event()
            turn = self._turn
            earliest = deadlines[0][0] if deadlines else math.inf
            if type(turn) is _Pending and turn.deadline < earliest:
                earliest = turn.deadline
            self._earliest = earliest
            with trio.move_on_at(earliest):
                await self._rearm.wait()
            now = trio.current_time()
            while deadlines and deadlines[0][0] <= now:
                _, _, pending = heapq.heappop(deadlines)
                if pending.done:
                    continue
                if pending.deadline > now:
                    heapq.heappush(deadlines, (pending.deadline, next(self._order), pending))
                    continue
                pending.timed_out = True
                pending.settle()
            turn = self._turn
            if type(turn) is _Pending and not turn.done and turn.deadline <= now:
                turn.timed_out = True
                turn.settle()
                self._interrupt()  # its caller reads for itself: wake it

    async def _cancel_outgoing(self, rid: RequestId, reason: str) -> None:
        if self._closed is not None:
            return
        frame = encode_notification(
            "notifications/cancelled", CancelledNotificationParams(request_id=rid, reason=reason)
        )
        shielded, bounded = trio.CancelScope(shield=True), trio.move_on_after(5)
        with shielded, bounded, contextlib.suppress(TransportClosed):
            await self._emit(frame, "notification", rid, final=True)


# -- what a session and one-shot exchanges share ---------------------------------------


def _new_context(
    request: JSONRPCRequest,
    peer: Session | Exchange,
    timeout: float | None,
    spawner: trio.Nursery | None,
    version: str,
) -> McpContext:
    budget = Budget.INFINITE
    if timeout is not None:
        budget = Budget(deadline=trio.current_time() + timeout)
    return McpContext(  # its cancel scope is made when needed (with the budget's deadline)
        request_id=request.id,
        method=request.method,
        peer=peer,
        budget=budget,
        protocol_version=version,
        spawner=spawner,
    )


async def _run(
    request: JSONRPCRequest,
    ctx: McpContext,
    dispatcher: Dispatcher,
    running: trio.Semaphore | None,
) -> Outcome[Any] | McpError:
    """Route and run one request in the request's scope, its children included; how
    it ended (an ``McpError`` from routing, else the handler's outcome)."""
    result: Outcome[Any] | McpError | None = None
    with ctx._scope:
        result = await _run_in_scope(request, ctx, dispatcher, running)
    if result is None or ctx._region is not None:
        return await _closing(ctx, result)
    return result


async def _run_in_scope(
    request: JSONRPCRequest,
    ctx: McpContext,
    dispatcher: Dispatcher,
    running: trio.Semaphore | None,
) -> Outcome[Any] | McpError:
    """What ``_run`` does in the request's scope: route, run, wait for the children.
    A cancellation goes through (the request's scope catches it)."""
    if running is not None:
        try:
            running.acquire_nowait()  # no checkpoint when a place is free
        except trio.WouldBlock:
            await running.acquire()
    result: Outcome[Any] | McpError
    try:
        handler = await dispatcher.route(ctx, request)
    except McpError as error:
        result = error
    except Exception as exc:  # a bug in routing
        result = Panicked(exc)
    else:
        try:  # ``capture``, inline: one coroutine less per request
            result = Ok(await handler())
        except trio.Cancelled:
            raise
        except BaseException as exc:
            failed = failure_outcome(exc)
            if failed is None:
                raise
            result = failed
    finally:
        if running is not None:
            running.release()
    region = ctx._region
    if region is not None and region.count:
        if not isinstance(result, Ok):
            ctx._cancel_children()  # like a nursery whose body failed
        while region.count:  # children may spawn children
            await region.done.wait()  # the request ends when its children end
    return result


async def _closing(
    ctx: McpContext, result: Outcome[Any] | McpError | None
) -> Outcome[Any] | McpError:
    """The outcome of a request once out of its scope (``result`` is ``None`` when the
    scope caught its cancellation): children still running (it was cancelled while
    waiting for them) are cancelled and awaited, their errors kept."""
    region = ctx._region
    if region is not None:
        if region.count:  # cancelled while waiting: let the children finish
            ctx._cancel_children()
            with trio.CancelScope(shield=True):
                while region.count:
                    await region.done.wait()
        if region.errors:
            result = _with_children_errors(result, region.errors)
    if result is None:  # our scope caught the cancellation
        result = Cancelled(ctx.cancel_reason or CancelReason.BUDGET, ctx._cancel_message)
    return result


def _answer(
    request: JSONRPCRequest,
    ctx: McpContext,
    result: Outcome[Any] | McpError,
    server_info: Implementation | None,
    mask_error_details: bool,
) -> tuple[bytes | None, Error | None]:
    """The frame that answers ``request`` (``None``: no answer) and its error."""
    if isinstance(result, McpError):
        return error_answer(request.id, result.to_error())
    return answer_for(
        result,
        request_id=request.id,
        method=request.method,
        version=ctx.protocol_version,
        server_info=server_info,
        mask_error_details=mask_error_details,
        cancel_message=_budget_message(ctx) if isinstance(result, Cancelled) else None,
    )


async def _notify(dispatcher: Dispatcher, note: JSONRPCNotification) -> None:
    """Hand a notification to the dispatcher; its failures are logged, not answered."""
    try:
        await dispatcher.notification(note)
    except McpError as error:
        logger.warning("notification %s refused: %s", note.method, error)
    except Exception:
        logger.exception("notification handler for %s failed", note.method)


# -- one-shot exchanges ------------------------------------------------------------------


@attrs.define(eq=False, repr=False)
class Exchanges:
    """Serves one-shot exchanges: a request (or a notification) that comes alone,
    with no session around it - a stateless HTTP POST (2026-07-28, or a session-less
    legacy one) - in the task that received it, answered through a ``Reply``.

    Theory of operation. ``open(reply)`` makes the ``Exchange`` of one message: the
    peer of its handler (its notifications go to the reply; it sends no requests, a
    one-shot exchange has no way back for their answers). ``Exchange.handle`` routes
    and runs the request by the rules of a session (the budget of
    ``request_timeout``, children started in ``spawner`` and awaited, the Outcome
    table) and sends the answer, final, described (``Outgoing``); the reply tells the
    exchange when its client is gone (``peer_gone``): the handler is cancelled
    (``CancelReason.CLIENT``) and gets no answer. No task, nursery or session is made
    for an exchange: it costs one context and one cancel scope.

    ``drain(grace)``: from then on every request is answered with the shutdown error
    at once; those in flight get ``grace`` seconds, then are cancelled
    (``CancelReason.SHUTDOWN``) and answered ("Server is shutting down") within
    ``farewell`` seconds (a masked section runs to its end first). It returns when
    none is left. The grace is kept by a task in ``spawner``, not by the caller:
    ``start_drain`` starts it without waiting, and a caller that stops waiting
    (cancelled) does not stop it. Notifications are handed to their dispatcher even
    then.
    """

    spawner: trio.Nursery
    """Where the children of handlers (``ctx.spawn``) run."""
    request_timeout: float | None = None
    mask_error_details: bool = True
    server_info: Implementation | None = None
    farewell: float = 2.0
    protocol_version: str = LATEST_PROTOCOL_VERSION
    _inflight: set[McpContext] = attrs.field(init=False, factory=set)
    _idle: trio.Event = attrs.field(init=False, factory=trio.Event)
    _draining: bool = attrs.field(init=False, default=False)
    _grace: trio.CancelScope = attrs.field(init=False, factory=trio.CancelScope)
    """Around the drain task's wait for the in-flight requests; its deadline ends
    the grace."""

    def __attrs_post_init__(self) -> None:
        self._idle.set()

    def open(self, reply: Reply) -> Exchange:
        """The exchange of one message answered through ``reply``."""
        return Exchange(self, reply)

    @property
    def draining(self) -> bool:
        return self._draining

    def __len__(self) -> int:
        """How many requests are in flight."""
        return len(self._inflight)

    async def drain(self, grace: float) -> None:
        """Refuse new requests, let those in flight finish within ``grace`` seconds,
        answer the rest with the shutdown error; returns once none is left. A
        second call can only shorten the grace."""
        self.start_drain(grace)
        await self.idle()

    def start_drain(self, grace: float) -> None:
        """``drain`` without waiting (usable from synchronous code)."""
        deadline = trio.current_time() + max(grace, 0.0)
        if deadline < self._grace.deadline:
            self._grace.deadline = deadline
        if not self._draining:
            self._draining = True
            self.spawner.start_soon(self._wind_down)

    async def idle(self) -> None:
        """Return once no request is in flight (at once when none is)."""
        while self._inflight:
            await self._idle.wait()

    async def _wind_down(self) -> None:
        with self._grace:
            await self.idle()
        if self._inflight:
            for ctx in list(self._inflight):
                ctx._cancel(CancelReason.SHUTDOWN)
            with trio.move_on_after(self.farewell):
                await self.idle()

    def _enter(self, ctx: McpContext) -> None:
        if not self._inflight:
            self._idle = trio.Event()
        self._inflight.add(ctx)

    def _leave(self, ctx: McpContext) -> None:
        self._inflight.discard(ctx)
        if not self._inflight:
            self._idle.set()


@attrs.define(eq=False, slots=True, repr=False)
class Exchange:
    """One message of ``Exchanges`` and where its answer goes (see there); the peer
    (``McpContext``'s) of its handler."""

    _engine: Exchanges
    _reply: Reply
    _ctx: McpContext | None = None
    _gone: str | None = None
    _over: bool = False

    async def handle(
        self, message: JSONRPCRequest | JSONRPCNotification, dispatcher: Dispatcher
    ) -> None:
        """Serve ``message`` in this task; returns once it is answered (or cancelled
        because its client left). Call it once."""
        engine = self._engine
        self._reply.attach(self)
        try:
            if type(message) is not JSONRPCRequest:
                assert isinstance(message, JSONRPCNotification)
                if message.method != "notifications/progress":  # of no request of ours
                    await _notify(dispatcher, message)
                return
            if engine._draining:
                await self._answer(*error_answer(message.id, SHUTTING_DOWN), rid=message.id)
                return
            ctx = self._ctx = _new_context(
                message, self, engine.request_timeout, engine.spawner, engine.protocol_version
            )
            if self._gone is not None:
                ctx._cancel(CancelReason.CLIENT, self._gone)
            engine._enter(ctx)
            try:
                result = await _run(message, ctx, dispatcher, None)
                frame, error = _answer(
                    message, ctx, result, engine.server_info, engine.mask_error_details
                )
                await self._answer(frame, error, rid=message.id)
            finally:
                engine._leave(ctx)
                # the context refers to this exchange (its peer): without the cycle
                # the request's objects are freed at once, not by the collector
                self._ctx = None
        finally:
            self._over = True
            self._reply.attach(None)

    async def _answer(self, frame: bytes | None, error: Error | None, *, rid: RequestId) -> None:
        with contextlib.suppress(TransportClosed):  # the client is gone: nobody to tell
            await self._reply.send_described(frame or b"", Outgoing("response", rid, True, error))

    # -- the peer of the handler -----------------------------------------------------

    async def notify(
        self, method: str, params: Any = UNSET, *, related: RequestId | None = None
    ) -> None:
        """Send a notification with the answer. Raises ``ConnectionClosed`` once the
        exchange is over or its client is gone."""
        if self._over:
            raise ConnectionClosed("Connection closed: the exchange is over")
        try:
            frame = encode_notification(method, params)
            await self._reply.send_described(frame, Outgoing("notification", related))
        except TransportClosed as exc:
            raise ConnectionClosed(f"Connection closed: {exc}") from None
        await trio.lowlevel.cancel_shielded_checkpoint()  # as ``Session.notify``

    async def request(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        related: RequestId | None = None,
        timeout: float | None = None,
    ) -> T:
        """Always ``ConnectionClosed``: the answer to a request could not come back."""
        raise ConnectionClosed(
            f"Connection closed: a one-shot exchange cannot send {method} to the client"
        )

    # -- what the reply calls (``Inbound``) -------------------------------------------

    async def deliver(self, message: IncomingMessage) -> None:
        raise TransportClosed("a one-shot exchange takes no further messages")

    async def serve(self, request: JSONRPCRequest) -> None:
        raise TransportClosed("a one-shot exchange takes no further messages")

    def peer_gone(self, request_id: RequestId, reason: str | None = None) -> None:
        """The client is gone: cancel the handler, unanswered (see ``Exchanges``)."""
        ctx = self._ctx
        if ctx is None:
            if self._gone is None:
                self._gone = reason or "the client is gone"
        elif request_id == ctx.request_id:
            ctx._cancel(CancelReason.CLIENT, reason)


def _with_children_errors(
    result: Outcome[Any] | McpError | None, errors: list[BaseException]
) -> Outcome[Any]:
    """The outcome of a request whose children raised ``errors``: as a nursery would
    have it, the handler's own failure (if any) and every child's, grouped when there
    are several; a single one stands for itself."""
    failures = list(errors)
    if isinstance(result, Err):
        failures.insert(0, result.error)
    elif isinstance(result, Panicked):
        failures.insert(0, result.exception)
    elif isinstance(result, McpError):
        failures.insert(0, result)
    if len(failures) == 1:
        return outcome_of(failures[0])
    return outcome_of(BaseExceptionGroup("several tasks of the request failed", failures))


def _complete(result: object) -> bool:
    """Whether a result is complete: not input-required, not a task (2026-07-28's
    ``resultType``; earlier results have none)."""
    kind = getattr(result, "result_type", None)
    return kind is None or kind == RESULT_COMPLETE


def _budget_message(ctx: McpContext) -> str:
    budget = ctx.budget()
    if budget.poll_quota <= 0:
        return "Request cancelled: its poll budget is spent"
    if budget.cost_quota <= 0:
        return "Request cancelled: its cost budget is spent"
    return "Request timed out"


def _with_meta(params: Any, entries: Mapping[str, Any]) -> Any:
    """``params`` with ``entries`` added to their ``_meta`` (a progress token, trace
    context), whatever their shape: a struct with ``meta``, a dict, or none."""
    if isinstance(params, msgspec.Struct) and hasattr(params, "meta"):
        meta = dict(getattr(params, "meta", None) or {})
        meta.update(entries)
        return msgspec.structs.replace(params, meta=meta)
    if isinstance(params, dict):
        meta = dict(params.get("_meta") or {})
        meta.update(entries)
        return {**params, "_meta": meta}
    if params is UNSET or params is None:
        return {"_meta": dict(entries)}
    raise TypeError(f"cannot add _meta entries to params of type {type(params).__name__}")
