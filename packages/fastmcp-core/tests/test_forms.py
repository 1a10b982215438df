"""Elicitation forms from any response type: objects, one value, options; choices in
the order they were declared."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Literal

import msgspec
import pytest

from fastmcp_core import McpContext, form_schema, read_form
from fastmcp_protocol import ElicitRequest, ElicitResult, UnexpectedResult


class Priority(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclasses.dataclass
class Task:
    title: str
    priority: Literal["urgent", "later", "never"] = "later"
    labels: list[Priority] = dataclasses.field(default_factory=list)


def properties(response_type: Any) -> dict[str, Any]:
    return msgspec.to_builtins(form_schema(response_type))["properties"]  # type: ignore[no-any-return]


def test_one_value_is_a_form_of_one_field() -> None:
    assert properties(str) == {"value": {"type": "string"}}
    assert properties(int) == {"value": {"type": "integer"}}
    assert properties(bool | None) == {"value": {"type": "boolean"}}
    assert form_schema(float).required == ["value"]
    assert read_form({"value": "7"}, int) == 7
    assert read_form({"value": True}, bool) is True
    assert form_schema(None).properties == {}
    assert read_form({}, None) is None
    with pytest.raises(UnexpectedResult):
        read_form({"value": "many"}, int)
    with pytest.raises(UnexpectedResult):
        read_form({}, str)


def test_choices_keep_their_declared_order() -> None:
    assert properties(Literal["low", "medium", "high"])["value"]["enum"] == [
        "low",
        "medium",
        "high",
    ]
    assert properties(Priority)["value"] == {"type": "string", "enum": ["low", "medium", "high"]}
    assert read_form({"value": "high"}, Priority) is Priority.HIGH
    several = properties(list[Priority])["value"]
    assert several == {
        "type": "array",
        "items": {"type": "string", "enum": ["low", "medium", "high"]},
    }
    assert read_form({"value": ["low", "high"]}, list[Priority]) == [Priority.LOW, Priority.HIGH]
    task = properties(Task)
    assert task["priority"]["enum"] == ["urgent", "later", "never"]
    assert task["labels"]["items"]["enum"] == ["low", "medium", "high"]
    assert read_form({"title": "t", "labels": ["medium"]}, Task) == Task(
        "t", "later", [Priority.MEDIUM]
    )


def test_options_given_as_values() -> None:
    assert properties(["zeta", "alpha"])["value"] == {"type": "string", "enum": ["zeta", "alpha"]}
    assert read_form({"value": "alpha"}, ["zeta", "alpha"]) == "alpha"
    with pytest.raises(UnexpectedResult):
        read_form({"value": "beta"}, ["zeta", "alpha"])
    assert properties([["bug", "feature"]])["value"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["bug", "feature"]},
    }
    assert read_form({"value": ["feature"]}, [["bug", "feature"]]) == ["feature"]
    titled = {"low": {"title": "Low Priority"}, "high": {"title": "High Priority"}}
    assert properties(titled)["value"] == {
        "type": "string",
        "oneOf": [
            {"const": "low", "title": "Low Priority"},
            {"const": "high", "title": "High Priority"},
        ],
    }
    assert properties([titled])["value"]["items"]["anyOf"][1] == {
        "const": "high",
        "title": "High Priority",
    }
    assert read_form({"value": "high"}, titled) == "high"
    # a JSON Schema stays one
    assert properties({"properties": {"x": {"type": "string"}}}) == {"x": {"type": "string"}}


async def test_elicit_takes_response_type() -> None:
    asked: list[Any] = []

    def answer(request: ElicitRequest) -> ElicitResult:
        asked.append(msgspec.to_builtins(request.params.requested_schema))
        return ElicitResult(action="accept", content={"value": "medium"})

    async with McpContext.for_testing(elicit=answer) as ctx:
        got = await ctx.elicit("Priority?", response_type=Priority)
        assert got.data is Priority.MEDIUM
        plain = await ctx.elicit("Priority?", response_type=["low", "medium"])
        assert plain.data == "medium"
        nothing = await ctx.elicit("Go?", response_type=None)
        assert nothing.accepted
        assert nothing.data is None
        with pytest.raises(TypeError, match="not both"):
            await ctx.elicit("?", str, response_type=str)
    assert asked[0]["properties"]["value"]["enum"] == ["low", "medium", "high"]
