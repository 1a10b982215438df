"""The codec against hostile input: mutated frames, odd ids, deep nesting, batches.

Whatever bytes arrive, ``decode_message`` returns a message (or a batch of messages
and ``MalformedMessage`` members) or raises ``MalformedMessage`` with -32700 or
-32600, never anything else; whatever id it accepts, an answer under that id can be
encoded and decodes back to the same id (the session answers every request it read).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastmcp_protocol as p

VALID = [
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1}}}',
    b'{"jsonrpc":"2.0","id":"abc","method":"ping"}',
    b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
    b'{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"x"}]}}',
    b'{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad","data":{"k":[1]}}}',
    b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"}]',
]
BYTES = [0, 9, 10, 13, 32, 34, 44, 45, 48, 57, 58, 91, 92, 93, 101, 110, 117, 123, 125, 0xC3, 0xFF]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid frame with bytes replaced, inserted, deleted, or a slice repeated."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "repeat"]))
        if kind == "insert":
            data.insert(at, draw(st.sampled_from(BYTES)))
        elif kind == "repeat":
            end = draw(st.integers(at, min(len(data), at + 12)))
            data[at:at] = data[at:end] * draw(st.integers(1, 4))
        elif at < len(data):
            if kind == "replace":
                data[at] = draw(st.sampled_from(BYTES))
            else:
                del data[at]
    return bytes(data)


def check(frame: bytes) -> Any:
    """Decode ``frame`` as a session does; assert the outcome is one it can handle."""
    try:
        message = p.decode_message(frame)
    except p.MalformedMessage as error:
        assert error.code in (p.PARSE_ERROR, p.INVALID_REQUEST), error
        answer_under(error.request_id)
        return None
    for member in message if isinstance(message, list) else [message]:
        if isinstance(member, p.MalformedMessage):
            assert member.code in (p.PARSE_ERROR, p.INVALID_REQUEST)
            answer_under(member.request_id)
        elif isinstance(member, p.JSONRPCRequest):
            assert isinstance(member.method, str)
            answer_under(member.id)
        else:
            assert isinstance(
                member, p.JSONRPCNotification | p.JSONRPCResultResponse | p.JSONRPCErrorResponse
            ), member
    return message


def answer_under(rid: p.RequestId | None) -> None:
    """An error answer under ``rid`` encodes, and decodes back to ``rid``."""
    frame = p.encode_error(rid, p.INVALID_REQUEST, "x")
    back = msgspec.json.decode(frame)
    assert back["id"] == rid
    assert back["error"]["code"] == p.INVALID_REQUEST


@settings(max_examples=1000)
@given(mutated())
def test_mutated_frames_decode_or_are_refused_cleanly(frame: bytes) -> None:
    check(frame)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.sampled_from(VALID[:5]), mutated()), min_size=1, max_size=5))
def test_batches_of_mutated_members(members: list[bytes]) -> None:
    check(b"[" + b",".join(members) + b"]")


@settings(max_examples=300)
@given(
    st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70),
        st.text(max_size=30),  # NUL, non-BMP, anything a str holds
    ),
    st.text(min_size=1, max_size=30),
)
def test_any_accepted_id_and_method_round_trip(rid: p.RequestId, method: str) -> None:
    message = check(p.encode_request(rid, method, {"k": [rid]}))
    assert isinstance(message, p.JSONRPCRequest)
    assert (message.id, message.method) == (rid, method)


@pytest.mark.parametrize("depth", [64, 1_000, 100_000])
@pytest.mark.parametrize("where", ["params", "id", "batch", "result"])
def test_deep_nesting_is_refused_or_decoded_never_a_crash(depth: int, where: str) -> None:
    nest = b"[" * depth + b"]" * depth
    frame = {
        "params": b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":' + nest + b"}}",
        "id": b'{"jsonrpc":"2.0","id":' + nest + b',"method":"x"}',
        "batch": nest,
        "result": b'{"jsonrpc":"2.0","id":1,"result":{"a":' + nest + b"}}",
    }[where]
    check(frame)


@pytest.mark.parametrize(
    "frame",
    [
        b"\xef\xbb\xbf" + VALID[1],  # a byte order mark
        VALID[1] + VALID[1],  # two messages in one frame
        b'{"jsonrpc":"2.0","id":"\\ud800","method":"x"}',  # a lone surrogate
        b'{"jsonrpc":"2.0","id":1,"method":"x","params":NaN}',
        b'{"jsonrpc":"2.0","id":1.0,"method":"x"}',
        b'{"jsonrpc":"2.0","id":true,"method":"x"}',
        b'{"jsonrpc":"2.0","id":null,"method":"x"}',
        b'{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}',  # duplicate keys: the last wins
        b'{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}',
        b'{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}',
        b'{"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"m"}}',
        b"[]",
        b"[[]]",
        b"[{}]",
        b'"\\u0000"',
        b"",
    ],
)
def test_odd_frames(frame: bytes) -> None:
    check(frame)
