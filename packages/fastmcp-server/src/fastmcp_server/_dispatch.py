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

Then the method's own router checks what only it can (the tool exists in what this
connection's session sees - its ``View`` -, the resource matches, the client declared
a needed capability) - errors there are JSON-RPC errors - and returns the handler.
A server with middleware routes inside it instead: ``route`` returns the chain, which
routes the request (as the middleware left it) innermost
(``fastmcp_server._middleware``); a component of a mounted server runs inside that
server's middleware too. Everything a handler returns is a result struct; the engine
shapes it for the request's version.

The connection is also what a handler reaches of its server through its context
(``McpContext.host``): the session's own visibility rules, its state, and the
server's components as the session sees them.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs
import msgspec

from fastmcp_core import Exchange, McpContext, RequestStateSealer, Session, binding_of
from fastmcp_protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    METHODS,
    RESOURCE_NOT_FOUND,
    UNSET,
    CallToolResult,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    DiscoverResult,
    GetPromptRequestParams,
    GetPromptResult,
    Implementation,
    InitializeRequestParams,
    InitializeResult,
    JSONRPCNotification,
    JSONRPCRequest,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    McpError,
    PaginatedRequestParams,
    Prompt,
    PromptReference,
    ReadResourceRequestParams,
    ReadResourceResult,
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
from fastmcp_server._components import Rule
from fastmcp_server._handlers import FunctionPrompt
from fastmcp_server._outbox import Outbox
from fastmcp_server._registry import (
    Offered,
    Owner,
    Registry,
    ToolEntry,
    View,
    _unprefix_uri,
    reader_of,
)
from fastmcp_server._results import constant
from fastmcp_server._state import Accepts, ConnectionState, Era
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


serving: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
    "fastmcp_server_connection", default=None
)
"""The connection of the request being handled (``Server.current_connection``): set
for a connection's tasks by whoever serves it, and by ``Connection.route`` and
``notification`` for a message served in a task that did not inherit it (a legacy
session's POST, served in its own task)."""


@attrs.define(eq=False, repr=False)
class Connection:
    """What the server knows about one connection (see the module docstring)."""

    host: ConnectionHost
    info: HttpConnectionInfo | None = None
    session: Session | Exchange | None = None
    subscriptions: set[str] = attrs.field(factory=set)
    outbox: Outbox | None = None
    """Where broadcasts to this connection wait (set while it is served)."""
    state: ConnectionState = attrs.field(init=False)
    """The eras it takes and the session era's handshake (``fastmcp_server._state``)."""
    rules: list[Rule] = attrs.field(init=False, factory=list)
    """This session's own visibility rules (``McpContext.enable_components``)."""
    session_state: dict[str, Any] = attrs.field(init=False, factory=dict)
    """``McpContext.session_state`` of this connection's requests."""
    _view: View | None = attrs.field(init=False, default=None)
    _view_generation: int = attrs.field(init=False, default=-1)
    _params_types: dict[str, Any] = attrs.field(init=False, factory=dict)
    _legacy_checked: set[str] = attrs.field(init=False, factory=set)

    def __attrs_post_init__(self) -> None:
        accepts = Accepts.BOTH
        if self.info is not None:
            accepts = Accepts.MODERN_ONLY if self.info.kind == "modern" else Accepts.SESSION_ONLY
        self.state = ConnectionState(accepts)

    @property
    def version(self) -> str | None:
        """The version ``initialize`` negotiated (session era; ``None`` before)."""
        return self.state.version

    @property
    def initialized(self) -> bool:
        """Whether the client said it is initialized (session era)."""
        return self.state.ready

    @property
    def client_info(self) -> Implementation | None:
        """What the client said it is at ``initialize`` (session era)."""
        return self.state.client_info

    def view(self) -> View:
        """What this connection's session sees: the server's view, or - with rules of
        its own - a view of its own (computed again after each change)."""
        registry = self.host.registry
        if not self.rules:
            return registry.view()
        view = self._view
        if view is None or self._view_generation != registry.generation:
            view = self._view = registry.view_with(self.rules)
            self._view_generation = registry.generation
        return view

    # -- the Dispatcher protocol -----------------------------------------------------

    def accepted(self, request: JSONRPCRequest) -> None:
        """In arrival order: requests read after ``initialize`` wait for it (a client
        may send them before it has the answer, and routing is concurrent)."""
        self.state.read(request.id, request.method)

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Handler:
        if serving.get() is not self:
            serving.set(self)
        state = self.state
        if not state.settling:  # the common case: no handshake to wait for or end
            return await self._route(ctx, request)
        await state.settled(request.id)
        handler: Handler | None = None
        try:
            handler = await self._route(ctx, request)
            return handler
        finally:  # an initialize that was not answered was refused: the others go on
            if handler is None or not isinstance(handler, _Settling):
                state.routed(request.id)

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
        state = self.state
        if state.era_of(meta) is Era.MODERN:
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
            ctx.protocol_version = state.version or host.legacy_versions[0]
            ctx.client_capabilities = state.client_capabilities
            ctx.client_info = state.client_info
            ctx.log_level = state.log_level
            if meta:
                token = meta.get("progressToken")
                if isinstance(token, str | int) and not isinstance(token, bool):
                    ctx.progress_token = token
        if meta:
            ctx.meta = meta
        owner = host.registry.owner
        ctx.lifespan = owner.lifespan_state
        ctx.dependencies = owner.dependencies
        ctx.host = self
        ctx.session_state = self.session_state
        if self.info is not None:
            ctx.principal = self.info.principal
            ctx.session_id = self.info.session_id
            ctx.http = self.info.request_info(ctx.request_id)
        if not owner.middleware:
            return await router(self, ctx, params)
        from fastmcp_server._middleware import chain_handler  # loaded by the first middleware

        handler = chain_handler(owner.middleware, self, ctx, method, params, router)
        if method == "initialize":  # routed inside the chain: settles when it ends
            return _Settling(handler, self.state, request.id)
        return handler

    def _check_before_params(self, raw: Any, method: str | None) -> None:
        """What is checked before a request's params (only when they or the method are
        wrong, so the answer names the first problem): a modern request's own fields
        (-32602, -32022), a legacy request on a session not yet initialized (-32600)."""
        meta = decode_params(raw, _MetaOnly).meta
        if self.state.era_of(meta) is Era.MODERN:
            version = check_request_meta(meta, self.host.modern_versions).protocol_version
            if method is not None and version is not None:
                self._check_modern_method(method, version)
        elif method is not None:
            self.state.check_session_request(method)

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
        self.state.check_session_request(method)
        host = self.host
        version = self.state.version or host.legacy_versions[0]
        spec = METHODS.get(method)
        if (
            method != "initialize"
            and (spec is None or not spec.exists_in(version))
            and not any(e.exists(method, version) for e in host.extensions())
        ):
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method} (in {version})")
        if self.state.version is not None:
            self._legacy_checked.add(method)

    def _params_type(self, method: str) -> Any:
        spec = METHODS.get(method)
        params_type = _PARAMS.get(method) or (spec.params if spec is not None else None)
        if params_type is None:
            found = (e.params_type(method) for e in self.host.extensions())
            params_type = next((t for t in found if t is not None), RequestParams)
        return params_type

    async def notification(self, note: JSONRPCNotification) -> None:
        if serving.get() is not self:
            serving.set(self)
        middleware = self.host.registry.owner.middleware
        if not middleware:
            await self._notification(note)
            return
        from fastmcp_server._middleware import notification_chain

        ctx = McpContext(
            request_id=None,
            method=note.method,
            peer=self.session,
            host=self,
            session_state=self.session_state,
        )
        await notification_chain(
            middleware, self, ctx, note.params, partial(self._notification, note)
        )

    async def _notification(self, note: JSONRPCNotification) -> None:
        method = note.method
        if method == "notifications/initialized":
            await self.state.initialized()
            return
        if method == "notifications/roots/list_changed":
            for callback in self.host.roots_listeners:
                await callback(self)
            return
        # other notifications (e.g. tasks/status from a client) need no action

    def _through_mounts(
        self, ctx: McpContext, offered: Offered, method: str, params: Any, handler: Handler
    ) -> Handler:
        """A mounted server's component runs in the middleware of each server it comes
        through (inside the parent's, which ``route`` adds)."""
        if not any(hop.owner.middleware for hop in offered.hops):
            return handler
        from fastmcp_server._middleware import mounted_handler

        return mounted_handler(_as_seen_by(method, params, offered), self, ctx, method, handler)

    # -- what a handler reaches through its context (``fastmcp_core.ContextHost``) -----

    async def change_visibility(
        self, ctx: McpContext, enable: bool | None, criteria: Mapping[str, Any]
    ) -> None:
        if enable is None:
            kinds = {kind for rule in self.rules for kind in rule.kinds}
            self.rules.clear()
        else:
            rule = Rule.of(enable, **criteria)
            self.rules.append(rule)
            kinds = set(rule.kinds)
        self._view = None
        subscriptions = self.host.subscriptions
        for kind in sorted({"template": "resources"}.get(k, k + "s") for k in kinds):
            subscriptions.list_changed(kind, only=self)

    async def read_resource(self, ctx: McpContext, uri: str) -> ReadResourceResult:
        found = self.view().find_resource(uri)
        if found is None:
            raise McpError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}", {"uri": uri})
        return await reader_of(found[0], uri, found[1])(ctx)

    async def get_prompt(
        self, ctx: McpContext, name: str, arguments: Mapping[str, Any] | None
    ) -> GetPromptResult:
        offered = self.view().prompts.get(name)
        if offered is None:
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {name}")
        given = dict(arguments or {})
        _check_prompt_arguments(offered.handler.definition, name, given)
        handler = offered.handler
        if isinstance(handler, FunctionPrompt):
            return await handler.get(ctx, given, offered.owner.resolve)
        result: GetPromptResult = await handler.get(ctx, given)
        return result

    async def call_tool(
        self, ctx: McpContext, name: str, arguments: Mapping[str, Any] | None
    ) -> CallToolResult:
        offered = self.view().tools.get(name)
        if offered is None:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name}")
        raw = msgspec.json.encode(dict(arguments or {}))
        entry: ToolEntry = offered.handler
        return await entry.call(ctx, raw, offered.owner.resolve)

    def list_components(self, ctx: McpContext, kind: str) -> list[Any]:
        return list(self.view().definitions(kind))  # type: ignore[arg-type]

    # -- lifecycle -------------------------------------------------------------------

    async def _initialize(self, ctx: McpContext, params: InitializeRequestParams) -> Handler:
        state = self.state
        if state.accepts is Accepts.MODERN_ONLY:
            raise McpError(METHOD_NOT_FOUND, "Method not found: initialize")
        assert ctx.request_id is not None
        state.check_initialize(ctx.request_id)
        host = self.host
        version = negotiate_version(params.protocol_version, host.legacy_versions)
        state.negotiated(version, params.client_info, params.capabilities)
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
        self.state.log_level = params.level
        return constant(_EMPTY)

    # -- tools -----------------------------------------------------------------------

    async def _list_tools(self, ctx: McpContext, params: PaginatedRequestParams) -> Handler:
        registry = self.host.registry
        items = self.view().definitions("tools", ctx.principal)
        return constant(registry.list_result(ListToolsResult, "tools", items, params.cursor))

    async def _call_tool(self, ctx: McpContext, params: _CallToolParams) -> Handler:
        host = self.host
        offered = self.view().tools.get(params.name)
        if offered is None:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        entry, owner = offered.handler, offered.owner
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
                return self._through_mounts(ctx, offered, "tools/call", params, task_route)
        compiled = entry.compiled
        call = entry.call if compiled is None else compiled.call_raw
        handler = partial(call, ctx, params.arguments, owner.resolve)
        if offered.hops:
            return self._through_mounts(ctx, offered, "tools/call", params, handler)
        return handler

    # -- resources -------------------------------------------------------------------

    async def _list_resources(self, ctx: McpContext, params: PaginatedRequestParams) -> Handler:
        registry = self.host.registry
        items = self.view().definitions("resources", ctx.principal)
        result = registry.list_result(ListResourcesResult, "resources", items, params.cursor)
        return constant(result)

    async def _list_templates(self, ctx: McpContext, params: PaginatedRequestParams) -> Handler:
        registry = self.host.registry
        items = self.view().definitions("templates", ctx.principal)
        result = registry.list_result(
            ListResourceTemplatesResult, "resource_templates", items, params.cursor
        )
        return constant(result)

    async def _read_resource(self, ctx: McpContext, params: ReadResourceRequestParams) -> Handler:
        host = self.host
        uri = params.uri
        found = self.view().find_resource(uri)
        if found is None:
            code = INVALID_PARAMS if is_modern(ctx.protocol_version) else RESOURCE_NOT_FOUND
            raise McpError(code, f"Resource not found: {uri}", {"uri": uri})
        offered = found[0]
        read = reader_of(offered, uri, found[1])
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

        return self._through_mounts(ctx, offered, "resources/read", params, call)

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
        items = self.view().definitions("prompts", ctx.principal)
        return constant(registry.list_result(ListPromptsResult, "prompts", items, params.cursor))

    async def _get_prompt(self, ctx: McpContext, params: GetPromptRequestParams) -> Handler:
        host = self.host
        offered = self.view().prompts.get(params.name)
        if offered is None:
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {params.name}")
        handler, owner = offered.handler, offered.owner
        arguments = params.arguments or {}
        _check_prompt_arguments(handler.definition, params.name, arguments)
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

        return self._through_mounts(ctx, offered, "prompts/get", params, get)

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
        if isinstance(ref, PromptReference) and ref.name not in self.view().prompts:
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {ref.name}")  # or not offered
        return complete


_EMPTY = Result()


@attrs.frozen
class _Settling:
    """The handler of an ``initialize`` routed inside the middleware chain: the
    handshake settles when it ends (not when ``route`` returns)."""

    handler: Handler
    state: ConnectionState
    request_id: Any

    async def __call__(self) -> Any:
        try:
            return await self.handler()
        finally:
            self.state.routed(self.request_id)


def _as_seen_by(method: str, params: Any, offered: Offered) -> list[tuple[Owner, Any]]:
    """For each mounted server ``offered`` comes through (outermost first): its owner
    and ``params`` naming the component as that server does."""
    found: list[tuple[Owner, Any]] = []
    uri = getattr(params, "uri", None)
    for hop, prefix in zip(offered.hops, offered.prefixes, strict=True):
        if method == "resources/read" and uri is not None:
            uri = _unprefix_uri(uri, prefix) or uri
            found.append((hop.owner, msgspec.structs.replace(params, uri=uri)))
        else:
            found.append((hop.owner, msgspec.structs.replace(params, name=hop.name)))
    return found


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


def _check_prompt_arguments(definition: Prompt, name: str, arguments: Mapping[str, Any]) -> None:
    missing = [a.name for a in definition.arguments or () if a.required and a.name not in arguments]
    if missing:
        raise McpError(
            INVALID_PARAMS, f"Missing required arguments for prompt {name}: {', '.join(missing)}"
        )


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
