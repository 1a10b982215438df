"""``x-mcp-header``: tool parameters mirrored into HTTP headers (2026-07-28, Streamable HTTP).

A server may mark a parameter of a tool's ``inputSchema`` with ``"x-mcp-header":
"Name"``; a client on Streamable HTTP then sends the argument's value as the
``Mcp-Param-Name`` header, and MUST drop from ``tools/list`` every tool whose
annotations break the rules, which ``header_problem`` checks:

* the value is a non-empty HTTP token (RFC 9110 ``tchar``: no spaces, no control
  characters), unique among the tool's annotations regardless of case;
* the annotated property has type ``string``, ``integer`` or ``boolean`` (not
  ``number``);
* the property is reachable from the root through ``properties`` keys only (not
  through ``items``, ``anyOf``/``oneOf``/``allOf``/``not``, ``if``/``then``/``else``,
  ``$ref`` or ``$defs``).

Putting the values into headers is the HTTP transport's work; this module only
decides which tool definitions are usable.
"""

from __future__ import annotations

import string
from typing import Any

from fastmcp_protocol import Tool

__all__ = ["header_problem"]

ANNOTATION = "x-mcp-header"
_TCHAR = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")
_TYPES = frozenset({"string", "integer", "boolean"})


def header_problem(tool: Tool) -> str | None:
    """Why ``tool``'s ``x-mcp-header`` annotations are invalid; ``None`` when they are
    valid (or absent)."""
    seen: set[str] = set()
    return _visit(tool.input_schema, True, seen)


def _visit(node: Any, static: bool, seen: set[str]) -> str | None:
    if isinstance(node, list):
        for item in node:
            problem = _visit(item, False, seen)
            if problem:
                return problem
        return None
    if not isinstance(node, dict):
        return None
    if ANNOTATION in node:
        problem = _check(node, static, seen)
        if problem:
            return problem
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for child in value.values():
                problem = _visit(child, static, seen)
                if problem:
                    return problem
        elif key != ANNOTATION:
            problem = _visit(value, False, seen)
            if problem:
                return problem
    return None


def _check(schema: dict[str, Any], static: bool, seen: set[str]) -> str | None:
    name = schema[ANNOTATION]
    if not static:
        return f"{ANNOTATION} {name!r} is not reachable through properties alone"
    if not isinstance(name, str) or not name:
        return f"{ANNOTATION} must be a non-empty string, not {name!r}"
    if not set(name) <= _TCHAR:
        return f"{ANNOTATION} {name!r} is not an HTTP token"
    if name.lower() in seen:
        return f"{ANNOTATION} {name!r} is used twice"
    seen.add(name.lower())
    if schema.get("type") not in _TYPES:
        return f"{ANNOTATION} {name!r} is on a property of type {schema.get('type')!r}"
    return None
