"""fastmcp-transport: moving framed MCP messages over trio.

Every transport implements ``fastmcp_core.Transport`` (receive a frame, send a frame
with its routing, close):

* ``memory_pair()``: two connected ends in one process;
* ``stdio_server()``: this process's stdin/stdout (the server side);
* ``stdio_client(argv)``: a child process's stdin/stdout (the client side).

The HTTP transports import lazily, from their own subpackages:
``fastmcp_transport.http_server`` (an ASGI app for Streamable HTTP in both protocol
eras and the legacy HTTP+SSE transport, and a runner on hypercorn's trio worker) and
``fastmcp_transport.http_client`` (both, on httpx).
"""

import importlib as _importlib
import typing as _typing

from fastmcp_transport._lines import DEFAULT_MAX_LINE, LineSplitter
from fastmcp_transport._stdio import DescriptorFlags, StdioServerTransport, stdio_server

if _typing.TYPE_CHECKING:
    from fastmcp_transport._http_common import (
        HEADER_LAST_EVENT_ID,
        HEADER_METHOD,
        HEADER_NAME,
        HEADER_PROTOCOL_VERSION,
        HEADER_SESSION_ID,
        SCOPE_PRINCIPAL,
        ConnectionHandler,
        HttpConnectionInfo,
    )
    from fastmcp_transport._memory import MemoryTransport, memory_pair
    from fastmcp_transport._sse import SSEEvent, SSEParser, encode_event
    from fastmcp_transport._stdio_client import StderrMode, StdioClientTransport, stdio_client

    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""

# Loaded on first use: a server over stdio (this process's stdin/stdout) needs none of them.
_LAZY = {
    **dict.fromkeys(
        [
            "HEADER_LAST_EVENT_ID",
            "HEADER_METHOD",
            "HEADER_NAME",
            "HEADER_PROTOCOL_VERSION",
            "HEADER_SESSION_ID",
            "SCOPE_PRINCIPAL",
            "ConnectionHandler",
            "HttpConnectionInfo",
        ],
        "_http_common",
    ),
    **dict.fromkeys(["MemoryTransport", "memory_pair"], "_memory"),
    **dict.fromkeys(["SSEEvent", "SSEParser", "encode_event"], "_sse"),
    **dict.fromkeys(["StderrMode", "StdioClientTransport", "stdio_client"], "_stdio_client"),
}


if not _typing.TYPE_CHECKING:  # (for mypy, the names above and nothing else)

    def __getattr__(name: str) -> _typing.Any:
        if name == "__version__":  # read when asked: importlib.metadata is slow to import
            from importlib.metadata import version

            globals()[name] = value = version("fastmcp-transport")
            return value
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(_importlib.import_module(f"fastmcp_transport.{module}"), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_MAX_LINE",
    "LineSplitter",
    "MemoryTransport",
    "memory_pair",
    "StdioServerTransport",
    "stdio_server",
    "DescriptorFlags",
    "StdioClientTransport",
    "StderrMode",
    "stdio_client",
    "SSEEvent",
    "SSEParser",
    "encode_event",
    "ConnectionHandler",
    "HttpConnectionInfo",
    "HEADER_SESSION_ID",
    "HEADER_PROTOCOL_VERSION",
    "HEADER_METHOD",
    "HEADER_NAME",
    "HEADER_LAST_EVENT_ID",
    "SCOPE_PRINCIPAL",
]
