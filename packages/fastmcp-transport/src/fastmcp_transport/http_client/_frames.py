"""What the HTTP clients read from the frames they carry, and the errors they make up.

A transport must not parse whole messages (that is the session engine's job), but
HTTP needs a few facts about each one: an outgoing frame's kind, id and method, the
name or uri mirrored into ``Mcp-Name``, the protocol version in ``_meta``, and the
arguments of a ``tools/call`` (only when that tool has ``Mcp-Param-*`` rules); an
incoming frame's id, to know when the response a stream exists for has come. Each
is read in one msgspec pass over small structs that skip everything else.

When HTTP fails a request in a way that carries no JSON-RPC answer (a status
without an error body, a lost connection, a stream that ends too early), the
caller must not wait forever: ``error_frame`` makes the JSON-RPC error response
the session engine then hands to the waiting caller, as a ``LocalErrorFrame`` so that
it raises a local ``TransportError``, not a ``PeerError``: the server said no such
thing. An error the server did send (``reply_error_frame``) stays the server's.
"""

from __future__ import annotations

from typing import Any

import msgspec

from fastmcp_core import LocalErrorFrame
from fastmcp_protocol import (
    INTERNAL_ERROR,
    META_PROTOCOL_VERSION,
    UNSET,
    Error,
    RequestId,
    UnsetType,
    encode_error,
)

__all__ = [
    "Incoming",
    "Outgoing",
    "error_frame",
    "http_error_frame",
    "peek_incoming",
    "peek_outgoing",
    "reply_error_frame",
]


class _Meta(msgspec.Struct, gc=False):
    protocol_version: Any = msgspec.field(default=UNSET, name=META_PROTOCOL_VERSION)


class _Params(msgspec.Struct, gc=False):
    name: Any = UNSET
    uri: Any = UNSET
    task_id: Any = msgspec.field(default=UNSET, name="taskId")
    arguments: msgspec.Raw | UnsetType = UNSET
    request_id: Any = msgspec.field(default=UNSET, name="requestId")
    meta: _Meta | UnsetType = msgspec.field(default=UNSET, name="_meta")


class Outgoing(msgspec.Struct, gc=False):
    """The facts the HTTP client needs about a frame it sends."""

    id: int | str | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    params: _Params | UnsetType = UNSET

    @property
    def is_request(self) -> bool:
        return self.request_id() is not None

    def request_id(self) -> RequestId | None:
        """The id, when the frame is a request (has a method and an id)."""
        if self.method is UNSET or self.id is UNSET:
            return None
        return self.id

    def routed_name(self) -> str | None:
        """The ``Mcp-Name`` source: ``params.name`` (tools, prompts), ``params.uri``
        (resources/read) or ``params.taskId`` (tasks/get, tasks/update, tasks/cancel)."""
        params = self.params
        if params is UNSET:
            return None
        if self.method == "resources/read":
            value = params.uri
        elif isinstance(self.method, str) and self.method.startswith("tasks/"):
            value = params.task_id
        else:
            value = params.name
        return value if isinstance(value, str) else None

    def meta_version(self) -> str | None:
        """``params._meta["io.modelcontextprotocol/protocolVersion"]``, if present."""
        params = self.params
        if params is UNSET or params.meta is UNSET:
            return None
        version = params.meta.protocol_version
        return version if isinstance(version, str) else None

    def cancelled_id(self) -> RequestId | None:
        """The request a ``notifications/cancelled`` names."""
        params = self.params
        if params is UNSET or not isinstance(params.request_id, int | str):
            return None
        return params.request_id


_OPAQUE = Outgoing()
_outgoing_decoder = msgspec.json.Decoder(Outgoing)


def peek_outgoing(frame: bytes) -> Outgoing:
    """The facts of an outgoing frame; an empty ``Outgoing`` for a frame that is not
    one JSON-RPC object (a batch, or bytes the session chose to send as they are)."""
    try:
        return _outgoing_decoder.decode(frame)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return _OPAQUE


class Incoming(msgspec.Struct, gc=False):
    """The facts the HTTP client needs about a frame it receives."""

    id: int | str | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    error: msgspec.Raw | UnsetType = UNSET

    def answers(self, request_id: RequestId) -> bool:
        """Whether this is the response to ``request_id``."""
        return self.method is UNSET and self.id == request_id


_incoming_decoder = msgspec.json.Decoder(Incoming)
_error_decoder = msgspec.json.Decoder(Error)


def peek_incoming(frame: bytes | str) -> Incoming | None:
    """The facts of an incoming frame, or ``None`` if it is not one JSON object."""
    try:
        return _incoming_decoder.decode(frame)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None


def error_frame(
    request_id: RequestId, code: int, message: str, data: Any = UNSET
) -> LocalErrorFrame:
    """A JSON-RPC error response to ``request_id``, made up by the transport."""
    return LocalErrorFrame(encode_error(request_id, code, message, data))


def reply_error_frame(request_id: RequestId, body: bytes) -> bytes | None:
    """The server's own JSON-RPC error in ``body``, addressed to ``request_id``.

    Servers often answer a rejected POST with an error whose ``id`` is ``null`` or
    missing (they reject before reading the id). That error still belongs to this
    request, and its code matters (``-32022`` lists the versions the server speaks,
    ``-32020`` names a header mismatch). Returns ``body`` itself when it already
    answers ``request_id``, ``None`` when it is not a JSON-RPC error response.
    """
    peek = peek_incoming(body)
    if peek is None or peek.error is UNSET or peek.method is not UNSET:
        return None
    if peek.answers(request_id):
        return body
    if peek.id is not UNSET and peek.id is not None:
        return None  # an answer to some other request: not ours to re-address
    try:
        error = _error_decoder.decode(peek.error)
    except msgspec.DecodeError:
        return None
    return encode_error(request_id, error.code, error.message, error.data)


_BODY_EXCERPT = 300


def http_error_frame(
    request_id: RequestId, method: str, url: str, status: int, reason: str, body: bytes
) -> LocalErrorFrame:
    """The error for an HTTP status that came without a JSON-RPC error body.

    Code -32603, a message naming the status and the start of the body, and
    ``data = {"httpStatus": status}`` so a client can tell an HTTP failure (and which)
    from an error the server sent.
    """
    text = body[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
    message = f"HTTP {status} {reason} from {method} {url}".rstrip()
    if text:
        message += f": {text}"
    return error_frame(request_id, INTERNAL_ERROR, message, {"httpStatus": status})
