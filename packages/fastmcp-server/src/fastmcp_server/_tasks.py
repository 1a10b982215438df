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

Where things live (any replica answers any request). A task's state is a record of
the server's store (``fastmcp_core.store``: this process's memory by default, Redis
for replicas), forgotten ``ttl_ms`` after its creation and owned by the replica that
runs it. Every change is a compare-and-set transition: of two replicas changing a
task at once one wins and the other decides again on what it then reads, so a
``tasks/cancel`` and the tool's end race fairly, and a terminal task stays as it is
(a cancel wins over a result that comes after it). The running coroutine lives in
the owner replica (``Tasks.runs``). From any replica:

* ``tasks/get`` and ``tasks/list`` read the record;
* ``tasks/result`` waits by following the record (a watch wakes it) until it is
  terminal;
* ``tasks/update`` moves answers into the record; the owner, waiting in ``ask`` by
  following the record, takes them out;
* ``tasks/cancel`` makes the record ``cancelled``, then cancels the run: at once when
  it runs here, else through the owner's inbox on the store's bus;
* a task whose owner's lease ran out (the replica died) is made ``failed`` by the
  first replica that reads it.

A store that cannot be reached fails the request that needs it (-32603, with the
store's message), never the server. The end of a run is offered to the store again
and again (backing off) until it takes it; the task stays ``working`` meanwhile.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
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
from fastmcp_core.store import Record, Records, Store, StoreUnavailable
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

__all__ = ["TaskState", "Tasks"]

logger = logging.getLogger("fastmcp.tasks")

Status = Literal["working", "input_required", "completed", "failed", "cancelled"]
_TERMINAL = frozenset({"completed", "failed", "cancelled"})
_DEFAULT_TTL_MS = 300_000
_POLL_MS = 200
_CANCEL = "tasks/cancel"
"""The bus topic of the cancellations sent to the replica that runs the task."""
_RETRY = (0.1, 0.2, 0.5, 1.0, 2.0)
"""Back-off (seconds) between attempts to record the end of a run."""
_MAX_SWAPS = 100
"""Compare-and-set attempts of one transition before giving up (contention)."""


@attrs.define(eq=False)
class TaskState:
    """What is known of a task: what its record holds (``fastmcp_core.store``)."""

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
    answers: dict[str, Any] = attrs.field(factory=dict)
    """Answers to ``input_requests`` (2026-07-28 ``tasks/update``) that the replica
    running the task has not taken yet."""
    owner: str | None = None
    """Who may see the task: the principal, or the session, that created it."""

    @property
    def terminal(self) -> bool:
        return self.status in _TERMINAL


class _Stored(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A ``TaskState`` as its record holds it (JSON)."""

    task_id: str
    status: Status
    created_at: float
    last_updated_at: float
    ttl_ms: int | None = None
    legacy: bool = False
    status_message: str | None = None
    poll_interval_ms: int = _POLL_MS
    result: Any = None
    error: Error | None = None
    input_requests: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    owner: str | None = None


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(_Stored)


def _encode(state: TaskState) -> bytes:
    return _ENCODER.encode(_Stored(**attrs.asdict(state, recurse=False)))


def _decode(value: bytes) -> TaskState:
    stored = _DECODER.decode(value)
    fields = {name: getattr(stored, name) for name in stored.__struct_fields__}
    if stored.result is not None:  # a task's result is a tool call's
        fields["result"] = convert(stored.result, CallToolResult)
    return TaskState(**fields)


@attrs.define(eq=False, repr=False)
class _Run:
    """A running task-capable tool call (the part of a task in its owner replica)."""

    state: TaskState | None
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    first: trio.Event = attrs.field(factory=trio.Event)
    answer: Any = None  # what the waiting request answers with


class TaskHost(Protocol):
    """What tasks need of their server beside its registry and background nursery."""

    mask_error_details: bool


@attrs.define(eq=False, repr=False)
class Tasks:
    """The task subsystem of one server (see the module docstring)."""

    registry: Registry
    background: Background
    host: TaskHost
    store: Store = attrs.field(kw_only=True)  # the server's
    ttl_ms: int = _DEFAULT_TTL_MS
    runs: dict[str, _Run] = attrs.field(factory=dict)
    """The task runs of this replica, by task id."""

    @property
    def records(self) -> Records:
        return self.store.records("tasks")

    def attach(self) -> Callable[[], None]:
        """Take the cancellations other replicas send here (while the server runs);
        returns the function that stops it."""
        return self.store.bus.receive(_CANCEL, self._cancelled_elsewhere)

    def _cancelled_elsewhere(self, data: bytes) -> None:
        run = self.runs.get(data.decode())
        if run is not None:
            run.scope.cancel()

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
            await self._lookup(ctx, params.task_id)
            responses = params.input_responses or {}

            def answer(state: TaskState) -> bool:
                answered = False
                for key, value in responses.items():
                    if key in state.input_requests:
                        del state.input_requests[key]
                        state.answers[key] = msgspec.to_builtins(value)
                        answered = True
                if answered:
                    if not state.input_requests and state.status == "input_required":
                        _touch(state, "working")
                    else:
                        state.last_updated_at = time.time()
                return answered

            if responses:
                await self._transition(params.task_id, answer)
            return constant(Result())

        async def cancel(ctx: McpContext, params: TaskIdParams) -> Callable[[], Awaitable[Any]]:
            await self._lookup(ctx, params.task_id)

            def cancelling(state: TaskState) -> bool:
                if state.terminal:
                    return False
                _touch(state, "cancelled", "Cancelled by the client")
                return True

            changed = await self._transition(params.task_id, cancelling)
            if changed is None:
                raise _unknown(params.task_id)
            state, record, written = changed
            if written:
                await self._stop_run(state.task_id, record.owner)
            if is_modern(ctx.protocol_version):
                return constant(Result())
            return constant(CancelTaskResult(**_task_fields(state)))

        async def result(ctx: McpContext, params: TaskIdParams) -> Callable[[], Awaitable[Any]]:
            await self._lookup(ctx, params.task_id)
            task_id = params.task_id

            async def wait() -> Any:
                check_every = self.store.lease / 2  # to notice an owner that died
                async with self.records.watch(task_id) as watch:
                    while True:
                        read = await self._read(task_id)
                        if read is None:
                            raise _unknown(task_id)
                        state = read[0]
                        if state.terminal:
                            break
                        await watch.wait(check_every)
                if state.status == "failed" and state.error is not None:
                    raise McpError.from_error(state.error)
                if state.status == "cancelled":
                    raise McpError(INVALID_PARAMS, f"Task {task_id} was cancelled")
                return state.result

            return wait

        async def listing(
            ctx: McpContext, params: PaginatedRequestParams
        ) -> Callable[[], Awaitable[Any]]:
            states = []
            for record in await self.records.group(_group(_owner(ctx))):
                state = await self._settled(_decode(record.value), record)
                if state is not None and state.legacy:
                    states.append(state)
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
        read = await self._read(task_id)
        if read is None or (read[0].owner is not None and read[0].owner != _owner(ctx)):
            raise _unknown(task_id)
        return read[0]

    # -- the record ------------------------------------------------------------------

    async def _read(self, task_id: str) -> tuple[TaskState, Record] | None:
        """The task as stored, a dead owner's task made failed first; ``None`` when
        there is none."""
        for _ in range(_MAX_SWAPS):
            record = await self.records.get(task_id)
            if record is None:
                return None
            state = await self._settled(_decode(record.value), record)
            if state is not None:
                return state, record
        raise McpError(INTERNAL_ERROR, f"Task {task_id} changes too often to be read")

    async def _settled(self, state: TaskState, record: Record) -> TaskState | None:
        """``state``, unless its owner replica is gone while it was not terminal: then
        it is made ``failed`` (``None`` when another write came first: read again)."""
        if state.terminal or record.owner is None or await self._owner_lives(state, record):
            return state
        _touch(state, "failed", "The server replica running the task stopped")
        state.error = Error(
            code=INTERNAL_ERROR, message="the server replica running the task stopped"
        )
        written = await self.records.swap(state.task_id, record.version, _encode(state))
        return None if written is None else state

    async def _owner_lives(self, state: TaskState, record: Record) -> bool:
        if record.owner == self.store.replica:
            return state.task_id in self.runs  # a run of ours that ended unrecorded: lost
        return await self.store.alive(record.owner or "")

    async def _transition(
        self, task_id: str, change: Callable[[TaskState], bool]
    ) -> tuple[TaskState, Record, bool] | None:
        """Read the task, let ``change`` edit the state (``False``: nothing to write)
        and write it if nobody else wrote meanwhile; else read and decide again. The
        state as written (or as read, unchanged), its record, and whether it was
        written; ``None`` when the task is gone."""
        for _ in range(_MAX_SWAPS):
            read = await self._read(task_id)
            if read is None:
                return None
            state, record = read
            if not change(state):
                return state, record, False
            written = await self.records.swap(task_id, record.version, _encode(state))
            if written is not None:
                return state, written, True
        raise McpError(INTERNAL_ERROR, f"Task {task_id} changes too often to be changed")

    async def _stop_run(self, task_id: str, replica: str | None) -> None:
        """Cancel the run of a task just made ``cancelled``: here, or in its owner."""
        run = self.runs.get(task_id)
        if run is not None:
            run.scope.cancel()
        elif replica is not None and replica != self.store.replica:
            await self.store.bus.send(replica, _CANCEL, task_id.encode())

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
        """Run the tool in the server's nursery; nothing it or the store raises gets
        out (the nursery is the server's)."""
        try:
            with run.scope:
                if not defer:
                    await detach(None)
                outcome = await capture(lambda: _in_region(ctx, entry, arguments, resolve))
        except StoreUnavailable as exc:  # no task could be made: a JSON-RPC error (-32603)
            run.answer = ProtocolError(exc.code, exc.message)
            run.first.set()
            return
        if run.scope.cancelled_caught:
            outcome = Cancelled(ctx.cancel_reason or CancelReason.CLIENT)
        state = run.state
        if state is None:  # ended before becoming a task: answer the request directly
            run.answer = _direct(outcome, self.host.mask_error_details, entry)
            run.first.set()
            return
        try:
            await self._finish(state.task_id, outcome)
        finally:
            self.runs.pop(state.task_id, None)

    async def _finish(self, task_id: str, outcome: Any) -> None:
        """Record how the run ended, unless the task is terminal already (cancelled,
        or failed by a replica that thought this one dead). Tried until the store
        takes it: each attempt is shielded from the server's shutdown, the waits
        between them are not."""
        mask = self.host.mask_error_details

        def ending(state: TaskState) -> bool:
            if state.terminal:
                return False
            _record(state, outcome, mask)
            return True

        attempt = 0
        while True:
            try:
                with trio.CancelScope(shield=True), trio.move_on_after(30):
                    await self._transition(task_id, ending)
            except StoreUnavailable as exc:
                if attempt == 0:
                    logger.warning("the end of task %s is not recorded yet: %s", task_id, exc)
            else:
                return
            await trio.sleep(_RETRY[min(attempt, len(_RETRY) - 1)])
            attempt += 1


@attrs.define(eq=False, repr=False)
class _RunHooks:
    """What the context of one task-capable tool call does (``McpContext.derive``):
    ``start`` makes the call a task (its record stored first, then the client told);
    before that a question is asked as in any call, after it the task's record says
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
            tasks = self.tasks
            tasks.runs[state.task_id] = run  # first: a reader finds it ours and running
            try:  # durable before the client learns of it
                await tasks.records.create(
                    state.task_id,
                    _encode(state),
                    ttl=self.ttl_ms / 1000,
                    group=_group(self.owner),
                )
            except BaseException:
                tasks.runs.pop(state.task_id, None)
                raise
            run.state = state
            run.answer = _created(state)
            run.first.set()

    async def _change(self, change: Callable[[TaskState], bool]) -> TaskState:
        """A transition of this run's task; one that ended meanwhile (cancelled from
        another replica, say) cancels the run instead."""
        assert self.run.state is not None
        changed = await self.tasks._transition(self.run.state.task_id, change)
        if changed is None or changed[0].terminal:
            self.run.scope.cancel()
            await trio.lowlevel.checkpoint()  # raises Cancelled
        assert changed is not None
        return changed[0]

    async def ask(self, requests: Mapping[str, InputRequest], directly: Asker) -> dict[str, Any]:
        run = self.run
        state = run.state
        if state is None:  # not a task yet: asked as the request itself would
            return await directly(requests)
        if self.legacy:  # 2025-11-25: server-to-client requests, with the task's status
            return await self._ask_directly(requests, directly)
        unique = {f"{key}-{secrets.token_hex(4)}": (key, req) for key, req in requests.items()}

        def asking(s: TaskState) -> bool:
            s.input_requests.update(
                {wire: msgspec.to_builtins(req) for wire, (_, req) in unique.items()}
            )
            _touch(s, "input_required")
            return True

        def taking(s: TaskState) -> bool:
            for wire in unique:
                s.answers.pop(wire, None)
            return True

        async with self.tasks.records.watch(state.task_id) as watch:
            now = await self._change(asking)
            while any(wire not in now.answers for wire in unique):
                await watch.wait()
                now = await self._change(_unchanged)
        answers: dict[str, Any] = {}
        for wire, (key, request) in unique.items():
            answers[key] = _parse_answer(request, now.answers[wire])
        await self._change(taking)
        return answers

    async def _ask_directly(
        self, requests: Mapping[str, InputRequest], directly: Asker
    ) -> dict[str, Any]:
        def waiting(s: TaskState) -> bool:
            _touch(s, "input_required")
            return True

        def working(s: TaskState) -> bool:
            if s.status != "input_required":
                return False
            _touch(s, "working")
            return True

        await self._change(waiting)
        try:
            return await directly(requests)
        finally:
            with trio.CancelScope(shield=True), suppress(StoreUnavailable):
                await self.tasks._transition(self._task_id, working)

    @property
    def _task_id(self) -> str:
        assert self.run.state is not None
        return self.run.state.task_id


def _unchanged(state: TaskState) -> bool:
    return False


def _unknown(task_id: str) -> McpError:
    return McpError(INVALID_PARAMS, f"Unknown task: {task_id}", {"taskId": task_id})


def _group(owner: str | None) -> str:
    """The store group that lists the tasks one principal (or session) may see."""
    return "" if owner is None else owner


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
    if isinstance(outcome, Err) and isinstance(outcome.error, StoreUnavailable):
        state.error = outcome.error.to_error()  # the store failed the run: say so
        _touch(state, "failed")
    elif isinstance(outcome, Ok):
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
