"""Error codes, and ``McpError``: the root of every error that can travel as JSON-RPC.

``McpError`` lives here, in the sans-IO layer, because decoding alone can produce
protocol errors (bad JSON, a bad envelope, bad params). ``fastmcp_core`` extends the
hierarchy with runtime errors (timeouts, closed connections, tool errors).
"""

from __future__ import annotations

from typing import Any

from fastmcp_protocol._base import UNSET, Error

__all__ = [
    "HEADER_MISMATCH",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "MISSING_REQUIRED_CLIENT_CAPABILITY",
    "PARSE_ERROR",
    "RESOURCE_NOT_FOUND",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "URL_ELICITATION_REQUIRED",
    "MalformedMessage",
    "McpError",
]

# JSON-RPC 2.0
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# MCP
RESOURCE_NOT_FOUND = -32002
"""Resource not found, up to 2025-11-25 (2026-07-28 uses -32602 instead)."""
HEADER_MISMATCH = -32020
"""HTTP headers disagree with the body, or required headers are missing (2026-07-28)."""
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
"""The request needs a client capability the client did not declare (2026-07-28)."""
UNSUPPORTED_PROTOCOL_VERSION = -32022
"""The request's protocol version is not supported; ``data`` lists the supported ones."""
URL_ELICITATION_REQUIRED = -32042
"""A URL-mode elicitation must complete first (2025-11-25 only)."""


class McpError(Exception):
    """An error with a JSON-RPC code, a message and optional data.

    Raised by the codec for malformed input, by the runtime for protocol errors,
    and received by callers when the peer answered with an error response.
    """

    code: int
    message: str
    data: Any

    def __init__(self, code: int, message: str, data: Any = UNSET) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_error(self) -> Error:
        """The ``error`` member of the JSON-RPC response that reports this error."""
        return Error(code=self.code, message=self.message, data=self.data)

    @classmethod
    def from_error(cls, error: Error) -> McpError:
        """The error a peer reported in an error response."""
        return cls(error.code, error.message, error.data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})"


class MalformedMessage(McpError):
    """A frame that is not a valid JSON-RPC message (-32700 or -32600).

    ``request_id`` is the frame's id when it could still be read, else ``None``:
    the error response answers that id (``null`` when unknown).
    """

    request_id: str | int | None

    def __init__(self, code: int, message: str, request_id: str | int | None = None) -> None:
        super().__init__(code, message)
        self.request_id = request_id
