"""The Server: what it offers (tools, resources, prompts), how it runs, whom it tells.

Registration reads naturally in both styles::

    server = Server("demo", "1.0", instructions="...", request_timeout=30)

    @server.tool
    async def add(a: int, b: int) -> int:
        return a + b

    # or the builder chain, with handlers made by the free decorators
    Server("demo", "1.0").tool(add).resource(config).prompt(greeting).request_timeout(30).run_stdio()

``@server.tool`` (and ``.resource``/``.prompt``) used as a decorator returns the
function unchanged; given a handler made by ``@tool`` (or any ``ToolHandler``) it
returns the server, so chains read left to right.

Everything a request needs is computed at registration: definitions, schemas,
argument decoders, result converters; the lists are rebuilt only when something is
added or removed, and every open connection is told (``list_changed``).
"""

from __future__ import annotations

import base64
import inspect
import logging
import math
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

import attrs
import msgspec
import trio

from fastmcp_core import McpContext, RequestStateSealer, Session, Transport, watch_event_loop
from fastmcp_protocol import (
    INVALID_PARAMS,
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    UNSET,
    CallToolResult,
    CompleteRequestParams,
    Icon,
    Implementation,
    McpError,
    NotificationParams,
    PromptReference,
    PromptsCapability,
    ReadResourceResult,
    ResourcesCapability,
    ResourceTemplate,
    ResourceUpdatedNotificationParams,
    ServerCapabilities,
    Tool,
    ToolsCapability,
    is_modern,
)
from fastmcp_server._dispatch import Connection, _Listener
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
    prompt,
    resource,
    tool,
)
from fastmcp_server._outbox import Outbox
from fastmcp_server._results import _to_result
from fastmcp_server._signature import Injection
from fastmcp_server._tasks import Tasks

if TYPE_CHECKING:
    from fastmcp_server._middleware import Middleware
    from fastmcp_server._skills import Skills
    from fastmcp_transport import HttpConnectionInfo

__all__ = ["Server"]

logger = logging.getLogger("fastmcp.server")
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
Lifespan = Callable[["Server"], AbstractAsyncContextManager[Any]]
"""``lifespan(server)`` is entered once while the server runs; what it yields is
``ctx.lifespan`` and, by its type (or, for a mapping of types, by each key), injected
into handlers that ask for it."""

_NOT_YET = object()


@attrs.define(eq=False, repr=False)
class _ToolEntry:
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


@attrs.define(eq=False, init=False, repr=False)
class Server:
    """An MCP server. See the module docstring for registration; ``run()`` to serve."""

    DEFAULT_SHUTDOWN_GRACE: ClassVar[float] = 10.0
    """Seconds the requests in flight get to finish when the server stops (a signal,
    stdin closing, ``drain``), unless told otherwise (``shutdown_grace``)."""

    name: str
    version: str
    instructions: str | None
    title: str | None
    website_url: str | None
    icons: list[Icon] | None
    mask_error_details: bool
    page_size: int | None
    max_concurrency: int
    list_ttl_ms: int
    list_cache_scope: Literal["private", "public"]
    read_ttl_ms: int
    read_cache_scope: Literal["private", "public"]
    modern_versions: tuple[str, ...]
    legacy_versions: tuple[str, ...]
    _request_timeout: float | None
    blocking_warning: float | None
    _lifespan: Lifespan | None
    _lifespan_state: Any
    _lifespan_users: int
    _lifespan_exit: Any
    _dependencies: dict[type, Any]
    _middleware: list[Middleware]
    _tools: dict[str, _ToolEntry]
    _resources: dict[str, ResourceHandler]
    _templates: dict[str, ResourceTemplateHandler]
    _prompts: dict[str, PromptHandler]
    _mounts: list[tuple[str, Server]]
    _completers: dict[tuple[str, str, str], CompleterCall]
    _global_completer: CompleterCall | None
    _connections: set[Connection]
    _connections_changed: trio.Event
    _drain_deadline: float | None
    _listeners: set[_Listener]
    _subscription_watcher: Callable[[frozenset[str]], Awaitable[None]] | None
    _watched: frozenset[str]
    _on_roots_changed: list[Callable[[Connection], Awaitable[None]]]
    _sealer: RequestStateSealer
    _tasks: Tasks
    _skills: Skills | None
    _nursery: trio.Nursery | None
    _lists: dict[str, list[Any]]
    _parents: list[Server]
    info: Implementation

    def __init__(
        self,
        name: str,
        version: str = "0.1.0",
        *,
        instructions: str | None = None,
        request_timeout: float | None = None,
        title: str | None = None,
        website_url: str | None = None,
        icons: list[Icon] | None = None,
        lifespan: Lifespan | None = None,
        dependencies: Mapping[type, Any] | None = None,
        middleware: Sequence[Middleware] = (),
        mask_error_details: bool = True,
        page_size: int | None = None,
        max_concurrency: int = 256,
        list_cache: tuple[int, Literal["private", "public"]] = (0, "public"),
        read_cache: tuple[int, Literal["private", "public"]] = (0, "private"),
        state_secret: bytes | None = None,
        protocol_versions: Sequence[str] | None = None,
        blocking_warning: float | None = 1.0,
    ) -> None:
        """``request_timeout`` (seconds) is every request's budget (a tool may tighten
        it with its own ``timeout``). ``mask_error_details`` hides the message of
        unexpected exceptions from clients (logged in full). ``page_size`` paginates
        the lists (``None``: one page). ``list_cache``/``read_cache`` are the
        ``(ttlMs, cacheScope)`` hints of 2026-07-28 lists and reads. ``state_secret``
        keys the ``requestState`` of multi round-trip requests (give every replica
        the same one). ``protocol_versions`` restricts the versions served.
        ``blocking_warning``: while serving, a handler that keeps the event loop
        blocked this many seconds (``time.sleep``, a loop with no ``await``) is named
        in a WARNING on the ``fastmcp`` logger (``None``: no watchdog)."""
        self.name = name
        self.version = version
        self.instructions = instructions
        self.title = title
        self.website_url = website_url
        self.icons = icons
        self.mask_error_details = mask_error_details
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.max_concurrency = max_concurrency
        self.list_ttl_ms, self.list_cache_scope = list_cache
        self.read_ttl_ms, self.read_cache_scope = read_cache
        versions = (
            tuple(protocol_versions)
            if protocol_versions
            else (MODERN_PROTOCOL_VERSIONS + LEGACY_PROTOCOL_VERSIONS)
        )
        self.modern_versions = tuple(v for v in versions if is_modern(v))
        self.legacy_versions = tuple(v for v in versions if not is_modern(v))
        self._request_timeout = request_timeout
        self.blocking_warning = blocking_warning
        self._lifespan = lifespan
        self._lifespan_state = None
        self._lifespan_users = 0
        self._lifespan_exit = None
        self._dependencies = dict(dependencies or {})
        self._middleware = list(middleware)
        self._tools = {}
        self._resources = {}
        self._templates = {}
        self._prompts = {}
        self._mounts = []
        self._completers = {}
        self._global_completer = None
        self._connections = set()
        self._connections_changed = trio.Event()
        self._drain_deadline = None
        self._listeners = set()
        self._subscription_watcher = None
        self._watched = frozenset()
        self._on_roots_changed = []
        self._sealer = (
            RequestStateSealer(key=state_secret) if state_secret else RequestStateSealer()
        )
        self._tasks = Tasks(self)
        self._skills = None
        self._nursery = None
        self._lists = {}
        self._parents = []
        self.info = Implementation(
            name=name, version=version, title=title, website_url=website_url, icons=icons
        )

    def __repr__(self) -> str:
        return (
            f"<Server {self.name!r} {self.version}: {len(self._tools)} tools, "
            f"{len(self._resources) + len(self._templates)} resources, {len(self._prompts)} prompts>"
        )

    # -- configuration (builder style) -----------------------------------------------

    def request_timeout(self, seconds: float | None) -> Server:
        """Set every request's budget in seconds (``None``: no limit); returns the server."""
        if seconds is not None and seconds <= 0:
            raise ValueError("request_timeout must be positive")
        self._request_timeout = seconds
        return self

    @property
    def default_request_timeout(self) -> float | None:
        """The budget of every request, in seconds (``None``: unlimited)."""
        return self._request_timeout

    def provide(self, type_: type, value: Any = _NOT_YET) -> Server:
        """Make ``value`` injectable into handlers that have a parameter of ``type_``.

        Declare it before registering the handlers that use it. Without a value, the
        lifespan must provide it (by yielding an instance of ``type_`` or a mapping
        with ``type_`` as a key).
        """
        self._dependencies[type_] = value
        return self

    def add_middleware(self, middleware: Middleware) -> Server:
        """Wrap every request in ``middleware`` (outermost last added)."""
        self._middleware.append(middleware)
        return self

    def on_roots_changed(
        self, callback: Callable[[Connection], Awaitable[None]]
    ) -> Callable[[Connection], Awaitable[None]]:
        """Call ``callback(connection)`` when a (legacy) client says its roots changed."""
        self._on_roots_changed.append(callback)
        return callback

    # -- registration ----------------------------------------------------------------

    @overload
    def tool(self, fn: FunctionTool | ToolHandler, /) -> Server: ...  # type: ignore[overload-overlap]
    @overload
    def tool(self, fn: F, /) -> F: ...
    @overload
    def tool(self, /, **options: Any) -> Callable[[F], F]: ...
    def tool(self, fn: Any = None, /, **options: Any) -> Any:
        """Register a tool (see ``fastmcp_server.tool`` for the options)."""
        if fn is not None and not options:
            if isinstance(fn, FunctionTool) or (
                not inspect.isroutine(fn) and isinstance(fn, ToolHandler)
            ):
                self.add_tool(fn)
                return self
            self.add_tool(tool(fn))
            return fn

        def register(fn: F) -> F:
            self.add_tool(tool(**options)(fn))
            return fn

        if fn is not None:
            return register(fn)
        return register

    def add_tool(self, handler: FunctionTool | ToolHandler) -> None:
        """Register a tool handler (replacing one of the same name)."""
        if isinstance(handler, FunctionTool):
            compiled = handler.compile(self._is_dependency)
            definition = compiled.definition
            entry = _ToolEntry(
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
            entry = _ToolEntry(
                definition,
                None,
                handler,
                _header_params(definition),
                support,
                scopes=_scopes_of(handler),
            )
        self._tools[definition.name] = entry
        self._changed("tools")

    def remove_tool(self, name: str) -> None:
        """Unregister a tool; raises ``KeyError`` when there is none of that name."""
        del self._tools[name]
        self._changed("tools")

    @overload
    def resource(
        self,
        uri: FunctionResource
        | FunctionResourceTemplate
        | ResourceHandler
        | ResourceTemplateHandler,
        /,
    ) -> Server: ...
    @overload
    def resource(self, uri: str, /, **options: Any) -> Callable[[F], F]: ...
    def resource(self, uri: Any, /, **options: Any) -> Any:
        """Register a resource: ``@server.resource("config://app")`` or, with
        ``{variables}``, a resource template (see ``fastmcp_server.resource``)."""
        if not isinstance(uri, str):
            self.add_resource(uri)
            return self

        def register(fn: F) -> F:
            self.add_resource(resource(uri, **options)(fn))
            return fn

        return register

    def add_resource(
        self,
        handler: FunctionResource
        | FunctionResourceTemplate
        | ResourceHandler
        | ResourceTemplateHandler,
    ) -> None:
        """Register a resource or resource template handler."""
        if isinstance(handler, FunctionResource | FunctionResourceTemplate):
            handler.compile(self._is_dependency)
        definition = handler.definition
        if isinstance(definition, ResourceTemplate):
            self._templates[definition.uri_template] = handler  # type: ignore[assignment]
            self._changed("templates")
        else:
            self._resources[definition.uri] = handler  # type: ignore[assignment]
            self._changed("resources")

    def add_skill(self, directory: str | os.PathLike[str], *, prefix: str = "") -> Server:
        """Serve the Agent Skill in ``directory`` (its ``SKILL.md`` and every file under
        it) at ``skill://[<prefix>/]<name>/...``, with the skills extension
        (``skills/list``, ``skills/get``, ``resources/directory/read``; 2026-07-28
        clients). The files are read now; ``ValueError`` for a directory that is not a
        valid skill. Needs PyYAML (``pip install "fastmcp-server[skills]"``). Returns
        the server."""
        path = Path(directory)
        skill_path = "/".join(filter(None, [*prefix.strip("/").split("/"), path.resolve().name]))
        self._skills_registry().add(path, skill_path)
        return self

    def add_skills(self, root: str | os.PathLike[str], *, prefix: str = "") -> Server:
        """Serve every skill under ``root`` (each directory holding a ``SKILL.md``,
        nested ones included) at ``skill://[<prefix>/]<its path under root>/...``.
        Returns the server."""
        base = Path(root)
        found = sorted(
            skill_md.parent
            for skill_md in base.rglob("SKILL.md")
            if not any(part.startswith(".") for part in skill_md.relative_to(base).parts)
        )
        if not found:
            raise ValueError(f"no SKILL.md under {base}")
        registry = self._skills_registry()
        # a root that is itself a skill is named by its directory, nested ones under it
        anchor = base.resolve().parent if (base / "SKILL.md").is_file() else base.resolve()
        for directory in found:
            relative = directory.resolve().relative_to(anchor).as_posix()
            parts = [*prefix.strip("/").split("/"), *relative.split("/")]
            registry.add(directory, "/".join(p for p in parts if p))
        return self

    def _skills_registry(self) -> Skills:
        if self._skills is None:
            from fastmcp_server._skills import Skills  # loaded by the first skill

            self._skills = Skills(self)
        return self._skills

    def remove_resource(self, uri: str) -> None:
        """Unregister a resource (by URI) or a template (by its URI template)."""
        if uri in self._resources:
            del self._resources[uri]
            self._changed("resources")
        else:
            del self._templates[uri]
            self._changed("templates")

    @overload
    def prompt(self, fn: FunctionPrompt | PromptHandler, /) -> Server: ...  # type: ignore[overload-overlap]
    @overload
    def prompt(self, fn: F, /) -> F: ...
    @overload
    def prompt(self, /, **options: Any) -> Callable[[F], F]: ...
    def prompt(self, fn: Any = None, /, **options: Any) -> Any:
        """Register a prompt (see ``fastmcp_server.prompt`` for the options)."""
        if fn is not None and not options:
            if isinstance(fn, FunctionPrompt) or (
                not inspect.isroutine(fn) and isinstance(fn, PromptHandler)
            ):
                self.add_prompt(fn)
                return self
            self.add_prompt(prompt(fn))
            return fn

        def register(fn: F) -> F:
            self.add_prompt(prompt(**options)(fn))
            return fn

        return register if fn is None else register(fn)

    def add_prompt(self, handler: FunctionPrompt | PromptHandler) -> None:
        """Register a prompt handler (replacing one of the same name)."""
        if isinstance(handler, FunctionPrompt):
            handler.compile(self._is_dependency)
            if handler.complete:
                for argument, fn in handler.complete.items():
                    self._completers[("ref/prompt", handler.name, argument)] = CompleterCall.of(fn)
        self._prompts[handler.definition.name] = handler
        self._changed("prompts")

    def remove_prompt(self, name: str) -> None:
        """Unregister a prompt."""
        del self._prompts[name]
        self._changed("prompts")

    def completion(self, ref: str | None = None, argument: str | None = None) -> Callable[[F], F]:
        """Register a completer: for a prompt (``ref`` = its name) or resource template
        (``ref`` = its URI template) argument, or, without arguments, for everything
        no specific completer covers (then it is called with ``value``, ``ref``,
        ``argument`` and ``context``)."""

        def register(fn: F) -> F:
            if ref is None:
                self._global_completer = CompleterCall.of(fn)
            else:
                assert argument is not None, "completion(ref, argument)"
                kind = "ref/resource" if "://" in ref or "{" in ref else "ref/prompt"
                self._completers[(kind, ref, argument)] = CompleterCall.of(fn)
            return fn

        return register

    def mount(self, prefix: str, server: Server) -> Server:
        """Offer ``server``'s tools, resources and prompts under ``prefix``.

        Tools and prompts are named ``prefix_name``; resource URIs get the prefix as
        their first path part (``scheme://prefix/rest``). Changes in the mounted
        server show up here at once.
        """
        if not prefix.replace("-", "_").isidentifier():
            raise ValueError(f"invalid mount prefix {prefix!r}")
        self._mounts.append((prefix, server))
        server._parents.append(self)
        self._changed("tools", "resources", "templates", "prompts")
        return self

    # -- lookup ----------------------------------------------------------------------

    def _is_dependency(self, type_: Any) -> bool:
        return type_ in self._dependencies

    def _resolve(self, injection: Injection) -> Any:
        value = self._dependencies.get(injection.type, _NOT_YET)
        if value is _NOT_YET:
            state = self._lifespan_state
            if isinstance(state, injection.type):
                return state
            if isinstance(state, Mapping) and injection.type in state:
                return state[injection.type]
            if injection.optional:
                return None
            raise LookupError(f"no value for dependency {injection.type.__name__}: provide it")
        return value

    def _find_tool(self, name: str) -> _ToolEntry | None:
        entry = self._tools.get(name)
        if entry is not None or not self._mounts:
            return entry
        for prefix, server in self._mounts:
            if name.startswith(prefix + "_"):
                found = server._find_tool(name[len(prefix) + 1 :])
                if found is not None:
                    return found
        return None

    def _find_prompt(self, name: str) -> PromptHandler | None:
        handler = self._prompts.get(name)
        if handler is not None or not self._mounts:
            return handler
        for prefix, server in self._mounts:
            if name.startswith(prefix + "_"):
                found = server._find_prompt(name[len(prefix) + 1 :])
                if found is not None:
                    return found
        return None

    def _find_resource(
        self, uri: str
    ) -> Callable[[McpContext], Awaitable[ReadResourceResult]] | None:
        """The reader of ``uri``: a static resource, else the first matching template."""
        handler = self._resources.get(uri)
        resolve = self._resolve
        if handler is not None:
            if isinstance(handler, FunctionResource):
                return lambda ctx: handler.read(ctx, uri, resolve)
            return lambda ctx: handler.read(ctx, uri)
        for template in self._templates.values():
            variables = template.match(uri)
            if variables is not None:
                if isinstance(template, FunctionResourceTemplate):
                    return lambda ctx: template.read(ctx, uri, variables, resolve)
                return lambda ctx: template.read(ctx, uri, variables)
        for prefix, server in self._mounts:
            inner = _unprefix_uri(uri, prefix)
            if inner is not None:
                found = server._find_resource(inner)
                if found is not None:
                    return _rewrite_uris(found, inner, uri)
        return None

    # -- authorization ---------------------------------------------------------------

    def required_scopes(self, method: str, name: str) -> frozenset[str]:
        """The OAuth scopes declared (``scopes=``) for what a request names: the tool of
        a ``tools/call``, the prompt of a ``prompts/get``, the resource (or the first
        matching template) of a ``resources/read`` (``name`` is then the URI). Empty
        for anything else, and for names nothing is registered under (the request
        fails later, as it would without authorization). Mounted servers included.

        The authorization layer asks this only when a token lacks one of
        ``declared_scopes()``; a server without authorization never does.
        """
        if method == "tools/call":
            entry = self._find_tool(name)
            return entry.scopes if entry is not None else frozenset()
        if method == "prompts/get":
            return _scopes_of(self._find_prompt(name))
        if method == "resources/read":
            return self._resource_scopes(name)
        return frozenset()

    def declared_scopes(self) -> frozenset[str]:
        """Every scope any tool, resource, template or prompt declares (mounted servers
        included); recomputed only after registrations change."""
        cached = self._lists.get("scopes")
        if cached is None:
            found: set[str] = set()
            for entry in self._tools.values():
                found |= entry.scopes
            for handlers in (self._resources, self._templates, self._prompts):
                for handler in handlers.values():
                    found |= _scopes_of(handler)
            for _, server in self._mounts:
                found |= server.declared_scopes()
            cached = self._lists["scopes"] = [frozenset(found)]
        result: frozenset[str] = cached[0]
        return result

    def _resource_scopes(self, uri: str) -> frozenset[str]:
        handler = self._resources.get(uri)
        if handler is not None:
            return _scopes_of(handler)
        for template in self._templates.values():
            if template.match(uri) is not None:
                return _scopes_of(template)
        for prefix, server in self._mounts:
            inner = _unprefix_uri(uri, prefix)
            if inner is not None:
                found = server._resource_scopes(inner)
                if found:
                    return found
        return frozenset()

    async def _get_prompt(
        self,
        handler: PromptHandler,
        ctx: McpContext,
        arguments: dict[str, str],
        resolve: Callable[[Injection], Any],
    ) -> Any:
        if isinstance(handler, FunctionPrompt):
            return await handler.get(ctx, arguments, resolve)
        return await handler.get(ctx, arguments)

    def _find_completer(self, params: CompleteRequestParams) -> Any:
        ref = params.ref
        if isinstance(ref, PromptReference):
            key = ("ref/prompt", ref.name, params.argument.name)
        else:
            key = ("ref/resource", ref.uri, params.argument.name)
        completer = self._completers.get(key)
        if completer is None and key[0] == "ref/resource":
            template = self._templates.get(ref.uri)  # type: ignore[union-attr]
            if isinstance(template, FunctionResourceTemplate) and template.complete:
                fn = template.complete.get(params.argument.name)
                if fn is not None:
                    completer = self._completers[key] = CompleterCall.of(fn)
        if completer is None and self._global_completer is not None:
            general = self._global_completer
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

    # -- lists (rebuilt on change, not per request) ----------------------------------

    def _changed(self, *kinds: str) -> None:
        self._lists.pop("scopes", None)
        for kind in kinds:
            self._lists.pop(kind, None)
        for parent in self._parents:
            parent._changed(*kinds)
        if self._nursery is not None:
            for kind in kinds:
                self._broadcast_list_changed(kind)

    def _definitions(self, kind: ListKind) -> list[Any]:
        """The definitions of ``kind`` (own, then each mounted server's, renamed under
        its prefix), kept until a registration of that kind changes."""
        cached = self._lists.get(kind)
        if cached is None:
            own, renamed = _LISTS[kind]
            cached = [handler.definition for handler in own(self)]
            for prefix, server in self._mounts:
                cached += [renamed(d, prefix) for d in server._definitions(kind)]
            self._lists[kind] = cached
        return cached

    def _list_result(
        self, result_type: Callable[..., R], field: str, items: list[Any], cursor: str | None
    ) -> R:
        """One page of ``items`` as a list result (``field`` holds the page), with the
        server's cache hints."""
        page, next_cursor = self._page(items, cursor)
        return result_type(
            **{field: page},
            next_cursor=next_cursor,
            ttl_ms=self.list_ttl_ms,
            cache_scope=self.list_cache_scope,
        )

    def _page(self, items: list[Any], cursor: str | None) -> tuple[list[Any], str | None]:
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

    def _extensions(self) -> list[Tasks | Skills]:
        """The subsystems that add methods and capabilities of their own."""
        return [self._tasks] if self._skills is None else [self._tasks, self._skills]

    def _extension_capabilities(self) -> dict[str, Any] | None:
        declared: dict[str, Any] = {}
        for extension in self._extensions():
            declared.update(extension.extensions() or {})
        return declared or None

    def _capabilities(self, version: str) -> ServerCapabilities:
        modern = is_modern(version)
        return ServerCapabilities(
            tools=ToolsCapability(list_changed=True),
            resources=ResourcesCapability(subscribe=None if modern else True, list_changed=True),
            prompts=PromptsCapability(list_changed=True),
            logging={},
            completions={},
            extensions=self._extension_capabilities() if modern else None,
            tasks=None if modern else self._tasks.legacy_capability(version),
        )

    # -- notifications ---------------------------------------------------------------

    async def notify_resource_updated(self, uri: str) -> None:
        """Tell every client that subscribed to ``uri`` that it changed.

        Returns at once: each subscriber has an outbox of its own, so a slow one never
        holds up the others or the caller (see ``fastmcp_server._outbox`` for what a
        subscriber that lags receives)."""
        method = "notifications/resources/updated"
        for connection in list(self._connections):
            if uri in connection.subscriptions and connection.outbox is not None:
                connection.outbox.post(method, ResourceUpdatedNotificationParams(uri=uri), uri)
        for listener in list(self._listeners):
            if listener.wants("resource", uri):
                params = ResourceUpdatedNotificationParams(uri=uri, meta=listener.tag)
                listener.outbox.post(method, params, uri)

    @property
    def subscribed_resources(self) -> frozenset[str]:
        """The URIs some client is subscribed to now (``resources/subscribe``, or a
        2026-07-28 ``subscriptions/listen`` stream naming them)."""
        uris: set[str] = set()
        for connection in self._connections:
            uris |= connection.subscriptions
        for listener in self._listeners:
            uris.update(listener.filter.resource_subscriptions or ())
        return frozenset(uris)

    def on_subscriptions_changed(
        self, watcher: Callable[[frozenset[str]], Awaitable[None]] | None
    ) -> Server:
        """Call ``await watcher(uris)`` whenever ``subscribed_resources`` changes: to
        watch a resource's source only while a client wants its updates (how
        ``fastmcp.proxy`` follows the remote's resources). A subscription is
        answered after the watcher returns; ends of subscriptions (unsubscribing, a
        closed stream, a client gone) are reported right after. Returns the server."""
        self._subscription_watcher = watcher
        return self

    async def _subscriptions_changed(self) -> None:
        watcher = self._subscription_watcher
        if watcher is None:
            return
        now = self.subscribed_resources
        if now != self._watched:
            self._watched = now
            await watcher(now)

    def _subscriptions_changed_soon(self) -> None:
        """For ends of subscriptions met while unwinding (maybe cancelled)."""
        if self._subscription_watcher is not None and self._nursery is not None:
            self._nursery.start_soon(self._subscriptions_changed)

    async def notify_list_changed(self, kind: Literal["tools", "resources", "prompts"]) -> None:
        """Tell every client that a list changed (done for you when you add or remove
        handlers while serving). Returns at once, like ``notify_resource_updated``."""
        self._broadcast_list_changed(kind)

    def _broadcast_list_changed(self, kind: str) -> None:
        kind = "resources" if kind == "templates" else kind
        method = f"notifications/{kind}/list_changed"
        for connection in list(self._connections):
            if connection.initialized and connection.outbox is not None:
                connection.outbox.post(method, NotificationParams())
        for listener in list(self._listeners):
            if listener.wants(kind):
                listener.outbox.post(method, NotificationParams(meta=listener.tag))

    # -- running ---------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Server]:
        """Enter the lifespan (once, however many connections run) and own the nursery
        that list-changed broadcasts and tasks run in."""
        if self._lifespan_users:
            self._lifespan_users += 1
            try:
                yield self
            finally:
                self._lifespan_users -= 1
            return
        self._lifespan_users = 1
        try:
            with watch_event_loop(self.blocking_warning):
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if self._lifespan is not None:
                        async with self._lifespan(self) as state:
                            self._lifespan_state = state
                            try:
                                yield self
                            finally:
                                nursery.cancel_scope.cancel()
                    else:
                        try:
                            yield self
                        finally:
                            nursery.cancel_scope.cancel()
        finally:
            for listener in list(self._listeners):
                listener.closed.set()
            self._nursery = None
            self._lifespan_state = None
            self._lifespan_users = 0
            self._drain_deadline = None

    async def serve_transport(
        self,
        transport: Transport,
        /,
        info: HttpConnectionInfo | None = None,
        *,
        shutdown_grace: float | None = None,
    ) -> None:
        """Serve one connection until its transport closes (in-process clients call
        this with one end of ``memory_pair()``) or ``drain`` ends it.

        When the input ends, the requests in flight get ``shutdown_grace`` seconds
        (``None``: as long as their budget) to finish; those still running then are
        answered with the shutdown error. A connection that starts while the server
        drains is drained at once (see ``drain``).
        """
        async with self.running():
            connection = Connection(self, info)
            timeout = self._request_timeout
            if shutdown_grace is None:
                shutdown_grace = math.inf if timeout is None else timeout
            session = Session(
                transport,
                connection,
                request_timeout=timeout,
                max_concurrency=self.max_concurrency,
                drain_on_eof=shutdown_grace,
                mask_error_details=self.mask_error_details,
                server_info=self.info,
            )
            connection.session = session
            assert self._nursery is not None
            connection.outbox = Outbox(session, self._nursery.start_soon)
            self._connections.add(connection)
            if self._drain_deadline is not None:
                session.start_drain(self._drain_deadline - trio.current_time())
            try:
                await session.run()
            finally:
                connection.outbox.close()
                self._connections.discard(connection)
                self._connections_changed.set()
                self._connections_changed = trio.Event()
                for listener in list(self._listeners):
                    if listener.session is session:
                        listener.closed.set()
                if connection.subscriptions:
                    self._subscriptions_changed_soon()

    async def drain(self, grace: float | None = None) -> None:
        """Stop serving gracefully: returns once every connection has ended.

        Every ``subscriptions/listen`` stream ends (answered as usual); every
        connection stops reading, and its requests in flight get ``grace`` seconds
        (default ``DEFAULT_SHUTDOWN_GRACE``) to finish; those still running then are
        cancelled (``CancelReason.SHUTDOWN``) and answered with the shutdown error
        (-32603 "Server is shutting down"); a masked section always runs to its end
        first. A connection that starts meanwhile is drained as it starts, with what
        is left of the grace. A second call can only shorten it. ``serve_stdio`` and
        ``serve_http`` call this when they are cancelled.
        """
        if not self._lifespan_users:
            return  # not serving: nothing to drain (and nothing to refuse later)
        grace = self.DEFAULT_SHUTDOWN_GRACE if grace is None else grace
        deadline = trio.current_time() + grace
        if self._drain_deadline is None or deadline < self._drain_deadline:
            self._drain_deadline = deadline
        for listener in list(self._listeners):
            listener.closed.set()
        for connection in list(self._connections):
            if connection.session is not None:
                connection.session.start_drain(grace)
        while self._connections:
            await self._connections_changed.wait()

    async def serve_stdio(self, *, shutdown_grace: float | None = None) -> None:
        """Serve on this process's stdin/stdout until stdin closes or this is cancelled.

        Either way the server stops gracefully: stdin closing means the client is
        leaving; cancelling it stops reading stdin. The requests in flight then get
        ``shutdown_grace`` seconds (default ``DEFAULT_SHUTDOWN_GRACE``) to finish and
        the rest are answered with the shutdown error (see ``drain``); it returns (or
        raises ``Cancelled``) once their answers are written.
        """
        from fastmcp_transport import stdio_server

        grace = self.DEFAULT_SHUTDOWN_GRACE if shutdown_grace is None else shutdown_grace
        async with stdio_server() as transport:
            serve = partial(self.serve_transport, transport, shutdown_grace=grace)
            await _stop_gracefully_when_cancelled(serve, partial(self.drain, grace))

    def run_stdio(
        self,
        *,
        shutdown_grace: float | None = None,
        on_ready: Callable[[str], object] | None = None,
    ) -> None:
        """Serve on stdin/stdout (blocking) until stdin closes, SIGINT or SIGTERM.

        This owns the process while it runs: SIGINT (Ctrl-C) and SIGTERM stop the
        server gracefully (``serve_stdio``: the requests in flight get
        ``shutdown_grace`` seconds, default ``DEFAULT_SHUTDOWN_GRACE``), with one
        line on stderr; it then returns (the script exits with status 0). A second
        signal stops the process at once (status 128 + the signal's number: 130 for
        Ctrl-C). The descriptors of stdin and stdout are left as they were found.
        When stdin is a terminal, one line on stderr says how to talk to the server;
        ``on_ready("stdio")``, if given, is called instead.
        """
        from fastmcp_server._lifecycle import run_until_stopped, stdio_hint

        _configure_logging()
        grace = self.DEFAULT_SHUTDOWN_GRACE if shutdown_grace is None else shutdown_grace

        async def serve(task_status: trio.TaskStatus[str]) -> None:
            task_status.started("stdio")
            await self.serve_stdio(shutdown_grace=grace)

        run_until_stopped(serve, grace=grace, on_ready=on_ready or partial(stdio_hint, self))

    async def serve_http(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        path: str = "/mcp",
        shutdown_grace: float | None = None,
        task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
        **options: Any,
    ) -> None:
        """Serve Streamable HTTP (both protocol eras) and legacy HTTP+SSE at ``path``.

        ``options`` go to the HTTP runner (TLS ``certfile``/``keyfile``) and app
        (``security``, ``json_response``, ``stateless``, ``event_store``...: see
        ``fastmcp_transport.http_server.StreamableHTTPApp``); ``auth`` (a
        ``fastmcp_server.auth.BearerAuth``) makes the server an OAuth resource server.
        ``port=0`` binds a free port; the address (``.url``) is reported through
        ``task_status``.

        Cancelling it stops the server gracefully: new connections and requests are
        refused at once (503), the requests in flight get ``shutdown_grace`` seconds
        (default ``DEFAULT_SHUTDOWN_GRACE``) to finish and the rest are answered with
        the shutdown error (see ``drain``); it returns once they have been answered.
        """
        from fastmcp_server._http import serve_http

        grace = self.DEFAULT_SHUTDOWN_GRACE if shutdown_grace is None else shutdown_grace
        async with self.running():
            await serve_http(
                self,
                host=host,
                port=port,
                path=path,
                shutdown_grace=grace,
                task_status=task_status,
                **options,
            )

    def http_app(self, path: str = "/mcp", **options: Any) -> Any:
        """This server as an ASGI application, to mount in another ASGI app on trio
        (see ``fastmcp_transport.http_server.StreamableHTTPApp`` for the options;
        ``auth=BearerAuth(...)`` puts the authorization layer in front of it)."""
        from fastmcp_server._http import http_app

        return http_app(self, path=path, **options)

    def run_http(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        path: str = "/mcp",
        *,
        shutdown_grace: float | None = None,
        on_ready: Callable[[str], object] | None = None,
        **options: Any,
    ) -> None:
        """Serve Streamable HTTP (blocking) until SIGINT or SIGTERM. Binds 127.0.0.1
        unless told otherwise. ``auth=BearerAuth(...)`` requires OAuth access tokens
        (see ``serve_http`` for the options).

        Once listening, one line on stderr gives the address (``on_ready(url)``, if
        given, is called instead). SIGINT (Ctrl-C) and SIGTERM stop the server
        gracefully (``serve_http``: the requests in flight get ``shutdown_grace``
        seconds, default ``DEFAULT_SHUTDOWN_GRACE``), with one line on stderr; it then
        returns. A second signal stops the process at once (status 128 + the signal's
        number: 130 for Ctrl-C).
        """
        from fastmcp_server._lifecycle import address_line, run_until_stopped

        _configure_logging()
        grace = self.DEFAULT_SHUTDOWN_GRACE if shutdown_grace is None else shutdown_grace

        async def serve(task_status: trio.TaskStatus[str]) -> None:
            async with trio.open_nursery() as nursery:
                address = await nursery.start(
                    partial(
                        self.serve_http,
                        host=host,
                        port=port,
                        path=path,
                        shutdown_grace=grace,
                        **options,
                    )
                )
                task_status.started(address.url)

        run_until_stopped(serve, grace=grace, on_ready=on_ready or partial(address_line, self))

    def run(self, transport: Literal["stdio", "http"] = "stdio", **options: Any) -> None:
        """``run_stdio(**options)`` or ``run_http(**options)``."""
        if transport == "stdio":
            unknown = set(options) - {"shutdown_grace", "on_ready"}
            if unknown:
                raise TypeError(
                    f"stdio takes only shutdown_grace and on_ready, got {sorted(unknown)}"
                )
            self.run_stdio(**options)
        elif transport == "http":
            self.run_http(**options)
        else:
            raise ValueError(f"unknown transport {transport!r}: use 'stdio' or 'http'")

    # -- middleware ------------------------------------------------------------------

    def _wrap(
        self, ctx: McpContext, handler: Callable[[], Awaitable[Any]]
    ) -> Callable[[], Awaitable[Any]]:
        from fastmcp_server._middleware import wrap  # loaded by the first middleware

        return wrap(self._middleware, ctx, handler)


def _scopes_of(handler: object) -> frozenset[str]:
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


def _rewrite_uris(
    read: Callable[[McpContext], Awaitable[ReadResourceResult]], inner: str, outer: str
) -> Callable[[McpContext], Awaitable[ReadResourceResult]]:
    async def rewritten(ctx: McpContext) -> ReadResourceResult:
        result = await read(ctx)
        contents = [
            msgspec.structs.replace(c, uri=outer) if c.uri == inner else c for c in result.contents
        ]
        return msgspec.structs.replace(result, contents=contents)

    return rewritten


async def _stop_gracefully_when_cancelled(
    serve: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Run ``serve``; when cancelled, run ``stop`` (shielded: it is the graceful end,
    bounded by its own grace) before ``serve`` is cancelled; then re-raise."""
    finished = trio.Event()

    async def guarded(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        try:
            with trio.CancelScope(shield=True) as shielded:
                task_status.started(shielded)
                await serve()
        finally:
            finished.set()

    async with trio.open_nursery() as nursery:
        shielded: trio.CancelScope = await nursery.start(guarded)
        try:
            await finished.wait()
        finally:
            if not finished.is_set():  # cancelled from outside
                with trio.CancelScope(shield=True):
                    await stop()
                shielded.cancel()  # what is left (a lifespan still starting, say)


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


ListKind = Literal["tools", "resources", "templates", "prompts"]

_LISTS: dict[str, tuple[Callable[[Server], Iterable[Any]], Callable[[Any, str], Any]]] = {
    "tools": (
        lambda s: s._tools.values(),
        lambda d, prefix: msgspec.structs.replace(d, name=f"{prefix}_{d.name}"),
    ),
    "resources": (
        lambda s: s._resources.values(),
        lambda d, prefix: msgspec.structs.replace(d, uri=_prefix_uri(d.uri, prefix)),
    ),
    "templates": (
        lambda s: s._templates.values(),
        lambda d, prefix: msgspec.structs.replace(
            d, uri_template=_prefix_uri(d.uri_template, prefix)
        ),
    ),
    "prompts": (
        lambda s: s._prompts.values(),
        lambda d, prefix: msgspec.structs.replace(d, name=f"{prefix}_{d.name}"),
    ),
}
"""Per kind of list: the server's own handlers, and how a mounted server's definition
is renamed under its prefix."""
