"""What ``auth=`` accepts (``Server.serve_http``/``run_http``/``http_app``), and the
ASGI layer it becomes.

* a ``BearerAuth``: the server is a resource server of another authorization server;
* an ``OAuthProxy`` (``GitHubProvider``, ``GoogleProvider``, ``OIDCProxy``): the
  server is its own authorization server in front of an identity provider;
* a bare ``TokenVerifier`` (a ``StaticTokenVerifier`` in development): a
  ``BearerAuth`` around it with no authorization server.

Each is an ``HttpAuth``: ``wrap(app)`` makes the ``AuthFront``, the ASGI app served
in front of the Streamable HTTP app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fastmcp_server.auth._bearer import ScopeSource

__all__ = ["AuthFront", "HttpAuth", "http_auth"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AuthFront(Protocol):
    """The ASGI layer an ``HttpAuth`` puts in front of an app."""

    @property
    def resource(self) -> str | None:
        """The canonical resource URI (``None`` until ``bind_resource``)."""
        ...

    def bind_resource(self, resource: str) -> None:
        """Take the URL the server bound as the resource, when none was configured."""
        ...

    async def aclose(self) -> None:
        """Release what the layer holds (HTTP clients)."""
        ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class HttpAuth(Protocol):
    """Configuration that protects an HTTP app (``BearerAuth``, ``OAuthProxy``)."""

    def wrap(
        self, app: ASGIApp, *, scopes: ScopeSource | None = None, max_body_size: int = ...
    ) -> AuthFront:
        """``app`` behind this authorization."""
        ...


def http_auth(auth: object) -> HttpAuth:
    """``auth`` as an ``HttpAuth``: itself when it has ``wrap``, a ``BearerAuth`` with no
    authorization server around a bare verifier (see the module docstring)."""
    if hasattr(auth, "wrap"):
        return auth
    if callable(getattr(auth, "verify", None)):
        from fastmcp_server.auth._bearer import BearerAuth

        return BearerAuth(verifier=auth, authorization_servers=())  # type: ignore[arg-type]
    raise TypeError(
        f"auth= takes a BearerAuth, an OAuthProxy or a TokenVerifier, not {type(auth).__name__}"
    )
