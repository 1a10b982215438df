"""The runtime's errors: those a handler raises to answer, and those of a request.

They extend the hierarchy rooted in ``fastmcp_protocol.FastMcpError`` (its module
docstring draws all of it): ``ToolError`` and ``ProtocolError`` are raised by handlers
to answer with; ``RequestTimeout`` and ``ConnectionClosed`` are what a request that
got no answer raises, local errors (``LocalError``) with the codes the MCP SDKs use
for them, and ``TransportError`` what one whose answer the transport could not get
raises; ``TransportClosed`` is what a transport raises once it can move no more
frames (the session turns it into ``ConnectionClosed`` for the requests waiting).
What the peer answered with is a ``fastmcp_protocol.PeerError``.
"""

from __future__ import annotations

from typing import Any

from fastmcp_protocol import (
    INTERNAL_ERROR,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    UNSET,
    ClientCapabilities,
    LocalError,
    McpError,
    MissingRequiredClientCapabilityData,
)

__all__ = [
    "CONNECTION_CLOSED",
    "REQUEST_TIMEOUT",
    "ConnectionClosed",
    "MissingCapability",
    "ProtocolError",
    "RequestTimeout",
    "ToolError",
    "TransportClosed",
    "TransportError",
]

REQUEST_TIMEOUT = -32001
"""The request's budget (deadline, polls or cost) ran out before it finished.

The code the MCP SDKs already use for request timeouts, so existing clients recognise
it. It lies in the -32000..-32019 range that the 2026-07-28 specification keeps for
codes allocated before it; we allocate nothing new there.
"""

CONNECTION_CLOSED = -32000
"""The connection to the peer closed while a request was waiting for its answer.

A local error (the peer never sent it), with the code the MCP SDKs use for it.
"""


class ProtocolError(McpError):
    """An error in the exchange itself (not in the work a handler does).

    Raised inside a tool it still becomes a JSON-RPC error, not an ``isError`` result:
    a missing client capability, a tampered ``requestState``, malformed input
    responses.
    """


class ToolError(McpError):
    """Raised in a tool to report a failure the model should see.

    The message goes into the tool result with ``isError: true`` and is never
    masked, unlike the message of an unexpected exception.
    """

    def __init__(self, message: str, data: Any = UNSET) -> None:
        super().__init__(INTERNAL_ERROR, message, data)


class RequestTimeout(LocalError, McpError):
    """No answer in time: the budget of a request ran out (deadline, poll quota or cost
    quota); a request sent to the peer was cancelled there (``notifications/cancelled``)."""

    def __init__(self, message: str = "Request timed out", data: Any = UNSET) -> None:
        super().__init__(REQUEST_TIMEOUT, message, data)


class ConnectionClosed(LocalError, McpError):
    """The connection closed before the answer came (or was never open); the message
    says why: a child process's exit status and the tail of its stderr, say."""

    def __init__(self, message: str = "Connection closed") -> None:
        super().__init__(CONNECTION_CLOSED, message)


class TransportError(LocalError, McpError):
    """The transport could not get this request's answer, and said so itself: an HTTP
    exchange that broke or ended without a response (-32000), an HTTP status that came
    without a JSON-RPC error (-32603, ``data`` is ``{"httpStatus": status}``), a body
    that is no MCP message (-32603). The peer sent no such error; the connection may
    still serve the next request."""


class MissingCapability(ProtocolError, LocalError):
    """The peer did not declare a capability this request needs (-32021); raised here,
    before anything is sent (``ctx.sample`` to a client without sampling, say)."""

    def __init__(self, message: str, required: ClientCapabilities) -> None:
        super().__init__(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            message,
            MissingRequiredClientCapabilityData(required_capabilities=required),
        )
        self.required = required


class TransportClosed(LocalError):
    """Raised by a transport when it can receive no more frames.

    ``str(exc)`` says why in words a user can act on: end of input, a child process
    that exited with its code and the tail of its stderr, a connection reset.
    """
