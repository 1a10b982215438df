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

A transport that has to understand what it carries (HTTP: which message ends a
request's stream, which HTTP status an answer gets) is a ``DirectTransport``: the
engine ``attach``es itself and then the boundary carries what each side knows
already, so that nobody decodes a frame twice:

* outgoing, ``send_described(frame, Outgoing(...))`` says what the frame is: its kind,
  the request it relates to, whether it is the last message about it, and the
  JSON-RPC error of an error response (nobody reads the frame back to learn it);
* incoming, the transport hands over the message it decoded already - pushed from the
  task that received it (``Inbound.deliver``: no hop through the engine's reader; or
  ``Inbound.serve``: the request's handler runs in that very task) or pulled by the
  engine (``receive_message``);
* ``Inbound.peer_gone(request_id)``: the peer can no longer receive anything about
  one request (an HTTP client closed that request's response); the engine cancels
  its handler as the peer's ``notifications/cancelled`` would, no frame made up.

A ``Reply`` is the outgoing half alone: where the answer to one request goes, for a
request served in its caller's task (``Exchanges``).

A transport whose input a waiting caller can read without a task of its own (a pipe:
stdio's client side) is a ``SharedReadTransport``: a caller of ``Session.request``
that finds nobody reading reads its response itself (``take_frame``, waiting with
``wait_readable``), so a sequential call needs one task woken, not two (the reader's,
then the caller's). It takes only responses; any other frame is put back
(``put_back``) for the engine's reader, which handles it in order.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypeAlias, runtime_checkable

import msgspec

from fastmcp_protocol import Error, JSONRPCMessage, JSONRPCRequest, MalformedMessage, RequestId

__all__ = [
    "DirectTransport",
    "Inbound",
    "IncomingMessage",
    "LocalErrorFrame",
    "MessageKind",
    "Outgoing",
    "Reply",
    "SharedReadTransport",
    "Transport",
]


class LocalErrorFrame(bytes):
    """A JSON-RPC error response the transport made itself, for a request whose answer
    it could not get; the peer sent no such thing. The session raises its error as a
    ``TransportError`` for the waiting caller (code, message and data as made here)."""

    __slots__ = ()


MessageKind: TypeAlias = Literal["request", "notification", "response"]
"""What an outgoing frame is (an array of responses to a batch is a ``response``)."""

IncomingMessage: TypeAlias = JSONRPCMessage | list[JSONRPCMessage | MalformedMessage]
"""A frame a transport decoded already: what ``decode_message`` made of it."""


class Outgoing(msgspec.Struct, frozen=True, gc=False):
    """What an outgoing frame is, told by the engine that wrote it (see the module
    docstring): a transport never reads a frame back to learn it."""

    kind: MessageKind
    related: RequestId | None = None
    """The inbound request it belongs to (its routing key), if any."""
    final: bool = False
    """The last message about ``related`` from this side (a response ends the
    request's stream; an empty frame ends it without a word)."""
    error: Error | None = None
    """The error of an error response (``None`` for a result and the other kinds)."""


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


class Inbound(Protocol):
    """The engine, as a direct transport (or a reply) calls it once attached."""

    async def deliver(self, message: IncomingMessage) -> None:
        """Take a message the transport has decoded, in the task that received it and
        in arrival order. A request is accepted as if the engine had read it (its
        handler runs in the engine's own task), a notification or a response is
        handled before this returns. Raises ``TransportClosed`` once the engine takes
        no more messages."""
        ...

    async def serve(self, request: JSONRPCRequest) -> None:
        """``deliver`` for a request whose handler runs in this task, to its end: for
        a transport whose task can carry the request (its stream cannot outlive
        it). Returns once it is answered (or refused). Raises ``TransportClosed``
        once the engine takes no more messages."""
        ...

    def peer_gone(self, request_id: RequestId, reason: str | None = None) -> None:
        """Nothing about inbound request ``request_id`` can reach the peer any more:
        its handler is cancelled as the peer's cancellation would cancel it (no
        answer). Unknown or finished requests are ignored."""
        ...


class Reply(Protocol):
    """Where the messages about one request go (see the module docstring)."""

    def attach(self, inbound: Inbound | None) -> None:
        """Called by the engine with itself before it sends anything (``None`` once
        it is done): from then on the reply tells it when its peer is gone."""
        ...

    async def send_described(self, frame: bytes, about: Outgoing) -> None:
        """Write one frame, knowing what it is; ``TransportClosed`` when it cannot."""
        ...


@runtime_checkable
class DirectTransport(Transport, Reply, Protocol):
    """A transport that hands the engine decoded messages and is told what it sends
    (see the module docstring). Until an engine attaches, it is a plain
    ``Transport``: its ``receive`` gives frames, as to any other reader."""

    async def receive_message(self) -> bytes | IncomingMessage:
        """The next message, decoded when the transport decoded it (else its frame),
        for the attached engine; raises ``TransportClosed`` at the end."""
        ...


@runtime_checkable
class SharedReadTransport(Transport, Protocol):
    """A transport whose frames a task other than the engine's reader may take, one
    task at a time (the engine decides whose turn it is; see the module docstring).
    ``receive`` gives the frames put back first."""

    @property
    def shares_reading(self) -> bool:
        """Whether others may read at all (``False``: the engine's reader reads alone,
        as from any ``Transport``)."""
        ...

    def take_frame(self) -> bytes | None:
        """The next frame without waiting: one buffered, else one completed by what
        the input holds now (read without blocking); ``None`` when none is there yet;
        ``b""`` at the end of input or after a failure (``receive`` then says which)."""
        ...

    async def wait_readable(self) -> None:
        """Wait until the input may have more (not a frame: call ``take_frame``).
        Cancelling it loses nothing; returns at once when the input is closed."""
        ...

    def interrupt(self) -> None:
        """Make a ``wait_readable`` in progress return now (nothing is read)."""
        ...

    def put_back(self, frame: bytes) -> None:
        """Put a frame taken back in front, for the next ``take_frame`` or ``receive``."""
        ...

    def buffered(self) -> bool:
        """Whether a complete frame waits (taken without reading)."""
        ...
