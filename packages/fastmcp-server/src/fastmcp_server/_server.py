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

import contextlib
import inspect
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

import attrs
import trio

from fastmcp_core import (
    Exchanges,
    Reply,
    RequestStateSealer,
    Session,
    Transport,
    is_async_callable,
    watch_event_loop,
)
from fastmcp_core.store import Store, open_store
from fastmcp_protocol import (
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    Icon,
    Implementation,
    JSONRPCNotification,
    JSONRPCRequest,
    PromptsCapability,
    ResourcesCapability,
    ServerCapabilities,
    ToolsCapability,
    is_modern,
)
from fastmcp_server._background import Background
from fastmcp_server._components import Component, ComponentKind, Rule, VersionFilter, VersionSpec
from fastmcp_server._dispatch import Connection, ConnectionRouter, routes_of, serving
from fastmcp_server._handlers import (
    FunctionPrompt,
    FunctionResource,
    FunctionResourceTemplate,
    FunctionTool,
    PromptHandler,
    ResourceHandler,
    ResourceTemplateHandler,
    ToolHandler,
    prompt,
    resource,
    tool,
)
from fastmcp_server._outbox import Outbox
from fastmcp_server._registry import (
    EVERY_VERSION,
    DuplicatePolicy,
    ListKind,
    Owner,
    Registry,
    VersionChoice,
    _prefix_uri,
    _unprefix_uri,
    is_transformed,
)
from fastmcp_server._settings import DEFAULT_SHUTDOWN_GRACE, Settings, secret_ring
from fastmcp_server._signature import CompilerOptions
from fastmcp_server._subscriptions import Subscriptions
from fastmcp_server._tasks import Tasks

if TYPE_CHECKING:
    import httpx

    from fastmcp_core import Dispatcher
    from fastmcp_core.telemetry import Telemetry
    from fastmcp_server._custom_routes import CustomRoute
    from fastmcp_server._middleware import AnyMiddleware
    from fastmcp_server._skills import Skills
    from fastmcp_server._transform import TransformedTool
    from fastmcp_server.openapi import ComponentFn, RouteMap, RouteMapFn
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
class _Lifetime:
    """One run of a server's shared state (``Server.running``)."""

    users: int = 0
    started: trio.Event = attrs.field(factory=trio.Event)
    stop: trio.Event = attrs.field(factory=trio.Event)
    stopped: trio.Event = attrs.field(factory=trio.Event)
    failure: BaseException | None = None


@attrs.define(eq=False, init=False, repr=False)
class Server:
    """An MCP server. See the module docstring for registration; ``run()`` to serve."""

    DEFAULT_SHUTDOWN_GRACE: ClassVar[float] = DEFAULT_SHUTDOWN_GRACE
    """Seconds the requests in flight get to finish when the server stops (a signal,
    stdin closing, ``drain``), unless told otherwise (``shutdown_grace``)."""

    name: str
    version: str
    instructions: str | None
    title: str | None
    website_url: str | None
    icons: list[Icon] | None
    mask_error_details: bool
    max_concurrency: int
    read_ttl_ms: int
    read_cache_scope: Literal["private", "public"]
    modern_versions: tuple[str, ...]
    legacy_versions: tuple[str, ...]
    _request_timeout: float | None
    blocking_warning: float | None
    telemetry: Telemetry | None
    _lifespan: Lifespan | None
    _lifetime: _Lifetime | None
    registry: Registry
    """What the server offers (for the package's collaborators; users register
    through the methods below)."""
    _owner: Owner
    _mounted: list[Server]
    _connections: set[Connection]
    subscriptions: Subscriptions
    """Who listens for what (for the package's collaborators)."""
    _connections_changed: trio.Event
    _drain_deadline: float | None
    roots_listeners: list[Callable[[Connection], Awaitable[None]]]
    _closed_listeners: list[Callable[[Connection], Awaitable[None]]]
    custom_routes: list[CustomRoute]
    """The custom routes (``custom_route``), served beside the MCP endpoint."""
    _routes: dict[str, ConnectionRouter] | None
    sealer: RequestStateSealer
    """Seals the ``requestState`` of multi round-trip requests (``state_secret``)."""
    tasks: Tasks
    """The task subsystem (tools that run as tasks)."""
    store: Store
    """Where the state the replicas share lives (``store``)."""
    _skills: Skills | None
    _nursery: trio.Nursery | None
    _exchanges: Exchanges | None
    background: Background
    """Starts the work that outlives one request (set while the server runs)."""
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
        middleware: Sequence[AnyMiddleware] = (),
        mask_error_details: bool = True,
        page_size: int | None = None,
        max_concurrency: int = 256,
        list_cache: tuple[int, Literal["private", "public"]] = (0, "public"),
        read_cache: tuple[int, Literal["private", "public"]] = (0, "private"),
        state_secret: bytes | Sequence[bytes] | None = None,
        store: Store | str | None = None,
        protocol_versions: Sequence[str] | None = None,
        blocking_warning: float | None = 1.0,
        on_duplicate: DuplicatePolicy = "error",
        strict_input_validation: bool = False,
        dereference_schemas: bool = True,
        telemetry: Telemetry | None = None,
    ) -> None:
        """``request_timeout`` (seconds) is every request's budget (a tool may tighten
        it with its own ``timeout``). ``mask_error_details`` hides the message of
        unexpected exceptions from clients (logged in full). ``page_size`` paginates
        the lists (``None``: one page). ``list_cache``/``read_cache`` are the
        ``(ttlMs, cacheScope)`` hints of 2026-07-28 lists and reads. ``state_secret``
        keys the ``requestState`` of multi round-trip requests (give every replica
        the same one; a list of keys, newest first, rotates them: the newest seals,
        any opens; default: ``FASTMCP_STATE_SECRET``, else a random key).
        ``store`` is where replicas share tasks, subscriptions and HTTP sessions: a
        ``fastmcp_core.store.Store`` or its URL (``"redis://HOST:PORT/DB"``, which
        needs ``fastmcp-server[redis]``; default: ``FASTMCP_STORE``, else this
        process's memory: one process, as without replicas). ``protocol_versions``
        restricts the versions served.
        ``blocking_warning``: while serving, a handler that keeps the event loop
        blocked this many seconds (``time.sleep``, a loop with no ``await``) is named
        in a WARNING on the ``fastmcp`` logger (``None``: no watchdog).
        ``on_duplicate``: what registering a name (and version) that is taken does -
        ``"error"`` (``ValueError``), ``"warn"`` (replaces, with a warning),
        ``"replace"`` or ``"ignore"`` (keeps the first). ``strict_input_validation``:
        refuse tool arguments whose JSON type differs from the schema's (by default a
        string holding a number or boolean is accepted for one, as models often send
        them). ``dereference_schemas``: inline ``$ref``s in input and output schemas
        (recursive types keep their ``$defs``). ``telemetry``: a
        ``fastmcp_core.telemetry.Telemetry`` (the ``otel`` extra): a span per request
        served, in the trace its ``_meta`` names."""
        self.name = name
        self.version = version
        self.instructions = instructions
        self.title = title
        self.website_url = website_url
        self.icons = icons
        self.mask_error_details = mask_error_details
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.max_concurrency = max_concurrency
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
        self.telemetry = telemetry
        self._lifespan = lifespan
        self._lifetime = None
        self._owner = Owner(dict(dependencies or {}), list(middleware))
        if on_duplicate not in ("error", "warn", "replace", "ignore"):
            raise ValueError(
                f"on_duplicate must be error, warn, replace or ignore, not {on_duplicate!r}"
            )
        self.registry = Registry(
            self._owner,
            page_size=page_size,
            list_ttl_ms=list_cache[0],
            list_cache_scope=list_cache[1],
            on_duplicate=on_duplicate,
            options=CompilerOptions(
                strict=strict_input_validation, dereference=dereference_schemas
            ),
        )
        self.registry.watch(self._lists_changed)
        self._mounted = []
        self._connections = set()
        self._connections_changed = trio.Event()
        self._drain_deadline = None
        self.background = Background()
        self.subscriptions = Subscriptions(self.background, subscribers=self._connections)  # type: ignore[arg-type]
        self.roots_listeners = []
        settings = Settings.from_env() if state_secret is None or store is None else None
        if state_secret is None:  # FASTMCP_STATE_SECRET: the same key on every replica
            assert settings is not None
            ring = secret_ring(settings.state_secret or "")  # newest seals, any opens
            keys: bytes | Sequence[bytes] | None = tuple(k.encode() for k in ring) or None
        else:
            keys = state_secret
        self._closed_listeners = []
        self.custom_routes = []
        self.sealer = RequestStateSealer(key=keys) if keys else RequestStateSealer()
        if store is None:  # FASTMCP_STORE: the same store for every replica
            assert settings is not None
            store = settings.store or "memory://"  # loads the MemoryStore
        self.store = open_store(store) if isinstance(store, str) else store
        self.tasks = Tasks(self.registry, self.background, self, store=self.store)
        self._skills = None
        self._routes = None
        self._nursery = None
        self._exchanges = None
        self.info = Implementation(
            name=name, version=version, title=title, website_url=website_url, icons=icons
        )

    @classmethod
    def from_openapi(
        cls,
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
        **server_options: Any,
    ) -> Server:
        """A server whose tools (or resources) are the operations of the OpenAPI 3
        document ``openapi_spec`` (a dict), called with ``client`` (an
        ``httpx.AsyncClient`` with the API's ``base_url``; without one, the server
        opens its own on the document's first ``servers`` URL while it runs).

        ``route_maps`` decide what each operation becomes (``RouteMap``, ``MCPType``:
        tools unless they say otherwise); ``route_map_fn``, ``mcp_names``, ``tags``,
        ``mcp_component_fn`` and ``timeout`` refine it; the rest (``version``,
        ``instructions``, ``lifespan``...) goes to ``Server``. The name and version
        default to the document's ``info``. See ``fastmcp_server.openapi``. Raises
        ``ValueError`` for a document that is not OpenAPI 3, or that refers outside
        itself."""
        from fastmcp_server.openapi import build_server

        return build_server(
            cls,
            openapi_spec,
            client,
            name=name,
            route_maps=route_maps,
            route_map_fn=route_map_fn,
            mcp_names=mcp_names,
            tags=tags,
            mcp_component_fn=mcp_component_fn,
            timeout=timeout,
            **server_options,
        )

    @classmethod
    def from_fastapi(
        cls,
        app: Any,
        name: str | None = None,
        *,
        httpx_client_kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Server:
        """``from_openapi`` for a FastAPI (or any ASGI) app with an ``openapi()``
        method: its operations are called in-process through
        ``httpx.ASGITransport``, on this server's trio event loop (FastAPI runs on
        anyio, which runs on trio), and the app's own lifespan runs while the
        server runs. ``httpx_client_kwargs`` go to that client (``headers``...);
        ``options`` are ``from_openapi``'s. FastAPI itself is not a dependency."""
        from fastmcp_server.openapi import fastapi_server

        return fastapi_server(
            cls, app, name=name, httpx_client_kwargs=httpx_client_kwargs, **options
        )

    def __repr__(self) -> str:
        return (
            f"<Server {self.name!r} {self.version}: {len(self.registry.tools)} tools, "
            f"{len(self.registry.resources) + len(self.registry.templates)} resources, "
            f"{len(self.registry.prompts)} prompts>"
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
        if value is _NOT_YET:
            self._owner.provide(type_)
        else:
            self._owner.provide(type_, value)
        return self

    def add_middleware(self, middleware: AnyMiddleware) -> Server:
        """Run ``middleware`` around every request (and, for a ``Middleware``, every
        notification), before routing; the first added is the outermost (see
        ``fastmcp_server.Middleware``). Returns the server."""
        self._owner.middleware.append(middleware)
        return self

    @property
    def page_size(self) -> int | None:
        """How many items one page of a list holds (``None``: one page)."""
        return self.registry.page_size

    @property
    def list_ttl_ms(self) -> int:
        """The ``ttlMs`` hint of 2026-07-28 list results."""
        return self.registry.list_ttl_ms

    @property
    def list_cache_scope(self) -> Literal["private", "public"]:
        """The ``cacheScope`` hint of 2026-07-28 list results."""
        return self.registry.list_cache_scope

    def definitions(self, kind: ListKind) -> list[Any]:
        """What a client lists now: the definitions of ``kind`` (``"tools"``,
        ``"resources"``, ``"templates"`` or ``"prompts"``), mounted servers' included
        under their prefixes."""
        return self.registry.definitions(kind)

    def on_roots_changed(
        self, callback: Callable[[Connection], Awaitable[None]]
    ) -> Callable[[Connection], Awaitable[None]]:
        """Call ``callback(connection)`` when a (legacy) client says its roots changed."""
        self.roots_listeners.append(callback)
        return callback

    def on_connection_closed(
        self, callback: Callable[[Connection], Awaitable[None]]
    ) -> Callable[[Connection], Awaitable[None]]:
        """Call ``await callback(connection)`` when a connection this server serves has
        ended (a stdio or in-process client gone, an HTTP session ended, a 2026-07-28
        HTTP request answered): to let go of what was kept for it. A server mounted in
        another is told of the connections of the server it is mounted in. Called
        shielded from cancellation; an exception it raises is logged."""
        self._closed_listeners.append(callback)
        return callback

    @staticmethod
    def current_connection() -> Connection | None:
        """The connection of the request being handled (``None`` outside a request):
        the same object for every request of one session, and the one
        ``on_connection_closed`` reports when it ends."""
        return serving.get()

    # -- registration ----------------------------------------------------------------

    @overload
    def tool(self, fn: FunctionTool | TransformedTool | ToolHandler, /) -> Server: ...  # type: ignore[overload-overlap]
    @overload
    def tool(self, fn: F, /) -> F: ...
    @overload
    def tool(self, /, **options: Any) -> Callable[[F], F]: ...
    def tool(self, fn: Any = None, /, **options: Any) -> Any:
        """Register a tool (see ``fastmcp_server.tool`` for the options)."""
        if fn is not None and not options:
            if (
                isinstance(fn, FunctionTool)
                or is_transformed(fn)
                or (not inspect.isroutine(fn) and isinstance(fn, ToolHandler))
            ):
                self.add_tool(fn)
                return self
            self.add_tool(_remembered(fn, tool(fn)))
            return fn

        def register(fn: F) -> F:
            self.add_tool(_remembered(fn, tool(**options)(fn)))
            return fn

        if fn is not None:
            return register(fn)
        return register

    def add_tool(
        self,
        handler: FunctionTool | TransformedTool | ToolHandler,
        *,
        on_duplicate: DuplicatePolicy | None = None,
    ) -> None:
        """Register a tool handler. A name (and version) already registered is an
        error unless ``on_duplicate`` (or the server's) says otherwise."""
        self.registry.add_tool(handler, on_duplicate)

    def remove_tool(self, name: str, version: VersionChoice = EVERY_VERSION) -> None:
        """Unregister a tool: every version, or only ``version`` (``None``: the
        unversioned one). ``KeyError`` when there is none."""
        self.registry.remove_tool(name, version)

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
        *,
        on_duplicate: DuplicatePolicy | None = None,
    ) -> None:
        """Register a resource or resource template handler (duplicates: see
        ``add_tool``)."""
        self.registry.add_resource(handler, on_duplicate)

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

            self._skills = Skills(self.registry, self)
            self._routes = None  # the skills methods join the table
        return self._skills

    def remove_resource(self, uri: str, version: VersionChoice = EVERY_VERSION) -> None:
        """Unregister a resource (by URI) or a template (by its URI template): every
        version, or only ``version``."""
        self.registry.remove_resource(uri, version)

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

    def add_prompt(
        self,
        handler: FunctionPrompt | PromptHandler,
        *,
        on_duplicate: DuplicatePolicy | None = None,
    ) -> None:
        """Register a prompt handler (duplicates: see ``add_tool``)."""
        self.registry.add_prompt(handler, on_duplicate)

    def remove_prompt(self, name: str, version: VersionChoice = EVERY_VERSION) -> None:
        """Unregister a prompt: every version, or only ``version``."""
        self.registry.remove_prompt(name, version)

    # -- visibility and versions -------------------------------------------------------

    def enable(
        self,
        *,
        names: str | Iterable[str] | None = None,
        keys: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        version: VersionSpec | str | None = None,
        components: Iterable[ComponentKind] | None = None,
        match_all: bool = False,
        only: bool = False,
    ) -> Server:
        """Offer the components that match (see ``disable`` for the criteria); with
        ``only=True`` offer *only* those (an allowlist, replacing an earlier one).
        Later rules override earlier ones; clients are told the lists changed.
        Returns the server."""
        self.registry.add_rule(
            Rule.of(
                True,
                names=names,
                keys=keys,
                tags=tags,
                version=version,
                components=components,
                match_all=match_all,
                only=only,
            )
        )
        return self

    def disable(
        self,
        *,
        names: str | Iterable[str] | None = None,
        keys: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        version: VersionSpec | str | None = None,
        components: Iterable[ComponentKind] | None = None,
        match_all: bool = False,
    ) -> Server:
        """Stop offering the components that match: neither listed nor callable
        (an unknown tool, prompt or resource to clients), mounted servers' included.

        A component matches when its name (a resource's URI too), its key
        (``"tool:search"``) or one of its tags is named (they add up), its version is
        in ``version`` (a ``VersionSpec`` or one version) and its kind among
        ``components`` (``{"tool", "resource", "template", "prompt"}``); with
        ``match_all=True``, every component of those kinds. Later rules override
        earlier ones (``enable`` again to offer it); clients are told the lists
        changed. A session can have rules of its own on top (``McpContext.
        enable_components``). Returns the server."""
        self.registry.add_rule(
            Rule.of(
                False,
                names=names,
                keys=keys,
                tags=tags,
                version=version,
                components=components,
                match_all=match_all,
            )
        )
        return self

    def add_transform(self, transform: VersionFilter) -> Server:
        """Add a ``VersionFilter`` (offer only the versions it keeps). Returns the
        server."""
        if not isinstance(transform, VersionFilter):
            raise TypeError(f"add_transform takes a VersionFilter, not {type(transform).__name__}")
        self.registry.add_version_filter(transform)
        return self

    def components(self, kind: ListKind) -> list[Component]:
        """What a client without rules of its own sees of ``kind`` (``"tools"``,
        ``"resources"``, ``"templates"``, ``"prompts"``): each with its tags and
        version, mounted servers' included under their prefixes."""
        return list(self.registry.view().components(kind))

    def completion(self, ref: str | None = None, argument: str | None = None) -> Callable[[F], F]:
        """Register a completer: for a prompt (``ref`` = its name) or resource template
        (``ref`` = its URI template) argument, or, without arguments, for everything
        no specific completer covers (then it is called with ``value``, ``ref``,
        ``argument`` and ``context``)."""

        def register(fn: F) -> F:
            self.registry.add_completer(ref, argument, fn)
            return fn

        return register

    def mount(self, prefix: str, server: Server) -> Server:
        """Offer ``server``'s tools, resources and prompts under ``prefix``.

        Tools and prompts are named ``prefix_name``; resource URIs get the prefix as
        their first path part (``scheme://prefix/rest``). Changes in the mounted
        server show up here at once; so do its resource updates, and it hears of the
        subscriptions to its resources (``on_subscriptions_changed``, in its own
        names), so a mounted proxy follows them at its remote.
        """
        self.registry.mount(prefix, server.registry)
        self._mounted.append(server)
        # resource subscriptions reach it, and its updates the parent's subscribers
        self.subscriptions.mounted.append(
            (server.subscriptions, partial(_unprefix_uri, prefix=prefix))
        )
        parent = self.subscriptions
        server.subscriptions.announce.append(
            lambda uri: parent.resource_updated(_prefix_uri(uri, prefix))
        )
        return self

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
        return self.registry.required_scopes(method, name)

    def declared_scopes(self) -> frozenset[str]:
        """Every scope any tool, resource, template or prompt declares (mounted servers
        included); recomputed only after registrations change."""
        return self.registry.declared_scopes()

    # -- capabilities ----------------------------------------------------------------

    def _lists_changed(self, kinds: tuple[str, ...]) -> None:
        for middleware in self._owner.middleware:
            on_list_changed = getattr(middleware, "on_list_changed", None)
            if on_list_changed is not None:
                on_list_changed(kinds)
        if self._nursery is not None:
            for kind in kinds:
                self.subscriptions.list_changed(kind)

    def extensions(self) -> list[Tasks | Skills]:
        """The subsystems that add methods and capabilities of their own."""
        return [self.tasks] if self._skills is None else [self.tasks, self._skills]

    def routes(self) -> dict[str, ConnectionRouter]:
        """The method table every connection of this server routes with (built once,
        again when an extension is added)."""
        routes = self._routes
        if routes is None:
            routes = self._routes = routes_of(self.extensions())
        return routes

    def _extension_capabilities(self) -> dict[str, Any] | None:
        declared: dict[str, Any] = {}
        for extension in self.extensions():
            declared.update(extension.extensions() or {})
        return declared or None

    def capabilities(self, version: str) -> ServerCapabilities:
        """What the server declares to a client of ``version``."""
        modern = is_modern(version)
        return ServerCapabilities(
            tools=ToolsCapability(list_changed=True),
            resources=ResourcesCapability(subscribe=None if modern else True, list_changed=True),
            prompts=PromptsCapability(list_changed=True),
            logging={},
            completions={},
            extensions=self._extension_capabilities() if modern else None,
            tasks=None if modern else self.tasks.legacy_capability(version),
        )

    # -- notifications ---------------------------------------------------------------

    async def notify_resource_updated(self, uri: str) -> None:
        """Tell every client that subscribed to ``uri`` that it changed.

        Returns at once: each subscriber has an outbox of its own, so a slow one never
        holds up the others or the caller (see ``fastmcp_server._outbox`` for what a
        subscriber that lags receives)."""
        self.subscriptions.resource_updated(uri)

    async def notify_list_changed(self, kind: Literal["tools", "resources", "prompts"]) -> None:
        """Tell every client that a list changed (done for you when you add or remove
        handlers while serving). Returns at once, like ``notify_resource_updated``."""
        self.subscriptions.list_changed(kind)

    @property
    def subscribed_resources(self) -> frozenset[str]:
        """The URIs some client is subscribed to now (``resources/subscribe``, or a
        2026-07-28 ``subscriptions/listen`` stream naming them)."""
        return self.subscriptions.resources

    def on_subscriptions_changed(
        self, watcher: Callable[[frozenset[str]], Awaitable[None]] | None
    ) -> Server:
        """Call ``await watcher(uris)`` whenever ``subscribed_resources`` changes: to
        watch a resource's source only while a client wants its updates (how
        ``fastmcp.proxy`` follows the remote's resources). A subscription is
        answered after the watcher returns; ends of subscriptions (unsubscribing, a
        closed stream, a client gone) are reported right after. Returns the server."""
        self.subscriptions.watcher = watcher
        return self

    def custom_route(
        self, path: str, methods: Sequence[str] = ("GET",), *, auth: bool = False
    ) -> Callable[[F], F]:
        """Serve ``path`` beside the MCP endpoint with the decorated async handler (a
        health check, a webhook) - over ``run_http``, ``fastmcp run -t http`` and
        ``http_app()`` alike::

            @server.custom_route("/health")
            async def health(request: HttpRequest) -> str:
                return "ok"

        The handler gets a ``fastmcp_transport.http_server.HttpRequest`` (method,
        path, query, headers, body, client) and returns a ``str``, ``bytes``, a
        ``dict`` or ``list`` (JSON), ``None`` (204) or an ``HttpResponse``.
        ``methods``: those it takes (others get 405). The route is outside the MCP
        endpoint's authorization unless ``auth=True`` (then a valid token is
        required and ``request.principal`` is it; serving such a route without
        ``auth=`` is an error). Returns the handler.
        """
        verbs = tuple(method.upper() for method in methods)
        if not path.startswith("/"):
            raise ValueError(f"a custom route's path starts with '/': {path!r}")
        if not verbs:
            raise ValueError(f"the custom route {path!r} takes no method")

        def register(fn: F) -> F:
            if not is_async_callable(fn):
                raise TypeError(f"the handler of the custom route {path!r} must be async")
            from fastmcp_server._custom_routes import CustomRoute

            self.custom_routes.append(CustomRoute(path, fn, verbs, auth))
            return fn

        return register

    # -- running ---------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Server]:
        """Run the server for the duration of the block: its store (connected first,
        closed last; one that cannot be reached does not stop the start), its
        lifespan (with the lifespans of the servers mounted in it inside), the
        event-loop watchdog and the nursery that broadcasts and tasks run in - once,
        however many connections run at once and however they are served.

        They live in a task of their own (a trio system task), so that no connection
        owns them: the first block to enter starts them (the others wait until they
        have started; when starting fails, each raises the lifespan's exception), and
        the last one to leave stops them and waits, shielded, until the lifespans
        have ended - normally, never cancelled, so their cleanup runs to its end. A
        block that enters while they stop waits for the end and starts them anew.
        """
        while self._lifetime is not None and self._lifetime.stop.is_set():
            await self._lifetime.stopped.wait()  # a restart waits for the end
        lifetime = self._lifetime
        if lifetime is None:
            lifetime = self._lifetime = _Lifetime()
            trio.lowlevel.spawn_system_task(
                self._live, lifetime, name=f"fastmcp server {self.name!r}"
            )
        lifetime.users += 1
        try:
            await lifetime.started.wait()
            if lifetime.failure is not None:
                raise lifetime.failure
            if lifetime.stopped.is_set():
                raise RuntimeError(f"the server {self.name!r} stopped")
            yield self
        finally:
            lifetime.users -= 1
            if lifetime.users == 0:
                lifetime.stop.set()
                with trio.CancelScope(shield=True):
                    await lifetime.stopped.wait()
                if self._lifetime is lifetime:
                    self._lifetime = None

    async def _live(self, lifetime: _Lifetime) -> None:
        """The system task that holds what ``running`` shares (see there)."""
        try:
            with watch_event_loop(self.blocking_warning):
                async with AsyncExitStack() as lifespans:
                    await lifespans.enter_async_context(self.store.running())
                    lifespans.callback(self.tasks.attach())
                    lifespans.callback(self.subscriptions.attach(self.store.bus))
                    if self._lifespan is not None:
                        state = await lifespans.enter_async_context(self._lifespan(self))
                        self._owner.lifespan_state = state
                    for child in self._mounted:
                        await lifespans.enter_async_context(child.running())
                    async with trio.open_nursery() as nursery:
                        self._nursery = self.background.nursery = nursery
                        self._exchanges = Exchanges(
                            nursery,
                            request_timeout=self._request_timeout,
                            mask_error_details=self.mask_error_details,
                            server_info=self.info,
                        )
                        lifetime.started.set()
                        await lifetime.stop.wait()
                        self.subscriptions.end_listeners()
                        nursery.cancel_scope.cancel()
        except BaseException as exc:  # a system task must not raise: tell the users
            if isinstance(exc, trio.Cancelled):  # the trio run ends (system tasks last)
                logger.info("the server %r stopped with the trio run", self.name)
            elif lifetime.started.is_set():
                logger.exception("the server %r stopped on an error", self.name)
            lifetime.failure = exc
        finally:
            self._nursery = self.background.nursery = None
            self._exchanges = None
            self._owner.lifespan_state = None
            self._drain_deadline = None
            lifetime.started.set()
            lifetime.stopped.set()

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
        (``None``: the server's ``request_timeout``, or ``DEFAULT_SHUTDOWN_GRACE``
        without one: a peer that vanished never leaves a handler running for ever)
        to finish; those still running then are answered with the shutdown error. A connection that starts while the server
        drains is drained at once (see ``drain``).
        """
        async with self.running():
            connection = Connection(self, info)
            timeout = self._request_timeout
            if shutdown_grace is None:
                shutdown_grace = self.DEFAULT_SHUTDOWN_GRACE if timeout is None else timeout
            session = self._session_maker()(
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
            token = serving.set(connection)  # the session's tasks inherit it
            try:
                await session.run()
            finally:
                serving.reset(token)
                with trio.CancelScope(shield=True):
                    await self._connection_closed(connection)
                connection.outbox.close()
                self._connections.discard(connection)
                self._connections_changed.set()
                self._connections_changed = trio.Event()
                self.subscriptions.end_listeners(session)
                if connection.subscriptions:
                    self.subscriptions.changed_soon()

    def _session_maker(self) -> Callable[..., Session]:
        """``Session``, or a traced one when there is a ``telemetry`` (whose module
        loads only then: ``import fastmcp_server`` stays light)."""
        if self.telemetry is None:
            return Session
        from fastmcp_core.telemetry import session_for

        return session_for(self.telemetry)

    def _traced(self, connection: Connection) -> Dispatcher:
        """``connection``, its requests traced when there is a ``telemetry``."""
        if self.telemetry is None:
            return connection
        from fastmcp_core.telemetry import dispatcher_for

        return dispatcher_for(connection, self.telemetry)

    async def serve_exchange(
        self,
        message: JSONRPCRequest | JSONRPCNotification,
        reply: Reply,
        info: HttpConnectionInfo,
    ) -> None:
        """Serve the lone message of an HTTP POST without a session (2026-07-28, or
        a session-less legacy one) in this task, answering through ``reply``: no
        session and no task of its own (``fastmcp_core.Exchanges``), drained with
        the server (one that comes while it drains is answered with the shutdown
        error)."""
        exchanges = self._exchanges
        if exchanges is None:  # not running (an app run without its lifespan)
            async with self.running():
                await self.serve_exchange(message, reply, info)
            return
        connection = Connection(self, info)
        exchange = connection.session = exchanges.open(reply)
        token = serving.set(connection)
        try:
            await exchange.handle(message, self._traced(connection))
        finally:
            serving.reset(token)
            if self._closed_listeners or self._mounted:
                with trio.CancelScope(shield=True):
                    await self._connection_closed(connection)

    async def _connection_closed(self, connection: Connection) -> None:
        for callback in self._closed_listeners:
            try:
                await callback(connection)
            except Exception:
                logger.exception("on_connection_closed callback %r failed", callback)
        for child in self._mounted:
            await child._connection_closed(connection)

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
        if self._lifetime is None:
            return  # not serving: nothing to drain (and nothing to refuse later)
        grace = self.DEFAULT_SHUTDOWN_GRACE if grace is None else grace
        deadline = trio.current_time() + grace
        if self._drain_deadline is None or deadline < self._drain_deadline:
            self._drain_deadline = deadline
        self.subscriptions.end_listeners()
        for connection in list(self._connections):
            if isinstance(connection.session, Session):
                connection.session.start_drain(grace)
        if self._exchanges is not None:
            self._exchanges.start_drain(grace)  # kept by its own task: see Exchanges
            await self._exchanges.idle()
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

        settings = Settings.from_env()
        _configure_logging(settings.log_level)
        grace = settings.shutdown_grace if shutdown_grace is None else shutdown_grace

        async def serve(task_status: trio.TaskStatus[str]) -> None:
            task_status.started("stdio")
            await self.serve_stdio(shutdown_grace=grace)

        run_until_stopped(serve, grace=grace, on_ready=on_ready or partial(stdio_hint, self.name))

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

        ``options`` go to the HTTP server (TLS ``certfile``/``keyfile``;
        ``http_server="h1"``, our own HTTP/1.1 server, by default, with its ``limits``
        - ``fastmcp_transport.http_server.H1Limits`` - or ``"hypercorn"``) and app
        (``security``, ``json_response``, ``stateless``, ``event_store``...: see
        ``fastmcp_transport.http_server.StreamableHTTPApp``); ``auth`` (a
        ``fastmcp_server.auth.BearerAuth``) makes the server an OAuth resource server,
        an ``OAuthProxy`` (``GitHubProvider``...) its own authorization server in
        front of an identity provider, a bare ``TokenVerifier`` (``StaticTokenVerifier``)
        checks tokens it knows.
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
        ``auth=BearerAuth(...)``, ``OAuthProxy(...)`` or a ``TokenVerifier`` puts the
        authorization layer in front of it)."""
        from fastmcp_server._http import http_app

        return http_app(self, path=path, **options)

    def run_http(
        self,
        host: str | None = None,
        port: int | None = None,
        path: str | None = None,
        *,
        shutdown_grace: float | None = None,
        on_ready: Callable[[str], object] | None = None,
        **options: Any,
    ) -> None:
        """Serve Streamable HTTP (blocking) until SIGINT or SIGTERM. Binds 127.0.0.1:8000
        at ``/mcp`` unless told otherwise - by the arguments, else by the ``FASTMCP_*``
        variables (``FASTMCP_HOST``, ``FASTMCP_PORT``, ``FASTMCP_PATH``,
        ``FASTMCP_STATELESS``, ``FASTMCP_HTTP_SERVER``, ``FASTMCP_SHUTDOWN_GRACE``,
        ``FASTMCP_LOG_LEVEL``: see ``fastmcp_server.Settings``). ``auth=`` (a
        ``BearerAuth``, an ``OAuthProxy``, a ``TokenVerifier``) requires OAuth access
        tokens (see ``serve_http`` for the options).

        Once listening, one line on stderr gives the address (``on_ready(url)``, if
        given, is called instead). SIGINT (Ctrl-C) and SIGTERM stop the server
        gracefully (``serve_http``: the requests in flight get ``shutdown_grace``
        seconds, default ``DEFAULT_SHUTDOWN_GRACE``), with one line on stderr; it then
        returns. A second signal stops the process at once (status 128 + the signal's
        number: 130 for Ctrl-C).
        """
        from fastmcp_server._lifecycle import address_line, run_until_stopped

        settings = Settings.from_env()
        _configure_logging(settings.log_level)
        grace = settings.shutdown_grace if shutdown_grace is None else shutdown_grace
        options.setdefault("stateless", settings.stateless)
        options.setdefault("http_server", settings.http_server)

        async def serve(task_status: trio.TaskStatus[str]) -> None:
            async with trio.open_nursery() as nursery:
                address = await nursery.start(
                    partial(
                        self.serve_http,
                        host=settings.host if host is None else host,
                        port=settings.port if port is None else port,
                        path=settings.path if path is None else path,
                        shutdown_grace=grace,
                        **options,
                    )
                )
                task_status.started(address.url)

        run_until_stopped(serve, grace=grace, on_ready=on_ready or partial(address_line, self.name))

    def run(self, transport: Literal["stdio", "http"] | None = None, **options: Any) -> None:
        """``run_stdio(**options)`` or ``run_http(**options)``; without ``transport``,
        the one ``FASTMCP_TRANSPORT`` names (default stdio)."""
        if transport is None:
            transport = Settings.from_env().transport
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


def _remembered(fn: Any, handler: FunctionTool) -> FunctionTool:
    """``handler``, noted on the function it was made from, so that
    ``TransformedTool.from_tool(fn)`` starts from the tool as registered (its name,
    description and options) - the decorator returns the function itself."""
    with contextlib.suppress(AttributeError, TypeError):  # a builtin, a bound method
        fn.__fastmcp_tool__ = handler
    return handler


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


def _configure_logging(level: str = "warning") -> None:
    """Log to stderr at ``level``, unless the program set logging up itself."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level.upper())
