"""PKCE (RFC 7636) with the S256 method, the only one this client uses."""

from __future__ import annotations

import base64
import hashlib
import secrets

import attrs

__all__ = ["Pkce"]


@attrs.frozen
class Pkce:
    """A fresh code verifier (kept out of ``repr``) and its S256 challenge."""

    verifier: str = attrs.field(repr=False)
    challenge: str
    method: str = "S256"

    @classmethod
    def generate(cls) -> Pkce:
        """A new pair: use it for one authorization request only."""
        # 64 random bytes: 86 characters of the unreserved set (43..128 allowed)
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return cls(verifier, challenge)
