"""fastmcp-core: the cancel-correct MCP runtime on trio.

``Budget`` (what a request may spend), ``Outcome`` (how a handler run ended: ``Ok``,
``Err``, ``Cancelled``, ``Panicked``) and the one table that puts outcomes on the
wire, ``McpContext`` (the capability a handler gets), and ``Session``: the one
JSON-RPC session engine that servers and clients share, over any ``Transport``
(``Exchanges``: its rules for requests that come without a session, one HTTP POST
each).
"""

import typing as _typing

from fastmcp_core._budget import Budget
from fastmcp_core._callbacks import call_callback, is_async_callable
from fastmcp_core._context import (
    Asker,
    ContextHost,
    Elicited,
    HttpRequestInfo,
    McpContext,
    Peer,
    TaskHooks,
    TestingContext,
)
from fastmcp_core._errors import (
    CONNECTION_CLOSED,
    REQUEST_TIMEOUT,
    ConnectionClosed,
    MissingCapability,
    ProtocolError,
    RequestTimeout,
    ToolError,
    TransportClosed,
    TransportError,
)
from fastmcp_core._forms import form_schema, read_form
from fastmcp_core._logs import RateLimitedLog, redacted
from fastmcp_core._mrtr import RequestStateSealer, binding_of
from fastmcp_core._outcome import (
    Cancelled,
    CancelReason,
    Err,
    InputRequired,
    Ok,
    Outcome,
    Panicked,
    answer_for,
    capture,
    response_for,
)
from fastmcp_core._session import Dispatcher, Exchange, Exchanges, ProgressCallback, Session
from fastmcp_core._transport import (
    DirectTransport,
    Inbound,
    IncomingMessage,
    LocalErrorFrame,
    MessageKind,
    Outgoing,
    Reply,
    SharedReadTransport,
    Transport,
)
from fastmcp_core._watchdog import watch_event_loop

if _typing.TYPE_CHECKING:
    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""
else:

    def __getattr__(name: str) -> str:
        if name == "__version__":  # read when asked: importlib.metadata is slow to import
            from importlib.metadata import version

            globals()[name] = value = version("fastmcp-core")
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Budget",
    "McpContext",
    "HttpRequestInfo",
    "TestingContext",
    "Elicited",
    "Peer",
    "TaskHooks",
    "ContextHost",
    "Asker",
    "Outcome",
    "Ok",
    "Err",
    "Cancelled",
    "Panicked",
    "CancelReason",
    "capture",
    "response_for",
    "answer_for",
    "InputRequired",
    "Session",
    "Exchanges",
    "Exchange",
    "Dispatcher",
    "ProgressCallback",
    "Transport",
    "DirectTransport",
    "SharedReadTransport",
    "Reply",
    "Inbound",
    "Outgoing",
    "MessageKind",
    "IncomingMessage",
    "LocalErrorFrame",
    "ProtocolError",
    "ToolError",
    "RequestTimeout",
    "ConnectionClosed",
    "MissingCapability",
    "TransportClosed",
    "TransportError",
    "REQUEST_TIMEOUT",
    "CONNECTION_CLOSED",
    "RequestStateSealer",
    "binding_of",
    "form_schema",
    "read_form",
    "call_callback",
    "is_async_callable",
    "watch_event_loop",
    "RateLimitedLog",
    "redacted",
]
