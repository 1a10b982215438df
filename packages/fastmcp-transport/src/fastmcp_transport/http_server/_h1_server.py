"""``H1Server`` and ``serve_h1``: our own HTTP/1.1 server for ASGI apps, on trio.

Theory of operation. ``H1Server.serve`` binds its listening sockets first (a
failure raises at once, leaving no socket behind), runs the app's lifespan
startup (when the app speaks the lifespan protocol), reports the bound address,
and accepts connections until it is cancelled or its ``shutdown_trigger`` returns.
Each connection is an ``H1Connection`` (``_h1``) in a task of its own; those tasks
live in a nursery under a shielded scope, so that cancelling ``serve`` does not
tear down the requests in flight but starts the graceful shutdown:

1. stop accepting (the listening sockets are closed);
2. close every connection that waits for a request (idle keep-alive connections,
   and heads not yet complete), at once;
3. let the requests in flight finish, for ``graceful_timeout`` seconds; each
   connection closes after its response (``Connection: close``);
4. cancel what is left: the apps of those requests see ``trio.Cancelled``;
5. run the lifespan shutdown (bounded by ``graceful_timeout`` too), and return.

``serve`` never waits longer than that, unless an app ignores cancellation.

Beyond ``max_connections`` the server closes its oldest idle keep-alive
connection to make room; when no connection is idle it stops accepting until one
ends (new clients wait in the kernel's backlog): it never answers 503 itself.

``serve_h1`` is ``serve_http`` (``_runner``) on this server: the same arguments,
the same ``ServerAddress``, the same graceful end when cancelled (the app's legacy
sessions are shut down while the connections drain).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs
import trio

from fastmcp_protocol import LocalError
from fastmcp_transport._http_common import ConnectionHandler
from fastmcp_transport.http_server._app import StreamableHTTPApp
from fastmcp_transport.http_server._h1 import H1Connection, H1Limits, Registry
from fastmcp_transport.http_server._h1_io import IO, SocketIO, StreamIO
from fastmcp_transport.http_server._http import ASGIApp, Message
from fastmcp_transport.http_server._runner import ServerAddress

__all__ = ["H1Server", "LifespanFailed", "serve_h1"]

logger = logging.getLogger("fastmcp.http")

_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
# a connection that was reset before its accept (or that the firewall refused)
_ACCEPT_RETRY_ERRNOS = frozenset(
    {errno.ECONNABORTED, errno.ECONNRESET, errno.EPERM, errno.EPROTO, errno.ETIMEDOUT}
)
_BACKLOG = 4096

LifespanMode = Literal["auto", "on", "off"]

LIFESPAN_NOTICE = 10
"""Seconds of lifespan startup after which the server says it is still waiting (an
app that takes the lifespan scope for a request may never answer it)."""


def tls_context(
    certfile: str | os.PathLike[str], keyfile: str | os.PathLike[str] | None = None
) -> ssl.SSLContext:
    """A server-side TLS context for a certificate chain, offering HTTP/1.1 only."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.fspath(certfile), os.fspath(keyfile) if keyfile else None)
    context.set_alpn_protocols(["http/1.1"])
    return context


@attrs.define(eq=False)
class H1Server:
    """An HTTP/1.1 server for one ASGI 3 app (see the module docstring).

    ``ssl_context`` (or ``certfile``/``keyfile``) serves HTTPS; give a context that
    offers no ALPN protocol but ``http/1.1``. ``lifespan``: ``"auto"`` runs the
    lifespan protocol when the app supports it (an app that raises or returns at
    once does not), ``"on"`` requires it, ``"off"`` skips it.
    """

    app: ASGIApp
    host: str = attrs.field(default="127.0.0.1", kw_only=True)
    port: int = attrs.field(default=8000, kw_only=True)
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, kw_only=True)
    certfile: str | os.PathLike[str] | None = attrs.field(default=None, kw_only=True)
    keyfile: str | os.PathLike[str] | None = attrs.field(default=None, kw_only=True)
    limits: H1Limits = attrs.field(factory=H1Limits, kw_only=True)
    graceful_timeout: float = attrs.field(default=5.0, kw_only=True)
    lifespan: LifespanMode = attrs.field(default="auto", kw_only=True)
    _registry: Registry = attrs.field(init=False, factory=Registry)

    @property
    def connection_count(self) -> int:
        """How many connections are open."""
        return len(self._registry.connections)

    async def serve(
        self,
        *,
        shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
        task_status: trio.TaskStatus[ServerAddress] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled, or until ``shutdown_trigger()`` returns; either way
        shut down gracefully (see the module docstring). Reports a ``ServerAddress``
        (its ``path`` empty) once the sockets listen and the lifespan has started.

        Raises ``OSError`` when the address cannot be bound, and ``LifespanFailed``
        (a ``RuntimeError``) when the app's lifespan startup fails.
        """
        self._registry = Registry()  # a server may serve again after a shutdown
        context = self.ssl_context
        if context is None and self.certfile is not None:
            context = tls_context(self.certfile, self.keyfile)
        listeners = await _bind(self.host, self.port)
        try:
            port = listeners[0].getsockname()[1]
            address = ServerAddress("https" if context else "http", self.host, port, "")
            await self._serve(listeners, context, address, shutdown_trigger, task_status)
        except BaseExceptionGroup as group:
            failure = _sole(group)
            if isinstance(failure, LifespanFailed):
                raise failure from None
            raise
        finally:
            _close_all(listeners)

    async def _serve(
        self,
        listeners: list[socket.socket],
        context: ssl.SSLContext | None,
        address: ServerAddress,
        shutdown_trigger: Callable[[], Awaitable[object]] | None,
        task_status: trio.TaskStatus[ServerAddress],
    ) -> None:
        lifespan = _Lifespan(self.app, self.lifespan)
        hosting = _Hosting()
        slots = trio.Semaphore(self.limits.max_connections)
        async with trio.open_nursery() as nursery:
            await nursery.start(lifespan.run)
            connections: trio.Nursery = await nursery.start(hosting.run)
            accepting = trio.CancelScope()
            try:
                task_status.started(address)
                with accepting:
                    async with trio.open_nursery() as acceptors:
                        for listener in listeners:
                            acceptors.start_soon(
                                self._accept, listener, connections, slots, context, lifespan.state
                            )
                        if shutdown_trigger is not None:
                            await shutdown_trigger()
                            accepting.cancel()
            finally:
                with trio.CancelScope(shield=True):
                    _close_all(listeners)
                    await self._drain(hosting)
                    with trio.move_on_after(self.graceful_timeout):
                        await lifespan.shutdown()
                    lifespan.scope.cancel()

    async def _drain(self, hosting: _Hosting) -> None:
        registry = self._registry
        registry.stopping = True
        registry.close_waiting()
        hosting.stop.set()
        with trio.move_on_after(self.graceful_timeout):
            await hosting.done.wait()
        if not hosting.done.is_set():
            logger.info(
                "cancelling %d request(s) still in flight after %.1f s",
                len(registry.connections),
                self.graceful_timeout,
            )
            hosting.scope.cancel()
            await hosting.done.wait()

    async def _accept(
        self,
        listener: socket.socket,
        connections: trio.Nursery,
        slots: trio.Semaphore,
        context: ssl.SSLContext | None,
        state: dict[str, Any] | None,
    ) -> None:
        while True:
            await trio.lowlevel.wait_readable(listener)
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                if exc.errno in _ACCEPT_RETRY_ERRNOS:
                    continue
                if exc.errno not in _CAPACITY_ERRNOS:
                    raise
                logger.warning(
                    "accept() failed (%s); retrying in 0.1 s", errno.errorcode[exc.errno]
                )
                await trio.sleep(0.1)
                continue
            try:
                slots.acquire_nowait()
            except trio.WouldBlock:
                self._registry.close_one_idle()
                try:
                    await slots.acquire()
                except BaseException:
                    sock.close()
                    raise
            connections.start_soon(self._connection, sock, slots, context, state)

    async def _connection(
        self,
        sock: socket.socket,
        slots: trio.Semaphore,
        context: ssl.SSLContext | None,
        state: dict[str, Any] | None,
    ) -> None:
        registry = self._registry
        try:
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = _address(sock.getpeername())
            server = _address(sock.getsockname())
        except OSError:  # already reset by the peer
            sock.close()
            slots.release()
            return
        io: IO
        if context is None:
            io = SocketIO(sock)
        else:
            stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
            io = StreamIO(trio.SSLStream(stream, context, server_side=True, https_compatible=True))
        connection = H1Connection(
            io,
            self.app,
            self.limits,
            registry,
            scheme="https" if context is not None else "http",
            client=client,
            server=server,
            state=state,
        )
        registry.connections.add(connection)
        try:
            await connection.run()
        except Exception:
            logger.exception("internal error on an HTTP/1.1 connection")
        finally:
            registry.connections.discard(connection)
            slots.release()


class LifespanFailed(LocalError, RuntimeError):
    """The app's lifespan startup failed (or, with ``lifespan="on"``, is missing)."""


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception at the bottom of nested single-exception groups."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@attrs.define(eq=False)
class _Hosting:
    """The task that hosts the connections' nursery, shielded from ``serve``'s
    cancellation; ``scope.cancel()`` cancels every connection."""

    scope: trio.CancelScope = attrs.field(factory=lambda: trio.CancelScope(shield=True))
    stop: trio.Event = attrs.field(factory=trio.Event)
    done: trio.Event = attrs.field(factory=trio.Event)

    async def run(self, task_status: trio.TaskStatus[trio.Nursery]) -> None:
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    task_status.started(nursery)
                    await self.stop.wait()
        finally:
            self.done.set()


@attrs.define(eq=False)
class _Lifespan:
    """The ASGI lifespan protocol, run in a task of its own beside the server."""

    app: ASGIApp
    mode: LifespanMode
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    """Shielded once started: the shutdown is sent during the server's drain."""
    state: dict[str, Any] | None = None
    """The lifespan state (copied into every request's scope), when supported."""
    _to_app: trio.MemorySendChannel[Message] = attrs.field(init=False)
    _from_server: trio.MemoryReceiveChannel[Message] = attrs.field(init=False)
    _started: trio.Event = attrs.field(factory=trio.Event)
    _stopped: trio.Event = attrs.field(factory=trio.Event)
    _failure: str | None = None
    _supported: bool = False

    def __attrs_post_init__(self) -> None:
        self._to_app, self._from_server = trio.open_memory_channel[Message](2)

    async def run(self, task_status: trio.TaskStatus[None]) -> None:
        """Start the app's lifespan; report once it has started (or turned out to be
        unsupported); keep it running until ``shutdown``."""
        if self.mode == "off":
            task_status.started()
            return
        state: dict[str, Any] = {}
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = state
        with self.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._run_app, scope)
                self._to_app.send_nowait({"type": "lifespan.startup"})
                with trio.move_on_after(LIFESPAN_NOTICE):
                    await self._started.wait()
                if not self._started.is_set():
                    logger.warning(
                        "the app has not finished its lifespan startup after %d s "
                        "(serve it with lifespan='off' if it does not speak the protocol)",
                        LIFESPAN_NOTICE,
                    )
                    await self._started.wait()
                if self._failure is not None:
                    raise LifespanFailed(f"the app's lifespan startup failed: {self._failure}")
                if self._supported:
                    self.state = state
                self.scope.shield = True
                task_status.started()

    async def _run_app(self, scope: dict[str, Any]) -> None:
        try:
            await self.app(scope, self._from_server.receive, self._send)
        except Exception as exc:
            if self._started.is_set():
                logger.exception("the app's lifespan failed")
            elif self.mode == "on":
                self._failure = repr(exc)
            else:
                logger.debug("the app does not support the lifespan protocol", exc_info=True)
        else:
            if not self._started.is_set() and self.mode == "on":
                self._failure = "the app returned before its startup completed"
        finally:
            self._started.set()
            self._stopped.set()

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete":
            self._supported = True
            self._started.set()
        elif kind == "lifespan.startup.failed":
            self._failure = str(message.get("message") or "lifespan.startup.failed")
            self._started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            if kind == "lifespan.shutdown.failed":
                logger.error("the app's lifespan shutdown failed: %s", message.get("message"))
            self._stopped.set()
        await trio.lowlevel.checkpoint()

    async def shutdown(self) -> None:
        """Ask the app to shut down; wait until it has (or has returned)."""
        if not self._supported or self._stopped.is_set():
            return
        self._to_app.send_nowait({"type": "lifespan.shutdown"})
        await self._stopped.wait()


async def _bind(host: str, port: int) -> list[socket.socket]:
    """Non-blocking listening sockets for every address of ``host`` (one port for
    all, even when ``port`` is 0); on failure no socket is left open."""
    infos = await trio.socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    listeners: list[socket.socket] = []
    try:
        seen: set[Any] = set()
        for family, kind, proto, _, sockaddr in infos:
            if sockaddr in seen:
                continue
            seen.add(sockaddr)
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if len(listeners) > 1:  # port 0: every address gets the port of the first
                sockaddr = (sockaddr[0], listeners[0].getsockname()[1], *sockaddr[2:])
            sock.bind(sockaddr)
            sock.listen(_BACKLOG)
            sock.setblocking(False)
    except BaseException:
        _close_all(listeners)
        raise
    return listeners


def _close_all(listeners: list[socket.socket]) -> None:
    for sock in listeners:
        if sock.fileno() != -1:
            trio.lowlevel.notify_closing(sock)
            sock.close()


def _address(sockaddr: Any) -> tuple[str, int] | None:
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        return str(sockaddr[0]), int(sockaddr[1])
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve_h1(
    app: StreamableHTTPApp | ConnectionHandler,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    path: str = "/mcp",
    certfile: str | os.PathLike[str] | None = None,
    keyfile: str | os.PathLike[str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    graceful_timeout: float = 5.0,
    asgi: ASGIApp | None = None,
    limits: H1Limits | None = None,
    task_status: trio.TaskStatus[ServerAddress] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve MCP over HTTP/1.1 on ``H1Server`` until cancelled: ``serve_http``'s
    contract (arguments, ``ServerAddress``, graceful end) on our own server.

    ``app`` is a ``StreamableHTTPApp``, or a ``ConnectionHandler`` to serve with a
    default one on ``path``. ``asgi`` is what the server serves when it is not
    ``app`` itself (a middleware around it); ``app`` still hosts the sessions.
    ``ssl_context``, or ``certfile`` and ``keyfile``, serve HTTPS; ``limits`` are
    the server's limits and timeouts (``H1Limits``).

    Cancelling it shuts down gracefully: the server stops accepting and closes idle
    connections; the requests in flight get the app's ``shutdown_grace`` seconds to
    finish, those still running are then answered with the shutdown error, and the
    connections get ``graceful_timeout`` seconds more to deliver those answers (the
    server's own limit counts from the stop: the grace, then time to answer); what
    is left is then cancelled. It returns once every connection and session has ended.
    """
    if not isinstance(app, StreamableHTTPApp):
        app = StreamableHTTPApp(app, path=path)
    if not _is_loopback(host) and app.security is not None and app.security.local_only:
        logger.warning(
            "serving on %s, but only requests naming localhost are allowed "
            "(DNS-rebinding protection); list this server's names in allowed_hosts",
            host,
        )
    server = H1Server(
        app if asgi is None else asgi,
        host=host,
        port=port,
        ssl_context=ssl_context,
        certfile=certfile,
        keyfile=keyfile,
        limits=limits or H1Limits(),
        graceful_timeout=app.shutdown_grace + graceful_timeout,
    )
    stop = trio.Event()
    server_done = trio.Event()
    app_scope = trio.CancelScope(shield=True)
    server_scope = trio.CancelScope(shield=True)

    async def run_app(task_status: trio.TaskStatus[None]) -> None:
        with app_scope:
            await app.run(task_status=task_status)

    async def run_server(task_status: trio.TaskStatus[ServerAddress]) -> None:
        try:
            with server_scope:
                await server.serve(shutdown_trigger=stop.wait, task_status=task_status)
        except BaseException:
            app_scope.cancel()  # the server failed (the port is taken): end the app too
            raise
        finally:
            server_done.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(run_app)
        bound: ServerAddress = await nursery.start(run_server)
        task_status.started(ServerAddress(bound.scheme, host, bound.port, app.path))
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                stop.set()
                with trio.move_on_after(app.shutdown_grace + graceful_timeout):
                    await app.shutdown()
                await server_done.wait()
            app_scope.cancel()
