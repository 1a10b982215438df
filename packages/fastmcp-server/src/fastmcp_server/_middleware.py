"""Middleware: code that runs around every request the server answers.

A middleware is ``async def mw(ctx, call_next)``: it sees the request's context
(``ctx.method``, ``ctx.request_id``, ``ctx.meta``...), calls ``await call_next()`` to
run the rest of the chain (and the handler), and returns the result - or raises, or
returns something else. It runs after routing, inside the request's cancel scope and
budget, so it is cancelled with the request.

Built-ins: ``LoggingMiddleware`` (one log line per request with its duration),
``TimingMiddleware`` (collects durations per method), ``ErrorMappingMiddleware``
(turns exception types into MCP errors with a code).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from fastmcp_core import McpContext, ToolError
from fastmcp_protocol import McpError

__all__ = [
    "CallNext",
    "ErrorMappingMiddleware",
    "LoggingMiddleware",
    "Middleware",
    "TimingMiddleware",
    "wrap",
]

CallNext = Callable[[], Awaitable[Any]]


class Middleware(Protocol):
    """``await middleware(ctx, call_next)`` around every request."""

    async def __call__(self, ctx: McpContext, call_next: CallNext, /) -> Any: ...


def wrap(chain: Sequence[Middleware], ctx: McpContext, handler: CallNext) -> CallNext:
    """``handler`` wrapped in ``chain`` (the first middleware is the outermost)."""
    call = handler
    for middleware in reversed(chain):
        call = _bind(middleware, ctx, call)
    return call


def _bind(middleware: Middleware, ctx: McpContext, call_next: CallNext) -> CallNext:
    async def call() -> Any:
        return await middleware(ctx, call_next)

    return call


@attrs.define
class LoggingMiddleware:
    """Logs every request: method, id, outcome and duration (on stderr by default)."""

    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("fastmcp.requests"))
    level: int = logging.INFO

    async def __call__(self, ctx: McpContext, call_next: CallNext) -> Any:
        if not self.logger.isEnabledFor(self.level):
            return await call_next()
        start = time.perf_counter()
        outcome = "ok"
        try:
            result = await call_next()
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
            self.logger.log(
                self.level, "%s id=%r %s in %.1f ms", ctx.method, ctx.request_id, outcome, elapsed
            )


@attrs.define
class TimingMiddleware:
    """Collects the duration (seconds) of every request by method, in ``timings``."""

    timings: dict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))

    async def __call__(self, ctx: McpContext, call_next: CallNext) -> Any:
        start = time.perf_counter()
        try:
            return await call_next()
        finally:
            self.timings[ctx.method].append(time.perf_counter() - start)


@attrs.define
class ErrorMappingMiddleware:
    """Turns exceptions of the given types into MCP errors with a code.

    In a tool the error still becomes an ``isError`` result whose text is the
    exception's message (not masked: you chose to expose it). ``{ValueError: -32602}``
    reports bad input in prompts and resources as invalid params.
    """

    mapping: Mapping[type[BaseException], int]

    async def __call__(self, ctx: McpContext, call_next: CallNext) -> Any:
        try:
            return await call_next()
        except McpError:
            raise
        except Exception as exc:
            for type_, code in self.mapping.items():
                if isinstance(exc, type_):
                    if ctx.method == "tools/call":
                        raise ToolError(str(exc)) from exc
                    raise McpError(code, str(exc)) from exc
            raise
