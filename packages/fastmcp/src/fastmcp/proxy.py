"""Serve a remote MCP server as a local one: ``proxy(target) -> Server``.

::

    from fastmcp.proxy import proxy

    proxy("https://example.com/mcp").run()  # a remote HTTP server, served on stdio
    proxy(["npx", "-y", "some-server"]).run("http", port=8000)  # a stdio server over HTTP

The proxy is an ordinary ``fastmcp_server.Server`` whose tools, resources, resource
templates and prompts are those of the remote server, reached through a
``fastmcp_client.Client`` (so the target is anything a ``Client`` accepts: an
in-process server, a command, a URL, an MCP configuration).

Theory of operation. The client connects when the proxy starts serving (in its
lifespan, once however many connections it serves) and the remote lists are
copied into the proxy's registry; a ``list_changed`` notification from the remote
refreshes the copy, and the proxy's own clients are told in turn. Each request to
the proxy becomes one request to the remote, made from the proxy request's task:

* cancelling the proxy request (the client's ``notifications/cancelled``, its
  budget) cancels the remote one, which is told with ``notifications/cancelled``;
* progress notifications of the remote request are passed on as progress of the
  proxy request (when its client asked for progress);
* your own ``_meta`` entries are passed on (the reserved ``io.modelcontextprotocol/``
  keys and ``progressToken`` are the proxy's own business);
* errors keep their JSON-RPC code; a tool that failed stays a failed tool result;
* completion requests are forwarded when the remote offers completions.

Questions the remote asks (sampling, elicitation, roots) are relayed to the client
of the proxy request that caused them and the answer sent back, in both protocol
eras on both sides (for a 2026-07-28 client of the proxy the question becomes an
input-required round: the proxy request ends with it and, when the client retries
with the answer, the remote request is made again and the remote's question
answered from it, as handlers of that era must allow). A remote of 2025-11-25 or
older does not say which request a question belongs to: it is relayed to the
latest proxy request in flight, and refused when there is none. Log messages of
the remote go to the latest proxy request in flight (at the level its client asked
for), else to the ``fastmcp.server_log`` Python logger.

Resource subscriptions are followed on demand: while some client of the proxy is
subscribed to a resource (``resources/subscribe``, or a 2026-07-28
``subscriptions/listen`` stream naming it), the proxy is subscribed to it at the
remote, in the remote's era, and passes its ``notifications/resources/updated`` on;
the remote subscription ends with the last local one.

Sessions. By default (``sessions="isolated"``) each session of the proxy's own
clients - a stdio or in-process connection, an HTTP session - has an upstream
connection of its own, made at its first request and closed when it ends, so what
one client's session holds at the remote (its roots, its log level, its
subscriptions, the remote's per-session state) is never another's. A 2026-07-28
client of the proxy has no session (each request stands alone): its requests go
through the proxy's own upstream connection, the one that also copies the lists and
follows their changes. ``sessions="shared"`` sends every request through that one
connection (fewer connections; right for a stateless remote, or one client).

Reconnecting. When an upstream connection is lost (the child process exits, the
HTTP server stops answering), the proxy connects again, waiting ``reconnect_delay``
seconds before the first attempt and twice as long before each next one, up to 30 s
(a successful connection starts over). The lists are copied again (the proxy's
clients hear of what changed) and the followed resources followed again. A request
made meanwhile waits for the connection, at most ``reconnect_wait`` seconds, then
fails ("the proxied server is unavailable"); a request in flight when the connection
is lost fails at once (it may or may not have run: it is not made again). Only the
first connection, when the proxy starts, must succeed.

Tasks. A tool keeps the remote's task support (``execution.taskSupport``), so a
client of the proxy may run it as a task, in either era (the 2025-11-25 ``task``
param, the 2026-07-28 tasks extension): the proxy's task makes the remote call, which
the remote may in turn run as a task of its own (the proxy follows it: 2025-11-25
``tasks/get`` and ``tasks/result``, 2026-07-28 ``tasks/get`` and ``tasks/update``).
The proxy's task reports the remote's progress, relays its questions, ends with its
result, and cancelling it (``tasks/cancel``) cancels the remote call, or the remote
task. (The proxy keeps its own task ids: a task survives neither the proxy nor, after
a reconnection, the remote.)
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from importlib import metadata
from typing import Any, Literal, TypeVar

import attrs
import msgspec
import trio

from fastmcp_client import (
    Client,
    ConfigError,
    IncomingNotification,
    McpConfig,
    Target,
    python_logging,
)
from fastmcp_core import (
    ConnectionClosed,
    InputRequired,
    McpContext,
    ProtocolError,
    TransportError,
)
from fastmcp_protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    CallToolResult,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    GetPromptResult,
    InputRequest,
    ListRootsRequest,
    ListRootsResult,
    LoggingMessageNotificationParams,
    McpError,
    ProgressNotificationParams,
    Prompt,
    PromptListChangedNotification,
    PromptReference,
    ReadResourceResult,
    Resource,
    ResourceListChangedNotification,
    ResourceTemplate,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
    Root,
    Tool,
    ToolListChangedNotification,
    convert,
    is_modern,
)
from fastmcp_server import Connection, Server, UriTemplate

__all__ = ["proxy"]

logger = logging.getLogger("fastmcp.proxy")

T = TypeVar("T")

# keys of a request's _meta that belong to the proxy's own protocol exchange
_RESERVED_PREFIX = "io.modelcontextprotocol/"


def proxy(
    target: Target,
    *,
    name: str | None = None,
    version: str | None = None,
    instructions: str | None = None,
    relay_requests: bool = True,
    request_timeout: float | None = None,
    sessions: Literal["isolated", "shared"] = "isolated",
    reconnect_delay: float = 0.1,
    reconnect_wait: float = 10.0,
    **client_options: Any,
) -> Server:
    """A ``Server`` that serves what the server at ``target`` offers.

    ``target`` is anything ``fastmcp_client.Client`` accepts; ``client_options`` go
    to the ``Client`` (``server=`` to pick a server of an MCP configuration,
    ``headers=``, ``env=``, ``stderr=``, ``protocol_version=``, ...; not the
    handlers, which the proxy sets). The proxy takes the remote's name, version,
    title and instructions unless ``name``/``version``/``instructions`` say
    otherwise. ``relay_requests=False`` declares no sampling, elicitation or roots
    capability to the remote (it then never asks). ``request_timeout`` is the
    proxy's budget per request (``None``: none of its own; the remote's applies).
    ``sessions``, ``reconnect_delay`` and ``reconnect_wait``: see the module
    docstring.

    A configuration of several servers (and no ``server=``) gives one server that
    mounts a proxy of each under its name: tools and prompts ``<server>_<name>``,
    resources ``<scheme>://<server>/<rest>`` (``Server.mount``'s naming; what a
    ``Client`` given such a configuration connects to).

    Nothing is connected until the server runs (``run()``, ``serve_stdio()``,
    ``serve_http()``, an in-process ``Client(proxy)``...): connecting fails then,
    with the client's error (``ConnectionClosed``, ``ConfigError``...). Raises
    ``ConfigError`` at once for a target that cannot work.
    """
    for option in ("sampling_handler", "elicitation_handler", "roots", "roots_handler"):
        if option in client_options:
            raise TypeError(f"proxy() sets {option} itself: it relays the remote's questions")
    several = _several_servers(target) if "server" not in client_options else None
    if several is not None:
        composite = Server(
            name or "proxy", version or metadata.version("fastmcp"), instructions=instructions
        )
        for server_name, server_config in several.servers.items():
            try:
                composite.mount(
                    server_name,
                    proxy(
                        server_config,
                        relay_requests=relay_requests,
                        request_timeout=request_timeout,
                        sessions=sessions,
                        reconnect_delay=reconnect_delay,
                        reconnect_wait=reconnect_wait,
                        **client_options,
                    ),
                )
            except ValueError as exc:
                raise ConfigError(f"MCP server {server_name!r}: {exc}") from None
        return composite
    if sessions not in ("isolated", "shared"):
        raise ValueError(f"sessions must be 'isolated' or 'shared', not {sessions!r}")
    remote = _Remote(
        keep_name=name is not None,
        keep_version=version is not None,
        isolated=sessions == "isolated",
        reconnect_delay=reconnect_delay,
        reconnect_wait=reconnect_wait,
    )
    keep_instructions = instructions is not None

    @asynccontextmanager
    async def lifespan(_: Server) -> AsyncIterator[None]:
        async with trio.open_nursery() as nursery:
            remote.nursery = nursery
            remote.primary = _Link(remote, remote.on_primary_up)
            remote.keep_instructions = keep_instructions
            await nursery.start(remote.primary.run)
            try:
                yield None
            finally:
                remote.nursery = None
                nursery.cancel_scope.cancel()

    server = Server(
        name or "proxy",
        version or metadata.version("fastmcp"),  # until the remote's is known
        instructions=instructions,
        request_timeout=request_timeout,
        lifespan=lifespan,
    )
    remote.server = server
    server.on_subscriptions_changed(remote.follow)
    server.on_connection_closed(remote.connection_closed)
    handlers: dict[str, Any] = {}
    if relay_requests:
        handlers = {
            "sampling_handler": remote.relay_sampling,
            "elicitation_handler": remote.relay_elicitation,
            "roots_handler": remote.relay_roots,
        }
    client_options.setdefault("log_level", "debug")  # the proxy's own clients filter
    remote.make_client = partial(
        Client, target, log_handler=remote.relay_log, **handlers, **client_options
    )
    remote.make_client()  # a target that cannot work fails now (ConfigError)
    server.completion()(remote.complete)
    return server


@attrs.define(eq=False)
class _Call:
    """One proxy request being forwarded: whom the remote's questions go to."""

    ctx: McpContext
    asked: int = 0
    pending: InputRequired | None = None  # a 2026-07-28 question for the proxy's client


_current: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "fastmcp_proxy_call", default=None
)

_MAX_RECONNECT_DELAY = 30.0
_CANCEL_WAIT = 5.0  # how long cancelling a remote task may take


@attrs.define(eq=False)
class _Link:
    """One upstream connection, kept up: connected again (after a growing delay)
    whenever it is lost, until stopped. The first connection must succeed:
    ``run``'s start fails with its error otherwise."""

    remote: _Remote
    on_up: Callable[[_Link, Client, trio.Nursery], Awaitable[None]] | None = None
    client: Client | None = attrs.field(init=False, default=None)
    up: trio.Event = attrs.field(init=False, factory=trio.Event)
    calls: list[_Call] = attrs.field(init=False, factory=list)
    """The proxy requests in flight through this connection."""
    _connection: trio.CancelScope | None = attrs.field(init=False, default=None)
    _stop: trio.CancelScope = attrs.field(init=False, factory=trio.CancelScope)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        delay, started = self.remote.reconnect_delay, False
        with self._stop:
            while True:
                client = self.remote.make_client()
                try:
                    async with client, trio.open_nursery() as nursery:
                        with trio.CancelScope() as connection:
                            self._connection = connection
                            if self.on_up is not None:
                                await self.on_up(self, client, nursery)
                            self.client = client
                            self.up.set()
                            if not started:
                                task_status.started()
                                started = True
                            else:
                                logger.info("reconnected to the proxied server")
                            delay = self.remote.reconnect_delay
                            await client.wait_closed()
                        nursery.cancel_scope.cancel()
                except Exception as error:  # a group, when the nursery saw it
                    failure = _alone(error)
                    if not started:
                        raise failure from None
                    logger.warning("the proxied server is unavailable: %s", failure)
                finally:
                    self.client, self._connection = None, None
                    if self.up.is_set():
                        self.up = trio.Event()
                if started:
                    logger.warning("the proxied server went away; connecting again in %g s", delay)
                await trio.sleep(delay)
                delay = min(delay * 2, _MAX_RECONNECT_DELAY)

    def lost(self, client: Client) -> None:
        """``client``'s connection failed a request: connect again (once per loss)."""
        if self.client is client and self._connection is not None:
            self._connection.cancel()

    def stop(self) -> None:
        self._stop.cancel()

    async def connected(self) -> Client:
        """The connected client, waiting for a reconnection at most ``reconnect_wait``."""
        client = self.client
        if client is not None:
            return client
        with trio.move_on_after(self.remote.reconnect_wait):
            while self.client is None:
                await self.up.wait()
        if self.client is None:
            raise ProtocolError(
                INTERNAL_ERROR,
                "the proxied server is unavailable: not reconnected within "
                f"{self.remote.reconnect_wait:g} s",
            )
        return self.client


@attrs.define(eq=False)
class _Remote:
    """The remote end of a proxy: its connections, what of it is registered, and the
    proxy requests in flight through it."""

    keep_name: bool
    keep_version: bool
    isolated: bool
    reconnect_delay: float
    reconnect_wait: float
    keep_instructions: bool = False
    server: Server = attrs.field(init=False)
    make_client: Callable[[], Client] = attrs.field(init=False)
    primary: _Link = attrs.field(init=False)
    """The connection that copies the lists, follows them and the subscriptions, and
    serves requests that belong to no session (all of them, shared)."""
    sessions: dict[Connection, _Link] = attrs.field(init=False, factory=dict)
    nursery: trio.Nursery | None = attrs.field(init=False, default=None)
    registered: dict[str, dict[str, Any]] = attrs.field(init=False, factory=dict)
    _refreshing: dict[str, bool] = attrs.field(init=False, factory=dict)
    following: dict[str, trio.CancelScope] = attrs.field(init=False, factory=dict)
    _following_lock: trio.Lock = attrs.field(init=False, factory=trio.Lock)
    _follower: trio.Nursery | None = attrs.field(init=False, default=None)

    @property
    def client(self) -> Client:
        """The primary connection's client (connected, or about to be)."""
        client = self.primary.client
        if client is None:
            raise ProtocolError(INTERNAL_ERROR, "the proxied server is unavailable")
        return client

    async def on_primary_up(self, link: _Link, client: Client, nursery: trio.Nursery) -> None:
        """A (new) primary connection: take the remote's identity and lists, follow
        their changes and the resources the proxy's clients follow."""
        link.client = client  # for what follows; ``up`` is set after it
        self.adopt_identity(client)
        await nursery.start(self.listen, client)
        await self.refresh_all()
        async with self._following_lock:
            self._follower = nursery
            for scope in self.following.values():
                scope.cancel()
            self.following.clear()
        await self.follow(self.server.subscribed_resources)

    # -- identity and lists -------------------------------------------------------------

    def adopt_identity(self, client: Client) -> None:
        server, info = self.server, client.server_info
        if info is not None:
            server.info = msgspec.structs.replace(
                info,
                name=server.name if self.keep_name else info.name,
                version=server.version if self.keep_version else info.version,
            )
            server.name, server.version = server.info.name, server.info.version
        if not self.keep_instructions:
            server.instructions = client.instructions

    async def refresh_all(self) -> None:
        for kind in ("tools", "resources", "templates", "prompts"):
            await self.refresh(kind)

    async def refresh(self, kind: str) -> None:
        """Copy one remote list into the proxy's registry (only what changed is
        replaced, so the proxy's clients hear one ``list_changed`` per change)."""
        client, server = self.client, self.server
        caps = client.server_capabilities
        fresh: dict[str, Any]
        if kind == "tools":
            tools = await client.list_all_tools() if caps.tools is not None else []
            fresh = {t.name: _ProxyTool(t, self) for t in tools}
            self._sync(kind, fresh, _replacing(server.add_tool), server.remove_tool)
        elif kind == "resources":
            resources = await client.list_all_resources() if caps.resources else []
            fresh = {r.uri: _ProxyResource(r, self) for r in resources}
            self._sync(kind, fresh, _replacing(server.add_resource), server.remove_resource)
        elif kind == "templates":
            templates = await client.list_all_resource_templates() if caps.resources else []
            fresh = {t.uri_template: _ProxyTemplate(t, self) for t in templates}
            self._sync(kind, fresh, _replacing(server.add_resource), server.remove_resource)
        else:
            prompts = await client.list_all_prompts() if caps.prompts is not None else []
            fresh = {p.name: _ProxyPrompt(p, self) for p in prompts}
            self._sync(kind, fresh, _replacing(server.add_prompt), server.remove_prompt)

    def _sync(
        self,
        kind: str,
        fresh: dict[str, Any],
        add: Callable[[Any], None],
        remove: Callable[[str], None],
    ) -> None:
        """Register the handlers of ``fresh`` in place of the last ones of ``kind``,
        touching only what changed (an equal definition stays as it is)."""
        current = self.registered.setdefault(kind, {})
        for key in [k for k in current if k not in fresh]:
            remove(key)
            del current[key]
        for key, handler in fresh.items():
            old = current.get(key)
            if old is None or old.definition != handler.definition:
                add(handler)
                current[key] = handler

    async def listen(
        self, client: Client, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Follow the remote's list changes (a ``subscriptions/listen`` stream in the
        2026-07-28 era, the session's notifications before) until cancelled."""
        caps = client.server_capabilities
        tools = bool(caps.tools and caps.tools.list_changed)
        prompts = bool(caps.prompts and caps.prompts.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        if not (tools or prompts or resources):
            task_status.started()
            return
        started = False
        try:
            async with client.subscribe(
                tools_list=tools, prompts_list=prompts, resources_list=resources
            ) as updates:
                task_status.started()
                started = True
                async for note in updates:
                    self.on_notification(note)
        except McpError as error:  # a remote that cannot: its lists are copied once
            if not started:
                logger.info("not following the remote's list changes: %s", error)
                task_status.started()

    async def follow(self, uris: frozenset[str]) -> None:
        """Be subscribed at the remote to exactly the resources ``uris`` (what the
        proxy's clients are subscribed to); returns once new subscriptions are
        acknowledged, so no update is missed."""
        async with self._following_lock:
            for uri in [uri for uri in self.following if uri not in uris]:
                self.following.pop(uri).cancel()
            nursery, client = self._follower, self.primary.client if self.nursery else None
            if nursery is None or client is None:
                return
            for uri in sorted(uris - self.following.keys()):
                try:
                    scope = await nursery.start(self._follow, client, uri)
                except RuntimeError:  # the connection just ended: the next one follows
                    return
                if scope is not None:
                    self.following[uri] = scope

    async def _follow(
        self, client: Client, uri: str, task_status: trio.TaskStatus[trio.CancelScope | None]
    ) -> None:
        """One remote subscription, passing its updates on, until cancelled."""
        started = False
        with trio.CancelScope() as scope:
            try:
                async with client.subscribe(resources=[uri]) as updates:
                    task_status.started(scope)
                    started = True
                    async for note in updates:
                        if isinstance(note, ResourceUpdatedNotification):
                            await self.server.notify_resource_updated(note.params.uri)
            except (McpError, ConnectionClosed) as error:
                logger.warning("not following the remote resource %s: %s", uri, error)
            finally:
                if self.following.get(uri) is scope:
                    del self.following[uri]
        if not started:
            task_status.started(None)

    def on_notification(self, note: IncomingNotification) -> None:
        if isinstance(note, ToolListChangedNotification):
            self._refresh_soon("tools")
        elif isinstance(note, PromptListChangedNotification):
            self._refresh_soon("prompts")
        elif isinstance(note, ResourceListChangedNotification):
            self._refresh_soon("resources")
            self._refresh_soon("templates")

    def _refresh_soon(self, kind: str) -> None:
        if self.nursery is None:
            return
        running = kind in self._refreshing
        self._refreshing[kind] = True  # a refresh already running goes round once more
        if not running:
            self.nursery.start_soon(self._refresh_loop, kind)

    async def _refresh_loop(self, kind: str) -> None:
        try:
            while self._refreshing.get(kind):
                self._refreshing[kind] = False
                try:
                    await self.refresh(kind)
                except McpError as error:
                    logger.warning("could not refresh the remote %s: %s", kind, error)
        finally:
            self._refreshing.pop(kind, None)

    # -- sessions -----------------------------------------------------------------------

    async def link_for(self, ctx: McpContext) -> _Link:
        """The upstream connection a request goes through: its session's own
        (isolated, a session-era request), else the primary one."""
        connection = Server.current_connection()
        if not self.isolated or connection is None or is_modern(ctx.protocol_version):
            return self.primary
        link = self.sessions.get(connection)
        if link is None:
            if self.nursery is None:
                return self.primary
            link = self.sessions[connection] = _Link(self)
            try:
                await self.nursery.start(link.run)
            except BaseException:
                if self.sessions.get(connection) is link:
                    del self.sessions[connection]
                raise
        return link

    async def connection_closed(self, connection: Connection) -> None:
        link = self.sessions.pop(connection, None)
        if link is not None:
            link.stop()

    # -- forwarding ---------------------------------------------------------------------

    async def forward(
        self,
        ctx: McpContext,
        request: Callable[[Client, Any, Mapping[str, Any] | None], Awaitable[T]],
    ) -> T:
        """Make the remote request for ``ctx``'s request: ``request(client,
        on_progress, meta)``. Progress comes back as ``ctx``'s progress; remote errors
        keep their code; a question for a 2026-07-28 client ends this round
        (``InputRequired``), even when the remote caught the refusal and answered
        otherwise."""
        call = _Call(ctx)
        on_progress = None
        if ctx.progress_token is not None:

            async def on_progress(p: ProgressNotificationParams) -> None:
                await ctx.report_progress(p.progress, p.total, p.message)

        meta = {
            key: value
            for key, value in ctx.meta.items()
            if key != "progressToken" and not key.startswith(_RESERVED_PREFIX)
        }
        try:
            link = await self.link_for(ctx)
            client = await link.connected()
        except McpError as error:
            raise ProtocolError(
                INTERNAL_ERROR, f"the proxied server is unavailable: {error.message}"
            ) from None
        token = _current.set(call)
        link.calls.append(call)
        try:
            result = await request(client, on_progress, meta or None)
        except McpError as error:
            if call.pending is not None:
                raise call.pending from None
            if isinstance(error, ConnectionClosed | TransportError):
                link.lost(client)
                raise ProtocolError(
                    INTERNAL_ERROR, f"the proxied server is unavailable: {error.message}"
                ) from None
            raise ProtocolError(error.code, error.message, error.data) from None
        finally:
            link.calls.remove(call)
            _current.reset(token)
        if call.pending is not None:
            raise call.pending
        return result

    def _in_flight(self) -> list[_Call]:
        calls = list(self.primary.calls)
        for link in self.sessions.values():
            calls += link.calls
        return calls

    def _asking(self) -> _Call:
        call = _current.get()
        if call is None:
            calls = self._in_flight()
            call = calls[-1] if calls else None
        if call is None:
            raise McpError(INVALID_REQUEST, "no request of the proxy's client to relay this to")
        return call

    async def _ask(self, request: InputRequest) -> Any:
        call = self._asking()
        call.asked += 1
        key = f"proxy-{call.asked}"  # deterministic: the remote asks in the same order
        try:
            return (await call.ctx.ask({key: request}))[key]
        except InputRequired as required:
            call.pending = required
            raise McpError(INVALID_REQUEST, "the proxy's client must answer first") from None

    async def relay_sampling(self, params: CreateMessageRequestParams) -> CreateMessageResult:
        answer = await self._ask(CreateMessageRequest(params=params))
        return _as(answer, CreateMessageResult)

    async def relay_elicitation(
        self, params: ElicitRequestFormParams | ElicitRequestURLParams
    ) -> ElicitResult:
        answer = await self._ask(ElicitRequest(params=params))
        return _as(answer, ElicitResult)

    async def relay_roots(self) -> list[Root]:
        answer = await self._ask(ListRootsRequest())
        return _as(answer, ListRootsResult).roots

    async def relay_log(self, params: LoggingMessageNotificationParams) -> None:
        calls = self._in_flight()
        if calls:
            await calls[-1].ctx.log(params.level, params.data, logger=params.logger)
        else:
            await python_logging(params)

    async def complete(self, value: str, ref: str, argument: str, context: dict[str, str]) -> Any:
        client = self.primary.client
        if client is None or client.server_capabilities.completions is None:
            return []
        reference: PromptReference | ResourceTemplateReference = (
            PromptReference(name=ref)
            if ref in self.registered.get("prompts", {})
            else ResourceTemplateReference(uri=ref)
        )
        try:
            done = await client.complete(
                reference, argument, value, context=context or None, timeout=math.inf
            )
        except McpError as error:
            raise ProtocolError(error.code, error.message, error.data) from None
        return done.completion.values


def _several_servers(target: Target) -> McpConfig | None:
    """The configuration ``target`` is, when it has several servers."""
    config: McpConfig | None = None
    if isinstance(target, McpConfig):
        config = target
    elif isinstance(target, Mapping) and ("mcpServers" in target or "servers" in target):
        config = McpConfig.from_dict(target)
    elif isinstance(target, os.PathLike | str) and os.fspath(target).endswith(".json"):
        config = McpConfig.load(target)
    return config if config is not None and len(config.servers) > 1 else None


def _alone(error: Exception) -> Exception:
    """The one error a group holds (a nursery wraps what it sees), else ``error``."""
    while isinstance(error, ExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _as(answer: Any, type_: type[T]) -> T:
    return answer if isinstance(answer, type_) else convert(answer, type_)


def _replacing(add: Callable[..., None]) -> Callable[[Any], None]:
    """``add`` replacing what is registered under the same name: the remote's new
    definition of it."""
    return lambda handler: add(handler, on_duplicate="replace")


@attrs.frozen
class _ProxyTool:
    definition: Tool
    remote: _Remote

    async def call(self, ctx: McpContext, arguments: dict[str, Any]) -> CallToolResult:
        name = self.definition.name
        execution = self.definition.execution
        as_task = ctx.is_task and execution is not None and execution.task_support == "optional"

        async def request(
            client: Client, on_progress: Any, meta: Mapping[str, Any] | None
        ) -> CallToolResult:
            if not as_task:  # (a task the remote requires, call_tool asks for itself)
                return await client.call_tool(
                    name, arguments, timeout=math.inf, on_progress=on_progress, meta=meta
                )
            # a task here, a task there: its end is awaited, cancelling it cancels that
            task = await client.call_tool_task(
                name, arguments, timeout=math.inf, on_progress=on_progress, meta=meta
            )
            try:
                return await task.result()
            except trio.Cancelled:
                shielded = trio.CancelScope(shield=True)
                bounded = trio.move_on_after(_CANCEL_WAIT)
                with shielded, bounded, contextlib.suppress(McpError):
                    await task.cancel()
                raise

        return await self.remote.forward(ctx, request)


@attrs.frozen
class _ProxyResource:
    definition: Resource
    remote: _Remote

    async def read(self, ctx: McpContext, uri: str) -> ReadResourceResult:
        return await _read(self.remote, ctx, uri)


@attrs.frozen
class _ProxyTemplate:
    definition: ResourceTemplate
    remote: _Remote
    template: UriTemplate = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "template", UriTemplate(self.definition.uri_template))

    def match(self, uri: str) -> dict[str, str] | None:
        return self.template.match(uri)

    async def read(
        self, ctx: McpContext, uri: str, variables: dict[str, str]
    ) -> ReadResourceResult:
        return await _read(self.remote, ctx, uri)


@attrs.frozen
class _ProxyPrompt:
    definition: Prompt
    remote: _Remote

    async def get(self, ctx: McpContext, arguments: dict[str, str]) -> GetPromptResult:
        name = self.definition.name

        async def request(
            client: Client, on_progress: Any, meta: Mapping[str, Any] | None
        ) -> GetPromptResult:
            return await client.get_prompt(
                name, arguments, timeout=math.inf, on_progress=on_progress, meta=meta
            )

        return await self.remote.forward(ctx, request)


async def _read(remote: _Remote, ctx: McpContext, uri: str) -> ReadResourceResult:
    async def request(
        client: Client, on_progress: Any, meta: Mapping[str, Any] | None
    ) -> ReadResourceResult:
        return await client.read_resource(uri, timeout=math.inf, on_progress=on_progress, meta=meta)

    return await remote.forward(ctx, request)
