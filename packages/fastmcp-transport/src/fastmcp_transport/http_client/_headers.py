"""Request metadata headers of Streamable HTTP (2026-07-28): values and ``x-mcp-header``.

The client mirrors parts of each request body into headers so that intermediaries
can route without reading the body: ``Mcp-Method``, ``Mcp-Name`` and, for tools whose
input schema marks parameters with ``x-mcp-header``, one ``Mcp-Param-{Name}`` header
per marked parameter. A value that is not plain visible ASCII (or that has leading or
trailing spaces, or already looks like an encoded value) travels as
``=?base64?{Base64 of its UTF-8}?=``.

``tool_param_headers`` validates the annotations of one tool's input schema once,
after ``tools/list``, and turns them into ``ParamHeader`` rules; the transport then
applies the rules of the called tool to each ``tools/call`` (see
``StreamableHttpTransport.register_tool``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import attrs

from fastmcp_protocol import LocalError

__all__ = [
    "InvalidParamHeader",
    "ParamHeader",
    "encode_header_value",
    "param_header_value",
    "tool_param_headers",
]

_BASE64_PREFIX = "=?base64?"
_BASE64_SUFFIX = "?="

# RFC 9110 field-name token characters (tchar).
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PRIMITIVE_TYPES = frozenset({"string", "integer", "boolean"})

# Keywords whose value is a schema, a list of schemas or a map of schemas. Only
# ``properties`` keeps a position statically reachable; an annotation met through
# any of the others makes the tool definition invalid.
_SCHEMA_KEYWORDS = frozenset(
    {
        "additionalProperties",
        "items",
        "contains",
        "not",
        "if",
        "then",
        "else",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "additionalItems",
    }
)
_SCHEMA_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SCHEMA_MAP_KEYWORDS = frozenset(
    {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
)


class InvalidParamHeader(LocalError, ValueError):
    """A tool's ``x-mcp-header`` annotations break the rules of the specification.

    The specification says a client on Streamable HTTP must leave such a tool out of
    its ``tools/list`` result (and should log why): ``str(exc)`` is that reason.
    """


@attrs.frozen
class ParamHeader:
    """Mirror the argument at ``path`` into the header ``name``."""

    name: str
    """The full header name, ``Mcp-Param-`` and the annotation's value."""
    path: tuple[str, ...]
    """Property names from the root of the arguments to the parameter."""


def encode_header_value(value: str) -> str:
    """``value`` as a header value: as it is when it is plain visible ASCII (spaces
    inside allowed), otherwise in the ``=?base64?...?=`` sentinel form.

    Encoded are: any character outside 0x20-0x7E (non-ASCII, control characters, tab,
    CR, LF), a leading or trailing space, and a plain value that already has the
    sentinel's shape (so that it cannot be mistaken for an encoded one). The empty
    string stays empty.
    """
    if value and (
        not value.isascii()
        or not value.isprintable()
        or value[0] == " "
        or value[-1] == " "
        or (value.startswith(_BASE64_PREFIX) and value.endswith(_BASE64_SUFFIX))
    ):
        return _BASE64_PREFIX + base64.b64encode(value.encode()).decode("ascii") + _BASE64_SUFFIX
    return value


def param_header_value(value: Any) -> str | None:
    """The header text of one argument, or ``None`` when no header is sent for it.

    Strings are encoded by ``encode_header_value``, booleans become ``true``/``false``,
    integers (and floats with an integral value, as JSON does not tell them apart)
    their decimal form. ``null``, other numbers, objects and arrays send no header.
    """
    if isinstance(value, str):
        return encode_header_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def tool_param_headers(input_schema: Mapping[str, Any]) -> tuple[ParamHeader, ...]:
    """Validate the ``x-mcp-header`` annotations of one input schema; return the rules.

    Raises ``InvalidParamHeader`` naming the first broken rule: an annotation that is
    not a non-empty RFC 9110 token, that repeats another one (case-insensitively),
    that sits on a property whose ``type`` is not ``string``, ``integer`` or
    ``boolean``, or that is not reachable from the root through ``properties`` alone
    (under ``items``, ``anyOf``, ``$defs``, ...). A schema without annotations gives
    an empty tuple.
    """
    found: list[ParamHeader] = []
    _walk(input_schema, (), True, found)
    seen: set[str] = set()
    for rule in found:
        key = rule.name.lower()
        if key in seen:
            raise InvalidParamHeader(f"x-mcp-header {rule.name[10:]!r} is used twice")
        seen.add(key)
    return tuple(found)


def _walk(schema: Any, path: tuple[str, ...], reachable: bool, found: list[ParamHeader]) -> None:
    if not isinstance(schema, Mapping):
        return  # booleans are schemas too; they carry no annotations
    if "x-mcp-header" in schema:
        where = ".".join(path) or "the root"
        if not reachable or not path:
            raise InvalidParamHeader(
                f"x-mcp-header at {where} is not reachable through properties alone"
            )
        found.append(ParamHeader(_header_name(schema["x-mcp-header"], where), path))
        _check_primitive(schema.get("type"), where)
    for keyword, value in schema.items():
        if keyword in _SCHEMA_MAP_KEYWORDS and isinstance(value, Mapping):
            for name, sub in value.items():
                if keyword == "properties":
                    _walk(sub, (*path, str(name)), reachable, found)
                else:
                    _walk(sub, (*path, str(name)), False, found)
        elif keyword in _SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            for sub in value:
                _walk(sub, path, False, found)
        elif keyword in _SCHEMA_KEYWORDS:
            _walk(value, path, False, found)


def _header_name(annotation: Any, where: str) -> str:
    if not isinstance(annotation, str) or not annotation:
        raise InvalidParamHeader(f"x-mcp-header at {where} must be a non-empty string")
    if not set(annotation) <= _TCHAR:
        raise InvalidParamHeader(
            f"x-mcp-header {annotation!r} at {where} is not a valid header name token"
        )
    return "Mcp-Param-" + annotation


def _check_primitive(type_: Any, where: str) -> None:
    types = type_ if isinstance(type_, list) else [type_]
    named = [t for t in types if t != "null"]
    if not named or not all(isinstance(t, str) and t in _PRIMITIVE_TYPES for t in named):
        raise InvalidParamHeader(
            f"x-mcp-header at {where} is on a parameter of type {type_!r}; "
            "only string, integer and boolean parameters can be mirrored"
        )
