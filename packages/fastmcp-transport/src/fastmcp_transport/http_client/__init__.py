"""HTTP client transports on httpx under trio: Streamable HTTP and legacy HTTP+SSE.

* ``streamable_http_client(url)``: the Streamable HTTP transport, in the modern era
  (2026-07-28: one POST per request, ``MCP-Protocol-Version``/``Mcp-Method``/
  ``Mcp-Name``/``Mcp-Param-*`` headers, cancellation by closing the response stream)
  and the legacy one (2025-03-26 to 2025-11-25: ``Mcp-Session-Id``, the standalone
  GET stream, resumable streams with ``Last-Event-ID``), chosen per request.
* ``sse_client(url)``: the deprecated HTTP+SSE transport of 2024-11-05.

Both yield a ``fastmcp_core.Transport`` to run a ``fastmcp_core.Session`` on. A
JSON-RPC error the server sent with an HTTP error status reaches its caller as the
server's (``PeerError``); when HTTP fails one request without such an answer (a
broken exchange, a status without a JSON-RPC error: ``data`` then holds
``{"httpStatus": ...}``), the caller gets a local ``fastmcp_core.TransportError`` and
the connection goes on. A server that forgot the session closes the transport with
``SessionExpired``.

Importing this module imports httpx; ``fastmcp_transport`` itself does not.
"""

from fastmcp_transport.http_client._headers import (
    InvalidParamHeader,
    ParamHeader,
    encode_header_value,
    param_header_value,
    tool_param_headers,
)
from fastmcp_transport.http_client._http import SessionExpired
from fastmcp_transport.http_client._legacy_sse import SseClientTransport, sse_client
from fastmcp_transport.http_client._streamable import (
    Era,
    StreamableHttpTransport,
    streamable_http_client,
)

__all__ = [
    "streamable_http_client",
    "StreamableHttpTransport",
    "Era",
    "sse_client",
    "SseClientTransport",
    "SessionExpired",
    "ParamHeader",
    "InvalidParamHeader",
    "tool_param_headers",
    "encode_header_value",
    "param_header_value",
]
