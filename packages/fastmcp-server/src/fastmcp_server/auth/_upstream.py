"""The identity provider behind an ``OAuthProxy``: its endpoints, the proxy's exchange
of a code with it, and who the user turned out to be.

The proxy is an OAuth client of the provider with credentials registered once (its
own client id and secret, its own callback URL). It exchanges the provider's code
itself, authenticating with the secret, and learns the user's identity from the
answer: the OpenID Connect ``userinfo`` endpoint, the ID token, or an API of the
provider's own (GitHub's ``/user``). The provider's tokens never reach the MCP
client.

An ID token received here comes straight from the provider's token endpoint, over
the connection the proxy opened and authenticated with its secret: OpenID Connect
Core (section 3.1.3.7) lets a client validate its issuer through that TLS connection
instead of its signature. Its claims are still checked: ``iss`` (when the issuer is
known), ``aud`` naming the proxy's client id, ``exp`` and the ``nonce`` the proxy sent.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from fastmcp_protocol import LocalError

__all__ = ["UpstreamError", "UpstreamIdentity", "UpstreamTokens", "id_token_claims"]

logger = logging.getLogger("fastmcp.auth")


class UpstreamError(LocalError):
    """The identity provider refused or failed (the code exchange, the user's
    identity). The MCP client is sent back ``server_error``; the reason is logged,
    without any token."""


class UpstreamIdentity(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Who signed in at the identity provider.

    ``subject`` is the provider's stable identifier of the user (OpenID ``sub``,
    GitHub's numeric user id); ``provider`` names the provider (its issuer URL, or
    ``"github"``), so that ``(provider, subject)`` identifies a user across providers.
    ``login`` is the user's handle (GitHub's login, OpenID ``preferred_username``,
    else the email), ``email`` and ``name`` what the provider told (``None`` when it
    did not). ``claims`` holds what else it said (userinfo members, ID token claims,
    the GitHub user object).
    """

    subject: str
    provider: str
    login: str | None = None
    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None
    claims: dict[str, Any] = msgspec.field(default_factory=dict)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], provider: str) -> UpstreamIdentity:
        """The identity OpenID Connect claims describe (``sub``, ``preferred_username``,
        ``email``, ``email_verified``, ``name``); ``UpstreamError`` without ``sub``."""
        subject = claims.get("sub")
        if not isinstance(subject, str | int) or subject == "":
            raise UpstreamError("the identity provider named no subject (sub)")
        email = _text(claims.get("email"))
        verified = claims.get("email_verified")
        return cls(
            subject=str(subject),
            provider=provider,
            login=_text(claims.get("preferred_username")) or email,
            email=email,
            email_verified=verified if isinstance(verified, bool) else None,
            name=_text(claims.get("name")),
            claims=dict(claims),
        )


class UpstreamTokens(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the identity provider's token endpoint answered (RFC 6749 section 5.1).

    ``expires_at`` is seconds since the epoch. The proxy keeps these with the grant
    (``OAuthProxy.upstream_tokens``) so that tools can call the provider's API on
    the user's behalf; they are never sent to the MCP client, nor logged.
    """

    access_token: str
    token_type: str = "Bearer"
    expires_at: float | None = None
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None

    def __repr__(self) -> str:
        # tokens are credentials: never in a log line or a traceback
        return f"UpstreamTokens(token_type={self.token_type!r}, scope={self.scope!r})"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def id_token_claims(
    id_token: str,
    *,
    client_id: str,
    issuer: str | None,
    nonce: str | None,
    now: float,
    leeway: float = 60.0,
) -> dict[str, Any]:
    """The claims of an ID token received from the token endpoint, checked (see the
    module docstring); ``UpstreamError`` says what is wrong."""
    parts = id_token.split(".")
    if len(parts) != 3:
        raise UpstreamError("the ID token is not a JWT")
    try:
        claims = msgspec.json.decode(_b64url(parts[1]))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise UpstreamError("the ID token is malformed") from None
    if not isinstance(claims, dict):
        raise UpstreamError("the ID token is malformed")
    if issuer is not None and claims.get("iss") != issuer:
        raise UpstreamError("the ID token was issued by another issuer")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise UpstreamError("the ID token is not for this client")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or expires + leeway <= now:
        raise UpstreamError("the ID token has expired")
    if nonce is not None and claims.get("nonce") != nonce:
        raise UpstreamError("the ID token does not carry this authorization's nonce")
    return claims
