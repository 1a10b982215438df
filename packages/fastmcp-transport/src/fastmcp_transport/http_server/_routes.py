"""Custom routes: plain HTTP endpoints served beside the MCP endpoint (a health check,
a webhook, a status page).

Theory of operation. A ``Route`` names a path (matched exactly, a trailing slash
ignored, inside the app's ``root_path``), the methods it takes and an async handler.
The handler gets an ``HttpRequest`` (method, path, query, headers, the whole body,
the client's address, the authenticated principal when an authorization layer let
the request through) and returns what the response is: ``str`` (``text/plain``),
``bytes`` (``application/octet-stream``), a ``dict`` or ``list`` (JSON), ``None``
(204) or an ``HttpResponse`` for everything else (status, headers, media type).

Routes are served before the MCP endpoint's checks (content type, DNS-rebinding
protection, sessions): they are the application's own. A method the route does not
take gets 405 with ``Allow``; a body beyond the app's limit 413, one slower than
its ``body_timeout`` 408; a handler that raises 500 (logged, never the traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import attrs
import msgspec

from fastmcp_transport.http_server._http import (
    ClientGone,
    HttpError,
    Receive,
    RequestHead,
    Responder,
    read_body,
)

__all__ = ["HttpRequest", "HttpResponse", "Route", "RouteTable"]

logger = logging.getLogger("fastmcp.http")


@attrs.frozen
class HttpRequest:
    """One HTTP request to a custom route."""

    method: str
    """Upper-cased (``GET``, ``POST``...)."""
    path: str
    """The path inside the app (its mount point removed)."""
    query_string: str
    """The raw query, without ``?``."""
    headers: Mapping[str, str]
    """Lower-cased names; repeated headers joined with ``", "``."""
    body: bytes
    client: tuple[str, int] | None = None
    """The peer's address and port, as the ASGI server saw it."""
    principal: Any = None
    """The authenticated principal (an ``AccessToken``) on a route with ``auth``."""

    @property
    def query(self) -> dict[str, str]:
        """The query's parameters (the first of a repeated name)."""
        found: dict[str, str] = {}
        for name, value in parse_qsl(self.query_string, keep_blank_values=True):
            found.setdefault(name, value)
        return found

    def json(self) -> Any:
        """The body decoded as JSON (``msgspec.DecodeError`` when it is not)."""
        return msgspec.json.decode(self.body)


@attrs.frozen
class HttpResponse:
    """A full response from a custom route."""

    body: bytes | str = b""
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    media_type: str | None = None
    """The ``Content-Type``; by default ``text/plain; charset=utf-8`` for a ``str``
    body, ``application/octet-stream`` for bytes (none for an empty body)."""

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """``value`` encoded as JSON."""
        return cls(msgspec.json.encode(value), status, headers or {}, media_type="application/json")


RouteHandler = Callable[[HttpRequest], Awaitable[Any]]


@attrs.frozen
class Route:
    """A custom route: ``path``, the ``methods`` it takes, its ``handler``; ``auth``:
    behind the app's authorization layer (a valid token required)."""

    path: str
    handler: RouteHandler
    methods: tuple[str, ...] = ("GET",)
    auth: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"a route's path starts with '/': {self.path!r}")
        if not self.methods:
            raise ValueError(f"the route {self.path!r} takes no method")


def _key(path: str) -> str:
    return path.rstrip("/") or "/"


@attrs.define(eq=False)
class RouteTable:
    """The routes of an app, by path."""

    _routes: dict[str, Route] = attrs.field(init=False, factory=dict)

    @classmethod
    def of(cls, routes: Iterable[Route]) -> RouteTable:
        table = cls()
        for route in routes:
            key = _key(route.path)
            if key in table._routes:
                raise ValueError(f"two custom routes for {route.path!r}")
            table._routes[key] = route
        return table

    def __bool__(self) -> bool:
        return bool(self._routes)

    def find(self, path: str) -> Route | None:
        return self._routes.get(_key(path)) if self._routes else None

    async def serve(
        self,
        route: Route,
        head: RequestHead,
        receive: Receive,
        responder: Responder,
        max_body_size: int,
        body_timeout: float | None,
    ) -> None:
        """Answer one request with ``route`` (see the module docstring); its body is
        bounded as the MCP endpoint's (``max_body_size``: 413, ``body_timeout``:
        408)."""
        if head.method not in route.methods:
            allow = ", ".join(route.methods).encode()
            await responder.respond(
                405, b"Method Not Allowed", content_type=b"text/plain", headers=[(b"allow", allow)]
            )
            return
        try:
            body = await read_body(
                receive,
                max_body_size,
                head.headers.get("content-length"),
                timeout=head.body_timeout(body_timeout),
            )
        except HttpError as error:
            await responder.respond(
                error.status, error.message.encode(), content_type=b"text/plain"
            )
            return
        except ClientGone:
            return
        request = HttpRequest(
            method=head.method,
            path=head.path,
            query_string=head.query.decode("latin-1"),
            headers=head.headers,
            body=body,
            client=head.client,
            principal=head.principal,
        )
        try:
            answer = _response(await route.handler(request))
        except Exception:
            logger.exception("the custom route %s %s failed", head.method, route.path)
            answer = HttpResponse("Internal Server Error", 500)
        await _send(answer, responder)


def _response(value: Any) -> HttpResponse:
    if isinstance(value, HttpResponse):
        return value
    if value is None:
        return HttpResponse(status=204)
    if isinstance(value, str | bytes):
        return HttpResponse(value)
    if isinstance(value, dict | list):
        return HttpResponse.json(value)
    raise TypeError(
        f"a custom route returns str, bytes, a dict, a list, None or an HttpResponse, "
        f"not {type(value).__name__}"
    )


async def _send(answer: HttpResponse, responder: Responder) -> None:
    body = answer.body.encode() if isinstance(answer.body, str) else answer.body
    media = answer.media_type
    if media is None and body:
        media = (
            "text/plain; charset=utf-8"
            if isinstance(answer.body, str)
            else "application/octet-stream"
        )
    headers: Sequence[tuple[bytes, bytes]] = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in answer.headers.items()
    ]
    await responder.respond(
        answer.status,
        b"" if answer.status == 204 else body,
        content_type=media.encode("latin-1") if media else None,
        headers=headers,
    )
