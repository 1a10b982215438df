"""The registry: what a server offers - tools, resources, templates, prompts,
completers and mounted servers - and how a request finds them.

Theory of operation. A ``Registry`` holds the components one server registered, each
compiled at registration (definitions, schemas, argument decoders), and the
registries mounted under a prefix. Every lookup answers with the component *and its
``Owner``*: the server that registered it, which decides where its dependencies come
from and which middleware wraps it - so a component of a mounted server runs with
that server's dependencies, lifespan and middleware, inside the parent's middleware.

The lists a client asks for (``tools/list``...) are computed once per change and
kept; a change tells the registry's watchers (the server, which tells its clients
``list_changed``, and every registry this one is mounted in, which drops its own
cached lists and tells its watchers in turn).

Mount naming: tools and prompts are ``prefix_name``; resource URIs get the prefix
as their first path part (``scheme://prefix/rest``).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
import msgspec

from fastmcp_core import McpContext
from fastmcp_protocol import (
    INVALID_PARAMS,
    UNSET,
    CallToolResult,
    CompleteRequestParams,
    McpError,
    PromptReference,
    ReadResourceResult,
    ResourceTemplate,
    ResourceTemplateReference,
    Tool,
)
from fastmcp_server._handlers import (
    CompleterCall,
    FunctionPrompt,
    FunctionResource,
    FunctionResourceTemplate,
    FunctionTool,
    PromptHandler,
    ResourceHandler,
    ResourceTemplateHandler,
    ToolHandler,
    _CompiledTool,
)
from fastmcp_server._results import _to_result
from fastmcp_server._signature import Injection

if TYPE_CHECKING:
    from fastmcp_server._middleware import Middleware

__all__ = ["ListKind", "Owner", "Registry", "ToolEntry"]

R = TypeVar("R")
ListKind = Literal["tools", "resources", "templates", "prompts"]
Reader = Callable[[McpContext], Awaitable[ReadResourceResult]]
Handler = Callable[[], Awaitable[Any]]

_NOT_YET = object()


@attrs.define(eq=False, repr=False)
class Owner:
    """The server a component belongs to: its dependencies (given, or yielded by its
    lifespan while it runs) and its middleware."""

    dependencies: dict[type, Any] = attrs.field(factory=dict)
    middleware: list[Middleware] = attrs.field(factory=list)
    lifespan_state: Any = None
    """What the owner's lifespan yielded (``None`` while it does not run)."""

    def provide(self, type_: type, value: Any = _NOT_YET) -> None:
        """Make ``value`` (without one: what the lifespan yields) injectable by type."""
        self.dependencies[type_] = value

    def is_dependency(self, type_: Any) -> bool:
        return type_ in self.dependencies

    def resolve(self, injection: Injection) -> Any:
        value = self.dependencies.get(injection.type, _NOT_YET)
        if value is not _NOT_YET:
            return value
        state = self.lifespan_state
        if isinstance(state, injection.type):
            return state
        if isinstance(state, Mapping) and injection.type in state:
            return state[injection.type]
        if injection.optional:
            return None
        raise LookupError(f"no value for dependency {injection.type.__name__}: provide it")

    def wrap(self, ctx: McpContext, handler: Handler) -> Handler:
        """``handler`` inside this owner's middleware (itself when there is none)."""
        if not self.middleware:
            return handler
        from fastmcp_server._middleware import wrap  # loaded by the first middleware

        return wrap(self.middleware, ctx, handler)


@attrs.define(eq=False, repr=False)
class ToolEntry:
    """A registered tool, ready to call with raw arguments."""

    definition: Tool
    compiled: _CompiledTool | None
    handler: ToolHandler | None
    header_params: dict[str, str]
    task: Literal["forbidden", "optional", "required"]
    defer_task: bool = False
    scopes: frozenset[str] = frozenset()

    async def call(
        self, ctx: McpContext, raw: Any, resolve: Callable[[Injection], Any]
    ) -> CallToolResult:
        if self.compiled is not None:
            return await self.compiled.call_raw(ctx, raw, resolve)
        assert self.handler is not None
        arguments = {} if raw is None or raw is UNSET else msgspec.json.decode(raw)
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise McpError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        value = await self.handler.call(ctx, arguments)
        return _to_result(value)


@attrs.frozen
class Mount:
    prefix: str
    registry: Registry


@attrs.define(eq=False, repr=False)
class Registry:
    """The components of one server (see the module docstring)."""

    owner: Owner
    page_size: int | None = None
    list_ttl_ms: int = 0
    list_cache_scope: Literal["private", "public"] = "public"
    tools: dict[str, ToolEntry] = attrs.field(init=False, factory=dict)
    resources: dict[str, ResourceHandler] = attrs.field(init=False, factory=dict)
    templates: dict[str, ResourceTemplateHandler] = attrs.field(init=False, factory=dict)
    prompts: dict[str, PromptHandler] = attrs.field(init=False, factory=dict)
    completers: dict[tuple[str, str, str], CompleterCall] = attrs.field(init=False, factory=dict)
    global_completer: CompleterCall | None = attrs.field(init=False, default=None)
    mounts: list[Mount] = attrs.field(init=False, factory=list)
    _lists: dict[str, list[Any]] = attrs.field(init=False, factory=dict)
    _watchers: list[Callable[[tuple[str, ...]], None]] = attrs.field(init=False, factory=list)

    # -- registration ----------------------------------------------------------------

    def add_tool(self, handler: FunctionTool | ToolHandler) -> None:
        if isinstance(handler, FunctionTool):
            compiled = handler.compile(self.owner.is_dependency)
            definition = compiled.definition
            entry = ToolEntry(
                definition,
                compiled,
                None,
                _header_params(definition),
                handler.task,
                handler.defer_task,
                frozenset(handler.scopes),
            )
        else:
            definition = handler.definition
            execution = definition.execution
            support = (
                execution.task_support if execution and execution.task_support else "forbidden"
            )
            entry = ToolEntry(
                definition,
                None,
                handler,
                _header_params(definition),
                support,
                scopes=scopes_of(handler),
            )
        self.tools[definition.name] = entry
        self.changed("tools")

    def remove_tool(self, name: str) -> None:
        del self.tools[name]
        self.changed("tools")

    def add_resource(
        self,
        handler: FunctionResource
        | FunctionResourceTemplate
        | ResourceHandler
        | ResourceTemplateHandler,
    ) -> None:
        if isinstance(handler, FunctionResource | FunctionResourceTemplate):
            handler.compile(self.owner.is_dependency)
        definition = handler.definition
        if isinstance(definition, ResourceTemplate):
            self.templates[definition.uri_template] = handler  # type: ignore[assignment]
            self.changed("templates")
        else:
            self.resources[definition.uri] = handler  # type: ignore[assignment]
            self.changed("resources")

    def remove_resource(self, uri: str) -> None:
        if uri in self.resources:
            del self.resources[uri]
            self.changed("resources")
        else:
            del self.templates[uri]
            self.changed("templates")

    def add_prompt(self, handler: FunctionPrompt | PromptHandler) -> None:
        if isinstance(handler, FunctionPrompt):
            handler.compile(self.owner.is_dependency)
            if handler.complete:
                for argument, fn in handler.complete.items():
                    key = ("ref/prompt", handler.name, argument)
                    self.completers[key] = CompleterCall.of(fn)
        self.prompts[handler.definition.name] = handler
        self.changed("prompts")

    def remove_prompt(self, name: str) -> None:
        del self.prompts[name]
        self.changed("prompts")

    def add_completer(self, ref: str | None, argument: str | None, fn: Any) -> None:
        if ref is None:
            self.global_completer = CompleterCall.of(fn)
            return
        assert argument is not None, "completion(ref, argument)"
        kind = "ref/resource" if "://" in ref or "{" in ref else "ref/prompt"
        self.completers[(kind, ref, argument)] = CompleterCall.of(fn)

    def mount(self, prefix: str, registry: Registry) -> None:
        if not prefix.replace("-", "_").isidentifier():
            raise ValueError(f"invalid mount prefix {prefix!r}")
        self.mounts.append(Mount(prefix, registry))
        registry.watch(lambda kinds: self.changed(*kinds))
        self.changed("tools", "resources", "templates", "prompts")

    # -- changes ---------------------------------------------------------------------

    def watch(self, watcher: Callable[[tuple[str, ...]], None]) -> None:
        """Call ``watcher(kinds)`` after every change of these lists."""
        self._watchers.append(watcher)

    def changed(self, *kinds: str) -> None:
        self._lists.pop("scopes", None)
        for kind in kinds:
            self._lists.pop(kind, None)
        for watcher in list(self._watchers):
            watcher(kinds)

    # -- lookup ----------------------------------------------------------------------

    def find_tool(self, name: str) -> tuple[ToolEntry, Owner] | None:
        entry = self.tools.get(name)
        if entry is not None:
            return entry, self.owner
        for mount in self.mounts:
            if name.startswith(mount.prefix + "_"):
                found = mount.registry.find_tool(name[len(mount.prefix) + 1 :])
                if found is not None:
                    return found
        return None

    def find_prompt(self, name: str) -> tuple[PromptHandler, Owner] | None:
        handler = self.prompts.get(name)
        if handler is not None:
            return handler, self.owner
        for mount in self.mounts:
            if name.startswith(mount.prefix + "_"):
                found = mount.registry.find_prompt(name[len(mount.prefix) + 1 :])
                if found is not None:
                    return found
        return None

    def find_resource(self, uri: str) -> tuple[Reader, Owner] | None:
        """The reader of ``uri`` (a static resource, else the first matching template,
        else a mounted server's) and its owner."""
        resolve = self.owner.resolve
        handler = self.resources.get(uri)
        if handler is not None:
            if isinstance(handler, FunctionResource):
                return (lambda ctx: handler.read(ctx, uri, resolve)), self.owner
            return (lambda ctx: handler.read(ctx, uri)), self.owner
        for template in self.templates.values():
            variables = template.match(uri)
            if variables is not None:
                return _template_reader(template, uri, variables, resolve), self.owner
        for mount in self.mounts:
            inner = _unprefix_uri(uri, mount.prefix)
            if inner is not None:
                found = mount.registry.find_resource(inner)
                if found is not None:
                    read, owner = found
                    return _rewrite_uris(read, inner, uri), owner
        return None

    def find_completer(self, params: CompleteRequestParams) -> Any:
        ref = params.ref
        if isinstance(ref, PromptReference):
            key = ("ref/prompt", ref.name, params.argument.name)
        else:
            key = ("ref/resource", ref.uri, params.argument.name)
        completer = self.completers.get(key)
        if completer is None and key[0] == "ref/resource":
            template = self.templates.get(ref.uri)  # type: ignore[union-attr]
            if isinstance(template, FunctionResourceTemplate) and template.complete:
                fn = template.complete.get(params.argument.name)
                if fn is not None:
                    completer = self.completers[key] = CompleterCall.of(fn)
        if completer is None:
            completer = self._mounted_completer(params)
        if completer is None and self.global_completer is not None:
            general = self.global_completer
            argument = params.argument.name
            ref_name = ref.name if isinstance(ref, PromptReference) else ref.uri

            async def call(ctx: McpContext, value: str, context: dict[str, str]) -> list[str]:
                kwargs: dict[str, Any] = {"ref": ref_name, "argument": argument}
                if general.takes_context:
                    kwargs["context"] = context
                if general.context_param:
                    kwargs[general.context_param] = ctx
                result = general.fn(value, **kwargs)
                if general.is_async:
                    result = await result
                return [str(v) for v in result]

            return call
        return completer

    def _mounted_completer(self, params: CompleteRequestParams) -> Any:
        """The completer a mounted server has for what its prefix names."""
        ref = params.ref
        for mount in self.mounts:
            if isinstance(ref, PromptReference):
                if not ref.name.startswith(mount.prefix + "_"):
                    continue
                inner: Any = PromptReference(name=ref.name[len(mount.prefix) + 1 :])
            else:
                uri = _unprefix_uri(ref.uri, mount.prefix)
                if uri is None:
                    continue
                inner = ResourceTemplateReference(uri=uri)
            found = mount.registry.find_completer(msgspec.structs.replace(params, ref=inner))
            if found is not None:
                return found
        return None

    # -- authorization ---------------------------------------------------------------

    def required_scopes(self, method: str, name: str) -> frozenset[str]:
        """The scopes declared for what a request names (see ``Server.required_scopes``)."""
        if method == "tools/call":
            found = self.find_tool(name)
            return found[0].scopes if found is not None else frozenset()
        if method == "prompts/get":
            prompt = self.find_prompt(name)
            return scopes_of(prompt[0]) if prompt is not None else frozenset()
        if method == "resources/read":
            return self._resource_scopes(name)
        return frozenset()

    def declared_scopes(self) -> frozenset[str]:
        cached = self._lists.get("scopes")
        if cached is None:
            found: set[str] = set()
            for entry in self.tools.values():
                found |= entry.scopes
            for handlers in (self.resources, self.templates, self.prompts):
                for handler in handlers.values():
                    found |= scopes_of(handler)
            for mount in self.mounts:
                found |= mount.registry.declared_scopes()
            cached = self._lists["scopes"] = [frozenset(found)]
        result: frozenset[str] = cached[0]
        return result

    def _resource_scopes(self, uri: str) -> frozenset[str]:
        handler = self.resources.get(uri)
        if handler is not None:
            return scopes_of(handler)
        for template in self.templates.values():
            if template.match(uri) is not None:
                return scopes_of(template)
        for mount in self.mounts:
            inner = _unprefix_uri(uri, mount.prefix)
            if inner is not None:
                found = mount.registry._resource_scopes(inner)
                if found:
                    return found
        return frozenset()

    # -- lists (rebuilt on change, not per request) ----------------------------------

    def definitions(self, kind: ListKind) -> list[Any]:
        """The definitions of ``kind`` (own, then each mounted server's, renamed under
        its prefix), kept until a registration of that kind changes."""
        cached = self._lists.get(kind)
        if cached is None:
            own, renamed = _LISTS[kind]
            cached = [handler.definition for handler in own(self)]
            for mount in self.mounts:
                cached += [renamed(d, mount.prefix) for d in mount.registry.definitions(kind)]
            self._lists[kind] = cached
        return cached

    def list_result(
        self, result_type: Callable[..., R], field: str, items: list[Any], cursor: str | None
    ) -> R:
        """One page of ``items`` as a list result (``field`` holds the page), with the
        server's cache hints."""
        page, next_cursor = self.page(items, cursor)
        return result_type(
            **{field: page},
            next_cursor=next_cursor,
            ttl_ms=self.list_ttl_ms,
            cache_scope=self.list_cache_scope,
        )

    def page(self, items: list[Any], cursor: str | None) -> tuple[list[Any], str | None]:
        """The page of ``items`` that ``cursor`` starts (an opaque offset), and the
        cursor of the next one (``None`` on the last page)."""
        size = self.page_size
        if size is None and cursor is None:
            return items, None
        start = 0
        if cursor is not None:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
            except (ValueError, UnicodeDecodeError):
                raise McpError(
                    INVALID_PARAMS, f"Invalid params: unknown cursor {cursor!r}"
                ) from None
            if start < 0 or start > len(items):
                raise McpError(INVALID_PARAMS, f"Invalid params: unknown cursor {cursor!r}")
        end = len(items) if size is None else start + size
        page = items[start:end]
        next_cursor = None
        if end < len(items):
            next_cursor = base64.urlsafe_b64encode(str(end).encode()).decode().rstrip("=")
        return page, next_cursor


def scopes_of(handler: object) -> frozenset[str]:
    """The scopes a handler declares (``scopes`` attribute; none without one)."""
    scopes = getattr(handler, "scopes", None)
    if not scopes:
        return frozenset()
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(str(scope) for scope in scopes)


def _header_params(definition: Tool) -> dict[str, str]:
    """``{argument: header name}`` for properties annotated ``x-mcp-header``."""
    properties = definition.input_schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {
        name: schema["x-mcp-header"]
        for name, schema in properties.items()
        if isinstance(schema, dict) and isinstance(schema.get("x-mcp-header"), str)
    }


def _prefix_uri(uri: str, prefix: str) -> str:
    scheme, sep, rest = uri.partition("://")
    return f"{scheme}://{prefix}/{rest}" if sep else f"{prefix}/{uri}"


def _unprefix_uri(uri: str, prefix: str) -> str | None:
    scheme, sep, rest = uri.partition("://")
    if not sep or not rest.startswith(prefix + "/"):
        return None
    return f"{scheme}://{rest[len(prefix) + 1 :]}"


def _template_reader(
    template: ResourceTemplateHandler,
    uri: str,
    variables: dict[str, Any],
    resolve: Callable[[Injection], Any],
) -> Reader:
    if isinstance(template, FunctionResourceTemplate):
        return lambda ctx: template.read(ctx, uri, variables, resolve)
    return lambda ctx: template.read(ctx, uri, variables)


def _rewrite_uris(read: Reader, inner: str, outer: str) -> Reader:
    async def rewritten(ctx: McpContext) -> ReadResourceResult:
        result = await read(ctx)
        contents = [
            msgspec.structs.replace(c, uri=outer) if c.uri == inner else c for c in result.contents
        ]
        return msgspec.structs.replace(result, contents=contents)

    return rewritten


_LISTS: dict[str, tuple[Callable[[Registry], Iterable[Any]], Callable[[Any, str], Any]]] = {
    "tools": (
        lambda r: r.tools.values(),
        lambda d, prefix: msgspec.structs.replace(d, name=f"{prefix}_{d.name}"),
    ),
    "resources": (
        lambda r: r.resources.values(),
        lambda d, prefix: msgspec.structs.replace(d, uri=_prefix_uri(d.uri, prefix)),
    ),
    "templates": (
        lambda r: r.templates.values(),
        lambda d, prefix: msgspec.structs.replace(
            d, uri_template=_prefix_uri(d.uri_template, prefix)
        ),
    ),
    "prompts": (
        lambda r: r.prompts.values(),
        lambda d, prefix: msgspec.structs.replace(d, name=f"{prefix}_{d.name}"),
    ),
}
"""Per kind of list: the registry's own handlers, and how a mounted server's
definition is renamed under its prefix."""
