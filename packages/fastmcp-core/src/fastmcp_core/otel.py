"""OpenTelemetry for MCP requests, both sides: one span per request, its trace carried
in the request's ``_meta`` (W3C Trace Context: ``traceparent``, ``tracestate``).

Needs ``opentelemetry-api`` (the ``otel`` extra); nothing imports this module unless
tracing is asked for (``fastmcp_server.otel.OpenTelemetryMiddleware``,
``Client(tracing=True)``). Spans follow OpenTelemetry's semantic conventions for MCP:

* name ``"{method} {target}"`` (``tools/call add``; the method alone without a target);
* ``mcp.method.name``; the target as ``gen_ai.tool.name`` (``tools/call``),
  ``gen_ai.prompt.name`` (``prompts/get``) or ``mcp.resource.uri``
  (``resources/read`` and the subscriptions); ``jsonrpc.request.id``,
  ``mcp.session.id``, ``mcp.protocol.version`` when known;
* the outcome: a tool's error (``ToolError``, an ``isError`` result) sets
  ``error.type`` ``tool_error``; a JSON-RPC error sets ``rpc.response.status_code`` (its code) and
  ``error.type`` (the code, as a string), a cancellation ``error.type`` ``cancelled``, anything else raised
  its exception type; each of them sets the span's status to ``ERROR``.

The server's span is a child of the trace in the request's ``_meta`` (a client that
traces puts it there), the client's span is the parent of what the server does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import trio
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from fastmcp_core._errors import ToolError
from fastmcp_protocol import McpError

__all__ = [
    "TRACE_META_KEYS",
    "extract_trace",
    "inject_trace",
    "mcp_span",
    "record_result",
    "target_of",
]

TRACE_META_KEYS = ("traceparent", "tracestate")
"""The ``_meta`` keys that carry the trace (W3C Trace Context)."""

_TARGET_ATTRIBUTE = {
    "tools/call": "gen_ai.tool.name",
    "prompts/get": "gen_ai.prompt.name",
    "resources/read": "mcp.resource.uri",
    "resources/subscribe": "mcp.resource.uri",
    "resources/unsubscribe": "mcp.resource.uri",
}


def target_of(method: str, params: Any) -> str | None:
    """What a request names: the tool or prompt, the resource's URI; else ``None``."""
    if method not in _TARGET_ATTRIBUTE or params is None:
        return None
    key = "uri" if _TARGET_ATTRIBUTE[method] == "mcp.resource.uri" else "name"
    value = params.get(key) if isinstance(params, Mapping) else getattr(params, key, None)
    return value if isinstance(value, str) else None


def inject_trace(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """``meta`` with the current trace context added (``traceparent``...)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    found = dict(meta) if meta else {}
    found.update((key, value) for key, value in carrier.items() if key in TRACE_META_KEYS)
    return found


def extract_trace(meta: Mapping[str, Any] | None) -> Context:
    """The trace context a request's ``_meta`` carries (an empty one without)."""
    carrier = {
        key: value for key in TRACE_META_KEYS if meta and isinstance(value := meta.get(key), str)
    }
    return propagate.extract(carrier)


@contextmanager
def mcp_span(
    tracer: trace.Tracer,
    method: str,
    target: str | None,
    *,
    kind: Literal["client", "server"],
    parent: Context | None = None,
    request_id: Any = None,
    session_id: str | None = None,
    protocol_version: str | None = None,
) -> Iterator[Span]:
    """The span of one request, current for the block; an exception leaving the
    block is recorded as the outcome (see the module docstring) and raised on."""
    attributes: dict[str, Any] = {"mcp.method.name": method}
    if target is not None:
        attributes[_TARGET_ATTRIBUTE[method]] = target
    if request_id is not None:
        attributes["jsonrpc.request.id"] = str(request_id)
    if session_id is not None:
        attributes["mcp.session.id"] = session_id
    if protocol_version is not None:
        attributes["mcp.protocol.version"] = protocol_version
    with tracer.start_as_current_span(
        f"{method} {target}" if target else method,
        context=parent,
        kind=SpanKind.CLIENT if kind == "client" else SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            _record_failure(span, exc)
            raise


def record_result(span: Span, result: Any) -> None:
    """Mark a tool's error result (``isError``) as the span's outcome."""
    if getattr(result, "is_error", False) is True:
        span.set_attribute("error.type", "tool_error")
        span.set_status(Status(StatusCode.ERROR, "the tool reported an error"))


def _record_failure(span: Span, exc: BaseException) -> None:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    code = getattr(exc, "code", None)
    if isinstance(exc, ToolError):  # the client gets an isError result
        span.set_attribute("error.type", "tool_error")
        span.set_status(Status(StatusCode.ERROR, exc.message))
        return
    if isinstance(exc, trio.Cancelled):
        span.set_attribute("error.type", "cancelled")
        span.set_status(Status(StatusCode.ERROR, "cancelled"))
        return
    if isinstance(exc, McpError) and isinstance(code, int):
        span.set_attribute("rpc.response.status_code", code)
        span.set_attribute("error.type", str(code))
        span.set_status(Status(StatusCode.ERROR, str(getattr(exc, "message", exc))))
        return
    span.set_attribute("error.type", type(exc).__qualname__)
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, str(exc)))
