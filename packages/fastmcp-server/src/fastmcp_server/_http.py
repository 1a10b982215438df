"""Serving a Server over HTTP: the glue between the server and the HTTP transport.

Imported lazily (``Server.serve_http``, ``Server.http_app``), so
``import fastmcp_server`` stays light; so is ``fastmcp_server.auth``, only when
``auth=`` is given. With ``auth`` the Streamable HTTP app is wrapped in the
authorization layer (``fastmcp_server.auth``: a ``BearerAuth``, an ``OAuthProxy``
or a bare ``TokenVerifier``, each wrapping the app), which learns the scopes of
tools, resources and prompts from the server itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import trio

from fastmcp_core import Reply, Transport
from fastmcp_core.store import Store
from fastmcp_protocol import JSONRPCNotification, JSONRPCRequest

if TYPE_CHECKING:
    from fastmcp_server._custom_routes import CustomRoute
    from fastmcp_server.auth._front import AuthFront
    from fastmcp_transport import HttpConnectionInfo
    from fastmcp_transport.http_server import (
        FrontedApp,
        H1Limits,
        Route,
        ServerAddress,
        StreamableHTTPApp,
    )

__all__ = ["HttpHost", "http_app", "serve_http"]


class HttpHost(Protocol):
    """What serving over HTTP needs from the server (``Server``)."""

    modern_versions: tuple[str, ...]
    legacy_versions: tuple[str, ...]
    store: Store
    DEFAULT_SHUTDOWN_GRACE: ClassVar[float]

    async def serve_transport(
        self, transport: Transport, /, info: HttpConnectionInfo | None = None
    ) -> None: ...

    async def serve_exchange(
        self,
        message: JSONRPCRequest | JSONRPCNotification,
        reply: Reply,
        info: HttpConnectionInfo,
    ) -> None: ...

    async def drain(self, grace: float | None = None) -> None: ...

    def running(self) -> AbstractAsyncContextManager[Any]: ...

    def required_scopes(self, method: str, name: str) -> frozenset[str]: ...

    def declared_scopes(self) -> frozenset[str]: ...

    @property
    def custom_routes(self) -> Sequence[CustomRoute]: ...


def _routes(server: HttpHost, *, protected: bool, auth: object | None) -> list[Route]:
    """The server's custom routes behind the authorization layer (``protected``) or
    before it; without one, all of them (none may ask for it)."""
    from fastmcp_transport.http_server import Route

    if auth is None:
        for route in server.custom_routes:
            if route.auth:
                raise ValueError(
                    f"the custom route {route.path!r} asks for auth=True, but the server "
                    "is served without auth="
                )
        protected = False
    return [
        Route(route.path, route.handler, route.methods, route.auth)
        for route in server.custom_routes
        if auth is None or route.auth == protected
    ]


def _streamable_app(
    server: HttpHost, path: str, options: dict[str, Any], auth: object | None
) -> StreamableHTTPApp:
    from fastmcp_transport.http_server import StreamableHTTPApp

    async def connect(transport: Transport, info: HttpConnectionInfo) -> None:
        await server.serve_transport(transport, info)

    options.setdefault("modern_versions", server.modern_versions)
    options.setdefault("shutdown_grace", server.DEFAULT_SHUTDOWN_GRACE)
    # the app's shutdown drains the server's connections: those in flight are answered
    options.setdefault("drain", server.drain)
    options.setdefault("runs_with", server.running)  # once for the app, not per request
    # a POST without a session: served in its own task, no session per request
    options.setdefault("exchange", server.serve_exchange)
    if auth is None:
        options.setdefault("routes", _routes(server, protected=False, auth=None))
    else:
        options.setdefault("routes", _routes(server, protected=True, auth=auth))
    if server.store.shared:  # legacy sessions served by every replica, resumed on any
        options.setdefault("store", server.store)
    return StreamableHTTPApp(connect, path=path, **options)


def _fronted(
    server: HttpHost, front: AuthFront, app: StreamableHTTPApp, auth: object
) -> FrontedApp:
    from fastmcp_transport.http_server import FrontedApp

    return FrontedApp(front, app, routes=_routes(server, protected=False, auth=auth))


def _protect(server: HttpHost, app: StreamableHTTPApp, auth: object) -> AuthFront:
    from fastmcp_server.auth._front import http_auth

    return http_auth(auth).wrap(app, scopes=server, max_body_size=app.max_body_size)


def http_app(
    server: HttpHost, *, path: str = "/mcp", auth: object | None = None, **options: Any
) -> StreamableHTTPApp | FrontedApp:
    """The server as an ASGI application, for any ASGI server, trio or asyncio
    (uvicorn, hypercorn, mounted in FastAPI or Starlette: see ``StreamableHTTPApp``).

    ``options`` go to ``StreamableHTTPApp`` (``json_response``, ``stateless``,
    ``security``, ``event_store``, ``max_body_size``...). With ``auth`` the app is
    the authorization layer around it (its resource must then be known - a
    ``BearerAuth(resource=...)``, an ``OAuthProxy``'s ``base_url`` -: nothing here
    knows the URL the app will be reached at).
    """
    app = _streamable_app(server, path, options, auth)
    if auth is None:
        return app
    front = _protect(server, app, auth)
    if front.resource is None:
        raise ValueError("BearerAuth(resource=...) is required for an app you serve yourself")
    return _fronted(server, front, app, auth)


async def serve_http(
    server: HttpHost,
    *,
    host: str,
    port: int,
    path: str,
    shutdown_grace: float,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
    certfile: str | None = None,
    keyfile: str | None = None,
    auth: object | None = None,
    http_server: Literal["h1", "hypercorn"] = "h1",
    limits: H1Limits | None = None,
    **options: Any,
) -> None:
    """Run ``server`` over HTTP until cancelled; reports the bound address
    (``ServerAddress``: ``.url``, ``.port``) through ``task_status``. Cancelling it
    stops gracefully: the server drains its connections within ``shutdown_grace``
    seconds (``Server.drain``) while new requests get 503.

    ``http_server``: ``"h1"`` (the default) is our own HTTP/1.1 server
    (``fastmcp_transport.http_server.serve_h1``, its ``limits`` and timeouts in
    ``H1Limits``); ``"hypercorn"`` is hypercorn's trio worker (HTTP/2 too). With
    ``auth`` requests are authorized (``fastmcp_server.auth``: a ``BearerAuth``, an
    ``OAuthProxy``, or a bare ``TokenVerifier``); one without a resource takes the
    bound URL, set before the address is reported.
    """
    from fastmcp_transport.http_server import serve_h1, serve_http

    if http_server == "h1":
        run: Any = partial(serve_h1, limits=limits)
    elif http_server == "hypercorn":
        if limits is not None:
            raise TypeError("limits= is an option of the h1 server")
        run = serve_http
    else:
        raise ValueError(f"unknown HTTP server {http_server!r}: use 'h1' or 'hypercorn'")

    app = _streamable_app(server, path, {**options, "shutdown_grace": shutdown_grace}, auth)
    if auth is None:
        await run(
            app,
            host=host,
            port=port,
            path=path,
            certfile=certfile,
            keyfile=keyfile,
            task_status=task_status,
        )
        return
    front = _protect(server, app, auth)
    try:
        async with trio.open_nursery() as nursery:
            address: ServerAddress = await nursery.start(
                lambda task_status: run(
                    app,
                    host=host,
                    port=port,
                    path=path,
                    certfile=certfile,
                    keyfile=keyfile,
                    asgi=_fronted(server, front, app, auth),
                    task_status=task_status,
                )
            )
            if front.resource is None:
                front.bind_resource(address.url)
            task_status.started(address)
    finally:
        with trio.CancelScope(shield=True):
            await front.aclose()
