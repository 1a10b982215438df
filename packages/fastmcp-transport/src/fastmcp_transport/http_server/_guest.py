"""Trio code served by an asyncio host: one trio guest run per asyncio event loop.

Theory of operation. The apps of this package are trio code. An ASGI server on
asyncio (uvicorn, hypercorn's asyncio worker, FastAPI or Starlette on either) calls
them from asyncio tasks; there they run in a trio *guest run*
(``trio.lowlevel.start_guest_run``) on the host's own event loop: trio's scheduler
ticks as callbacks of the asyncio loop, in the same thread, so no request needs a
thread of its own (trio waits for its own I/O in one helper thread per run).

One ``TrioGuest`` per asyncio loop (a thread has at most one trio run), started on
first use:

* ``call(fn, *args)`` (from asyncio) runs ``await fn(*args)`` as a trio task in the
  guest and returns its result. Cancelling the asyncio caller cancels the trio task;
  the caller waits until that task has ended (its cleanup included), then raises
  ``CancelledError``.
* ``host(fn, *args)`` (from trio, inside the guest) runs ``await fn(*args)`` as an
  asyncio task in the host's context (the ASGI ``receive`` and ``send``), and
  returns its result. Cancelling the trio caller cancels the asyncio task.
* ``hold(factory)`` enters a trio async context manager for an asyncio ``async
  with`` block (a host framework's lifespan).

The guest ends when the last ``hold`` has ended and no call is in flight (a host
that runs lifespans ends them last), or, failing that, when the host loop shuts
down: an asyncio task (the anchor) waits for the run's end, and ``asyncio.run``
cancels every task left before closing its loop. Ending the guest first ends the
background work it ``keep``s (an app started on first use, see
``StreamableHTTPApp``: gracefully, within its grace, while the calls in flight go
on), then cancels what is left.

Invariants: every callback that enters the trio run goes through the run's token
(``run_sync_soon``), the one entry that wakes trio's I/O thread; a callback given to
trio never raises (that would crash the run); contexts: a trio task's context
marks it as trio (sniffio), so host coroutines run in the context of the asyncio
call they serve, never in the trio task's.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, TypeVar

import attrs
import sniffio
import trio

__all__ = ["TrioGuest", "in_trio", "on_any_host", "running_guest", "serve_in_guest"]

logger = logging.getLogger("fastmcp.http")

T = TypeVar("T")

_guests: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TrioGuest] = (
    weakref.WeakKeyDictionary()
)


_current: trio.lowlevel.RunVar[TrioGuest | None] = trio.lowlevel.RunVar(
    "fastmcp_trio_guest", default=None
)


def running_guest() -> TrioGuest | None:
    """The ``TrioGuest`` whose run the caller (a trio task) is in, if any."""
    return _current.get()


def in_trio() -> bool:
    """Whether the caller runs in a trio task; raises ``RuntimeError`` for a host that
    is neither trio nor asyncio."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        raise RuntimeError("the ASGI app must be called from trio or asyncio") from None
    if library == "trio":
        return True
    if library != "asyncio":
        raise RuntimeError(f"the ASGI app runs on trio or asyncio hosts, not on {library}")
    return False


class _HostCancelled(Exception):
    """The host cancelled an asyncio task the guest was waiting for (it shuts down)."""


@attrs.define(eq=False)
class _Call:
    """One asyncio caller's trio task: how to cancel it."""

    scope: trio.CancelScope | None = None
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


@attrs.define(eq=False)
class TrioGuest:
    """A trio guest run on an asyncio loop (see the module docstring)."""

    loop: asyncio.AbstractEventLoop
    _token: trio.lowlevel.TrioToken | None = None
    _nursery: trio.Nursery | None = None
    _keepers: trio.Nursery | None = None
    _ready: asyncio.Future[None] = attrs.field(init=False)
    _done: asyncio.Future[None] = attrs.field(init=False)
    _stop: trio.Event = attrs.field(factory=trio.Event)
    _calls: int = 0
    _holds: int = 0
    _held: bool = False
    _stopping: bool = False
    _pending: set[asyncio.Future[Any]] = attrs.field(factory=set)
    _anchor: asyncio.Task[None] | None = None

    def __attrs_post_init__(self) -> None:
        self._ready = self.loop.create_future()
        self._done = self.loop.create_future()

    # -- finding and starting --------------------------------------------------------

    @classmethod
    async def current(cls) -> TrioGuest:
        """The running guest of the current asyncio loop, started if there is none."""
        loop = asyncio.get_running_loop()
        guest = _guests.get(loop)
        while guest is not None and guest._stopping and not guest._done.done():
            await asyncio.shield(guest._done)  # one that ends serves no more: the next
            guest = _guests.get(loop)
        if guest is None or guest._done.done():
            guest = _guests[loop] = cls(loop)
            guest._start()
        await asyncio.shield(guest._ready)
        return guest

    def _start(self) -> None:
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=self.loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=self.loop.call_soon,
            done_callback=self._finished,
            # asyncio owns the wakeup fd (its signal handlers); trio must not take it
            host_uses_signal_set_wakeup_fd=True,
        )
        self._anchor = self.loop.create_task(self._until_host_ends(), name="fastmcp trio guest")

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        _current.set(self)
        async with trio.open_nursery() as nursery:
            async with trio.open_nursery() as keepers:
                self._nursery = nursery
                self._keepers = keepers
                if not self._ready.done():
                    self._ready.set_result(None)
                await self._stop.wait()
                # the background work first, gracefully, while the calls go on
                keepers.cancel_scope.cancel()
            self._keepers = None
            nursery.cancel_scope.cancel()
        self._nursery = None

    def keep(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``fn(*args)`` (in the guest) until the guest ends: it is cancelled then,
        before the calls still in flight, and ends gracefully (shielded) while they
        go on. Like a trio system task, it must not raise."""
        if self._keepers is None:
            raise RuntimeError("the trio guest run is ending")
        self._keepers.start_soon(fn, *args)

    def _finished(self, result: Any) -> None:  # an ``outcome.Outcome`` of ``_main``
        try:
            result.unwrap()
        except BaseException:
            logger.exception("the trio guest run failed")
        failure = RuntimeError("the trio guest run ended")
        for future in (self._ready, *self._pending):
            if not future.done():
                future.set_exception(failure)
        self._pending.clear()
        if not self._done.done():
            self._done.set_result(None)
        if _guests.get(self.loop) is self:
            del _guests[self.loop]

    async def _until_host_ends(self) -> None:
        try:
            await asyncio.shield(self._done)
        except asyncio.CancelledError:  # the host loop shuts down: end the guest first
            self._request_stop()
            if not self._done.done():
                await asyncio.shield(self._done)
            raise

    def _request_stop(self) -> None:
        if self._token is None or self._done.done():
            return
        self._stopping = True
        with suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._stop.set)

    def _release(self) -> None:
        if self._holds == 0 and self._held and self._calls == 0:
            self._request_stop()

    # -- asyncio -> trio -------------------------------------------------------------

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, holds: bool = False) -> T:
        """``await fn(*args)`` in the guest (see the module docstring); ``holds``: the
        call is a host's lifespan (its end may end the guest)."""
        result, call = self._submit(fn, args, holds)
        return await self._wait(result, call)

    def _submit(
        self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], holds: bool
    ) -> tuple[asyncio.Future[T], _Call]:
        token = self._token
        assert token is not None
        result: asyncio.Future[T] = self.loop.create_future()
        call = _Call()
        self._calls += 1
        self._held = self._held or holds
        self._pending.add(result)

        async def in_trio() -> None:
            try:
                with trio.CancelScope() as scope:
                    call.scope = scope
                    if call.cancelled:
                        scope.cancel()
                    value = await fn(*args)
                    if not result.done():
                        result.set_result(value)
                    return
                if not result.done():  # the asyncio caller cancelled it
                    result.cancel()
            except trio.Cancelled:  # the guest ends
                if not result.done():
                    result.set_exception(RuntimeError("the trio guest run ended"))
                raise
            except BaseException as exc:
                if not result.done():
                    result.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            finally:
                self._done_with(result)

        def start() -> None:
            nursery = self._nursery
            if nursery is None or self._stop.is_set():
                self._done_with(result)
                if not result.done():
                    result.set_exception(RuntimeError("the trio guest run is ending"))
                return
            nursery.start_soon(in_trio, name=getattr(fn, "__qualname__", None))

        token.run_sync_soon(start)
        return result, call

    def _done_with(self, result: asyncio.Future[Any]) -> None:
        self._calls -= 1
        self._pending.discard(result)
        self._release()

    async def _wait(self, result: asyncio.Future[T], call: _Call) -> T:
        """The result of a submitted call; cancelled, cancel the trio task and wait
        until it has ended."""
        try:
            return await asyncio.shield(result)
        except asyncio.CancelledError:
            if result.done() and not result.cancelled():
                raise
            if self._token is not None and not self._done.done():
                self._token.run_sync_soon(call.cancel)
            while not result.done():  # the trio task's cleanup runs to its end
                try:
                    await asyncio.shield(result)
                except asyncio.CancelledError:
                    continue
                except BaseException:
                    break
            raise

    def hold(
        self, factory: Callable[[], AbstractAsyncContextManager[Any]]
    ) -> AbstractAsyncContextManager[Any]:
        """``factory()`` (a trio async context manager) entered in the guest for the
        duration of an asyncio ``async with`` block; its value is the block's. A
        failure to enter is raised in the block's task; on exit the trio side exits
        normally (not cancelled), and the block waits for that."""
        return _hold(self, factory)

    # -- trio -> asyncio -------------------------------------------------------------

    async def host(
        self, context: contextvars.Context, fn: Callable[..., Awaitable[T]], *args: Any
    ) -> T:
        """``await fn(*args)`` as an asyncio task in ``context`` (called in the guest).
        Raises ``_HostCancelled`` when the host cancelled that task itself."""
        task = self.loop.create_task(_awaited(fn, *args), context=context.copy())
        if not task.done():
            done = trio.Event()
            token = self._token
            assert token is not None

            def wake(_: object) -> None:
                with suppress(trio.RunFinishedError):
                    token.run_sync_soon(done.set)

            task.add_done_callback(wake)
            try:
                await done.wait()
            except BaseException:
                task.cancel()
                with trio.CancelScope(shield=True):
                    await done.wait()
                raise
        if task.cancelled():
            raise _HostCancelled
        return task.result()


async def _awaited(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    return await fn(*args)


@asynccontextmanager
async def _hold(
    guest: TrioGuest, factory: Callable[[], AbstractAsyncContextManager[Any]]
) -> AsyncIterator[Any]:
    entered: asyncio.Future[Any] = guest.loop.create_future()
    leave = trio.Event()

    async def holding() -> None:
        async with factory() as value:
            if not entered.done():
                entered.set_result(value)
            await leave.wait()

    guest._holds += 1
    token = guest._token
    assert token is not None
    result, call = guest._submit(holding, (), True)
    try:
        await asyncio.wait({entered, result}, return_when=asyncio.FIRST_COMPLETED)
        if not entered.done():  # entering failed: the call's error says why
            result.result()
            raise RuntimeError("the lifespan ended while starting")
        yield entered.result()
    finally:
        guest._holds -= 1
        if not result.done():
            token.run_sync_soon(leave.set)  # the trio side leaves normally
        await guest._wait(result, call)


def on_any_host(
    factory: Callable[[], AbstractAsyncContextManager[T]],
) -> AbstractAsyncContextManager[T]:
    """``factory()`` (a trio async context manager) usable in ``async with`` on trio
    and on asyncio (entered in the loop's guest run there)."""
    return _on_any_host(factory)


@asynccontextmanager
async def _on_any_host(factory: Callable[[], AbstractAsyncContextManager[T]]) -> AsyncIterator[T]:
    if in_trio():
        async with factory() as value:
            yield value
        return
    guest = await TrioGuest.current()
    async with guest.hold(factory) as value:
        yield value


async def serve_in_guest(
    app: Callable[[Any, Any, Any], Awaitable[None]],
    scope: Any,
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    """Serve an ASGI call of an asyncio host with ``app``, trio code, in the loop's
    guest run. A ``receive`` the host cancels reads as the end (``http.disconnect``,
    ``lifespan.shutdown``); a ``send`` it cancels raises ``OSError`` (a write to a
    connection that is gone)."""
    guest = await TrioGuest.current()
    context = contextvars.copy_context()
    lifespan = scope.get("type") == "lifespan"
    end = {"type": "lifespan.shutdown" if lifespan else "http.disconnect"}

    async def guest_receive() -> Any:
        try:
            return await guest.host(context, receive)
        except _HostCancelled:
            return end

    async def guest_send(message: Any) -> None:
        try:
            await guest.host(context, send, message)
        except _HostCancelled:
            raise OSError("the host cancelled a write (it shuts down)") from None

    await guest.call(app, scope, guest_receive, guest_send, holds=lifespan)
