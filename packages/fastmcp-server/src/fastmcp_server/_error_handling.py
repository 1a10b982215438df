"""Error handling middleware: log and count errors, turn exceptions into MCP errors,
retry transient failures.

``ErrorHandlingMiddleware`` sees every request's exception: it logs it (with the
traceback if asked), counts it by type and method (``error_counts``), calls
``error_callback(error, context)`` and, with ``transform_errors=True``, turns an
exception that is not an MCP error into one the client can read (in a tool: an
``isError`` result with the message; elsewhere a JSON-RPC error whose code says what
went wrong: -32602 for ``ValueError``/``TypeError``, -32002 for
``FileNotFoundError``/``KeyError``, -32000 for ``PermissionError`` and
``TimeoutError``, -32603 for anything else).

``RetryMiddleware`` runs the rest of the chain again when it raises one of
``retry_exceptions``, waiting ``base_delay`` seconds, then that times
``backoff_multiplier`` each time (at most ``max_delay``), up to ``max_retries``
retries; then the last exception goes on. The wait is on trio's clock and is
cancelled with the request.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import trio

from fastmcp_core import ProtocolError, ToolError
from fastmcp_protocol import INTERNAL_ERROR, INVALID_PARAMS, RESOURCE_NOT_FOUND, McpError
from fastmcp_server._middleware import Middleware, MiddlewareContext, NextHook

__all__ = ["ErrorHandlingMiddleware", "RetryMiddleware"]

_CODES: tuple[tuple[tuple[type[BaseException], ...], int], ...] = (
    ((ValueError, TypeError), INVALID_PARAMS),
    ((FileNotFoundError, KeyError), RESOURCE_NOT_FOUND),
    ((PermissionError, TimeoutError), -32000),
)


@attrs.define(eq=False)
class ErrorHandlingMiddleware(Middleware):
    """Logs, counts and (``transform_errors``) translates errors (see the module
    docstring)."""

    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("fastmcp.errors"))
    include_traceback: bool = False
    error_callback: Callable[[Exception, MiddlewareContext], None] | None = None
    transform_errors: bool = False
    error_counts: Counter[str] = attrs.field(factory=Counter)
    """How many errors of each ``"<type>:<method>"``."""

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        try:
            return await call_next(context)
        except Exception as error:
            self.error_counts[f"{type(error).__name__}:{context.method}"] += 1
            self.logger.log(  # the traceback only when asked for
                logging.ERROR,
                "Error in %s: %s: %s",
                context.method,
                type(error).__name__,
                error,
                exc_info=error if self.include_traceback else None,
            )
            if self.error_callback is not None:
                try:
                    self.error_callback(error, context)
                except Exception:
                    self.logger.exception("the error callback failed")
            if not self.transform_errors or isinstance(error, McpError):
                raise
            raise _translated(error, context.method) from error

    def get_error_stats(self) -> dict[str, int]:
        return dict(self.error_counts)


def _translated(error: Exception, method: str) -> McpError:
    message = f"{type(error).__name__}: {error}"
    if method == "tools/call":
        return ToolError(message)
    for types, code in _CODES:
        if isinstance(error, types):
            return ProtocolError(code, message)
    return ProtocolError(INTERNAL_ERROR, message)


@attrs.define(eq=False)
class RetryMiddleware(Middleware):
    """Retries what fails with one of ``retry_exceptions`` (see the module docstring)."""

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 60.0
    backoff_multiplier: float = 2.0
    retry_exceptions: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("fastmcp.errors"))

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        delay = self.base_delay
        for attempt in range(self.max_retries + 1):
            try:
                return await call_next(context)
            except self.retry_exceptions as error:
                if attempt == self.max_retries:
                    raise
                self.logger.warning(
                    "%s failed (%s: %s); retry %d of %d in %g s",
                    context.method,
                    type(error).__name__,
                    error,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                await trio.sleep(delay)
                delay = min(self.max_delay, delay * self.backoff_multiplier)
        raise AssertionError("unreachable")
