"""From what a handler returns to MCP results, decided from the return annotation once.

Tools. ``tool_output(annotation)`` chooses, at registration, the output schema and
the converter for every call:

* an object type (msgspec Struct, dataclass, attrs class, TypedDict, ``dict[str, X]``)
  -> ``outputSchema`` is its schema, ``structuredContent`` the value, and the text
  content its JSON;
* a primitive or a list (``str``, ``int``, ``list[X]``...) -> wrapped as
  ``{"result": value}`` with a matching output schema (objects are what every spec
  version allows for structured content), and the text content the value itself;
* content (``TextContent``, ``ImageContent``, ``Image``, ``Audio``, ``File``, lists of
  them), ``CallToolResult`` or no annotation -> no output schema; the value is turned
  into content blocks by its run-time type (str -> text, bytes -> an embedded blob,
  anything else -> its JSON as text).

Prompts and resources convert by run-time type too (``prompt_messages``,
``resource_contents``).
"""

from __future__ import annotations

import base64
import dataclasses
import sys
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import msgspec

from fastmcp_protocol import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    PromptMessage,
    ReadResourceResult,
    ResourceContents,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from fastmcp_server._signature import json_schema

if TYPE_CHECKING:
    from fastmcp_server._media import Audio, File, Image

__all__ = [
    "ToolOutput",
    "constant",
    "prompt_messages",
    "resource_contents",
    "to_content",
    "tool_output",
]

_CONTENT_TYPES = (TextContent, ImageContent, AudioContent, ResourceLink, EmbeddedResource)


def _media() -> tuple[type[Image] | type[Audio] | type[File], ...]:
    """``Image``, ``Audio`` and ``File`` once their module is loaded. Until someone
    imports them no value or annotation can be one of them, so a server that does not
    use them starts without loading them."""
    module = sys.modules.get("fastmcp_server._media")
    return () if module is None else (module.Image, module.Audio, module.File)


_encode = msgspec.json.Encoder().encode


@attrs.frozen
class ToolOutput:
    """How a tool's return values become results (fixed at registration)."""

    output_schema: dict[str, Any] | None
    convert: Callable[[Any], CallToolResult]


def tool_output(annotation: Any, *, dereference: bool = True) -> ToolOutput:
    """Choose the output schema and converter for a tool returning ``annotation``
    (``dereference``: see ``json_schema``)."""
    try:
        cached = _OUTPUTS.get((annotation, dereference))
    except TypeError:  # unhashable annotation
        return _tool_output(annotation, dereference)
    if cached is None:
        cached = _OUTPUTS[(annotation, dereference)] = _tool_output(annotation, dereference)
    return cached  # output schemas are shared values: never mutate one


_OUTPUTS: dict[Any, ToolOutput] = {}


def _tool_output(annotation: Any, dereference: bool) -> ToolOutput:
    if annotation is None or annotation is type(None):
        return ToolOutput(None, _to_result)
    if (
        annotation is Any
        or annotation is _MISSING
        or _is_content_annotation(annotation)
        or _mentions_any(annotation)
    ):
        return ToolOutput(None, _to_result)
    if _is_object_type(annotation):
        try:
            schema = json_schema(annotation, dereference=dereference)
        except (TypeError, ValueError):
            return ToolOutput(None, _to_result)
        return ToolOutput(schema, _structured)
    try:
        inner = json_schema(annotation, dereference=dereference)
    except (TypeError, ValueError):
        return ToolOutput(None, _to_result)
    defs = inner.pop("$defs", None)
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {"result": inner},
        "required": ["result"],
    }
    if defs:
        wrapped["$defs"] = defs
    return ToolOutput(wrapped, _wrapped)


_MISSING = object()
"""Stands for "no return annotation" (``inspect.Signature.empty``)."""


def _mentions_any(annotation: Any) -> bool:
    """``list[Any]`` and the like say nothing a schema could promise."""
    return any(arg is Any or _mentions_any(arg) for arg in typing.get_args(annotation))


def _is_object_type(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_object_type(typing.get_args(annotation)[0])
    if origin in (dict, typing.Mapping):
        return True
    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, msgspec.Struct):
        return not annotation.__struct_config__.array_like
    return (
        dataclasses.is_dataclass(annotation)
        or attrs.has(annotation)
        or typing.is_typeddict(annotation)
    )


def _is_content_annotation(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_content_annotation(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, tuple, Sequence) or _is_union_type(annotation):
        return any(_is_content_annotation(arg) for arg in typing.get_args(annotation))
    if isinstance(annotation, type):
        return issubclass(annotation, (*_CONTENT_TYPES, *_media(), CallToolResult, bytes))
    return False


def _is_union_type(annotation: Any) -> bool:
    import types

    return isinstance(annotation, types.UnionType)


def _structured(value: Any) -> CallToolResult:
    if isinstance(value, CallToolResult):
        return value
    data = msgspec.to_builtins(value)
    return CallToolResult(
        content=[TextContent(text=_encode(data).decode())], structured_content=data
    )


def _wrapped(value: Any) -> CallToolResult:
    if type(value) is str:  # the common case: nothing to convert
        data: Any = value
        text = value
    elif isinstance(value, CallToolResult):
        return value
    elif isinstance(value, list) and value and isinstance(value[0], (*_CONTENT_TYPES, *_media())):
        return _to_result(value)  # content, whatever the annotation said
    else:
        data = msgspec.to_builtins(value)
        text = value if isinstance(value, str) else _encode(data).decode()
    return CallToolResult(content=[TextContent(text=text)], structured_content={"result": data})


def _to_result(value: Any) -> CallToolResult:
    if isinstance(value, CallToolResult):
        return value
    return CallToolResult(content=to_content(value))


def to_content(value: Any) -> list[ContentBlock]:
    """Content blocks for any value (see the module docstring)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [TextContent(text=value)]
    if isinstance(value, _CONTENT_TYPES):
        return [value]
    if isinstance(value, _media()):
        return [value.to_content()]
    if isinstance(value, bytes | bytearray):
        blob = base64.b64encode(bytes(value)).decode()
        return [
            EmbeddedResource(
                resource=BlobResourceContents(
                    uri="data:application/octet-stream",
                    blob=blob,
                    mime_type="application/octet-stream",
                )
            )
        ]
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(item, (str, *_CONTENT_TYPES, *_media())) for item in value)
    ):
        out: list[ContentBlock] = []
        for item in value:
            out.extend(to_content(item))
        return out
    return [TextContent(text=_encode(msgspec.to_builtins(value)).decode())]


# -- prompts -----------------------------------------------------------------------------


def prompt_messages(value: Any, description: str | None = None) -> GetPromptResult:
    """A prompt result from what a prompt function returned.

    A string is one user message; a ``PromptMessage`` or content block is one message
    (content blocks from the user); a list mixes them; a ``GetPromptResult`` passes.
    """
    if isinstance(value, GetPromptResult):
        return value
    items = value if isinstance(value, list | tuple) else [value]
    messages: list[PromptMessage] = []
    for item in items:
        if isinstance(item, PromptMessage):
            messages.append(item)
        elif isinstance(item, str):
            messages.append(PromptMessage(role="user", content=TextContent(text=item)))
        elif isinstance(item, (*_CONTENT_TYPES, *_media())):
            (block,) = to_content(item)
            messages.append(PromptMessage(role="user", content=block))
        elif isinstance(item, dict) and "role" in item and "content" in item:
            content = item["content"]
            block = (
                TextContent(text=content) if isinstance(content, str) else to_content(content)[0]
            )
            messages.append(PromptMessage(role=item["role"], content=block))
        else:
            raise TypeError(f"a prompt cannot return {type(item).__name__} as a message")
    return GetPromptResult(messages=messages, description=description)


# -- resources ---------------------------------------------------------------------------


def resource_contents(value: Any, uri: str, mime_type: str | None) -> ReadResourceResult:
    """A read result from what a resource function returned.

    ``str`` -> text (``text/plain`` unless the resource says otherwise); ``bytes`` ->
    a base64 blob (``application/octet-stream`` unless said otherwise); contents
    structs pass; anything else -> its JSON (``application/json``).
    """
    if isinstance(value, ReadResourceResult):
        return value
    if isinstance(value, ResourceContents):
        return ReadResourceResult(contents=[value])  # type: ignore[list-item]
    if isinstance(value, list) and value and all(isinstance(v, ResourceContents) for v in value):
        return ReadResourceResult(contents=value)
    if isinstance(value, str):
        contents: Any = TextResourceContents(
            uri=uri, text=value, mime_type=mime_type or "text/plain"
        )
    elif isinstance(value, bytes | bytearray):
        contents = BlobResourceContents(
            uri=uri,
            blob=base64.b64encode(bytes(value)).decode(),
            mime_type=mime_type or "application/octet-stream",
        )
    elif isinstance(value, _media()):
        contents = value.to_resource_contents(uri, mime_type)
    else:
        text = _encode(msgspec.to_builtins(value)).decode()
        contents = TextResourceContents(
            uri=uri, text=text, mime_type=mime_type or "application/json"
        )
    return ReadResourceResult(contents=[contents])


def constant(result: Any) -> Callable[[], Awaitable[Any]]:
    """A handler that answers ``result`` (computed while routing)."""

    async def answer() -> Any:
        return result

    return answer
