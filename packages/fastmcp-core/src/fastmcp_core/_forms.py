"""Elicitation forms from Python types: the restricted, flat schema MCP allows.

An elicitation asks the user to fill a form whose fields are primitives (string,
number, integer, boolean, a single or multiple choice among strings). ``form_schema``
derives that schema, and ``read_form`` converts the accepted content back, for:

* an object type - a msgspec Struct, a dataclass, an attrs class or a TypedDict -
  whose fields become the form's (defaults become ``default``; ``Literal`` and
  ``enum.Enum`` fields become choices, in the order they were declared);
* one value - ``str``, ``int``, ``float``, ``bool``, a ``Literal[...]``, an ``Enum``,
  a ``list`` of either (several choices) - which becomes a form of one field,
  ``value``; the answer is that value, not a form;
* options given as values: a list of strings (one choice), a list holding one list
  of strings (several), ``{"value": {"title": "Shown"}, ...}`` (one choice with titles)
  or a list holding such a dict (several) - kept in the order given;
* ``None``: a form with no field (the user only accepts or declines);
* a dict with ``properties`` (or a ``type``): a JSON Schema, as it is.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import attrs
import msgspec

from fastmcp_protocol import ElicitRequestedSchema, UnexpectedResult, convert

__all__ = ["form_schema", "read_form"]

T = TypeVar("T")

_PRIMITIVES = {"string", "number", "integer", "boolean"}
_KEEP = {
    "type", "title", "description", "default", "enum", "oneOf", "minimum", "maximum",
    "minLength", "maxLength", "format", "items", "minItems", "maxItems", "anyOf",
}  # fmt: skip
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
VALUE = "value"
"""The one field of a form made for a single value."""


def form_schema(type_: Any) -> ElicitRequestedSchema:
    """The elicitation form for ``type_`` (see the module docstring).

    Raises ``TypeError`` when a field is not a primitive the spec allows in forms.
    """
    if isinstance(type_, ElicitRequestedSchema):
        return type_
    if type_ is None:
        return ElicitRequestedSchema(properties={})
    if _is_json_schema(type_):
        return convert({"type": "object", **type_}, ElicitRequestedSchema)
    if _is_object_type(type_):
        return _object_form(type_)
    return ElicitRequestedSchema(properties={VALUE: _value_schema(type_)}, required=[VALUE])


def read_form(content: dict[str, Any] | None, type_: Any) -> Any:
    """The accepted form ``content`` as ``type_`` asked for it (the value itself for a
    one-value form, ``None`` for ``None``, the content for a JSON Schema);
    ``UnexpectedResult`` (-32602) when the client's answer does not fit."""
    if type_ is None:
        return None
    if isinstance(type_, ElicitRequestedSchema) or _is_json_schema(type_):
        return content
    try:
        if _is_object_type(type_):
            return convert(content or {}, type_)
        if VALUE not in (content or {}):
            raise UnexpectedResult(f"Invalid elicitation response: no {VALUE!r} in it")
        value = (content or {})[VALUE]
        if isinstance(type_, list | dict):
            return _chosen(value, type_)
        return msgspec.convert(value, type_, strict=False)
    except msgspec.ValidationError as exc:
        raise UnexpectedResult(f"Invalid elicitation response: {exc}") from None


# -- one value -----------------------------------------------------------------------------


def _value_schema(type_: Any) -> dict[str, Any]:
    if isinstance(type_, list):
        if len(type_) == 1 and isinstance(type_[0], list | dict):
            return {"type": "array", "items": _choices_schema(type_[0], several=True)}
        return _choices_schema(type_, several=False)
    if isinstance(type_, dict):
        return _choices_schema(type_, several=False)
    base, _ = _unwrap(type_)
    if base in _SCALARS:
        return {"type": _SCALARS[base]}
    choices = _declared_choices(base)
    if choices is not None:
        return _enum_schema(choices)
    if typing.get_origin(base) in (list, set, frozenset, tuple):
        (item,) = typing.get_args(base)[:1] or (str,)
        inner = _declared_choices(_unwrap(item)[0])
        if inner is None:
            raise TypeError(
                f"a form of several values needs choices (Literal or Enum), not {item!r}"
            )
        return {"type": "array", "items": _enum_schema(inner)}
    (schema,), components = msgspec.json.schema_components([base], ref_template="{name}")
    return _flat(VALUE, schema, components)


def _choices_schema(options: Any, *, several: bool) -> dict[str, Any]:
    """Options given as values: strings, or ``{value: {"title": ...}}``."""
    if isinstance(options, dict):
        titled = [{"const": str(k), "title": str(v.get("title", k))} for k, v in options.items()]
        return {"anyOf": titled} if several else {"type": "string", "oneOf": titled}
    values = [str(option) for option in options]
    if not values:
        raise TypeError("an elicitation needs at least one option")
    return {"type": "string", "enum": values}


def _chosen(value: Any, options: Any) -> Any:
    """The answer to options given as values, checked against them."""
    several = (
        isinstance(options, list) and len(options) == 1 and isinstance(options[0], list | dict)
    )
    allowed = {str(o) for o in (options[0] if several else options)}
    picked = value if several else [value]
    if not isinstance(picked, list) or not all(isinstance(v, str) and v in allowed for v in picked):
        raise msgspec.ValidationError(f"{value!r} is not among {sorted(allowed)}")
    return value


def _enum_schema(choices: list[Any]) -> dict[str, Any]:
    kind = "string" if all(isinstance(c, str) for c in choices) else _SCALARS.get(type(choices[0]))
    schema: dict[str, Any] = {"enum": choices}
    if kind is not None:
        schema = {"type": kind, **schema}
    return schema


def _declared_choices(annotation: Any) -> list[Any] | None:
    """The values of a ``Literal`` or ``Enum``, in the order they were declared."""
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    return None


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``annotation`` without ``Annotated`` and ``| None`` (and whether it had it)."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return _unwrap(rest[0])[0], True
    return annotation, False


def _is_json_schema(value: Any) -> bool:
    return isinstance(value, Mapping) and ("properties" in value or "type" in value)


def _is_object_type(value: Any) -> bool:
    return isinstance(value, type) and (
        issubclass(value, msgspec.Struct)
        or dataclasses.is_dataclass(value)
        or attrs.has(value)
        or typing.is_typeddict(value)
    )


# -- an object type ------------------------------------------------------------------------


def _object_form(type_: Any) -> ElicitRequestedSchema:
    (schema,), components = msgspec.json.schema_components([type_], ref_template="{name}")
    root = components.get(schema.get("$ref", ""), schema)
    if root.get("type") != "object":
        raise TypeError(f"an elicitation form needs an object type, not {type_!r}")
    order = _field_choices(type_)
    properties: dict[str, Any] = {}
    for name, field in root.get("properties", {}).items():
        flat = _flat(name, field, components)
        choices = order.get(name)
        if choices is not None:  # msgspec sorts a Literal's or Enum's values: declared order
            if "enum" in flat:
                flat["enum"] = choices
            elif isinstance(flat.get("items"), dict) and "enum" in flat["items"]:
                flat["items"] = {**flat["items"], "enum": choices}
        properties[name] = flat
    required = root.get("required")
    return ElicitRequestedSchema(properties=properties, required=required or None)


def _field_choices(type_: Any) -> dict[str, list[Any]]:
    """The declared choices of each field that is a ``Literal`` or ``Enum`` (or a list
    of one), by its name in the form."""
    try:
        hints = typing.get_type_hints(type_)
        info = msgspec.inspect.type_info(type_)
    except Exception:
        return {}
    wire_names = {f.name: f.encode_name for f in getattr(info, "fields", ())}
    found: dict[str, list[Any]] = {}
    for name, hint in hints.items():
        base, _ = _unwrap(hint)
        if typing.get_origin(base) in (list, set, frozenset):
            base = _unwrap(typing.get_args(base)[0])[0]
        choices = _declared_choices(base)
        if choices is not None:
            found[wire_names.get(name, name)] = choices
    return found


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
