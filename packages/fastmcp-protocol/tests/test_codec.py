"""Bad input never crashes the codec, and each kind maps to the code JSON-RPC prescribes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import fastmcp_protocol as p


def _malformed(frame: bytes) -> p.MalformedMessage:
    with pytest.raises(p.MalformedMessage) as info:
        p.decode_message(frame)
    return info.value


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"{",
        b"{bad json}",
        b'{"a":1,}',
        b"\xff\xfe\x00",
        b'{"jsonrpc":"\xed\xa0\x80"}',
        b"nul",
        b"[1,2",
    ],
)
def test_not_json_is_a_parse_error(frame: bytes) -> None:
    error = _malformed(frame)
    assert error.code == p.PARSE_ERROR
    assert error.request_id is None


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        (b'"just a string"', "Expected `object | array`"),
        (b"42", "Expected `object | array`"),
        (b"null", "Expected `object | array`"),
        (b'{"jsonrpc":"2.0","id":1}', 'needs "method"'),
        (b'{"id":1,"method":"ping"}', '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', "$.id"),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', "$.id"),
        (b'{"jsonrpc":"2.0","id":{},"method":"ping"}', "$.id"),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', "must not be null"),
        (b'{"jsonrpc":"2.0","id":1,"method":7}', "$.method"),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}', '"params" must be an object'),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}', '"params" must be an object'),
        (b"[]", "empty batch"),
    ],
)
def test_json_that_is_not_a_message_is_an_invalid_request(frame: bytes, fragment: str) -> None:
    error = _malformed(frame)
    assert error.code == p.INVALID_REQUEST
    assert fragment in error.message


def test_invalid_request_keeps_the_id_when_it_can_be_read() -> None:
    error = _malformed(b'{"jsonrpc":"2.0","id":"abc","method":"x","params":[]}')
    assert error.request_id == "abc"
    reply = msgspec.json.decode(p.encode_error(error.request_id, error))
    assert reply == {
        "jsonrpc": "2.0",
        "id": "abc",
        "error": {"code": -32600, "message": error.message},
    }


def test_parse_error_reply_has_null_id() -> None:
    error = _malformed(b"{oops")
    reply = msgspec.json.decode(p.encode_error(error.request_id, error))
    assert reply["id"] is None
    assert reply["error"]["code"] == -32700


def test_each_kind_of_message_is_recognised() -> None:
    request = p.decode_message(b'{"jsonrpc":"2.0","id":"r1","method":"tools/list"}')
    assert request == p.JSONRPCRequest(id="r1", method="tools/list")
    note = p.decode_message(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
    assert note == p.JSONRPCNotification(method="notifications/initialized")
    ok = p.decode_message(b'{"jsonrpc":"2.0","id":3,"result":{"x":1}}')
    assert isinstance(ok, p.JSONRPCResultResponse)
    assert bytes(ok.result) == b'{"x":1}'
    err = p.decode_message(b'{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"nope"}}')
    assert isinstance(err, p.JSONRPCErrorResponse)
    assert p.McpError.from_error(err.error).code == p.METHOD_NOT_FOUND


def test_unknown_fields_are_ignored() -> None:
    message = p.decode_message(b'{"jsonrpc":"2.0","id":1,"method":"ping","extra":{"deep":[1]}}')
    assert message == p.JSONRPCRequest(id=1, method="ping")


def test_batch_members_are_decoded_one_by_one() -> None:
    batch = p.decode_message(
        b'[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5, {"jsonrpc":"2.0","method":"n"}]'
    )
    assert isinstance(batch, list)
    assert batch[0] == p.JSONRPCRequest(id=1, method="ping")
    assert isinstance(batch[1], p.MalformedMessage)
    assert batch[1].code == p.INVALID_REQUEST
    assert batch[2] == p.JSONRPCNotification(method="n")


def test_unknown_method_is_not_in_the_table() -> None:
    assert "tools/frobnicate" not in p.METHODS


def test_huge_message_decodes() -> None:
    text = "x" * (10 * 1024 * 1024)
    frame = p.encode_request(1, "tools/call", {"name": "echo", "arguments": {"text": text}})
    message = p.decode_message(frame)
    assert isinstance(message, p.JSONRPCRequest)
    params = p.decode_params(message.params, p.CallToolRequestParams)
    assert params.arguments == {"text": text}


def test_invalid_utf8_inside_params_is_a_parse_error() -> None:
    frame = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\xff"}}'
    try:
        message = p.decode_message(frame)
    except p.MalformedMessage as error:
        assert error.code == p.PARSE_ERROR
        return
    assert isinstance(message, p.JSONRPCRequest)
    with pytest.raises(p.McpError) as info:
        p.decode_params(message.params, p.CallToolRequestParams)
    assert info.value.code == p.PARSE_ERROR


def test_deeply_nested_input_is_refused_not_crashed() -> None:
    deep = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}}"
    )
    try:
        message = p.decode_message(deep)
    except p.MalformedMessage as error:  # refused at the envelope
        assert error.code in (p.PARSE_ERROR, p.INVALID_REQUEST)
        return
    assert isinstance(message, p.JSONRPCRequest)
    with pytest.raises(p.McpError) as info:
        p.decode_params(message.params, p.CallToolRequestParams)
    assert info.value.code == p.INVALID_PARAMS


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (b"{}", "`name`"),
        (b'{"name":5}', "$.name"),
        (b'{"name":"x","arguments":[1]}', "$.arguments"),
        (b'{"name":"x","_meta":[]}', "$._meta"),
    ],
)
def test_bad_params_name_the_field(raw: bytes, fields: str) -> None:
    with pytest.raises(p.McpError) as info:
        p.decode_params(msgspec.Raw(raw), p.CallToolRequestParams)
    assert info.value.code == p.INVALID_PARAMS
    assert fields in info.value.message


def test_absent_params_decode_as_empty_object() -> None:
    assert p.decode_params(msgspec.UNSET, p.PaginatedRequestParams) == p.PaginatedRequestParams()
    with pytest.raises(p.McpError):
        p.decode_params(msgspec.UNSET, p.CallToolRequestParams)


def test_a_result_of_the_wrong_shape_is_reported() -> None:
    with pytest.raises(p.McpError) as info:
        p.decode_result(msgspec.Raw(b'{"tools": 3}'), p.ListToolsResult)
    assert "$.tools" in info.value.message


def test_untagged_unions_reject_non_objects() -> None:
    with pytest.raises(msgspec.ValidationError):
        p.decode(b'{"contents": [3]}', p.ReadResourceResult)
    with pytest.raises(msgspec.ValidationError):
        p.decode(b'{"contents": [{"uri": "u"}]}', p.ReadResourceResult)


def test_encode_error_from_parts_and_from_exception() -> None:
    assert p.encode_error(1, p.INTERNAL_ERROR, "boom") == p.encode_error(
        1, p.McpError(p.INTERNAL_ERROR, "boom")
    )
    with_data = msgspec.json.decode(p.encode_error(2, p.INVALID_PARAMS, "bad", {"field": "x"}))
    assert with_data["error"]["data"] == {"field": "x"}


def test_an_answer_decodes_straight_into_the_type_waited_for() -> None:
    frame = b'{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hi"}]}}'
    answer = p.decode_answer(frame, p.CallToolResult)
    assert answer is not None
    rid, result = answer
    assert rid == 7
    assert result == p.CallToolResult(content=[p.TextContent(text="hi")])
    # the same as the two passes it replaces
    message = p.decode_message(frame)
    assert isinstance(message, p.JSONRPCResultResponse)
    assert p.decode_result(message.result, p.CallToolResult) == result


@pytest.mark.parametrize(
    "frame",
    [
        b'{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"no"}}',
        b'{"jsonrpc":"2.0","id":7,"result":{"content":[]},"error":{"code":1,"message":"x"}}',
        b'{"jsonrpc":"2.0","id":7,"method":"ping","result":{"content":[]}}',
        b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}',
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":{}}',
        b'{"jsonrpc":"1.0","id":7,"result":{"content":[]}}',
        b'{"jsonrpc":"2.0","id":null,"result":{"content":[]}}',
        b'{"jsonrpc":"2.0","id":7,"result":{"resultType":"input_required"}}',
        b'[{"jsonrpc":"2.0","id":7,"result":{"content":[]}}]',
        b"{not json",
        b'{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"\xff"}]}}',
    ],
)
def test_anything_but_an_answer_of_that_type_is_left_to_decode_message(frame: bytes) -> None:
    assert p.decode_answer(frame, p.CallToolResult) is None


class _Unknown:
    """Not a type msgspec can decode into."""


@pytest.mark.parametrize("result_type", [_Unknown, str | bytes])
def test_an_answer_into_a_type_msgspec_cannot_decode_is_left_to_decode_result(
    result_type: Any,
) -> None:
    frame = b'{"jsonrpc":"2.0","id":7,"result":{"content":[]}}'
    assert p.decode_answer(frame, result_type) is None
    message = p.decode_message(frame)
    assert isinstance(message, p.JSONRPCResultResponse)
    with pytest.raises((NotImplementedError, TypeError)):  # what the caller learns
        p.decode_result(message.result, result_type)
