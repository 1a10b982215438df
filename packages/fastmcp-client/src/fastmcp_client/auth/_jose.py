"""Signed JWTs the client makes: ``private_key_jwt`` client assertions (RFC 7523
section 2.2) and DPoP proofs (RFC 9449). joserfc is imported here only, when a key
is first used: ``pip install "fastmcp-client[auth]"``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import attrs

if TYPE_CHECKING:
    from joserfc.jwk import Key

__all__ = ["DPoPKey", "SigningKey", "load_key"]


def load_key(key: Any) -> Key:
    """A joserfc key from a joserfc key, a JWK (a mapping), or a PEM (str or bytes)."""
    try:
        from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"signed JWTs need joserfc: pip install 'fastmcp-client[auth]' ({exc})"
        ) from exc
    if isinstance(key, ECKey | RSAKey | OKPKey):
        return key
    if isinstance(key, Mapping):
        return JWKRegistry.import_key(dict(key))
    data = key.encode() if isinstance(key, str) else bytes(key)
    for kind in (ECKey, RSAKey, OKPKey):
        try:
            return kind.import_key(data)
        except Exception:
            continue
    raise ValueError("not a private key this client can use (EC, RSA or OKP, as PEM or JWK)")


def _sign(header: dict[str, Any], claims: dict[str, Any], key: Key) -> str:
    from joserfc import jwt

    return jwt.encode(header, claims, key, default_type=None)


@attrs.define(eq=False)
class SigningKey:
    """A private key for ``private_key_jwt`` client authentication."""

    key: Any = attrs.field(repr=False)
    algorithm: str = "ES256"
    kid: str | None = None
    lifetime: float = 60.0
    _loaded: Key | None = attrs.field(init=False, default=None, repr=False)

    def assertion(self, client_id: str, audience: str) -> str:
        """A fresh client assertion: ``iss`` = ``sub`` = the client, ``aud`` = the
        authorization server, a unique ``jti``, valid for ``lifetime`` seconds."""
        if self._loaded is None:
            self._loaded = load_key(self.key)
        now = int(time.time())
        header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if self.kid is not None:
            header["kid"] = self.kid
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + int(self.lifetime),
            "jti": secrets.token_urlsafe(16),
        }
        return _sign(header, claims, self._loaded)


def _htu(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@attrs.define(eq=False)
class DPoPKey:
    """The key that binds access tokens to this client (RFC 9449).

    Without ``key`` a P-256 key is generated when first used (it lives as long as
    this object: tokens bound to it die with it). Every proof has a fresh ``jti``.
    """

    key: Any = attrs.field(default=None, repr=False)
    algorithm: str = "ES256"
    _loaded: Key | None = attrs.field(init=False, default=None, repr=False)
    _public: dict[str, Any] | None = attrs.field(init=False, default=None)

    def _ready(self) -> Key:
        if self._loaded is None:
            if self.key is None:
                from joserfc.jwk import ECKey

                self._loaded = ECKey.generate_key("P-256")
            else:
                self._loaded = load_key(self.key)
            public = dict(self._loaded.as_dict(private=False))
            public.pop("kid", None)
            self._public = public
        return self._loaded

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 thumbprint of the public key (``cnf.jkt`` of bound tokens)."""
        from joserfc.jwk import thumbprint

        self._ready()
        assert self._public is not None
        return thumbprint(self._public)

    def proof(
        self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None
    ) -> str:
        """A DPoP proof for one HTTP request (``ath`` when presenting ``access_token``)."""
        key = self._ready()
        assert self._public is not None
        header = {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": self._public}
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": _htu(url),
            "iat": int(time.time()),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        if nonce is not None:
            claims["nonce"] = nonce
        return _sign(header, claims, key)
