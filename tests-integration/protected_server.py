"""The MCP server the authorization tests protect, and the stack they run: the
authorization server of ``oauth_server.py``, then this server trusting it, on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import attrs
import trio
from oauth_server import OAuthServer, running

from fastmcp_core import McpContext
from fastmcp_server import Server
from fastmcp_server.auth import AccessToken, BearerAuth, JWTVerifier


@attrs.define
class Effects:
    deleted: list[str] = attrs.field(factory=list)
    principals: list[AccessToken] = attrs.field(factory=list)


def guarded_server(effects: Effects) -> Server:
    server = Server("files", "1.0")

    @server.tool
    async def whoami(ctx: McpContext) -> str:
        assert isinstance(ctx.principal, AccessToken)
        effects.principals.append(ctx.principal)
        return ctx.principal.subject or ""

    @server.tool(scopes=["files:write"])
    async def delete(path: str) -> str:
        effects.deleted.append(path)
        return f"deleted {path}"

    return server


@asynccontextmanager
async def stack(effects: Effects) -> AsyncIterator[tuple[OAuthServer, str]]:
    """The authorization server, then the MCP server trusting it; yields both URLs."""
    async with running(OAuthServer()) as authorization_server, trio.open_nursery() as nursery:
        issuer = authorization_server.base
        auth = BearerAuth(
            verifier=JWTVerifier(issuer=issuer, jwks_uri=f"{issuer}/jwks", token_type="at+jwt"),
            authorization_servers=[issuer],
            required_scopes=["mcp"],
        )
        server = guarded_server(effects)
        address = await nursery.start(partial(server.serve_http, port=0, auth=auth))
        yield authorization_server, address.url
        nursery.cancel_scope.cancel()
