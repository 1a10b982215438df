"""The process part of serving: what ``run_stdio``/``run_http`` (and so ``fastmcp run``)
do around the server while it owns the process.

Theory of operation. ``run_until_stopped(serve, grace=..., on_ready=...)``:

1. saves the flags of descriptors 0, 1 and 2 (``DescriptorFlags``) before anything
   touches them, and puts them back on every way out, the forced one included: a
   terminal is never left non-blocking;
2. runs ``serve(task_status)`` in ``trio.run`` with SIGINT and SIGTERM taken by a
   signal receiver installed first, so that no ``KeyboardInterrupt`` lands in the
   middle of the server; ``serve`` reports where it serves (``"stdio"`` or a URL)
   and ``on_ready`` announces it. A signal the process was started with ignored
   stays ignored (a shell starts background jobs with SIGINT ignored, so that a
   Ctrl-C meant for the foreground does not stop them; Python does the same);
3. on the first signal prints one line on stderr and cancels ``serve``, which stops
   gracefully (``Server.serve_stdio``/``serve_http`` drain: the requests in flight
   get ``grace`` seconds and the rest are answered with the shutdown error); then
   it returns, and the process exits with status 0;
4. on a second signal it stops at once: descriptors restored, one more line,
   ``os._exit(128 + signal)`` (130 for a second Ctrl-C) - masked sections included,
   that is what a second signal is for;
5. a ``KeyboardInterrupt`` that lands before the receiver is in place (trio still
   starting) is one line and ``SystemExit(130)``, never a traceback;
6. once the server is ready, moves every object alive then out of the garbage
   collector's sight (``gc.freeze()``): modules, classes, the server and its
   components live as long as the process, and the collections that the requests'
   short-lived objects trigger no longer walk them each time (about a tenth of the
   CPU of a small request). Nothing is held that would otherwise be freed but
   garbage cycles made before that point, which stay until serving ends.

Exceptions of ``serve`` propagate; one alone in exception groups (a port in use,
say) propagates unwrapped.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import trio

from fastmcp_transport import DescriptorFlags

__all__ = ["address_line", "run_until_stopped", "stdio_hint"]

Serve = Callable[[trio.TaskStatus[str]], Awaitable[None]]
"""Serves until cancelled (then stops gracefully); reports where it serves."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_until_stopped(serve: Serve, *, grace: float, on_ready: Callable[[str], object]) -> None:
    """Run ``serve`` in this process until it ends or a signal stops it (see the
    module docstring). Returns normally after a graceful stop."""
    found = DescriptorFlags.save(0, 1, 2)
    taken = tuple(s for s in _SIGNALS if signal.getsignal(s) is not signal.SIG_IGN)
    try:
        trio.run(_main, serve, grace, on_ready, found, taken)
    except BaseException as exc:
        found.restore()
        if _interrupted(exc):
            _say("fastmcp: interrupted (Ctrl-C) before the server was ready")
            raise SystemExit(130) from None
        alone = _alone(exc)
        if alone is not exc:
            raise alone from None
        raise
    found.restore()


async def _main(
    serve: Serve,
    grace: float,
    on_ready: Callable[[str], object],
    found: DescriptorFlags,
    taken: tuple[signal.Signals, ...],
) -> None:
    async with trio.open_nursery() as nursery:
        serving = trio.CancelScope()
        if taken:
            signals = await nursery.start(_receive_signals, taken)
            nursery.start_soon(_watch, signals, serving, grace, found)
        with serving, _frozen_while_serving() as freeze:
            async with trio.open_nursery() as inner:
                where: str = await inner.start(serve)
                on_ready(where)
                freeze()
        nursery.cancel_scope.cancel()  # served to the end: stop watching


@contextlib.contextmanager
def _frozen_while_serving() -> Iterator[Callable[[], None]]:
    """Point 6 of the module docstring: ``freeze()`` once ready; the objects go back
    to the collector's sight when serving ends (the process may go on: a test)."""
    frozen = False

    def freeze() -> None:
        nonlocal frozen
        gc.freeze()
        frozen = True

    try:
        yield freeze
    finally:
        if frozen:
            gc.unfreeze()


async def _receive_signals(
    taken: tuple[signal.Signals, ...], *, task_status: trio.TaskStatus[Any]
) -> None:
    """Hold the signal receiver (installed before ``serve`` starts) until cancelled."""
    with trio.open_signal_receiver(*taken) as signals:
        task_status.started(signals)
        await trio.sleep_forever()


async def _watch(
    signals: Any, serving: trio.CancelScope, grace: float, found: DescriptorFlags
) -> None:
    stopping = False
    async for signum in signals:
        name = signal.Signals(signum).name
        if not stopping:
            stopping = True
            _say(
                f"fastmcp: {name} received, stopping: requests in flight have "
                f"{grace:g} s to finish (Ctrl-C again to stop now)"
            )
            serving.cancel()
            continue
        found.restore()
        _say(f"fastmcp: {name} again, stopping now")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(128 + signum)


def stdio_hint(name: str, where: str) -> None:
    """The line a person sees when they start a stdio server in a terminal (and
    nothing otherwise: a client's pipe is not a terminal)."""
    try:
        interactive = os.isatty(0)
    except OSError:
        interactive = False
    if not interactive:
        return
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else "server.py"
    _say(
        f"fastmcp: {name} is an MCP server on stdio, waiting for a client on stdin "
        f"(try: fastmcp dev {script}, or fastmcp call {script} TOOL key=value); "
        "Ctrl-C stops it"
    )


def address_line(name: str, url: str) -> None:
    """The line that says where the HTTP server ``name`` listens."""
    _say(f"fastmcp: {name} serving MCP on {url} (Ctrl-C to stop)")


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no stderr: nobody to tell
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``KeyboardInterrupt`` (with cancellations around it)."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [e for e in exc.exceptions if not isinstance(e, trio.Cancelled)]
        return bool(leaves) and all(_interrupted(e) for e in leaves)
    return isinstance(exc, KeyboardInterrupt)


def _alone(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
