"""Tasks: tool calls that outlive their request, in both forms.

* 2025-11-25 (core): the client asks for a task with ``params.task``; the answer is a
  ``CreateTaskResult`` wrapping a ``Task``; ``tasks/get``, ``tasks/result`` (waits for
  the end), ``tasks/cancel``, ``tasks/list``.
* 2026-07-28 (the ``io.modelcontextprotocol/tasks`` extension): the client opts in per
  request in its capabilities; the server decides; the answer is a flat
  ``CreateTaskResult`` (``resultType: "task"``); ``tasks/get`` (with ``inputRequests``
  while the task waits for input, the result or the error at the end),
  ``tasks/update`` (answers), ``tasks/cancel``.

Theory of operation. A tool registered with ``task="optional"`` or ``"required"`` is
always run in the server's nursery, detached from the request that started it; the
request waits for the first of: the tool finishing (its result is answered directly),
the tool asking for input before becoming a task (an input-required round, modern
era), or the task being created - at once, or when the tool calls
``ctx.start_task()`` for tools registered with ``defer_task=True``. From then on the
client polls; the tool's questions put the task in ``input_required`` (answered by
``tasks/update``, or in 2025-11-25 by server-to-client requests) and its end is
recorded: ``completed`` with the tool's result (an ``isError`` result for a tool
error), ``failed`` with a JSON-RPC error for a ``ProtocolError``, or ``cancelled``.

Task state lives in a ``TaskStore`` (in memory by default: a dict that forgets tasks
``ttl_ms`` after they were created); the running coroutines live in this process.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import attrs
import msgspec
import trio

from fastmcp_core import (
    Asker,
    Cancelled,
    CancelReason,
    Err,
    McpContext,
    MissingCapability,
    Ok,
    Panicked,
    ProtocolError,
    capture,
)
from fastmcp_protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CallToolResult,
    CancelTaskResult,
    ClientCapabilities,
    CreateMessageRequest,
    CreateMessageResult,
    ElicitRequest,
    ElicitResult,
    Error,
    GetTaskResult,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    ListTasksResult,
    McpError,
    PaginatedRequestParams,
    Result,
    ServerTasksCapability,
    ServerTasksRequestsCapability,
    Task,
    TaskIdParams,
    TextContent,
    ToolsTasksCapability,
    convert,
    is_modern,
)
from fastmcp_protocol import CreateTaskResult as LegacyCreateTaskResult
from fastmcp_protocol.ext_tasks import (
    TASKS_EXTENSION,
    CreateTaskResult,
    UpdateTaskRequestParams,
)
from fastmcp_protocol.ext_tasks import GetTaskResult as ModernGetTaskResult
from fastmcp_server._background import Background
from fastmcp_server._registry import Owner, Registry, ToolEntry
from fastmcp_server._results import constant

__all__ = ["InMemoryTaskStore", "TaskState", "TaskStore", "Tasks"]

logger = logging.getLogger("fastmcp.tasks")

Status = Literal["working", "input_required", "completed", "failed", "cancelled"]
_TERMINAL = frozenset({"completed", "failed", "cancelled"})
_DEFAULT_TTL_MS = 300_000
_POLL_MS = 200


@attrs.define(eq=False)
class TaskState:
    """What is known of a task: all a store keeps."""

    task_id: str
    status: Status
    created_at: float
    last_updated_at: float
    ttl_ms: int | None
    legacy: bool
    status_message: str | None = None
    poll_interval_ms: int = _POLL_MS
    result: Any = None
    error: Error | None = None
    input_requests: dict[str, Any] = attrs.field(factory=dict)
    owner: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in _TERMINAL

    def expired(self, now: float) -> bool:
        return self.ttl_ms is not None and now > self.created_at + self.ttl_ms / 1000


class TaskStore(Protocol):
    """Where task state lives. Implement it to share tasks across restarts."""

    async def put(self, state: TaskState) -> None: ...

    async def get(self, task_id: str) -> TaskState | None: ...

    async def list(self) -> list[TaskState]: ...


@attrs.define(eq=False)
class InMemoryTaskStore:
    """Tasks in a dict, forgotten ``ttl_ms`` after their creation."""

    _states: dict[str, TaskState] = attrs.field(factory=dict)

    async def put(self, state: TaskState) -> None:
        self._states[state.task_id] = state

    async def get(self, task_id: str) -> TaskState | None:
        state = self._states.get(task_id)
        if state is not None and state.expired(time.time()):
            del self._states[task_id]
            return None
        return state

    async def list(self) -> list[TaskState]:
        now = time.time()
        for task_id in [t for t, s in self._states.items() if s.expired(now)]:
            del self._states[task_id]
        return list(self._states.values())


@attrs.define(eq=False, repr=False)
class _Run:
    """A running task-capable tool call (in-process part of a task)."""

    state: TaskState | None
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    first: trio.Event = attrs.field(factory=trio.Event)
    changed: trio.Event = attrs.field(factory=trio.Event)
    answer: Any = None  # what the waiting request answers with
    answers: dict[str, Any] = attrs.field(factory=dict)
    done: trio.Event = attrs.field(factory=trio.Event)

    def signal(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


class TaskHost(Protocol):
    """What tasks need of their server beside its registry and background nursery."""

    mask_error_details: bool


@attrs.define(eq=False, repr=False)
class Tasks:
    """The task subsystem of one server."""

    registry: Registry
    background: Background
    host: TaskHost
    store: TaskStore = attrs.field(factory=InMemoryTaskStore)
    ttl_ms: int = _DEFAULT_TTL_MS
    runs: dict[str, _Run] = attrs.field(factory=dict)
    """The task runs of this process, by task id."""

    # -- what the dispatcher asks ----------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether some tool may run as a task (a mounted server's included)."""
        if any(entry.task != "forbidden" for entry in self.registry.tools.values()):
            return True
        return any(
            tool.execution is not None and tool.execution.task_support not in (None, "forbidden")
            for mount in self.registry.mounts
            for tool in mount.registry.definitions("tools")
        )

    def extensions(self) -> dict[str, Any] | None:
        return {TASKS_EXTENSION: {}} if self.enabled else None

    def legacy_capability(self, version: str) -> ServerTasksCapability | None:
        if version != "2025-11-25" or not self.enabled:
            return None
        return ServerTasksCapability(
            list={},
            cancel={},
            requests=ServerTasksRequestsCapability(tools=ToolsTasksCapability(call={})),
        )

    def exists(self, method: str, version: str) -> bool:
        if is_modern(version):
            return method in ("tasks/get", "tasks/update", "tasks/cancel")
        return False

    def params_type(self, method: str) -> type | None:
        return UpdateTaskRequestParams if method == "tasks/update" else None

    def routes(self) -> dict[str, Any]:
        async def get(ctx: McpContext, params: TaskIdParams) -> Callable[[], Awaitable[Any]]:
            state = await self._lookup(ctx, params.task_id)
            if is_modern(ctx.protocol_version):
                return constant(_modern_view(state))
            return constant(GetTaskResult(**_task_fields(state)))

        async def update(
            ctx: McpContext, params: UpdateTaskRequestParams
        ) -> Callable[[], Awaitable[Any]]:
            state = await self._lookup(ctx, params.task_id)
            run = self.runs.get(state.task_id)
            if params.input_responses and run is not None:
                answered = False
                for key, value in params.input_responses.items():
                    if key in state.input_requests:
                        del state.input_requests[key]
                        run.answers[key] = msgspec.to_builtins(value)
                        answered = True
                if answered:
                    if not state.input_requests and state.status == "input_required":
                        _touch(state, "working")
                    await self.store.put(state)
                    run.signal()
            return constant(Result())

        async def cancel(ctx: McpContext, params: TaskIdParams) -> Callable[[], Awaitable[Any]]:
            state = await self._lookup(ctx, params.task_id)
            run = self.runs.get(state.task_id)
            if not state.terminal:
                _touch(state, "cancelled", "Cancelled by the client")
                await self.store.put(state)
                if run is not None:
                    run.scope.cancel()
            if is_modern(ctx.protocol_version):
                return constant(Result())
            return constant(CancelTaskResult(**_task_fields(state)))

        async def result(ctx: McpContext, params: TaskIdParams) -> Callable[[], Awaitable[Any]]:
            state = await self._lookup(ctx, params.task_id)

            async def wait() -> Any:
                run = self.runs.get(state.task_id)
                while run is not None and not state.terminal:
                    await run.changed.wait()
                if state.status == "failed" and state.error is not None:
                    raise McpError.from_error(state.error)
                if state.status == "cancelled":
                    raise McpError(INVALID_PARAMS, f"Task {state.task_id} was cancelled")
                return state.result

            return wait

        async def listing(
            ctx: McpContext, params: PaginatedRequestParams
        ) -> Callable[[], Awaitable[Any]]:
            states = [s for s in await self.store.list() if s.legacy]
            page, cursor = self.registry.page(states, params.cursor)
            tasks = [Task(**_task_fields(s)) for s in page]
            return constant(ListTasksResult(tasks=tasks, next_cursor=cursor))

        return {
            "tasks/get": get,
            "tasks/update": update,
            "tasks/cancel": cancel,
            "tasks/result": result,
            "tasks/list": listing,
        }

    async def _lookup(self, ctx: McpContext, task_id: str) -> TaskState:
        if is_modern(ctx.protocol_version):
            extensions = ctx.client_capabilities.extensions or {}
            if TASKS_EXTENSION not in extensions:
                raise MissingCapability(
                    "tasks need the io.modelcontextprotocol/tasks extension",
                    ClientCapabilities(extensions={TASKS_EXTENSION: {}}),
                )
        state = await self.store.get(task_id)
        if state is None or (state.owner is not None and state.owner != _owner(ctx)):
            raise McpError(INVALID_PARAMS, f"Unknown task: {task_id}", {"taskId": task_id})
        return state

    # -- starting tasks --------------------------------------------------------------

    def tool_route(
        self, ctx: McpContext, entry: ToolEntry, owner: Owner, params: Any
    ) -> Callable[[], Awaitable[Any]] | None:
        """The handler that runs ``entry`` as a task, or ``None`` to call it normally."""
        if entry.task == "forbidden":
            return None
        if is_modern(ctx.protocol_version):
            opted_in = TASKS_EXTENSION in (ctx.client_capabilities.extensions or {})
            if not opted_in:
                if entry.task == "required":
                    raise MissingCapability(
                        f"tool {entry.definition.name} runs only as a task",
                        ClientCapabilities(extensions={TASKS_EXTENSION: {}}),
                    )
                return None
            legacy = False
            ttl_ms = self.ttl_ms
        else:
            if params.task is None:
                if entry.task == "required":
                    raise McpError(
                        INVALID_PARAMS,
                        f"tool {entry.definition.name} runs only as a task: add params.task",
                    )
                return None
            legacy = True
            ttl_ms = params.task.ttl if params.task.ttl is not None else self.ttl_ms
        defer = entry.defer_task
        arguments = params.arguments
        task_owner = _owner(ctx)
        resolve = owner.resolve

        async def start() -> Any:
            run = _Run(None)
            hooks = _RunHooks(self, run, legacy, ttl_ms, task_owner)
            task_ctx = ctx.derive(scope=run.scope, task=hooks)
            self.background.start_soon(
                self._execute, run, task_ctx, entry, resolve, arguments, defer, hooks.start
            )
            try:
                await run.first.wait()
            except trio.Cancelled:
                if run.state is None:  # not a task yet: it was this request's work
                    run.scope.cancel()
                raise
            answer = run.answer
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return start

    async def _execute(
        self,
        run: _Run,
        ctx: McpContext,
        entry: ToolEntry,
        resolve: Any,
        arguments: Any,
        defer: bool,
        detach: Callable[[str | None], Awaitable[None]],
    ) -> None:
        with run.scope:
            if not defer:
                await detach(None)
            outcome = await capture(lambda: _in_region(ctx, entry, arguments, resolve))
        if run.scope.cancelled_caught:
            outcome = Cancelled(ctx.cancel_reason or CancelReason.CLIENT)
        state = run.state
        if state is None:  # ended before becoming a task: answer the request directly
            run.answer = _direct(outcome, self.host.mask_error_details, entry)
            run.first.set()
            return
        if not state.terminal or state.status == "cancelled":
            _record(state, outcome, self.host.mask_error_details)
            await self.store.put(state)
        run.signal()
        run.done.set()
        self.runs.pop(state.task_id, None)


@attrs.define(eq=False, repr=False)
class _RunHooks:
    """What the context of one task-capable tool call does (``McpContext.derive``):
    ``start`` makes the call a task (its state stored first, then the client told);
    before that a question is asked as in any call, after it the task's status says
    what it waits for."""

    tasks: Tasks
    run: _Run
    legacy: bool
    ttl_ms: int
    owner: str | None
    _creating: trio.Lock = attrs.field(factory=trio.Lock)

    async def start(self, status_message: str | None) -> None:
        run = self.run
        async with self._creating:
            if run.state is not None:
                return
            now = time.time()
            state = TaskState(
                task_id=secrets.token_hex(16),
                status="working",
                created_at=now,
                last_updated_at=now,
                ttl_ms=self.ttl_ms,
                legacy=self.legacy,
                status_message=status_message,
                owner=self.owner,
            )
            await self.tasks.store.put(state)  # durable before the client learns of it
            run.state = state
            self.tasks.runs[state.task_id] = run
            run.answer = _created(state)
            run.first.set()

    async def ask(self, requests: Mapping[str, InputRequest], directly: Asker) -> dict[str, Any]:
        run, store = self.run, self.tasks.store
        state = run.state
        if state is None:  # not a task yet: asked as the request itself would
            return await directly(requests)
        if self.legacy:  # 2025-11-25: server-to-client requests, with the task's status
            _touch(state, "input_required")
            await store.put(state)
            try:
                return await directly(requests)
            finally:
                if state.status == "input_required":
                    _touch(state, "working")
                    await store.put(state)
        unique = {f"{key}-{secrets.token_hex(4)}": (key, req) for key, req in requests.items()}
        state.input_requests.update(
            {wire: msgspec.to_builtins(req) for wire, (_, req) in unique.items()}
        )
        _touch(state, "input_required")
        await store.put(state)
        run.signal()
        while any(wire not in run.answers for wire in unique):
            await run.changed.wait()
        answers: dict[str, Any] = {}
        for wire, (key, request) in unique.items():
            answers[key] = _parse_answer(request, run.answers.pop(wire))
        return answers


def _owner(ctx: McpContext) -> str | None:
    if ctx.principal is not None:
        return str(getattr(ctx.principal, "id", ctx.principal))
    return ctx.session_id


async def _in_region(ctx: McpContext, entry: ToolEntry, arguments: Any, resolve: Any) -> Any:
    async with ctx.region():
        return await entry.call(ctx, arguments, resolve)


def _direct(outcome: Any, mask: bool, entry: ToolEntry) -> Any:
    """The request's answer for a call that never became a task."""
    if isinstance(outcome, Ok):
        return outcome.value
    if isinstance(outcome, Err):
        if isinstance(outcome.error, ProtocolError):
            return outcome.error
        return CallToolResult(content=[TextContent(text=outcome.error.message)], is_error=True)
    if isinstance(outcome, Panicked):
        return _panic_result(outcome.exception, mask, entry)
    return McpError(INTERNAL_ERROR, "The tool call was cancelled")


def _record(state: TaskState, outcome: Any, mask: bool) -> None:
    if isinstance(outcome, Ok):
        value = outcome.value
        if isinstance(value, InputRequiredResult):  # cannot happen after detaching
            _touch(state, "failed")
            state.error = Error(
                code=INTERNAL_ERROR, message="input requested after the task started"
            )
            return
        state.result = value
        _touch(state, "completed")
    elif isinstance(outcome, Err):
        if isinstance(outcome.error, ProtocolError):
            state.error = outcome.error.to_error()
            _touch(state, "failed")
        else:
            state.result = CallToolResult(
                content=[TextContent(text=outcome.error.message)], is_error=True
            )
            _touch(state, "completed")
    elif isinstance(outcome, Panicked):
        state.result = _panic_result(outcome.exception, mask, None)
        _touch(state, "completed")
    else:
        if state.status != "cancelled":
            _touch(state, "cancelled", "Cancelled")


def _panic_result(exc: BaseException, mask: bool, entry: ToolEntry | None) -> CallToolResult:
    logger.error("Unexpected error in a task", exc_info=(type(exc), exc, exc.__traceback__))
    text = "Internal error" if mask else f"{type(exc).__name__}: {exc}"
    return CallToolResult(content=[TextContent(text=text)], is_error=True)


def _touch(state: TaskState, status: Status, message: str | None = None) -> None:
    state.status = status
    state.last_updated_at = time.time()
    if message is not None:
        state.status_message = message


def _iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _created(state: TaskState) -> Any:
    if state.legacy:
        return LegacyCreateTaskResult(task=Task(**_task_fields(state)))
    return CreateTaskResult(result_type="task", **_modern_fields(state))


def _task_fields(state: TaskState) -> dict[str, Any]:
    return {
        "task_id": state.task_id,
        "status": state.status,
        "status_message": state.status_message,
        "created_at": _iso(state.created_at),
        "last_updated_at": _iso(state.last_updated_at),
        "ttl": state.ttl_ms,
        "poll_interval": state.poll_interval_ms,
    }


def _modern_fields(state: TaskState) -> dict[str, Any]:
    """The 2026-07-28 spelling of ``_task_fields`` (``ttlMs``, ``pollIntervalMs``)."""
    fields = _task_fields(state)
    fields["ttl_ms"], fields["poll_interval_ms"] = fields.pop("ttl"), fields.pop("poll_interval")
    return fields


def _modern_view(state: TaskState) -> ModernGetTaskResult:
    return ModernGetTaskResult(
        **_modern_fields(state),
        input_requests=dict(state.input_requests) if state.status == "input_required" else None,
        result=state.result if state.status == "completed" else msgspec.UNSET,
        error=state.error if state.status == "failed" else None,
    )


_RESULT_OF: dict[type, type] = {
    ElicitRequest: ElicitResult,
    CreateMessageRequest: CreateMessageResult,
    ListRootsRequest: ListRootsResult,
}


def _parse_answer(request: InputRequest, answer: Any) -> Any:
    try:
        return convert(answer, _RESULT_OF[type(request)])
    except msgspec.ValidationError as exc:
        raise ProtocolError(INVALID_PARAMS, f"Invalid params: input response: {exc}") from None
