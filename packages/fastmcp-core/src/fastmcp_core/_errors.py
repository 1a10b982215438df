"""The error hierarchy: one root, ``McpError``, with a JSON-RPC code on every error.

::

    McpError (fastmcp_protocol)          code, message, data
      MalformedMessage (fastmcp_protocol)  a frame that is not a valid message
      ProtocolError                        always a JSON-RPC error, even from a tool
        MissingCapability                  the peer lacks a capability (-32021)
      ToolError                            a tool failed; the model sees the message
      RequestTimeout                       a budget or timeout ran out (-32001)
      ConnectionClosed                     the peer went away (-32000)
    TransportClosed (not an McpError)      raised by transports; the engine turns it
                                           into ConnectionClosed for waiting callers
"""

from __future__ import annotations

from typing import Any

from fastmcp_protocol import (
    INTERNAL_ERROR,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    UNSET,
    ClientCapabilities,
    McpError,
    MissingRequiredClientCapabilityData,
)

__all__ = [
    "CONNECTION_CLOSED",
    "REQUEST_TIMEOUT",
    "ConnectionClosed",
    "McpError",
    "MissingCapability",
    "ProtocolError",
    "RequestTimeout",
    "ToolError",
    "TransportClosed",
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


class RequestTimeout(McpError):
    """The budget of a request ran out (deadline, poll quota or cost quota)."""

    def __init__(self, message: str = "Request timed out", data: Any = UNSET) -> None:
        super().__init__(REQUEST_TIMEOUT, message, data)


class ConnectionClosed(McpError):
    """The connection closed before the answer came; the message says why."""

    def __init__(self, message: str = "Connection closed") -> None:
        super().__init__(CONNECTION_CLOSED, message)


class MissingCapability(ProtocolError):
    """The peer did not declare a capability this request needs (-32021)."""

    def __init__(self, message: str, required: ClientCapabilities) -> None:
        super().__init__(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            message,
            MissingRequiredClientCapabilityData(required_capabilities=required),
        )
        self.required = required


class TransportClosed(Exception):
    """Raised by a transport when it can receive no more frames.

    ``str(exc)`` says why in words a user can act on: end of input, a child process
    that exited with its code and the tail of its stderr, a connection reset.
    """
