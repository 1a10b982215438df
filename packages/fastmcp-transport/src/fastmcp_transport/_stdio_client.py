"""stdio, client side: run an MCP server as a child process and talk to it.

``stdio_client(command)`` spawns the server with ``trio.lowlevel.open_process``
(argv, environment, working directory), speaks newline-delimited JSON on its stdin
and stdout, and keeps the tail of its stderr (or passes stderr through).

When the child exits or closes its stdout, ``receive`` raises ``TransportClosed``
whose message names the exit status and the last lines of stderr, so every request
waiting on it fails at once with an error a user can act on - never a hang.

Shutting down follows the MCP specification: close the child's stdin, wait
``shutdown_timeout`` (2 s by default), send SIGTERM, wait ``terminate_timeout``
(12 s by default), send SIGKILL. The numbers fit a fastmcp server: when its input
ends it stops gracefully, giving the requests in flight its grace (10 s by
default) and answering the rest within 2 s more; a SIGTERM meanwhile does not
shorten that (it is the first signal: the same graceful stop), so such a server
always gets its whole grace before SIGKILL. A server that ignores the end of its
input (many do) gets SIGTERM after 2 s, as the official SDKs do; an idle fastmcp
server exits at once when its stdin closes.

The child runs in a process group of its own (Unix): a Ctrl-C in the terminal
reaches this process, which stops the child as above, and not the child directly
(a fastmcp server that got the signal too would stop reading, so it would never
see the cancellations this side sends). SIGKILL goes to the whole group.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Literal

import attrs
import trio

from fastmcp_core import TransportClosed
from fastmcp_protocol import RequestId
from fastmcp_transport._lines import DEFAULT_MAX_LINE, LineSplitter, LineWriter, read_some

__all__ = ["StderrMode", "StdioClientTransport", "stdio_client"]

logger = logging.getLogger("fastmcp.stdio")

StderrMode = Literal["capture", "inherit"] | Callable[[str], object]
"""``"capture"``: keep the tail (reported when the child dies; lines are also logged
at DEBUG on the ``fastmcp.stdio`` logger); ``"inherit"``: the child writes to our
stderr; a callable: called with each line of the child's stderr (the tail is kept
too)."""

_CHUNK = 1 << 16
_TAIL_BYTES = 8192


@attrs.define(eq=False)
class StdioClientTransport:
    """The transport to a child process; made by ``stdio_client``."""

    process: trio.Process
    command: tuple[str, ...]
    max_line: int = DEFAULT_MAX_LINE
    shutdown_timeout: float = 2.0
    """Seconds the child gets to exit after its stdin closes, before SIGTERM."""
    terminate_timeout: float = 12.0
    """Seconds it gets after SIGTERM (a fastmcp server's grace and 2 s), before SIGKILL."""
    _lines: LineSplitter = attrs.field(init=False)
    _tail: bytearray = attrs.field(init=False, factory=bytearray)
    _stderr_done: trio.Event = attrs.field(init=False, factory=trio.Event)
    _writer: LineWriter | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._lines = LineSplitter(self.max_line)
        if self.process.stdin is not None:
            self._writer = LineWriter(self.process.stdin)

    @property
    def stderr_tail(self) -> str:
        """The last few KiB the child wrote to stderr (when captured)."""
        return self._tail.decode("utf-8", "replace")

    async def receive(self) -> bytes:
        lines = self._lines
        while True:
            if lines.lines:
                return lines.lines.popleft()
            self._report_dropped()
            stdout = self.process.stdout
            assert stdout is not None
            try:
                chunk = await read_some(stdout, _CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                chunk = b""
            if not chunk:
                raise TransportClosed(await self._why_closed("closed its stdout"))
            lines.feed(chunk)

    def _report_dropped(self) -> None:
        if self._lines.take_dropped():
            logger.warning(
                "%s: dropped an output line over %d bytes", self.command[0], self.max_line
            )

    # -- a caller reading its own response (``fastmcp_core.SharedReadTransport``) --------

    @property
    def shares_reading(self) -> bool:
        return type(self.process.stdout) is trio.lowlevel.FdStream

    def take_frame(self) -> bytes | None:
        lines = self._lines
        if lines.lines:
            return lines.lines.popleft()
        if lines.dropped:
            self._report_dropped()
        stdout = self.process.stdout
        if type(stdout) is not trio.lowlevel.FdStream:  # no reading without waiting
            return b""
        try:
            chunk = os.read(stdout.fileno(), _CHUNK)
        except BlockingIOError:
            return None
        except OSError:  # closed, or failed: ``receive`` finds out which
            return b""
        if not chunk:
            return b""
        return lines.feed_one(chunk)

    async def wait_readable(self) -> None:
        stdout = self.process.stdout
        if type(stdout) is trio.lowlevel.FdStream:
            fd = stdout.fileno()
            if fd >= 0:
                try:  # noqa: SIM105 (every call waits here: a ``suppress`` costs more)
                    await trio.lowlevel.wait_readable(fd)
                except (trio.ClosedResourceError, trio.BrokenResourceError, OSError):
                    pass  # interrupted, or closed: the next ``take_frame`` says which

    def interrupt(self) -> None:
        stdout = self.process.stdout
        if type(stdout) is trio.lowlevel.FdStream and stdout.fileno() >= 0:
            # wakes the waiter with ClosedResourceError, which ``wait_readable`` takes
            # for "look again"; the descriptor stays open and usable
            trio.lowlevel.notify_closing(stdout.fileno())

    def put_back(self, frame: bytes) -> None:
        self._lines.lines.appendleft(frame)

    def buffered(self) -> bool:
        return bool(self._lines.lines)

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        if not frame:
            return
        writer = self._writer
        if self._closed or writer is None:
            raise TransportClosed(await self._why_closed("is being shut down"))
        try:
            await writer.write(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise TransportClosed(await self._why_closed("stopped reading its stdin")) from None

    async def _why_closed(self, what: str) -> str:
        """Why the child went away: its exit status (waited for briefly) and stderr."""
        with trio.move_on_after(1.0):
            await self.process.wait()
        with trio.move_on_after(0.2):  # let the stderr pump read the last words
            await self._stderr_done.wait()
        code = self.process.returncode
        name = os.path.basename(self.command[0])
        if code is None:
            message = f"the server process ({name}) {what} but is still running"
        elif code < 0:
            try:
                signame = signal.Signals(-code).name
            except ValueError:
                signame = f"signal {-code}"
            message = f"the server process ({name}) was killed by {signame}"
        else:
            message = f"the server process ({name}) exited with code {code}"
        tail = self.stderr_tail.strip()
        if tail:
            lines = tail.splitlines()[-15:]
            message += "; last stderr lines:\n    " + "\n    ".join(lines)
        return message

    async def _pump_stderr(self, forward: Callable[[str], object] | None) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        pending = b""
        try:
            while True:
                try:
                    chunk = await stderr.receive_some(_CHUNK)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
                if not chunk:
                    break
                self._tail += chunk
                del self._tail[:-_TAIL_BYTES]
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    text = line.decode("utf-8", "replace").rstrip("\r")
                    if forward is not None:
                        forward(text)
                    else:
                        logger.debug("%s: %s", self.command[0], text)
        finally:
            self._stderr_done.set()

    async def aclose(self) -> None:
        """Shut the child down: close its stdin, wait ``shutdown_timeout``, SIGTERM,
        wait ``terminate_timeout``, SIGKILL (see the module docstring).
        Idempotent; not interrupted by cancellation."""
        if self._closed:
            return
        self._closed = True
        process = self.process
        with trio.CancelScope(shield=True):
            if self._writer is not None:
                await self._writer.aclose()
            with trio.move_on_after(self.shutdown_timeout):
                await process.wait()
            if process.returncode is None:
                process.terminate()
                with trio.move_on_after(self.terminate_timeout):
                    await process.wait()
            if process.returncode is None:
                _kill_group(process)
                await process.wait()
            if process.stdout is not None:
                await process.stdout.aclose()


def _kill_group(process: trio.Process) -> None:
    """SIGKILL the child and what it started (its process group, which it leads)."""
    if sys.platform != "win32":
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:  # gone already, or not the group leader after all
            pass
        else:
            return
    process.kill()


@asynccontextmanager
async def stdio_client(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    stderr: StderrMode = "capture",
    max_line: int = DEFAULT_MAX_LINE,
    shutdown_timeout: float = 2.0,
    terminate_timeout: float = 12.0,
) -> AsyncIterator[StdioClientTransport]:
    """Start ``command`` (an argv list) and yield the transport to it.

    ``env`` adds to (or, with ``inherit_env=False``, replaces) this process's
    environment. Raises ``OSError`` (e.g. ``FileNotFoundError``) when the command
    cannot be started. On exit the child is shut down (see ``aclose``: stdin closed,
    ``shutdown_timeout``, SIGTERM, ``terminate_timeout``, SIGKILL).
    """
    if not command:
        raise ValueError("stdio_client needs a command")
    full_env = {**os.environ, **(env or {})} if inherit_env else dict(env or {})
    capture = stderr != "inherit"
    process = await trio.lowlevel.open_process(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture else None,
        env=full_env,
        cwd=cwd,
        process_group=None if sys.platform == "win32" else 0,
    )
    transport = StdioClientTransport(
        process,
        tuple(command),
        max_line=max_line,
        shutdown_timeout=shutdown_timeout,
        terminate_timeout=terminate_timeout,
    )
    try:
        async with trio.open_nursery() as nursery:
            if capture:
                forward = stderr if callable(stderr) else None
                nursery.start_soon(transport._pump_stderr, forward)
            else:
                transport._stderr_done.set()
            try:
                yield transport
            finally:
                await transport.aclose()
    finally:
        if process.returncode is None:  # an error while starting the pump
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
