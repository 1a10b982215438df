"""``JWTVerifier``: access tokens that are JWTs, checked locally with joserfc.

Theory of operation. A token is checked in this order, the first failure deciding
the ``InvalidToken`` description: it is a compact JWS (JWE is refused); its ``alg``
is one of ``algorithms`` (never ``none``); its ``typ`` is ``token_type`` when one is
required; a key of the right type (and ``kid``, when the token names one) is known;
the signature verifies; the claims hold: ``exp`` (required by default) and ``nbf``
against the clock with ``leeway``, ``iss`` among the trusted issuers, ``aud`` among
``audience`` when given (``BearerAuth`` checks the audience against the server's
resource anyway).

Keys come from ``keys`` (a JWKS document, a joserfc ``KeySet``, or keys) or from
``jwks_uri``, fetched with httpx when first needed, kept ``jwks_max_age`` seconds,
and fetched again at once when a token names a ``kid`` the set lacks (key rotation),
at most every ``jwks_min_refresh`` seconds so that tokens with made-up ``kid`` values
cannot make the server hammer the authorization server. One fetch at a time; a
failed refresh keeps the old keys. Freshness is measured on trio's clock.

Verified tokens are remembered (up to ``cache_size``, until they expire), so a client
sending the same token again costs a dictionary lookup, not a signature check.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import attrs
import httpx
import trio
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import Key, KeySet, KeySetSerialization

from fastmcp_server.auth._token import (
    AccessToken,
    InvalidToken,
    VerifierUnavailable,
    audience_claim,
)

__all__ = ["DEFAULT_ALGORITHMS", "JWTVerifier"]

logger = logging.getLogger("fastmcp.auth")

DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
"""The asymmetric algorithms accepted by default (``none`` and HMAC never are)."""

_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP", "HS": "oct"}

KeysLike = KeySet | Key | Sequence[Key] | Mapping[str, Any]
"""Static keys: a JWKS document (``{"keys": [...]}``), a ``KeySet``, or keys."""


def _key_type(alg: str) -> str | None:
    return _KEY_TYPES.get(alg[:2])


def _key_set(keys: KeysLike) -> KeySet:
    if isinstance(keys, KeySet):
        return keys
    if isinstance(keys, Mapping):
        return KeySet.import_key_set(cast(KeySetSerialization, dict(keys)))
    if isinstance(keys, Sequence):
        return KeySet(list(keys))
    return KeySet([keys])


def _candidates(keys: KeySet, kid: str | None, alg: str) -> list[Key]:
    """The keys that may have signed a token with this ``kid`` and ``alg``."""
    kty = _key_type(alg)
    found = []
    for key in keys:
        if kid is not None and key.kid != kid:
            continue
        if key.key_type != kty:
            continue
        if key.get("use") not in (None, "sig"):
            continue
        if key.alg is not None and key.alg != alg:
            continue
        found.append(key)
    return found


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.define(eq=False)
class _JwksCache:
    """The key set behind a ``jwks_uri`` (see the module docstring)."""

    uri: str
    client: Callable[[], httpx.AsyncClient]
    max_age: float
    min_refresh: float
    _keys: KeySet | None = None
    _fetched_at: float = -float("inf")
    _tried_at: float = -float("inf")
    _lock: trio.Lock = attrs.field(factory=trio.Lock)

    async def find(self, kid: str | None, alg: str) -> list[Key]:
        now = trio.current_time()
        if self._keys is None or now - self._fetched_at > self.max_age:
            await self._refresh(now)
        assert self._keys is not None
        found = _candidates(self._keys, kid, alg)
        if not found and kid is not None and now - self._tried_at >= self.min_refresh:
            await self._refresh(now)  # an unknown kid: the keys may have rotated
            found = _candidates(self._keys, kid, alg)
        return found

    async def _refresh(self, asked_at: float) -> None:
        async with self._lock:
            if self._tried_at >= asked_at and self._keys is not None:
                return  # another task refreshed while this one waited
            self._tried_at = trio.current_time()
            try:
                response = await self.client().get(self.uri, headers={"accept": "application/json"})
                response.raise_for_status()
                keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, TypeError, KeyError, JoseError) as exc:
                if self._keys is None:
                    raise VerifierUnavailable(f"the key set at {self.uri} is unavailable") from exc
                logger.warning(
                    "refreshing the key set at %s failed (%s); keeping the old keys", self.uri, exc
                )
                return
            self._keys = keys
            self._fetched_at = self._tried_at


@attrs.define(eq=False, kw_only=True)
class JWTVerifier:
    """Verifies JWT access tokens (RFC 9068 and the common variants) with joserfc.

    ``issuer`` is the trusted issuer (or issuers; ``None`` explicitly trusts any,
    which is only right when the keys are yours alone). Give ``jwks_uri`` or
    ``keys``. ``audience``, when given, must appear in ``aud``. ``leeway`` (seconds)
    absorbs clock skew; ``required_claims`` must be present (``exp`` by default);
    ``token_type`` requires the header ``typ`` (``"at+jwt"`` for RFC 9068 tokens;
    compared case-insensitively, ``application/`` optional). Scopes are read from
    ``scope`` (space-separated) or ``scp`` (a list or a string), the client from
    ``client_id`` or ``azp``. ``clock`` gives the time for ``exp``/``nbf`` (seconds
    since the epoch). ``http_client`` fetches the key set (one of our own is made when
    first needed; ``aclose`` closes it).

    See the module docstring for the order of the checks and the key cache.
    """

    issuer: str | Sequence[str] | None
    jwks_uri: str | None = None
    keys: KeysLike | None = None
    audience: str | Sequence[str] | None = None
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS
    leeway: float = 30.0
    required_claims: Sequence[str] = ("exp",)
    token_type: str | None = None
    http_client: httpx.AsyncClient | None = None
    jwks_max_age: float = 3600.0
    jwks_min_refresh: float = 30.0
    cache_size: int = 1024
    clock: Callable[[], float] = time.time
    _static: KeySet | None = attrs.field(init=False, default=None)
    _jwks: _JwksCache | None = attrs.field(init=False, default=None)
    _own_client: httpx.AsyncClient | None = attrs.field(init=False, default=None)
    _issuers: tuple[str, ...] = attrs.field(init=False)
    _audiences: tuple[str, ...] = attrs.field(init=False)
    _cache: OrderedDict[str, AccessToken] = attrs.field(init=False, factory=OrderedDict)
    _registry: jwt.JWTClaimsRegistry = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if (self.jwks_uri is None) == (self.keys is None):
            raise ValueError("JWTVerifier needs exactly one of jwks_uri= and keys=")
        if "none" in self.algorithms:
            raise ValueError('JWTVerifier never accepts alg "none"')
        if self.keys is not None:
            self._static = _key_set(self.keys)
        else:
            assert self.jwks_uri is not None
            self._jwks = _JwksCache(
                self.jwks_uri, self._client, self.jwks_max_age, self.jwks_min_refresh
            )
        self._issuers = _as_tuple(self.issuer)
        self._audiences = _as_tuple(self.audience)
        # the claim checks are the same for every token: built once, reading the clock
        options: dict[str, jwt.ClaimsOption] = {}
        if self._issuers:
            options["iss"] = {"essential": True, "values": list(self._issuers)}
        if self._audiences:
            options["aud"] = {"essential": True, "values": list(self._audiences)}
        self._registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()), leeway=int(self.leeway), **options
        )

    def _client(self) -> httpx.AsyncClient:
        if self.http_client is not None:
            return self.http_client
        if self._own_client is None:
            self._own_client = httpx.AsyncClient(timeout=10.0)
        return self._own_client

    async def aclose(self) -> None:
        """Close the HTTP client this verifier made for itself (a given one is left
        open). The verifier can still be used; it would make another."""
        client, self._own_client = self._own_client, None
        if client is not None:
            await client.aclose()

    async def verify(self, token: str) -> AccessToken:
        """The ``AccessToken`` of a valid token; ``InvalidToken`` says why one is not.

        ``VerifierUnavailable`` when the key set cannot be fetched at all.
        """
        now = self.clock()
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at is None or cached.expires_at + self.leeway > now:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            raise InvalidToken("the token is not a signed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("the token is signed with an algorithm this server refuses")
        if self.token_type is not None and not _same_type(header.get("typ"), self.token_type):
            raise InvalidToken("the token is not an access token (typ)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token names an invalid key id")
        keys = await self._keys_for(kid, alg)
        if not keys:
            raise InvalidToken("the token is signed with an unknown key")
        claims = self._decode(token, keys, alg)
        self._check_claims(claims)
        access = _access_token(token, claims)
        self._remember(token, access)
        return access

    async def _keys_for(self, kid: str | None, alg: str) -> list[Key]:
        if self._static is not None:
            return _candidates(self._static, kid, alg)
        assert self._jwks is not None
        return await self._jwks.find(kid, alg)

    def _decode(self, token: str, keys: list[Key], alg: str) -> dict[str, Any]:
        for key in keys:
            try:
                return dict(jwt.decode(token, key, algorithms=[alg]).claims)
            except BadSignatureError:
                continue
            except JoseError:
                raise InvalidToken("the token is malformed") from None
        raise InvalidToken("the token signature is invalid")

    def _check_claims(self, claims: dict[str, Any]) -> None:
        missing = [name for name in self.required_claims if claims.get(name) is None]
        if missing:
            raise InvalidToken(f"the token lacks the claim(s) {', '.join(missing)}")
        try:
            self._registry.validate(claims)
        except ExpiredTokenError:
            raise InvalidToken("the token has expired") from None
        except MissingClaimError as exc:
            raise InvalidToken(f"the token lacks the claim(s) {exc.claim}") from None
        except InvalidClaimError as exc:
            raise InvalidToken(_claim_problem(exc.claim)) from None

    def _remember(self, token: str, access: AccessToken) -> None:
        if self.cache_size <= 0:
            return
        self._cache[token] = access
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _claim_problem(claim: str) -> str:
    return {
        "iss": "the token was issued by an untrusted issuer",
        "aud": "the token was not issued for this resource",
        "nbf": "the token is not valid yet",
        "iat": "the token was issued in the future",
        "exp": "the token has an invalid expiry",
    }.get(claim, f"the token has an invalid {claim} claim")


def _same_type(typ: object, expected: str) -> bool:
    if not isinstance(typ, str):
        return False

    def bare(value: str) -> str:
        value = value.lower()
        return value.removeprefix("application/")

    return bare(typ) == bare(expected)


def _access_token(token: str, claims: dict[str, Any]) -> AccessToken:
    scope = claims.get("scope")
    if scope is None:
        scope = claims.get("scp")
    scopes: frozenset[str]
    if isinstance(scope, str):
        scopes = frozenset(scope.split())
    elif isinstance(scope, list):
        scopes = frozenset(s for s in scope if isinstance(s, str))
    else:
        scopes = frozenset()
    client_id = claims.get("client_id", claims.get("azp"))
    audience = claims.get("aud")
    expires = claims.get("exp")
    return AccessToken(
        token=token,
        subject=_str_or_none(claims.get("sub")),
        client_id=_str_or_none(client_id),
        scopes=scopes,
        expires_at=float(expires) if isinstance(expires, int | float) else None,
        issuer=_str_or_none(claims.get("iss")),
        audience=audience_claim(audience),
        claims=claims,
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
