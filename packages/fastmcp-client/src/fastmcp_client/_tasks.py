"""Tool calls that run as tasks: one handle for both task protocols.

Theory of operation. A server may answer ``tools/call`` with a task instead of the
result; the caller then polls for the task's state and fetches the result later.
Two protocols exist and ``ToolTask`` hides which one a server speaks:

* 2025-11-25 (core): the client asks with a ``task`` param; the answer is a
  ``CreateTaskResult`` with a ``task`` wrapper. ``tasks/get`` polls, ``tasks/result``
  fetches the payload (it blocks until the task ends, and while it waits the server
  sends its input requests - elicitation, sampling - as ordinary server-to-client
  requests, which the client's handlers answer), ``tasks/cancel`` cancels.
* 2026-07-28 (the ``io.modelcontextprotocol/tasks`` extension): the client declares
  the extension per request and the *server* decides; the answer is a flat
  ``CreateTaskResult`` (``resultType: "task"``). ``tasks/get`` returns the state and,
  once it is ``completed``, the result (``failed``: the error) inline; a task in
  ``input_required`` lists ``inputRequests``, which the client answers with its
  handlers and sends back with ``tasks/update``; ``tasks/cancel`` cancels.

A server may also answer synchronously although a task was asked for; the handle
then holds the result already (``task_id`` is ``None``).

Polling honours the server's ``pollInterval``/``pollIntervalMs`` (default 0.5 s).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, cast

import attrs
import msgspec
import trio

from fastmcp_client._errors import ClientError, TaskFailed
from fastmcp_client._requester import Requester
from fastmcp_protocol import (
    CallToolResult,
    CancelTaskResult,
    GetTaskResult,
    InputRequest,
    Result,
    Task,
    TaskIdParams,
    UnexpectedResult,
    convert,
    ext_tasks,
)

__all__ = ["TaskSnapshot", "ToolTask"]

R = TypeVar("R")

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
DEFAULT_POLL_INTERVAL = 0.5


@attrs.frozen
class TaskSnapshot:
    """A task's state, the same for both task protocols.

    Times are the server's ISO 8601 strings; ``ttl_ms`` is ``None`` for unlimited
    retention; ``poll_interval_ms`` is the server's suggestion, if any.
    """

    task_id: str
    status: TaskStatus
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None
    status_message: str | None = None

    @property
    def terminal(self) -> bool:
        """Whether the task has ended (``completed``, ``failed`` or ``cancelled``)."""
        return self.status in TERMINAL

    @classmethod
    def from_legacy(cls, task: Task) -> TaskSnapshot:
        return cls(
            task_id=task.task_id,
            status=task.status,
            created_at=task.created_at,
            last_updated_at=task.last_updated_at,
            ttl_ms=task.ttl,
            poll_interval_ms=task.poll_interval,
            status_message=task.status_message,
        )

    @classmethod
    def from_modern(
        cls, task: ext_tasks.CreateTaskResult | ext_tasks.GetTaskResult
    ) -> TaskSnapshot:
        return cls(
            task_id=task.task_id,
            status=task.status,
            created_at=task.created_at,
            last_updated_at=task.last_updated_at,
            ttl_ms=task.ttl_ms,
            poll_interval_ms=task.poll_interval_ms,
            status_message=task.status_message,
        )


def _poll_delay(state: TaskSnapshot) -> float:
    if state.poll_interval_ms is None or state.poll_interval_ms <= 0:
        return DEFAULT_POLL_INTERVAL
    return state.poll_interval_ms / 1000


@attrs.define(eq=False)
class ToolTask(Generic[R]):
    """A tool call running as a task; made by ``Client.call_tool_task``.

    ``await result()`` waits for the end (polling) and returns what ``call_tool``
    would have; ``await status()`` asks for the current state; ``await cancel()``
    asks the server to cancel. Leaving a cancel scope while ``result()`` waits only
    stops waiting: the task goes on on the server until ``cancel()``.
    """

    tool: str
    """The name of the tool."""
    state: TaskSnapshot | None
    """The state last seen (``None`` when the server answered without a task)."""
    _requester: Requester
    _finish: Callable[[CallToolResult], R]
    _protocol: Literal["legacy", "modern", "none"]
    _immediate: CallToolResult | None = None

    @property
    def task_id(self) -> str | None:
        """The server's id for the task; ``None`` when the server answered at once."""
        return None if self.state is None else self.state.task_id

    async def status(self) -> TaskSnapshot:
        """The task's current state (one ``tasks/get``).

        Raises ``PeerError`` from the server (-32602 for a task it does not know, e.g.
        one whose ttl expired), ``ClientError`` for a handle without a task.
        """
        if self.state is None:
            raise ClientError("this call did not run as a task: its result is ready")
        if self._protocol == "legacy":
            got = await self._requester.request(
                "tasks/get", TaskIdParams(task_id=self.state.task_id), GetTaskResult
            )
            self.state = TaskSnapshot.from_legacy(got)
        else:
            self.state = TaskSnapshot.from_modern(await self._modern_get())
        return self.state

    async def cancel(self) -> None:
        """Ask the server to cancel the task (``tasks/cancel``).

        The 2026 extension acknowledges also a task that already ended; a 2025-11-25
        server answers -32602 for one (``PeerError``). A handle without a task does
        nothing.
        """
        if self.state is None:
            return
        task_id = self.state.task_id
        if self._protocol == "legacy":
            got = await self._requester.request(
                "tasks/cancel", TaskIdParams(task_id=task_id), CancelTaskResult
            )
            self.state = TaskSnapshot.from_legacy(got)
        else:
            params = ext_tasks.CancelTaskRequestParams(task_id=task_id, meta=self._requester.meta())
            await self._requester.request("tasks/cancel", params, Result)

    async def result(self) -> R:
        """Wait for the task to end and return its result.

        A tool that reported failure gives a ``CallToolResult`` with ``is_error``
        (or ``ToolCallError`` when a ``result_type`` was asked for). Raises
        ``TaskFailed`` for a task that ended ``failed`` without a result or
        ``cancelled``, ``PeerError`` when the failed request's error was a JSON-RPC
        error (2025-11-25), and whatever an input handler raised.
        """
        if self._immediate is not None:
            return self._finish(self._immediate)
        if self._protocol == "legacy":
            return self._finish(await self._legacy_result())
        return self._finish(await self._modern_result())

    # -- 2025-11-25 --------------------------------------------------------------------

    async def _legacy_result(self) -> CallToolResult:
        assert self.state is not None
        state = self.state
        while not state.terminal and state.status != "input_required":
            await trio.sleep(_poll_delay(state))
            state = await self.status()
        if state.status == "cancelled":
            raise TaskFailed(state.task_id, "cancelled", f"task {state.task_id} was cancelled")
        # tasks/result blocks until the task ends; input requests arrive meanwhile as
        # server-to-client requests, so it waits without a timeout
        params = TaskIdParams(task_id=state.task_id)
        return await self._requester.request(
            "tasks/result", params, CallToolResult, timeout=math.inf
        )

    # -- 2026-07-28 extension ----------------------------------------------------------

    async def _modern_get(self) -> ext_tasks.GetTaskResult:
        assert self.state is not None
        params = ext_tasks.GetTaskRequestParams(
            task_id=self.state.task_id, meta=self._requester.meta()
        )
        return await self._requester.request("tasks/get", params, ext_tasks.GetTaskResult)

    async def _modern_result(self) -> CallToolResult:
        assert self.state is not None
        if self.state.status == "working":  # just created: the first poll can wait
            await trio.sleep(_poll_delay(self.state))
        while True:
            got = await self._modern_get()
            state = self.state = TaskSnapshot.from_modern(got)
            if state.terminal:
                return self._modern_outcome(got)
            if state.status == "input_required" and got.input_requests:
                await self._answer(got)  # answered keys leave inputRequests at once
                continue
            await trio.sleep(_poll_delay(state))

    async def _answer(self, got: ext_tasks.GetTaskResult) -> None:
        try:
            requests = {
                key: convert(value, cast(Any, InputRequest))
                for key, value in (got.input_requests or {}).items()
            }
        except msgspec.ValidationError as exc:
            raise UnexpectedResult(f"task {got.task_id}: invalid inputRequests: {exc}") from None
        answers = await self._requester.answer_inputs(requests)
        params = ext_tasks.UpdateTaskRequestParams(
            task_id=got.task_id,
            input_responses=msgspec.to_builtins(answers),
            meta=self._requester.meta(),
        )
        await self._requester.request("tasks/update", params, Result)

    def _modern_outcome(self, got: ext_tasks.GetTaskResult) -> CallToolResult:
        if got.status == "completed":
            if got.result is msgspec.UNSET:
                raise UnexpectedResult(f"task {got.task_id} completed without a result")
            try:
                return convert(got.result, CallToolResult)
            except msgspec.ValidationError as exc:
                raise UnexpectedResult(f"task {got.task_id}: invalid result: {exc}") from None
        if got.status == "failed" and got.error is not None:
            error = got.error
            raise TaskFailed(got.task_id, "failed", error.message, error.code, error.data)
        message = got.status_message or f"task {got.task_id} {got.status}"
        raise TaskFailed(got.task_id, got.status, message)


def immediate(
    tool: str, requester: Requester, result: CallToolResult, finish: Callable[[CallToolResult], R]
) -> ToolTask[R]:
    """A handle for a call the server answered at once."""
    return ToolTask(tool, None, requester, finish, "none", result)
