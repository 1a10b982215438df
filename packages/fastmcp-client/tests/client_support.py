"""A fake MCP server for the client's tests: a ``fastmcp_core.Session`` with a dispatcher
written here, serving one connection through ``serve_transport`` (so ``Client(fake)``
runs it in-process over a memory pair).

It speaks the modern era (``server/discover``, per-request ``_meta``, input-required
rounds through ``McpContext.ask``, ``subscriptions/listen``, the tasks extension), the
legacy era (``initialize``, server-to-client requests through ``McpContext``,
``resources/subscribe``, 2025-11-25 tasks), or both (``era="dual"``). Every request is
recorded (``server.requests``) so tests can check what the client sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
import msgspec
import trio

from fastmcp_core import (
    McpContext,
    ProtocolError,
    RequestStateSealer,
    Session,
    Transport,
    binding_of,
)
from fastmcp_protocol import (
    INVALID_PARAMS,
    LEGACY_PROTOCOL_VERSIONS,
    META_SUBSCRIPTION_ID,
    METHOD_NOT_FOUND,
    UNSET,
    CallToolResult,
    CancelTaskResult,
    ClientCapabilities,
    CompleteResult,
    Completion,
    CreateTaskResult,
    DiscoverResult,
    Error,
    GetPromptResult,
    GetTaskResult,
    Implementation,
    InitializeResult,
    JSONRPCNotification,
    JSONRPCRequest,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListTasksResult,
    ListToolsResult,
    McpError,
    Prompt,
    PromptMessage,
    PromptsCapability,
    ReadResourceResult,
    Resource,
    ResourcesCapability,
    ResourceTemplate,
    Result,
    ServerCapabilities,
    ServerTasksCapability,
    ServerTasksRequestsCapability,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenResult,
    Task,
    TextContent,
    TextResourceContents,
    Tool,
    ToolExecution,
    ToolsCapability,
    ToolsTasksCapability,
    check_request_meta,
    convert,
    ext_tasks,
    negotiate_version,
    unsupported_version_error,
)

SERVER_INFO = Implementation(name="fake-server", version="9.9")
ToolFn = Callable[[McpContext, dict[str, Any]], Awaitable[Any]]
TaskFn = Callable[["FakeTask", dict[str, Any]], Awaitable[CallToolResult]]
PromptFn = Callable[[McpContext, dict[str, str]], Awaitable[GetPromptResult]]
SCHEMA = {"type": "object"}


def text(value: str, **extra: Any) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=value)], **extra)


def decode_params(request: JSONRPCRequest) -> dict[str, Any]:
    if request.params is UNSET:
        return {}
    return msgspec.json.decode(request.params)  # type: ignore[no-any-return]


@attrs.define(eq=False)
class FakeTask:
    """A task of the fake server (both task protocols)."""

    task_id: str
    status: str = "working"
    result: CallToolResult | None = None
    error: Error | None = None
    input_requests: dict[str, Any] = attrs.field(factory=dict)
    answers: dict[str, Any] = attrs.field(factory=dict)
    changed: trio.Event = attrs.field(factory=trio.Event)
    done: trio.Event = attrs.field(factory=trio.Event)
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    poll_interval_ms: int = 100

    async def ask(self, key: str, request: dict[str, Any]) -> Any:
        """Modern tasks: wait in ``input_required`` until ``tasks/update`` answers ``key``."""
        self.input_requests[key] = request
        self.status = "input_required"
        while key not in self.answers:
            await self.changed.wait()
        if not self.input_requests:
            self.status = "working"
        return self.answers[key]

    def ext_state(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "status": self.status,
            "created_at": "2026-08-22T10:30:00Z",
            "last_updated_at": "2026-08-22T10:30:01Z",
            "ttl_ms": 60000,
            "poll_interval_ms": self.poll_interval_ms,
        }

    def legacy_task(self) -> Task:
        return Task(
            task_id=self.task_id,
            status=self.status,  # type: ignore[arg-type]
            created_at="2025-11-25T10:30:00Z",
            last_updated_at="2025-11-25T10:30:01Z",
            ttl=60000,
            poll_interval=self.poll_interval_ms,
        )


@attrs.define(eq=False)
class Listener:
    sid: Any
    filter: SubscriptionFilter
    ended: trio.Event = attrs.field(factory=trio.Event)


@attrs.define(eq=False, slots=False)
class FakeServer:
    """See the module docstring. Register tools with ``tool(name, fn)``."""

    era: Literal["modern", "legacy", "dual"] = "dual"
    modern_versions: list[str] = attrs.field(factory=lambda: ["2026-07-28"])
    legacy_versions: list[str] = attrs.field(factory=lambda: list(LEGACY_PROTOCOL_VERSIONS))
    page_size: int | None = None
    instructions: str | None = "Use the tools."
    tools: dict[str, ToolFn] = attrs.field(factory=dict)
    raw_tools: set[str] = attrs.field(factory=set)
    tool_defs: list[Tool] = attrs.field(factory=list)
    task_tools: dict[str, TaskFn] = attrs.field(factory=dict)
    resources: dict[str, str] = attrs.field(factory=dict)
    prompts: dict[str, PromptFn] = attrs.field(factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    notes: list[JSONRPCNotification] = attrs.field(factory=list)
    cancelled: list[str] = attrs.field(factory=list)
    """The methods whose handlers were cancelled (by the client or its timeout)."""
    tasks: dict[str, FakeTask] = attrs.field(factory=dict)
    listeners: dict[Any, Listener] = attrs.field(factory=dict)
    subscribed: set[str] = attrs.field(factory=set)
    session: Session | None = None
    legacy_version: str | None = None
    legacy_caps: ClientCapabilities = attrs.field(factory=ClientCapabilities)
    log_level: str | None = None
    sealer: RequestStateSealer = attrs.field(factory=RequestStateSealer)
    discover_delay: float = 0.0
    reject_first: bool = False
    """Answer the first modern request with -32022 (as the conformance mock does)."""
    _ids: Any = attrs.field(factory=lambda: itertools.count(1))
    _nursery: trio.Nursery | None = None

    # -- registering ---------------------------------------------------------------------

    def tool(
        self,
        name: str,
        fn: ToolFn,
        *,
        task_support: str | None = None,
        raw: bool = False,
        **fields: Any,
    ) -> None:
        """``raw``: the tool reads ``inputResponses``/``requestState`` itself (from
        ``ctx.lifespan``) instead of through ``McpContext.ask``."""
        self.tools[name] = fn
        if raw:
            self.raw_tools.add(name)
        execution = ToolExecution(task_support=task_support) if task_support else None  # type: ignore[arg-type]
        self.tool_defs.append(Tool(name=name, input_schema=SCHEMA, execution=execution, **fields))

    def task_tool(self, name: str, fn: TaskFn, *, task_support: str = "optional") -> None:
        self.task_tools[name] = fn
        self.tool_defs.append(
            Tool(name=name, input_schema=SCHEMA, execution=ToolExecution(task_support=task_support))  # type: ignore[arg-type]
        )

    # -- serving -------------------------------------------------------------------------

    async def serve_transport(self, transport: Transport, /) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.session = Session(transport, self, server_info=SERVER_INFO)
            await self.session.run()
            nursery.cancel_scope.cancel()

    def capabilities(self, modern: bool) -> ServerCapabilities:
        return ServerCapabilities(
            tools=ToolsCapability(list_changed=True),
            resources=ResourcesCapability(subscribe=True, list_changed=True),
            prompts=PromptsCapability(list_changed=True),
            logging={},
            completions={},
            extensions={ext_tasks.TASKS_EXTENSION: {}} if modern else None,
            tasks=None
            if modern
            else ServerTasksCapability(
                list={},
                cancel={},
                requests=ServerTasksRequestsCapability(tools=ToolsTasksCapability(call={})),
            ),
        )

    async def notification(self, note: JSONRPCNotification) -> None:
        self.notes.append(note)

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Callable[[], Awaitable[Any]]:
        params = decode_params(request)
        method = request.method
        self.requests.append((method, params))
        meta = params.get("_meta") or {}
        ctx.progress_token = meta.get("progressToken")
        ctx.lifespan = params  # this fake hands the raw params to its tools this way
        modern = "io.modelcontextprotocol/protocolVersion" in meta
        if method == "initialize":
            return self._initialize(ctx, params)
        if method == "server/discover" or modern:
            if self.era == "legacy":
                raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")
            if self.reject_first:
                self.reject_first = False
                raise unsupported_version_error(
                    meta.get("io.modelcontextprotocol/protocolVersion", ""), self.modern_versions
                )
            fields = check_request_meta(meta, self.modern_versions)
            ctx.protocol_version = fields.protocol_version or ""
            ctx.client_capabilities = fields.client_capabilities or ClientCapabilities()
            ctx.client_info = fields.client_info
            ctx.log_level = fields.log_level
        else:
            if self.legacy_version is None:
                raise McpError(INVALID_PARAMS, "Invalid params: the session is not initialized")
            ctx.protocol_version = self.legacy_version
            ctx.client_capabilities = self.legacy_caps
            ctx.log_level = self.log_level  # type: ignore[assignment]
        handler = getattr(self, "_" + method.replace("/", "_"), None)
        if handler is None:
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")
        raw = method == "tools/call" and params.get("name") in self.raw_tools
        if method in ("tools/call", "prompts/get", "resources/read") and modern and not raw:
            salient = {
                k: v
                for k, v in params.items()
                if k not in ("_meta", "inputResponses", "requestState")
            }
            ctx.begin_input_round(
                self.sealer,
                binding_of(method, salient),
                request_state=params.get("requestState"),
                input_responses=params.get("inputResponses"),
            )

        async def run() -> Any:
            try:
                return await handler(ctx, params)
            except trio.Cancelled:
                self.cancelled.append(method)
                raise

        return run

    def _initialize(self, ctx: McpContext, params: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        if self.era == "modern":
            raise McpError(
                METHOD_NOT_FOUND, "Method not found: initialize (this server speaks 2026-07-28)"
            )
        version = negotiate_version(params["protocolVersion"], self.legacy_versions)
        self.legacy_version = version
        self.legacy_caps = convert(params.get("capabilities", {}), ClientCapabilities)
        ctx.protocol_version = version

        async def run() -> InitializeResult:
            return InitializeResult(
                protocol_version=version,
                capabilities=self.capabilities(False),
                server_info=SERVER_INFO,
                instructions=self.instructions,
            )

        return run

    # -- handlers (modern and legacy share them) -----------------------------------------

    async def _server_discover(self, ctx: McpContext, params: dict[str, Any]) -> DiscoverResult:
        if self.discover_delay:
            await trio.sleep(self.discover_delay)
        return DiscoverResult(
            supported_versions=self.modern_versions,
            capabilities=self.capabilities(True),
            instructions=self.instructions,
        )

    async def _ping(self, ctx: McpContext, params: dict[str, Any]) -> Result:
        return Result()

    async def _logging_setLevel(self, ctx: McpContext, params: dict[str, Any]) -> Result:
        self.log_level = params["level"]
        return Result()

    def _page(self, items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
        if self.page_size is None:
            return items, None
        start = int(params.get("cursor") or 0)
        end = start + self.page_size
        return items[start:end], (str(end) if end < len(items) else None)

    async def _tools_list(self, ctx: McpContext, params: dict[str, Any]) -> ListToolsResult:
        page, cursor = self._page(self.tool_defs, params)
        return ListToolsResult(tools=page, next_cursor=cursor)

    async def _tools_call(self, ctx: McpContext, params: dict[str, Any]) -> Any:
        name = params["name"]
        args = params.get("arguments") or {}
        modern = ctx.protocol_version >= "2026-07-28"
        if name in self.task_tools:
            wants_ext = modern and ext_tasks.TASKS_EXTENSION in (
                ctx.client_capabilities.extensions or {}
            )
            if wants_ext or (not modern and "task" in params):
                return self._start_task(name, args, modern)
            return await self.task_tools[name](FakeTask("inline"), args)
        fn = self.tools.get(name)
        if fn is None:
            raise ProtocolError(INVALID_PARAMS, f"Unknown tool: {name}")
        return await fn(ctx, args)

    def _start_task(self, name: str, args: dict[str, Any], modern: bool) -> Any:
        task = FakeTask(f"task-{next(self._ids)}")
        self.tasks[task.task_id] = task

        async def run() -> None:
            with task.scope:
                try:
                    task.result = await self.task_tools[name](task, args)
                    task.status = "completed"
                except McpError as error:
                    task.error = error.to_error()
                    task.status = "failed"
            if task.scope.cancelled_caught:
                task.status = "cancelled"
            task.done.set()

        assert self._nursery is not None
        self._nursery.start_soon(run)
        if modern:
            return ext_tasks.CreateTaskResult(result_type=ext_tasks.RESULT_TASK, **task.ext_state())
        return CreateTaskResult(task=task.legacy_task())

    def _task(self, params: dict[str, Any]) -> FakeTask:
        task = self.tasks.get(params.get("taskId", ""))
        if task is None:
            raise McpError(INVALID_PARAMS, "Failed to retrieve task: Task not found")
        return task

    async def _tasks_get(self, ctx: McpContext, params: dict[str, Any]) -> Any:
        task = self._task(params)
        if ctx.protocol_version < "2026-07-28":
            return GetTaskResult(**msgspec.structs.asdict(task.legacy_task()))
        extra: dict[str, Any] = {}
        if task.status == "input_required":
            extra["input_requests"] = dict(task.input_requests)
        if task.status == "completed":
            extra["result"] = msgspec.to_builtins(task.result)
        if task.status == "failed":
            extra["error"] = task.error
        return ext_tasks.GetTaskResult(**task.ext_state(), **extra)

    async def _tasks_update(self, ctx: McpContext, params: dict[str, Any]) -> Result:
        task = self._task(params)
        for key, answer in (params.get("inputResponses") or {}).items():
            if task.input_requests.pop(key, None) is not None:
                task.answers[key] = answer
        if not task.input_requests and task.status == "input_required":
            task.status = "working"
        changed, task.changed = task.changed, trio.Event()
        changed.set()
        return Result()

    async def _tasks_cancel(self, ctx: McpContext, params: dict[str, Any]) -> Any:
        task = self._task(params)
        if ctx.protocol_version >= "2026-07-28":
            task.scope.cancel()
            await task.done.wait()
            return Result()
        if task.status in ("completed", "failed", "cancelled"):
            raise McpError(INVALID_PARAMS, f"Cannot cancel task: already {task.status}")
        task.scope.cancel()
        await task.done.wait()
        return CancelTaskResult(**msgspec.structs.asdict(task.legacy_task()))

    async def _tasks_result(self, ctx: McpContext, params: dict[str, Any]) -> Any:
        task = self._task(params)
        await task.done.wait()
        if task.error is not None:
            raise McpError(task.error.code, task.error.message)
        return task.result

    async def _tasks_list(self, ctx: McpContext, params: dict[str, Any]) -> ListTasksResult:
        return ListTasksResult(tasks=[t.legacy_task() for t in self.tasks.values()])

    async def _resources_list(self, ctx: McpContext, params: dict[str, Any]) -> ListResourcesResult:
        items = [Resource(uri=uri, name=uri.rsplit("/", 1)[-1]) for uri in self.resources]
        page, cursor = self._page(items, params)
        return ListResourcesResult(resources=page, next_cursor=cursor)

    async def _resources_templates_list(
        self, ctx: McpContext, params: dict[str, Any]
    ) -> ListResourceTemplatesResult:
        template = ResourceTemplate(uri_template="mem://{name}", name="mem")
        return ListResourceTemplatesResult(resource_templates=[template])

    async def _resources_read(self, ctx: McpContext, params: dict[str, Any]) -> Any:
        uri = params["uri"]
        if uri == "mem://secret":
            answer = await ctx.elicit("Password?", {"properties": {"ok": {"type": "boolean"}}})
            return ReadResourceResult(
                contents=[TextResourceContents(uri=uri, text=str(answer.data))]
            )
        if uri not in self.resources:
            raise ProtocolError(INVALID_PARAMS, f"Resource not found: {uri}")
        return ReadResourceResult(
            contents=[TextResourceContents(uri=uri, text=self.resources[uri])]
        )

    async def _resources_subscribe(self, ctx: McpContext, params: dict[str, Any]) -> Result:
        self.subscribed.add(params["uri"])
        return Result()

    async def _resources_unsubscribe(self, ctx: McpContext, params: dict[str, Any]) -> Result:
        self.subscribed.discard(params["uri"])
        return Result()

    async def _subscriptions_listen(self, ctx: McpContext, params: dict[str, Any]) -> Any:
        wanted = convert(params["notifications"], SubscriptionFilter)
        sid = ctx.request_id
        listener = self.listeners[sid] = Listener(sid, wanted)
        accepted = SubscriptionsAcknowledgedNotificationParams(
            notifications=wanted, meta={META_SUBSCRIPTION_ID: sid}
        )
        assert self.session is not None
        await self.session.notify("notifications/subscriptions/acknowledged", accepted, related=sid)
        try:
            await listener.ended.wait()
        finally:
            self.listeners.pop(sid, None)
        return SubscriptionsListenResult(meta={META_SUBSCRIPTION_ID: sid})

    async def _prompts_list(self, ctx: McpContext, params: dict[str, Any]) -> ListPromptsResult:
        items = [Prompt(name=name) for name in self.prompts]
        page, cursor = self._page(items, params)
        return ListPromptsResult(prompts=page, next_cursor=cursor)

    async def _prompts_get(self, ctx: McpContext, params: dict[str, Any]) -> GetPromptResult:
        fn = self.prompts.get(params["name"])
        if fn is None:
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {params['name']}")
        return await fn(ctx, params.get("arguments") or {})

    async def _completion_complete(self, ctx: McpContext, params: dict[str, Any]) -> CompleteResult:
        value = params["argument"]["value"]
        names = [n for n in ("alpha", "beta", "alpine") if n.startswith(value)]
        return CompleteResult(completion=Completion(values=names, total=len(names)))

    # -- pushing notifications -----------------------------------------------------------

    async def resource_updated(self, uri: str) -> None:
        """Tell subscribers that ``uri`` changed (whichever era they subscribed in)."""
        assert self.session is not None
        for sid, listener in list(self.listeners.items()):
            if uri in (listener.filter.resource_subscriptions or ()):
                params = {"uri": uri, "_meta": {META_SUBSCRIPTION_ID: sid}}
                await self.session.notify("notifications/resources/updated", params, related=sid)
        if uri in self.subscribed:
            await self.session.notify("notifications/resources/updated", {"uri": uri})

    async def tools_changed(self) -> None:
        assert self.session is not None
        for sid, listener in list(self.listeners.items()):
            if listener.filter.tools_list_changed:
                params = {"_meta": {META_SUBSCRIPTION_ID: sid}}
                await self.session.notify("notifications/tools/list_changed", params, related=sid)
        if self.legacy_version is not None:
            await self.session.notify("notifications/tools/list_changed")


def prompt_text(value: str) -> GetPromptResult:
    return GetPromptResult(messages=[PromptMessage(role="user", content=TextContent(text=value))])


def sent(server: FakeServer, method: str) -> list[dict[str, Any]]:
    """The params of every ``method`` request the server received, in order."""
    return [params for m, params in server.requests if m == method]
