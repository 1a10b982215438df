"""McpContext: the capability a handler receives for one request.

Every effect a handler has on the protocol goes through its context: checking for
cancellation, spending its budget, starting child tasks, reporting progress, logging
to the client, asking the client for input. The context also carries what the
handler may know about its caller (request id, client info and capabilities,
protocol version) and what the server gives it (lifespan state, injected
dependencies). There is no ambient authority: a handler without a context can do
none of this.

Cancellation: a request is cancelled when the client cancels it, when its budget
runs out, or when the session shuts down. The request's trio cancel scope is then
cancelled, so the handler stops at its next await; ``checkpoint`` is an explicit
await that also spends one poll of the budget. ``masked`` defers cancellation over a
critical section: it lands at the first checkpoint after the section.
"""

from __future__ import annotations

import math
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload

import attrs
import msgspec
import trio

from fastmcp_core._budget import Budget
from fastmcp_core._errors import MissingCapability, ProtocolError
from fastmcp_core._forms import form_schema, read_form
from fastmcp_core._mrtr import RequestStateSealer
from fastmcp_core._outcome import CancelReason, InputRequired
from fastmcp_protocol import (
    INVALID_PARAMS,
    LATEST_PROTOCOL_VERSION,
    UNSET,
    CallToolResult,
    ClientCapabilities,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitationCapability,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    GetPromptResult,
    Implementation,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    LoggingLevel,
    LoggingMessageNotificationParams,
    ModelPreferences,
    ProgressNotificationParams,
    ProgressToken,
    Prompt,
    ReadResourceResult,
    RequestId,
    Resource,
    ResourceTemplate,
    Root,
    RootsCapability,
    SamplingCapability,
    SamplingMessage,
    TextContent,
    Tool,
    ToolChoice,
    convert,
    is_modern,
)

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ContextHost", "Elicited", "HttpRequestInfo", "McpContext", "Peer"]

T = TypeVar("T")
D = TypeVar("D")

_LEVELS: dict[str, int] = {
    "debug": 0, "info": 1, "notice": 2, "warning": 3,
    "error": 4, "critical": 5, "alert": 6, "emergency": 7,
}  # fmt: skip

# methods whose results may ask for input in the modern era (MRTR)
_INPUT_CAPABLE = frozenset({"tools/call", "prompts/get", "resources/read"})


class Peer(Protocol):
    """What a context needs from its session: send notifications and requests."""

    async def notify(
        self, method: str, params: Any, *, related: RequestId | None = None
    ) -> None: ...

    async def request(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        related: RequestId | None = None,
        timeout: float | None = None,
    ) -> T: ...


class ContextHost(Protocol):
    """The server that runs a request, as the request's context reaches it: its
    components (as this request's session sees them) and the session's visibility
    rules. The server fills ``McpContext.host`` in; see the ``McpContext`` methods
    that use it (``read_resource``, ``call_tool``, ``enable_components``...)."""

    async def change_visibility(
        self, ctx: McpContext, enable: bool | None, criteria: Mapping[str, Any]
    ) -> None:
        """Add a rule for this session (``enable``: offer or hide what ``criteria``
        match), or forget its rules (``enable is None``); tell the session the lists
        changed."""

    async def read_resource(self, ctx: McpContext, uri: str) -> ReadResourceResult: ...

    async def get_prompt(
        self, ctx: McpContext, name: str, arguments: Mapping[str, Any] | None
    ) -> GetPromptResult: ...

    async def call_tool(
        self, ctx: McpContext, name: str, arguments: Mapping[str, Any] | None
    ) -> CallToolResult: ...

    def list_components(self, ctx: McpContext, kind: str) -> list[Any]:
        """The definitions of ``kind`` (``"tools"``, ``"resources"``, ``"templates"``,
        ``"prompts"``) this request's session sees."""
        ...


@attrs.frozen
class Elicited(Generic[T]):
    """The user's answer to an elicitation.

    ``data`` is the accepted content (of the type the form was made from, or a dict),
    ``None`` unless ``action == "accept"``.
    """

    action: Literal["accept", "decline", "cancel"]
    data: T | None = None

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


_NO_CAPABILITIES = ClientCapabilities()
_NO_SCHEMA: Any = object()
_NOTHING: Mapping[Any, Any] = MappingProxyType({})


@attrs.define(eq=False, slots=True, repr=False)
class _Region:
    """The children a request spawned (started lazily in the session's nursery).

    Invariants: ``count`` is the number of children not yet ended; ``done`` is set
    exactly when ``count`` is 0 (a child spawned after the others ended gets a fresh,
    unset ``done``); ``errors`` holds every exception a child raised, in order.
    """

    scopes: set[trio.CancelScope] = attrs.field(factory=set)
    count: int = 0
    done: trio.Event = attrs.field(factory=trio.Event)
    errors: list[BaseException] = attrs.field(factory=list)


Asker = Callable[[Mapping[str, InputRequest]], Awaitable[dict[str, Any]]]
"""Asks the client for several inputs; their results by key."""


class TaskHooks(Protocol):
    """What a task run decides for the context it runs in (``McpContext.derive``)."""

    async def start(self, status_message: str | None) -> None:
        """``ctx.start_task()``: become a task now (a no-op once it is one)."""

    async def ask(self, requests: Mapping[str, InputRequest], directly: Asker) -> dict[str, Any]:
        """``ctx.ask(...)``: ``directly`` asks in the request's own era (what a call
        that is not a task yet does); a task may instead put itself in
        ``input_required`` and wait for the answers."""
        ...


@attrs.define(eq=False, slots=True, repr=False)
class _InputRound:
    """The modern-era input state of this run: answers so far and where they came from."""

    sealer: RequestStateSealer
    binding_of: Callable[[], str]  # computed only when state is opened or sealed
    principal: str | None
    answers: dict[str, Any]  # from requestState (verified) and inputResponses
    asked: int = 0


@attrs.frozen
class HttpRequestInfo:
    """The HTTP request a handler serves (``ctx.http``): for a 2026-07-28 request its
    own POST, for a legacy session's request the POST that carried it (not the
    session's first one); ``None`` off HTTP (stdio, in memory)."""

    headers: Mapping[str, str]
    """The request's headers, lower-cased names (repeated ones joined with ``", "``)."""
    client: tuple[str, int] | None = None
    """The peer's address and port as the HTTP server saw it (behind a reverse proxy:
    the proxy's; its ``X-Forwarded-For`` is in ``headers``)."""

    def header(self, name: str, default: str | None = None) -> str | None:
        """One header's value, by any spelling of its name."""
        return self.headers.get(name.lower(), default)


@attrs.define(eq=False, slots=True, repr=False)
class McpContext:
    """The context of one request. Created by the runtime; read its attributes, call
    its methods. ``McpContext.for_testing()`` makes one for unit tests."""

    request_id: RequestId | None
    """The JSON-RPC id of the request (``None`` for a notification)."""
    method: str
    """The JSON-RPC method, e.g. ``"tools/call"``."""
    _peer: Peer | None = attrs.field(alias="peer", default=None)
    _cancel_scope: trio.CancelScope | None = attrs.field(alias="scope", default=None)
    """The request's cancel scope; made when first needed (``_scope``)."""
    _budget: Budget = attrs.field(alias="budget", default=Budget.INFINITE)
    _nursery: trio.Nursery | None = attrs.field(alias="nursery", default=None)
    _cancel_reason: CancelReason | None = attrs.field(default=None, init=False)
    _cancel_message: str | None = attrs.field(default=None, init=False)
    progress_token: ProgressToken | None = None
    """The token of the requester's ``_meta.progressToken``, if it asked for progress."""
    protocol_version: str = LATEST_PROTOCOL_VERSION
    """The protocol version this request is served under."""
    client_info: Implementation | None = None
    """What the client says it is (self-reported; never use it for security)."""
    client_capabilities: ClientCapabilities = attrs.field(default=_NO_CAPABILITIES)
    """The capabilities the client declared (per request from 2026-07-28 on)."""
    log_level: LoggingLevel | None = None
    """The lowest level of log messages the client wants; ``None`` sends none."""
    meta: Mapping[str, Any] = attrs.field(default=_NOTHING)
    """The request's whole ``_meta`` (reserved keys and your own)."""
    lifespan: Any = None
    """What the server's lifespan yielded (``None`` without a lifespan)."""
    dependencies: Mapping[type, Any] = attrs.field(default=_NOTHING)
    """What the server injects by type (read one with ``dependency``)."""
    principal: Any = None
    """The authenticated caller on HTTP with authorization, else ``None``."""
    session_id: str | None = None
    """The legacy session this request belongs to (HTTP ``Mcp-Session-Id``), if any."""
    http: HttpRequestInfo | None = None
    """The HTTP request this request came in (headers, the client's address); ``None``
    off HTTP."""
    host: ContextHost | None = None
    """The server running this request (the server fills it in; ``None`` elsewhere)."""
    session_state: dict[str, Any] | None = None
    """State kept for the session this request belongs to, across its requests: the
    connection's (stdio, in-memory, a legacy HTTP session; one stateless 2026-07-28
    HTTP request is a connection of its own). The server fills it in."""
    _state: dict[str, Any] | None = attrs.field(default=None, init=False)
    _input: _InputRound | None = attrs.field(default=None, init=False)
    _spawner: trio.Nursery | None = attrs.field(alias="spawner", default=None)
    _region: _Region | None = attrs.field(default=None, init=False)
    _task: TaskHooks | None = attrs.field(default=None, init=False)

    def __repr__(self) -> str:
        return f"<McpContext {self.method} request {self.request_id!r}>"

    @property
    def _scope(self) -> trio.CancelScope:
        """The request's cancel scope, made (with the budget's deadline) when first
        needed: a request the engine serves without one pays nothing for it."""
        scope = self._cancel_scope
        if scope is None:
            scope = self._cancel_scope = trio.CancelScope(deadline=self._budget.deadline)
        return scope

    @_scope.setter
    def _scope(self, scope: trio.CancelScope | None) -> None:
        self._cancel_scope = scope

    # -- cancellation and budget -----------------------------------------------------

    def budget(self) -> Budget:
        """What is left of this request's budget."""
        return self._budget

    def restrict(self, budget: Budget) -> None:
        """Tighten this request's budget (a per-handler timeout, say); never loosens."""
        self._budget = self._budget.meet(budget)
        self._scope.deadline = self._budget.deadline
        if self._region is not None:
            for scope in self._region.scopes:
                scope.deadline = self._budget.deadline
        if self._budget.poll_quota <= 0 or self._budget.cost_quota <= 0:
            self._cancel(CancelReason.BUDGET)

    def is_cancelled(self) -> bool:
        """Whether the request was cancelled (by the client, its budget or a shutdown).

        Safe to call from a worker thread.
        """
        try:
            now = trio.current_time()
        except RuntimeError:  # not the trio thread (trio's own scope checks need it)
            return _thread_cancelled()
        if self._scope.cancel_called:
            return True
        return now >= self._budget.deadline

    @property
    def cancel_reason(self) -> CancelReason | None:
        """Why the request was cancelled; ``None`` while it was not."""
        if self._cancel_reason is not None:
            return self._cancel_reason
        if self._scope.cancel_called:
            return CancelReason.BUDGET  # only the deadline cancels without a reason
        return None

    async def checkpoint(self) -> None:
        """Spend one poll of the budget and let cancellation in.

        Raises ``trio.Cancelled`` if the request was cancelled or its budget is spent;
        the runtime turns that into the right answer for the client. Also yields to
        other tasks, so a CPU-bound loop that checkpoints stays cancellable.
        """
        self._spend_poll()
        await trio.lowlevel.checkpoint()

    def checkpoint_sync(self) -> None:
        """``checkpoint`` for a sync handler running in a worker thread.

        Raises ``trio.Cancelled`` in the thread once the request is cancelled. Only
        valid in threads started by the runtime (``trio.to_thread``); in the trio
        thread use ``await ctx.checkpoint()``.
        """
        try:
            trio.from_thread.check_cancelled()
        except RuntimeError:
            raise RuntimeError(
                "checkpoint_sync() works in worker threads; await ctx.checkpoint() instead"
            ) from None
        if self._budget.poll_quota != math.inf:
            if self._budget.poll_quota < 1:
                trio.from_thread.run_sync(self._cancel, CancelReason.BUDGET)
                trio.from_thread.check_cancelled()
            self._budget = self._budget.consume_poll()

    def consume(self, cost: float) -> None:
        """Spend ``cost`` units of the budget's cost quota.

        When the quota cannot cover it, the request is cancelled (it lands at the next
        await) and the client gets a timeout error.
        """
        if cost > self._budget.cost_quota:
            self._budget = attrs.evolve(self._budget, cost_quota=0)
            self._cancel(CancelReason.BUDGET)
            return
        self._budget = self._budget.consume(cost)

    @contextmanager
    def masked(self) -> Iterator[None]:
        """A critical section that cancellation cannot interrupt.

        Cancellation requested meanwhile (by the client, the budget, a shutdown) is
        delivered at the first checkpoint after the section. Keep sections short: a
        deadline cannot stop them either.
        """
        with trio.CancelScope(shield=True):
            yield

    def _spend_poll(self) -> None:
        if self._budget.poll_quota == math.inf:
            return
        if self._budget.poll_quota < 1:
            self._cancel(CancelReason.BUDGET)
            return
        self._budget = self._budget.consume_poll()

    def _cancel(self, reason: CancelReason, message: str | None = None) -> None:
        """Cancel the request (the runtime calls this; handlers return or raise)."""
        if self._cancel_reason is None:
            self._cancel_reason = reason
            self._cancel_message = message
        self._scope.cancel()
        self._cancel_children()

    def _cancel_children(self) -> None:
        if self._region is not None:
            for scope in self._region.scopes:
                scope.cancel()

    # -- structured concurrency ------------------------------------------------------

    def spawn(self, async_fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Start ``async_fn(*args)`` as a child of this request.

        The request ends only when all its children end; cancelling the request
        cancels them; an exception in a child cancels the request and its siblings.
        """
        if self._nursery is not None:
            self._nursery.start_soon(async_fn, *args)
            return
        if self._spawner is None:
            raise RuntimeError(
                "this context has no task region: use `async with McpContext.for_testing() as ctx`"
            )
        # Children start in the session's nursery and are tracked here: no nursery per
        # request (a request that spawns nothing pays nothing for the ability to).
        region = self._region
        if region is None:
            region = self._region = _Region()
        elif region.count == 0:
            region.done = trio.Event()  # the earlier children ended: wait for this one
        region.count += 1
        self._spawner.start_soon(self._child, region, async_fn, args)

    async def _child(
        self, region: _Region, async_fn: Callable[..., Awaitable[object]], args: tuple[object, ...]
    ) -> None:
        scope = trio.CancelScope(deadline=self._scope.deadline)
        region.scopes.add(scope)
        if self._scope.cancel_called:
            scope.cancel()
        try:
            with scope:
                await async_fn(*args)
        except trio.Cancelled:
            raise  # from outside the request: the session is shutting down
        except BaseException as exc:
            region.errors.append(exc)
            self._scope.cancel()
            self._cancel_children()
        finally:
            region.scopes.discard(scope)
            region.count -= 1
            if region.count == 0:
                region.done.set()

    # -- progress and logging --------------------------------------------------------

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Tell the requester how far along the request is.

        A no-op when the requester did not ask for progress (no progress token).
        ``progress`` should increase with every call.
        """
        if self.progress_token is None or self._peer is None:
            return
        params = ProgressNotificationParams(
            progress_token=self.progress_token, progress=progress, total=total, message=message
        )
        await self._peer.notify("notifications/progress", params, related=self.request_id)

    async def log(self, level: LoggingLevel, data: Any, *, logger: str | None = None) -> None:
        """Send a log message to the client if it wants messages of ``level``.

        Legacy era: the level the client set with ``logging/setLevel``; modern era:
        the request's ``io.modelcontextprotocol/logLevel`` (absent: no messages).
        ``data`` is any JSON value.
        """
        wanted = self.log_level
        if wanted is None or self._peer is None or _LEVELS[level] < _LEVELS[wanted]:
            return
        params = LoggingMessageNotificationParams(level=level, data=data, logger=logger)
        await self._peer.notify("notifications/message", params, related=self.request_id)

    async def debug(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("debug", data, logger=logger)

    async def info(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("info", data, logger=logger)

    async def notice(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("notice", data, logger=logger)

    async def warning(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("warning", data, logger=logger)

    async def error(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("error", data, logger=logger)

    async def critical(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("critical", data, logger=logger)

    def release_stream(self) -> bool:
        """End the HTTP response carrying this request's messages now; the client
        reconnects (``Last-Event-ID``) and receives the rest when it is ready.

        For long requests on resumable legacy Streamable HTTP (SSE polling). Returns
        whether a response was ended; a no-op (``False``) on other transports.
        """
        transport = getattr(self._peer, "transport", None)
        close = getattr(transport, "close_sse_stream", None)
        return bool(close(self.request_id)) if close is not None else False

    # -- tasks -----------------------------------------------------------------------

    async def start_task(self, status_message: str | None = None) -> None:
        """Continue this tool call as a task: the client gets a task handle now and
        polls for the result; the handler goes on running.

        For tools registered with task support whose client opted in to tasks; a
        no-op otherwise (the call simply goes on synchronously). Questions asked
        before (``elicit``...) are answered synchronously; after, they put the task in
        ``input_required`` until the client answers.
        """
        if self._task is not None:
            await self._task.start(status_message)

    @property
    def is_task(self) -> bool:
        """Whether this call runs (or may run) as a task."""
        return self._task is not None

    def derive(self, *, scope: trio.CancelScope, task: TaskHooks | None = None) -> McpContext:
        """A context for work of this request that may outlive it (a task run): the
        same request, client, principal, dependencies and input round, with its own
        cancel scope (``scope``), no budget, and ``task`` deciding what
        ``start_task()`` and questions to the client do (see ``TaskHooks``). For the
        runtime (``fastmcp_server``'s tasks); handlers get theirs made for them."""
        derived = McpContext(
            request_id=self.request_id,
            method=self.method,
            peer=self._peer,
            scope=scope,
            protocol_version=self.protocol_version,
            client_info=self.client_info,
            client_capabilities=self.client_capabilities,
            log_level=self.log_level,
            meta=self.meta,
            lifespan=self.lifespan,
            dependencies=self.dependencies,
            principal=self.principal,
            session_id=self.session_id,
            http=self.http,
            progress_token=self.progress_token,
            host=self.host,
            session_state=self.session_state,
        )
        derived._state = self.state
        derived._input = self._input
        derived._task = task
        return derived

    @asynccontextmanager
    async def region(self) -> AsyncIterator[None]:
        """Run the block as this context's task region: what ``spawn`` starts inside
        it is a child of the block, which ends when they end (a nursery). For work the
        runtime runs outside a request's own region (a task run)."""
        async with trio.open_nursery() as nursery:
            previous, self._nursery = self._nursery, nursery
            try:
                yield
            finally:
                self._nursery = previous

    # -- dependencies ----------------------------------------------------------------

    def dependency(self, type_: type[D]) -> D:
        """The injected dependency of ``type_`` (registered on the server)."""
        try:
            return self.dependencies[type_]  # type: ignore[no-any-return]
        except KeyError:
            raise LookupError(f"no dependency of type {type_.__name__} is registered") from None

    # -- state -----------------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        """State of this request only: what middleware leaves for the handler, what
        one dependency leaves for another. Gone when the request ends."""
        state = self._state
        if state is None:
            state = self._state = {}
        return state

    async def set_state(self, key: str, value: Any, *, serializable: bool = True) -> None:
        """Keep ``value`` under ``key`` in the session's state (``session_state``), or
        with ``serializable=False`` in this request's (``state``). The spelling of
        PrefectHQ fastmcp; ``ctx.session_state[key] = value`` is the same."""
        if serializable and self.session_state is not None:
            self.session_state[key] = value
            self.state.pop(key, None)
        else:
            self.state[key] = value

    async def get_state(self, key: str, default: Any = None) -> Any:
        """The value under ``key``: this request's state first, then the session's;
        ``default`` when neither has it."""
        state = self._state
        if state is not None and key in state:
            return state[key]
        if self.session_state is not None:
            return self.session_state.get(key, default)
        return default

    async def delete_state(self, key: str) -> None:
        """Forget ``key`` in this request's state and the session's."""
        if self._state is not None:
            self._state.pop(key, None)
        if self.session_state is not None:
            self.session_state.pop(key, None)

    # -- the server's own components -------------------------------------------------

    def _host(self) -> ContextHost:
        if self.host is None:
            raise RuntimeError("this context belongs to no server request")
        return self.host

    async def read_resource(self, uri: str) -> ReadResourceResult:
        """Read one of this server's resources (mounted servers' included, as this
        session sees them), as a client would - without the server's middleware.
        ``McpError`` when there is none at ``uri``."""
        return await self._host().read_resource(self, uri)

    async def get_prompt(
        self, name: str, arguments: Mapping[str, Any] | None = None
    ) -> GetPromptResult:
        """Get one of this server's prompts (see ``read_resource``)."""
        return await self._host().get_prompt(self, name, arguments)

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None
    ) -> CallToolResult:
        """Call one of this server's tools (see ``read_resource``) in this request: its
        result, or what it raised (a ``ToolError`` stays an exception here)."""
        return await self._host().call_tool(self, name, arguments)

    async def list_tools(self) -> list[Tool]:
        """The tools this session sees."""
        return self._host().list_components(self, "tools")

    async def list_resources(self) -> list[Resource]:
        """The resources this session sees."""
        return self._host().list_components(self, "resources")

    async def list_resource_templates(self) -> list[ResourceTemplate]:
        """The resource templates this session sees."""
        return self._host().list_components(self, "templates")

    async def list_prompts(self) -> list[Prompt]:
        """The prompts this session sees."""
        return self._host().list_components(self, "prompts")

    # -- what this session sees ------------------------------------------------------

    async def enable_components(
        self,
        *,
        names: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        version: Any = None,
        components: Iterable[str] | None = None,
        match_all: bool = False,
    ) -> None:
        """Offer what matches to this session only (the criteria of
        ``Server.disable``), over the server's own rules; the session is told its
        lists changed (only the kinds named in ``components``, if given). In both
        eras: a 2026-07-28 client hears it on its ``subscriptions/listen`` stream.
        A session's rules last as long as its connection (one request on stateless
        HTTP)."""
        criteria = {
            "names": names, "keys": keys, "tags": tags, "version": version,
            "components": components, "match_all": match_all,
        }  # fmt: skip
        await self._host().change_visibility(self, True, criteria)

    async def disable_components(
        self,
        *,
        names: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        version: Any = None,
        components: Iterable[str] | None = None,
        match_all: bool = False,
    ) -> None:
        """Hide what matches from this session only (see ``enable_components``)."""
        criteria = {
            "names": names, "keys": keys, "tags": tags, "version": version,
            "components": components, "match_all": match_all,
        }  # fmt: skip
        await self._host().change_visibility(self, False, criteria)

    async def reset_visibility(self) -> None:
        """Forget this session's rules: it sees what the server offers everyone."""
        await self._host().change_visibility(self, None, {})

    # -- asking the client -----------------------------------------------------------

    async def ask(self, requests: Mapping[str, InputRequest]) -> dict[str, Any]:
        """Ask the client for several inputs at once; their results by key.

        Legacy era: each is a server-to-client request (sent concurrently). Modern
        era: if any answer is missing, this round of the request ends with an
        ``InputRequiredResult`` listing what is missing, and the handler runs again
        when the client retries with the answers; handlers need no code for that, but
        they must be deterministic up to their asks (the same asks in the same
        order). Raises ``MissingCapability`` when the client did not declare what a
        request needs.
        """
        for request in requests.values():
            self._require_capability(request)
        if self._task is not None:  # a task: its status may say what it waits for
            return await self._task.ask(requests, self._ask_directly)
        return await self._ask_directly(requests)

    async def _ask_directly(self, requests: Mapping[str, InputRequest]) -> dict[str, Any]:
        """``ask`` in this request's own era: server-to-client requests, or an
        input-required round."""
        if is_modern(self.protocol_version):
            return self._modern_ask(requests)
        return await self._legacy_ask(requests)

    @overload
    async def elicit(
        self, message: str, schema: type[T], *, key: str | None = None
    ) -> Elicited[T]: ...
    @overload
    async def elicit(
        self, message: str, schema: dict[str, Any] = ..., *, key: str | None = None
    ) -> Elicited[dict[str, Any]]: ...
    @overload
    async def elicit(
        self, message: str, *, response_type: type[T], key: str | None = None
    ) -> Elicited[T]: ...
    @overload
    async def elicit(
        self, message: str, *, response_type: Any, key: str | None = None
    ) -> Elicited[Any]: ...
    async def elicit(
        self,
        message: str,
        schema: Any = _NO_SCHEMA,
        *,
        response_type: Any = _NO_SCHEMA,
        key: str | None = None,
    ) -> Elicited[Any]:
        """Ask the user to fill a form and return the action and, when accepted, the
        answer as ``schema`` asked for it (``response_type=`` says the same, in
        PrefectHQ fastmcp's words):

        * an object type (a Struct, dataclass, attrs class or TypedDict of primitive
          fields): an instance of it;
        * one value - ``str``, ``int``, ``float``, ``bool``, a ``Literal``, an ``Enum``, a
          list of choices (``["low", "high"]``, several: ``[["a", "b"]]``, with titles:
          ``{"low": {"title": "Low"}}``): that value;
        * a JSON Schema dict: the content as a dict; nothing: the content
          (``response_type=None``: ``None``, the user only accepts or declines).

        Choices keep the order they were declared in. ``key`` names the question in a
        modern-era input round (default: derived from the order of the handler's
        questions).
        """
        if response_type is not _NO_SCHEMA:
            if schema is not _NO_SCHEMA:
                raise TypeError("give schema or response_type, not both")
            schema = response_type
        elif schema is _NO_SCHEMA:
            schema = {"properties": {}}
        requested = form_schema(schema)
        key = key or self._next_key("elicit")
        request = ElicitRequest(
            params=ElicitRequestFormParams(message=message, requested_schema=requested)
        )
        raw = (await self.ask({key: request}))[key]
        result = raw if isinstance(raw, ElicitResult) else convert(raw, ElicitResult)
        if result.action != "accept":
            return Elicited(result.action)
        return Elicited("accept", read_form(result.content, schema))

    async def elicit_url(
        self, message: str, url: str, *, elicitation_id: str | None = None
    ) -> Elicited[None]:
        """Send the user to ``url`` (out-of-band, e.g. an OAuth consent page).

        Returns whether the user agreed to open it; completion is reported separately.
        """
        key = self._next_key("elicit")
        legacy_id = None if is_modern(self.protocol_version) else (elicitation_id or key)
        request = ElicitRequest(
            params=ElicitRequestURLParams(message=message, url=url, elicitation_id=legacy_id)
        )
        raw = (await self.ask({key: request}))[key]
        result = raw if isinstance(raw, ElicitResult) else convert(raw, ElicitResult)
        return Elicited(result.action)

    async def sample(
        self,
        messages: str | Sequence[SamplingMessage],
        *,
        max_tokens: int = 1024,
        system_prompt: str | None = None,
        temperature: float | None = None,
        model_preferences: ModelPreferences | None = None,
        stop_sequences: list[str] | None = None,
        include_context: Literal["none", "thisServer", "allServers"] | None = None,
        tools: list[Tool] | None = None,
        tool_choice: ToolChoice | None = None,
        metadata: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> CreateMessageResult:
        """Ask the client's LLM for a completion (``sampling/createMessage``).

        ``messages`` may be a plain string (one user message).
        """
        if isinstance(messages, str):
            messages = [SamplingMessage(role="user", content=TextContent(text=messages))]
        params = CreateMessageRequestParams(
            messages=list(messages),
            max_tokens=max_tokens,
            system_prompt=system_prompt,
            temperature=temperature,
            model_preferences=model_preferences,
            stop_sequences=stop_sequences,
            include_context=include_context,
            tools=tools,
            tool_choice=tool_choice,
            metadata=metadata,
        )
        key = key or self._next_key("sample")
        raw = (await self.ask({key: CreateMessageRequest(params=params)}))[key]
        return raw if isinstance(raw, CreateMessageResult) else convert(raw, CreateMessageResult)

    async def list_roots(self, *, key: str | None = None) -> list[Root]:
        """The client's roots (``roots/list``)."""
        key = key or self._next_key("roots")
        raw = (await self.ask({key: ListRootsRequest()}))[key]
        result = raw if isinstance(raw, ListRootsResult) else convert(raw, ListRootsResult)
        return result.roots

    def _next_key(self, kind: str) -> str:
        round_ = self._input
        if round_ is None:
            round_ = self._input = _InputRound(RequestStateSealer(), _no_binding, None, {})
        round_.asked += 1
        return f"{kind}-{round_.asked}"

    def _require_capability(self, request: InputRequest) -> None:
        caps = self.client_capabilities
        if isinstance(request, ElicitRequest):
            mode = "url" if isinstance(request.params, ElicitRequestURLParams) else "form"
            el = caps.elicitation
            # an empty elicitation capability means form support (2025-06-18 shape)
            ok = el is not None and (
                (mode == "form" and (el.form is not None or el.url is None))
                or (mode == "url" and el.url is not None)
            )
            if not ok:
                needed = ElicitationCapability(**{mode: {}})
                raise MissingCapability(
                    f"the client does not support {mode} elicitation",
                    ClientCapabilities(elicitation=needed),
                )
        elif isinstance(request, CreateMessageRequest):
            if caps.sampling is None:
                raise MissingCapability(
                    "the client does not support sampling",
                    ClientCapabilities(sampling=SamplingCapability()),
                )
        elif caps.roots is None:
            raise MissingCapability(
                "the client does not support roots", ClientCapabilities(roots=RootsCapability())
            )

    async def _legacy_ask(self, requests: Mapping[str, InputRequest]) -> dict[str, Any]:
        if self._peer is None:
            raise RuntimeError("this context cannot reach a client")
        peer = self._peer
        results: dict[str, Any] = {}

        async def one(key: str, request: InputRequest) -> None:
            method, result_type = _METHOD_OF[type(request)]
            params: Any = request.params if request.params is not UNSET else {}
            results[key] = await peer.request(method, params, result_type, related=self.request_id)

        if len(requests) == 1:
            ((key, request),) = requests.items()
            await one(key, request)
            return results
        async with trio.open_nursery() as nursery:
            for key, request in requests.items():
                nursery.start_soon(one, key, request)
        return results

    def _modern_ask(self, requests: Mapping[str, InputRequest]) -> dict[str, Any]:
        if self.method not in _INPUT_CAPABLE:
            raise ProtocolError(
                INVALID_PARAMS, f"{self.method} cannot ask the client for input (2026-07-28)"
            )
        round_ = self._input
        if round_ is None:
            round_ = self._input = _InputRound(RequestStateSealer(), _no_binding, None, {})
        missing = {key: req for key, req in requests.items() if key not in round_.answers}
        if not missing:
            return {key: _parse_answer(requests[key], round_.answers[key]) for key in requests}
        known = {key: round_.answers[key] for key in round_.answers}
        state = round_.sealer.seal(round_.binding_of(), known, round_.principal)
        raise InputRequired(InputRequiredResult(input_requests=missing, request_state=state))

    def begin_input_round(
        self,
        sealer: RequestStateSealer,
        binding: str | Callable[[], str],
        *,
        request_state: str | None,
        input_responses: Mapping[str, Any] | None,
    ) -> None:
        """Prepare this run for ``ask`` in the modern era (the router calls this).

        ``binding`` names the request (see ``binding_of``); pass a callable to compute
        it only when state is actually opened or sealed. Verifies ``request_state``
        (``ProtocolError`` -32602 when it was tampered with, belongs to another
        request or expired) and merges in ``input_responses``; responses to keys
        nobody asked for are kept but never read.
        """
        principal = (
            None if self.principal is None else str(getattr(self.principal, "id", self.principal))
        )
        binding_of: Callable[[], str] = binding if callable(binding) else (lambda: binding)
        if input_responses is not None and not isinstance(input_responses, Mapping):
            raise ProtocolError(INVALID_PARAMS, "Invalid params: inputResponses must be an object")
        answers: dict[str, Any] = {}
        if request_state:
            answers.update(sealer.open(request_state, binding_of(), principal))
        if input_responses:
            for key, value in input_responses.items():
                answers[key] = msgspec.to_builtins(value)
        self._input = _InputRound(sealer, binding_of, principal, answers)

    # -- testing ---------------------------------------------------------------------

    @classmethod
    def for_testing(
        cls,
        *,
        method: str = "tools/call",
        request_id: RequestId = "test-1",
        budget: Budget = Budget.INFINITE,
        progress_token: ProgressToken | None = "progress-1",
        protocol_version: str = "2025-11-25",
        client_capabilities: ClientCapabilities | None = None,
        log_level: LoggingLevel | None = "debug",
        lifespan: Any = None,
        dependencies: Mapping[type, Any] | None = None,
        elicit: Callable[[ElicitRequest], ElicitResult | Awaitable[ElicitResult]] | None = None,
        sample: Callable[
            [CreateMessageRequest], CreateMessageResult | Awaitable[CreateMessageResult]
        ]
        | None = None,
        roots: Sequence[Root] | None = None,
    ) -> TestingContext:
        """A context for unit-testing a handler without a server.

        Progress and log messages are recorded (``ctx.progress``, ``ctx.logs``);
        ``elicit``/``sample``/``roots`` answer the handler's questions to the client
        (the capabilities follow from which you give). Use ``async with`` to give the
        handler a task region (for ``spawn``) and to enforce the budget's deadline.
        """
        if client_capabilities is None:
            client_capabilities = ClientCapabilities(
                elicitation=ElicitationCapability(form={}, url={}) if elicit else None,
                sampling=SamplingCapability() if sample else None,
                roots=RootsCapability() if roots is not None else None,
            )
        recorder = _RecordingPeer(elicit=elicit, sample=sample, roots=list(roots or []))
        ctx = TestingContext(
            request_id=request_id,
            method=method,
            peer=recorder,
            budget=budget,
            progress_token=progress_token,
            protocol_version=protocol_version,
            client_capabilities=client_capabilities,
            log_level=log_level,
            lifespan=lifespan,
            dependencies=dict(dependencies or {}),
            session_state={},
        )
        ctx.recorder = recorder
        return ctx


def _no_binding() -> str:
    return ""


_METHOD_OF: dict[type, tuple[str, type]] = {
    ElicitRequest: ("elicitation/create", ElicitResult),
    CreateMessageRequest: ("sampling/createMessage", CreateMessageResult),
    ListRootsRequest: ("roots/list", ListRootsResult),
}


def _parse_answer(request: InputRequest, answer: Any) -> Any:
    _, result_type = _METHOD_OF[type(request)]
    try:
        return convert(answer, result_type)
    except msgspec.ValidationError as exc:
        raise ProtocolError(INVALID_PARAMS, f"Invalid params: input response: {exc}") from None


# -- testing support ---------------------------------------------------------------------


@attrs.define(eq=False, repr=False)
class _RecordingPeer:
    """Records what a handler sends and answers its questions, for ``for_testing``."""

    elicit: Callable[[ElicitRequest], Any] | None = None
    sample: Callable[[CreateMessageRequest], Any] | None = None
    roots: list[Root] = attrs.field(factory=list)
    notifications: list[tuple[str, Any]] = attrs.field(factory=list)

    async def notify(self, method: str, params: Any, *, related: RequestId | None = None) -> None:
        self.notifications.append((method, params))

    async def request(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        related: RequestId | None = None,
        timeout: float | None = None,
    ) -> T:
        if method == "roots/list":
            return ListRootsResult(roots=list(self.roots))  # type: ignore[return-value]
        if method == "elicitation/create" and self.elicit is not None:
            answer = self.elicit(ElicitRequest(params=params))
        elif method == "sampling/createMessage" and self.sample is not None:
            answer = self.sample(CreateMessageRequest(params=params))
        else:
            raise RuntimeError(f"for_testing() was given no answer for {method}")
        if isinstance(answer, Awaitable):
            answer = await answer
        return answer  # type: ignore[no-any-return]


@attrs.define(eq=False, slots=False, repr=False)
class TestingContext(McpContext):
    """An ``McpContext`` that records what the handler sent (see ``for_testing``)."""

    recorder: _RecordingPeer = attrs.field(init=False, default=None)
    _testing_nursery: Any = attrs.field(init=False, default=None)

    @property
    def progress(self) -> list[ProgressNotificationParams]:
        """Every progress notification the handler reported, in order."""
        return [p for m, p in self.recorder.notifications if m == "notifications/progress"]

    @property
    def logs(self) -> list[LoggingMessageNotificationParams]:
        """Every log message the handler sent to the client, in order."""
        return [p for m, p in self.recorder.notifications if m == "notifications/message"]

    async def __aenter__(self) -> TestingContext:
        self._testing_nursery = trio.open_nursery()
        nursery = await self._testing_nursery.__aenter__()
        self._nursery = nursery
        self._scope = nursery.cancel_scope
        self._scope.deadline = self._budget.deadline
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        manager, self._testing_nursery = self._testing_nursery, None
        self._nursery = None
        return await manager.__aexit__(exc_type, exc, tb)  # type: ignore[no-any-return]


def _thread_cancelled() -> bool:
    """In a worker thread started by ``trio.to_thread`` from a request's task: whether
    that task's scope is cancelled (trio marks it when the deadline passes). ``False``
    in a thread trio did not start."""
    try:
        trio.from_thread.check_cancelled()
    except trio.Cancelled:
        return True
    except RuntimeError:
        return False
    return False
