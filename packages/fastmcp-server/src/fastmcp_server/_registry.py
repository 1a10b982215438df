"""The registry: what a server offers - tools, resources, templates, prompts,
completers and mounted servers - and how a request finds them.

Theory of operation. A ``Registry`` holds the components one server registered, each
compiled at registration (definitions, schemas, argument decoders) with its tags and
version, the registries mounted under a prefix, and the server's visibility rules
and version filters (``fastmcp_server._components``).

What a client sees is a ``View``: every component the server offers - its own and
its mounted servers' (as those offer them, renamed under the prefix) - that the rules
leave enabled, the highest version of each, with its ``Owner`` (the server that
registered it, which decides where its dependencies come from and which middleware
wraps it). A view is computed once per change and kept: lookups are one dict access,
lists are ready. A session with visibility rules of its own gets a view of its own,
computed from the same components with its rules after the server's (kept by its
connection until something changes). A change tells the registry's watchers (the
server, which tells its clients ``list_changed``, and every registry this one is
mounted in, which drops its own view and tells its watchers in turn).

Mount naming: tools and prompts are ``prefix_name``; resource URIs get the prefix
as their first path part (``scheme://prefix/rest``).

Registering a component whose name (and version) is taken follows the duplicate
policy: ``"error"`` (the default: ``ValueError``), ``"warn"`` (replace it, with a
warning), ``"replace"`` or ``"ignore"`` (keep the first).
"""

from __future__ import annotations

import base64
import enum
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypeGuard, TypeVar

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
from fastmcp_server._components import (
    Component,
    ComponentKind,
    Rule,
    VersionFilter,
    version_key,
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
from fastmcp_server._signature import CompilerOptions, Injection

if TYPE_CHECKING:
    from fastmcp_server._transform import TransformedTool, _CompiledTransform

__all__ = [
    "EVERY_VERSION",
    "DuplicatePolicy",
    "ListKind",
    "Offered",
    "Owner",
    "Registry",
    "ToolEntry",
    "View",
    "is_transformed",
]

logger = logging.getLogger("fastmcp.server")

R = TypeVar("R")
ListKind = Literal["tools", "resources", "templates", "prompts"]
DuplicatePolicy = Literal["error", "warn", "replace", "ignore"]
Reader = Callable[[McpContext], Awaitable[ReadResourceResult]]
Handler = Callable[[], Awaitable[Any]]

_NOT_YET = object()


class _Every(enum.Enum):
    VERSION = "every version"


EVERY_VERSION: Final = _Every.VERSION
"""``remove(..., version=EVERY_VERSION)``: remove every version (the default)."""
VersionChoice = str | None | Literal[_Every.VERSION]

_LIST_OF: dict[ComponentKind, ListKind] = {
    "tool": "tools",
    "resource": "resources",
    "template": "templates",
    "prompt": "prompts",
}
_KIND_OF: dict[str, ComponentKind] = {v: k for k, v in _LIST_OF.items()}
LIST_KINDS: tuple[ListKind, ...] = ("tools", "resources", "templates", "prompts")


@attrs.define(eq=False, repr=False)
class Owner:
    """The server a component belongs to: its dependencies (given, or yielded by its
    lifespan while it runs) and its middleware."""

    dependencies: dict[type, Any] = attrs.field(factory=dict)
    middleware: list[Any] = attrs.field(factory=list)
    """``fastmcp_server.AnyMiddleware``: middleware objects and functions."""
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


def is_transformed(handler: object) -> TypeGuard[TransformedTool]:
    """Whether ``handler`` is a ``TransformedTool``, without loading tool transformation:
    its module loads with the first one made, so while it is not loaded there is none."""
    transform = sys.modules.get("fastmcp_server._transform")
    return transform is not None and isinstance(handler, transform.TransformedTool)


@attrs.define(eq=False, repr=False)
class ToolEntry:
    """A registered tool, ready to call with raw arguments."""

    definition: Tool
    compiled: _CompiledTool | _CompiledTransform | None
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


@attrs.frozen(eq=False, repr=False)
class Hop:
    """One mounted server a component is offered through: its owner, and the
    component's name (or URI) there."""

    owner: Owner
    name: str


@attrs.frozen(eq=False, repr=False)
class Offered:
    """One component as a server offers it: what it is, who runs it, how to reach it.

    ``handler`` is a ``ToolEntry`` for tools, else the resource, template or prompt
    handler. ``local`` is its name (or URI) in the server that registered it;
    ``prefixes`` and ``hops`` list the mounts it comes through, outermost first (both
    empty for the server's own)."""

    component: Component
    handler: Any
    owner: Owner
    local: str
    enabled: bool = True
    prefixes: tuple[str, ...] = ()
    hops: tuple[Hop, ...] = ()

    def through(self, prefix: str, owner: Owner) -> Offered:
        """This component as the server it is mounted in under ``prefix`` offers it."""
        component = self.component
        if component.kind in ("tool", "prompt"):
            renamed = f"{prefix}_{component.name}"
            definition = msgspec.structs.replace(component.definition, name=renamed)
        elif component.kind == "resource":
            renamed = _prefix_uri(component.name, prefix)
            definition = msgspec.structs.replace(component.definition, uri=renamed)
        else:
            renamed = _prefix_uri(component.name, prefix)
            definition = msgspec.structs.replace(component.definition, uri_template=renamed)
        return Offered(
            Component(component.kind, renamed, definition, component.tags, component.version),
            self.handler,
            self.owner,
            self.local,
            True,
            (prefix, *self.prefixes),
            (Hop(owner, component.name), *self.hops),
        )

    def inner_uri(self, uri: str) -> str | None:
        """The URI ``uri`` (as offered) has in the server that registered this, or
        ``None`` when it is not under this component's mounts."""
        for prefix in self.prefixes:
            inner = _unprefix_uri(uri, prefix)
            if inner is None:
                return None
            uri = inner
        return uri


@attrs.define(eq=False, repr=False)
class View:
    """What one server offers to a client (see the module docstring): computed once,
    read by every request that sees it."""

    tools: dict[str, Offered]
    prompts: dict[str, Offered]
    resources: dict[str, Offered]
    templates: list[Offered]
    offered: dict[ListKind, list[Offered]]
    """Per kind, in order: what ``*/list`` shows."""
    _definitions: dict[ListKind, list[Any]] = attrs.field(factory=dict)
    _components: dict[ListKind, list[Component]] = attrs.field(factory=dict)
    _scoped: dict[ListKind, bool] = attrs.field(factory=dict)

    def definitions(self, kind: ListKind, principal: object = None) -> list[Any]:
        """What ``*/list`` shows of ``kind`` to ``principal`` (see ``permitted``)."""
        if self._restricts(kind, principal):
            return [o.component.definition for o in self.permitted(kind, principal)]
        cached = self._definitions.get(kind)
        if cached is None:
            cached = self._definitions[kind] = [o.component.definition for o in self.offered[kind]]
        return cached

    def components(self, kind: ListKind, principal: object = None) -> list[Component]:
        if self._restricts(kind, principal):
            return [o.component for o in self.permitted(kind, principal)]
        cached = self._components.get(kind)
        if cached is None:
            cached = self._components[kind] = [o.component for o in self.offered[kind]]
        return cached

    def permitted(self, kind: ListKind, principal: object) -> list[Offered]:
        """The components of ``kind`` ``principal`` may use: those whose declared scopes
        its token grants (``has_scopes``, as ``fastmcp_server.auth.AccessToken`` has),
        all of them for a principal without scopes (stdio, no authorization)."""
        if not self._restricts(kind, principal):
            return self.offered[kind]
        allows = principal.has_scopes  # type: ignore[attr-defined]
        return [o for o in self.offered[kind] if allows(scopes_of(o.handler))]

    def _restricts(self, kind: ListKind, principal: object) -> bool:
        if principal is None or not hasattr(principal, "has_scopes"):
            return False
        scoped = self._scoped.get(kind)
        if scoped is None:
            scoped = self._scoped[kind] = any(scopes_of(o.handler) for o in self.offered[kind])
        return scoped

    def find_resource(self, uri: str) -> tuple[Offered, dict[str, Any] | None] | None:
        """The static resource of ``uri``, else the first template that matches it
        (with the variables, as the template's own server sees the URI)."""
        offered = self.resources.get(uri)
        if offered is not None:
            return offered, None
        for template in self.templates:
            inner = template.inner_uri(uri) if template.prefixes else uri
            if inner is None:
                continue
            variables = template.handler.match(inner)
            if variables is not None:
                return template, variables
        return None


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
    on_duplicate: DuplicatePolicy = "error"
    options: CompilerOptions = attrs.field(factory=CompilerOptions)
    _own: dict[ListKind, dict[str, list[Offered]]] = attrs.field(
        init=False, factory=lambda: {kind: {} for kind in LIST_KINDS}
    )
    completers: dict[tuple[str, str, str], CompleterCall] = attrs.field(init=False, factory=dict)
    global_completer: CompleterCall | None = attrs.field(init=False, default=None)
    mounts: list[Mount] = attrs.field(init=False, factory=list)
    rules: list[Rule] = attrs.field(init=False, factory=list)
    """The visibility rules (``Server.enable``/``disable``), in order."""
    version_filters: list[VersionFilter] = attrs.field(init=False, factory=list)
    generation: int = attrs.field(init=False, default=0)
    """Grows with every change: a view of an older generation is out of date."""
    _view: View | None = attrs.field(init=False, default=None)
    _scopes: frozenset[str] | None = attrs.field(init=False, default=None)
    _watchers: list[Callable[[tuple[str, ...]], None]] = attrs.field(init=False, factory=list)

    # -- what is registered (own components, the highest version of each) -------------

    def own(self, kind: ListKind) -> dict[str, Any]:
        """``{name: handler}`` of this server's own components of ``kind`` (the
        highest version of each; a tool's handler is its ``ToolEntry``)."""
        return {name: versions[-1].handler for name, versions in self._own[kind].items()}

    @property
    def tools(self) -> dict[str, ToolEntry]:
        return self.own("tools")

    @property
    def resources(self) -> dict[str, ResourceHandler]:
        return self.own("resources")

    @property
    def templates(self) -> dict[str, ResourceTemplateHandler]:
        return self.own("templates")

    @property
    def prompts(self) -> dict[str, PromptHandler]:
        return self.own("prompts")

    def versions(self, kind: ListKind, name: str) -> list[Offered]:
        """Every registered version of this server's own ``name``, lowest first."""
        return list(self._own[kind].get(name, ()))

    # -- registration ----------------------------------------------------------------

    def add_tool(
        self,
        handler: FunctionTool | TransformedTool | ToolHandler,
        on_duplicate: DuplicatePolicy | None = None,
    ) -> None:
        if isinstance(handler, FunctionTool) or is_transformed(handler):
            compiled = handler.compile(self.owner.is_dependency, self.options)
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
        self._add("tool", definition.name, definition, entry, handler, on_duplicate)

    def add_resource(
        self,
        handler: FunctionResource
        | FunctionResourceTemplate
        | ResourceHandler
        | ResourceTemplateHandler,
        on_duplicate: DuplicatePolicy | None = None,
    ) -> None:
        if isinstance(handler, FunctionResource | FunctionResourceTemplate):
            handler.compile(self.owner.is_dependency, self.options)
        definition = handler.definition
        if isinstance(definition, ResourceTemplate):
            self._add(
                "template", definition.uri_template, definition, handler, handler, on_duplicate
            )
        else:
            self._add("resource", definition.uri, definition, handler, handler, on_duplicate)

    def add_prompt(
        self, handler: FunctionPrompt | PromptHandler, on_duplicate: DuplicatePolicy | None = None
    ) -> None:
        if isinstance(handler, FunctionPrompt):
            handler.compile(self.owner.is_dependency, self.options)
        definition = handler.definition
        added = self._add("prompt", definition.name, definition, handler, handler, on_duplicate)
        if added and isinstance(handler, FunctionPrompt) and handler.complete:
            for argument, fn in handler.complete.items():
                key = ("ref/prompt", handler.name, argument)
                self.completers[key] = CompleterCall.of(fn)

    def _add(
        self,
        kind: ComponentKind,
        name: str,
        definition: Any,
        entry: Any,
        handler: Any,
        on_duplicate: DuplicatePolicy | None,
    ) -> bool:
        """Register one component (``entry`` is what lookups answer); whether it was
        added (``False``: a duplicate that was ignored)."""
        version = getattr(handler, "version", None)
        version = None if version is None else str(version)
        offered = Offered(
            Component(kind, name, definition, getattr(handler, "tags", None) or (), version),
            entry,
            self.owner,
            name,
            enabled=getattr(handler, "enabled", True) is not False,
        )
        list_kind = _LIST_OF[kind]
        versions = self._own[list_kind].setdefault(name, [])
        key = version_key(version)
        for i, existing in enumerate(versions):
            if version_key(existing.component.version) == key:
                policy = on_duplicate or self.on_duplicate
                shown = name if version is None else f"{name} (version {version})"
                if policy == "error":
                    raise ValueError(
                        f"a {kind} named {shown} is already registered (remove it first, or "
                        "choose on_duplicate='replace', 'warn' or 'ignore')"
                    )
                if policy == "ignore":
                    return False
                if policy == "warn":
                    logger.warning("replacing the %s %s, registered twice", kind, shown)
                versions[i] = offered
                break
        else:
            versions.append(offered)
            versions.sort(key=lambda o: version_key(o.component.version))
        self.changed(list_kind)
        return True

    def remove(self, kind: ListKind, name: str, version: VersionChoice = EVERY_VERSION) -> None:
        """Unregister ``name`` (every version; with ``version``, only that one: ``None``
        is the unversioned one). ``KeyError`` when there is none."""
        versions = self._own[kind].get(name)
        if not versions:
            raise KeyError(name)
        if version is EVERY_VERSION:
            del self._own[kind][name]
        else:
            key = version_key(None if version is None else str(version))
            kept = [o for o in versions if version_key(o.component.version) != key]
            if len(kept) == len(versions):
                raise KeyError(f"{name} (version {version})")
            if kept:
                self._own[kind][name] = kept
            else:
                del self._own[kind][name]
        self.changed(kind)

    def remove_tool(self, name: str, version: VersionChoice = EVERY_VERSION) -> None:
        self.remove("tools", name, version)

    def remove_resource(self, uri: str, version: VersionChoice = EVERY_VERSION) -> None:
        self.remove("resources" if uri in self._own["resources"] else "templates", uri, version)

    def remove_prompt(self, name: str, version: VersionChoice = EVERY_VERSION) -> None:
        self.remove("prompts", name, version)

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
        self.changed(*LIST_KINDS)

    # -- visibility ------------------------------------------------------------------

    def add_rule(self, rule: Rule) -> None:
        """Add a visibility rule after the others; an allowlist (``only``) replaces the
        allowlists before it."""
        if rule.only:
            self.rules = [r for r in self.rules if not r.only]
        self.rules.append(rule)
        self.changed(*(_LIST_OF[kind] for kind in sorted(rule.kinds)))

    def add_version_filter(self, version_filter: VersionFilter) -> None:
        self.version_filters.append(version_filter)
        self.changed(*LIST_KINDS)

    # -- changes ---------------------------------------------------------------------

    def watch(self, watcher: Callable[[tuple[str, ...]], None]) -> None:
        """Call ``watcher(kinds)`` after every change of these lists."""
        self._watchers.append(watcher)

    def changed(self, *kinds: str) -> None:
        self.generation += 1
        self._view = None
        self._scopes = None
        for watcher in list(self._watchers):
            watcher(kinds)

    # -- views -----------------------------------------------------------------------

    def view(self) -> View:
        """What this server offers every client without rules of its own."""
        view = self._view
        if view is None:
            view = self._view = self.view_with(())
        return view

    def candidates(self) -> list[Offered]:
        """Every component that may be offered: every version of the own ones, then
        what each mounted server offers (renamed under its prefix)."""
        found: list[Offered] = []
        for kind in LIST_KINDS:
            for versions in self._own[kind].values():
                found.extend(versions)
        for mount in self.mounts:
            inner = mount.registry.view()
            for kind in LIST_KINDS:
                found.extend(
                    o.through(mount.prefix, mount.registry.owner) for o in inner.offered[kind]
                )
        return found

    def view_with(self, session_rules: Sequence[Rule]) -> View:
        """The view with ``session_rules`` after the server's own rules."""
        rules = [*self.rules, *session_rules]
        filters = self.version_filters
        chosen: dict[tuple[ComponentKind, str], Offered] = {}
        for offered in self.candidates():
            component = offered.component
            if filters and not all(f.keeps(component.version) for f in filters):
                continue
            enabled = offered.enabled
            for rule in rules:
                if rule.matches(component):
                    enabled = rule.enable
                elif rule.only and component.kind in rule.kinds:
                    enabled = False
            if not enabled:
                continue
            key = (component.kind, component.name)
            best = chosen.get(key)
            # the highest version wins, in the place of the first one listed
            if best is None or version_key(component.version) > version_key(best.component.version):
                chosen[key] = offered
        offered_by: dict[ListKind, list[Offered]] = {kind: [] for kind in LIST_KINDS}
        for (kind, _), offered in chosen.items():
            offered_by[_LIST_OF[kind]].append(offered)
        return View(
            tools={o.component.name: o for o in offered_by["tools"]},
            prompts={o.component.name: o for o in offered_by["prompts"]},
            resources={o.component.name: o for o in offered_by["resources"]},
            templates=offered_by["templates"],
            offered=offered_by,
        )

    # -- lookup ----------------------------------------------------------------------

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
        """The scopes declared for what a request names (see ``Server.required_scopes``):
        of every component registered under that name - every version, offered or not
        (a session may see one the server does not offer to all)."""
        if method == "tools/call":
            kind: ComponentKind = "tool"
        elif method == "prompts/get":
            kind = "prompt"
        elif method != "resources/read":
            return frozenset()
        found: set[str] = set()
        for offered in self.candidates():
            component = offered.component
            if method == "resources/read":
                if component.kind == "resource" and component.name == name:
                    found |= scopes_of(offered.handler)
                elif component.kind == "template":
                    inner = offered.inner_uri(name) if offered.prefixes else name
                    if inner is not None and offered.handler.match(inner) is not None:
                        found |= scopes_of(offered.handler)
            elif component.kind == kind and component.name == name:
                handler = offered.handler
                found |= handler.scopes if kind == "tool" else scopes_of(handler)
        return frozenset(found)

    def declared_scopes(self) -> frozenset[str]:
        """Every scope any component declares, offered or not (mounted ones too)."""
        cached = self._scopes
        if cached is None:
            found: set[str] = set()
            for kind in LIST_KINDS:
                for versions in self._own[kind].values():
                    for offered in versions:
                        handler = offered.handler
                        found |= handler.scopes if kind == "tools" else scopes_of(handler)
            for mount in self.mounts:
                found |= mount.registry.declared_scopes()
            cached = self._scopes = frozenset(found)
        return cached

    # -- lists -----------------------------------------------------------------------

    def definitions(self, kind: ListKind) -> list[Any]:
        """The definitions of ``kind`` a client without rules of its own sees (own,
        then each mounted server's, renamed under its prefix)."""
        return self.view().definitions(kind)

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


def reader_of(offered: Offered, uri: str, variables: dict[str, Any] | None) -> Reader:
    """How to read ``uri`` from ``offered`` (a resource, or a template that matched
    with ``variables``): in the server that registered it, under its own URI, the
    contents renamed back to ``uri``."""
    handler, resolve = offered.handler, offered.owner.resolve
    inner = offered.inner_uri(uri) if offered.prefixes else uri
    assert inner is not None
    read: Reader
    if variables is None:
        if isinstance(handler, FunctionResource):
            read = lambda ctx: handler.read(ctx, inner, resolve)  # noqa: E731
        else:
            read = lambda ctx: handler.read(ctx, inner)  # noqa: E731
    elif isinstance(handler, FunctionResourceTemplate):
        read = lambda ctx: handler.read(ctx, inner, variables, resolve)  # noqa: E731
    else:
        read = lambda ctx: handler.read(ctx, inner, variables)  # noqa: E731
    return read if inner == uri else _rewrite_uris(read, inner, uri)


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


def _rewrite_uris(read: Reader, inner: str, outer: str) -> Reader:
    async def rewritten(ctx: McpContext) -> ReadResourceResult:
        result = await read(ctx)
        contents = [
            msgspec.structs.replace(c, uri=outer) if c.uri == inner else c for c in result.contents
        ]
        return msgspec.structs.replace(result, contents=contents)

    return rewritten
