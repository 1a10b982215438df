"""``BearerAuth``: the HTTP transports as an OAuth 2.1 resource server.

Theory of operation. ``BearerAuth`` is configuration; ``BearerAuth.wrap(app)`` makes
the ``AuthMiddleware``, an ASGI app in front of the Streamable HTTP app. Every HTTP
request goes through it in this order:

1. the Protected Resource Metadata paths (RFC 9728: the path-inserted well-known URL
   of the resource, and the root one) are answered here, unauthenticated, with the
   document encoded once (CORS-readable, since browser-based clients fetch it);
2. credentials anywhere but the ``Authorization`` header are refused with 400
   ``invalid_request``: an ``access_token`` query parameter, or a form-encoded body
   (RFC 6750 sections 2.2 and 2.3; the MCP specification forbids both);
3. no ``Bearer`` credentials: 401 with ``WWW-Authenticate: Bearer
   resource_metadata="...", scope="..."`` (the server-wide required scopes), which is
   where a client starts its authorization; malformed ones: 400 ``invalid_request``;
4. the verifier decides (``TokenVerifier``): an invalid token is 401
   ``invalid_token`` with the reason; a verifier that cannot decide is 503;
5. the token must name this server: one of its audiences must be the canonical
   ``resource`` (or one of ``accepted_audiences``), else 401 (RFC 8707; the MCP
   specification forbids accepting tokens issued for another resource);
6. scopes: the server-wide ``required_scopes``, then the scopes declared by what the
   request names (``@server.tool(scopes=[...])`` and the like, looked up through a
   ``ScopeSource``, the server). The second check reads the body - only when the
   token lacks a scope something declares, and never beyond ``max_body_size`` - and
   replays it to the app. Missing scopes are 403 ``insufficient_scope`` naming every
   scope the operation needs (so one step-up suffices), ``scope_hierarchy`` letting
   a broader scope stand for narrower ones;
7. the app runs with the ``AccessToken`` in the ASGI scope (``SCOPE_PRINCIPAL``); the
   transport hands it to the connection (``ctx.principal``) and binds legacy sessions
   to it.

Nothing of a refused request reaches the app: no tool runs, no session opens.
Tokens are never logged; refusals are logged at debug level with their reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

import attrs
import msgspec

from fastmcp_core import RateLimitedLog
from fastmcp_protocol import Error, JSONRPCErrorResponse, ProtectedResourceMetadata, encode
from fastmcp_server.auth._challenge import bearer_challenge
from fastmcp_server.auth._metadata import (
    WELL_KNOWN_PATH,
    check_resource,
    metadata_path,
    metadata_url,
)
from fastmcp_server.auth._token import (
    AccessToken,
    InvalidToken,
    TokenVerifier,
    VerifierUnavailable,
)
from fastmcp_transport import SCOPE_PRINCIPAL
from fastmcp_transport.http_server import ClientGone, HttpError, read_body

__all__ = ["AuthMiddleware", "BearerAuth", "ScopeSource"]

logger = logging.getLogger("fastmcp.auth")
_unverifiable = RateLimitedLog(logger)
"""A verifier that is down fails every request: one line a minute says so."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_JSON_HEADERS = ((b"content-type", b"application/json"), (b"cache-control", b"no-store"))
_METADATA_HEADERS = (
    (b"content-type", b"application/json"),
    (b"cache-control", b"public, max-age=300"),
    (b"access-control-allow-origin", b"*"),
)
_PREFLIGHT_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, OPTIONS"),
    (b"access-control-allow-headers", b"mcp-protocol-version"),
    (b"access-control-max-age", b"86400"),
)
_NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


class ScopeSource(Protocol):
    """Where the scopes of what a request names are declared (``Server`` is one)."""

    def required_scopes(self, method: str, name: str) -> frozenset[str]:
        """The scopes ``method`` on ``name`` needs (a tool, a prompt, a resource URI)."""
        ...

    def declared_scopes(self) -> frozenset[str]:
        """Every scope anything declares (a token holding all of them needs no lookup)."""
        ...


class _Named(msgspec.Struct):
    name: Any = None
    uri: Any = None


class _Message(msgspec.Struct):
    method: Any = None
    params: msgspec.Raw = msgspec.Raw(b"null")


_messages = msgspec.json.Decoder(list[_Message] | _Message)
_named = msgspec.json.Decoder(_Named)


def _strings(value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(value)


def _tuple(value: Sequence[str]) -> tuple[str, ...]:
    return _strings(value) or ()


@attrs.frozen(kw_only=True)
class BearerAuth:
    """How an MCP server over HTTP authorizes requests (see the module docstring).

    ``verifier`` checks tokens (``JWTVerifier``, ``IntrospectionVerifier`` or your
    own). ``authorization_servers`` are the issuers clients should get tokens from
    (an empty list when tokens come from elsewhere: a ``StaticTokenVerifier`` in
    development; the metadata then names none). ``resource`` is the server's canonical URI, the audience tokens
    must be issued for (``https://mcp.example.com/mcp``); ``None`` takes the URL the
    server binds (``serve_http``/``run_http``; fine for local development, give the
    public URL in production). ``required_scopes`` are needed for every request;
    ``scopes_supported`` is what the metadata advertises (default: the required
    scopes). ``accepted_audiences`` replaces the resource as the accepted ``aud``
    values (for authorization servers that name APIs by another identifier).
    ``scope_hierarchy`` maps a broader scope to the narrower ones it implies
    (``{"admin": ["read", "write"]}``). ``resource_name`` and
    ``resource_documentation`` go into the metadata; ``resource_metadata_url``
    overrides the URL advertised in challenges (when a proxy serves the metadata
    elsewhere).

    Use it as ``server.run_http(auth=BearerAuth(...))`` (or ``serve_http``/``http_app``
    with ``auth=``), or wrap any ASGI app with ``wrap``.
    """

    verifier: TokenVerifier
    authorization_servers: Sequence[str] = attrs.field(converter=_tuple)
    resource: str | None = None
    required_scopes: Sequence[str] = attrs.field(default=(), converter=_tuple)
    scopes_supported: Sequence[str] | None = attrs.field(default=None, converter=_strings)
    accepted_audiences: Sequence[str] | None = attrs.field(default=None, converter=_strings)
    scope_hierarchy: Mapping[str, Sequence[str]] = attrs.field(factory=dict)
    resource_name: str | None = None
    resource_documentation: str | None = None
    resource_metadata_url: str | None = None

    def __attrs_post_init__(self) -> None:
        for issuer in self.authorization_servers:
            check_resource(issuer)
        if self.resource is not None:
            check_resource(self.resource)

    def wrap(
        self,
        app: ASGIApp,
        *,
        scopes: ScopeSource | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> AuthMiddleware:
        """``app`` behind this authorization; ``scopes`` tells what tools, resources
        and prompts require (the ``Server``). Bodies are read (for that) up to
        ``max_body_size`` bytes; larger ones get 413."""
        return AuthMiddleware(self, app, scopes, max_body_size)


@attrs.define(eq=False)
class AuthMiddleware:
    """The ASGI layer of a ``BearerAuth`` (made by ``BearerAuth.wrap``).

    ``app`` is the wrapped app (a ``StreamableHTTPApp``: ``middleware.app.running()``
    hosts its sessions when you serve it yourself). Lifespan and other non-HTTP
    scopes pass straight through. ``aclose`` closes the verifier's HTTP client.
    """

    config: BearerAuth
    app: ASGIApp
    scopes: ScopeSource | None = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    _resource: str | None = attrs.field(init=False, default=None)
    _metadata: bytes = attrs.field(init=False, default=b"")
    _metadata_paths: frozenset[str] = attrs.field(init=False, default=frozenset())
    _metadata_url: str | None = attrs.field(init=False, default=None)
    _audiences: frozenset[str] = attrs.field(init=False, default=frozenset())
    _required: frozenset[str] = attrs.field(init=False)
    _implied: dict[str, frozenset[str]] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._required = frozenset(self.config.required_scopes)
        self._implied = _closure(self.config.scope_hierarchy)
        if self.config.resource is not None:
            self.bind_resource(self.config.resource)

    @property
    def resource(self) -> str | None:
        """The canonical resource URI (``None`` until bound)."""
        return self._resource

    def bind_resource(self, resource: str) -> None:
        """Set the resource of a ``BearerAuth(resource=None)`` (``serve_http`` does,
        with the URL it bound); until then requests get 503. A configured resource
        cannot be changed."""
        if self._resource is not None and resource != self._resource:
            raise ValueError(f"the resource is already {self._resource!r}")
        check_resource(resource)
        config = self.config
        scopes_supported = config.scopes_supported
        if scopes_supported is None and config.required_scopes:
            scopes_supported = tuple(config.required_scopes)
        document = ProtectedResourceMetadata(
            resource=resource,
            authorization_servers=tuple(config.authorization_servers),
            scopes_supported=tuple(scopes_supported) if scopes_supported is not None else None,
            bearer_methods_supported=("header",),
            resource_name=config.resource_name,
            resource_documentation=config.resource_documentation,
        )
        self._metadata = msgspec.json.encode(document)
        self._metadata_paths = frozenset({metadata_path(resource), WELL_KNOWN_PATH})
        self._metadata_url = config.resource_metadata_url or metadata_url(resource)
        self._audiences = frozenset(config.accepted_audiences or (resource,))
        self._resource = resource
        bind = getattr(config.verifier, "bind_resource", None)
        if bind is not None:  # a verifier that issues for "this server" learns which it is
            bind(resource)

    async def aclose(self) -> None:
        """Release what the verifier holds (its HTTP client), if it says how."""
        close = getattr(self.config.verifier, "aclose", None)
        if close is not None:
            await close()

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point (see the module docstring for what happens)."""
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path = _path(scope)
        method = str(scope.get("method") or "GET").upper()
        if path in self._metadata_paths:
            await self._serve_metadata(method, send)
            return
        if self._resource is None:
            await _respond(send, 503, _oauth_error("temporarily_unavailable", "not ready"))
            return
        query = bytes(scope.get("query_string") or b"")
        if query and _names_access_token(query):
            await self._bad_request(
                send, "access tokens are accepted in the Authorization header only, not in the URL"
            )
            return
        authorization: list[str] = []
        content_type = ""
        for raw_name, raw_value in scope.get("headers") or ():
            name = bytes(raw_name).lower()
            if name == b"authorization":
                authorization.append(bytes(raw_value).decode("latin-1"))
            elif name == b"content-type":
                content_type = bytes(raw_value).decode("latin-1").partition(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            await self._bad_request(
                send,
                "access tokens are accepted in the Authorization header only, not in the body",
            )
            return
        token = await self._token(authorization, send)
        if token is None:
            return
        granted = self._effective(token.scopes)
        if not self._required <= granted:
            await self._insufficient(send, self._required)
            return
        if (
            self.scopes is not None
            and method == "POST"
            and content_type == "application/json"
            and not self.scopes.declared_scopes() <= granted
        ):
            # something requires a scope this token lacks: is it what the body names?
            body = await self._read_body(receive, send)
            if body is None:
                return
            needed = self._needed(body)
            if not needed <= granted:
                await self._insufficient(send, needed | self._required)
                return
            receive = _replay(body, receive)
        if granted != token.scopes:  # what a server's lists check (AccessToken.has_scopes)
            token = attrs.evolve(token, implied=granted - token.scopes)
        scope = {**scope, SCOPE_PRINCIPAL: token}
        await self.app(scope, receive, send)

    # -- the steps -------------------------------------------------------------------

    async def _token(self, authorization: list[str], send: Send) -> AccessToken | None:
        """The verified token of the request, or ``None`` once it has been refused."""
        if not authorization:
            await self._unauthorized(send, None, "authorization is required")
            return None
        if len(authorization) > 1:
            await self._bad_request(send, "more than one Authorization header")
            return None
        scheme, _, credentials = authorization[0].strip().partition(" ")
        if scheme.lower() != "bearer":
            await self._unauthorized(send, None, "this server accepts Bearer tokens only")
            return None
        credentials = credentials.strip()
        if not _TOKEN68.fullmatch(credentials):
            await self._bad_request(send, "the Authorization header is not a valid Bearer token")
            return None
        try:
            token = await self.config.verifier.verify(credentials)
        except InvalidToken as exc:
            logger.debug("refused a token: %s", exc.description)
            await self._unauthorized(send, "invalid_token", exc.description)
            return None
        except VerifierUnavailable as exc:
            _unverifiable.log("could not verify a token: %s", exc)
            await _respond(
                send,
                503,
                _oauth_error("temporarily_unavailable", "the token cannot be verified now"),
                ((b"retry-after", b"5"),),
            )
            return None
        except Exception:
            logger.exception("the token verifier failed")
            await _respond(send, 500, _oauth_error("server_error", "the token verifier failed"))
            return None
        if token is None:
            logger.debug("refused a token: the verifier rejected it")
            await self._unauthorized(send, "invalid_token", "the token is invalid")
            return None
        if not self._audiences.intersection(token.audience):
            logger.debug("refused a token: issued for %s", token.audience)
            await self._unauthorized(
                send, "invalid_token", "the token was not issued for this resource"
            )
            return None
        return token

    def _effective(self, scopes: frozenset[str]) -> frozenset[str]:
        if not self._implied:
            return scopes
        implied = set(scopes)
        for scope in scopes:
            implied |= self._implied.get(scope, frozenset())
        return frozenset(implied)

    def _needed(self, body: bytes) -> frozenset[str]:
        """The scopes what the body names requires. An unreadable body needs nothing
        here: the app refuses it before anything runs."""
        assert self.scopes is not None
        try:
            decoded = _messages.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return frozenset()
        needed: set[str] = set()
        for message in decoded if isinstance(decoded, list) else (decoded,):
            member = _NAMED.get(message.method) if isinstance(message.method, str) else None
            if member is None:
                continue
            try:
                named = _named.decode(message.params)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # params that are not an object: the app refuses the request
            name = getattr(named, member)
            if isinstance(name, str):
                needed |= self.scopes.required_scopes(message.method, name)
        return frozenset(needed)

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        """The body (``None`` when the client left, or it was too large: answered)."""
        try:
            return await read_body(receive, self.max_body_size, None)
        except ClientGone:
            return None
        except HttpError as error:
            await _respond(send, error.status, _jsonrpc_error(error.code, error.message))
            return None

    # -- answers ---------------------------------------------------------------------

    async def _serve_metadata(self, method: str, send: Send) -> None:
        if method == "OPTIONS":
            await _respond(send, 204, b"", _PREFLIGHT_HEADERS, content_type=None)
        elif method in ("GET", "HEAD"):
            body = self._metadata if method == "GET" else b""
            await _send(send, 200, body, _METADATA_HEADERS, len(self._metadata))
        else:
            await _respond(
                send, 405, b"Method Not Allowed", ((b"allow", b"GET, OPTIONS"),), b"text/plain"
            )

    async def _unauthorized(self, send: Send, error: str | None, description: str) -> None:
        challenge = bearer_challenge(
            resource_metadata=self._metadata_url,
            scope=" ".join(sorted(self._required)) or None,
            error=error,
            description=description if error else None,
        )
        body = _oauth_error(error or "unauthorized", description)
        await _respond(send, 401, body, ((b"www-authenticate", challenge),))

    async def _insufficient(self, send: Send, needed: frozenset[str]) -> None:
        scope = " ".join(sorted(needed))
        logger.debug("refused a request: it needs the scopes %s", scope)
        description = f"this operation needs the scopes: {scope}"
        challenge = bearer_challenge(
            resource_metadata=self._metadata_url,
            scope=scope,
            error="insufficient_scope",
            description=description,
        )
        body = _oauth_error("insufficient_scope", description)
        await _respond(send, 403, body, ((b"www-authenticate", challenge),))

    async def _bad_request(self, send: Send, description: str) -> None:
        challenge = bearer_challenge(
            resource_metadata=self._metadata_url, error="invalid_request", description=description
        )
        body = _oauth_error("invalid_request", description)
        await _respond(send, 400, body, ((b"www-authenticate", challenge),))


def _closure(hierarchy: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    """Every scope each broader scope implies, transitively (computed once)."""
    closure: dict[str, frozenset[str]] = {}
    for broad in hierarchy:
        seen: set[str] = set()
        todo = list(_tuple(hierarchy[broad]))
        while todo:
            scope = todo.pop()
            if scope in seen:
                continue
            seen.add(scope)
            todo.extend(_tuple(hierarchy.get(scope, ())))
        closure[broad] = frozenset(seen)
    return closure


def _path(scope: Scope) -> str:
    root = str(scope.get("root_path") or "")
    path = str(scope.get("path") or "/")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path.rstrip("/") or "/"


def _names_access_token(query: bytes) -> bool:
    if b"access_token" not in query:
        return False
    return any(
        name == "access_token"
        for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then the client's messages."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _oauth_error(error: str, description: str) -> bytes:
    return msgspec.json.encode({"error": error, "error_description": description})


def _jsonrpc_error(code: int, message: str) -> bytes:
    return encode(JSONRPCErrorResponse(error=Error(code=code, message=message)))


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    content_type: bytes | None = b"application/json",
) -> None:
    head = list(headers)
    if content_type == b"application/json":
        head.extend(_JSON_HEADERS)
    elif content_type is not None:
        head.append((b"content-type", content_type))
    await _send(send, status, body, head, None if status == 204 else len(body))


async def _send(
    send: Send,
    status: int,
    body: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    length: int | None,
) -> None:
    head = list(headers)
    if length is not None:
        head.append((b"content-length", b"%d" % length))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body, "more_body": False})
