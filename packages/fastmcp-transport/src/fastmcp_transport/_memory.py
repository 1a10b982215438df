"""The in-memory transport: two connected ends in one process.

For in-process clients of a server (``Client(server)``) and for tests. Frames are
passed as they are (no copy, no framing). Closing one end makes the other end's
``receive`` raise ``TransportClosed`` once the frames already sent are read, and its
``send`` raise ``TransportClosed`` at once.
"""

from __future__ import annotations

import attrs
import trio

from fastmcp_core import TransportClosed
from fastmcp_protocol import RequestId

__all__ = ["MemoryTransport", "memory_pair"]


@attrs.define(eq=False)
class MemoryTransport:
    """One end of an in-memory pair (see ``memory_pair``)."""

    _inbox: trio.MemoryReceiveChannel[bytes]
    _outbox: trio.MemorySendChannel[bytes]
    name: str = "memory"

    async def receive(self) -> bytes:
        try:
            return await self._inbox.receive()
        except trio.EndOfChannel:
            raise TransportClosed(f"{self.name}: the other end closed") from None
        except trio.ClosedResourceError:
            raise TransportClosed(f"{self.name}: this end is closed") from None

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        if not frame:
            return
        try:
            await self._outbox.send(frame)
        except trio.BrokenResourceError:
            raise TransportClosed(f"{self.name}: the other end closed") from None
        except trio.ClosedResourceError:
            raise TransportClosed(f"{self.name}: this end is closed") from None

    async def aclose(self) -> None:
        await self._outbox.aclose()
        await self._inbox.aclose()


def memory_pair(max_buffer: int = 1024) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected transports; each buffers up to ``max_buffer`` frames in flight
    before ``send`` waits (backpressure)."""
    a_to_b_send, a_to_b_receive = trio.open_memory_channel[bytes](max_buffer)
    b_to_a_send, b_to_a_receive = trio.open_memory_channel[bytes](max_buffer)
    return (
        MemoryTransport(b_to_a_receive, a_to_b_send, name="memory (client end)"),
        MemoryTransport(a_to_b_receive, b_to_a_send, name="memory (server end)"),
    )
