"""The JSON-RPC session engine: one, shared by servers and clients.

Theory of operation. ``Session.run`` reads frames from a transport until it closes.
Each frame is decoded once (envelope only) and handled by kind:

* a request gets a ``McpContext`` whose cancel scope is registered under the request
  id *before* its task starts, so a ``notifications/cancelled`` read in the same
  chunk still finds it; the task waits for a place among the running handlers (bounded
  concurrency), asks the dispatcher to route the request, runs the handler in the
  request's own nursery (its children end with it), and answers through the Outcome
  table (``response_for``). Routing errors (unknown method or tool, bad params of
  the request itself) are JSON-RPC errors; handler outcomes follow the table.
* ``notifications/cancelled`` cancels the named in-flight request (one that names
  no inbound request goes to the dispatcher: a server ends a client's
  ``subscriptions/listen`` that way); ``notifications/progress`` goes to the caller waiting on that token; other
  notifications go to the dispatcher, in order, in the reading task.
* a response completes the outgoing request with its id.
* a batch is answered as one array once each of its requests is answered (a drain
  that cuts it answers the members it did not start with the shutdown error).
* a malformed frame is answered with -32700/-32600 (id ``null`` when unreadable),
  and reading goes on.

Backpressure: at most ``max_concurrency`` handlers run at once; further requests
wait for a slot (still cancellable). Once ``max_pending`` requests are outstanding the
reader stops reading until one finishes, which pushes back on the peer. While it
waits, it reads ahead (``_Peek``): a cancel of a request in flight and a response
to an outgoing request are handled at once (each may free a place), the first other
frame is held (at most one); an end of input that comes next is seen even when every
place is taken by handlers that never end (the grace begins, the waiting request is
refused). An end behind more
frames than that is seen once places free up (a budget, ``request_timeout``, ends
handlers that would never end).

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
import heapq
import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar

import attrs
import msgspec
import trio

from fastmcp_core._budget import Budget
from fastmcp_core._callbacks import call_callback
from fastmcp_core._context import McpContext
from fastmcp_core._errors import ConnectionClosed, RequestTimeout, TransportClosed, TransportError
from fastmcp_core._outcome import (
    Cancelled,
    CancelReason,
    Err,
    Ok,
    Outcome,
    Panicked,
    failure_outcome,
    outcome_of,
    response_for,
)
from fastmcp_core._transport import LocalErrorFrame, Transport
from fastmcp_protocol import (
    INVALID_REQUEST,
    LATEST_PROTOCOL_VERSION,
    UNSET,
    CancelledNotificationParams,
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
    decode_message,
    decode_params,
    decode_result,
    encode_error,
    encode_notification,
    encode_request,
)

__all__ = ["Dispatcher", "ProgressCallback", "Session"]

T = TypeVar("T")
logger = logging.getLogger("fastmcp")

_BURST = 64
"""Frames read in a row (when the transport has them buffered) before the reader yields."""

_SERVE = "fastmcp_core.Session._serve"
"""The name of every request's task (trio would format it anew for each)."""

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

    done: trio.Event = attrs.field(factory=trio.Event)
    response: JSONRPCResultResponse | JSONRPCErrorResponse | None = None
    closed: str | None = None
    on_progress: ProgressCallback | None = None
    deadline: float = math.inf
    reset_on_progress: float | None = None
    timed_out: bool = False
    local: bool = False  # the response is the transport's LocalErrorFrame


@attrs.define(eq=False, slots=True, repr=False)
class _Batch:
    """Collects the answers of one batch and sends them as one array."""

    waiting: int
    frames: list[bytes] = attrs.field(factory=list)


@attrs.define(eq=False, slots=True, repr=False)
class _Peek:
    """The one frame read ahead while the reader waits for a place."""

    done: trio.Event = attrs.field(factory=trio.Event)
    frame: bytes | None = None
    ended: str | None = None  # the end of input, seen ahead


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
    _idle: trio.Event = attrs.field(init=False, factory=trio.Event)
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
    _peek: _Peek | None = attrs.field(init=False, default=None)
    _input_ended: str | None = attrs.field(init=False, default=None)
    """The end of input seen ahead (``_Peek``) while the reader waited for a place."""
    _mute: str | None = attrs.field(init=False, default=None)
    """Why nothing can be written any more (the output broke, the session closed or
    stopped); ``notify`` raises then, and only then."""
    _on_accept: Callable[[JSONRPCRequest], object] | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._on_accept = getattr(self.dispatcher, "accepted", None)
        # FIFO and fair: ``release`` hands a place straight to the first waiter, so
        # ``acquire_nowait`` never overtakes one
        self._running = trio.Semaphore(self.max_concurrency)
        self._outstanding = trio.Semaphore(self.max_pending)
        self._idle.set()

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
                task_status.started(self)
                reason = None
                with self._reading:
                    reason = await self._read_loop()
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
            self._stopped.set()
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
        self._reading.cancel()

    def _tighten(self, deadline: float) -> None:
        if deadline < self._grace.deadline:
            self._grace.deadline = deadline

    async def _wind_down(self, nursery: trio.Nursery) -> None:
        """The end of a drain: wait for the handlers until the grace ends, cancel the
        rest (SHUTDOWN), give their answers ``farewell`` seconds, then stop."""
        with self._grace:
            await self._idle.wait()
        if self._inflight:
            for ctx in list(self._inflight.values()):
                ctx._cancel(CancelReason.SHUTDOWN)
            with trio.move_on_after(self.farewell):
                await self._idle.wait()
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

    async def _read_loop(self) -> str:
        receive = self.transport.receive
        burst = 0
        while True:
            burst += 1
            if burst == _BURST:  # let the handlers run before reading on (bounded batches)
                burst = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
            try:
                frame = await receive() if self._peek is None else await self._peeked()
            except TransportClosed as exc:
                return str(exc) or "the connection closed"
            try:
                decoded = decode_message(frame)
            except MalformedMessage as error:
                await self._send(encode_error(error.request_id, error), None)
                continue
            if type(decoded) is JSONRPCRequest:
                if not self._accept_now(decoded):
                    await self._accept(decoded, None)
            elif type(decoded) is JSONRPCResultResponse:
                self._response(decoded)
            elif isinstance(decoded, list):
                await self._batch(decoded)
            elif type(frame) is LocalErrorFrame and type(decoded) is JSONRPCErrorResponse:
                self._response(decoded, local=True)
            else:
                await self._dispatch(decoded, None)

    async def _ahead(self, peek: _Peek) -> None:
        """Read ahead for the reader, which waits for a place: what frees a place (a
        cancel of a request in flight, a response a handler waits for) is handled at
        once and reading goes on; anything else is the one frame held."""
        try:
            while True:
                frame = await self.transport.receive()
                if not self._frees_a_place(frame):
                    peek.frame = frame
                    return
        except TransportClosed as exc:
            peek.ended = str(exc) or "the connection closed"
            self._input_ended = peek.ended
            self._reading.cancel()  # the waiting request is refused; the grace begins
        finally:
            peek.done.set()

    def _frees_a_place(self, frame: bytes) -> bool:
        """Handle ``frame`` now if it is a response, or a cancel of a request in flight
        (neither needs a place; handling them sooner changes no order that matters);
        whether it was handled."""
        try:
            decoded = decode_message(frame)
        except MalformedMessage:
            return False
        if type(decoded) is JSONRPCResultResponse:
            self._response(decoded)
            return True
        if type(frame) is LocalErrorFrame and type(decoded) is JSONRPCErrorResponse:
            self._response(decoded, local=True)
            return True
        if type(decoded) is JSONRPCErrorResponse:
            self._response(decoded)
            return True
        if type(decoded) is JSONRPCNotification and decoded.method == "notifications/cancelled":
            try:
                params = decode_params(decoded.params, CancelledNotificationParams)
            except McpError:
                return True  # a malformed notification gets no answer
            target = (
                self._inflight.get(params.request_id) if params.request_id is not None else None
            )
            if target is None:
                return False  # perhaps the waiting request's: keep it in its place
            if target.method != "initialize":
                target._cancel(CancelReason.CLIENT, params.reason)
            return True
        return False

    async def _peeked(self) -> bytes:
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
        if peek is None or peek.frame is None:
            return
        try:
            decoded = decode_message(peek.frame)
        except MalformedMessage:
            return
        members = decoded if isinstance(decoded, list) else [decoded]
        refusals = [
            self._refusal(member, self.protocol_version)
            for member in members
            if type(member) is JSONRPCRequest
        ]
        if not refusals:
            return
        frame = refusals[0] if not isinstance(decoded, list) else b"[" + b",".join(refusals) + b"]"
        with trio.CancelScope(shield=True), trio.move_on_after(self.farewell):
            await self._send(frame, None)

    def _refusal(self, request: JSONRPCRequest, version: str) -> bytes:
        """The answer to a request a drain keeps from starting."""
        return (
            response_for(
                Cancelled(CancelReason.SHUTDOWN),
                request_id=request.id,
                method=request.method,
                version=version,
            )
            or b""
        )

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
                # a drain cut the batch: the members not started are answered too,
                # so that the batch's array is sent once the started ones are
                with trio.CancelScope(shield=True), trio.move_on_after(self.farewell):
                    for rest in members[index + 1 :]:
                        if isinstance(rest, MalformedMessage):
                            frame = encode_error(rest.request_id, rest)
                        elif type(rest) is JSONRPCRequest:
                            frame = self._refusal(rest, self.protocol_version)
                        else:
                            continue
                        await self._batch_answer(batch, frame)
                raise

    def _stopped_reading(self) -> bool:
        """Whether reading was stopped on purpose (a drain, or the end of input seen
        ahead) rather than the session cancelled."""
        return self._drain_reason is not None or self._input_ended is not None

    async def _batch_answer(self, batch: _Batch, frame: bytes | None) -> None:
        if frame:
            batch.frames.append(frame)
        batch.waiting -= 1
        if batch.waiting == 0 and batch.frames:
            await self._send(b"[" + b",".join(batch.frames) + b"]", None)

    # -- inbound requests ------------------------------------------------------------

    async def _accept(self, request: JSONRPCRequest, batch: _Batch | None) -> None:
        rid = request.id
        if rid in self._inflight:
            frame = encode_error(
                rid, INVALID_REQUEST, f"Invalid request: id {rid!r} is already in use"
            )
            if batch is None:
                await self._send(frame, rid)
            else:
                await self._batch_answer(batch, frame)
            return
        ctx = self._context(request)
        try:
            self._outstanding.acquire_nowait()
        except trio.WouldBlock:  # backpressure: stop reading at max_pending
            if self._peek is None and self._input_ended is None:  # watch for the end
                self._peek = _Peek()
                assert self._nursery is not None
                self._nursery.start_soon(self._ahead, self._peek)
            try:
                await self._outstanding.acquire()
            except trio.Cancelled:
                if not self._stopped_reading():  # the session itself is cancelled
                    raise
                # a drain (or the end of input) stopped reading: refuse it, as the
                # table says
                refusal = self._refusal(request, ctx.protocol_version)
                with trio.CancelScope(shield=True), trio.move_on_after(self.farewell):
                    if batch is None:
                        await self._send(refusal or b"", rid, final=True)
                    else:
                        await self._batch_answer(batch, refusal)
                raise
        self._start(request, ctx, batch)

    def _accept_now(self, request: JSONRPCRequest) -> bool:
        """``_accept`` without waiting, for the common case: a fresh id and a free place.
        ``False``: nothing was done, use ``_accept``."""
        if request.id in self._inflight:
            return False
        try:
            self._outstanding.acquire_nowait()
        except trio.WouldBlock:
            return False
        self._start(request, self._context(request), None)
        return True

    def _context(self, request: JSONRPCRequest) -> McpContext:
        budget = Budget.INFINITE
        if self.request_timeout is not None:
            budget = Budget(deadline=trio.current_time() + self.request_timeout)
        return McpContext(
            request_id=request.id,
            method=request.method,
            peer=self,
            scope=trio.CancelScope(deadline=budget.deadline),
            budget=budget,
            protocol_version=self.protocol_version,
            spawner=self._nursery,
        )

    def _start(self, request: JSONRPCRequest, ctx: McpContext, batch: _Batch | None) -> None:
        # registered before the task starts: a cancel in the same read finds it
        self._inflight[request.id] = ctx
        if self._on_accept is not None:
            self._on_accept(request)
        if self._idle.is_set():
            self._idle = trio.Event()
        assert self._nursery is not None
        self._nursery.start_soon(self._serve, request, ctx, batch, name=_SERVE)

    async def _serve(self, request: JSONRPCRequest, ctx: McpContext, batch: _Batch | None) -> None:
        result: Outcome[Any] | McpError | None = None
        try:
            with ctx._scope:
                running = self._running
                try:
                    running.acquire_nowait()  # no checkpoint when a place is free
                except trio.WouldBlock:
                    await running.acquire()
                try:
                    handler = await self.dispatcher.route(ctx, request)
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
                        result = failure_outcome(exc)
                        if result is None:
                            raise
                finally:
                    running.release()
                region = ctx._region
                if region is not None and region.count:
                    if not isinstance(result, Ok):
                        ctx._cancel_children()  # like a nursery whose body failed
                    while region.count:  # children may spawn children
                        await region.done.wait()  # the request ends when its children end
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
            if isinstance(result, McpError):
                frame: bytes | None = encode_error(request.id, result)
            else:
                frame = response_for(
                    result,
                    request_id=request.id,
                    method=request.method,
                    version=ctx.protocol_version,
                    server_info=self.server_info,
                    mask_error_details=self.mask_error_details,
                    cancel_message=_budget_message(ctx) if isinstance(result, Cancelled) else None,
                )
            if batch is None:
                await self._send(frame or b"", request.id, final=True)
            else:
                await self._batch_answer(batch, frame)
        finally:
            del self._inflight[request.id]
            self._outstanding.release()
            if not self._inflight:
                self._idle.set()

    async def _notification(self, note: JSONRPCNotification) -> None:
        if note.method == "notifications/cancelled":
            try:
                params = decode_params(note.params, CancelledNotificationParams)
            except McpError:
                return  # a malformed notification gets no answer
            target = (
                self._inflight.get(params.request_id) if params.request_id is not None else None
            )
            if target is not None:
                if target.method != "initialize":
                    target._cancel(CancelReason.CLIENT, params.reason)
                return
            # Not one of our inbound requests: from 2026-07-28 a server cancels its side
            # of a client's `subscriptions/listen` this way; the dispatcher decides.
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
        try:
            await self.dispatcher.notification(note)
        except McpError as error:
            logger.warning("notification %s refused: %s", note.method, error)
        except Exception:
            logger.exception("notification handler for %s failed", note.method)

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
        pending.done.set()

    async def _send(self, frame: bytes, related: RequestId | None, *, final: bool = False) -> None:
        try:
            await self.transport.send(frame, related=related, final=final)
        except TransportClosed as exc:
            self._broken(str(exc) or "the connection closed")

    def _broken(self, reason: str) -> None:
        self._close_pending(reason)
        self._mute = self._mute or reason
        if self._nursery is not None:
            self._shutdown(self._nursery)

    def _close_pending(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
        for pending in self._pending.values():
            if not pending.done.is_set():
                pending.closed = reason
                pending.done.set()

    async def notify(
        self, method: str, params: Any = UNSET, *, related: RequestId | None = None
    ) -> None:
        """Send a notification. Raises ``ConnectionClosed`` once nothing can be written
        (the output broke, or the session was closed or has stopped); a session that
        only stopped reading (its input ended, or a drain) still sends them."""
        if self._mute is not None:
            raise ConnectionClosed(f"Connection closed: {self._mute}")
        try:
            await self.transport.send(encode_notification(method, params), related=related)
        except TransportClosed as exc:
            self._broken(str(exc) or "the connection closed")
            raise ConnectionClosed(f"Connection closed: {exc}") from None
        # a schedule point: a handler that does nothing but notify (progress in a loop)
        # still lets the session read (a transport may write without waiting)
        await trio.lowlevel.cancel_shielded_checkpoint()

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
    ) -> T:
        """Send a request and wait for its result, decoded into ``result_type``.

        Raises ``PeerError`` with the peer's error, ``RequestTimeout`` after
        ``timeout`` seconds (default ``default_timeout``; progress restarts it when
        ``reset_timeout_on_progress``), ``ConnectionClosed`` if the connection goes
        away first, ``TransportError`` when the transport could not get the answer
        (``LocalErrorFrame``), ``UnexpectedResult`` for a result that does not decode
        into ``result_type``. Leaving the caller's cancel scope cancels the request: the peer is
        told with ``notifications/cancelled``.
        """
        if self._closed is not None:
            raise ConnectionClosed(f"Connection closed: {self._closed}")
        rid = self._next_id
        self._next_id += 1
        wait = self.default_timeout if timeout is None else timeout
        pending = _Pending(
            on_progress=on_progress,
            deadline=trio.current_time() + wait,
            reset_on_progress=wait if reset_timeout_on_progress else None,
        )
        if on_progress is not None:
            params = _with_progress_token(params, rid)
        self._pending[rid] = pending
        try:
            try:
                await self.transport.send(encode_request(rid, method, params), related=related)
            except TransportClosed as exc:
                self._broken(str(exc) or "the connection closed")
                raise ConnectionClosed(f"Connection closed: {exc}") from None
            try:
                if self._watch(pending):
                    await pending.done.wait()
                else:  # not running (yet): a timer of its own
                    while not pending.done.is_set():
                        with trio.move_on_at(pending.deadline):
                            await pending.done.wait()
                        if not pending.done.is_set() and trio.current_time() >= pending.deadline:
                            pending.timed_out = True
                            break
                if pending.timed_out and pending.response is None and pending.closed is None:
                    await self._cancel_outgoing(rid, "timed out")
                    raise RequestTimeout(f"{method} timed out after {wait:g} s")
            except trio.Cancelled:
                await self._cancel_outgoing(rid, "cancelled by the caller")
                raise
        finally:
            del self._pending[rid]
            deadlines = self._deadlines
            if deadlines is not None and len(deadlines) > 2 * len(self._pending) + 64:
                # answered requests linger in the heap until their deadline: sweep them
                deadlines[:] = [entry for entry in deadlines if not entry[2].done.is_set()]
                heapq.heapify(deadlines)
        response = pending.response
        if response is None:
            raise ConnectionClosed(f"Connection closed: {pending.closed}")
        if isinstance(response, JSONRPCErrorResponse):
            if pending.local:
                raise TransportError.from_error(response.error)
            raise PeerError.from_error(response.error)
        if result_type is msgspec.Raw:  # the caller decodes it: no copy
            return response.result  # type: ignore[return-value]
        return decode_result(response.result, result_type)

    def _watch(self, pending: _Pending) -> bool:
        """Put ``pending`` under the deadline watcher (started with the first request
        that has a deadline). ``False`` when the session is not running, so there is
        no watcher: the caller times itself."""
        if pending.deadline == math.inf or self._closed is not None:
            return True  # nothing to time, or the session's end settles it (done is set)
        if self._nursery is None:
            return False
        deadlines = self._deadlines
        if deadlines is None:
            deadlines = self._deadlines = []
            self._nursery.start_soon(self._watch_deadlines)
        heapq.heappush(deadlines, (pending.deadline, next(self._order), pending))
        if pending.deadline < self._earliest:
            self._rearm.set()
        return True

    async def _watch_deadlines(self) -> None:
        """Time out outgoing requests: one task sleeping until the earliest deadline
        instead of a timer per request. A request whose progress moved its deadline
        goes back into the heap."""
        deadlines = self._deadlines
        assert deadlines is not None
        while True:
            self._rearm = trio.Event()
            self._earliest = deadlines[0][0] if deadlines else math.inf
            with trio.move_on_at(self._earliest):
                await self._rearm.wait()
            now = trio.current_time()
            while deadlines and deadlines[0][0] <= now:
                _, _, pending = heapq.heappop(deadlines)
                if pending.done.is_set():
                    continue
                if pending.deadline > now:
                    heapq.heappush(deadlines, (pending.deadline, next(self._order), pending))
                    continue
                pending.timed_out = True
                pending.done.set()

    async def _cancel_outgoing(self, rid: RequestId, reason: str) -> None:
        if self._closed is not None:
            return
        frame = encode_notification(
            "notifications/cancelled", CancelledNotificationParams(request_id=rid, reason=reason)
        )
        shielded, bounded = trio.CancelScope(shield=True), trio.move_on_after(5)
        with shielded, bounded, contextlib.suppress(TransportClosed):
            await self.transport.send(frame, related=rid, final=True)


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


def _budget_message(ctx: McpContext) -> str:
    budget = ctx.budget()
    if budget.poll_quota <= 0:
        return "Request cancelled: its poll budget is spent"
    if budget.cost_quota <= 0:
        return "Request cancelled: its cost budget is spent"
    return "Request timed out"


def _with_progress_token(params: Any, token: RequestId) -> Any:
    if isinstance(params, msgspec.Struct) and hasattr(params, "meta"):
        meta = dict(getattr(params, "meta", None) or {})
        meta["progressToken"] = token
        return msgspec.structs.replace(params, meta=meta)
    if isinstance(params, dict):
        meta = dict(params.get("_meta") or {})
        meta["progressToken"] = token
        return {**params, "_meta": meta}
    if params is UNSET or params is None:
        return {"_meta": {"progressToken": token}}
    raise TypeError(f"cannot add a progress token to params of type {type(params).__name__}")
