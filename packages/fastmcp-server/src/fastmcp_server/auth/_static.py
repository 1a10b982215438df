"""``StaticTokenVerifier``: bearer tokens known by heart, for development and tests.

The tokens are configured in the server itself, so they need no authorization
server: ``server.run_http(auth=StaticTokenVerifier({...}))`` protects the server with
them (its Protected Resource Metadata then names no authorization server, and clients
must be given a token). Never use it in production: a token in a configuration file
is a password that cannot be rotated without a restart, and nothing expires it
unless ``expires_at`` says so.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from fastmcp_server.auth._token import AccessToken, InvalidToken

__all__ = ["StaticTokenVerifier"]

logger = logging.getLogger("fastmcp.auth")

_KNOWN = {"client_id", "scopes", "subject", "expires_at", "audience", "issuer", "claims"}


def _scopes(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, Iterable):
        return frozenset(str(scope) for scope in value)
    raise TypeError(f"scopes must be a string or a list of strings, not {value!r}")


@attrs.define(eq=False)
class StaticTokenVerifier:
    """Verifies the bearer tokens of ``tokens``: each token maps to what it grants.

    ::

        StaticTokenVerifier({
            "dev-token": {"client_id": "me", "scopes": ["files:read"]},
            "ci-token": {"client_id": "ci", "scopes": "files:read files:write",
                         "subject": "ci-bot", "expires_at": 1893456000},
        })

    An entry's members: ``client_id``, ``scopes`` (a list or a space-separated
    string), ``subject`` (default: the client id), ``expires_at`` (seconds since the
    epoch; default: never), ``audience`` (the resources it is for; default: the
    server's own resource, whatever it is), ``issuer`` and ``claims`` (anything else
    handlers should see in ``ctx.principal.claims``). Unknown members are refused
    when the verifier is made, so that a typo does not silently grant less (or more).

    ``required_scopes`` must all be held by a token for it to be valid at all (the
    HTTP layer's ``required_scopes`` does the same with a 403 step-up challenge; this
    is for verifiers used on their own). Tokens are compared in constant time;
    ``clock`` gives the time for ``expires_at``.
    """

    tokens: Mapping[str, Mapping[str, Any]]
    required_scopes: Iterable[str] = ()
    clock: Callable[[], float] = time.time
    _resource: str | None = attrs.field(init=False, default=None)
    _known: tuple[tuple[bytes, Mapping[str, Any]], ...] = attrs.field(init=False)
    _required: frozenset[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        known = []
        for token, entry in self.tokens.items():
            if not token:
                raise ValueError("a static token cannot be empty")
            unknown = set(entry) - _KNOWN
            if unknown:
                raise ValueError(
                    f"unknown member(s) {sorted(unknown)} in a static token's entry "
                    f"(known: {sorted(_KNOWN)})"
                )
            _scopes(entry.get("scopes"))  # a bad type fails now, not at the first request
            known.append((token.encode(), entry))
        self._known = tuple(known)
        self._required = _scopes(list(self.required_scopes))

    def bind_resource(self, resource: str) -> None:
        """Told by the HTTP layer which resource it protects: the audience of entries
        that name none."""
        self._resource = resource

    async def verify(self, token: str) -> AccessToken:
        """The ``AccessToken`` of a known, unexpired token; ``InvalidToken`` otherwise."""
        presented = token.encode()
        found: Mapping[str, Any] | None = None
        # every entry is compared, so the time taken does not tell which one matched
        for candidate, entry in self._known:
            if hmac.compare_digest(candidate, presented):
                found = entry
        if found is None:
            raise InvalidToken("the token is unknown")
        expires_at = found.get("expires_at")
        if expires_at is not None and float(expires_at) <= self.clock():
            raise InvalidToken("the token has expired")
        scopes = _scopes(found.get("scopes"))
        if not scopes.issuperset(self._required):
            raise InvalidToken("the token lacks a required scope")
        client_id = found.get("client_id")
        audience = found.get("audience")
        if audience is None:
            audience = () if self._resource is None else (self._resource,)
        return AccessToken(
            token=token,
            subject=found.get("subject", client_id),
            client_id=client_id,
            scopes=scopes,
            expires_at=None if expires_at is None else float(expires_at),
            issuer=found.get("issuer"),
            audience=audience,
            claims=dict(found.get("claims") or {}),
        )
