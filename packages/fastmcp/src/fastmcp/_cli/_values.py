"""``key=value`` arguments, typed by the JSON Schema of what they are for.

A value is read as the type its property's schema says: ``integer``, ``number``,
``boolean`` (``true``/``false``, ``yes``/``no``, ``1``/``0``, ``on``/``off``),
``array`` and ``object`` as JSON, ``null`` as ``null``, ``string`` as it is (never
parsed). A schema allowing several types (``"type": [...]``, ``anyOf``, ``oneOf``, an
``enum``, a ``$ref`` into ``$defs``) takes the first reading that works, strings
last. A property the schema does not describe is read as JSON when it parses, else
as a string. A key the schema forbids (``additionalProperties: false``) is an error
naming the keys it allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from fastmcp._cli._errors import CliError

__all__ = ["parse_arguments", "parse_pairs"]

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
# the order in which the types of a union are tried: strings last, they always work
_ORDER = ("null", "boolean", "integer", "number", "array", "object", "string")


def parse_pairs(pairs: Iterable[str]) -> list[tuple[str, str]]:
    """``["a=1", "b=x=y"]`` -> ``[("a", "1"), ("b", "x=y")]``; ``CliError`` for an
    item without ``=`` or with an empty key."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"bad argument {pair!r}: expected key=value")
        out.append((key, value))
    return out


def parse_arguments(
    pairs: Iterable[str],
    schema: Mapping[str, Any] | None,
    *,
    what: str,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The arguments object for ``pairs`` typed by ``schema`` (an ``inputSchema``),
    on top of ``base`` (from ``--input-json``). ``what`` names the target in errors
    ("tool 'add'")."""
    schema = schema or {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    closed = schema.get("additionalProperties") is False
    arguments = dict(base or {})
    for key, text in parse_pairs(pairs):
        prop = properties.get(key)
        if prop is None:
            if closed:
                allowed = ", ".join(properties) or "none"
                raise CliError(f"{what} has no argument {key!r} (its arguments: {allowed})")
            arguments[key] = _untyped(text)
            continue
        arguments[key] = typed_value(text, prop, schema, key=key, what=what)
    return arguments


def typed_value(
    text: str,
    prop: Any,
    root: Mapping[str, Any],
    *,
    key: str,
    what: str,
) -> Any:
    """``text`` read as the type ``prop`` (a property schema of ``root``) says."""
    types = _types_of(prop, root, depth=0)
    if not types:
        return _untyped(text)
    choices = _resolved(prop, root).get("enum")
    for kind in _ORDER:
        if kind in types:
            ok, value = _read(text, kind)
            if ok and (not isinstance(choices, list) or value in choices):
                return value
    if isinstance(choices, list):
        listed = ", ".join(json.dumps(c) for c in choices)
        raise CliError(f"argument {key!r} of {what} must be one of {listed}, got {text!r}")
    wanted = " or ".join(_NAMES[k] for k in _ORDER if k in types)
    raise CliError(f"argument {key!r} of {what} must be {wanted}, got {text!r}")


_NAMES = {
    "null": "null",
    "boolean": "a boolean (true/false)",
    "integer": "an integer",
    "number": "a number",
    "array": "a JSON array",
    "object": "a JSON object",
    "string": "a string",
}


def _resolved(prop: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``prop``, or what its ``$ref`` points at (one level)."""
    if not isinstance(prop, Mapping):
        return {}
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        return target if isinstance(target, Mapping) else {}
    return prop


def _types_of(prop: Any, root: Mapping[str, Any], depth: int) -> set[str]:
    if not isinstance(prop, Mapping) or depth > 8:
        return set()
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        return _types_of(target, root, depth + 1)
    kind = prop.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    found: set[str] = set()
    for union in ("anyOf", "oneOf", "allOf"):
        options = prop.get(union)
        if isinstance(options, list):
            for option in options:
                found |= _types_of(option, root, depth + 1)
    for values in (prop.get("enum"), [prop["const"]] if "const" in prop else None):
        if isinstance(values, list):
            found |= {_json_type(v) for v in values}
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _read(text: str, kind: str) -> tuple[bool, Any]:
    if kind == "string":
        return True, text
    if kind == "null":
        return text == "null", None
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True, True
        if lowered in _FALSE:
            return True, False
        return False, None
    if kind == "integer":
        try:
            return True, int(text.strip())
        except ValueError:
            return False, None
    if kind == "number":
        try:
            number = float(text.strip())
        except ValueError:
            return False, None
        if number != number or number in (float("inf"), float("-inf")):
            return False, None  # JSON has no NaN or infinities
        return True, int(number) if number.is_integer() and "." not in text else number
    try:
        value = json.loads(text)
    except ValueError:
        return False, None
    expected = list if kind == "array" else dict
    return isinstance(value, expected), value


def _untyped(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
