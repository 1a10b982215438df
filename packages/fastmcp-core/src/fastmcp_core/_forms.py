"""Elicitation forms from Python types: the restricted, flat schema MCP allows.

An elicitation asks the user to fill a form whose fields are primitives (string,
number, integer, boolean, a single or multiple choice among strings). ``form_schema``
derives that schema from a msgspec Struct, a dataclass, an attrs class or a TypedDict
(field defaults become ``default``; ``Literal`` and ``enum.Enum`` fields become
choices); ``read_form`` converts the accepted content back into the type.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from fastmcp_protocol import ElicitRequestedSchema, UnexpectedResult, convert

__all__ = ["form_schema", "read_form"]

T = TypeVar("T")

_PRIMITIVES = {"string", "number", "integer", "boolean"}
_KEEP = {
    "type", "title", "description", "default", "enum", "oneOf", "minimum", "maximum",
    "minLength", "maxLength", "format", "items", "minItems", "maxItems", "anyOf",
}  # fmt: skip


def form_schema(type_: Any) -> ElicitRequestedSchema:
    """The elicitation form for ``type_`` (a dict is taken as a ready JSON Schema).

    Raises ``TypeError`` when a field is not a primitive the spec allows in forms.
    """
    if isinstance(type_, ElicitRequestedSchema):
        return type_
    if isinstance(type_, dict):
        return convert({"type": "object", **type_}, ElicitRequestedSchema)
    (schema,), components = msgspec.json.schema_components([type_], ref_template="{name}")
    root = components.get(schema.get("$ref", ""), schema)
    if root.get("type") != "object":
        raise TypeError(f"an elicitation form needs an object type, not {type_!r}")
    properties: dict[str, Any] = {}
    for name, field in root.get("properties", {}).items():
        properties[name] = _flat(name, field, components)
    required = root.get("required")
    return ElicitRequestedSchema(properties=properties, required=required or None)


def _flat(name: str, field: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in field:
        field = {**components[field["$ref"]], **{k: v for k, v in field.items() if k != "$ref"}}
    if "anyOf" in field:  # Optional[X] -> X (absent means not given)
        options = [o for o in field["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            rest = {k: v for k, v in field.items() if k != "anyOf"}
            return _flat(name, {**options[0], **rest}, components)
        raise TypeError(f"form field {name!r} must be a single primitive type")
    if "enum" in field and "type" not in field:
        field = {"type": "string", **field}
    kind = field.get("type")
    if kind == "array":
        items = field.get("items", {})
        if "$ref" in items:
            items = components[items["$ref"]]
        if "enum" not in items:
            raise TypeError(f"form field {name!r}: only lists of choices are allowed")
        field = {**field, "items": {"type": "string", "enum": items["enum"]}}
    elif kind not in _PRIMITIVES:
        raise TypeError(f"form field {name!r} must be a string, number, integer or boolean")
    return {k: v for k, v in field.items() if k in _KEEP}


def read_form(content: dict[str, Any] | None, type_: type[T]) -> T:
    """The accepted form ``content`` as a ``type_``; ``UnexpectedResult`` (-32602) when
    the client's answer does not fit."""
    try:
        return convert(content or {}, type_)
    except msgspec.ValidationError as exc:
        raise UnexpectedResult(f"Invalid elicitation response: {exc}") from None
