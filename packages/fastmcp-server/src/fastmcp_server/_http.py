"""Serving a Server over HTTP: the glue between the server and the HTTP transport.

Imported lazily (``Server.serve_http``, ``Server.http_app``), so
``import fastmcp_server`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from fastmcp_core import Transport

if TYPE_CHECKING:
    from fastmcp_server._server import Server
    from fastmcp_transport import HttpConnectionInfo
    from fastmcp_transport.http_server import StreamableHTTPApp

__all__ = ["http_app", "serve_http"]


def http_app(server: Server, *, path: str = "/mcp", **options: Any) -> StreamableHTTPApp:
    """The server as an ASGI application (mountable in other ASGI apps on trio).

    ``options`` go to ``StreamableHTTPApp`` (``json_response``, ``stateless``,
    ``security``, ``event_store``, ``max_body_size``...).
    """
    from fastmcp_transport.http_server import StreamableHTTPApp

    async def connect(transport: Transport, info: HttpConnectionInfo) -> None:
        await server.serve_transport(transport, info)

    options.setdefault("modern_versions", server.modern_versions)
    return StreamableHTTPApp(connect, path=path, **options)


async def serve_http(
    server: Server,
    *,
    host: str,
    port: int,
    path: str,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
    certfile: str | None = None,
    keyfile: str | None = None,
    **options: Any,
) -> None:
    """Run ``server`` over HTTP on hypercorn's trio worker until cancelled; reports the
    bound address (``ServerAddress``: ``.url``, ``.port``) through ``task_status``."""
    from fastmcp_transport.http_server import serve_http as run

    app = http_app(server, path=path, **options)
    await run(
        app,
        host=host,
        port=port,
        path=path,
        certfile=certfile,
        keyfile=keyfile,
        task_status=task_status,
    )
