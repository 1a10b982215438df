"""``Client(tracing=True)``: a ``CLIENT`` span per request, its trace in the request's
``_meta`` (see ``fastmcp_core.otel``). Imported only when tracing is on."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from opentelemetry import trace

from fastmcp_core import Session
from fastmcp_core.otel import inject_trace, mcp_span, record_result, target_of

__all__ = ["RequestTracer"]

T = TypeVar("T")


class _IsError(msgspec.Struct):
    is_error: bool = msgspec.field(default=False, name="isError")


_is_error = msgspec.json.Decoder(_IsError)


class RequestTracer:
    """Sends a client's requests in spans (``request``, as ``Session.request``)."""

    def __init__(self, tracer_provider: Any = None) -> None:
        self._tracer = trace.get_tracer("fastmcp_client", tracer_provider=tracer_provider)

    async def request(
        self,
        session: Session,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        protocol_version: str | None,
        **options: Any,
    ) -> T:
        with mcp_span(
            self._tracer,
            method,
            target_of(method, params),
            kind="client",
            protocol_version=protocol_version,
        ) as span:
            result = await session.request(method, _traced(params), result_type, **options)
            if isinstance(result, msgspec.Raw) and method == "tools/call":
                record_result(span, _is_error.decode(result))
            else:
                record_result(span, result)
            return result


def _traced(params: Any) -> Any:
    """``params`` with the current trace in its ``_meta``."""
    if params is None:
        return {"_meta": inject_trace(None)}
    if isinstance(params, dict):
        return {**params, "_meta": inject_trace(params.get("_meta"))}
    if isinstance(params, msgspec.Struct) and hasattr(params, "meta"):
        return msgspec.structs.replace(params, meta=inject_trace(params.meta))
    return params
