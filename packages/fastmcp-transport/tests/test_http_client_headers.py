"""Header values and ``x-mcp-header`` rules, as the 2026-07-28 specification words them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastmcp_transport.http_client import (
    InvalidParamHeader,
    ParamHeader,
    encode_header_value,
    param_header_value,
    tool_param_headers,
)


@pytest.mark.parametrize(
    ("value", "header"),
    [
        # the specification's own table
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        # and the conformance suite's
        ("", ""),
        ("us west 1", "us west 1"),
        (" us-west1", "=?base64?IHVzLXdlc3Qx?="),
        ("us-west1 ", "=?base64?dXMtd2VzdDEg?="),
        ("line1\r\nline2", "=?base64?bGluZTENCmxpbmUy?="),
        ("\tindented", "=?base64?CWluZGVudGVk?="),
        ("file:///path/to/file%20name.txt", "file:///path/to/file%20name.txt"),
    ],
)
def test_header_values_follow_the_specification(value: str, header: str) -> None:
    assert encode_header_value(value) == header


@given(st.text())
def test_every_value_is_header_safe_and_round_trips(value: str) -> None:
    header = encode_header_value(value)
    assert all(0x20 <= ord(c) <= 0x7E for c in header)
    if header.startswith("=?base64?") and header.endswith("?="):
        assert base64.b64decode(header[9:-2]).decode() == value
    else:
        assert header == value
        assert header.strip(" ") == header


def test_argument_values_become_header_text() -> None:
    assert param_header_value(42) == "42"
    assert param_header_value(-7) == "-7"
    assert param_header_value(42.0) == "42"
    assert param_header_value(True) == "true"
    assert param_header_value(False) == "false"
    assert param_header_value("é") == "=?base64?w6k=?="
    for nothing in (None, 3.14, [1], {"a": 1}):
        assert param_header_value(nothing) is None


def annotated(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def test_rules_follow_properties_down_to_nested_parameters() -> None:
    schema = annotated(
        region={"type": "string", "x-mcp-header": "Region"},
        query={"type": "string"},
        options=annotated(
            priority={"type": "integer", "x-mcp-header": "Priority"},
            verbose={"type": ["boolean", "null"], "x-mcp-header": "Verbose"},
        ),
    )
    assert tool_param_headers(schema) == (
        ParamHeader("Mcp-Param-Region", ("region",)),
        ParamHeader("Mcp-Param-Priority", ("options", "priority")),
        ParamHeader("Mcp-Param-Verbose", ("options", "verbose")),
    )
    assert tool_param_headers({"type": "object"}) == ()


def test_annotations_that_are_data_are_not_annotations() -> None:
    schema = annotated(
        blob={"type": "object", "default": {"x-mcp-header": "NotOne"}},
        # a property may be named like the keyword
        **{"x-mcp-header": {"type": "string"}},
    )
    assert tool_param_headers(schema) == ()


# The invalid tools of the conformance suite's http-invalid-tool-headers scenario.
INVALID = {
    "empty": annotated(region={"type": "string", "x-mcp-header": ""}),
    "object": annotated(region={"type": "object", "x-mcp-header": "Region"}),
    "array": annotated(region={"type": "array", "x-mcp-header": "Region"}),
    "null": annotated(region={"type": "null", "x-mcp-header": "Region"}),
    "number": annotated(score={"type": "number", "x-mcp-header": "Score"}),
    "untyped": annotated(region={"x-mcp-header": "Region"}),
    "same case": annotated(
        a={"type": "string", "x-mcp-header": "Region"},
        b={"type": "string", "x-mcp-header": "Region"},
    ),
    "other case": annotated(
        a={"type": "string", "x-mcp-header": "MyField"},
        b={"type": "string", "x-mcp-header": "myfield"},
    ),
    "space": annotated(region={"type": "string", "x-mcp-header": "My Region"}),
    "colon": annotated(region={"type": "string", "x-mcp-header": "Region:Primary"}),
    "non-ascii": annotated(region={"type": "string", "x-mcp-header": "Région"}),
    "control": annotated(region={"type": "string", "x-mcp-header": "Region\t1"}),
    "not a string": annotated(region={"type": "string", "x-mcp-header": 7}),
    "in items": annotated(
        tags={"type": "array", "items": {"type": "string", "x-mcp-header": "Tag"}}
    ),
    "in anyOf": annotated(
        region={"anyOf": [{"type": "string", "x-mcp-header": "Region"}, {"type": "null"}]}
    ),
    "in $defs": {
        "type": "object",
        "$defs": {"r": {"type": "string", "x-mcp-header": "Region"}},
        "properties": {"region": {"$ref": "#/$defs/r"}},
    },
    "at the root": {"type": "object", "x-mcp-header": "Root"},
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_annotations_reject_the_tool(case: str) -> None:
    with pytest.raises(InvalidParamHeader) as caught:
        tool_param_headers(INVALID[case])
    assert "x-mcp-header" in str(caught.value)
