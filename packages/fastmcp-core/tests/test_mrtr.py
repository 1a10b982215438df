"""The sealed ``requestState`` of multi round-trip requests: encrypted, authenticated,
bound to its request, its principal and its time, and openable across a key rotation."""

from __future__ import annotations

import base64
import subprocess
import sys

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastmcp_core import ProtocolError, RequestStateSealer
from fastmcp_core._mrtr import _State

ANSWERS = {"elicit-1": {"action": "accept", "content": {"name": "Ada Lovelace"}}}


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_the_state_is_unreadable_without_the_key() -> None:
    sealer = RequestStateSealer(key=b"k" * 32)
    token = sealer.seal("binding-1", ANSWERS, principal="alice@example.com")
    inside = raw(token)
    for secret in (b"Ada Lovelace", b"alice@example.com", b"binding-1", b"elicit-1", b"accept"):
        assert secret not in inside
    assert sealer.open(token, "binding-1", "alice@example.com") == ANSWERS


def test_the_same_state_seals_to_a_new_token_each_time() -> None:
    sealer = RequestStateSealer(key=b"k" * 32)
    tokens = {sealer.seal("b", ANSWERS) for _ in range(20)}
    assert len(tokens) == 20
    assert all(sealer.open(t, "b") == ANSWERS for t in tokens)


def test_a_token_costs_45_bytes_over_its_state() -> None:
    sealer = RequestStateSealer(key=b"k")
    token = sealer.seal("b", ANSWERS)
    plain = msgspec.msgpack.encode(_State("b", None, 0.0, ANSWERS))
    assert len(raw(token)) == len(plain) + 45
    assert "=" not in token  # base64url, no padding
    assert "." not in token


def test_key_rotation_new_seals_any_opens() -> None:
    old, new = b"old secret", b"new secret"
    before = RequestStateSealer(key=old)
    during = RequestStateSealer(key=[new, old])
    after = RequestStateSealer(key=[new])
    sealed_before = before.seal("b", ANSWERS)
    sealed_during = during.seal("b", ANSWERS)
    assert during.open(sealed_before, "b") == ANSWERS  # a round begun before the rotation
    assert after.open(sealed_during, "b") == ANSWERS  # sealed with the newest
    for sealer, token in [(after, sealed_before), (before, sealed_during)]:
        with pytest.raises(ProtocolError, match="failed verification") as caught:
            sealer.open(token, "b")
        assert caught.value.code == -32602


def test_a_ring_must_hold_secrets() -> None:
    for bad in ([], [b""], b"", ["text"]):
        with pytest.raises(ValueError, match="secret"):
            RequestStateSealer(key=bad)  # type: ignore[arg-type]
    assert RequestStateSealer().keys != RequestStateSealer().keys  # random by default


def test_binding_principal_and_expiry_still_hold() -> None:
    sealer = RequestStateSealer(key=b"k" * 32)
    token = sealer.seal("b", ANSWERS, "alice")
    for binding, principal, why in [
        ("other", "alice", "another request"),
        ("b", "bob", "another principal"),
        ("b", None, "another principal"),
    ]:
        with pytest.raises(ProtocolError, match=why):
            sealer.open(token, binding, principal)
    expired = RequestStateSealer(key=b"k" * 32, ttl=-1).seal("b", ANSWERS)
    with pytest.raises(ProtocolError, match="expired"):
        sealer.open(expired, "b")


@pytest.mark.parametrize("token", ["", "garbage", "!!!", "AQ", "a.b", "A" * 80])
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(ProtocolError, match=r"malformed|failed verification"):
        RequestStateSealer(key=b"k").open(token, "b")


@settings(max_examples=200)
@given(st.data())
def test_any_altered_byte_is_rejected(data: st.DataObject) -> None:
    sealer = RequestStateSealer(key=b"k" * 32)
    sealed = bytearray(raw(sealer.seal("b", ANSWERS, "alice")))
    at = data.draw(st.integers(0, len(sealed) - 1))
    sealed[at] ^= data.draw(st.integers(1, 255))
    token = base64.urlsafe_b64encode(bytes(sealed)).rstrip(b"=").decode()
    with pytest.raises(ProtocolError, match=r"malformed|failed verification"):
        sealer.open(token, "b", "alice")


def test_cryptography_loads_with_the_first_seal_not_before() -> None:
    script = (
        "import sys\n"
        "from fastmcp_core import RequestStateSealer\n"
        "sealer = RequestStateSealer()\n"
        "print('cryptography' in sys.modules)\n"
        "sealer.open(sealer.seal('b', {}), 'b')\n"
        "print('cryptography' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
