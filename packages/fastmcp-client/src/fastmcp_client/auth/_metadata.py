"""What servers publish about authorization, and where the client looks for it.

* Protected Resource Metadata (RFC 9728) of the MCP server: which authorization
  servers issue its tokens, its scopes, and its ``resource`` identifier (the
  document is ``fastmcp_protocol.ProtectedResourceMetadata``, the server's own type);
* Authorization Server Metadata (RFC 8414) or OpenID Provider Metadata: endpoints
  and capabilities of the authorization server;
* what the token and registration endpoints answer.

Documents are decoded straight into msgspec structs (unknown members ignored); every
URL and identifier is kept as the exact string received, never normalised: the
``resource`` is sent back verbatim (RFC 8707) and the ``issuer`` compared verbatim.

The well-known URLs, in the order the MCP specification prescribes:

* resource metadata: ``/.well-known/oauth-protected-resource`` with the MCP
  endpoint's path inserted (``/.well-known/oauth-protected-resource/mcp``), then at
  the root;
* authorization server metadata for an issuer with a path (``https://as/tenant``):
  ``/.well-known/oauth-authorization-server/tenant``,
  ``/.well-known/openid-configuration/tenant``, ``/tenant/.well-known/openid-configuration``;
  for an issuer without one: ``/.well-known/oauth-authorization-server``, then
  ``/.well-known/openid-configuration``. Never the root well-known of a path issuer.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import msgspec

__all__ = [
    "AuthorizationServerMetadata",
    "ClientRegistrationResponse",
    "TokenResponse",
    "authorization_server_metadata_urls",
    "protected_resource_metadata_urls",
    "resource_matches",
]


class AuthorizationServerMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """RFC 8414 / OpenID Connect Discovery (the members a client uses)."""

    issuer: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    registration_endpoint: str | None = None
    scopes_supported: list[str] | None = None
    response_types_supported: list[str] | None = None
    grant_types_supported: list[str] | None = None
    token_endpoint_auth_methods_supported: list[str] | None = None
    token_endpoint_auth_signing_alg_values_supported: list[str] | None = None
    code_challenge_methods_supported: list[str] | None = None
    client_id_metadata_document_supported: bool = False
    authorization_response_iss_parameter_supported: bool = False
    dpop_signing_alg_values_supported: list[str] | None = None


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A successful token endpoint answer (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: float | None = None
    refresh_token: str | None = None
    scope: str | None = None
    issued_token_type: str | None = None


class ClientRegistrationResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A dynamic client registration answer (RFC 7591 section 3.2.1)."""

    client_id: str
    client_secret: str | None = None
    client_secret_expires_at: float | None = None
    token_endpoint_auth_method: str | None = None


class TokenErrorResponse(msgspec.Struct, frozen=True, kw_only=True):
    """An OAuth error answer (RFC 6749 section 5.2), of any endpoint."""

    error: str | None = None
    error_description: str | None = None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    scheme, netloc = _origin(url)
    return f"{scheme}://{netloc}"


def protected_resource_metadata_urls(server_url: str) -> list[str]:
    """Where to look for the MCP server's metadata without a ``resource_metadata`` hint."""
    scheme, netloc = _origin(server_url)
    path = urlsplit(server_url).path.rstrip("/")
    root = urlunsplit((scheme, netloc, "/.well-known/oauth-protected-resource", "", ""))
    if not path:
        return [root]
    inserted = urlunsplit((scheme, netloc, "/.well-known/oauth-protected-resource" + path, "", ""))
    return [inserted, root]


def authorization_server_metadata_urls(issuer: str) -> list[str]:
    """Where to look for an authorization server's metadata (see the module docstring)."""
    scheme, netloc = _origin(issuer)
    path = urlsplit(issuer).path.rstrip("/")

    def at(p: str) -> str:
        return urlunsplit((scheme, netloc, p, "", ""))

    if not path:
        return [
            at("/.well-known/oauth-authorization-server"),
            at("/.well-known/openid-configuration"),
        ]
    return [
        at("/.well-known/oauth-authorization-server" + path),
        at("/.well-known/openid-configuration" + path),
        at(path + "/.well-known/openid-configuration"),
    ]


def _port(scheme: str, port: int | None) -> int | None:
    if port is not None:
        return port
    return {"http": 80, "https": 443}.get(scheme)


def resource_matches(resource: str, server_url: str) -> bool:
    """Whether a metadata ``resource`` designates the MCP endpoint at ``server_url``:
    same scheme, host and port, and a path that is the endpoint's or one of its
    ancestors (segment-wise: ``/mcp`` covers ``/mcp`` and ``/mcp/x``, not ``/mcpx``).
    Scheme and host compare case-insensitively (RFC 3986); nothing is rewritten."""
    try:
        r, s = urlsplit(resource), urlsplit(server_url)
        r_port, s_port = _port(r.scheme.lower(), r.port), _port(s.scheme.lower(), s.port)
    except ValueError:
        return False
    if r.fragment or r.scheme.lower() != s.scheme.lower():
        return False
    if (r.hostname or "").lower() != (s.hostname or "").lower() or r_port != s_port:
        return False
    r_path, s_path = r.path.rstrip("/"), s.path.rstrip("/")
    return not r_path or s_path == r_path or s_path.startswith(r_path + "/")
