"""Noticing handlers that block the event loop, and saying which one.

Everything a server does runs in one trio thread, so a handler that blocks it
(``time.sleep``, a CPU loop with no ``await``, blocking I/O) stops every other
request, and no deadline can interrupt it: cancellation only lands at an ``await``.
The runtime cannot prevent that; it can make it visible.

Theory of operation. ``watch_event_loop(threshold)`` starts one daemon thread. Every
``threshold / 2`` seconds it asks the trio loop to run a no-op
(``TrioToken.run_sync_soon``) and waits for it. When the no-op has not run after
``threshold`` seconds, the loop is blocked: the thread looks at the loop thread's
stack (``sys._current_frames``), finds the request being served (the session
engine's frame) and the handler's frame, and logs one WARNING on the ``fastmcp``
logger; when the loop runs again it logs how long the stall lasted. A stall while no
request is being served (start-up, imports) is logged at DEBUG only: there is no
handler to name and nothing for the user to change. It
reads wall-clock time, never the trio clock, so it is indifferent to ``MockClock``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

import trio

__all__ = ["watch_event_loop"]

logger = logging.getLogger("fastmcp")

_FRAMEWORK = ("trio.", "fastmcp.", "fastmcp_")
"""Modules whose frames are the framework's, not the handler's."""

_SERVING = ("_serve", "_serve_inline")
"""The session engine's functions that serve one request (their ``ctx`` names it)."""


@contextlib.contextmanager
def watch_event_loop(threshold: float | None) -> Iterator[None]:
    """Watch the current trio loop for stalls longer than ``threshold`` seconds while
    the block runs (``None``: do nothing; nothing either when a watchdog already
    watches this loop). Must be entered in the trio thread."""
    if threshold is not None and threshold <= 0:
        raise ValueError("the blocking threshold must be positive (or None)")
    token = trio.lowlevel.current_trio_token()
    if threshold is None or token in _WATCHED:  # one watchdog per loop is enough
        yield
        return
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch,
        args=(token, threading.get_ident(), threshold, stop),
        name="fastmcp event-loop watchdog",
        daemon=True,
    )
    _WATCHED.add(token)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        _WATCHED.discard(token)


_WATCHED: set[trio.lowlevel.TrioToken] = set()
"""The loops a watchdog watches now (a server mounted in another, or two servers in
one process, share the first one's)."""


def _watch(
    token: trio.lowlevel.TrioToken, loop: int, threshold: float, stop: threading.Event
) -> None:
    while not stop.wait(threshold / 2):
        ran = threading.Event()
        try:
            token.run_sync_soon(ran.set)
        except trio.RunFinishedError:
            return
        if ran.wait(threshold) or stop.is_set():
            continue
        started = time.monotonic() - threshold
        frame = sys._current_frames().get(loop)
        where = _where(frame)
        del frame
        # a handler's doing: a warning; anything else (an import at start-up on a
        # loaded machine, say) is no handler's fault: debug only
        level = logging.WARNING if where.startswith(" by ") else logging.DEBUG
        logger.log(
            level,
            "the event loop has been blocked for %g s%s: every other request waits, and "
            "no deadline can interrupt code that does not await. Make the handler a plain "
            "'def' (it then runs in a worker thread), or move the blocking call to "
            "'await trio.to_thread.run_sync(...)'",
            threshold,
            where,
        )
        while not ran.wait(threshold):
            if stop.is_set():
                return
        logger.log(
            level, "the event loop ran again after %.3g s blocked", time.monotonic() - started
        )


def _where(frame: FrameType | None) -> str:
    """``" by tools/call (request 3), in slow() at server.py:12"``, as far as known:
    the request the session engine is serving, and the outermost frame of the user
    code it called (the handler, at the line it is on)."""
    request = ""
    handler: FrameType | None = None
    in_user_code = False
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        framework = module.startswith(_FRAMEWORK) or module in ("trio", "fastmcp")
        if not framework:
            if not in_user_code and handler is None:
                in_user_code = True
            if in_user_code:
                handler = frame
        elif in_user_code:
            in_user_code = False
        if frame.f_code.co_name in _SERVING and module == "fastmcp_core._session":
            ctx = frame.f_locals.get("ctx")
            method, rid = getattr(ctx, "method", None), getattr(ctx, "request_id", None)
            if method is not None:
                request = f" by {method} (request {rid!r})"
            break
        frame = frame.f_back
    if handler is None:
        return request
    where = f"{os.path.basename(handler.f_code.co_filename)}:{handler.f_lineno}"
    return f"{request}, in {handler.f_code.co_name}() at {where}"
