"""The byte pipes under ``H1Connection``: plain TCP on a socket, or a trio stream (TLS).

Theory of operation. Plain TCP is the hot path, so ``SocketIO`` drives a
non-blocking stdlib socket with trio's I/O waits (``trio.lowlevel.wait_readable``,
``wait_writable``): a read tries the socket first and waits only when it has
nothing; a write that the kernel takes whole returns at once, without a cancel
scope or a trip through the scheduler, and only a write the kernel cannot take
waits, under its deadline. ``StreamIO`` offers the same to any ``trio.abc.Stream``
(``trio.SSLStream`` for HTTPS) at the price of trio's own checkpoints.

Both report the end of the peer's data, a reset, or a close from under a waiting
task as ``b""`` from ``receive`` and as ``PeerGone`` from the writes. Neither reads
or writes from two tasks at once (``H1Connection`` guarantees it). ``waited`` tells
whether an operation since it was last cleared gave other tasks a turn; the
connection yields once per request when none did, so that a client that always has
bytes ready cannot starve the others.
"""

from __future__ import annotations

import socket
from typing import Protocol

import trio

__all__ = ["IO", "PeerGone", "SocketIO", "StreamIO"]


class PeerGone(Exception):
    """The peer cannot be written to (a reset, a close, a write past its deadline)."""


class IO(Protocol):
    waited: bool

    async def receive(self, size: int) -> bytes | bytearray:
        """Some bytes; ``b""`` at the end of input (or a reset). A checkpoint only
        when nothing was there yet."""
        ...

    async def send(self, data: bytes, timeout: float) -> bool:
        """Write all of ``data`` within ``timeout`` seconds (``PeerGone`` otherwise);
        whether it had to wait (a checkpoint then)."""
        ...

    async def send_eof(self) -> None: ...

    async def aclose(self) -> None:
        """Close at once (cancelled or not)."""
        ...


class SocketIO:
    """Plain TCP on a non-blocking stdlib socket (see the module docstring)."""

    __slots__ = ("sock", "waited")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.waited = False

    async def receive(self, size: int) -> bytes | bytearray:
        sock = self.sock
        while True:
            try:
                return sock.recv(size)
            except BlockingIOError:
                pass
            except OSError:  # a reset, or closed under us
                return b""
            self.waited = True
            try:
                await trio.lowlevel.wait_readable(sock)
            except trio.ClosedResourceError:
                return b""

    async def send(self, data: bytes, timeout: float) -> bool:
        sock = self.sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise PeerGone(str(exc)) from exc
        if sent == len(data):
            return False
        self.waited = True
        with trio.move_on_after(timeout) as scope, memoryview(data) as view:
            while sent < len(view):
                try:
                    await trio.lowlevel.wait_writable(sock)
                    sent += sock.send(view[sent:])
                except BlockingIOError:
                    continue
                except (OSError, trio.ClosedResourceError) as exc:
                    raise PeerGone(str(exc)) from exc
        if scope.cancelled_caught:
            raise PeerGone("the client did not read its response in time")
        return True

    async def send_eof(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise PeerGone(str(exc)) from exc

    async def aclose(self) -> None:
        if self.sock.fileno() != -1:
            trio.lowlevel.notify_closing(self.sock)
            self.sock.close()


class StreamIO:
    """Any ``trio.abc.Stream`` (TLS); see the module docstring."""

    __slots__ = ("stream", "waited")

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.waited = True

    async def receive(self, size: int) -> bytes | bytearray:
        try:
            return await self.stream.receive_some(size)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def send(self, data: bytes, timeout: float) -> bool:
        with trio.move_on_after(timeout) as scope:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise PeerGone(str(exc)) from exc
        if scope.cancelled_caught:
            raise PeerGone("the client did not read its response in time")
        return True

    async def send_eof(self) -> None:
        # TLS has no half-close that HTTP clients expect: close_notify is the end
        try:
            await self.stream.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise PeerGone(str(exc)) from exc

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)
