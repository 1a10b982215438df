"""Middleware: code that runs around every message the server handles, before routing.

Two spellings, one chain (the first middleware added is the outermost):

* a function (or any callable) ``async def mw(ctx, call_next)``: it gets the
  request's ``McpContext`` and calls ``await call_next()`` to run the rest of the
  chain, returning the result - or raises, or returns something else. It sees
  requests only.
* a ``Middleware`` subclass overriding the hooks it needs, each
  ``async def on_x(self, context, call_next)`` with a ``MiddlewareContext`` (the
  method, the component's name and arguments - ``context.message`` -, the
  ``McpContext`` as ``context.fastmcp_context``) and ``await call_next(context)``
  (pass a changed context - ``context.copy(message=...)`` - to change the request).
  For one message, ``on_message`` runs first, then ``on_request`` or
  ``on_notification``, then the hook of the operation: ``on_call_tool``,
  ``on_read_resource``, ``on_get_prompt``, ``on_list_tools``, ``on_list_resources``,
  ``on_list_resource_templates``, ``on_list_prompts``, ``on_initialize``.
  Overriding ``__call__`` sees every message the same way. This is PrefectHQ
  fastmcp's shape.

The chain runs before the request is routed: a middleware sees a call of a tool
that does not exist (and may answer it), and what it changes in the message is what
is routed. Errors found by routing (an unknown tool...) come out of ``call_next`` as
``ProtocolError``s and reach the client as JSON-RPC errors, as without middleware.
It runs inside the request's cancel scope and budget, so it is cancelled with the
request.

What ``call_next`` returns: the result struct of the request (``CallToolResult``,
``ReadResourceResult``, ``GetPromptResult``...), except for the four ``*/list``
methods, whose chain carries the whole list of ``Component``s the session sees (the
server pages it afterwards): filter it to hide some, and a middleware may return a
list result struct of its own instead.

A mounted server's middleware runs after the parent's, once the parent has routed
the request to it, and sees the component under its own name; it may inspect or
answer the request, not change it.

Built-ins: ``LoggingMiddleware`` (one log line per request with its duration),
``TimingMiddleware`` (collects durations per method), ``ErrorMappingMiddleware``
(turns exception types into MCP errors with a code); rate limits, response caching,
retries and error handling in ``_rate_limiting``, ``_caching`` and
``_error_handling``.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import attrs
import msgspec

from fastmcp_core import McpContext, ProtocolError, ToolError
from fastmcp_protocol import (
    UNSET,
    CallToolRequestParams,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    McpError,
)

if TYPE_CHECKING:
    from fastmcp_server._components import Component
    from fastmcp_server._registry import Offered, Owner, Registry, View
    from fastmcp_transport import HttpConnectionInfo

__all__ = [
    "AnyMiddleware",
    "CallNext",
    "ErrorMappingMiddleware",
    "LoggingMiddleware",
    "Middleware",
    "MiddlewareContext",
    "MiddlewareFunction",
    "NextHook",
    "TimingMiddleware",
    "chain_handler",
    "mounted_handler",
    "notification_chain",
]

CallNext = Callable[[], Awaitable[Any]]
"""What a middleware function calls to run the rest of the chain."""
NextHook = Callable[["MiddlewareContext"], Awaitable[Any]]
"""What a ``Middleware`` hook calls to run the rest of the chain."""


class MiddlewareFunction(Protocol):
    """``await middleware(ctx, call_next)`` around every request."""

    async def __call__(self, ctx: McpContext, call_next: CallNext, /) -> Any: ...


_NOT_YET: Any = object()

# the list methods, the kind of component each lists, and its result type and field
_LISTS: dict[str, tuple[str, type, str]] = {
    "tools/list": ("tools", ListToolsResult, "tools"),
    "resources/list": ("resources", ListResourcesResult, "resources"),
    "resources/templates/list": ("templates", ListResourceTemplatesResult, "resource_templates"),
    "prompts/list": ("prompts", ListPromptsResult, "prompts"),
}


@attrs.define(eq=False, repr=False)
class MiddlewareContext:
    """What a ``Middleware`` hook sees of one message (PrefectHQ fastmcp's shape).

    ``message`` is the request's params as MCP defines them (``CallToolRequestParams``
    with its ``name`` and ``arguments`` for ``tools/call``, ``ReadResourceRequestParams``
    with its ``uri``...), decoded when first read. ``name`` and ``arguments`` say the
    same in short; ``component`` is the component the message names, if the session
    sees one (with its tags and version).
    """

    fastmcp_context: McpContext
    """The request's context (for a notification: a context of its own)."""
    method: str
    params: Any = attrs.field(default=None)
    """The params as the server decoded them (tool arguments still raw JSON)."""
    type: Literal["request", "notification"] = "request"
    source: Literal["client", "server"] = "client"
    timestamp: datetime.datetime = attrs.field(factory=lambda: datetime.datetime.now(datetime.UTC))
    connection: Connection | None = None
    """The connection the message came on (for the package)."""
    _message: Any = attrs.field(default=_NOT_YET, alias="message")

    def __repr__(self) -> str:
        return f"<MiddlewareContext {self.type} {self.method}>"

    @property
    def message(self) -> Any:
        message = self._message
        if message is _NOT_YET:
            message = self._message = _message_of(self.method, self.params)
        return message

    @property
    def name(self) -> str | None:
        """The tool or prompt named (``tools/call``, ``prompts/get``), the URI read
        (``resources/read``); ``None`` for other messages."""
        message = self.message
        if self.method == "resources/read":
            return getattr(message, "uri", None)
        if self.method in ("tools/call", "prompts/get"):
            return getattr(message, "name", None)
        return None

    @property
    def arguments(self) -> dict[str, Any] | None:
        """The arguments of a ``tools/call`` or ``prompts/get``."""
        if self.method not in ("tools/call", "prompts/get"):
            return None
        arguments = getattr(self.message, "arguments", None)
        return arguments if isinstance(arguments, dict) else {}

    @property
    def component(self) -> Component | None:
        """The component the message names, as this session sees it (``None``: it
        names none, or none the session sees)."""
        offered = self.offered()
        return None if offered is None else offered.component

    def offered(self) -> Offered | None:
        """The component the message names as the session's view has it (for the
        package)."""
        connection, name = self.connection, self.name
        if connection is None or name is None:
            return None
        view = connection.view()
        if self.method == "tools/call":
            return view.tools.get(name)
        if self.method == "prompts/get":
            return view.prompts.get(name)
        found = view.find_resource(name)
        return None if found is None else found[0]

    def copy(self, **changes: Any) -> MiddlewareContext:
        """This context with ``changes`` (``message=...`` to change the request)."""
        if "message" not in changes:
            changes["message"] = self._message
        return attrs.evolve(self, **changes)

    def routing_params(self) -> Any:
        """The params to route: the original ones, or what a middleware made of the
        message."""
        message = self._message
        if message is _NOT_YET:
            return self.params
        if self.method == "tools/call" and isinstance(message, CallToolRequestParams):
            arguments = message.arguments
            raw = UNSET if arguments is None else msgspec.Raw(msgspec.json.encode(arguments))
            return msgspec.structs.replace(self.params, name=message.name, arguments=raw)
        return message


def _message_of(method: str, params: Any) -> Any:
    if method == "tools/call" and params is not None:
        raw = params.arguments
        arguments = {} if raw is UNSET or raw is None else msgspec.json.decode(raw)
        return CallToolRequestParams(
            name=params.name, arguments=arguments if isinstance(arguments, dict) else {}
        )
    if isinstance(params, msgspec.Raw):  # a notification's params
        return msgspec.json.decode(params) if params else {}
    return params


# -- the base class of hook-style middleware -------------------------------------------------

_OPERATIONS = {
    "tools/call": "on_call_tool",
    "resources/read": "on_read_resource",
    "prompts/get": "on_get_prompt",
    "tools/list": "on_list_tools",
    "resources/list": "on_list_resources",
    "resources/templates/list": "on_list_resource_templates",
    "prompts/list": "on_list_prompts",
    "initialize": "on_initialize",
}
_HOOKS = (
    "on_message",
    "on_request",
    "on_notification",
    *_OPERATIONS.values(),
)


class Middleware:
    """Middleware with a hook per kind of message (see the module docstring): override
    the ones you need; the others pass the message on. ``__call__`` runs the hooks
    that apply; override it to see every message the same way."""

    _plans: ClassVar[dict[tuple[str, str], tuple[str, ...]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plans = {}

    def _hooks(self, method: str, type_: str) -> tuple[str, ...]:
        """The overridden hooks for one kind of message, outermost first (found once
        per class and method)."""
        plans = type(self).__dict__.get("_plans")
        if plans is None:
            plans = type(self)._plans = {}
        found = plans.get((method, type_))
        if found is None:
            wanted = ["on_message", "on_request" if type_ == "request" else "on_notification"]
            operation = _OPERATIONS.get(method)
            if operation is not None:
                wanted.append(operation)
            found = plans[(method, type_)] = tuple(
                name
                for name in wanted
                if getattr(type(self), name) is not getattr(Middleware, name)
            )
        return found

    async def __call__(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        handler = call_next
        for name in reversed(self._hooks(context.method, context.type)):
            handler = _hook(getattr(self, name), handler)
        return await handler(context)

    async def on_message(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_notification(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_call_tool(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_read_resource(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_get_prompt(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_list_tools(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_list_resources(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_list_resource_templates(
        self, context: MiddlewareContext, call_next: NextHook
    ) -> Any:
        return await call_next(context)

    async def on_list_prompts(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    async def on_initialize(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        return await call_next(context)

    def on_list_changed(self, kinds: tuple[str, ...]) -> None:
        """Called when the server's lists change (``"tools"``, ``"resources"``,
        ``"templates"``, ``"prompts"``): for middleware that keeps answers."""


AnyMiddleware = Middleware | MiddlewareFunction
"""What ``Server(middleware=[...])`` and ``add_middleware`` take."""


def _hook(
    hook: Callable[[MiddlewareContext, NextHook], Awaitable[Any]], call_next: NextHook
) -> NextHook:
    async def call(context: MiddlewareContext) -> Any:
        return await hook(context, call_next)

    return call


# -- running the chain -------------------------------------------------------------------------


def _link(middleware: Any, call_next: NextHook) -> NextHook:
    """One link of the chain: a ``Middleware`` gets the context, a function the
    request's ``McpContext`` and a ``call_next`` without arguments."""
    if isinstance(middleware, Middleware):

        async def hooked(context: MiddlewareContext) -> Any:
            return await middleware(context, call_next)

        return hooked

    async def plain(context: MiddlewareContext) -> Any:
        async def rest() -> Any:
            return await call_next(context)

        return await middleware(context.fastmcp_context, rest)

    return plain


def _chain(chain: Sequence[Any], innermost: NextHook) -> NextHook:
    call = innermost
    for middleware in reversed(chain):
        call = _link(middleware, call)
    return call


Handler = Callable[[], Awaitable[Any]]
Router = Callable[[Any, McpContext, Any], Awaitable[Handler]]
"""A method's router, called with the ``Connection`` of the message."""


class _Host(Protocol):
    registry: Registry


class Connection(Protocol):
    """What middleware needs of the connection a message came on (``_dispatch``'s
    ``Connection`` is one)."""

    @property
    def host(self) -> _Host: ...

    @property
    def info(self) -> HttpConnectionInfo | None: ...

    def view(self) -> View: ...


def chain_handler(
    chain: Sequence[Any],
    connection: Connection,
    ctx: McpContext,
    method: str,
    params: Any,
    router: Router,
) -> Handler:
    """The handler of a request on a server with middleware: the chain, with the
    routing of the (maybe changed) request and its handler innermost."""
    listing = _LISTS.get(method)

    async def routed(context: MiddlewareContext) -> Any:
        try:
            handler = await router(connection, ctx, context.routing_params())
        except ProtocolError:
            raise
        except McpError as error:  # a routing error stays a JSON-RPC error
            raise ProtocolError(error.code, error.message, error.data) from None
        return await handler()

    async def listed(context: MiddlewareContext) -> Any:
        assert listing is not None
        kind = listing[0]
        return list(connection.view().components(kind, ctx.principal))  # type: ignore[arg-type]

    async def handle() -> Any:
        context = MiddlewareContext(ctx, method, params, connection=connection)
        result = await _chain(chain, routed if listing is None else listed)(context)
        if listing is not None and isinstance(result, list):
            _, result_type, field = listing
            items = [getattr(c, "definition", c) for c in result]
            cursor = getattr(params, "cursor", None)
            return connection.host.registry.list_result(result_type, field, items, cursor)
        return result

    return handle


def mounted_handler(
    hops: Sequence[tuple[Owner, Any]],
    connection: Connection,
    ctx: McpContext,
    method: str,
    handler: Handler,
) -> Handler:
    """``handler`` inside the middleware of the mounted servers it comes through
    (``hops``: each one's owner and the params as it names the component, outermost
    first)."""
    for owner, params in reversed(hops):
        if owner.middleware:
            handler = _answered_by(owner.middleware, connection, ctx, method, params, handler)
    return handler


def _answered_by(
    chain: Sequence[Any],
    connection: Connection,
    ctx: McpContext,
    method: str,
    params: Any,
    handler: Handler,
) -> Handler:
    async def innermost(context: MiddlewareContext) -> Any:
        return await handler()

    async def handle() -> Any:
        context = MiddlewareContext(ctx, method, params, connection=connection)
        return await _chain(chain, innermost)(context)

    return handle


async def notification_chain(
    chain: Sequence[Any],
    connection: Connection,
    ctx: McpContext,
    params: Any,
    handle: Callable[[], Awaitable[None]],
) -> None:
    """A notification through the ``Middleware`` of ``chain`` (functions see requests
    only)."""
    hooked = [m for m in chain if isinstance(m, Middleware)]
    if not hooked:
        await handle()
        return

    async def innermost(context: MiddlewareContext) -> Any:
        await handle()

    context = MiddlewareContext(ctx, ctx.method, params, type="notification", connection=connection)
    await _chain(hooked, innermost)(context)


# -- built-ins ---------------------------------------------------------------------------------


@attrs.define
class LoggingMiddleware(Middleware):
    """Logs every request: method, id, outcome and duration (on the
    ``fastmcp.requests`` logger); with ``include_payloads``, the params too (cut at
    ``max_payload_length`` characters)."""

    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("fastmcp.requests"))
    level: int = logging.INFO
    include_payloads: bool = False
    max_payload_length: int = 500

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        if not self.logger.isEnabledFor(self.level):
            return await call_next(context)
        start = time.perf_counter()
        outcome = "ok"
        try:
            result = await call_next(context)
        except McpError as error:
            outcome = f"error {error.code}"
            raise
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        else:
            if getattr(result, "is_error", False):
                outcome = "tool error"
            return result
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            payload = ""
            if self.include_payloads:
                shown = msgspec.json.encode(msgspec.to_builtins(context.message)).decode()
                payload = f" {shown[: self.max_payload_length]}"
            self.logger.log(
                self.level,
                "%s id=%r %s in %.1f ms%s",
                context.method,
                context.fastmcp_context.request_id,
                outcome,
                elapsed,
                payload,
            )


@attrs.define
class TimingMiddleware(Middleware):
    """Collects the duration (seconds) of every request by method, in ``timings``."""

    timings: dict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        start = time.perf_counter()
        try:
            return await call_next(context)
        finally:
            self.timings[context.method].append(time.perf_counter() - start)


@attrs.define
class ErrorMappingMiddleware(Middleware):
    """Turns exceptions of the given types into MCP errors with a code.

    In a tool the error still becomes an ``isError`` result whose text is the
    exception's message (not masked: you chose to expose it). ``{ValueError: -32602}``
    reports bad input in prompts and resources as invalid params.
    """

    mapping: Mapping[type[BaseException], int]

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        try:
            return await call_next(context)
        except McpError:
            raise
        except Exception as exc:
            for type_, code in self.mapping.items():
                if isinstance(exc, type_):
                    if context.method == "tools/call":
                        raise ToolError(str(exc)) from exc
                    raise McpError(code, str(exc)) from exc
            raise
