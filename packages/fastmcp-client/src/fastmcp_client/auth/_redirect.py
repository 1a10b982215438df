"""The user-agent step of the authorization code flow: open the authorization URL,
get the redirect back.

``RedirectHandler`` is the protocol: it names its ``redirect_uri`` (registered with
the authorization server) and, given an authorization URL, returns the
``AuthorizationResponse`` the authorization server redirected to. The OAuth provider
validates it (``state``, ``iss``) before using the code.

* ``BrowserRedirect`` opens the user's browser and listens on a loopback address for
  the redirect (RFC 8252 section 7.3: ``http://127.0.0.1:<port>/callback``). The port
  is bound on first use and kept, so the redirect URI stays the one registered.
* ``HeadlessRedirect`` follows the authorization URL with httpx, without a browser,
  and reads the code from the ``Location`` of the redirect back: for tests and CI
  against authorization servers that approve without a user.
"""

from __future__ import annotations

import html
import logging
import socket
import webbrowser
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urljoin, urlsplit

import attrs
import httpx
import trio

from fastmcp_client.auth._errors import AuthorizationError

__all__ = ["AuthorizationResponse", "BrowserRedirect", "HeadlessRedirect", "RedirectHandler"]

logger = logging.getLogger("fastmcp.auth")


@attrs.frozen(kw_only=True)
class AuthorizationResponse:
    """The parameters of the redirect back to the client (form-decoded once).

    ``iss`` is ``None`` when absent, which RFC 9207 tells apart from present.
    """

    code: str | None = attrs.field(default=None, repr=False)
    state: str | None = None
    iss: str | None = None
    error: str | None = None
    error_description: str | None = None
    params: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_redirect(cls, url: str) -> AuthorizationResponse:
        """The response carried by the query of the redirect URL (first values win)."""
        params: dict[str, str] = {}
        for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
            params.setdefault(name, value)
        return cls(
            code=params.get("code"),
            state=params.get("state"),
            iss=params.get("iss"),
            error=params.get("error"),
            error_description=params.get("error_description"),
            params=params,
        )


@runtime_checkable
class RedirectHandler(Protocol):
    """Shows the user the authorization URL and returns where they were sent back.

    ``authorize`` may take as long as the user needs; cancelling it abandons the
    attempt (nothing is sent to the token endpoint). It raises
    ``AuthorizationError`` when no redirect comes back.
    """

    @property
    def redirect_uri(self) -> str:
        """Where the authorization server sends the user back (registered with it)."""
        ...

    async def authorize(self, authorization_url: str) -> AuthorizationResponse:
        """Show ``authorization_url`` to the user; return the redirect's parameters."""
        ...


def _same_endpoint(url: str, redirect_uri: str) -> bool:
    a, b = urlsplit(url), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


@attrs.define(eq=False, kw_only=True)
class HeadlessRedirect:
    """Follows the authorization URL with httpx and reads the redirect back from a
    ``Location`` header, never following it (nothing listens at ``redirect_uri``).

    Redirects within the authorization server are followed (at most ``max_hops``);
    any other answer (a login page) is an ``AuthorizationError``: headless
    authorization needs a server that approves on its own. ``http_client`` is used
    as given (cookies and all); without one a client is made per authorization.
    """

    redirect_uri: str = "http://localhost:3000/callback"
    http_client: httpx.AsyncClient | None = None
    max_hops: int = 10

    async def authorize(self, authorization_url: str) -> AuthorizationResponse:
        """Follow ``authorization_url`` until the redirect to ``redirect_uri``."""
        if self.http_client is not None:
            return await self._follow(self.http_client, authorization_url)
        async with httpx.AsyncClient(timeout=30.0) as client:
            return await self._follow(client, authorization_url)

    async def _follow(self, client: httpx.AsyncClient, url: str) -> AuthorizationResponse:
        for _ in range(self.max_hops):
            try:
                response = await client.get(url, follow_redirects=False)
            except httpx.HTTPError as exc:
                raise AuthorizationError(f"the authorization request failed: {exc!r}") from None
            await response.aread()
            location = response.headers.get("location")
            if not response.is_redirect or not location:
                raise AuthorizationError(
                    f"the authorization server answered HTTP {response.status_code} instead "
                    "of redirecting back (headless authorization needs a server that "
                    "approves without a user)"
                )
            target = urljoin(url, location)
            if _same_endpoint(target, self.redirect_uri):
                return AuthorizationResponse.from_redirect(target)
            url = target
        raise AuthorizationError(f"more than {self.max_hops} redirects during authorization")


_PAGE = (
    "<!doctype html><meta charset=utf-8><title>{title}</title>"
    "<body style='font-family:sans-serif;margin:3em'><h1>{title}</h1><p>{text}</p></body>"
)


@attrs.define(eq=False, kw_only=True)
class BrowserRedirect:
    """Opens the authorization URL in the user's browser and receives the redirect
    on a loopback listener (``http://127.0.0.1:<port><path>``).

    ``port=0`` picks a free port when ``redirect_uri`` is first read; the socket then
    stays bound (``aclose`` releases it) so that re-authorizations use the same,
    registered, redirect URI. ``open_browser`` is called (in a worker thread) with
    the URL (``webbrowser.open`` by default; replace it to print the URL instead);
    ``timeout`` (seconds) bounds the wait for the user. Requests to other paths, and
    to the callback path without ``code`` or ``error``, are answered 404 and ignored.
    """

    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/callback"
    open_browser: Callable[[str], object] = webbrowser.open
    timeout: float = 300.0
    _socket: socket.socket | None = attrs.field(init=False, default=None)
    _listener: trio.SocketListener | None = attrs.field(init=False, default=None)

    @property
    def redirect_uri(self) -> str:
        """The loopback redirect URI (binds the listening socket on first use)."""
        sock = self._bound()
        port = sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}{self.path}"

    def _bound(self) -> socket.socket:
        if self._socket is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.bind((self.host, self.port))
                sock.listen(8)
            except OSError:
                sock.close()
                raise
            sock.setblocking(False)
            self._socket = sock
        return self._socket

    async def aclose(self) -> None:
        """Stop listening (the redirect URI is then gone)."""
        listener, self._listener = self._listener, None
        sock, self._socket = self._socket, None
        if listener is not None:
            await listener.aclose()
        elif sock is not None:
            sock.close()

    async def authorize(self, authorization_url: str) -> AuthorizationResponse:
        """Open the browser at ``authorization_url`` and wait (at most ``timeout``
        seconds) for it to come back to ``redirect_uri``; cancelling stops waiting
        (the listener stays bound for the next attempt)."""
        if self._listener is None:
            self._listener = trio.SocketListener(trio.socket.from_stdlib_socket(self._bound()))
        listener = self._listener
        found: AuthorizationResponse | None = None
        async with trio.open_nursery() as nursery:
            # the browser may come back before the opener returns: listen meanwhile
            nursery.start_soon(self._open, authorization_url)
            with trio.move_on_after(self.timeout):
                while found is None:
                    stream = await listener.accept()
                    async with stream:
                        with trio.move_on_after(10):
                            found = await self._serve(stream)
            nursery.cancel_scope.cancel()
        if found is None:
            raise AuthorizationError(f"no authorization came back within {self.timeout:g} s")
        return found

    async def _open(self, url: str) -> None:
        opened = await trio.to_thread.run_sync(self.open_browser, url, abandon_on_cancel=True)
        if opened is False:
            logger.warning("could not open a browser; open this URL to authorize: %s", url)

    async def _serve(self, stream: trio.SocketStream) -> AuthorizationResponse | None:
        import h11

        connection = h11.Connection(h11.SERVER)
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                if not data:
                    return None
                connection.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                break
            if isinstance(event, h11.ConnectionClosed):
                return None
        target = event.target.decode("latin-1")
        found = AuthorizationResponse.from_redirect(urljoin("http://localhost", target))
        if urlsplit(target).path != self.path or (found.code is None and found.error is None):
            await _answer(stream, connection, 404, "Not found", "Nothing to see here.")
            return None
        if found.error is not None:
            await _answer(
                stream,
                connection,
                200,
                "Authorization failed",
                "You can close this window and return to the application.",
            )
        else:
            await _answer(
                stream,
                connection,
                200,
                "Authorization complete",
                "You can close this window and return to the application.",
            )
        return found


async def _answer(
    stream: trio.SocketStream, connection: object, status: int, title: str, text: str
) -> None:
    import h11

    assert isinstance(connection, h11.Connection)
    body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
    headers = [
        ("content-type", "text/html; charset=utf-8"),
        ("content-length", str(len(body))),
        ("connection", "close"),
        ("cache-control", "no-store"),
    ]
    data = connection.send(h11.Response(status_code=status, headers=headers))
    data = (data or b"") + (connection.send(h11.Data(data=body)) or b"")
    data += connection.send(h11.EndOfMessage()) or b""
    try:
        await stream.send_all(data)
    except trio.BrokenResourceError:
        logger.debug("the browser left before the answer")
