"""Outcome: how a handler run ended - exactly one of four - and how that goes on the wire.

``Ok(value)``, ``Err(error)``, ``Cancelled(reason)``, ``Panicked(exception)``.
``capture`` runs a handler and returns its outcome; ``response_for`` is THE table that
turns an outcome into the bytes the peer receives (or nothing; ``answer_for`` tells the
JSON-RPC error those bytes carry as well):

===================  ===============================  ===============================
outcome              ``tools/call``                   any other request
===================  ===============================  ===============================
Ok(result)           the result                       the result
Err(McpError)        result, ``isError: true``,        JSON-RPC error with the error's
                     the error's message (a           code, message and data
                     ``ProtocolError``: as at right)
Cancelled(CLIENT)    no response (the spec says the   no response
                     receiver should not answer)
Cancelled(BUDGET)    JSON-RPC error -32001            JSON-RPC error -32001
                     ``Request timed out``            ``Request timed out``
Cancelled(SHUTDOWN)  JSON-RPC error -32603            JSON-RPC error -32603
Panicked(exception)  result, ``isError: true``, the   JSON-RPC error -32603
                     message masked unless the        ``Internal error`` (same rule)
                     server unmasks error details;
                     the traceback is logged
===================  ===============================  ===============================

Errors raised while *routing* a request (unknown tool, bad params of the request
itself, a missing capability) are not outcomes of a handler: they are always JSON-RPC
errors, see ``Session``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeAlias, TypeVar

import attrs
import trio

from fastmcp_core._errors import REQUEST_TIMEOUT, ProtocolError
from fastmcp_protocol import (
    INTERNAL_ERROR,
    CallToolResult,
    Error,
    Implementation,
    McpError,
    RequestId,
    TextContent,
    encode_error,
    encode_result,
    prepare_result,
)

__all__ = [
    "CancelReason",
    "Cancelled",
    "Err",
    "Ok",
    "Outcome",
    "Panicked",
    "answer_for",
    "capture",
    "outcome_of",
    "response_for",
]

T = TypeVar("T")

logger = logging.getLogger("fastmcp")


class CancelReason(enum.Enum):
    """Why a handler run was cancelled."""

    CLIENT = "client"
    """The requester cancelled it (``notifications/cancelled``, a closed HTTP stream)."""
    BUDGET = "budget"
    """Its budget ran out: the deadline passed, or the poll or cost quota was spent."""
    SHUTDOWN = "shutdown"
    """The session or server is going away."""


@attrs.frozen
class Ok(Generic[T]):
    """The handler returned ``value``."""

    value: T


@attrs.frozen
class Err:
    """The handler raised an ``McpError``: an expected failure with a code."""

    error: McpError


@attrs.frozen
class Cancelled:
    """The handler was cancelled; ``message`` is the requester's reason, if given."""

    reason: CancelReason
    message: str | None = None


@attrs.frozen
class Panicked:
    """The handler raised something unexpected (a bug, not a protocol error)."""

    exception: BaseException


Outcome: TypeAlias = Ok[T] | Err | Cancelled | Panicked
"""Exactly one of the four ways a handler run ends."""


class InputRequired(Exception):
    """Raised inside a handler to end this round with an input-required result.

    The runtime raises it from ``McpContext.ask`` (2026-07-28 era); ``capture``
    turns it into ``Ok(result)``.
    """

    def __init__(self, result: Any) -> None:
        super().__init__("input required")
        self.result = result


async def capture(fn: Callable[[], Awaitable[T]]) -> Outcome[T]:
    """Run ``fn`` and return how it ended: ``Ok``, ``Err`` or ``Panicked``.

    ``trio.Cancelled`` is not captured: it propagates to the cancel scope that caused
    it (the runtime's request scope turns it into ``Cancelled``), as structured
    concurrency requires. An exception group holding a single exception (a failed
    child task) counts as that exception.
    """
    try:
        return Ok(await fn())
    except trio.Cancelled:
        raise
    except BaseException as exc:
        outcome = failure_outcome(exc)
        if outcome is None:
            raise
        return outcome


def failure_outcome(exc: BaseException) -> Outcome[Any] | None:
    """The outcome of a handler that raised ``exc`` (``capture``'s rule); ``None`` when
    ``exc`` must propagate instead: a cancellation (alone in a group too) or a
    ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``...)."""
    leaf = _single_leaf(exc) if isinstance(exc, BaseExceptionGroup) else exc
    if isinstance(leaf, InputRequired):
        return Ok(leaf.result)
    if isinstance(leaf, McpError):
        return Err(leaf)
    if isinstance(leaf, trio.Cancelled) or not isinstance(leaf, Exception):
        return None
    return Panicked(leaf)


def outcome_of(exc: BaseException) -> Outcome[Any]:
    """The outcome of a run that raised ``exc`` (not a cancellation)."""
    leaf = _single_leaf(exc)
    if isinstance(leaf, InputRequired):
        return Ok(leaf.result)
    if isinstance(leaf, McpError):
        return Err(leaf)
    return Panicked(leaf if isinstance(leaf, Exception) else exc)


def _single_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


_MASKED = "Internal error"


def answered_as_tool_error(outcome: Outcome[Any], method: str) -> bool:
    """Whether ``answer_for`` answers ``outcome`` of a ``method`` request with a tool
    result whose ``isError`` is set (a tool's own failure) instead of a JSON-RPC
    error: a ``tools/call`` that raised an ``McpError`` other than a protocol error,
    or something unexpected."""
    if method != "tools/call":
        return False
    return isinstance(outcome, Panicked) or (
        isinstance(outcome, Err) and not isinstance(outcome.error, ProtocolError)
    )


def response_for(
    outcome: Outcome[Any],
    *,
    request_id: RequestId,
    method: str,
    version: str,
    server_info: Implementation | None = None,
    mask_error_details: bool = True,
    cancel_message: str | None = None,
) -> bytes | None:
    """The frame that answers a request whose handler ended with ``outcome``.

    ``None`` when nothing must be sent (cancelled by the requester). ``version`` is
    the protocol version of the request (results are shaped for it); ``server_info``
    goes into modern results' ``_meta``.
    """
    return answer_for(
        outcome,
        request_id=request_id,
        method=method,
        version=version,
        server_info=server_info,
        mask_error_details=mask_error_details,
        cancel_message=cancel_message,
    )[0]


def answer_for(
    outcome: Outcome[Any],
    *,
    request_id: RequestId,
    method: str,
    version: str,
    server_info: Implementation | None = None,
    mask_error_details: bool = True,
    cancel_message: str | None = None,
) -> tuple[bytes | None, Error | None]:
    """``response_for``, with the JSON-RPC error the frame carries (``None`` for a
    result, and when there is no frame): what a transport needs to know of an answer
    (an HTTP status), told instead of read back from the bytes."""
    is_tool = method == "tools/call"
    if isinstance(outcome, Ok):
        result = prepare_result(outcome.value, version, server_info=server_info)
        return encode_result(request_id, result), None
    if isinstance(outcome, Err):
        if answered_as_tool_error(outcome, method):
            return _tool_error(request_id, outcome.error.message, version, server_info), None
        return error_answer(request_id, outcome.error.to_error())
    if isinstance(outcome, Cancelled):
        if outcome.reason is CancelReason.CLIENT:
            return None, None
        if outcome.reason is CancelReason.BUDGET:
            timeout = Error(code=REQUEST_TIMEOUT, message=cancel_message or "Request timed out")
            return error_answer(request_id, timeout)
        return error_answer(request_id, SHUTTING_DOWN)
    exc = outcome.exception
    logger.error(
        "Unexpected error in the handler of %s (request %r)",
        method,
        request_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    message = _MASKED if mask_error_details else f"{type(exc).__name__}: {exc}"
    if is_tool:
        return _tool_error(request_id, message, version, server_info), None
    return error_answer(request_id, Error(code=INTERNAL_ERROR, message=message))


SHUTTING_DOWN = Error(code=INTERNAL_ERROR, message="Server is shutting down")
"""The error of a request cancelled because its session or server is going away."""


def error_answer(request_id: RequestId | None, error: Error) -> tuple[bytes, Error]:
    """An error response and the error it carries."""
    return encode_error(request_id, error.code, error.message, error.data), error


def _tool_error(
    request_id: RequestId, message: str, version: str, server_info: Implementation | None
) -> bytes:
    result = CallToolResult(content=[TextContent(text=message)], is_error=True)
    return encode_result(request_id, prepare_result(result, version, server_info=server_info))
