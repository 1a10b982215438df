"""The errors of client-side OAuth, rooted in ``OAuthError``.

``OAuthError`` is an ``httpx.HTTPError``: the OAuth provider runs inside httpx's
authentication flow, so its failures surface where httpx's own would, and the MCP
HTTP transports turn them into an error of the request that needed the token (the
session goes on; the next request tries again). It is a ``LocalError`` too (see
``fastmcp_protocol``'s error hierarchy): no token could be had, whatever the
authorization server said; the MCP server sent no such error.
"""

from __future__ import annotations

import httpx

from fastmcp_protocol import LocalError

__all__ = [
    "AuthorizationError",
    "DiscoveryError",
    "OAuthError",
    "RegistrationError",
    "TokenError",
]


class OAuthError(httpx.HTTPError, LocalError):
    """Authorization failed; the message says where and why (never with a secret)."""


class DiscoveryError(OAuthError):
    """The server's or the authorization server's metadata is missing, unusable or
    untrustworthy (a resource that is not this server, an issuer that does not match
    the URL it was fetched from, no PKCE support)."""


class RegistrationError(OAuthError):
    """No client id could be had: registration was refused or is not possible."""


class AuthorizationError(OAuthError):
    """The authorization response was an error, or failed validation (``state``,
    ``iss``): the code, if any, was not used."""


class TokenError(OAuthError):
    """The token endpoint refused: ``error`` and ``description`` are its own words."""

    def __init__(self, message: str, *, error: str | None = None, description: str | None = None):
        super().__init__(message)
        self.error = error
        self.description = description
