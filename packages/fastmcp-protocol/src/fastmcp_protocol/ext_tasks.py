"""The tasks extension of 2026-07-28 (``io.modelcontextprotocol/tasks``, SEP-2663).

Not part of the core schema, so it lives in its own namespace: its ``Task`` and
``CreateTaskResult`` differ from the 2025-11-25 core definitions of the same names
(``fastmcp_protocol.Task`` & co.). A server that supports the extension advertises
``capabilities.extensions[TASKS_EXTENSION] = {}``; a client opts in per request in
its ``clientCapabilities.extensions``. The server may then answer a request (such as
``tools/call``) with a ``CreateTaskResult`` (``resultType: "task"``) instead of the
final result; the client polls ``tasks/get``, answers input with ``tasks/update`` and
may ``tasks/cancel``.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

from fastmcp_protocol._base import UNSET, Error, UnsetType
from fastmcp_protocol._jsonrpc import RequestParams, Result

__all__ = [
    "RESULT_TASK",
    "TASKS_EXTENSION",
    "CancelTaskRequestParams",
    "CreateTaskResult",
    "GetTaskRequestParams",
    "GetTaskResult",
    "TaskStatus",
    "UpdateTaskRequestParams",
]

TASKS_EXTENSION: Final = "io.modelcontextprotocol/tasks"
RESULT_TASK: Final = "task"
"""The ``resultType`` of a ``CreateTaskResult``."""

TaskStatus: TypeAlias = Literal["working", "input_required", "completed", "failed", "cancelled"]
"""``completed``, ``failed`` and ``cancelled`` are terminal."""


class _TaskResult(Result, kw_only=True, frozen=True):
    """What every task result says of the task. ``ttl_ms`` is how long the task is
    kept after creation (``None``: unlimited)."""

    task_id: str
    status: TaskStatus
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    status_message: str | None = None
    poll_interval_ms: int | None = None


class CreateTaskResult(_TaskResult, kw_only=True, frozen=True):
    """The answer to a request the server chose to run as a task (flat, no wrapper)."""


class GetTaskRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``tasks/get``."""

    task_id: str


class CancelTaskRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``tasks/cancel``."""

    task_id: str


class UpdateTaskRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``tasks/update``: answers to some of the task's input requests."""

    task_id: str
    input_responses: dict[str, Any] | None = None


class GetTaskResult(_TaskResult, kw_only=True, frozen=True):
    """The answer to ``tasks/get``: the task's state.

    ``input_requests`` while ``input_required``; ``result`` (the original request's
    result, e.g. a ``CallToolResult``) once ``completed``; ``error`` once ``failed``.
    """

    input_requests: dict[str, Any] | None = None
    result: Any | UnsetType = UNSET
    error: Error | None = None
