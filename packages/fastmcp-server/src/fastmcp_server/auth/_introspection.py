"""``IntrospectionVerifier``: ask the authorization server about each token (RFC 7662).

Theory of operation. The token is POSTed to the introspection endpoint as a form
(``token``, ``token_type_hint=access_token``), the resource server authenticating
itself as an OAuth client: ``client_secret_basic`` (HTTP Basic with the form-encoded
id and secret, RFC 6749 section 2.3.1) or ``client_secret_post`` (both in the body).
The answer is trusted only when it says ``"active": true``; ``exp`` and ``nbf`` are
still checked against the clock (a cached answer may outlive them), and ``iss``
against ``issuer`` when both are known. Anything but a 200 with a JSON object is
``VerifierUnavailable`` (503 to the client), never a verdict on the token.

Opaque tokens can be revoked at any moment, so by default every request asks
again. ``cache_ttl`` (seconds) trades revocation latency for load: an active answer
is reused for that long, never past the token's ``exp``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote

import attrs
import httpx

from fastmcp_server.auth._token import (
    AccessToken,
    InvalidToken,
    VerifierUnavailable,
    audience_claim,
)

__all__ = ["IntrospectionVerifier"]

logger = logging.getLogger("fastmcp.auth")


def _form_encode(value: str) -> str:
    return quote(value, safe="").replace("%20", "+")


@attrs.define(eq=False, kw_only=True)
class IntrospectionVerifier:
    """Verifies tokens with an RFC 7662 introspection endpoint (see the module
    docstring). ``client_id``/``client_secret`` are the resource server's own
    credentials at the authorization server; the secret is kept out of ``repr``.
    ``issuer``, when given, must equal the response's ``iss`` when it has one.
    ``http_client`` is used as given (one of our own is made when first needed;
    ``aclose`` closes it); ``timeout`` bounds each introspection.
    """

    endpoint: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    issuer: str | None = None
    http_client: httpx.AsyncClient | None = None
    timeout: float = 10.0
    cache_ttl: float = 0.0
    cache_size: int = 1024
    leeway: float = 30.0
    clock: Callable[[], float] = time.time
    _own_client: httpx.AsyncClient | None = attrs.field(init=False, default=None)
    _headers: dict[str, str] = attrs.field(init=False)
    _cache: OrderedDict[str, tuple[float, AccessToken]] = attrs.field(
        init=False, factory=OrderedDict
    )

    def __attrs_post_init__(self) -> None:
        # the client authentication is the same for every call: built once
        self._headers = {"accept": "application/json"}
        if self.auth_method == "client_secret_basic":
            pair = f"{_form_encode(self.client_id)}:{_form_encode(self.client_secret)}"
            self._headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()

    def _client(self) -> httpx.AsyncClient:
        if self.http_client is not None:
            return self.http_client
        if self._own_client is None:
            self._own_client = httpx.AsyncClient(timeout=self.timeout)
        return self._own_client

    async def aclose(self) -> None:
        """Close the HTTP client this verifier made for itself (a given one is left open)."""
        client, self._own_client = self._own_client, None
        if client is not None:
            await client.aclose()

    async def verify(self, token: str) -> AccessToken:
        """The ``AccessToken`` of an active token; ``InvalidToken`` otherwise;
        ``VerifierUnavailable`` when the endpoint gives no usable answer."""
        now = self.clock()
        cached = self._cache.get(token)
        if cached is not None:
            until, access = cached
            if until > now:
                return access
            del self._cache[token]
        form = {"token": token, "token_type_hint": "access_token"}
        if self.auth_method == "client_secret_post":
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret
        try:
            response = await self._client().post(
                self.endpoint, data=form, headers=self._headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise VerifierUnavailable(f"the introspection endpoint failed: {exc!r}") from None
        if response.status_code != 200:
            # the caller logs VerifierUnavailable (rate-limited): once is enough
            logger.debug("token introspection answered HTTP %d", response.status_code)
            raise VerifierUnavailable(f"the introspection endpoint answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise VerifierUnavailable("the introspection endpoint answered no JSON") from None
        if not isinstance(answer, dict):
            raise VerifierUnavailable("the introspection endpoint answered no JSON object")
        access = self._check(token, answer, now)
        if self.cache_ttl > 0:
            until = now + self.cache_ttl
            if access.expires_at is not None:
                until = min(until, access.expires_at)
            self._cache[token] = (until, access)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return access

    def _check(self, token: str, answer: dict[str, Any], now: float) -> AccessToken:
        if answer.get("active") is not True:
            raise InvalidToken("the token is not active")
        expires = answer.get("exp")
        if isinstance(expires, int | float) and expires + self.leeway <= now:
            raise InvalidToken("the token has expired")
        not_before = answer.get("nbf")
        if isinstance(not_before, int | float) and not_before - self.leeway > now:
            raise InvalidToken("the token is not valid yet")
        issuer = answer.get("iss")
        if self.issuer is not None and isinstance(issuer, str) and issuer != self.issuer:
            raise InvalidToken("the token was issued by an untrusted issuer")
        scope = answer.get("scope")
        audience = answer.get("aud")
        return AccessToken(
            token=token,
            subject=_text(answer.get("sub")),
            client_id=_text(answer.get("client_id")),
            scopes=scope.split() if isinstance(scope, str) else (),
            expires_at=float(expires) if isinstance(expires, int | float) else None,
            issuer=_text(issuer) or self.issuer,
            audience=audience_claim(audience),
            claims=answer,
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
