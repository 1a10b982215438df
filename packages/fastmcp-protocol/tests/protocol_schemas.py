"""The official schemas (vendored in ./schemas) and validation against their definitions."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SCHEMAS = Path(__file__).parent / "schemas"


@cache
def load_schema(version: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / version / "schema.json").read_text())


def definitions(version: str) -> dict[str, Any]:
    schema = load_schema(version)
    return schema.get("$defs") or schema["definitions"]


@cache
def _validator(version: str, name: str) -> jsonschema.protocols.Validator:
    schema = dict(load_schema(version))
    key = "$defs" if "$defs" in schema else "definitions"
    schema["$ref"] = f"#/{key}/{name}"
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validate(version: str, name: str, instance: Any) -> None:
    """Fail with every violation when ``instance`` is not a valid ``name`` of ``version``."""
    errors = sorted(_validator(version, name).iter_errors(instance), key=lambda e: e.path)
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        pytest.fail(f"not a valid {name} of {version}:\n  " + "\n  ".join(lines[:10]))
