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

import typing as _typing

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
from fastmcp_transport._lines import DEFAULT_MAX_LINE, LineSplitter
from fastmcp_transport._memory import MemoryTransport, memory_pair
from fastmcp_transport._sse import SSEEvent, SSEParser, encode_event
from fastmcp_transport._stdio import DescriptorFlags, StdioServerTransport, stdio_server
from fastmcp_transport._stdio_client import StderrMode, StdioClientTransport, stdio_client

if _typing.TYPE_CHECKING:
    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""
else:

    def __getattr__(name: str) -> str:
        if name == "__version__":  # read when asked: importlib.metadata is slow to import
            from importlib.metadata import version

            globals()[name] = value = version("fastmcp-transport")
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
