"""Reading an OpenAPI 3.x document: its operations as ``HTTPRoute`` values, their
schemas as self-contained JSON Schema (2020-12), on plain dicts.

Theory of operation. A document is read once, when the server is made. Each
operation of ``paths`` becomes one ``HTTPRoute``: its parameters (the path item's and
the operation's, the operation's winning on the same name and location), its request
body (the first JSON, form, multipart or text media type it declares) and the schema
of its success response. References are followed in two ways:

* a referenced parameter, request body or response (``#/components/parameters/...``)
  is replaced by what it points to;
* a referenced schema (``#/components/schemas/Pet``) stays a reference, rewritten to
  ``#/$defs/Pet``, and every schema it needs (transitively, recursion included) goes
  into the ``$defs`` of the schema that uses it, so each schema stands alone.

OpenAPI 3.0's own keywords become JSON Schema's (``nullable: true`` adds ``"null"``,
``example`` becomes ``examples``); the keywords JSON Schema lacks (``discriminator``,
``xml``, ``externalDocs``) are dropped. References to other documents are refused
(``ValueError``), and so is anything that is not OpenAPI 3.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

__all__ = ["HTTPRoute", "RouteBody", "RouteParameter", "Spec", "object_properties", "read_routes"]

Location = Literal["path", "query", "header", "cookie"]
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS = frozenset({"path", "query", "header", "cookie"})
_DROPPED = frozenset({"discriminator", "xml", "externalDocs", "nullable", "example"})
_SCHEMA_REF = re.compile(r"^#/components/schemas/([^/]+)$")


@attrs.frozen
class RouteParameter:
    """A parameter of an operation: where it goes, and its schema (self-contained)."""

    name: str
    location: Location
    required: bool
    schema: dict[str, Any]
    description: str | None = None
    style: str | None = None
    """The serialization style (``form``, ``simple``, ``deepObject``...; ``None``: the
    location's default)."""
    explode: bool | None = None
    """Whether arrays and objects are exploded (``None``: the style's default)."""


@attrs.frozen
class RouteBody:
    """An operation's request body: its media type and schema (self-contained)."""

    content_type: str
    schema: dict[str, Any]
    required: bool
    description: str | None = None


@attrs.frozen
class HTTPRoute:
    """One operation of an OpenAPI document (what ``RouteMap`` and ``route_map_fn``
    look at, and what ``mcp_component_fn`` is told)."""

    method: str
    """Upper case: ``"GET"``, ``"POST"``..."""
    path: str
    """As written in the document, with its ``{placeholders}``."""
    operation_id: str | None
    summary: str | None
    description: str | None
    tags: tuple[str, ...]
    parameters: tuple[RouteParameter, ...]
    request_body: RouteBody | None
    response_schema: dict[str, Any] | None
    """The JSON schema of the success response (``None``: not JSON, or not declared)."""
    operation: Mapping[str, Any] = attrs.field(repr=False)
    """The operation object as the document has it (references not followed)."""


@attrs.define
class Spec:
    """An OpenAPI document, and the means to follow its references."""

    document: Mapping[str, Any]

    @property
    def server_url(self) -> str | None:
        servers = self.document.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], dict):
            url = servers[0].get("url")
            return url if isinstance(url, str) else None
        return None

    def follow(self, value: Any) -> Any:
        """``value``, or what its ``$ref`` points to (followed until it is no reference)."""
        seen: set[str] = set()
        while isinstance(value, Mapping) and isinstance(value.get("$ref"), str):
            ref = value["$ref"]
            if ref in seen:
                raise ValueError(f"OpenAPI: the reference {ref!r} refers to itself")
            seen.add(ref)
            value = self._pointer(ref)
        return value

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"OpenAPI: only references within the document work, not {ref!r}")
        node: Any = self.document
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ValueError(f"OpenAPI: the reference {ref!r} points to nothing")
        return node

    def schema(self, schema: Any) -> dict[str, Any]:
        """``schema`` as standalone JSON Schema: references to component schemas
        rewritten to ``#/$defs/...`` and gathered into ``$defs``."""
        if not isinstance(schema, Mapping):
            return {}
        needed: dict[str, Any] = {}
        converted: dict[str, Any] = self._convert(schema, needed)
        pending = list(needed)
        while pending:
            name = pending.pop()
            if needed[name] is not None:
                continue
            target = self._pointer(f"#/components/schemas/{name}")
            before = set(needed)
            needed[name] = self._convert(target, needed)
            pending += [n for n in needed if n not in before]
        if needed:
            converted = {**converted, "$defs": {**converted.get("$defs", {}), **needed}}
        return converted

    def _convert(self, node: Any, needed: dict[str, Any]) -> Any:
        if isinstance(node, list):
            return [self._convert(item, needed) for item in node]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            match = _SCHEMA_REF.match(ref)
            if match is None:  # a reference elsewhere in the document: take it in place
                return self._convert(self.follow(node), needed)
            name = match.group(1).replace("~1", "/").replace("~0", "~")
            needed.setdefault(name, None)
            return {"$ref": f"#/$defs/{name}"}
        out = {
            key: self._convert(value, needed) for key, value in node.items() if key not in _DROPPED
        }
        if "example" in node and "examples" not in node:
            out["examples"] = [copy.deepcopy(node["example"])]
        if node.get("nullable") is True:
            out = _nullable(out)
        return out


def object_properties(schema: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]] | None:
    """The properties and required names of a standalone object schema (its
    ``allOf`` members merged, its ``#/$defs/...`` references followed); ``None`` when
    it is not an object with named properties (a map, an array, a ``oneOf``...)."""
    defs = schema.get("$defs") or {}

    def local(node: Any) -> Any:
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/$defs/") or ref in seen:
                return None
            seen.add(ref)
            node = defs.get(ref[len("#/$defs/") :])
        return node

    def gather(node: Any, properties: dict[str, Any], required: set[str]) -> bool:
        node = local(node)
        if not isinstance(node, Mapping) or "oneOf" in node or "anyOf" in node:
            return False
        properties.update(node.get("properties") or {})
        required |= set(node.get("required") or [])
        return all(gather(member, properties, required) for member in node.get("allOf") or [])

    properties: dict[str, Any] = {}
    required: set[str] = set()
    if not gather(schema, properties, required) or not properties:
        return None
    return properties, required


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


# -- operations --------------------------------------------------------------------------


def read_routes(spec: Spec) -> list[HTTPRoute]:
    """Every operation of the document, in its order."""
    version = spec.document.get("openapi")
    if not (isinstance(version, str) and version.startswith("3.")):
        found = spec.document.get("swagger", version)
        raise ValueError(f"an OpenAPI 3.x document is needed (this one says {found!r})")
    paths = spec.document.get("paths") or {}
    routes: list[HTTPRoute] = []
    for path, raw_item in paths.items():
        item = spec.follow(raw_item)
        shared = [spec.follow(p) for p in item.get("parameters") or []]
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, Mapping):
                routes.append(_route(spec, path, method, operation, shared))
    return routes


def _route(
    spec: Spec, path: str, method: str, operation: Mapping[str, Any], shared: list[Any]
) -> HTTPRoute:
    by_key: dict[tuple[str, str], Any] = {}
    for raw in [*shared, *[spec.follow(p) for p in operation.get("parameters") or []]]:
        if isinstance(raw, Mapping) and raw.get("in") in _LOCATIONS:
            by_key[(raw["name"], raw["in"])] = raw  # the operation's wins
    parameters = tuple(_parameter(spec, raw) for raw in by_key.values())
    tags = tuple(str(t) for t in operation.get("tags") or [])
    return HTTPRoute(
        method=method.upper(),
        path=path,
        operation_id=operation.get("operationId"),
        summary=operation.get("summary"),
        description=operation.get("description"),
        tags=tags,
        parameters=parameters,
        request_body=_body(spec, operation.get("requestBody")),
        response_schema=_response_schema(spec, operation.get("responses") or {}),
        operation=operation,
    )


def _parameter(spec: Spec, raw: Mapping[str, Any]) -> RouteParameter:
    schema = raw.get("schema")
    if schema is None and isinstance(raw.get("content"), Mapping) and raw["content"]:
        schema = next(iter(raw["content"].values())).get("schema")
    location: Location = raw["in"]
    return RouteParameter(
        name=str(raw["name"]),
        location=location,
        required=bool(raw.get("required", location == "path")),
        schema=spec.schema(schema or {}),
        description=raw.get("description"),
        style=raw.get("style"),
        explode=raw.get("explode"),
    )


def _media_rank(content_type: str) -> int:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return 0
    if media == "application/x-www-form-urlencoded":
        return 1
    if media == "multipart/form-data":
        return 2
    if media.startswith("text/"):
        return 3
    return 4


def _body(spec: Spec, raw: Any) -> RouteBody | None:
    body = spec.follow(raw)
    if not isinstance(body, Mapping):
        return None
    content = body.get("content") or {}
    if not content:
        return None
    content_type = min(content, key=_media_rank)
    media = spec.follow(content[content_type]) or {}
    return RouteBody(
        content_type=content_type,
        schema=spec.schema(media.get("schema") or {}),
        required=bool(body.get("required", False)),
        description=body.get("description"),
    )


def _response_schema(spec: Spec, responses: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of the first success response that declares one."""
    codes = sorted(
        (code for code in responses if str(code).startswith("2")),
        key=lambda code: str(code).replace("X", "9"),
    )
    for code in codes:
        response = spec.follow(responses[code])
        content = response.get("content") if isinstance(response, Mapping) else None
        if not isinstance(content, Mapping):
            continue
        for content_type, media in content.items():
            if _media_rank(content_type) == 0:
                schema = spec.follow(media).get("schema")
                if isinstance(schema, Mapping):
                    return spec.schema(schema)
    return None
