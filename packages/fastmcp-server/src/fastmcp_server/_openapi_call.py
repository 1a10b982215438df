"""Calling an OpenAPI operation: tool arguments to an HTTP request, the response to
an MCP result.

An operation's arguments are planned once, when its component is made (``plan``):
each parameter is one argument under its own name, and a request body is either
flattened (an object with named properties: one argument per property, the shape
models fill in most reliably) or one ``body`` argument (an array, a map, a
``oneOf``, text). A parameter named like a body property, or like a parameter
met before it (path parameters come first), takes its location as a suffix:
``id__query``.

Serialization follows the OpenAPI styles: query ``form`` (exploded by default:
``?tag=a&tag=b``; else ``?tag=a,b``), ``spaceDelimited``, ``pipeDelimited`` and
``deepObject`` (``?filter[kind]=cat``); path, header and cookie ``simple``
(``/pets/1,2``). Booleans are ``true``/``false``; ``None`` leaves a parameter out.
Path values are percent-encoded.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import attrs

from fastmcp_core import ToolError
from fastmcp_protocol import (
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)
from fastmcp_server._openapi_spec import HTTPRoute, RouteParameter, object_properties

if TYPE_CHECKING:
    import httpx

__all__ = ["Argument", "Plan", "plan"]

Where = Literal["path", "query", "header", "cookie", "property", "body"]


@attrs.frozen
class Argument:
    """One tool argument and where its value goes."""

    name: str
    where: Where
    key: str
    """The parameter's or the body property's own name."""
    style: str
    explode: bool


@attrs.frozen
class Plan:
    """How one operation's arguments become a request (fixed when it is made)."""

    route: HTTPRoute
    arguments: tuple[Argument, ...]
    required: frozenset[str]
    input_schema: dict[str, Any]
    content_type: str | None

    def request(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of ``httpx.AsyncClient.request`` for ``values``;
        ``ToolError`` names the required arguments that are missing."""
        missing = sorted(n for n in self.required if values.get(n) is None)
        if missing:
            raise ToolError(f"missing required argument(s): {', '.join(missing)}")
        path = self.route.path
        query: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        cookies: list[str] = []
        form: dict[str, Any] = {}
        body: Any = None
        has_body = False
        for argument in self.arguments:
            if argument.name not in values:
                continue
            value = values[argument.name]
            if argument.where == "body":
                body, has_body = value, True
                continue
            if value is None:
                continue
            if argument.where == "property":
                form[argument.key] = value
            elif argument.where == "path":
                path = path.replace(
                    "{" + argument.key + "}", quote(_simple(value, argument.explode), safe="")
                )
            elif argument.where == "query":
                query += _query(argument, value)
            elif argument.where == "header":
                headers[argument.key] = _simple(value, argument.explode)
            else:
                cookies.append(f"{argument.key}={_simple(value, argument.explode)}")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        kwargs: dict[str, Any] = {"method": self.route.method, "url": path}
        if query:
            kwargs["params"] = query
        if form and not has_body:
            body, has_body = form, True
        if has_body and self.content_type is not None:
            media = self.content_type.split(";")[0].strip().lower()
            headers["Content-Type"] = self.content_type
            if media == "application/x-www-form-urlencoded":
                kwargs["content"] = _urlencoded(body)
            elif media == "multipart/form-data":
                kwargs["files"] = [(k, (None, _text(v))) for k, v in _fields(body)]
                del headers["Content-Type"]  # httpx writes it, with the boundary
            elif media == "application/json" or media.endswith("+json"):
                kwargs["content"] = json.dumps(body).encode()
            elif isinstance(body, bytes):
                kwargs["content"] = body
            else:
                kwargs["content"] = _text(body).encode()
        if headers:
            kwargs["headers"] = headers
        return kwargs


def plan(route: HTTPRoute) -> Plan:
    """Plan the arguments of ``route`` (see the module docstring)."""
    body = route.request_body
    flattened = None
    if body is not None and _is_structured(body.content_type):
        flattened = object_properties(body.schema)
    taken = set(flattened[0]) if flattened is not None else set()
    if body is not None and flattened is None:
        taken.add("body")
    properties: dict[str, Any] = {}
    required: set[str] = set()
    defs: dict[str, Any] = {}
    arguments: list[Argument] = []
    # path parameters first: they keep their names, the others yield to them
    ordered = sorted(route.parameters, key=lambda p: p.location != "path")
    for parameter in ordered:
        name = parameter.name
        if name in taken:
            name = f"{name}__{parameter.location}"
        taken.add(name)
        arguments.append(_parameter_argument(name, parameter))
        properties[name] = _described(_own(parameter.schema, defs), parameter.description)
        if parameter.required:
            required.add(name)
    if body is not None:
        defs.update(body.schema.get("$defs") or {})
        if flattened is not None:
            body_properties, body_required = flattened
            for key, property_schema in body_properties.items():
                arguments.append(Argument(key, "property", key, "form", True))
                properties[key] = property_schema
                if body.required and key in body_required:
                    required.add(key)
        else:
            arguments.append(Argument("body", "body", "body", "", False))
            properties["body"] = _described(_own(body.schema, {}), body.description)
            if body.required:
                required.add("body")
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = sorted(required)
    if defs:
        schema["$defs"] = defs
    return Plan(
        route=route,
        arguments=tuple(arguments),
        required=frozenset(required),
        input_schema=schema,
        content_type=body.content_type if body is not None else None,
    )


def _is_structured(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media in (
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ) or media.endswith("+json")


def _own(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its ``$defs``, which go to ``defs`` (the tool's)."""
    if "$defs" not in schema:
        return schema
    defs.update(schema["$defs"])
    return {k: v for k, v in schema.items() if k != "$defs"}


def _described(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    if description and "description" not in schema:
        return {**schema, "description": description}
    return schema


def _parameter_argument(name: str, parameter: RouteParameter) -> Argument:
    default_style = "form" if parameter.location in ("query", "cookie") else "simple"
    style = parameter.style or default_style
    explode = parameter.explode if parameter.explode is not None else style == "form"
    return Argument(name, parameter.location, parameter.name, style, explode)


# -- serialization ---------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    return json.dumps(value)


def _simple(value: Any, explode: bool) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        pairs = [f"{k}={_text(v)}" if explode else f"{k},{_text(v)}" for k, v in value.items()]
        return ",".join(pairs)
    return _text(value)


_DELIMITERS = {"form": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


def _query(argument: Argument, value: Any) -> list[tuple[str, str]]:
    key = argument.key
    if isinstance(value, list | tuple):
        if argument.explode:
            return [(key, _text(v)) for v in value]
        delimiter = _DELIMITERS.get(argument.style, ",")
        return [(key, delimiter.join(_text(v) for v in value))]
    if isinstance(value, Mapping):
        if argument.style == "deepObject":
            return [(f"{key}[{k}]", _text(v)) for k, v in value.items()]
        if argument.explode:
            return [(str(k), _text(v)) for k, v in value.items()]
        return [(key, ",".join(f"{k},{_text(v)}" for k, v in value.items()))]
    return [(key, _text(value))]


def _fields(body: Any) -> list[tuple[str, Any]]:
    if not isinstance(body, Mapping):
        return [("body", body)]
    fields: list[tuple[str, Any]] = []
    for key, value in body.items():
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value) and value:
            fields += [(str(key), v) for v in value]  # repeated fields, as a form sends
        elif value is not None:
            fields.append((str(key), value))
    return fields


def _urlencoded(body: Any) -> bytes:
    from urllib.parse import urlencode

    return urlencode([(k, _text(v)) for k, v in _fields(body)]).encode()


# -- responses -------------------------------------------------------------------------


def failure(response: httpx.Response) -> str:
    """What a failed response says: its status and its body."""
    text = response.text.strip()
    reason = response.reason_phrase
    head = f"HTTP {response.status_code}" + (f" {reason}" if reason else "")
    return f"{head}: {text}" if text else head


def is_json(response: httpx.Response) -> bool:
    media: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def tool_result(response: httpx.Response, wrap: bool | None) -> CallToolResult:
    """A successful response as a tool result. ``wrap`` says how the tool declared
    its output: ``None``, no output schema; ``False``, the JSON body is the
    structured content; ``True``, it is ``{"result": body}``."""
    if not response.content:
        return CallToolResult(content=[])
    if is_json(response):
        try:
            data = response.json()
        except ValueError:
            data = None
        else:
            structured = None
            if wrap is True:
                structured = {"result": data}
            elif wrap is False and isinstance(data, dict):
                structured = data
            return CallToolResult(
                content=[TextContent(text=response.text)], structured_content=structured
            )
    return CallToolResult(content=[_content(response)])


def _content(response: httpx.Response) -> ContentBlock:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith("text/") or not media:
        return TextContent(text=response.text)
    data = base64.b64encode(response.content).decode()
    if media.startswith("image/"):
        return ImageContent(data=data, mime_type=media)
    uri = str(response.request.url)
    return EmbeddedResource(resource=BlobResourceContents(uri=uri, blob=data, mime_type=media))


def resource_contents(
    response: httpx.Response, uri: str
) -> TextResourceContents | BlobResourceContents:
    """A successful response as what a resource read returns."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower() or None
    if media is None or media.startswith("text/") or is_json(response):
        return TextResourceContents(uri=uri, text=response.text, mime_type=media)
    data = base64.b64encode(response.content).decode()
    return BlobResourceContents(uri=uri, blob=data, mime_type=media)
