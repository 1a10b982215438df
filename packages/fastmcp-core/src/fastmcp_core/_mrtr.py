"""Multi round-trip requests (2026-07-28): the state a handler carries between rounds.

Theory of operation. In the modern era a server cannot send requests to the client;
a handler that needs input (``ctx.elicit``, ``ctx.sample``, ``ctx.list_roots``)
ends the round with an ``InputRequiredResult`` that lists what it needs, and the
client retries the same request with ``inputResponses`` and the ``requestState`` we
gave it. The handler then runs again from the start: each ``ctx.ask`` finds its
answer (by a key derived from the order of the asks) and returns it, until the
handler either completes or needs more.

Answers from earlier rounds travel inside ``requestState``, so the server keeps
nothing between rounds. The state is sealed: encrypted and authenticated with
AES-256-GCM (``cryptography``, the Python Cryptographic Authority's library: a client
can neither read the answers and the principal inside nor alter them), and bound to
the request it belongs to (method and salient params), to the principal when there
is one, and to an expiry: a client cannot forge answers, replay the state on another
request or for another principal, or reuse it later. State that fails any check is
rejected with -32602 (invalid params), before the handler runs.

The token, base64url without padding: a version byte, a 16-byte random salt, a
12-byte random nonce, then the ciphertext of the msgpack state and its 16-byte tag
(the version byte is authenticated too). Each token is encrypted with its own key,
HMAC-SHA256(K, salt), where K = HMAC-SHA256(secret, "fastmcp requestState v1") is
derived once per secret: a secret of any length works, and as each key encrypts one
token there is no bound on how many tokens one secret seals (random 96-bit nonces
under one fixed key would be good for about 2**32). A token is 45 bytes longer than
its plaintext (before base64): 12 more than the HMAC-only tokens before it.

Key rotation: the sealer holds a key ring, newest first. The newest seals; any of
them opens. Give every replica the new secret in front of the old one, and drop the
old one once the longest ``ttl`` has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import msgspec

from fastmcp_core._errors import ProtocolError
from fastmcp_protocol import INVALID_PARAMS

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["RequestStateSealer", "binding_of"]

_DEFAULT_TTL = 600.0
_VERSION = b"\x01"
_SALT = 16
_NONCE = 12
_TAG = 16
_CONTEXT = b"fastmcp requestState v1"


class _State(msgspec.Struct, array_like=True, gc=False):
    binding: str
    principal: str | None
    expires: float
    answers: dict[str, Any]


_encode_state = msgspec.msgpack.Encoder().encode
_decode_state = msgspec.msgpack.Decoder(_State).decode


def binding_of(method: str, salient: Any) -> str:
    """A short digest naming one request: its method and the params that matter.

    ``salient`` excludes ``_meta``, ``inputResponses`` and ``requestState``, which
    change between rounds of the same request.
    """
    digest = hashlib.sha256(method.encode() + b"\0" + msgspec.json.encode(salient))
    return digest.hexdigest()[:32]


def _key_ring(key: bytes | Sequence[bytes]) -> tuple[bytes, ...]:
    ring = (key,) if isinstance(key, bytes | bytearray) else tuple(key)
    if not ring or not all(isinstance(k, bytes | bytearray) and k for k in ring):
        raise ValueError("RequestStateSealer: give a secret (bytes) or a non-empty list of them")
    return tuple(bytes(k) for k in ring)


def _fresh_key() -> tuple[bytes, ...]:
    return (secrets.token_bytes(32),)


@attrs.define
class RequestStateSealer:
    """Seals and opens ``requestState`` values (see the module docstring).

    ``key`` is one secret, or a key ring: a sequence of secrets, newest first (the
    newest seals, any of them opens). Give every replica of a server the same ring
    so that any of them can continue a round another one started; by default each
    process has its own random key. ``cryptography`` is imported on the first seal
    or open, not before.
    """

    keys: tuple[bytes, ...] = attrs.field(alias="key", converter=_key_ring, factory=_fresh_key)
    ttl: float = _DEFAULT_TTL
    _derived: tuple[tuple[bytes, ...], tuple[bytes, ...]] = attrs.field(
        init=False, repr=False, default=((), ())
    )
    """The ring the derived keys are for, and them."""

    def seal(self, binding: str, answers: dict[str, Any], principal: str | None = None) -> str:
        """An opaque token carrying ``answers`` for the request named by ``binding``."""
        payload = _encode_state(_State(binding, principal, time.time() + self.ttl, answers))
        salt, nonce = secrets.token_bytes(_SALT), secrets.token_bytes(_NONCE)
        aead = _aead(self._ring()[0], salt)
        sealed = aead.encrypt(nonce, payload, _VERSION)
        return base64.urlsafe_b64encode(_VERSION + salt + nonce + sealed).rstrip(b"=").decode()

    def open(self, token: str, binding: str, principal: str | None = None) -> dict[str, Any]:
        """The answers sealed in ``token``; raises ``ProtocolError`` (-32602) when the
        token was altered, sealed with a key not in the ring, belongs to another request
        or principal, or expired."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise _rejected("it is malformed") from None
        header = _VERSION + b"\0" * (_SALT + _NONCE)
        if len(raw) < len(header) + _TAG or raw[:1] != _VERSION:
            raise _rejected("it is malformed")
        salt, nonce = raw[1 : 1 + _SALT], raw[1 + _SALT : len(header)]
        payload = self._decrypt(salt, nonce, raw[len(header) :])
        try:
            state = _decode_state(payload)
        except msgspec.DecodeError:
            raise _rejected("it is malformed") from None
        if state.binding != binding:
            raise _rejected("it belongs to another request")
        if state.principal != principal:
            raise _rejected("it belongs to another principal")
        if state.expires < time.time():
            raise _rejected("it expired")
        return state.answers

    def _decrypt(self, salt: bytes, nonce: bytes, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        for derived in self._ring():
            try:
                return _aead(derived, salt).decrypt(nonce, sealed, _VERSION)
            except InvalidTag:
                continue
        raise _rejected("it failed verification")

    def _ring(self) -> tuple[bytes, ...]:
        """Each secret's K, in the ring's order (derived again when the ring changes)."""
        ring, derived = self._derived
        if ring is not self.keys:
            derived = tuple(hmac.digest(k, _CONTEXT, "sha256") for k in self.keys)
            self._derived = (self.keys, derived)
        return derived


def _aead(derived: bytes, salt: bytes) -> AESGCM:
    """The AES-256-GCM of one token: its key is HMAC-SHA256(K, salt)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hmac.digest(derived, salt, "sha256"))


def _rejected(why: str) -> ProtocolError:
    return ProtocolError(INVALID_PARAMS, f"Invalid params: requestState rejected: {why}")
