"""Authorization for MCP servers over HTTP: an OAuth 2.1 resource server.

::

    from fastmcp_server import Server
    from fastmcp_server.auth import BearerAuth, JWTVerifier

    server = Server("files", "1.0")

    @server.tool(scopes=["files:write"])
    async def delete(path: str) -> str: ...

    server.run_http(
        port=8000,
        auth=BearerAuth(
            verifier=JWTVerifier(
                issuer="https://auth.example.com",
                jwks_uri="https://auth.example.com/.well-known/jwks.json",
            ),
            resource="https://files.example.com/mcp",
            authorization_servers=["https://auth.example.com"],
            required_scopes=["files:read"],
        ),
    )

The server publishes its Protected Resource Metadata (RFC 9728: a
``fastmcp_protocol.ProtectedResourceMetadata``), answers requests
without a valid token with 401 and a ``WWW-Authenticate`` challenge pointing there,
refuses tokens issued for other resources, and answers a token that lacks a scope
with 403 ``insufficient_scope`` naming the scopes needed (step-up). Handlers see
the verified ``AccessToken`` on ``ctx.principal``. stdio stays credential-free: none
of this applies to it.

Pieces: ``BearerAuth`` (configuration and the ASGI layer it ``wrap``s around an app),
``TokenVerifier`` (the protocol) with ``JWTVerifier`` (local JWT checks with
joserfc, keys from a JWKS URL or given), ``IntrospectionVerifier`` (RFC 7662) and
``StaticTokenVerifier`` (tokens known by heart, for development: ``auth=`` takes it
bare). ``OAuthProxy`` makes the server its own authorization server in front of an
identity provider without dynamic client registration (``GitHubProvider``,
``GoogleProvider``, ``OIDCProxy`` are ready ones): clients register and authorize
with it, users sign in upstream, handlers see a ``ProxyAccessToken`` whose
``identity`` is the ``UpstreamIdentity``; its state is in a ``ProxyStore``
(``InMemoryProxyStore`` by default). ``auth_from_environment`` builds any of them from
``FASTMCP_SERVER_AUTH*`` variables. ``JWTVerifier`` and ``OAuthProxy`` need joserfc:
``pip install "fastmcp-server[auth]"``; it is imported only when they are made.
"""

import typing as _typing

from fastmcp_server.auth._bearer import AuthMiddleware, BearerAuth, ScopeSource
from fastmcp_server.auth._front import AuthFront, HttpAuth
from fastmcp_server.auth._introspection import IntrospectionVerifier
from fastmcp_server.auth._metadata import metadata_url as protected_resource_metadata_url
from fastmcp_server.auth._providers import GitHubProvider, GoogleProvider, OIDCProxy
from fastmcp_server.auth._proxy import OAuthProxy, ProxyAccessToken, ProxyFront, UpstreamEndpoints
from fastmcp_server.auth._settings import AUTH_KINDS, auth_from_environment
from fastmcp_server.auth._static import StaticTokenVerifier
from fastmcp_server.auth._store import InMemoryProxyStore, ProxyStore, StoreFull
from fastmcp_server.auth._token import (
    AccessToken,
    InvalidToken,
    TokenVerifier,
    VerifierUnavailable,
)
from fastmcp_server.auth._upstream import UpstreamError, UpstreamIdentity, UpstreamTokens

if _typing.TYPE_CHECKING:
    from fastmcp_server.auth._jwt import DEFAULT_ALGORITHMS, JWTVerifier

__all__ = [
    "BearerAuth",
    "AuthMiddleware",
    "ScopeSource",
    "TokenVerifier",
    "AccessToken",
    "InvalidToken",
    "VerifierUnavailable",
    "JWTVerifier",
    "DEFAULT_ALGORITHMS",
    "IntrospectionVerifier",
    "StaticTokenVerifier",
    "protected_resource_metadata_url",
    "HttpAuth",
    "AuthFront",
    "OAuthProxy",
    "ProxyFront",
    "ProxyAccessToken",
    "GitHubProvider",
    "GoogleProvider",
    "OIDCProxy",
    "UpstreamEndpoints",
    "UpstreamIdentity",
    "UpstreamTokens",
    "UpstreamError",
    "ProxyStore",
    "InMemoryProxyStore",
    "StoreFull",
    "auth_from_environment",
    "AUTH_KINDS",
]

_LAZY = {"JWTVerifier", "DEFAULT_ALGORITHMS"}


def __getattr__(name: str) -> _typing.Any:
    # joserfc is an optional dependency: imported when a JWT verifier is asked for
    if name in _LAZY:
        try:
            from fastmcp_server.auth import _jwt
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(
                f"{name} needs joserfc: pip install 'fastmcp-server[auth]' ({exc})"
            ) from exc
        return getattr(_jwt, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
