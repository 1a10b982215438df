"""The server side of MCP over HTTP: an ASGI app for trio, and a runner for it.

``StreamableHTTPApp(connect)`` serves, on one endpoint and chosen per request, the
stateless Streamable HTTP of 2026-07-28 (each POST one request, answered as JSON or
as an SSE stream, cancelled when the client closes it) and the session-based
Streamable HTTP of 2025-03-26 to 2025-11-25 (``Mcp-Session-Id``, GET streams,
resumable SSE with ``Last-Event-ID``), and on two more endpoints the HTTP+SSE
transport of 2024-11-05. ``connect`` gets a ``fastmcp_core.Transport`` and an
``HttpConnectionInfo`` for every connection and runs a session on it.

Any ASGI server runs it: on asyncio ones (uvicorn, hypercorn's asyncio worker, in
FastAPI or Starlette) it runs in a trio guest run on the host's loop;
``FrontedApp(front, app)`` does the same for the app behind ASGI layers of trio code
(an authorization layer). ``Route``: a custom route beside the MCP endpoint (an
``HttpRequest`` in, a ``str``, ``bytes``, JSON or an ``HttpResponse`` out).
``serve_http(connect_or_app, port=0)`` runs it on hypercorn's trio worker;
``serve_h1`` (same arguments) on our own lean HTTP/1.1 server (``H1Server``, which
serves any ASGI 3 app, with the limits and timeouts of ``H1Limits``).

Example::

    async def connect(transport, info):
        await Session(transport, dispatcher).run()

    trio.run(partial(serve_http, connect, port=8000))
"""

from fastmcp_transport.http_server._app import (
    DEFAULT_MAX_BODY_SIZE,
    FrontedApp,
    StreamableHTTPApp,
)
from fastmcp_transport.http_server._event_store import (
    EventStore,
    InMemoryEventStore,
    Replay,
    StoredEvent,
)
from fastmcp_transport.http_server._h1 import ClientDisconnected, H1Limits
from fastmcp_transport.http_server._h1_server import H1Server, LifespanFailed, serve_h1
from fastmcp_transport.http_server._http import ClientGone, HttpError, read_body
from fastmcp_transport.http_server._legacy_sse import SSETransport
from fastmcp_transport.http_server._modern import (
    DEFAULT_NAME_HEADERS,
    decode_header_value,
    status_for_error,
)
from fastmcp_transport.http_server._oneshot import RequestTransport
from fastmcp_transport.http_server._routes import HttpRequest, HttpResponse, Route
from fastmcp_transport.http_server._runner import ServerAddress, serve_http
from fastmcp_transport.http_server._security import (
    LOCAL_HOSTS,
    LOCAL_ORIGINS,
    DnsRebindingProtection,
)
from fastmcp_transport.http_server._sessions import SessionTransport

__all__ = [
    "StreamableHTTPApp",
    "FrontedApp",
    "Route",
    "HttpRequest",
    "HttpResponse",
    "serve_http",
    "serve_h1",
    "H1Server",
    "H1Limits",
    "LifespanFailed",
    "ClientDisconnected",
    "ServerAddress",
    "DnsRebindingProtection",
    "LOCAL_HOSTS",
    "LOCAL_ORIGINS",
    "EventStore",
    "InMemoryEventStore",
    "Replay",
    "StoredEvent",
    "RequestTransport",
    "SessionTransport",
    "SSETransport",
    "decode_header_value",
    "status_for_error",
    "DEFAULT_NAME_HEADERS",
    "DEFAULT_MAX_BODY_SIZE",
    "read_body",
    "ClientGone",
    "HttpError",
]
