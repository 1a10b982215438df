"""``serve_http``: run a ``StreamableHTTPApp`` on hypercorn's trio worker.

Theory of operation. The app's background work (legacy sessions) and hypercorn run
side by side in one nursery, each in a shielded scope of its own, so that cancelling
``serve_http`` does not tear them down mid-request but starts a graceful shutdown:
the app refuses new requests (503) at once and hypercorn stops accepting connections
(kept-alive ones close once idle); the requests in flight get the app's
``shutdown_grace`` seconds to finish and their answers are written (``app.shutdown``);
hypercorn gives the connections ``graceful_timeout`` seconds more than the grace to
deliver them; whatever is left after that is cancelled.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import cast

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework

from fastmcp_transport._http_common import ConnectionHandler
from fastmcp_transport.http_server._app import StreamableHTTPApp
from fastmcp_transport.http_server._http import ASGIApp

__all__ = ["ServerAddress", "serve_http"]

logger = logging.getLogger("fastmcp.http")


@attrs.frozen
class ServerAddress:
    """Where ``serve_http`` listens (the real port when 0 was asked for)."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def url(self) -> str:
        """The URL of the MCP endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def _bind(host: str, port: int) -> str:
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = False
    return f"[{host}]:{port}" if is_v6 else f"{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve_http(
    app: StreamableHTTPApp | ConnectionHandler,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    path: str = "/mcp",
    certfile: str | os.PathLike[str] | None = None,
    keyfile: str | os.PathLike[str] | None = None,
    graceful_timeout: float = 5.0,
    asgi: ASGIApp | None = None,
    task_status: trio.TaskStatus[ServerAddress] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve MCP over HTTP until cancelled.

    ``app`` is a ``StreamableHTTPApp``, or a ``ConnectionHandler`` to serve with a
    default one on ``path``. Binds ``host`` (loopback by default: a local server
    should not listen on every interface) and ``port`` (0: any free port; the real
    one is reported through ``task_status`` as a ``ServerAddress``). With
    ``certfile`` and ``keyfile`` it serves HTTPS. ``asgi`` is what hypercorn serves
    when it is not ``app`` itself: a middleware wrapping ``app`` (an authorization
    layer, say); ``app`` still hosts the sessions and runs the graceful shutdown.

    Cancelling it shuts down gracefully (see the module docstring); it returns once
    every connection and session has ended, at most ``app.shutdown_grace`` plus
    ``graceful_timeout`` (and one) seconds later.
    """
    if not isinstance(app, StreamableHTTPApp):
        app = StreamableHTTPApp(app, path=path)
    if not _is_loopback(host) and app.security is not None and app.security.local_only:
        logger.warning(
            "serving on %s, but only requests naming localhost are allowed "
            "(DNS-rebinding protection); list this server's names in allowed_hosts",
            host,
        )
    config = Config()
    config.bind = [_bind(host, port)]
    config.graceful_timeout = graceful_timeout
    config.errorlog = logging.getLogger("hypercorn.error")
    config.accesslog = None
    scheme = "http"
    if certfile is not None:
        config.certfile = os.fspath(certfile)
        config.keyfile = os.fspath(keyfile) if keyfile is not None else None
        scheme = "https"

    stop = trio.Event()
    server_done = trio.Event()
    app_scope = trio.CancelScope(shield=True)
    server_scope = trio.CancelScope(shield=True)

    async def run_app(task_status: trio.TaskStatus[None]) -> None:
        with app_scope:
            await app.run(task_status=task_status)

    async def run_server(task_status: trio.TaskStatus[list[str]]) -> None:
        try:
            with server_scope:
                await serve(
                    cast(ASGIFramework, app if asgi is None else asgi),
                    config,
                    shutdown_trigger=stop.wait,
                    task_status=task_status,
                )
        except BaseException:
            # hypercorn failed (say, the port is in use): the shielded app task must
            # not keep the nursery, and so serve_http, alive forever
            app_scope.cancel()
            raise
        finally:
            server_done.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(run_app)
        binds: list[str] = await nursery.start(run_server)
        bound_port = int(binds[0].rpartition(":")[2]) if binds else port
        task_status.started(ServerAddress(scheme, host, bound_port, app.path))
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                app.stop_accepting()
                # hypercorn's limit counts from the stop: the grace, then time to answer
                config.graceful_timeout = app.shutdown_grace + graceful_timeout
                limit = trio.current_time() + config.graceful_timeout
                stop.set()
                with trio.move_on_at(limit):
                    await app.shutdown()
                with trio.move_on_at(limit + 1):
                    await server_done.wait()
            server_scope.cancel()
            app_scope.cancel()
