"""OpenTelemetry for a server: a span per MCP request it serves.

::

    from fastmcp_server.otel import OpenTelemetryMiddleware

    server.add_middleware(OpenTelemetryMiddleware())

Each request gets a ``SERVER`` span, a child of the trace its ``_meta`` carries (W3C
``traceparent``: a client that traces - ``Client(tracing=True)`` - puts it there),
named and described as ``fastmcp_core.otel`` says (method, tool, prompt or URI,
outcome, error code); what the handler traces itself is inside it. Needs the ``otel``
extra (``opentelemetry-api``); without an SDK configured the spans go nowhere, at
almost no cost. Add it first, so that its span covers the other middleware.
"""

from __future__ import annotations

from typing import Any

import attrs
from opentelemetry import trace

from fastmcp_core.otel import extract_trace, mcp_span, record_result, target_of
from fastmcp_server._middleware import Middleware, MiddlewareContext, NextHook

__all__ = ["OpenTelemetryMiddleware"]


@attrs.define
class OpenTelemetryMiddleware(Middleware):
    """A span per request (see the module docstring); ``tracer_provider``: where the
    spans go (default: OpenTelemetry's global provider)."""

    tracer_provider: Any = None
    _tracer: trace.Tracer = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._tracer = trace.get_tracer("fastmcp_server", tracer_provider=self.tracer_provider)

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        ctx = context.fastmcp_context
        method = context.method
        with mcp_span(
            self._tracer,
            method,
            target_of(method, context.message),
            kind="server",
            parent=extract_trace(ctx.meta),
            request_id=ctx.request_id,
            session_id=ctx.session_id,
            protocol_version=ctx.protocol_version,
        ) as span:
            result = await call_next(context)
            record_result(span, result)
            return result
