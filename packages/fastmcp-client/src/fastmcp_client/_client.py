"""The ``Client``: connect to a server, agree on a protocol era, send every request.

Theory of operation.

Connecting (``async with Client(target) as client``) opens a transport to the target
(``_targets``), runs a ``fastmcp_core.Session`` on it in the client's nursery, and
negotiates, newest first:

1. ``server/discover`` with the 2026-07-28 per-request ``_meta`` (protocol version,
   client capabilities, client info), waiting at most ``probe_timeout``. A
   ``DiscoverResult`` makes the connection *modern*; an
   ``UnsupportedProtocolVersionError`` (-32022) is retried once with a version from
   its ``supported`` list (or, if that list only has legacy versions, leads to 2.).
   Any other error, or no answer in time, means a legacy server.
2. ``initialize`` with the newest legacy version, then ``notifications/initialized``.
   The server's answer must be a version this client speaks, else
   ``IncompatibleServer``.

``protocol_version=`` skips the probe: a modern version speaks only modern (errors
are raised, never a fallback), a legacy version goes straight to ``initialize``.

Modern era: every request carries the ``_meta`` of ``modern_request_meta``, built once
per client (and again only when the log level changes). ``tools/call``,
``prompts/get`` and ``resources/read`` may answer ``resultType: "input_required"``:
the client answers each input request with its handlers (concurrently) and retries
with ``inputResponses`` and the exact ``requestState`` (a new request id each
round), up to ``max_input_rounds`` rounds. ``tools/call`` may also answer with a task
(``resultType: "task"``, the tasks extension); ``call_tool`` then waits for it.

Legacy era: plain params; the server sends requests to the client (sampling,
elicitation, roots, ping), which the client's session dispatcher answers with the
same handlers; subscriptions use ``resources/subscribe``; tasks are the 2025-11-25
ones.

Every request has a timeout (``request_timeout``, per call ``timeout=``); when it
runs out the server is told (``notifications/cancelled``) and ``RequestTimeout`` is
raised. Leaving a cancel scope around a call cancels it the same way. If the
server goes away, every waiting call raises ``ConnectionClosed`` at once, naming why
(for a child process: its exit status and the tail of its stderr).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import attrs
import msgspec
import trio

from fastmcp_client._errors import (
    ClientError,
    ConfigError,
    IncompatibleServer,
    InputRequiredError,
    ToolCallError,
)
from fastmcp_client._handlers import (
    ElicitationHandler,
    LogHandler,
    NotificationHandler,
    Responder,
    RootsHandler,
    SamplingHandler,
    ServerRequests,
    as_roots,
    collapse,
    python_logging,
    typed_notification,
)
from fastmcp_client._requester import Requester
from fastmcp_client._skills import LoadedSkill
from fastmcp_client._skills import load as load_skill
from fastmcp_client._subscriptions import Subscription
from fastmcp_client._targets import ConnectOptions, Connector, Target, resolve_target
from fastmcp_client._tasks import TaskSnapshot, ToolTask, immediate
from fastmcp_core import (
    ConnectionClosed,
    ProgressCallback,
    RequestTimeout,
    Session,
    Transport,
    call_callback,
)
from fastmcp_protocol import (
    HEADER_MISMATCH,
    LEGACY_PROTOCOL_VERSIONS,
    META_SERVER_INFO,
    META_SUBSCRIPTION_ID,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    MODERN_PROTOCOL_VERSIONS,
    PROTOCOL_VERSIONS,
    RESULT_COMPLETE,
    RESULT_INPUT_REQUIRED,
    UNSET,
    UNSUPPORTED_PROTOCOL_VERSION,
    CallToolRequestParams,
    CallToolResult,
    CancelledNotificationParams,
    ClientCapabilities,
    CompleteArgument,
    CompleteContext,
    CompleteRequestParams,
    CompleteResult,
    CreateTaskResult,
    DiscoverResult,
    GetPromptRequestParams,
    GetPromptResult,
    Implementation,
    InitializeRequestParams,
    InitializeResult,
    InputRequiredResult,
    JSONRPCNotification,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListTasksResult,
    ListToolsResult,
    LoggingLevel,
    LoggingMessageNotificationParams,
    McpError,
    PaginatedRequestParams,
    Prompt,
    PromptReference,
    ReadResourceRequestParams,
    ReadResourceResult,
    RequestId,
    RequestParams,
    Resource,
    ResourceTemplate,
    ResourceTemplateReference,
    Result,
    Root,
    ServerCapabilities,
    SetLevelRequestParams,
    SubscribeRequestParams,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotification,
    SubscriptionsListenRequestParams,
    TaskMetadata,
    TextContent,
    Tool,
    UnexpectedResult,
    UnsubscribeRequestParams,
    convert,
    decode,
    decode_params,
    decode_result,
    ext_tasks,
    is_modern,
    modern_request_meta,
)
from fastmcp_protocol.ext_skills import (
    SKILLS_EXTENSION,
    GetSkillRequestParams,
    GetSkillResult,
    ListSkillsResult,
    ReadResourceDirectoryRequestParams,
    ReadResourceDirectoryResult,
    Skill,
)
from fastmcp_transport import StderrMode

if TYPE_CHECKING:
    from fastmcp_core.telemetry import Telemetry

__all__ = ["Client"]

logger = logging.getLogger("fastmcp.client")

T = TypeVar("T")
R = TypeVar("R")
Complete = TypeVar("Complete", bound=Result)
P = TypeVar("P")
X = TypeVar("X")

# errors by which a server shows it is modern: the probe must not fall back on them
_MODERN_ERRORS = frozenset(
    {UNSUPPORTED_PROTOCOL_VERSION, MISSING_REQUIRED_CLIENT_CAPABILITY, HEADER_MISMATCH}
)


class _ResultKind(msgspec.Struct, rename="camel"):
    """What a result is, read without decoding the rest (``task``: 2025-11-25 tasks)."""

    result_type: str | None = None
    task: Any = None  # small, and present only in 2025-11-25 task results


_result_kind = msgspec.json.Decoder(_ResultKind)

ToolOutcome = CallToolResult | CreateTaskResult | ext_tasks.CreateTaskResult
_InputParams = TypeVar(
    "_InputParams", CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams
)
"""The params of the requests that may need input (``_rounds``)."""


@functools.cache
def _default_client_info() -> Implementation:
    """How the client introduces itself: ``fastmcp-client`` at its installed version
    (read once, and only here: importlib.metadata is slow to import)."""
    from importlib.metadata import version

    return Implementation(name="fastmcp-client", version=version("fastmcp-client"))


def _supported_versions(data: Any) -> list[str]:
    supported = data.get("supported") if isinstance(data, dict) else None
    if not isinstance(supported, list):
        return []
    return [v for v in supported if isinstance(v, str)]


def _session_era_possible(supported: Sequence[str]) -> bool:
    """Whether a server that listed ``supported`` (and none of our modern versions)
    may still speak the session era: it names a legacy version, or no version at all
    (a server that serves only the session era has no per-request version to list).
    A server naming only modern versions we do not know is not tried with
    ``initialize``."""
    return not supported or any(v in LEGACY_PROTOCOL_VERSIONS for v in supported)


@attrs.define(eq=False, repr=False)
class Client:
    """A client of one MCP server. Use it as ``async with Client(target) as client:``.

    ``target`` is an in-process server, a command, a URL or an MCP configuration
    (see ``fastmcp_client.Target``); ``server=`` picks a server of a configuration.
    Bad targets raise ``ConfigError`` here, before anything is started.

    Options (all keyword-only):

    * ``protocol_version``: force a version (and so an era) instead of negotiating.
    * ``request_timeout`` (s, default 60): each request's timeout unless a call gives
      ``timeout=``; ``reset_timeout_on_progress`` restarts it at every progress
      notification. ``probe_timeout`` (s): how long ``server/discover`` may take
      before the server is taken for a legacy one.
    * ``sampling_handler``, ``elicitation_handler``, ``roots`` (a list of ``Root``,
      ``file://`` URIs or paths) or ``roots_handler``: what the client answers when
      the server asks; the matching capabilities are declared only when given.
      ``elicitation_defaults``: fill an accepted form's omitted fields from the
      schema's defaults (SEP-1034). ``max_input_rounds``: how many input-required
      rounds one request may take.
    * ``log_handler`` (default: Python logging), ``log_level`` (ask for server log
      messages from the start), ``notification_handler`` (every other notification
      that no subscription takes).
    * ``tasks``: declare the 2026-07-28 tasks extension (the server may then run a
      tool call as a task; ``call_tool`` waits for it). ``capabilities``: declare
      exactly these capabilities instead of deriving them.
    * ``client_info``: the name and version the client reports.
    * stdio: ``env`` (added to the environment), ``cwd``, ``stderr`` (``"capture"``:
      kept and reported when the server dies; ``"inherit"``; or a callable per line);
      HTTP: ``headers``, ``auth`` (an ``httpx.Auth``), ``http_options`` (more keyword
      arguments of ``streamable_http_client``/``sse_client``: ``timeout``,
      ``standalone_stream``, ``http_client``, ...);
      ``shutdown_timeout``: how long the server gets to stop on close (default 2 s;
      for a child process: after its stdin closes); ``terminate_timeout``: how long
      a child process still running gets after SIGTERM, before SIGKILL (default
      12 s: a fastmcp server's default grace, 10 s, and 2 s to answer).
    * ``telemetry``: a ``fastmcp_core.telemetry.Telemetry`` (the ``otel`` extra): a
      span per request, its trace context sent in ``_meta``.

    A client connects once at a time; after ``async with`` ends it may connect again.
    """

    _target: Target = attrs.field(alias="target")
    server: str | None = attrs.field(default=None, kw_only=True)
    _requested_version: str | None = attrs.field(
        default=None, kw_only=True, alias="protocol_version"
    )
    client_info: Implementation = attrs.field(factory=_default_client_info, kw_only=True)
    request_timeout: float = attrs.field(default=60.0, kw_only=True)
    reset_timeout_on_progress: bool = attrs.field(default=False, kw_only=True)
    probe_timeout: float = attrs.field(default=10.0, kw_only=True)
    sampling_handler: SamplingHandler | None = attrs.field(default=None, kw_only=True)
    elicitation_handler: ElicitationHandler | None = attrs.field(default=None, kw_only=True)
    roots: Sequence[Root | str | Path] | None = attrs.field(default=None, kw_only=True)
    roots_handler: RootsHandler | None = attrs.field(default=None, kw_only=True)
    log_handler: LogHandler = attrs.field(default=python_logging, kw_only=True)
    notification_handler: NotificationHandler | None = attrs.field(default=None, kw_only=True)
    log_level: LoggingLevel | None = attrs.field(default=None, kw_only=True)
    elicitation_defaults: bool = attrs.field(default=True, kw_only=True)
    max_input_rounds: int = attrs.field(default=10, kw_only=True)
    tasks: bool = attrs.field(default=True, kw_only=True)
    capabilities: ClientCapabilities | None = attrs.field(default=None, kw_only=True)
    env: Mapping[str, str] | None = attrs.field(default=None, kw_only=True)
    cwd: str | Path | None = attrs.field(default=None, kw_only=True)
    stderr: StderrMode = attrs.field(default="capture", kw_only=True)
    headers: Mapping[str, str] | None = attrs.field(default=None, kw_only=True)
    auth: Any = attrs.field(default=None, kw_only=True)
    http_options: Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)
    shutdown_timeout: float = attrs.field(default=2.0, kw_only=True)
    terminate_timeout: float = attrs.field(default=12.0, kw_only=True)
    telemetry: Telemetry | None = attrs.field(default=None, kw_only=True)

    _connector: Connector = attrs.field(init=False)
    _responder: Responder = attrs.field(init=False)
    _requester: Requester = attrs.field(init=False)
    _caps: ClientCapabilities = attrs.field(init=False)
    _session: Session | None = attrs.field(init=False, default=None)
    _transport: Transport | None = attrs.field(init=False, default=None)
    _lifetime: AbstractAsyncContextManager[None] | None = attrs.field(init=False, default=None)
    _modern: bool = attrs.field(init=False, default=False)
    _version: str | None = attrs.field(init=False, default=None)
    _meta_base: dict[str, Any] | None = attrs.field(init=False, default=None)
    _server_info: Implementation | None = attrs.field(init=False, default=None)
    _server_caps: ServerCapabilities = attrs.field(init=False, factory=ServerCapabilities)
    _instructions: str | None = attrs.field(init=False, default=None)
    _supported: list[str] = attrs.field(init=False, factory=list)
    _subscriptions: dict[RequestId, Subscription] = attrs.field(init=False, factory=dict)
    _legacy_subscriptions: list[Subscription] = attrs.field(init=False, factory=list)
    _opening: Subscription | None = attrs.field(init=False, default=None)
    _listen_lock: trio.Lock | None = attrs.field(init=False, default=None)
    _task_required: set[str] = attrs.field(init=False, factory=set)
    _ended: trio.Event | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        if self.roots is not None and self.roots_handler is not None:
            raise ConfigError("give roots= or roots_handler=, not both")
        version = self._requested_version
        if version is not None and version not in PROTOCOL_VERSIONS:
            known = ", ".join(PROTOCOL_VERSIONS)
            raise ConfigError(f"unknown protocol version {version!r} (known: {known})")
        if self.max_input_rounds < 1:
            raise ConfigError("max_input_rounds must be at least 1")
        options = ConnectOptions(
            server=self.server,
            env=self.env,
            cwd=self.cwd,
            stderr=self.stderr,
            headers=self.headers,
            auth=self.auth,
            http_options=self.http_options,
            shutdown_timeout=self.shutdown_timeout,
            terminate_timeout=self.terminate_timeout,
        )
        self._connector = resolve_target(self._target, options)
        self._responder = Responder(
            sampling=self.sampling_handler,
            elicitation=self.elicitation_handler,
            roots_handler=self.roots_handler,
            roots=None if self.roots is None else as_roots(self.roots),
            elicitation_defaults=self.elicitation_defaults,
        )
        if self.capabilities is not None:
            self._caps = self.capabilities
        else:
            extensions: dict[str, dict[str, Any]] | None = (
                {ext_tasks.TASKS_EXTENSION: {}} if self.tasks else None
            )
            self._caps = ClientCapabilities(**self._responder.capabilities(), extensions=extensions)
        # what task handles and loaded skills may ask of this client (see _requester)
        self._requester = Requester(
            request=self._call,
            meta=self._meta,
            answer_inputs=self._responder.answer_all,
            read_resource=self.read_resource,
        )

    def __repr__(self) -> str:
        state = f"protocol_version={self._version!r}" if self.connected else "not connected"
        return f"<Client {self._connector.kind} {self._connector.name!r}, {state}>"

    # -- what negotiation found ----------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the client is connected (inside ``async with``, session open)."""
        return self._session is not None and not self._session.closed

    @property
    def protocol_version(self) -> str:
        """The protocol version in use. Raises ``ConnectionClosed`` when not connected."""
        if self._version is None or self._session is None:
            raise ConnectionClosed("the client is not connected: use `async with Client(...)`")
        return self._version

    @property
    def is_modern(self) -> bool:
        """Whether the connection speaks a modern (2026-07-28 and later) version."""
        return self._modern

    @property
    def server_info(self) -> Implementation | None:
        """What the server says it is (``None`` if a modern server did not say)."""
        return self._server_info

    @property
    def server_capabilities(self) -> ServerCapabilities:
        """The capabilities the server declared."""
        return self._server_caps

    @property
    def instructions(self) -> str | None:
        """The server's instructions for the model, if any."""
        return self._instructions

    @property
    def supported_versions(self) -> list[str]:
        """The versions a modern server listed in ``server/discover`` (legacy: the
        negotiated one)."""
        return list(self._supported)

    @property
    def client_capabilities(self) -> ClientCapabilities:
        """The capabilities this client declares."""
        return self._caps

    # -- lifetime ------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        """Connect and negotiate. On failure everything started is stopped and the
        error (``ConnectionClosed``, ``IncompatibleServer``, ``PeerError``, ...) raised."""
        if self._lifetime is not None:
            raise RuntimeError("this Client is already connected")
        lifetime = self._run()
        self._lifetime = lifetime
        try:
            await lifetime.__aenter__()
        except BaseException:
            self._lifetime = None
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        """Disconnect: cancel what is still waiting (those calls raise
        ``ConnectionClosed``), end subscriptions, close the transport (a child process
        gets ``shutdown_timeout`` to exit after its stdin closes, then SIGTERM and
        ``terminate_timeout``, then SIGKILL)."""
        lifetime, self._lifetime = self._lifetime, None
        assert lifetime is not None
        return await lifetime.__aexit__(*exc_info)

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[None]:
        # what the previous connection learnt does not carry over
        self._modern, self._version, self._meta_base = False, None, None
        self._server_info, self._instructions = None, None
        self._server_caps, self._supported = ServerCapabilities(), []
        self._task_required.clear()
        self._listen_lock = trio.Lock()
        try:
            async with self._connector.connect() as transport, trio.open_nursery() as nursery:
                dispatcher = ServerRequests(
                    self._responder, self._on_notification, self._answering_version
                )
                if self.telemetry is None:
                    make_session: Callable[..., Session] = Session
                else:  # the telemetry module loads only for a client given one
                    from fastmcp_core.telemetry import session_for

                    make_session = session_for(self.telemetry)
                session = make_session(
                    transport,
                    dispatcher,
                    default_timeout=self.request_timeout,
                    drain_on_eof=None,
                )
                ended = self._ended = trio.Event()

                async def run_session(task_status: trio.TaskStatus[Session]) -> None:
                    try:
                        await session.run(task_status=task_status)
                    finally:
                        ended.set()

                await nursery.start(run_session)
                self._session, self._transport = session, transport
                try:
                    await self._negotiate()
                    yield
                finally:
                    self._end_subscriptions()
                    await session.aclose()
                    self._session = self._transport = None
        except BaseExceptionGroup as group:
            raise collapse(group) from None

    async def wait_closed(self) -> None:
        """Return once the connection has ended: the server went away (a child process
        exited, an in-process server stopped, the HTTP transport gave up) or the
        client is leaving ``async with``. Returns at once when not connected. (Over
        HTTP a server that stops is noticed by a stream it holds open, or by the next
        request, which fails with ``ConnectionClosed`` or ``TransportError``.)"""
        ended = self._ended
        if ended is not None and self._session is not None:
            await ended.wait()

    def _answering_version(self) -> str:
        return self._version or LEGACY_PROTOCOL_VERSIONS[0]

    def _end_subscriptions(self) -> None:
        for sub in [*self._subscriptions.values(), *self._legacy_subscriptions]:
            sub.end(ConnectionClosed("Connection closed: the client disconnected"))
        self._subscriptions.clear()
        self._legacy_subscriptions.clear()

    # -- negotiation ---------------------------------------------------------------------

    async def _negotiate(self) -> None:
        forced = self._requested_version
        if forced is None or is_modern(forced):
            version = forced or MODERN_PROTOCOL_VERSIONS[0]
            if await self._discover(version, may_fall_back=forced is None):
                return
        await self._initialize(forced if forced is not None else LEGACY_PROTOCOL_VERSIONS[0])

    def _use_modern(self, version: str) -> None:
        self._modern = True
        self._version = version
        self._meta_base = modern_request_meta(
            client_capabilities=self._caps,
            protocol_version=version,
            client_info=self.client_info,
            log_level=self.log_level,
        )

    async def _discover(self, version: str, *, may_fall_back: bool) -> bool:
        """Probe with ``server/discover``; ``False`` means: fall back to initialize."""
        assert self._session is not None
        retried = False
        while True:
            self._use_modern(version)
            try:
                result = await self._session.request(
                    "server/discover",
                    RequestParams(meta=self._meta_base),
                    DiscoverResult,
                    timeout=self.probe_timeout if may_fall_back else self.request_timeout,
                )
            except RequestTimeout:
                if may_fall_back:
                    return self._fall_back()
                raise
            except ConnectionClosed:
                raise
            except McpError as error:
                if error.code == UNSUPPORTED_PROTOCOL_VERSION:
                    supported = _supported_versions(error.data)
                    mutual = [v for v in MODERN_PROTOCOL_VERSIONS if v in supported]
                    if mutual and not retried:  # even the same version: retry once
                        version, retried = mutual[0], True
                        continue
                    if may_fall_back and _session_era_possible(supported):
                        return self._fall_back()
                    raise IncompatibleServer(
                        f"the server speaks none of this client's versions: {error.message}",
                        supported,
                    ) from None
                if error.code in _MODERN_ERRORS or not may_fall_back:
                    raise
                return self._fall_back()
            mutual = [v for v in MODERN_PROTOCOL_VERSIONS if v in result.supported_versions]
            if not mutual:
                if may_fall_back and _session_era_possible(result.supported_versions):
                    return self._fall_back()
                raise IncompatibleServer(
                    "the server speaks none of this client's versions "
                    f"(it offers {', '.join(result.supported_versions) or 'none'})",
                    result.supported_versions,
                )
            if mutual[0] != version:
                self._use_modern(mutual[0])
            self._server_caps = result.capabilities
            self._instructions = result.instructions
            self._supported = list(result.supported_versions)
            self._server_info = _server_info_of(result.meta)
            return True

    def _fall_back(self) -> bool:
        self._modern = False
        self._meta_base = None
        self._version = None
        return False

    async def _initialize(self, version: str) -> None:
        assert self._session is not None
        self._version = version  # server-to-client requests are answered for it meanwhile
        capabilities = msgspec.structs.replace(self._caps, extensions=None)
        params = InitializeRequestParams(
            protocol_version=version, capabilities=capabilities, client_info=self.client_info
        )
        result = await self._session.request(
            "initialize", params, InitializeResult, timeout=self.request_timeout
        )
        if result.protocol_version not in LEGACY_PROTOCOL_VERSIONS:
            raise IncompatibleServer(
                f"the server answered initialize with protocol version "
                f"{result.protocol_version!r}, which this client does not speak",
                [result.protocol_version],
            )
        self._version = result.protocol_version
        self._supported = [result.protocol_version]
        self._server_info = result.server_info
        self._server_caps = result.capabilities
        self._instructions = result.instructions
        await self._session.notify("notifications/initialized")
        if self.log_level is not None and result.capabilities.logging is not None:
            await self.set_logging_level(self.log_level)

    # -- sending -------------------------------------------------------------------------

    def _meta(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The ``_meta`` of a request: the modern per-request fields (built once) plus
        ``extra``; legacy: just ``extra``."""
        base = self._meta_base
        if base is None:
            return dict(extra) if extra else None
        return {**base, **extra} if extra else base

    def _request(
        self,
        method: str,
        params: Any,
        result_type: type[Any],
        timeout: float | None,
        on_progress: ProgressCallback | None,
        expect: type[Any] | None = None,
    ) -> Awaitable[Any]:
        """Send a request on the session with the client's timeout and progress
        settings (``Session.request``; ``timeout`` ``None``: ``request_timeout``).
        What it returns is the session's awaitable, not a coroutine of its own: one
        frame less per call."""
        session = self._session
        if session is None:
            raise ConnectionClosed("the client is not connected: use `async with Client(...)`")
        return session.request(
            method,
            params,
            result_type,
            timeout=self.request_timeout if timeout is None else timeout,
            on_progress=on_progress,
            reset_timeout_on_progress=self.reset_timeout_on_progress,
            expect=expect,
        )

    async def _call(
        self,
        method: str,
        params: Any,
        result_type: type[T],
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> T:
        result: T = await self._request(method, params, result_type, timeout, on_progress)
        return result

    def _round(
        self,
        method: str,
        params: _InputParams,
        result_type: type[Complete],
        timeout: float | None,
        on_progress: ProgressCallback | None,
        tasks: bool,
    ) -> Awaitable[Complete | msgspec.Raw]:
        """One round of ``_rounds``: a complete result (the common case) comes decoded
        straight into ``result_type`` (``Session.request``'s ``expect``; a 2025-11-25
        task comes only when asked for with ``task``); anything else raw (input
        required, a task, or not a result), for ``_rounds`` to tell apart."""
        typed = not tasks or getattr(params, "task", None) is None
        expect = result_type if typed else None
        return self._request(method, params, msgspec.Raw, timeout, on_progress, expect)

    async def _rounds(
        self,
        method: str,
        params: _InputParams,
        result_type: type[Complete],
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        tasks: bool = False,
        first: msgspec.Raw | None = None,
    ) -> Complete | CreateTaskResult | ext_tasks.CreateTaskResult:
        """Send a request that may need input; answer and retry until it completes.

        Each round is a new request (new id, its own timeout): ``params`` again with
        the round's ``inputResponses`` and ``requestState``. ``tasks``: a task result
        (either protocol) is returned as is, for the caller to follow. ``first``: the
        first round's raw result, when the caller sent it (``_round``).
        """
        for _ in range(self.max_input_rounds + 1):
            got: Complete | msgspec.Raw
            if first is not None:
                got, first = first, None
            else:
                got = await self._round(method, params, result_type, timeout, on_progress, tasks)
            if not isinstance(got, msgspec.Raw):
                return got
            raw = got
            try:
                kind = _result_kind.decode(raw)
            except msgspec.DecodeError as exc:
                raise UnexpectedResult(f"invalid {method} result: {exc}") from None
            result_type_ = kind.result_type
            if result_type_ is None or result_type_ == RESULT_COMPLETE:
                if tasks and kind.task is not None:
                    return decode_result(raw, CreateTaskResult)
                return decode_result(raw, result_type)
            if result_type_ == RESULT_INPUT_REQUIRED:
                required = decode_result(raw, InputRequiredResult)
                if not required.input_requests and required.request_state is None:
                    raise UnexpectedResult(
                        f"{method}: an input-required result with neither inputRequests "
                        "nor requestState"
                    )
                responses = None
                if required.input_requests:
                    answers = await self._responder.answer_all(required.input_requests)
                    responses = dict(answers)
                params = msgspec.structs.replace(
                    params, input_responses=responses, request_state=required.request_state
                )
                continue
            if tasks and result_type_ == ext_tasks.RESULT_TASK:
                return decode_result(raw, ext_tasks.CreateTaskResult)
            raise UnexpectedResult(f"{method}: unknown resultType {result_type_!r}")
        raise InputRequiredError(
            f"{method} still needed input after {self.max_input_rounds} rounds"
        )

    # -- tools ---------------------------------------------------------------------------

    async def list_tools(
        self, cursor: str | None = None, *, timeout: float | None = None
    ) -> ListToolsResult:
        """One page of the server's tools (``cursor``: from the previous page).

        On Streamable HTTP in the modern era each tool is registered with the
        transport (``register_tool``: its ``x-mcp-header`` parameters become
        ``Mcp-Param-*`` headers of its calls), and tools whose annotations are
        invalid are left out with a warning, as the specification requires.
        """
        params = PaginatedRequestParams(cursor=cursor, meta=self._meta())
        result = await self._call("tools/list", params, ListToolsResult, timeout=timeout)
        register = getattr(self._transport, "register_tool", None)
        if self._modern and register is not None:
            result = _registered(result, register)
        for tool in result.tools:
            if tool.execution is not None and tool.execution.task_support == "required":
                self._task_required.add(tool.name)
        return result

    async def list_all_tools(self, *, timeout: float | None = None) -> list[Tool]:
        """Every tool, following ``nextCursor`` page after page."""
        return await self._all(partial(self.list_tools, timeout=timeout), lambda r: r.tools)

    @overload
    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: None = None,
        as_task: Literal[False] = False,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> CallToolResult: ...

    @overload
    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: type[T],
        as_task: Literal[False] = False,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> T: ...

    @overload
    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: None = None,
        as_task: Literal[True],
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ToolTask[CallToolResult]: ...

    @overload
    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: type[T],
        as_task: Literal[True],
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ToolTask[T]: ...

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: type[Any] | None = None,
        as_task: bool = False,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call a tool and return its ``CallToolResult``.

        A tool that fails reports it in the result (``is_error``); JSON-RPC errors
        (unknown tool, bad arguments) raise ``PeerError``. With ``result_type=T`` the
        structured content is decoded into ``T`` (msgspec): a failed tool raises
        ``ToolCallError``, content that does not fit raises ``UnexpectedResult``
        (without ``structuredContent``, a single JSON text block is decoded instead,
        or returned as it is for ``T = str``; ``{"result": value}`` is unwrapped when
        ``T`` does not fit the object).

        Input the server asks for is answered with the client's handlers and the
        call retried (each round with its own ``timeout``). If the server runs the
        call as a task, this waits for the task; cancelling the wait cancels the task
        too. ``as_task=True`` returns the ``ToolTask`` handle instead (see
        ``call_tool_task``). ``on_progress`` receives the server's progress
        notifications; ``meta`` adds your own ``_meta`` entries.
        """
        if as_task:
            return await self.call_tool_task(
                name, arguments, result_type=result_type, timeout=timeout,
                on_progress=on_progress, meta=meta,
            )  # fmt: skip
        task = None
        if name in self._task_required and self._legacy_tool_tasks():
            task = TaskMetadata()
        params = self._tool_params(name, arguments, task, meta)
        # the first round here: a complete result, the common case, needs no ``_rounds``
        first = await self._round("tools/call", params, CallToolResult, timeout, on_progress, True)
        if not isinstance(first, msgspec.Raw):
            outcome: ToolOutcome = first
        else:
            outcome = await self._rounds(
                "tools/call", params, CallToolResult,
                timeout=timeout, on_progress=on_progress, tasks=True, first=first,
            )  # fmt: skip
        if not isinstance(outcome, CallToolResult):
            handle = self._tool_task(name, outcome, _identity)
            try:
                outcome = await handle.result()
            except trio.Cancelled:
                shielded = trio.CancelScope(shield=True)
                bounded = trio.move_on_after(self.shutdown_timeout)
                with shielded, bounded, contextlib.suppress(McpError):
                    await handle.cancel()
                raise
        if result_type is None:
            return outcome
        return self._tool_value(name, outcome, result_type)

    @overload
    async def call_tool_task(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: None = None,
        ttl_ms: int | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ToolTask[CallToolResult]: ...

    @overload
    async def call_tool_task(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: type[T],
        ttl_ms: int | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ToolTask[T]: ...

    async def call_tool_task(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        result_type: type[Any] | None = None,
        ttl_ms: int | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ToolTask[Any]:
        """Start a tool call as a task and return its ``ToolTask`` handle at once.

        2025-11-25: the call is task-augmented (``ttl_ms`` asks for a retention
        time) when the server declares task support for ``tools/call``. 2026-07-28:
        the request declares the tasks extension and the server decides. A server
        that answers at once gives a handle whose result is ready (``task_id`` is
        ``None``). Input asked for before the task exists is answered as in
        ``call_tool``. ``await handle.result()`` returns what ``call_tool`` would.
        """
        task = TaskMetadata(ttl=ttl_ms) if self._legacy_tool_tasks() else None
        if self._modern and not self.tasks:
            extra = dict(meta or {})
            caps = msgspec.structs.replace(self._caps, extensions={ext_tasks.TASKS_EXTENSION: {}})
            extra.update(modern_request_meta(
                client_capabilities=caps, protocol_version=self.protocol_version,
                client_info=self.client_info, log_level=self.log_level,
            ))  # fmt: skip
            meta = extra
        outcome = await self._rounds(
            "tools/call",
            self._tool_params(name, arguments, task, meta),
            CallToolResult,
            timeout=timeout,
            on_progress=on_progress,
            tasks=True,
        )
        return self._tool_task(
            name, outcome, partial(self._tool_value, name, result_type=result_type)
        )

    def _legacy_tool_tasks(self) -> bool:
        tasks = self._server_caps.tasks
        return (
            not self._modern
            and tasks is not None
            and tasks.requests is not None
            and tasks.requests.tools is not None
            and tasks.requests.tools.call is not None
        )

    def _tool_params(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        task: TaskMetadata | None,
        meta: Mapping[str, Any] | None,
    ) -> CallToolRequestParams:
        return CallToolRequestParams(
            name=name,
            arguments=None if arguments is None else dict(arguments),
            task=task,
            meta=self._meta(meta),
        )

    def _tool_task(
        self, name: str, outcome: ToolOutcome, finish: Callable[[CallToolResult], R]
    ) -> ToolTask[R]:
        if isinstance(outcome, CallToolResult):
            return immediate(name, self._requester, outcome, finish)
        if isinstance(outcome, CreateTaskResult):
            state = TaskSnapshot.from_legacy(outcome.task)
            return ToolTask(name, state, self._requester, finish, "legacy")
        return ToolTask(name, TaskSnapshot.from_modern(outcome), self._requester, finish, "modern")

    @overload
    def _tool_value(
        self, name: str, result: CallToolResult, result_type: None
    ) -> CallToolResult: ...

    @overload
    def _tool_value(self, name: str, result: CallToolResult, result_type: type[T]) -> T: ...

    def _tool_value(self, name: str, result: CallToolResult, result_type: type[Any] | None) -> Any:
        if result_type is None:
            return result
        if result.is_error:
            raise ToolCallError(name, result)
        content = result.structured_content
        if content is not UNSET:
            try:
                return convert(content, result_type)
            except msgspec.ValidationError as exc:
                if isinstance(content, dict) and set(content) == {"result"}:
                    with contextlib.suppress(msgspec.ValidationError):
                        return convert(content["result"], result_type)
                raise UnexpectedResult(
                    f"tool {name!r}: its structured content does not fit {_name(result_type)}: {exc}"
                ) from None
        texts = [block.text for block in result.content if isinstance(block, TextContent)]
        if len(texts) == 1:
            if result_type is str:
                return texts[0]  # the text itself, JSON or not
            try:
                return decode(texts[0], result_type)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise UnexpectedResult(
                    f"tool {name!r} returned no structured content, and its text is not "
                    f"JSON of {_name(result_type)}: {exc}"
                ) from None
        raise UnexpectedResult(f"tool {name!r} returned no structured content")

    # -- tasks (2025-11-25) --------------------------------------------------------------

    async def list_tasks(
        self, cursor: str | None = None, *, timeout: float | None = None
    ) -> ListTasksResult:
        """One page of the server's tasks (2025-11-25; the 2026 extension has none)."""
        params = PaginatedRequestParams(cursor=cursor, meta=self._meta())
        return await self._call("tasks/list", params, ListTasksResult, timeout=timeout)

    # -- resources -----------------------------------------------------------------------

    async def list_resources(
        self, cursor: str | None = None, *, timeout: float | None = None
    ) -> ListResourcesResult:
        """One page of the server's resources."""
        params = PaginatedRequestParams(cursor=cursor, meta=self._meta())
        return await self._call("resources/list", params, ListResourcesResult, timeout=timeout)

    async def list_all_resources(self, *, timeout: float | None = None) -> list[Resource]:
        """Every resource, page after page."""
        return await self._all(partial(self.list_resources, timeout=timeout), lambda r: r.resources)

    async def list_resource_templates(
        self, cursor: str | None = None, *, timeout: float | None = None
    ) -> ListResourceTemplatesResult:
        """One page of the server's resource templates."""
        params = PaginatedRequestParams(cursor=cursor, meta=self._meta())
        return await self._call(
            "resources/templates/list", params, ListResourceTemplatesResult, timeout=timeout
        )

    async def list_all_resource_templates(
        self, *, timeout: float | None = None
    ) -> list[ResourceTemplate]:
        """Every resource template, page after page."""
        return await self._all(
            partial(self.list_resource_templates, timeout=timeout), lambda r: r.resource_templates
        )

    # -- skills (the io.modelcontextprotocol/skills extension) --------------------------

    def _skills_declared(self) -> None:
        extensions = self.server_capabilities.extensions or {}
        if SKILLS_EXTENSION not in extensions:
            raise ClientError(
                f"the server does not declare the skills extension ({SKILLS_EXTENSION})"
            )

    async def list_skills(
        self, cursor: str | None = None, *, timeout: float | None = None
    ) -> ListSkillsResult:
        """One page of the server's skills (complete manifests; no file is read).
        ``ClientError`` when the server does not declare the skills extension."""
        self._skills_declared()
        params = PaginatedRequestParams(cursor=cursor, meta=self._meta())
        return await self._call("skills/list", params, ListSkillsResult, timeout=timeout)

    async def list_all_skills(self, *, timeout: float | None = None) -> list[Skill]:
        """Every listed skill, page after page (a server may list only some: any
        skill's URI still works with ``get_skill``)."""
        return await self._all(partial(self.list_skills, timeout=timeout), lambda r: r.skills)

    async def get_skill(self, uri: str, *, timeout: float | None = None) -> Skill:
        """The entry of the skill whose ``SKILL.md`` is at ``uri`` (``PeerError``
        -32602 when the server serves no such skill)."""
        self._skills_declared()
        params = GetSkillRequestParams(uri=uri, meta=self._meta())
        result = await self._call("skills/get", params, GetSkillResult, timeout=timeout)
        return result.skill

    async def read_directory(self, uri: str, *, timeout: float | None = None) -> list[Resource]:
        """The direct children of a directory resource (subdirectories have
        ``mime_type == "inode/directory"``), every page; for servers that declare
        the skills extension with ``directoryRead``."""
        self._skills_declared()
        declared = (self.server_capabilities.extensions or {})[SKILLS_EXTENSION]
        if not (isinstance(declared, dict) and declared.get("directoryRead")):
            raise ClientError("the server does not declare directoryRead")

        async def page(cursor: str | None) -> ReadResourceDirectoryResult:
            params = ReadResourceDirectoryRequestParams(uri=uri, cursor=cursor, meta=self._meta())
            return await self._call(
                "resources/directory/read", params, ReadResourceDirectoryResult, timeout=timeout
            )

        return await self._all(page, lambda r: r.resources)

    async def load_skill(self, skill: Skill | str) -> LoadedSkill:
        """Load a skill as a host must: its ``SKILL.md`` read and verified against
        the entry (size, digest, frontmatter); ``skill`` is an entry, or the URI of
        a ``SKILL.md`` (its entry is got first). Raises ``SkillVerificationError``
        on any difference. The ``LoadedSkill`` reads the other files on demand,
        each verified. Needs PyYAML (``pip install "fastmcp-client[skills]"``)."""
        entry = await self.get_skill(skill) if isinstance(skill, str) else skill
        return await load_skill(self._requester, entry)

    async def read_resource(
        self,
        uri: str,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ReadResourceResult:
        """Read a resource. Input the server asks for is answered and the read retried
        (modern era). An unknown resource raises ``PeerError`` (-32602; -32002 from
        servers of 2025-11-25 and older)."""
        params = ReadResourceRequestParams(uri=uri, meta=self._meta(meta))
        outcome = await self._rounds(
            "resources/read", params, ReadResourceResult, timeout=timeout, on_progress=on_progress
        )
        assert isinstance(outcome, ReadResourceResult)
        return outcome

    def subscribe(
        self,
        *,
        resources: Sequence[str] = (),
        tools_list: bool = False,
        prompts_list: bool = False,
        resources_list: bool = False,
        buffer: int = 256,
    ) -> AbstractAsyncContextManager[Subscription]:
        """Subscribe to notifications: updates of ``resources`` (URIs) and changes of
        the tool, prompt and resource lists. Use as ``async with client.subscribe(...)
        as updates: async for note in updates: ...``.

        Modern era: one ``subscriptions/listen`` stream (entering waits for the
        server's acknowledgment, at most ``request_timeout``; ``updates.acknowledged``
        says what it agreed to). Legacy era: ``resources/subscribe`` per URI (undone
        on exit). Leaving the block ends the subscription; notifications beyond
        ``buffer`` unread ones are dropped with a warning. Raises ``ConnectionClosed``
        when the client is not connected.
        """
        if not self.connected:
            raise ConnectionClosed("the client is not connected: use `async with Client(...)`")
        requested = SubscriptionFilter(
            tools_list_changed=tools_list or None,
            prompts_list_changed=prompts_list or None,
            resources_list_changed=resources_list or None,
            resource_subscriptions=list(resources) or None,
        )
        if self._modern:
            return self._listen(requested, buffer)
        return self._legacy_subscribe(requested, buffer)

    @asynccontextmanager
    async def _listen(
        self, requested: SubscriptionFilter, buffer: int
    ) -> AsyncIterator[Subscription]:
        sub = Subscription(requested, buffer=buffer)
        params = SubscriptionsListenRequestParams(notifications=requested, meta=self._meta())

        async def listen() -> None:
            try:
                await self._call("subscriptions/listen", params, Result, timeout=math.inf)
            except McpError as error:
                sub.end(error)
            else:
                sub.end()
            finally:
                if sub.subscription_id is not None:
                    self._subscriptions.pop(sub.subscription_id, None)

        assert self._listen_lock is not None
        try:
            async with trio.open_nursery() as nursery:
                async with self._listen_lock:  # the next unknown acknowledgment is this one's
                    self._opening = sub
                    try:
                        nursery.start_soon(listen)
                        with trio.move_on_after(self.request_timeout) as waited:
                            await sub.wait_acknowledged()
                    finally:
                        if self._opening is sub:
                            self._opening = None
                if waited.cancelled_caught:
                    raise RequestTimeout(
                        f"subscriptions/listen was not acknowledged within {self.request_timeout:g} s"
                    )
                if sub.subscription_id is None and sub.failed is not None:
                    raise sub.failed
                try:
                    yield sub
                finally:
                    nursery.cancel_scope.cancel()
                    sub.end()
        except BaseExceptionGroup as group:
            raise collapse(group) from None

    @asynccontextmanager
    async def _legacy_subscribe(
        self, requested: SubscriptionFilter, buffer: int
    ) -> AsyncIterator[Subscription]:
        sub = Subscription(requested, acknowledged=requested, buffer=buffer)
        uris = requested.resource_subscriptions or []
        done: list[str] = []
        self._legacy_subscriptions.append(sub)
        try:
            for uri in uris:
                await self._call("resources/subscribe", SubscribeRequestParams(uri=uri), Result)
                done.append(uri)
            yield sub
        finally:
            if sub in self._legacy_subscriptions:
                self._legacy_subscriptions.remove(sub)
            sub.end()
            if done and self.connected:
                with trio.CancelScope(shield=True), trio.move_on_after(self.shutdown_timeout):
                    for uri in done:
                        with contextlib.suppress(McpError):
                            await self._call(
                                "resources/unsubscribe", UnsubscribeRequestParams(uri=uri), Result
                            )

    # -- prompts -------------------------------------------------------------------------

    async def list_prompts(
        self, cursor: str | None = None, *, timeout: float | None = None
    ) -> ListPromptsResult:
        """One page of the server's prompts."""
        params = PaginatedRequestParams(cursor=cursor, meta=self._meta())
        return await self._call("prompts/list", params, ListPromptsResult, timeout=timeout)

    async def list_all_prompts(self, *, timeout: float | None = None) -> list[Prompt]:
        """Every prompt, page after page."""
        return await self._all(partial(self.list_prompts, timeout=timeout), lambda r: r.prompts)

    async def get_prompt(
        self,
        name: str,
        arguments: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> GetPromptResult:
        """Get a prompt filled with ``arguments``. Input the server asks for is
        answered and the request retried (modern era)."""
        args = None if arguments is None else dict(arguments)
        params = GetPromptRequestParams(name=name, arguments=args, meta=self._meta(meta))
        outcome = await self._rounds(
            "prompts/get", params, GetPromptResult, timeout=timeout, on_progress=on_progress
        )
        assert isinstance(outcome, GetPromptResult)
        return outcome

    # -- utilities -----------------------------------------------------------------------

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: str,
        value: str,
        *,
        context: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CompleteResult:
        """Completions for ``argument`` of a prompt or resource template, given its
        partial ``value`` (``context``: arguments already chosen)."""
        params = CompleteRequestParams(
            ref=ref,
            argument=CompleteArgument(name=argument, value=value),
            context=None if context is None else CompleteContext(arguments=dict(context)),
            meta=self._meta(),
        )
        return await self._call("completion/complete", params, CompleteResult, timeout=timeout)

    async def set_logging_level(self, level: LoggingLevel, *, timeout: float | None = None) -> None:
        """Ask for the server's log messages of ``level`` and above (to ``log_handler``).

        Legacy era: ``logging/setLevel`` for the session. Modern era: every later
        request carries ``io.modelcontextprotocol/logLevel`` (no request is sent).
        """
        self.log_level = level
        if self._modern:
            assert self._version is not None
            self._use_modern(self._version)
            return
        await self._call(
            "logging/setLevel", SetLevelRequestParams(level=level), Result, timeout=timeout
        )

    async def ping(self, *, timeout: float | None = None) -> None:
        """Check that the server answers. Legacy era: ``ping``; modern era (which has
        no ping): ``server/discover``. Raises like any request."""
        if self._modern:
            await self._call(
                "server/discover", RequestParams(meta=self._meta()), Result, timeout=timeout
            )
        else:
            await self._call("ping", RequestParams(), Result, timeout=timeout)

    async def set_roots(self, roots: Sequence[Root | str | Path]) -> None:
        """Replace the client's roots. Legacy era: the server is told with
        ``notifications/roots/list_changed``.

        The roots capability is declared when the client is made: give ``roots=[]``
        there to start without roots and set them later. A client with a
        ``roots_handler`` raises ``ConfigError``.
        """
        if self.roots_handler is not None:
            raise ConfigError("this client answers roots with its roots_handler")
        self._responder.roots = as_roots(roots)
        if self.connected and not self._modern and self._caps.roots is not None:
            assert self._session is not None
            await self._session.notify("notifications/roots/list_changed")

    async def _all(
        self, fetch: Callable[[str | None], Awaitable[P]], items: Callable[[P], list[X]]
    ) -> list[X]:
        out: list[X] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = await fetch(cursor)
            out.extend(items(page))
            cursor = getattr(page, "next_cursor", None)
            if cursor is None:  # an empty string is a cursor too
                return out
            if cursor in seen:
                raise UnexpectedResult(f"the server repeated the pagination cursor {cursor!r}")
            seen.add(cursor)

    # -- what the server tells -----------------------------------------------------------

    async def _on_notification(self, note: JSONRPCNotification) -> None:
        """Route one notification (runs in the reading task: never blocks)."""
        method = note.method
        if method == "notifications/message":
            log = decode_params(note.params, LoggingMessageNotificationParams)
            await call_callback(self.log_handler, log)
            return
        if method == "notifications/cancelled":  # a server ending a subscriptions/listen
            cancelled = decode_params(note.params, CancelledNotificationParams)
            ended = (
                self._subscriptions.pop(cancelled.request_id, None)
                if cancelled.request_id is not None
                else None
            )
            if ended is not None:
                ended.end()
            return
        typed = typed_notification(note)
        if typed is None:
            return
        params = getattr(typed, "params", None)
        meta = getattr(params, "meta", None)
        sid = meta.get(META_SUBSCRIPTION_ID) if isinstance(meta, dict) else None
        if isinstance(typed, SubscriptionsAcknowledgedNotification):
            opening = self._opening
            if sid is not None and sid not in self._subscriptions and opening is not None:
                self._opening = None
                self._subscriptions[sid] = opening
                opening.acknowledge(sid, typed.params.notifications)
            return
        if sid is not None:
            sub = self._subscriptions.get(sid)
            if sub is not None:
                sub.deliver(typed)
            return
        for legacy in self._legacy_subscriptions:
            if legacy.wants(typed):
                legacy.deliver(typed)
        if self.notification_handler is not None:
            await call_callback(self.notification_handler, typed)


def _registered(
    result: ListToolsResult, register: Callable[[str, dict[str, Any]], None]
) -> ListToolsResult:
    """``result`` without the tools the transport refused to register."""
    kept: list[Tool] = []
    for tool in result.tools:
        try:
            register(tool.name, tool.input_schema)
        except ValueError as problem:  # the transport's InvalidParamHeader
            logger.warning("ignoring tool %r: %s", tool.name, problem)
        else:
            kept.append(tool)
    if len(kept) == len(result.tools):
        return result
    return msgspec.structs.replace(result, tools=kept)


def _identity(result: CallToolResult) -> CallToolResult:
    return result


def _name(type_: Any) -> str:
    return getattr(type_, "__name__", None) or repr(type_)


def _server_info_of(meta: Mapping[str, Any] | None) -> Implementation | None:
    raw = (meta or {}).get(META_SERVER_INFO)
    if raw is None:
        return None
    try:
        return convert(raw, Implementation)
    except msgspec.ValidationError:
        return None  # self-reported and informational: a bad one is ignored
