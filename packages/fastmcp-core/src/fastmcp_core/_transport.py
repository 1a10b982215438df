"""The transport interface: what the session engine needs to move frames.

A frame is one complete JSON-RPC message (or batch), UTF-8 JSON bytes without
framing. Transports own the framing (newline-delimited on stdio, HTTP bodies and SSE
events on HTTP) and the peer process or connection.

``related`` routes a message: it names the inbound request an outgoing message
belongs to (its response, its progress and log notifications, the server-to-client
requests it makes). Stdio ignores it and writes in order; HTTP puts the message on
that request's own response stream. ``final`` marks the last message about
``related`` from this side - a response, or a client's cancellation - so HTTP can end
that stream; ``send(b"", related=id, final=True)`` ends it without writing anything
(a request cancelled by the client gets no response).

A transport that cannot get the answer to one request, while the connection goes on
(HTTP: an exchange that broke, an HTTP status without a JSON-RPC error), answers that
request itself: ``receive`` returns the error response as a ``LocalErrorFrame``, so
that the caller gets a local ``TransportError``, never the peer's ``PeerError``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from fastmcp_protocol import RequestId

__all__ = ["LocalErrorFrame", "Transport"]


class LocalErrorFrame(bytes):
    """A JSON-RPC error response the transport made itself, for a request whose answer
    it could not get; the peer sent no such thing. The session raises its error as a
    ``TransportError`` for the waiting caller (code, message and data as made here)."""

    __slots__ = ()


@runtime_checkable
class Transport(Protocol):
    """Send and receive framed messages; close.

    ``receive`` raises ``TransportClosed`` once no frame can come any more (clean end
    of input included). ``send`` raises ``TransportClosed`` when the peer cannot be
    written to. Both may be called from many tasks at once; a transport serialises
    its writes. ``aclose`` is idempotent and never raises for an already-closed
    transport.
    """

    async def receive(self) -> bytes:
        """The next frame; raises ``TransportClosed`` at the end."""
        ...

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        """Write one frame (see the module docstring for ``related`` and ``final``)."""
        ...

    async def aclose(self) -> None:
        """Release the transport; pending ``receive`` calls raise ``TransportClosed``."""
        ...
