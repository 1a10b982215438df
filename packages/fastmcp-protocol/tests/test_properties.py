"""Round-trip properties of the core types, and a fuzzed decoder that never crashes."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

import fastmcp_protocol as p

text = st.text(max_size=40)
ids = st.one_of(st.integers(min_value=-(2**53), max_value=2**53), st.text(max_size=20))
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    text,
    st.floats(allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
annotations = st.one_of(
    st.none(),
    st.builds(
        p.Annotations,
        audience=st.one_of(st.none(), st.lists(st.sampled_from(["user", "assistant"]), max_size=2)),
        priority=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
    ),
)
resource_contents = st.one_of(
    st.builds(p.TextResourceContents, uri=text, text=text, mime_type=st.one_of(st.none(), text)),
    st.builds(p.BlobResourceContents, uri=text, blob=text, mime_type=st.one_of(st.none(), text)),
)
content_blocks = st.one_of(
    st.builds(p.TextContent, text=text, annotations=annotations),
    st.builds(p.ImageContent, data=text, mime_type=text, annotations=annotations),
    st.builds(p.AudioContent, data=text, mime_type=text),
    st.builds(
        p.ResourceLink, uri=text, name=text, size=st.one_of(st.none(), st.integers(0, 10**9))
    ),
    st.builds(p.EmbeddedResource, resource=resource_contents, annotations=annotations),
)
objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
tools = st.builds(
    p.Tool,
    name=text,
    input_schema=objects.map(lambda d: {**d, "type": "object"}),
    description=st.one_of(st.none(), text),
    annotations=st.one_of(
        st.none(), st.builds(p.ToolAnnotations, read_only_hint=st.one_of(st.none(), st.booleans()))
    ),
    meta=st.one_of(st.none(), objects),
)
call_results = st.builds(
    p.CallToolResult,
    content=st.lists(content_blocks, max_size=5),
    structured_content=st.one_of(st.just(msgspec.UNSET), json_values),
    is_error=st.one_of(st.none(), st.booleans()),
)


def _round_trip(value: Any) -> Any:
    return p.decode(p.encode(value), type(value))


@given(content_blocks)
def test_content_blocks_round_trip(block: p.ContentBlock) -> None:
    assert p.decode(p.encode(block), p.ContentBlock) == block  # type: ignore[arg-type]


@given(tools)
def test_tools_round_trip(tool: p.Tool) -> None:
    assert _round_trip(tool) == tool


@given(call_results)
def test_call_tool_results_round_trip(result: p.CallToolResult) -> None:
    assert _round_trip(result) == result


@given(ids, st.sampled_from(sorted(p.METHODS)), objects)
def test_requests_round_trip(rid: p.RequestId, method: str, params: dict[str, Any]) -> None:
    message = p.decode_message(p.encode_request(rid, method, params))
    assert isinstance(message, p.JSONRPCRequest)
    assert (message.id, message.method) == (rid, method)
    assert msgspec.json.decode(message.params) == params


@given(ids, json_values)
def test_results_and_errors_round_trip(rid: p.RequestId, data: Any) -> None:
    ok = p.decode_message(p.encode_result(rid, {"value": data}))
    assert isinstance(ok, p.JSONRPCResultResponse)
    assert msgspec.json.decode(ok.result) == {"value": data}
    err = p.decode_message(p.encode_error(rid, -1, "m", data))
    assert isinstance(err, p.JSONRPCErrorResponse)
    assert err.id == rid


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(frame: bytes) -> None:
    try:
        p.decode_message(frame)
    except p.MalformedMessage as error:
        assert error.code in (p.PARSE_ERROR, p.INVALID_REQUEST)


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_json_never_crashes(value: Any) -> None:
    try:
        p.decode_message(msgspec.json.encode(value))
    except p.MalformedMessage as error:
        assert error.code == p.INVALID_REQUEST


@settings(max_examples=200)
@given(objects, st.sampled_from(sorted(p.METHODS)))
def test_arbitrary_params_never_crash(params: dict[str, Any], method: str) -> None:
    try:
        p.decode_params(msgspec.json.encode(params), p.METHODS[method].params)
    except p.McpError as error:
        assert error.code == p.INVALID_PARAMS
