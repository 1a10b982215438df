"""The stack of the OAuth proxy tests, all on 127.0.0.1: an identity provider without
dynamic registration (the authlib server of ``oauth_server.py``, with a login page and
``/userinfo``), and the MCP server of ``protected_server.py`` behind an ``OAuthProxy``
whose client is registered there by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import servers
import trio
from oauth_server import OAuthServer, running
from protected_server import Effects, guarded_server

from fastmcp_server.auth import OAuthProxy

PROXY_CLIENT_ID = "mcp-proxy"
PROXY_CLIENT_SECRET = "proxy-secret-registered-once"


@attrs.frozen
class ProxyStack:
    upstream: OAuthServer
    proxy: OAuthProxy
    url: str
    """The MCP endpoint."""
    base: str
    """The proxy's base URL (its issuer)."""


@asynccontextmanager
async def proxy_stack(
    effects: Effects, *, upstream_pkce: bool = True, **options: Any
) -> AsyncIterator[ProxyStack]:
    """The identity provider (with PKCE or without), then the MCP server behind the
    proxy (``options`` go to ``OAuthProxy``)."""
    upstream = OAuthServer(registration=False, login_page=True, pkce=upstream_pkce)
    async with running(upstream), trio.open_nursery() as nursery:
        port = servers.free_port()
        base = f"http://127.0.0.1:{port}"
        upstream.add_client(PROXY_CLIENT_ID, PROXY_CLIENT_SECRET, [f"{base}/auth/callback"])
        settings: dict[str, Any] = {
            "base_url": base,
            "upstream_client_id": PROXY_CLIENT_ID,
            "upstream_client_secret": PROXY_CLIENT_SECRET,
            "upstream_authorization_endpoint": f"{upstream.base}/authorize",
            "upstream_token_endpoint": f"{upstream.base}/token",
            "upstream_userinfo_endpoint": f"{upstream.base}/userinfo",
            "upstream_issuer": upstream.base,
            "upstream_scopes": ["profile"],
            "upstream_name": "Test IdP",
            "required_scopes": ["mcp"],
            "scopes_supported": ["mcp", "files:write"],
            "resource_name": "Files",
        }
        settings.update(options)
        proxy = OAuthProxy(**settings)
        server = guarded_server(effects)
        address = await nursery.start(partial(server.serve_http, port=port, auth=proxy))
        yield ProxyStack(upstream, proxy, address.url, base)
        nursery.cancel_scope.cancel()
