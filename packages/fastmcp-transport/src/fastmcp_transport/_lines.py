"""Newline-delimited JSON framing, shared by both ends of stdio.

Each frame is one line: UTF-8 JSON without embedded newlines (JSON encoders never
write a raw newline inside a message), ended by ``\\n``; a ``\\r`` before it is
tolerated, blank lines are skipped. A line longer than the limit is dropped up to its
end and reported, so one oversized message cannot take the stream down.

Reading and writing the pipes: ``read_some`` and ``LineWriter`` talk to a
``trio.lowlevel.FdStream`` with plain non-blocking ``os.read``/``os.write`` and wait
for the descriptor only when it is not ready. ``FdStream.receive_some``/``send_all``
first pass through the scheduler on every call, which costs a whole scheduler round
(an ``epoll_wait`` included) per message on each side. Other streams are used through
their ``trio.abc`` methods.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections import deque

import attrs
import trio

__all__ = ["LineSplitter", "LineWriter", "read_some"]

DEFAULT_MAX_LINE = 16 * 1024 * 1024  # 16 MiB


@attrs.define(eq=False, repr=False)
class LineSplitter:
    """Feed it chunks, take complete lines; counts the lines it had to drop.

    With ``mark_drops``, a dropped line leaves an empty line (``b""``, never a line
    otherwise: blank lines are skipped) in its place in ``lines`` instead of counting
    in ``dropped``, for a reader that answers each line in order.
    """

    max_line: int = DEFAULT_MAX_LINE
    lines: deque[bytes] = attrs.field(factory=deque)
    dropped: int = 0
    """Oversized lines dropped since the last ``take_dropped``."""
    mark_drops: bool = attrs.field(default=False, kw_only=True)
    _partial: list[bytes] = attrs.field(factory=list)
    _partial_size: int = 0
    _skipping: bool = False

    def feed(self, chunk: bytes | bytearray) -> None:
        if (
            not self._partial
            and not self._skipping
            and chunk.endswith(b"\n")
            and len(chunk) <= self.max_line
        ):  # the common case: whole lines, none too long
            for piece in bytes(chunk).split(b"\n")[:-1]:
                if piece.endswith(b"\r"):
                    piece = piece[:-1]
                if piece and not piece.isspace():
                    self.lines.append(piece)
            return
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._keep(bytes(chunk[start:]))
                return
            piece = bytes(chunk[start:end])
            start = end + 1
            if self._skipping:
                self._skipping = False
                self._partial.clear()
                self._partial_size = 0
                continue
            if self._partial:
                if self._partial_size + len(piece) > self.max_line:
                    self._partial.clear()
                    self._partial_size = 0
                    self._drop()
                    continue
                self._partial.append(piece)
                piece = b"".join(self._partial)
                self._partial.clear()
                self._partial_size = 0
            elif len(piece) > self.max_line:
                self._drop()
                continue
            if piece.endswith(b"\r"):
                piece = piece[:-1]
            if piece and not piece.isspace():
                self.lines.append(piece)

    def feed_one(self, chunk: bytes) -> bytes | None:
        """``feed(chunk)``, then the first complete line taken (``None``: none yet).
        A chunk that is one whole line, the usual answer to a request, goes
        straight back without passing through ``lines``."""
        if (
            not self.lines
            and not self._partial
            and not self._skipping
            and chunk.find(b"\n") == len(chunk) - 1
            and len(chunk) <= self.max_line
        ):
            line = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1]
            return line if line and not line.isspace() else None
        self.feed(chunk)
        return self.lines.popleft() if self.lines else None

    def _keep(self, rest: bytes) -> None:
        if not rest or self._skipping:
            return
        self._partial.append(rest)
        self._partial_size += len(rest)
        if self._partial_size > self.max_line:
            self._partial.clear()
            self._partial_size = 0
            self._skipping = True
            self._drop()

    def _drop(self) -> None:
        if self.mark_drops:
            self.lines.append(b"")
        else:
            self.dropped += 1

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped

    @property
    def pending(self) -> bool:
        """Whether an incomplete line is buffered (for reporting a truncated end)."""
        return bool(self._partial) or self._skipping


async def read_some(stream: trio.abc.ReceiveStream, max_bytes: int) -> bytes | bytearray:
    """``stream.receive_some(max_bytes)``; ``b""`` at end of input.

    For an ``FdStream`` it reads at once when data is waiting (a cancel point only if
    the caller was cancelled; the caller yields to other tasks on its own schedule)
    and waits for the descriptor otherwise. A closed stream raises
    ``trio.ClosedResourceError``, a failed read ``trio.BrokenResourceError``.
    """
    if type(stream) is not trio.lowlevel.FdStream:
        return await stream.receive_some(max_bytes)
    while True:
        try:
            data = os.read(stream.fileno(), max_bytes)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(stream.fileno())
            continue
        except OSError as exc:
            if exc.errno == errno.EBADF:
                raise trio.ClosedResourceError("file was already closed") from None
            raise trio.BrokenResourceError from exc
        await trio.lowlevel.checkpoint_if_cancelled()
        return data


def _write_now(stream: trio.lowlevel.FdStream, data: bytes) -> int:
    """Write what an ``FdStream`` takes without waiting; how many bytes that was."""
    try:
        return os.write(stream.fileno(), data)
    except BlockingIOError:
        return 0
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise trio.ClosedResourceError("file was already closed") from None
        raise trio.BrokenResourceError from exc


@attrs.define(eq=False, repr=False)
class LineWriter:
    """Coalescing, uninterruptible writes of newline-terminated frames.

    When nothing is being written and the pipe has room, ``write`` writes the frame at
    once, without waiting (an ``FdStream``). Otherwise the frame is queued, and
    whoever holds the pen writes everything queued in one call; a write, once
    started, is never interrupted by cancellation (half a line would corrupt the
    stream). Beyond ``high_water`` queued bytes, writers wait for the queue to drain.
    After a failed write every ``write`` raises ``trio.BrokenResourceError``.
    """

    stream: trio.abc.SendStream
    high_water: int = 4 * 1024 * 1024
    _held: list[bytes] = attrs.field(factory=list)
    """Frames ``hold`` kept back: written first by the next write (or ``flush``)."""
    _held_size: int = 0
    _queue: list[bytes] = attrs.field(factory=list)
    _queued: int = 0
    _writing: bool = False
    _drained: trio.Event = attrs.field(factory=trio.Event)
    _failed: str | None = None
    _fd_stream: trio.lowlevel.FdStream | None = attrs.field(init=False)
    """The stream again when it is an ``FdStream`` (written to without waiting)."""

    def __attrs_post_init__(self) -> None:
        stream = self.stream
        self._fd_stream = stream if isinstance(stream, trio.lowlevel.FdStream) else None

    async def write(self, frame: bytes, *, gather: bool = False) -> None:
        """Write ``frame`` and a newline (see the class docstring).

        ``gather``: more frames are probably on their way (their writers are about
        to run), so the first writer lets them queue before it writes them all in one
        call instead of one call each.
        """
        if self._failed is not None:
            raise trio.BrokenResourceError(self._failed)
        fd_stream = self._fd_stream
        if fd_stream is not None and not self._held and not self._writing and not gather:
            # the usual case: nothing else to write, the pipe has room
            data = frame + b"\n"
            try:
                written = os.write(fd_stream.fileno(), data)
            except OSError:  # full, closed or broken: ``_put`` finds out which
                written = 0
            if written != len(data):
                await self._put(data[written:], False)
            return
        if self._held:  # they go first, in one call with this one
            self._held += (frame, b"\n")
            data = b"".join(self._held)
            self._held.clear()
            self._held_size = 0
        else:
            data = frame + b"\n"
        await self._put(data, gather)

    def hold(self, frame: bytes) -> bool:
        """Keep ``frame`` (and its newline) back without writing or waiting: the next
        ``write`` or ``flush`` writes it, first, in the same call. Whoever holds a
        frame must see to that flush. ``False`` (nothing done): the frames held
        already reach ``high_water``, or the writer failed; ``write`` it instead."""
        if self._failed is not None or self._held_size > self.high_water:
            return False
        self._held += (frame, b"\n")
        self._held_size += len(frame) + 1
        return True

    @property
    def holding(self) -> bool:
        """Whether frames are held back (see ``hold``)."""
        return bool(self._held)

    async def flush(self) -> None:
        """Write the frames held back (see ``hold``); nothing when there are none."""
        if not self._held:
            return
        if self._failed is not None:
            raise trio.BrokenResourceError(self._failed)
        data = b"".join(self._held)
        self._held.clear()
        self._held_size = 0
        await self._put(data, False)

    async def _put(self, data: bytes, gather: bool) -> None:
        """Write ``data`` (whole lines), or queue it for whoever holds the pen."""
        if self._writing:
            self._queue.append(data)
            self._queued += len(data)
            if self._queued > self.high_water:  # backpressure on a slow reader
                await self._drained.wait()
            return
        waited = False  # once we have waited, others may be waiting for us
        self._writing = True
        try:
            if gather:
                self._queue.append(data)
                waited = True
                await trio.lowlevel.cancel_shielded_checkpoint()  # the others queue meanwhile
                data = b"".join(self._queue)
                self._queue.clear()
                self._queued = 0
            if self._fd_stream is not None:
                written = _write_now(self._fd_stream, data)
                if written == len(data):
                    return
                data = data[written:]
            self._queue.append(data)
            self._queued += len(data)
            waited = True
            with trio.CancelScope(shield=True):
                while self._queue:
                    data = b"".join(self._queue)
                    self._queue.clear()
                    self._queued = 0
                    await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._failed = str(exc) or type(exc).__name__
            raise
        finally:
            self._writing = False
            if waited:
                self._drained.set()
                self._drained = trio.Event()

    async def aclose(self) -> None:
        """Close the stream once the write in progress (if any) and the frames held
        back are written (as far as the stream takes them)."""
        with trio.CancelScope(shield=True):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.flush()
            while self._writing:
                await self._drained.wait()
            await self.stream.aclose()
