"""Multi round-trip requests (2026-07-28): the state a handler carries between rounds.

Theory of operation. In the modern era a server cannot send requests to the client;
a handler that needs input (``ctx.elicit``, ``ctx.sample``, ``ctx.list_roots``)
ends the round with an ``InputRequiredResult`` that lists what it needs, and the
client retries the same request with ``inputResponses`` and the ``requestState`` we
gave it. The handler then runs again from the start: each ``ctx.ask`` finds its
answer (by a key derived from the order of the asks) and returns it, until the
handler either completes or needs more.

Answers from earlier rounds travel inside ``requestState``, so the server keeps
nothing between rounds. The state is integrity-protected (HMAC-SHA256 with a
server-held key) and bound to the request it belongs to (method and salient params),
to the principal when there is one, and to an expiry: a client cannot forge answers,
replay the state on another request, or reuse it later. State that fails any check
is rejected with -32602 (invalid params), before the handler runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

import attrs
import msgspec

from fastmcp_core._errors import ProtocolError
from fastmcp_protocol import INVALID_PARAMS

__all__ = ["RequestStateSealer", "binding_of"]

_DEFAULT_TTL = 600.0


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


@attrs.define
class RequestStateSealer:
    """Seals and opens ``requestState`` values with one server-held key.

    Give every replica of a server the same ``key`` so that any of them can continue
    a round another one started; by default each process has its own random key.
    """

    key: bytes = attrs.field(factory=lambda: secrets.token_bytes(32))
    ttl: float = _DEFAULT_TTL

    def seal(self, binding: str, answers: dict[str, Any], principal: str | None = None) -> str:
        """An opaque token carrying ``answers`` for the request named by ``binding``."""
        payload = _encode_state(_State(binding, principal, time.time() + self.ttl, answers))
        tag = hmac.new(self.key, payload, hashlib.sha256).digest()
        return _b64(payload) + "." + _b64(tag)

    def open(self, token: str, binding: str, principal: str | None = None) -> dict[str, Any]:
        """The answers sealed in ``token``; raises ``ProtocolError`` (-32602) when the
        token was altered, belongs to another request or principal, or expired."""
        try:
            payload_text, tag_text = token.split(".")
            payload, tag = _unb64(payload_text), _unb64(tag_text)
        except (ValueError, TypeError):
            raise _rejected("it is malformed") from None
        expected = hmac.new(self.key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(tag, expected):
            raise _rejected("it failed verification")
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


def _rejected(why: str) -> ProtocolError:
    return ProtocolError(INVALID_PARAMS, f"Invalid params: requestState rejected: {why}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
