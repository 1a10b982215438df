"""What a ``Client`` connects to, and how: one target, resolved once into a connector.

A target is one of:

* an in-process server: any object with ``async def serve_transport(self, transport,
  /)``; the client makes a ``memory_pair()``, runs ``serve_transport`` on one end in
  its own nursery and talks over the other;
* a ``Transport`` that is already connected (the client closes it on exit);
* a command: a list or tuple of strings (argv), or a string split like a shell
  would (``shlex``); it is started as a child process and spoken to over stdio.
  A command whose program is a Python file (``"server.py"``, ``["server.py",
  "--flag"]``, ``Path("server.py")``) runs with this interpreter (``sys.executable``),
  so the file needs neither an executable bit nor a shebang (the servers of an MCP
  configuration run exactly as written: other hosts read the same file);
* a URL (``http://`` or ``https://``): Streamable HTTP (``fastmcp_transport.http_client``,
  imported only when used);
* an MCP configuration (see ``_config``): a ``McpConfig``, a dict, a path
  (``os.PathLike``, or a string ending in ``.json``), or a single ``StdioServer`` /
  ``HttpServer``; ``server=`` picks one server by name. A configuration of several
  servers, and no ``server=``, is all of them at once: their tools and prompts named
  ``<server>_<name>``, their resources ``<scheme>://<server>/<rest>``. That needs a
  server made of the client's proxies, which this package cannot make (the client
  never imports a server): the ``fastmcp`` package provides it, found through the
  entry point group ``fastmcp_client.several_servers`` (a callable
  ``(config, **client_options) -> ServesTransport``: ``fastmcp.proxy.proxy``), and
  it runs in-process like any server object.

Resolution happens when the ``Client`` is made, so a bad target fails at once with
``ConfigError``; connecting happens in ``async with``.
"""

from __future__ import annotations

import importlib
import logging
import os
import shlex
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal, Protocol, runtime_checkable

import attrs
import trio

from fastmcp_client._config import HttpServer, McpConfig, ServerConfig, StdioServer
from fastmcp_client._errors import ConfigError
from fastmcp_client._handlers import collapse
from fastmcp_core import ConnectionClosed, Transport, TransportClosed
from fastmcp_protocol import RequestId
from fastmcp_transport import StderrMode, memory_pair, stdio_client

__all__ = ["ServesTransport", "Target", "resolve_target"]

logger = logging.getLogger("fastmcp.client")


@runtime_checkable
class ServesTransport(Protocol):
    """An in-process server: serves one connection until its transport closes."""

    async def serve_transport(self, transport: Transport, /) -> None: ...


Target = (
    ServesTransport
    | Transport
    | str
    | Sequence[str]
    | os.PathLike[str]
    | Mapping[str, Any]
    | McpConfig
    | StdioServer
    | HttpServer
)
"""Anything ``Client`` accepts as what to connect to (see the module docstring)."""

Connect = Callable[[], AbstractAsyncContextManager[Transport]]


@attrs.frozen
class Connector:
    """A resolved target: how to open a transport to it, and what to call it."""

    kind: Literal["memory", "transport", "stdio", "http"]
    name: str
    connect: Connect


@attrs.frozen
class ConnectOptions:
    """The ``Client`` options that shape how a target is reached."""

    server: str | None = None
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    stderr: StderrMode = "capture"
    headers: Mapping[str, str] | None = None
    auth: Any = None
    http_options: Mapping[str, Any] | None = None
    shutdown_timeout: float = 2.0
    terminate_timeout: float = 12.0


def resolve_target(target: Target, options: ConnectOptions) -> Connector:
    """Resolve ``target`` into a connector; raises ``ConfigError`` when it is unusable."""
    if isinstance(target, ServesTransport):
        return _in_process(target, options)
    if options.server is not None and not isinstance(
        target, McpConfig | Mapping | os.PathLike | str
    ):
        raise ConfigError("server= picks a server of an MCP configuration; this target is not one")
    if isinstance(target, Transport):
        return Connector("transport", type(target).__name__, _given(target))
    if isinstance(target, McpConfig):
        return _configured(target, options)
    if isinstance(target, StdioServer | HttpServer):
        return _server(
            target.argv[0] if isinstance(target, StdioServer) else target.url, target, options
        )
    if isinstance(target, Mapping):
        return _configured(McpConfig.from_dict(target), options)
    if isinstance(target, os.PathLike):
        if os.fspath(target).endswith(".py"):
            _no_server_name(options)
            return _program([os.fspath(target)], options)
        return _configured(McpConfig.load(target), options)
    if isinstance(target, str):
        if target.startswith(("http://", "https://")):
            _no_server_name(options)
            return _server(target, HttpServer(url=target), options)
        if target.endswith(".json"):
            return _configured(McpConfig.load(target), options)
        _no_server_name(options)
        try:
            argv = shlex.split(target)
        except ValueError as exc:
            raise ConfigError(f"cannot split the command {target!r}: {exc}") from None
        return _program(argv, options)
    if isinstance(target, Sequence) and all(isinstance(arg, str) for arg in target):
        return _program(list(target), options)
    raise ConfigError(
        f"cannot connect to a {type(target).__name__}: give a server object, a command, "
        "a URL or an MCP configuration"
    )


def _no_server_name(options: ConnectOptions) -> None:
    if options.server is not None:
        raise ConfigError("server= picks a server of an MCP configuration; this target is not one")


def _program(argv: list[str], options: ConnectOptions) -> Connector:
    """A command given as the target: a Python file runs with this interpreter."""
    if argv and argv[0].endswith(".py"):
        return _command([sys.executable, *argv], options, name=os.path.basename(argv[0]))
    return _command(argv, options)


def _configured(config: McpConfig, options: ConnectOptions) -> Connector:
    if options.server is None and len(config.servers) > 1:
        return _several(config, options)
    name, server = config.select(options.server)
    return _server(name, server, options)


SEVERAL_SERVERS = "fastmcp_client.several_servers"


def _several(config: McpConfig, options: ConnectOptions) -> Connector:
    """Every server of ``config`` at once, through what provides it (see the module
    docstring)."""
    from importlib.metadata import entry_points

    found = sorted(entry_points(group=SEVERAL_SERVERS), key=lambda e: e.name)
    names = ", ".join(repr(n) for n in config.servers)
    if not found:
        raise ConfigError(
            f"the MCP configuration has several servers ({names}): choose one with "
            "server=..., or install fastmcp to connect to all of them at once"
        )
    make = found[0].load()
    client_options = {
        "env": options.env,
        "cwd": options.cwd,
        "stderr": options.stderr,
        "headers": options.headers,
        "auth": options.auth,
        "http_options": options.http_options,
        "shutdown_timeout": options.shutdown_timeout,
        "terminate_timeout": options.terminate_timeout,
    }
    server = make(config, **{k: v for k, v in client_options.items() if v is not None})
    connector = _in_process(server, options)
    return attrs.evolve(connector, name=f"{len(config.servers)} servers ({names})")


def _server(name: str, server: ServerConfig, options: ConnectOptions) -> Connector:
    if isinstance(server, StdioServer):
        env = {**server.env, **(options.env or {})}
        cwd = options.cwd if options.cwd is not None else server.cwd
        return _command(server.argv, attrs.evolve(options, env=env, cwd=cwd), name=name)
    headers = {**server.headers, **(options.headers or {})}
    connect = _http(server.url, server.transport, headers, options.auth, options.http_options)
    return Connector("http", name, connect)


def _command(argv: list[str], options: ConnectOptions, *, name: str | None = None) -> Connector:
    if not argv or not argv[0]:
        raise ConfigError("the command to start the server is empty")

    @asynccontextmanager
    async def connect() -> AsyncIterator[Transport]:
        try:
            opened = stdio_client(
                argv,
                env=options.env,
                cwd=options.cwd,
                stderr=options.stderr,
                shutdown_timeout=options.shutdown_timeout,
                terminate_timeout=options.terminate_timeout,
            )
            transport = await opened.__aenter__()
        except OSError as exc:
            raise ConnectionClosed(f"could not start the server {argv[0]!r}: {exc}") from None
        try:
            yield transport
        except BaseException as exc:
            if not await opened.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await opened.__aexit__(None, None, None)

    return Connector("stdio", name or os.path.basename(argv[0]), connect)


def _given(transport: Transport) -> Connect:
    @asynccontextmanager
    async def connect() -> AsyncIterator[Transport]:
        try:
            yield transport
        finally:
            with trio.CancelScope(shield=True):
                await transport.aclose()

    return connect


def _http(
    url: str,
    kind: str,
    headers: Mapping[str, str],
    auth: Any,
    extra: Mapping[str, Any] | None,
) -> Connect:
    """Streamable HTTP or legacy SSE through ``fastmcp_transport.http_client``.

    The module is imported on first use, so clients that never speak HTTP never load
    httpx. ``streamable_http_client(url, *, headers=, auth=, **extra)`` and
    ``sse_client(url, ...)`` are async context managers that yield a ``Transport``;
    ``extra`` (the client's ``http_options``) goes to them as it is.
    """

    @asynccontextmanager
    async def connect() -> AsyncIterator[Transport]:
        try:
            http_client = importlib.import_module("fastmcp_transport.http_client")
        except ImportError as exc:
            raise ConfigError(
                f"cannot connect to {url}: the HTTP client transport is not available ({exc})"
            ) from None
        opener = http_client.sse_client if kind == "sse" else http_client.streamable_http_client
        async with opener(
            url, headers=dict(headers) or None, auth=auth, **(extra or {})
        ) as transport:
            yield transport

    return connect


# -- in-process servers ------------------------------------------------------------------


@attrs.define(eq=False)
class _InProcessEnd:
    """The client's end of an in-process pair: says why the server went away."""

    inner: Transport
    crashed: BaseException | None = None

    async def receive(self) -> bytes:
        try:
            return await self.inner.receive()
        except TransportClosed as exc:
            if self.crashed is not None:
                raise TransportClosed(
                    f"the in-process server failed: {type(self.crashed).__name__}: {self.crashed}"
                ) from None
            raise TransportClosed(f"the in-process server stopped ({exc})") from None

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        await self.inner.send(frame, related=related, final=final)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _in_process(server: ServesTransport, options: ConnectOptions) -> Connector:
    @asynccontextmanager
    async def connect() -> AsyncIterator[Transport]:
        client_end, server_end = memory_pair()
        end = _InProcessEnd(client_end)
        stopped = trio.Event()
        serving = trio.CancelScope()

        async def serve() -> None:
            try:
                with serving:
                    await server.serve_transport(server_end)
            except Exception as exc:
                # the client sees the crash as a closed connection naming it (the
                # one error a nursery wrapped, not the group)
                end.crashed = collapse(exc) if isinstance(exc, BaseExceptionGroup) else exc
                logger.exception("the in-process server %r failed", server)
            finally:
                stopped.set()
                with trio.CancelScope(shield=True):
                    await server_end.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            try:
                yield end
            finally:
                with trio.CancelScope(shield=True):
                    await client_end.aclose()  # the server reads end of input
                    with trio.move_on_after(options.shutdown_timeout):
                        await stopped.wait()
                serving.cancel()

    return Connector("memory", type(server).__name__, connect)
