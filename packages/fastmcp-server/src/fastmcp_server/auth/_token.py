"""The verified access token, what verifies one, and how verification fails.

A ``TokenVerifier`` turns the bearer token of a request into an ``AccessToken``:
who it is for (``subject``, ``client_id``), what it allows (``scopes``), until when
(``expires_at``), who issued it and for whom (``issuer``, ``audience``), and every
claim it carried. The authorization layer (``BearerAuth``) then checks what is the
resource server's own business: that the token names this server as its audience,
and that its scopes cover the request.

A verifier says "no" by returning ``None`` or raising ``InvalidToken`` (whose
description the client sees in ``WWW-Authenticate``: never put secrets in it), and
"I cannot tell right now" by raising ``VerifierUnavailable`` (the key set or the
introspection endpoint is unreachable): the client then gets 503, not a 401 that
would send it through authorization again for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from fastmcp_protocol import FastMcpError, LocalError

__all__ = ["AccessToken", "InvalidToken", "TokenVerifier", "VerifierUnavailable"]


def _frozen_scopes(scopes: str | Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(scopes)


def _audiences(audience: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(audience, str):
        return (audience,)
    return tuple(audience)


@attrs.frozen(kw_only=True)
class AccessToken:
    """A verified access token: the authenticated principal of a request.

    Handlers find it on ``ctx.principal``. ``token`` (the bearer string itself) is
    kept out of ``repr``, and so are the ``claims``, so that logging a principal
    never leaks a credential or personal data.
    """

    token: str = attrs.field(repr=False)
    subject: str | None = None
    """The resource owner (``sub``); ``None`` for tokens a client got for itself."""
    client_id: str | None = None
    """The OAuth client the token was issued to (``client_id``, or ``azp``)."""
    scopes: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_scopes)
    expires_at: float | None = None
    """Seconds since the epoch (``exp``); ``None`` when the token does not say."""
    issuer: str | None = None
    audience: tuple[str, ...] = attrs.field(default=(), converter=_audiences)
    claims: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """Every claim of the token (JWT payload, or introspection response)."""
    implied: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_scopes)
    """The scopes that ``scopes`` stand for besides themselves on this server (its
    ``scope_hierarchy``; set by the server, not by verifiers)."""

    @property
    def id(self) -> str:
        """Who this is, stable across the principal's tokens: issuer, subject and
        client. A legacy session and a task belong to this identity, so a refreshed
        token keeps access to them and another principal's token does not."""
        return f"{self.issuer or ''}\n{self.subject or ''}\n{self.client_id or ''}"

    def has_scopes(self, required: Iterable[str]) -> bool:
        """Whether every scope of ``required`` was granted (or is implied by one that
        was)."""
        return self.scopes.issuperset(required) or (self.scopes | self.implied).issuperset(required)


class InvalidToken(FastMcpError):
    """The token is not acceptable: malformed, badly signed, expired, not yet valid,
    revoked, from an untrusted issuer, or for another audience.

    ``description`` goes to the client (``error_description`` of the 401).
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class VerifierUnavailable(LocalError):
    """The verifier cannot decide now (its key set or introspection endpoint does not
    answer). The request gets 503; the client may retry later."""


@runtime_checkable
class TokenVerifier(Protocol):
    """Verifies bearer tokens for a resource server.

    ``verify`` returns the ``AccessToken`` of a valid token, ``None`` (or raises
    ``InvalidToken``) for an invalid one, and raises ``VerifierUnavailable`` when it
    cannot decide. It is called for every authenticated request, concurrently:
    cache what can be cached. Cancelling it (the client went away) must leave the
    verifier usable. A verifier with an ``aclose()`` coroutine method has it called
    when the server stops; one with a ``bind_resource(resource)`` method is told the
    canonical resource the server protects, once it is known (a verifier whose tokens
    are for "this server", such as ``StaticTokenVerifier``, takes it as their audience).
    """

    async def verify(self, token: str) -> AccessToken | None:
        """The verified token, or ``None``/``InvalidToken`` (see the class docstring)."""
        ...


def audience_claim(value: object) -> tuple[str, ...]:
    """The audiences an ``aud`` claim names (a string or a list of them; RFC 7519)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()
