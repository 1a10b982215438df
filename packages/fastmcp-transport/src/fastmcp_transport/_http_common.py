"""What the HTTP transports share: header names, and the hand-off to the server.

The Streamable HTTP server does not know what a tool is. For every "connection" it
opens - a legacy session (``Mcp-Session-Id``, 2025-11-25 and older), one modern
request (2026-07-28: one POST, one request), or a legacy HTTP+SSE stream - it makes a
``Transport`` and calls the ``ConnectionHandler`` it was given, which runs a
``fastmcp_core.Session`` on it until the transport closes. ``HttpConnectionInfo``
tells the handler what the HTTP layer knows (headers for header-to-body checks,
the authenticated principal, the session id).

Authorization is not the transport's business, but the transport carries its result.
An authorization layer in front of the app (an ASGI middleware, such as
``fastmcp_server.auth``) verifies the request's credentials and puts the
authenticated principal into the ASGI scope under ``SCOPE_PRINCIPAL``; the app copies
it into ``HttpConnectionInfo.principal``. A legacy session (and an HTTP+SSE stream)
is bound to the principal that opened it: a request naming the session with another
principal's credentials is refused with 403. Principals are told apart by their
``id`` attribute when they have one (``fastmcp_server.auth.AccessToken`` has), else
by equality, the same rule the core uses for request state and tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

import attrs

from fastmcp_core import HttpRequestInfo, Transport
from fastmcp_protocol import RequestId

__all__ = [
    "HEADER_LAST_EVENT_ID",
    "HEADER_METHOD",
    "HEADER_NAME",
    "HEADER_PROTOCOL_VERSION",
    "HEADER_SESSION_ID",
    "SCOPE_PRINCIPAL",
    "ConnectionHandler",
    "HttpConnectionInfo",
]

HEADER_SESSION_ID = "mcp-session-id"
HEADER_PROTOCOL_VERSION = "mcp-protocol-version"
HEADER_METHOD = "mcp-method"
HEADER_NAME = "mcp-name"
HEADER_LAST_EVENT_ID = "last-event-id"

_MAX_NOTED = 1024  # HTTP requests remembered per connection for requests not yet served

SCOPE_PRINCIPAL = "fastmcp.principal"
"""The ASGI scope key under which an authorization layer leaves the authenticated
principal of a request (absent or ``None``: unauthenticated)."""


@attrs.define(eq=False)
class HttpConnectionInfo:
    """What the HTTP layer knows about the connection a transport serves.

    Mutable in one respect only: a legacy session's ``principal`` is replaced by the
    newest credentials of the same principal (a refreshed or stepped-up token), so
    that a request sees the token it was sent with, not the one that opened the
    session. Everything else is fixed when the connection opens.
    """

    kind: Literal["modern", "legacy", "legacy-sse"]
    """``modern``: one 2026-07-28 request; ``legacy``: a Streamable HTTP session
    (2025-11-25 and older); ``legacy-sse``: an HTTP+SSE connection (2024-11-05)."""
    headers: Mapping[str, str]
    """The request headers of the POST (modern) or of the opening request (legacy),
    lower-cased names."""
    session_id: str | None = None
    protocol_version: str | None = None
    """The ``MCP-Protocol-Version`` header, if sent."""
    client: tuple[str, int] | None = None
    principal: Any = None
    """The authenticated principal when the server requires authorization (taken
    from the ASGI scope's ``SCOPE_PRINCIPAL``), else ``None``."""
    _requests: dict[RequestId, HttpRequestInfo] = attrs.field(init=False, factory=dict)

    def note_requests(
        self,
        request_ids: Iterable[RequestId],
        headers: Mapping[str, str],
        client: tuple[str, int] | None,
    ) -> None:
        """Remember the HTTP request that carried these JSON-RPC requests (a legacy
        session's later POSTs), for ``request_info``. At most ``_MAX_NOTED`` are
        kept: the oldest are forgotten first (a request never served, say)."""
        noted = self._requests
        request = HttpRequestInfo(headers, client)
        for request_id in request_ids:
            noted.pop(request_id, None)
            noted[request_id] = request
        while len(noted) > _MAX_NOTED:
            del noted[next(iter(noted))]

    def request_info(self, request_id: RequestId | None) -> HttpRequestInfo:
        """The HTTP request that carried ``request_id`` (taken: asked once per
        request), else the connection's own (its opening request)."""
        if request_id is not None:
            noted = self._requests.pop(request_id, None)
            if noted is not None:
                return noted
        return HttpRequestInfo(self.headers, self.client)


ConnectionHandler = Callable[[Transport, HttpConnectionInfo], Awaitable[None]]
"""Serves one connection until its transport closes (usually: run a Session)."""
