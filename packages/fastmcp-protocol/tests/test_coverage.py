"""Every definition of every released schema has a Python type, with every property."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec
import pytest
from protocol_schemas import definitions

import fastmcp_protocol as p

_STRUCTS = [v for v in vars(p).values() if isinstance(v, type) and issubclass(v, msgspec.Struct)]


def _wire_fields(cls: type[msgspec.Struct]) -> set[str]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    names = {f.encode_name for f in info.fields}
    if info.tag_field is not None:
        names.add(info.tag_field)
    return names


def _alternatives(t: Any) -> set[Any]:
    """The members of a union alias, or of an untagged union's decode marker."""
    if isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union:
        return set(typing.get_args(t))
    if isinstance(t, type) and not issubclass(t, msgspec.Struct) and t.__name__.startswith("_"):
        return {s for s in _STRUCTS if issubclass(s, t)}
    return {t}


_PRIMITIVES = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict}


@pytest.mark.parametrize("version", p.PROTOCOL_VERSIONS)
def test_every_definition_has_a_type(version: str) -> None:
    schema_names = set(definitions(version))
    ours = set(p.schema_definitions(version))
    assert schema_names - ours == set(), "definitions without a type"
    assert ours - schema_names == set(), "types listed for definitions the schema lacks"


def _cases() -> list[tuple[str, str]]:
    return [(v, name) for v in p.PROTOCOL_VERSIONS for name in sorted(definitions(v))]


@pytest.mark.parametrize(("version", "name"), _cases())
def test_definition_shape(version: str, name: str) -> None:
    definition = definitions(version)[name]
    ours = p.schema_definitions(version)[name]
    if definition.get("properties"):
        assert isinstance(ours, type), f"{name} is an object: it needs a struct"
        assert issubclass(ours, msgspec.Struct), f"{name} is an object: it needs a struct"
        missing = set(definition["properties"]) - _wire_fields(ours)
        assert not missing, f"{ours.__name__} lacks {sorted(missing)}"
        p.decoder(ours)  # decodable: no ambiguous union anywhere inside
    elif alternatives := definition.get("anyOf") or definition.get("oneOf"):
        if name == "JSONValue":
            return  # any JSON value
        assert len(_alternatives(ours)) == len(alternatives), name
    elif "$ref" in definition:  # an alias of another definition
        ref = definition["$ref"].rsplit("/", 1)[-1]
        assert ours is p.schema_definitions(version)[ref], name
    elif "enum" in definition:
        assert set(typing.get_args(ours)) == set(definition["enum"]), name
    elif "allOf" in definition:  # Result + Task and the like: a struct with every part
        assert issubclass(ours, msgspec.Struct)
        for part in definition["allOf"]:
            ref = part["$ref"].rsplit("/", 1)[-1]
            wanted = definitions(version)[ref].get("properties", {})
            assert set(wanted) <= _wire_fields(ours), (name, ref)
    elif isinstance(definition.get("type"), list):  # RequestId, ProgressToken
        assert _alternatives(ours) == {_PRIMITIVES[t] for t in definition["type"]}, name
    elif definition.get("type") == "array":
        assert typing.get_origin(ours) is list, name
    elif definition.get("type") in _PRIMITIVES:
        expected = _PRIMITIVES[definition["type"]]
        assert ours is expected or typing.get_origin(ours) is expected or ours is Any, name
    else:
        pytest.fail(f"{name}: unexpected definition {definition}")


def test_every_struct_is_a_frozen_value() -> None:
    for cls in _STRUCTS:
        assert cls.__struct_config__.frozen, cls.__name__
