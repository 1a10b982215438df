"""Routing requests of one connection to the server's handlers, in both protocol eras.

Theory of operation. A ``Connection`` is one transport's worth of conversation: a
stdio process, an in-memory client, a legacy HTTP session, or one modern HTTP
request. The session engine asks ``Connection.route`` for the handler of each
request. Routing decides the era of the request first:

* modern (2026-07-28): ``params._meta`` carries ``io.modelcontextprotocol/
  protocolVersion`` (or the connection is a modern HTTP request). The per-request
  fields are checked (-32602 when missing, -32022 for an unsupported version), the
  method must exist in that version (-32601), and the context gets the request's
  capabilities, client info and log level;
* legacy (2025-11-25 and older): the connection must have been initialized
  (``initialize`` itself and ``ping`` excepted; -32600 otherwise) and the context gets
  what ``initialize`` negotiated.

Then the method's own router checks what only it can (the tool exists, the resource
matches, the client declared a needed capability) - errors there are JSON-RPC errors
- and returns the handler, which runs inside the server's middleware. Everything a
handler returns is a result struct; the engine shapes it for the request's version.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs
import msgspec
import trio

from fastmcp_core import Exchange, McpContext, RequestStateSealer, Session, binding_of
from fastmcp_protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    META_PROTOCOL_VERSION,
    METHOD_NOT_FOUND,
    METHODS,
    RESOURCE_NOT_FOUND,
    UNSET,
    ClientCapabilities,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    DiscoverResult,
    GetPromptRequestParams,
    Implementation,
    InitializeRequestParams,
    InitializeResult,
    JSONRPCNotification,
    JSONRPCRequest,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    LoggingLevel,
    McpError,
    PaginatedRequestParams,
    PromptReference,
    ReadResourceRequestParams,
    RequestParams,
    Result,
    ServerCapabilities,
    SetLevelRequestParams,
    SubscribeRequestParams,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    TaskMetadata,
    UnsetType,
    UnsubscribeRequestParams,
    check_request_meta,
    decode_params,
    is_modern,
    negotiate_version,
)
from fastmcp_server._handlers import FunctionPrompt
from fastmcp_server._outbox import Outbox
from fastmcp_server._registry import Owner, Registry, ToolEntry
from fastmcp_server._results import constant
from fastmcp_server._subscriptions import Listener, Subscriptions

if TYPE_CHECKING:
    from fastmcp_transport import HttpConnectionInfo

__all__ = ["CORE_ROUTES", "Connection", "ConnectionHost", "Extension", "routes_of"]

Handler = Callable[[], Awaitable[Any]]
Router = Callable[[McpContext, Any], Awaitable[Handler]]
"""Answers a request of one method: checks it, returns the handler that answers it."""
ConnectionRouter = Callable[["Connection", McpContext, Any], Awaitable[Handler]]
"""A ``Router`` that also needs the connection (the core methods)."""


class Extension(Protocol):
    """A subsystem that adds methods and capabilities of its own (tasks, skills)."""

    def routes(self) -> dict[str, Router]: ...

    def exists(self, method: str, version: str) -> bool: ...

    def params_type(self, method: str) -> type | None: ...


class TaskRouter(Protocol):
    """How a tool call becomes a task (``fastmcp_server._tasks``)."""

    def tool_route(
        self, ctx: McpContext, entry: ToolEntry, owner: Owner, params: Any
    ) -> Handler | None: ...


class ConnectionHost(Protocol):
    """What a connection needs from the server it belongs to."""

    registry: Registry
    subscriptions: Subscriptions
    info: Implementation
    instructions: str | None
    modern_versions: tuple[str, ...]
    legacy_versions: tuple[str, ...]
    read_ttl_ms: int
    read_cache_scope: Literal["private", "public"]
    sealer: RequestStateSealer
    roots_listeners: list[Callable[[Connection], Awaitable[None]]]

    @property
    def tasks(self) -> TaskRouter: ...

    def capabilities(self, version: str) -> ServerCapabilities: ...

    def extensions(self) -> Sequence[Extension]: ...

    def routes(self) -> Mapping[str, ConnectionRouter]: ...


class _CallToolParams(RequestParams, kw_only=True, frozen=True):
    """``tools/call`` params with the arguments kept raw: they are decoded straight into
    the tool's own argument struct."""

    name: str
    arguments: msgspec.Raw | UnsetType = UNSET
    input_responses: Any = None
    request_state: str | None = None
    task: TaskMetadata | None = None


class _MetaOnly(msgspec.Struct, gc=False):
    """Just the ``_meta`` of any params: enough to tell the era and check its fields."""

    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


# methods the engine routes with another params type than the method table's
_PARAMS = {"tools/call": _CallToolParams}
_NO_PARAMS_NEEDED = frozenset({"initialize", "ping", "notifications/initialized"})


@attrs.define(eq=False, repr=False)
class Connection:
    """What the server knows about one connection (see the module docstring)."""

    host: ConnectionHost
    info: HttpConnectionInfo | None = None
    session: Session | Exchange | None = None
    version: str | None = None
    """The legacy version ``initialize`` negotiated (``None`` before, and for modern)."""
    initialized: bool = False
    client_info: Implementation | None = None
    client_capabilities: ClientCapabilities = attrs.field(factory=ClientCapabilities)
    log_level: LoggingLevel | None = "info"
    subscriptions: set[str] = attrs.field(factory=set)
    outbox: Outbox | None = None
    """Where broadcasts to this connection wait (set while it is served)."""
    modern_only: bool = False
    legacy_only: bool = False
    _initializing: trio.Event | None = attrs.field(init=False, default=None)
    _params_types: dict[str, Any] = attrs.field(init=False, factory=dict)
    _legacy_checked: set[str] = attrs.field(init=False, factory=set)

    def __attrs_post_init__(self) -> None:
        if self.info is not None:
            self.modern_only = self.info.kind == "modern"
            self.legacy_only = self.info.kind != "modern"

    # -- the Dispatcher protocol -----------------------------------------------------

    def accepted(self, request: JSONRPCRequest) -> None:
        """In arrival order: requests read after ``initialize`` wait for it (a client
        may send them before it has the answer, and routing is concurrent)."""
        if request.method == "initialize" and self.version is None and self._initializing is None:
            self._initializing = trio.Event()

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Handler:
        initializing = self._initializing
        if initializing is None:
            return await self._route(ctx, request)
        if request.method != "initialize":
            await initializing.wait()
            return await self._route(ctx, request)
        try:
            return await self._route(ctx, request)
        finally:  # negotiated or refused: what waited for it goes on
            initializing.set()
            if self._initializing is initializing:
                self._initializing = None

    async def _route(self, ctx: McpContext, request: JSONRPCRequest) -> Handler:
        method = request.method
        host = self.host
        router = host.routes().get(method)
        if router is None:
            self._check_before_params(request.params, None)
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")
        params_type = self._params_types.get(method)
        if params_type is None:
            params_type = self._params_types[method] = self._params_type(method)
        try:
            params = decode_params(request.params, params_type)  # the one parse of params
        except McpError:
            self._check_before_params(request.params, method)
            raise
        meta = params.meta
        # the era of this request, from its decoded _meta (never from its bytes)
        if self.modern_only or (
            not self.legacy_only and meta is not None and META_PROTOCOL_VERSION in meta
        ):
            fields = check_request_meta(meta, host.modern_versions)
            version = fields.protocol_version
            assert version is not None
            assert fields.client_capabilities is not None
            self._check_modern_method(method, version)
            ctx.protocol_version = version
            ctx.client_capabilities = fields.client_capabilities
            ctx.client_info = fields.client_info
            ctx.log_level = fields.log_level
            ctx.progress_token = fields.progress_token
        else:
            if method not in self._legacy_checked:
                self._check_legacy(method)
            ctx.protocol_version = self.version or host.legacy_versions[0]
            ctx.client_capabilities = self.client_capabilities
            ctx.client_info = self.client_info
            ctx.log_level = self.log_level
            if meta:
                token = meta.get("progressToken")
                if isinstance(token, str | int) and not isinstance(token, bool):
                    ctx.progress_token = token
        if meta:
            ctx.meta = meta
        owner = host.registry.owner
        ctx.lifespan = owner.lifespan_state
        ctx._dependencies = owner.dependencies
        if self.info is not None:
            ctx.principal = self.info.principal
            ctx.session_id = self.info.session_id
        return owner.wrap(ctx, await router(self, ctx, params))

    def _check_before_params(self, raw: Any, method: str | None) -> None:
        """What is checked before a request's params (only when they or the method are
        wrong, so the answer names the first problem): a modern request's own fields
        (-32602, -32022), a legacy request on a session not yet initialized (-32600)."""
        meta = decode_params(raw, _MetaOnly).meta
        if self.modern_only or (
            not self.legacy_only and meta is not None and META_PROTOCOL_VERSION in meta
        ):
            version = check_request_meta(meta, self.host.modern_versions).protocol_version
            if method is not None and version is not None:
                self._check_modern_method(method, version)
        elif method is not None and self.version is None and method not in _NO_PARAMS_NEEDED:
            raise McpError(INVALID_REQUEST, "Invalid request: the session is not initialized")

    def _check_modern_method(self, method: str, version: str) -> None:
        """-32601 for a method the modern ``version`` does not have (``initialize``...)."""
        spec = METHODS.get(method)
        if (spec is None or not spec.exists_in(version)) and not any(
            e.exists(method, version) for e in self.host.extensions()
        ):
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")

    def _check_legacy(self, method: str) -> None:
        """A legacy request needs an initialized session (``initialize`` and ``ping``
        excepted) and a method of the negotiated version; once the version is known
        the answer is kept per method."""
        if self.version is None and method not in _NO_PARAMS_NEEDED:
            raise McpError(INVALID_REQUEST, "Invalid request: the session is not initialized")
        host = self.host
        version = self.version or host.legacy_versions[0]
        spec = METHODS.get(method)
        if (
            method != "initialize"
            and (spec is None or not spec.exists_in(version))
            and not any(e.exists(method, version) for e in host.extensions())
        ):
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method} (in {version})")
        if self.version is not None:
            self._legacy_checked.add(method)

    def _params_type(self, method: str) -> Any:
        spec = METHODS.get(method)
        params_type = _PARAMS.get(method) or (spec.params if spec is not None else None)
        if params_type is None:
            found = (e.params_type(method) for e in self.host.extensions())
            params_type = next((t for t in found if t is not None), RequestParams)
        return params_type

    async def notification(self, note: JSONRPCNotification) -> None:
        method = note.method
        if method == "notifications/initialized":
            initializing = self._initializing
            if initializing is not None:  # read before initialize was routed (a pipe)
                await initializing.wait()
            if self.version is not None:
                self.initialized = True
            return
        if method == "notifications/roots/list_changed":
            for callback in self.host.roots_listeners:
                await callback(self)
            return
        # other notifications (e.g. tasks/status from a client) need no action

    # -- lifecycle -------------------------------------------------------------------

    async def _initialize(self, ctx: McpContext, params: InitializeRequestParams) -> Handler:
        if self.modern_only:
            raise McpError(METHOD_NOT_FOUND, "Method not found: initialize")
        if self.version is not None:
            raise McpError(INVALID_REQUEST, "Invalid request: the session is already initialized")
        host = self.host
        version = negotiate_version(params.protocol_version, host.legacy_versions)
        self.version = version
        self.client_info = params.client_info
        self.client_capabilities = params.capabilities
        ctx.protocol_version = version
        result = InitializeResult(
            protocol_version=version,
            capabilities=host.capabilities(version),
            server_info=host.info,
            instructions=host.instructions,
        )
        return constant(result)

    async def _ping(self, ctx: McpContext, params: RequestParams) -> Handler:
        return constant(_EMPTY)

    async def _discover(self, ctx: McpContext, params: RequestParams) -> Handler:
        host = self.host
        result = DiscoverResult(
            supported_versions=list(host.modern_versions),
            capabilities=host.capabilities(ctx.protocol_version),
            instructions=host.instructions,
            ttl_ms=host.registry.list_ttl_ms,
            cache_scope=host.registry.list_cache_scope,
        )
        return constant(result)

    async def _set_level(self, ctx: McpContext, params: SetLevelRequestParams) -> Handler:
        self.log_level = params.level
        return constant(_EMPTY)

    # -- tools -----------------------------------------------------------------------

    async def _list_tools(self, ctx: McpContext, params: PaginatedRequestParams) -> Handler:
        registry = self.host.registry
        items = registry.definitions("tools")
        return constant(registry.list_result(ListToolsResult, "tools", items, params.cursor))

    async def _call_tool(self, ctx: McpContext, params: _CallToolParams) -> Handler:
        host = self.host
        found = host.registry.find_tool(params.name)
        if found is None:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        entry, owner = found
        modern = is_modern(ctx.protocol_version)
        if modern and entry.header_params and self.info is not None:
            _check_param_headers(entry.header_params, params.arguments, self.info.headers)
        if modern:
            raw = params.arguments
            ctx.begin_input_round(
                host.sealer,
                lambda: binding_of("tools/call", {"name": params.name, "arguments": _json(raw)}),
                request_state=params.request_state,
                input_responses=params.input_responses,
            )
        if entry.task != "forbidden":
            task_route = host.tasks.tool_route(ctx, entry, owner, params)
            if task_route is not None:
                return _owned(ctx, task_route, owner, host)
        compiled = entry.compiled
        call = entry.call if compiled is None else compiled.call_raw
        return _owned(ctx, partial(call, ctx, params.arguments, owner.resolve), owner, host)

    # -- resources -------------------------------------------------------------------

    async def _list_resources(self, ctx: McpContext, params: PaginatedRequestParams) -> Handler:
        registry = self.host.registry
        items = registry.definitions("resources")
        result = registry.list_result(ListResourcesResult, "resources", items, params.cursor)
        return constant(result)

    async def _list_templates(self, ctx: McpContext, params: PaginatedRequestParams) -> Handler:
        registry = self.host.registry
        items = registry.definitions("templates")
        result = registry.list_result(
            ListResourceTemplatesResult, "resource_templates", items, params.cursor
        )
        return constant(result)

    async def _read_resource(self, ctx: McpContext, params: ReadResourceRequestParams) -> Handler:
        host = self.host
        uri = params.uri
        found = host.registry.find_resource(uri)
        if found is None:
            code = INVALID_PARAMS if is_modern(ctx.protocol_version) else RESOURCE_NOT_FOUND
            raise McpError(code, f"Resource not found: {uri}", {"uri": uri})
        read, owner = found
        if is_modern(ctx.protocol_version):
            ctx.begin_input_round(
                host.sealer,
                lambda: binding_of("resources/read", {"uri": uri}),
                request_state=params.request_state,
                input_responses=params.input_responses,
            )
        ttl, scope = host.read_ttl_ms, host.read_cache_scope

        async def call() -> Any:
            result = await read(ctx)
            if result.ttl_ms is None and result.cache_scope is None:
                result = msgspec.structs.replace(result, ttl_ms=ttl, cache_scope=scope)
            return result

        return _owned(ctx, call, owner, host)

    async def _subscribe(self, ctx: McpContext, params: SubscribeRequestParams) -> Handler:
        self.subscriptions.add(params.uri)
        await self.host.subscriptions.changed()
        return constant(_EMPTY)

    async def _unsubscribe(self, ctx: McpContext, params: UnsubscribeRequestParams) -> Handler:
        self.subscriptions.discard(params.uri)
        await self.host.subscriptions.changed()
        return constant(_EMPTY)

    async def _listen(self, ctx: McpContext, params: SubscriptionsListenRequestParams) -> Handler:
        hub = self.host.subscriptions
        session = self.session
        assert session is not None
        assert ctx.request_id is not None
        wanted = params.notifications
        honoured = SubscriptionFilter(
            tools_list_changed=wanted.tools_list_changed or None,
            prompts_list_changed=wanted.prompts_list_changed or None,
            resources_list_changed=wanted.resources_list_changed or None,
            resource_subscriptions=wanted.resource_subscriptions or None,
        )
        outbox = Outbox(session, hub.background.start_soon, related=ctx.request_id)
        listener = Listener(session, ctx.request_id, honoured, outbox)

        async def listen() -> SubscriptionsListenResult:
            ack = SubscriptionsAcknowledgedNotificationParams(
                notifications=honoured, meta=listener.tag
            )
            hub.listeners.add(listener)
            try:
                if honoured.resource_subscriptions:
                    await hub.changed()
                await session.notify(
                    "notifications/subscriptions/acknowledged", ack, related=listener.request_id
                )
                await listener.closed.wait()  # until the client leaves or the server ends it
            finally:
                outbox.close()
                hub.listeners.discard(listener)
                if honoured.resource_subscriptions:
                    hub.changed_soon()
            return SubscriptionsListenResult(meta=dict(listener.tag))

        return listen

    # -- prompts ---------------------------------------------------------------------

    async def _list_prompts(self, ctx: McpContext, params: PaginatedRequestParams) -> Handler:
        registry = self.host.registry
        items = registry.definitions("prompts")
        return constant(registry.list_result(ListPromptsResult, "prompts", items, params.cursor))

    async def _get_prompt(self, ctx: McpContext, params: GetPromptRequestParams) -> Handler:
        host = self.host
        found = host.registry.find_prompt(params.name)
        if found is None:
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {params.name}")
        handler, owner = found
        arguments = params.arguments or {}
        definition = handler.definition
        missing = [
            a.name for a in definition.arguments or () if a.required and a.name not in arguments
        ]
        if missing:
            raise McpError(
                INVALID_PARAMS,
                f"Missing required arguments for prompt {params.name}: {', '.join(missing)}",
            )
        if is_modern(ctx.protocol_version):
            ctx.begin_input_round(
                host.sealer,
                lambda: binding_of("prompts/get", {"name": params.name, "arguments": arguments}),
                request_state=params.request_state,
                input_responses=params.input_responses,
            )

        async def get() -> Any:
            if isinstance(handler, FunctionPrompt):
                return await handler.get(ctx, arguments, owner.resolve)
            return await handler.get(ctx, arguments)

        return _owned(ctx, get, owner, host)

    async def _complete(self, ctx: McpContext, params: CompleteRequestParams) -> Handler:
        registry = self.host.registry
        completer = registry.find_completer(params)
        context = params.context.arguments if params.context and params.context.arguments else {}
        value = params.argument.value

        async def complete() -> CompleteResult:
            values = await completer(ctx, value, context) if completer is not None else []
            total = len(values)
            return CompleteResult(
                completion=Completion(values=values[:100], total=total, has_more=total > 100)
            )

        ref = params.ref
        if (
            completer is None
            and isinstance(ref, PromptReference)
            and registry.find_prompt(ref.name) is None
        ):
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {ref.name}")
        return complete


_EMPTY = Result()


def _owned(ctx: McpContext, handler: Handler, owner: Owner, host: ConnectionHost) -> Handler:
    """A mounted server's component runs in its own server's middleware (inside the
    parent's, which ``route`` adds)."""
    return handler if owner is host.registry.owner else owner.wrap(ctx, handler)


CORE_ROUTES: dict[str, ConnectionRouter] = {
    "initialize": Connection._initialize,
    "ping": Connection._ping,
    "server/discover": Connection._discover,
    "tools/list": Connection._list_tools,
    "tools/call": Connection._call_tool,
    "resources/list": Connection._list_resources,
    "resources/templates/list": Connection._list_templates,
    "resources/read": Connection._read_resource,
    "resources/subscribe": Connection._subscribe,
    "resources/unsubscribe": Connection._unsubscribe,
    "subscriptions/listen": Connection._listen,
    "prompts/list": Connection._list_prompts,
    "prompts/get": Connection._get_prompt,
    "completion/complete": Connection._complete,
    "logging/setLevel": Connection._set_level,
}
"""The methods every server answers (built once; extensions add theirs, see
``routes_of``)."""


def routes_of(extensions: Sequence[Extension]) -> dict[str, ConnectionRouter]:
    """The route table of a server with ``extensions``: the core methods, then each
    extension's (built once per server, rebuilt when its extensions change)."""
    table = dict(CORE_ROUTES)
    for extension in extensions:
        for method, router in extension.routes().items():
            table[method] = _extension_route(router)
    return table


def _extension_route(router: Router) -> ConnectionRouter:
    async def route(connection: Connection, ctx: McpContext, params: Any) -> Handler:
        return await router(ctx, params)

    return route


def _json(raw: Any) -> Any:
    if raw is None or raw is UNSET:
        return {}
    value = msgspec.json.decode(raw)
    return {} if value is None else value


def _check_param_headers(header_params: dict[str, str], raw: Any, headers: Any) -> None:
    """``Mcp-Param-*`` headers must mirror the arguments annotated ``x-mcp-header``."""
    arguments = _json(raw)
    for param, header in header_params.items():
        sent = headers.get(f"mcp-param-{header.lower()}")
        value = arguments.get(param) if isinstance(arguments, dict) else None
        if sent is None and value is None:
            continue
        if sent is None:
            raise McpError(HEADER_MISMATCH, f"Header mismatch: Mcp-Param-{header} is missing")
        decoded = _decode_header_value(sent.strip(), header)
        expected = value if isinstance(value, str) else msgspec.json.encode(value).decode()
        if value is None or decoded != expected:
            raise McpError(
                HEADER_MISMATCH,
                f"Header mismatch: Mcp-Param-{header} does not match argument {param!r}",
            )


def _decode_header_value(value: str, header: str) -> str:
    if value.startswith("=?base64?") and value.endswith("?=") and len(value) >= 11:
        encoded = value[len("=?base64?") : -2]
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise McpError(
                HEADER_MISMATCH, f"Header mismatch: Mcp-Param-{header} is not valid base64"
            ) from None
    return value
