"""stdio, server side: MCP over the process's own stdin and stdout.

``stdio_server()`` takes the process's stdin and stdout for newline-delimited JSON
and, while it runs, points file descriptor 1 at stderr: a stray ``print()`` (or a
library writing to stdout, or a child process inheriting it) lands on stderr instead
of corrupting the message stream. On exit, stdout is restored.

Policies:

* a line longer than ``max_line`` bytes is dropped and answered with a -32600 error
  (id ``null``); reading goes on with the next line;
* bytes that are not UTF-8 JSON are the session engine's business: it answers
  -32700 with id ``null`` and goes on;
* end of input (stdin closed) ends ``receive``; the session then lets the requests
  in flight finish and writes their responses (bounded by their budgets), and the
  server exits with status 0;
* writes from concurrent handlers are coalesced: whoever holds the pen writes
  everything queued in one system call. A write, once started, is never
  interrupted by cancellation (a half-written line would corrupt the stream).
  What the reading task sends while lines of the last read are still to be taken
  (the answers of requests it serves itself, without a task each) is held back,
  without waiting, and written in one call with the next frame sent, or before
  ``receive`` waits for more input: a batch of requests read at once is answered
  in one write, and no answer waits for more input to come.

The descriptors are left as they were found: trio's ``FdStream`` puts the duplicated
descriptors in non-blocking mode, and a duplicate shares its file status flags with
the original (and, in a terminal, stdin, stdout and stderr are usually one open
file), so ``stdio_server()`` saves the flags of descriptors 0 and 1 before
(``DescriptorFlags``) and puts them back on the way out; otherwise the shell would be
left with a non-blocking terminal (``cat: -: Resource temporarily unavailable``).

Unix only (trio's ``FdStream``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio

from fastmcp_core import TransportClosed
from fastmcp_protocol import INVALID_REQUEST, RequestId, encode_error
from fastmcp_transport._lines import DEFAULT_MAX_LINE, LineSplitter, LineWriter, read_some

__all__ = ["DEFAULT_MAX_LINE", "DescriptorFlags", "StdioServerTransport", "stdio_server"]

_CHUNK = 1 << 16


@attrs.frozen
class DescriptorFlags:
    """The file status flags (``O_NONBLOCK``, ``O_APPEND``...) of some descriptors, as
    they were when ``save`` was called; ``restore`` puts them back.

    A descriptor that is closed (or not one) is skipped, both ways. Restoring is
    idempotent and safe from a signal path (plain ``fcntl`` calls, nothing async).
    """

    flags: tuple[tuple[int, int], ...] = ()

    @classmethod
    def save(cls, *fds: int) -> DescriptorFlags:
        if sys.platform == "win32":  # pragma: no cover - no fcntl there
            return cls()
        import fcntl

        saved = []
        for fd in fds:
            try:
                saved.append((fd, fcntl.fcntl(fd, fcntl.F_GETFL)))
            except OSError:
                continue
        return cls(tuple(saved))

    def restore(self) -> None:
        if sys.platform == "win32":  # pragma: no cover
            return
        import fcntl

        for fd, flags in self.flags:
            try:
                if fcntl.fcntl(fd, fcntl.F_GETFL) != flags:
                    fcntl.fcntl(fd, fcntl.F_SETFL, flags)
            except OSError:
                continue


@attrs.define(eq=False, repr=False)
class StdioServerTransport:
    """Newline-delimited JSON over a receive stream and a send stream."""

    _input: trio.abc.ReceiveStream
    _output: trio.abc.SendStream
    max_line: int = DEFAULT_MAX_LINE
    _lines: LineSplitter = attrs.field(init=False)
    _writer: LineWriter = attrs.field(init=False)
    _eof: bool = attrs.field(init=False, default=False)
    _closed: bool = attrs.field(init=False, default=False)
    _burst: bool = attrs.field(init=False, default=False)
    _receiver: trio.lowlevel.Task | None = attrs.field(init=False, default=None)
    """The task that took the last line (``receive``)."""

    def __attrs_post_init__(self) -> None:
        self._lines = LineSplitter(self.max_line, mark_drops=True)
        self._writer = LineWriter(self._output)

    async def receive(self) -> bytes:
        lines = self._lines
        while True:
            if lines.lines:
                line = lines.lines.popleft()
                if line:
                    self._receiver = trio.lowlevel.current_task()
                    return line
                await self._report_dropped()  # in its place among the answers
                continue
            if self._writer.holding:  # answers held back: out before waiting for input
                try:
                    await self._writer.flush()
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    self._eof = True
                    raise TransportClosed(f"stdout closed: {exc}") from None
            if self._eof or self._closed:
                raise TransportClosed("end of input (stdin closed)")
            try:
                chunk = await read_some(self._input, _CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._eof = True
                raise TransportClosed(f"stdin failed: {exc}") from None
            if not chunk:
                self._eof = True
                if lines.pending:
                    lines.feed(b"\n")  # a last line without its newline still counts
                continue
            lines.feed(chunk)
            # several requests in one read: their answers will come in a burst too
            self._burst = len(lines.lines) > 1

    async def _report_dropped(self) -> None:
        message = (
            f"Invalid request: a message longer than the {self.max_line} byte limit was dropped"
        )
        await self.send(encode_error(None, INVALID_REQUEST, message))

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        if not frame:
            return
        if self._closed:
            raise TransportClosed("stdout is closed")
        if (
            self._lines.lines
            and self._receiver is trio.lowlevel.current_task()
            and self._writer.hold(frame)
        ):  # the reader, with more lines to take: out with the next write or read
            return
        try:
            await self._writer.write(frame, gather=self._burst)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed(f"stdout closed: {exc}") from None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            await self._input.aclose()
            await self._writer.aclose()


@asynccontextmanager
async def stdio_server(
    *, max_line: int = DEFAULT_MAX_LINE, protect_stdout: bool = True
) -> AsyncIterator[StdioServerTransport]:
    """Serve MCP on this process's stdin/stdout for the duration of the block.

    With ``protect_stdout`` (the default), file descriptor 1 points at stderr inside
    the block, so nothing but MCP messages reaches the real stdout. On the way out
    (however the block ends) stdout is put back and the flags of descriptors 0 and 1
    are restored as they were found (see the module docstring).
    """
    if sys.platform == "win32":  # pragma: no cover - FdStream is Unix only
        raise RuntimeError("the stdio transport needs a Unix platform")
    found = DescriptorFlags.save(0, 1)  # before FdStream makes them non-blocking
    stdin_fd = os.dup(0)
    stdout_fd = os.dup(1)
    saved_stdout: int | None = None
    if protect_stdout:
        sys.stdout.flush()
        saved_stdout = os.dup(1)
        os.dup2(2, 1)
    transport = StdioServerTransport(
        trio.lowlevel.FdStream(stdin_fd), trio.lowlevel.FdStream(stdout_fd), max_line=max_line
    )
    try:
        yield transport
    finally:
        try:
            await transport.aclose()
        finally:
            if saved_stdout is not None:
                sys.stdout.flush()
                os.dup2(saved_stdout, 1)
                os.close(saved_stdout)
            found.restore()
