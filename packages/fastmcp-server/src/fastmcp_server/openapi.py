"""OpenAPI to MCP: a server whose tools (and, if you say so, resources) are the
operations of an HTTP API, called with an ``httpx.AsyncClient``.

::

    import httpx
    from fastmcp_server import Server

    api = httpx.AsyncClient(base_url="https://api.example.com")
    server = Server.from_openapi(spec, client=api)      # spec: the OpenAPI document (a dict)
    server = Server.from_fastapi(app)                   # a FastAPI app, called in-process

Which component an operation becomes is decided by ``RouteMap`` values, tried in
order (yours, then ``DEFAULT_ROUTE_MAPS``: every operation a tool); the first whose
methods, path pattern (``re.search``) and tags (all present) match gives its
``MCPType``. ``route_map_fn(route, mcp_type)`` may then change it (it sees every
route, excluded ones included). ``EXCLUDE`` leaves the operation out.

* A **tool** is named by the ``operationId`` up to its first ``__`` (``mcp_names``
  maps an ``operationId`` to a name of your own), made of letters, digits, ``_``,
  ``-`` and ``.``, at most 56 characters, and made unique with ``_2``, ``_3``...;
  without an ``operationId``, by the method and path (``get_pets_pet_id``). Its
  arguments are the operation's parameters and body (see ``fastmcp_server``'s
  ``_openapi_call`` for how they are serialized), its description the summary and
  description, its output schema the success response's JSON schema (an object as it
  is; anything else as ``{"result": ...}``), its annotations what HTTP promises (GET
  is read-only, PUT idempotent, DELETE destructive and idempotent).
* A **resource** is ``resource://<name>``; a **resource template**
  ``resource://<name>/{p1}/{p2}`` over the path parameters (a resource whose path has
  parameters becomes a template, and a template without any a resource).
* Tags: the operation's OpenAPI tags, the matching map's ``mcp_tags`` and the
  ``tags`` given for all, in the component's ``_meta`` as ``{"fastmcp": {"tags":
  [...]}}``. ``mcp_component_fn(route, component)`` may change a component in place
  (its name, description, tags...) before it is registered.

A call sends one request with the client (its ``base_url``, headers and auth apply;
``timeout=`` sets a timeout per request). A response of status 400 or more fails the
tool with ``HTTP <status> <reason>: <body>`` (an ``isError`` result the model sees);
for a resource read, a 404 is "resource not found" and any other failure an internal
error with the same text. A request that cannot be made at all (connection refused,
timeout) fails the same way, naming why. Cancelling the MCP request (the client's
cancellation, its budget) cancels the HTTP request.

Without ``client=``, the server opens one of its own while it runs, on the
document's first ``servers`` URL, and closes it when it stops.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import attrs

from fastmcp_core import McpContext, ProtocolError, ToolError
from fastmcp_protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    RESOURCE_NOT_FOUND,
    CallToolResult,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    Tool,
    ToolAnnotations,
    is_modern,
)
from fastmcp_server._openapi_call import (
    Plan,
    failure,
    plan,
    resource_contents,
    tool_result,
)
from fastmcp_server._openapi_spec import (
    HTTPRoute,
    RouteBody,
    RouteParameter,
    Spec,
    read_routes,
)

if TYPE_CHECKING:
    import httpx

    from fastmcp_server._uri_template import UriTemplate

__all__ = [
    "DEFAULT_ROUTE_MAPS",
    "HTTPRoute",
    "MCPType",
    "OpenAPIResource",
    "OpenAPIResourceTemplate",
    "OpenAPITool",
    "RouteBody",
    "RouteMap",
    "RouteMapFn",
    "ComponentFn",
    "RouteParameter",
]

logger = logging.getLogger("fastmcp.openapi")

_MAX_NAME = 56


class MCPType(enum.Enum):
    """What an operation becomes."""

    TOOL = "TOOL"
    RESOURCE = "RESOURCE"
    RESOURCE_TEMPLATE = "RESOURCE_TEMPLATE"
    EXCLUDE = "EXCLUDE"
    """Left out of the server."""


def _methods(value: Sequence[str] | Literal["*"]) -> frozenset[str] | Literal["*"]:
    if value == "*":
        return "*"
    if isinstance(value, str):
        return frozenset({value.upper()})
    return frozenset(m.upper() for m in value)


@attrs.frozen(kw_only=True)
class RouteMap:
    """A rule: operations that match ``methods`` (``"*"``: any), ``pattern`` (a
    regular expression searched in the path, ``{placeholders}`` included) and
    ``tags`` (all of them present; empty: any) become ``mcp_type``, with
    ``mcp_tags`` added to their tags."""

    methods: frozenset[str] | Literal["*"] = attrs.field(default="*", converter=_methods)
    pattern: str | re.Pattern[str] = r".*"
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    mcp_type: MCPType = MCPType.TOOL
    mcp_tags: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)

    def matches(self, route: HTTPRoute) -> bool:
        """Whether ``route`` matches this rule."""
        if self.methods != "*" and route.method not in self.methods:
            return False
        if not re.search(self.pattern, route.path):
            return False
        return self.tags <= set(route.tags)


DEFAULT_ROUTE_MAPS: tuple[RouteMap, ...] = (RouteMap(mcp_type=MCPType.TOOL),)
"""Applied after yours: every operation is a tool (most clients use only tools)."""

RouteMapFn = Callable[[HTTPRoute, MCPType], "MCPType | None"]
"""``route_map_fn(route, mcp_type)``: another type for a route, or ``None`` to keep it."""


# -- components ------------------------------------------------------------------------


@attrs.define(eq=False)
class _Api:
    """The HTTP client the components call through (open while the server runs)."""

    client: httpx.AsyncClient | None
    timeout: float | None

    async def send(self, route: HTTPRoute, request: dict[str, Any]) -> httpx.Response:
        """Send ``request``; a request that cannot be made raises ``_Unreachable``."""
        import httpx

        client = self.client
        if client is None:
            raise _Unreachable(f"{route.method} {route.path}: the API client is not open")
        if self.timeout is not None:
            request["timeout"] = self.timeout
        try:
            return await client.request(**request)
        except httpx.HTTPError as exc:
            raise _Unreachable(
                f"{route.method} {route.path} failed: {type(exc).__name__}: {exc}"
            ) from None


class _Unreachable(Exception):
    """The request could not be made (connection, timeout...)."""


def _meta(tags: set[str], route: HTTPRoute) -> dict[str, Any] | None:
    every = sorted(tags | set(route.tags))
    return {"fastmcp": {"tags": every}} if every else None


@attrs.define(eq=False)
class OpenAPITool:
    """A tool that calls one operation. Change its fields in ``mcp_component_fn``;
    ``definition`` is read when it is registered."""

    route: HTTPRoute
    name: str
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: ToolAnnotations | None
    tags: set[str]
    _plan: Plan = attrs.field(alias="plan", repr=False)
    _api: _Api = attrs.field(alias="api", repr=False)
    _wrap: bool | None = attrs.field(alias="wrap", repr=False)

    @property
    def definition(self) -> Tool:
        return Tool(
            name=self.name,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=self.annotations,
            meta=_meta(self.tags, self.route),
        )

    async def call(self, ctx: McpContext, arguments: dict[str, Any]) -> CallToolResult:
        request = self._plan.request(arguments)
        try:
            response = await self._api.send(self.route, request)
        except _Unreachable as exc:
            raise ToolError(str(exc)) from None
        if response.status_code >= 400:
            raise ToolError(failure(response))
        return tool_result(response, self._wrap)


async def _read(
    api: _Api, route: HTTPRoute, plan_: Plan, ctx: McpContext, uri: str, values: dict[str, Any]
) -> ReadResourceResult:
    try:
        response = await api.send(route, plan_.request(values))
    except (_Unreachable, ToolError) as exc:
        raise ProtocolError(INTERNAL_ERROR, str(exc)) from None
    if response.status_code == 404:
        code = INVALID_PARAMS if is_modern(ctx.protocol_version) else RESOURCE_NOT_FOUND
        raise ProtocolError(code, f"Resource not found: {uri} ({failure(response)})", {"uri": uri})
    if response.status_code >= 400:
        raise ProtocolError(INTERNAL_ERROR, failure(response))
    return ReadResourceResult(contents=[resource_contents(response, uri)])


@attrs.define(eq=False)
class OpenAPIResource:
    """A resource read with one operation (a GET, usually)."""

    route: HTTPRoute
    name: str
    uri: str
    description: str | None
    tags: set[str]
    _plan: Plan = attrs.field(alias="plan", repr=False)
    _api: _Api = attrs.field(alias="api", repr=False)

    @property
    def definition(self) -> Resource:
        return Resource(
            uri=self.uri,
            name=self.name,
            description=self.description,
            mime_type=_mime_type(self.route),
            meta=_meta(self.tags, self.route),
        )

    async def read(self, ctx: McpContext, uri: str) -> ReadResourceResult:
        return await _read(self._api, self.route, self._plan, ctx, uri, {})


@attrs.define(eq=False)
class OpenAPIResourceTemplate:
    """A resource template whose variables are an operation's path parameters."""

    route: HTTPRoute
    name: str
    uri_template: str
    description: str | None
    tags: set[str]
    _plan: Plan = attrs.field(alias="plan", repr=False)
    _api: _Api = attrs.field(alias="api", repr=False)
    _template: UriTemplate | None = attrs.field(init=False, default=None, repr=False)

    @property
    def definition(self) -> ResourceTemplate:
        return ResourceTemplate(
            uri_template=self.uri_template,
            name=self.name,
            description=self.description,
            mime_type=_mime_type(self.route),
            meta=_meta(self.tags, self.route),
        )

    def match(self, uri: str) -> dict[str, str] | None:
        template = self._template
        if template is None or template.template != self.uri_template:
            from fastmcp_server._uri_template import UriTemplate

            template = self._template = UriTemplate(self.uri_template)
        return template.match(uri)

    async def read(
        self, ctx: McpContext, uri: str, variables: dict[str, str]
    ) -> ReadResourceResult:
        return await _read(self._api, self.route, self._plan, ctx, uri, dict(variables))


ComponentFn = Callable[[HTTPRoute, "OpenAPITool | OpenAPIResource | OpenAPIResourceTemplate"], Any]
"""``mcp_component_fn(route, component)``: changes a component in place (what it
returns is ignored)."""


def _mime_type(route: HTTPRoute) -> str | None:
    return "application/json" if route.response_schema is not None else None


# -- naming ----------------------------------------------------------------------------


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")
    return re.sub(r"_+", "_", slug)[:_MAX_NAME].rstrip("_") or "operation"


def _name(route: HTTPRoute, names: Mapping[str, str]) -> str:
    operation_id = route.operation_id
    if operation_id is not None and operation_id in names:
        return _slug(names[operation_id])
    if operation_id:
        return _slug(operation_id.split("__")[0])
    return _slug(f"{route.method.lower()}_{route.path}")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = name[: _MAX_NAME - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def _description(route: HTTPRoute) -> str | None:
    parts = [p.strip() for p in (route.summary, route.description) if p and p.strip()]
    if len(parts) == 2 and parts[1].startswith(parts[0]):
        parts = parts[1:]
    return "\n\n".join(parts) or None


def _annotations(method: str) -> ToolAnnotations | None:
    if method in ("GET", "HEAD", "OPTIONS"):
        return ToolAnnotations(read_only_hint=True)
    if method == "PUT":
        return ToolAnnotations(read_only_hint=False, idempotent_hint=True)
    if method == "DELETE":
        return ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)
    return None


def _output(route: HTTPRoute) -> tuple[dict[str, Any] | None, bool | None]:
    """The tool's output schema, and whether the body is wrapped in ``result``."""
    schema = route.response_schema
    if schema is None:
        return None, None
    defs = schema.get("$defs")
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and defs:
        # an output schema's root must say "object": take the referenced one in place
        target = defs.get(ref[len("#/$defs/") :])
        if isinstance(target, dict) and target.get("type") == "object":
            return {**target, "$defs": defs}, False
    if schema.get("type") == "object":
        return schema, False
    inner = {k: v for k, v in schema.items() if k != "$defs"}
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {"result": inner},
        "required": ["result"],
        "x-fastmcp-wrap-result": True,
    }
    if defs:
        wrapped["$defs"] = defs
    return wrapped, True


# -- building the server ---------------------------------------------------------------


def _kind(
    route: HTTPRoute, route_maps: Iterable[RouteMap], route_map_fn: RouteMapFn | None
) -> tuple[MCPType, frozenset[str]]:
    chosen = next(m for m in route_maps if m.matches(route))
    mcp_type = chosen.mcp_type
    if route_map_fn is not None:
        mcp_type = route_map_fn(route, mcp_type) or mcp_type
    has_path_parameters = any(p.location == "path" for p in route.parameters)
    if mcp_type is MCPType.RESOURCE and has_path_parameters:
        mcp_type = MCPType.RESOURCE_TEMPLATE
    elif mcp_type is MCPType.RESOURCE_TEMPLATE and not has_path_parameters:
        mcp_type = MCPType.RESOURCE
    return mcp_type, chosen.mcp_tags


def _component(
    route: HTTPRoute, mcp_type: MCPType, name: str, tags: set[str], api: _Api
) -> OpenAPITool | OpenAPIResource | OpenAPIResourceTemplate:
    planned = plan(route)
    description = _description(route)
    if mcp_type is MCPType.TOOL:
        output_schema, wrap = _output(route)
        return OpenAPITool(
            route=route,
            name=name,
            description=description,
            input_schema=planned.input_schema,
            output_schema=output_schema,
            annotations=_annotations(route.method),
            tags=tags,
            plan=planned,
            api=api,
            wrap=wrap,
        )
    if mcp_type is MCPType.RESOURCE:
        return OpenAPIResource(
            route=route,
            name=name,
            uri=f"resource://{name}",
            description=description,
            tags=tags,
            plan=planned,
            api=api,
        )
    variables = [a.name for a in planned.arguments if a.where == "path"]
    return OpenAPIResourceTemplate(
        route=route,
        name=name,
        uri_template=f"resource://{name}/" + "/".join("{" + v + "}" for v in variables),
        description=description,
        tags=tags,
        plan=planned,
        api=api,
    )


class _Registrar(Protocol):
    """What a server built from a document is given its components through
    (``Server`` is one)."""

    def add_tool(self, handler: Any, /) -> object: ...

    def add_resource(self, handler: Any, /) -> object: ...


S = TypeVar("S", bound=_Registrar)


def build_server(
    server_type: Callable[..., S],
    openapi_spec: Mapping[str, Any],
    client: httpx.AsyncClient | None = None,
    *,
    name: str | None = None,
    route_maps: Sequence[RouteMap] | None = None,
    route_map_fn: RouteMapFn | None = None,
    mcp_names: Mapping[str, str] | None = None,
    tags: Iterable[str] | None = None,
    mcp_component_fn: ComponentFn | None = None,
    timeout: float | None = None,
    open_client: Callable[[], httpx.AsyncClient] | None = None,
    also: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
    **server_options: Any,
) -> S:
    """``Server.from_openapi`` and ``Server.from_fastapi`` (see the module docstring).

    ``open_client`` opens the client while the server runs (when none is given);
    ``also`` is entered beside it (a FastAPI app's own lifespan)."""
    spec = Spec(openapi_spec)
    routes = read_routes(spec)
    info = openapi_spec.get("info") or {}
    if client is None and open_client is None:
        base_url = spec.server_url
        if base_url is None:
            raise ValueError(
                "give client=httpx.AsyncClient(base_url=...): the document names no server"
            )

        def open_client() -> httpx.AsyncClient:
            import httpx

            return httpx.AsyncClient(base_url=base_url)

    api = _Api(client, timeout)
    user_lifespan = server_options.pop("lifespan", None)
    if open_client is not None or also is not None:
        opener = open_client

        @asynccontextmanager
        async def lifespan(server: Any) -> AsyncIterator[Any]:
            async with AsyncExitStack() as stack:
                if also is not None:
                    await stack.enter_async_context(also())
                if opener is not None:
                    api.client = await stack.enter_async_context(opener())
                try:
                    if user_lifespan is None:
                        yield None
                    else:
                        async with user_lifespan(server) as state:
                            yield state
                finally:
                    if opener is not None:
                        api.client = None

        server_options["lifespan"] = lifespan
    elif user_lifespan is not None:
        server_options["lifespan"] = user_lifespan
    server = server_type(
        name or str(info.get("title") or "openapi"),
        str(info.get("version") or "0.1.0"),
        **server_options,
    )
    maps = [*(route_maps or ()), *DEFAULT_ROUTE_MAPS]
    given_tags = set(tags or ())
    taken: set[str] = set()
    for route in routes:
        mcp_type, map_tags = _kind(route, maps, route_map_fn)
        if mcp_type is MCPType.EXCLUDE:
            continue
        name_ = _unique(_name(route, mcp_names or {}), taken)
        component = _component(route, mcp_type, name_, given_tags | map_tags, api)
        if mcp_component_fn is not None:
            mcp_component_fn(route, component)
        if isinstance(component, OpenAPITool):
            server.add_tool(component)
        else:
            server.add_resource(component)
    return server


@asynccontextmanager
async def _asgi_lifespan(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan (startup before the block, shutdown after it), for
    an app called in-process; an app that does not support the lifespan protocol
    (it raises or returns at once) is simply called without it."""
    import trio

    to_app, app_reads = trio.open_memory_channel[dict[str, Any]](1)
    app_writes, from_app = trio.open_memory_channel[dict[str, Any]](1)
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    async def run() -> None:
        async with app_writes:
            try:
                await app(scope, app_reads.receive, app_writes.send)
            except Exception as exc:  # no lifespan support, or a failed startup
                logger.debug("the ASGI app's lifespan ended: %r", exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await to_app.send({"type": "lifespan.startup"})
        started = await _next(from_app)
        if started is not None and started.get("type") == "lifespan.startup.failed":
            raise RuntimeError(f"the ASGI app failed to start: {started.get('message', '')}")
        try:
            yield
        finally:
            if started is not None:
                with trio.CancelScope(shield=True):
                    await to_app.send({"type": "lifespan.shutdown"})
                    await _next(from_app)
            nursery.cancel_scope.cancel()


async def _next(channel: Any) -> dict[str, Any] | None:
    import trio

    try:
        message: dict[str, Any] = await channel.receive()
    except trio.EndOfChannel:
        return None
    return message


def fastapi_server(
    server_type: Callable[..., S],
    app: Any,
    *,
    name: str | None = None,
    httpx_client_kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> S:
    """``Server.from_fastapi``: the app's OpenAPI document, its operations called
    in-process (``httpx.ASGITransport``) while its own lifespan runs."""
    import httpx

    kwargs = dict(httpx_client_kwargs or {})
    kwargs.setdefault("base_url", "http://fastapi")

    def open_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), **kwargs)

    return build_server(
        server_type,
        app.openapi(),
        name=name or getattr(app, "title", None),
        open_client=open_client,
        also=lambda: _asgi_lifespan(app),
        **options,
    )
