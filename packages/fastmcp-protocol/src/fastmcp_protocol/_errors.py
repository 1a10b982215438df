"""Error codes, and the one root of every exception fastmcp raises.

Two questions tell the errors apart: did the *peer* say it, and does it carry a
JSON-RPC code. ``PeerError`` is what the other side answered (a JSON-RPC error
response, code, message and data as it sent them); ``LocalError`` is everything that
went wrong on this side instead (the connection closed, the time ran out, a result
that cannot be used, a configuration that cannot work): the peer sent no such error.
``McpError`` is anything with a code: every ``PeerError``, the errors a handler raises
to answer with (``ToolError``, ``ProtocolError``), and the local errors of a request
(they carry the code the MCP SDKs use for them, so that a proxy or a handler that lets
them through answers with it). Each class lives in the lowest package that raises it::

    FastMcpError                         the root: ``except FastMcpError`` catches them all
    |-- McpError                         code, message, data; raised in a handler, it is
    |   |                                the answer (the Outcome table of fastmcp_core)
    |   |-- PeerError                    THE PEER SAID IT: the error response it sent
    |   |-- MalformedMessage             a frame that is no JSON-RPC message (-32700/-32600)
    |   |-- ToolError (core)             raise in a tool: an ``isError`` result for the model
    |   `-- ProtocolError (core)         raise: a JSON-RPC error, even from a tool
    |       `-- MissingCapability (core) also local: the peer lacks a capability (-32021)
    |-- LocalError                       IT WENT WRONG HERE: the peer said no such thing
    |   |-- ConnectionClosed (core)      also McpError (-32000): the peer went away
    |   |-- RequestTimeout (core)        also McpError (-32001): no answer in time
    |   |-- TransportError (core)        also McpError: the transport could not get
    |   |                                this one answer (an HTTP exchange that broke)
    |   |-- UnexpectedResult             also McpError (-32602): an answer we cannot use
    |   |-- TransportClosed (core)       a transport can move no more frames
    |   |-- StoreUnavailable             (core.store) also McpError (-32603): the shared
    |   |                                store (Redis) cannot be reached now
    |   |-- LogGap (core.store)          events asked for were forgotten
    |   |   `-- SessionExpired           (transport.http_client) the server forgot us
    |   |-- InvalidParamHeader           (transport.http_client) also ValueError: a
    |   |                                tool's x-mcp-header annotations break the rules
    |   |-- ClientError (client)         also McpError: ToolCallError, TaskFailed,
    |   |                                IncompatibleServer, InputRequiredError, ...
    |   |-- ConfigError (client)         also ValueError: a target that cannot work
    |   |-- OAuthError (client.auth)     also httpx.HTTPError: no token could be had
    |   |-- VerifierUnavailable          (server.auth) a token verifier cannot decide now
    |   |-- UpstreamError                (server.auth) an OAuth proxy's identity provider
    |   |                                refused or failed (the client gets server_error)
    |   `-- StoreFull                    (server.auth) an OAuth proxy's store is full (503)
    `-- InvalidToken (server.auth)       a token verifier refuses the peer's token (401)

So ``except PeerError`` handles the server's (or, in a handler, the client's) refusal,
``except LocalError`` the failures of this side, and ``except McpError`` what it
always caught: every error that has a code. One exception stands outside:
``fastmcp_core.InputRequired`` is no error but the signal that ends an input-required
round (like ``trio.Cancelled``, it must not be caught by ``except FastMcpError``).
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
    "FastMcpError",
    "LocalError",
    "MalformedMessage",
    "McpError",
    "PeerError",
    "UnexpectedResult",
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


class FastMcpError(Exception):
    """The root of every exception fastmcp's packages raise (see the module docstring)."""


class LocalError(FastMcpError):
    """Something went wrong on this side: the peer sent no such error.

    A category to catch: the concrete errors (``ConnectionClosed``, ``RequestTimeout``,
    ``UnexpectedResult``, ``ConfigError``...) derive from it, those of a request also
    from ``McpError``.
    """


class McpError(FastMcpError):
    """An error with a JSON-RPC code, a message and optional data.

    Raised in a handler, it is the handler's answer (a JSON-RPC error; in a tool an
    ``isError`` result). Raised by the codec for malformed input and by the runtime for
    protocol errors. A caller receives a ``PeerError`` when the peer answered with an
    error response, and the local errors of a request (``RequestTimeout``,
    ``ConnectionClosed``, ``UnexpectedResult``...) are ``McpError`` too.
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
        """The exception for the ``error`` member of a response (``PeerError.from_error``
        for one the peer sent)."""
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


class PeerError(McpError):
    """The peer answered a request with this JSON-RPC error.

    ``code``, ``message`` and ``data`` are exactly what it sent. Raised by every
    request a session sends: a client's calls, and a server's questions to its client
    (``ctx.sample``, ``ctx.elicit``, ``ctx.list_roots``). Not raised for an answer
    that never came (``ConnectionClosed``, ``RequestTimeout``) nor for one this side
    cannot use (``UnexpectedResult``). Let through a handler, it is answered as any
    ``McpError``: with its code, message and data.
    """


class UnexpectedResult(LocalError, McpError):
    """The peer's answer has a shape this side cannot use (-32602): a result that does
    not decode into its type, structured content that does not fit, an unknown
    ``resultType``, a pagination cursor that repeats. The peer reported no error."""

    def __init__(self, message: str) -> None:
        super().__init__(INVALID_PARAMS, message)
