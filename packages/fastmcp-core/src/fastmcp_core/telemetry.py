"""OpenTelemetry: a span per MCP request on each side, and trace context in ``_meta``.

Optional: it needs the ``otel`` extra (``pip install 'fastmcp-core[otel]'``, or
``fastmcp-server[otel]``/``fastmcp-client[otel]``), which brings
``opentelemetry-api``; nothing of OpenTelemetry is imported until a ``Telemetry`` is
made. Give one to a server or a client (``Server(telemetry=Telemetry())``,
``Client(..., telemetry=Telemetry())``; ``Telemetry(tracer_provider=...)`` for a
provider other than the global one) and every session it runs is a
``TracedSession``:

* each request it serves is a ``SERVER`` span named ``"{method} {target}"``
  (``tools/call add``, ``prompts/get review``, ``resources/read``), current while the
  request is routed and handled (a handler's own spans are its children), with the
  attributes of OpenTelemetry's MCP conventions (``mcp.method.name``,
  ``jsonrpc.request.id``, ``mcp.protocol.version``, ``gen_ai.tool.name``,
  ``gen_ai.prompt.name``, ``mcp.resource.uri``) and the way it ended: one of the
  four outcomes in ``fastmcp.outcome`` (``ok``, ``error``, ``cancelled``,
  ``panicked``), the JSON-RPC code in ``rpc.response.status_code`` and
  ``error.type`` (``tool_error`` for a tool result with ``isError``), why a
  cancelled one was cancelled in ``fastmcp.cancel_reason``;
* each request it sends is a ``CLIENT`` span, and the trace context goes with it in
  ``params._meta`` (``traceparent``, ``tracestate``, ``baggage``: W3C Trace Context
  through OpenTelemetry's global propagator, the convention the MCP SDKs follow); a
  request that arrives with one is served in that trace.

Without a ``Telemetry`` the session is the plain ``Session``: tracing costs nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import msgspec
import trio

from fastmcp_core._outcome import (
    Cancelled,
    CancelReason,
    Err,
    Ok,
    answered_as_tool_error,
    failure_outcome,
)
from fastmcp_core._session import Dispatcher, Handler, Session, _with_meta
from fastmcp_protocol import UNSET, JSONRPCNotification, JSONRPCRequest, McpError

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from fastmcp_core._context import McpContext

__all__ = ["Telemetry", "TracedSession", "dispatcher_for", "session_for"]

T = TypeVar("T")

_CARRIED = ("traceparent", "tracestate", "baggage")
"""The ``_meta`` keys trace context travels in."""
_NAMED = {"tools/call": "gen_ai.tool.name", "prompts/get": "gen_ai.prompt.name"}
_ADDRESSED = ("resources/read", "resources/subscribe", "resources/unsubscribe")


class _Peek(msgspec.Struct):
    """What a span needs of a request's params (decoded only when tracing)."""

    name: str | None = None
    uri: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


_peek = msgspec.json.Decoder(_Peek).decode


@attrs.define(eq=False)
class Telemetry:
    """Where a server's or client's spans go (see the module docstring).

    ``tracer_provider``: an OpenTelemetry ``TracerProvider`` (default: the global
    one, as set by ``opentelemetry.trace.set_tracer_provider`` or the
    ``opentelemetry-instrument`` launcher). Raises ``ImportError`` naming the extra
    when OpenTelemetry is not installed.
    """

    tracer_provider: Any = None
    _tracer: Tracer = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        try:
            from opentelemetry import trace
        except ImportError:
            raise ImportError(
                "telemetry needs OpenTelemetry: pip install 'fastmcp-core[otel]'"
            ) from None
        from fastmcp_protocol import __version__

        self._tracer = trace.get_tracer(
            "fastmcp", __version__, tracer_provider=self.tracer_provider
        )

    # -- the server side -------------------------------------------------------------

    def _serving(self, request: JSONRPCRequest) -> Span:
        from opentelemetry import propagate, trace

        peek = _peek_params(request.params)
        name, attributes = _describe(request.method, peek.name, peek.uri)
        attributes["jsonrpc.request.id"] = str(request.id)
        carrier = _carrier(peek.meta)
        parent = propagate.extract(carrier) if carrier else None
        return self._tracer.start_span(
            name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
        )

    def _served(self, span: Span, ctx: McpContext, value: object) -> None:
        span.set_attribute("mcp.protocol.version", ctx.protocol_version)
        if getattr(value, "is_error", False) is True:  # a tool's own failure
            _failed(span, "ok", "tool_error", "the tool reported an error")
        else:
            span.set_attribute("fastmcp.outcome", "ok")

    def _not_served(
        self, span: Span, method: str | None, ctx: McpContext, exc: BaseException
    ) -> None:
        """``exc`` ended the request: routing it (``method`` None) or handling it.
        Mirrors the Outcome table (``response_for``): what was answered how."""
        span.set_attribute("mcp.protocol.version", ctx.protocol_version)
        if isinstance(exc, trio.Cancelled):
            reason = ctx.cancel_reason or CancelReason.SHUTDOWN
            span.set_attribute("fastmcp.cancel_reason", reason.value)
            if reason is CancelReason.BUDGET:  # answered with the timeout error
                _failed(span, "cancelled", "timeout", "the budget ran out")
            else:
                span.set_attribute("fastmcp.outcome", "cancelled")
            return
        outcome = Err(exc) if isinstance(exc, McpError) else failure_outcome(exc)
        if isinstance(outcome, Err):
            error = outcome.error
            if method is not None and answered_as_tool_error(outcome, method):
                _failed(span, "error", "tool_error", error.message)  # answered as a result
                return
            code = str(error.code)
            span.set_attribute("rpc.response.status_code", code)
            _failed(span, "error", code, error.message)
        elif isinstance(outcome, Cancelled):
            span.set_attribute("fastmcp.cancel_reason", outcome.reason.value)
            span.set_attribute("fastmcp.outcome", "cancelled")
        elif isinstance(outcome, Ok):
            self._served(span, ctx, outcome.value)
        else:  # a bug: Panicked, or not an Exception at all
            span.record_exception(exc)
            _failed(span, "panicked", type(exc).__qualname__, str(exc))

    # -- the client side -------------------------------------------------------------

    @contextmanager
    def _calling(self, method: str, params: Any) -> Iterator[Any]:
        """The span of one request sent, current while it is; yields ``params``
        with the trace context in their ``_meta``."""
        from opentelemetry import propagate, trace

        name, attributes = _describe(method, _field(params, "name"), _field(params, "uri"))
        span = self._tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes)
        with trace.use_span(
            span, end_on_exit=True, record_exception=False, set_status_on_exception=False
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            try:
                yield _carrying(params, carrier)
            except McpError as error:
                code = str(error.code)
                span.set_attribute("rpc.response.status_code", code)
                _failed(span, "error", code, error.message)
                raise
            except trio.Cancelled:
                span.set_attribute("fastmcp.outcome", "cancelled")
                raise
            except BaseException as exc:
                span.record_exception(exc)
                _failed(span, "error", type(exc).__qualname__, str(exc))
                raise
            span.set_attribute("fastmcp.outcome", "ok")


def _describe(method: str, named: object, uri: object) -> tuple[str, dict[str, str]]:
    """A request's span name and attributes, as OpenTelemetry's MCP conventions say:
    ``"{method} {target}"`` with the tool's or prompt's name as the target."""
    attributes = {"mcp.method.name": method}
    target = _NAMED.get(method)
    if target is not None and isinstance(named, str):
        attributes[target] = named
        if method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
        return f"{method} {named}", attributes
    if method in _ADDRESSED and isinstance(uri, str):
        attributes["mcp.resource.uri"] = uri
    return method, attributes


def _peek_params(params: msgspec.Raw | Any) -> _Peek:
    if params is UNSET:
        return _Peek()
    try:
        return _peek(params)
    except (msgspec.DecodeError, msgspec.ValidationError):  # the engine answers it
        return _Peek()


def _carrier(meta: Mapping[str, Any] | None) -> dict[str, str]:
    if not meta:
        return {}
    return {key: value for key in _CARRIED if isinstance(value := meta.get(key), str)}


def _carrying(params: Any, carrier: dict[str, str]) -> Any:
    """``params`` with the trace context in their ``_meta`` (as they are, when they
    have no ``_meta`` to carry it)."""
    if not carrier:
        return params
    try:
        return _with_meta(params, carrier)
    except TypeError:
        return params


def _field(params: Any, name: str) -> object:
    if isinstance(params, Mapping):
        return params.get(name)
    return getattr(params, name, None)


def _failed(span: Span, outcome: str, error_type: str, description: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("fastmcp.outcome", outcome)
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, description))


@attrs.define(eq=False)
class _TracedDispatcher:
    """A session's dispatcher, each request routed and handled inside its span."""

    inner: Dispatcher
    telemetry: Telemetry

    def __getattr__(self, name: str) -> Any:  # ``accepted`` and the like
        return getattr(self.inner, name)

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Handler:
        from opentelemetry.trace import use_span

        telemetry = self.telemetry
        span = telemetry._serving(request)
        try:
            with use_span(span, record_exception=False, set_status_on_exception=False):
                handler = await self.inner.route(ctx, request)
        except BaseException as exc:
            telemetry._not_served(span, None, ctx, exc)  # routing's errors are JSON-RPC errors
            span.end()
            raise
        return functools.partial(_handle, handler, span, request.method, ctx, telemetry)

    async def notification(self, note: JSONRPCNotification) -> None:
        await self.inner.notification(note)


async def _handle(
    handler: Callable[[], Awaitable[Any]],
    span: Span,
    method: str,
    ctx: McpContext,
    telemetry: Telemetry,
) -> Any:
    from opentelemetry.trace import use_span

    with use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            value = await handler()
        except BaseException as exc:
            telemetry._not_served(span, method, ctx, exc)
            raise
        telemetry._served(span, ctx, value)
        return value


@attrs.define(eq=False, repr=False)
class TracedSession(Session):
    """A ``Session`` whose every request, served or sent, is a span (see the module
    docstring). Servers and clients given a ``Telemetry`` make these."""

    telemetry: Telemetry = attrs.field(kw_only=True)

    def __attrs_post_init__(self) -> None:
        self.dispatcher = _TracedDispatcher(self.dispatcher, self.telemetry)
        super().__attrs_post_init__()

    async def request(self, method: str, params: Any, result_type: type[T], **options: Any) -> T:
        with self.telemetry._calling(method, params) as params:
            return await super().request(method, params, result_type, **options)


def dispatcher_for(dispatcher: Dispatcher, telemetry: Telemetry | None) -> Dispatcher:
    """``dispatcher``, each request it routes and handles in a span when there is a
    ``telemetry`` (for requests served without a session: ``Exchanges``)."""
    return dispatcher if telemetry is None else _TracedDispatcher(dispatcher, telemetry)


def session_for(telemetry: Telemetry | None) -> Callable[..., Session]:
    """What a server or client makes its sessions with: ``Session``, or a
    ``TracedSession`` reporting to ``telemetry``."""
    if telemetry is None:
        return Session
    return functools.partial(TracedSession, telemetry=telemetry)
