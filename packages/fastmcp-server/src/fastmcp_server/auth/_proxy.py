"""``OAuthProxy``: an authorization server of our own in front of an identity provider
that MCP clients could not use directly (no dynamic client registration, maybe no
PKCE: GitHub, Google, most company identity providers).

Theory of operation. MCP clients see a complete OAuth 2.1 authorization server at
``base_url``: its metadata (RFC 8414), dynamic client registration (RFC 7591), the
authorization endpoint (PKCE S256 required), the token endpoint (authorization code,
refresh token). The identity provider sees one OAuth client, the proxy, with the id,
secret and callback URL registered there once. One authorization goes:

1. ``GET /authorize`` from the user's browser, for a registered client: the client,
   then its redirect URI (exact string match with a registered one) are checked
   before anything can be sent back to it (an unknown client or redirect URI gets an
   error page, never a redirect); then the request (``response_type=code``, a S256
   ``code_challenge``, the ``resource`` - RFC 8707: this server's resource or none -
   and the scopes); errors from here on are redirected to the client.
2. the consent page (``require_authorization_consent``, on by default): the user is
   shown which client (name, id), which redirect URI and which scopes, and allows or
   denies. This is the MCP security best practices' defence against the confused
   deputy: without it, a link to ``/authorize`` for an attacker's client would ride
   on the identity provider's remembered consent (for the proxy's one client id) and
   send a code to the attacker's redirect URI. The page is bound to the browser that
   asked for it (a cookie with a secret held in the record), so a form posted from
   elsewhere is refused.
3. only once allowed: a fresh transaction id (the ``state`` sent upstream), stored
   server-side for ``flow_lifetime`` seconds and bound to the browser by a cookie;
   the browser goes to the identity provider with the proxy's client id, its own
   callback URL, its own PKCE challenge (``forward_pkce``) and, for OpenID
   providers, a ``nonce``.
4. ``GET <redirect_path>`` (the callback): the transaction is taken (single-use;
   unknown or expired: an error page), the cookie must match; an error from the
   provider goes back to the client (``access_denied``, else ``server_error``);
   otherwise the proxy exchanges the provider's code with its secret, learns the
   user's identity (``UpstreamIdentity``), and redirects to the client's redirect URI
   with a code of its own (single-use, ``code_lifetime`` seconds), the client's
   ``state`` and ``iss`` (RFC 9207).
5. ``POST /token``: the client authenticates (public clients by ``client_id``); the
   code is taken (single-use: a second use is refused and revokes what the first
   one gave, RFC 6749 section 4.1.2), must be this client's, for this redirect URI,
   and the ``code_verifier`` must hash to the challenge. The answer is the proxy's
   own tokens: an access token (a JWT signed with the proxy's key, ``typ`` at+jwt,
   ``aud`` the resource) and a refresh token (opaque, rotated at every use).

The MCP endpoint is protected by a ``BearerAuth`` whose verifier checks the proxy's
JWTs and that their grant is still alive; handlers get a ``ProxyAccessToken`` on
``ctx.principal``, whose ``identity`` is the upstream identity. The provider's tokens
stay with the proxy (``upstream_tokens``), never with the MCP client.

State (clients, pending authorizations, codes, grants, refresh tokens) lives in a
``ProxyStore`` (in memory by default). Nothing secret is logged: not a token, a code,
a secret or a cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import httpx
import msgspec

from fastmcp_core import call_callback
from fastmcp_server.auth._bearer import BearerAuth, ScopeSource, _path
from fastmcp_server.auth._front import ASGIApp, Receive, Scope, Send
from fastmcp_server.auth._metadata import check_resource
from fastmcp_server.auth._pages import PAGE_HEADERS, consent_page, error_page
from fastmcp_server.auth._store import InMemoryProxyStore, ProxyStore, StoreFull
from fastmcp_server.auth._token import AccessToken, InvalidToken
from fastmcp_server.auth._upstream import (
    UpstreamError,
    UpstreamIdentity,
    UpstreamTokens,
    id_token_claims,
)
from fastmcp_transport.http_server import ClientGone, HttpError, read_body

__all__ = ["OAuthProxy", "ProxyAccessToken", "ProxyFront", "UpstreamEndpoints"]

logger = logging.getLogger("fastmcp.auth")

S = TypeVar("S", bound=msgspec.Struct)

_FORM_LIMIT = 64 * 1024
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{43}")
_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob"})
_PASSED_ON_ERRORS = frozenset({"access_denied", "temporarily_unavailable"})
_JSON = ((b"content-type", b"application/json"), (b"cache-control", b"no-store"))
_CORS = ((b"access-control-allow-origin", b"*"),)
_PREFLIGHT = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type, mcp-protocol-version"),
    (b"access-control-max-age", b"86400"),
)


# -- records -----------------------------------------------------------------------------


class _Client(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    client_id: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str = "none"
    secret_hash: str | None = None
    client_name: str | None = None
    client_uri: str | None = None
    grant_types: list[str] = msgspec.field(default_factory=lambda: ["authorization_code"])
    response_types: list[str] = msgspec.field(default_factory=lambda: ["code"])
    scope: str | None = None
    issued_at: int = 0


class _Flow(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An authorization between ``/authorize`` and the callback."""

    client_id: str
    redirect_uri: str
    redirect_uri_given: bool
    state: str | None
    code_challenge: str
    scopes: list[str]
    resource: str
    binding: str
    """The secret of the browser's cookie (never in a URL)."""
    upstream_verifier: str | None = None
    nonce: str | None = None


class _Code(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    client_id: str
    redirect_uri: str
    redirect_uri_given: bool
    code_challenge: str
    scopes: list[str]
    resource: str
    grant_id: str


class _Grant(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    grant_id: str
    client_id: str
    identity: UpstreamIdentity
    scopes: list[str]
    resource: str
    upstream: UpstreamTokens | None = None


class _Refresh(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    grant_id: str
    client_id: str
    scopes: list[str]


class _UpstreamTokenAnswer(msgspec.Struct, kw_only=True):
    access_token: str | None = None
    token_type: str | None = None
    expires_in: float | None = None
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None
    error: str | None = None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _scope_list(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(value)


def _optional_scopes(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else _scope_list(value)


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode(params)
    if parts.query:
        query = f"{parts.query}&{query}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@attrs.frozen(kw_only=True)
class UpstreamEndpoints:
    """Where the identity provider is: its authorization and token endpoints, its
    OpenID ``userinfo`` endpoint and ``issuer`` (for the ID token) when it has them."""

    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None = None
    issuer: str | None = None


@attrs.frozen(kw_only=True)
class ProxyAccessToken(AccessToken):
    """The principal of a request authorized with an ``OAuthProxy``'s token:
    an ``AccessToken`` whose ``identity`` is who signed in at the identity provider
    (``subject`` is that identity's subject, ``client_id`` the MCP client's id)."""

    identity: UpstreamIdentity
    grant_id: str = attrs.field(repr=False)
    """The authorization this token belongs to (``OAuthProxy.upstream_tokens``)."""


class _OAuthProblem(Exception):
    """An OAuth error answer of the token or registration endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class _Refusal(Exception):
    """An authorization error to redirect to the client (``error``, ``description``)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _signing_key(value: Any) -> tuple[Any, str]:
    """A joserfc key and its algorithm, from a secret (HS256) or a joserfc key."""
    try:
        from joserfc.jwk import OctKey
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"OAuthProxy needs joserfc: pip install 'fastmcp-server[auth]' ({exc})"
        ) from exc

    if value is None:
        value = secrets.token_bytes(32)
    if isinstance(value, str | bytes):
        raw = value.encode() if isinstance(value, str) else value
        if len(raw) < 16:
            raise ValueError("jwt_signing_key is too short: use 32 random bytes or more")
        derived = hmac.new(b"fastmcp oauth proxy access tokens", raw, hashlib.sha256).digest()
        kid = hashlib.sha256(derived).hexdigest()[:16]
        return OctKey.import_key(derived, parameters={"kid": kid}), "HS256"
    key_type = getattr(value, "key_type", None)
    algorithm = {"RSA": "RS256", "EC": None, "OKP": "EdDSA", "oct": "HS256"}.get(str(key_type))
    if key_type == "EC":
        curve = value.get("crv")
        algorithm = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(curve)
    if algorithm is None:
        raise ValueError(f"jwt_signing_key: cannot sign with a {key_type} key")
    if value.kid is None:
        value.ensure_kid()
    return value, algorithm


@attrs.define(eq=False, kw_only=True)
class OAuthProxy:
    """An OAuth 2.1 authorization server in front of an identity provider (see the
    module docstring for the flow and its checks).

    The identity provider: ``upstream_authorization_endpoint`` and
    ``upstream_token_endpoint``, the proxy's ``upstream_client_id`` and
    ``upstream_client_secret`` there (registered with the callback URL
    ``base_url + redirect_path``), how the secret is sent
    (``token_endpoint_auth_method``: ``client_secret_basic``, ``client_secret_post``,
    or ``none`` for a public client), the ``upstream_scopes`` to ask for,
    ``upstream_userinfo_endpoint`` and ``upstream_issuer`` (OpenID Connect: where the
    identity comes from), ``forward_pkce`` (send a PKCE challenge upstream too; turn
    it off only for a provider that rejects one), ``extra_authorize_params`` and
    ``extra_token_params`` (provider-specific parameters), ``upstream_name`` (shown
    on the consent page). Presets: ``GitHubProvider``, ``GoogleProvider``,
    ``OIDCProxy``. A subclass can override ``upstream_endpoints`` (discovery) and
    ``upstream_identity`` (where the identity comes from).

    This server: ``base_url`` is its public URL (the issuer; the endpoints are
    ``/authorize``, ``/token``, ``/register``, ``/consent`` and ``redirect_path``
    under it); ``resource`` is the MCP endpoint's canonical URL (default: ``base_url``
    and the endpoint's path). ``required_scopes`` are needed for every request (the
    scopes of *this* server's tokens, not the provider's); ``scopes_supported`` what
    clients may ask for (default: the required ones). ``check_identity``, given, is
    called with each ``UpstreamIdentity`` after sign-in (sync or async) and returns
    whether it may use this server (``False``: ``access_denied``).

    Security: ``require_authorization_consent`` (default ``True``; ``False`` only for
    a server whose every client you control - it logs a warning);
    ``allowed_client_redirect_uris`` (glob patterns a registered redirect URI must
    match; default: ``https`` URLs, ``http`` on a loopback host, and private-use
    schemes with a dot, RFC 8252); ``jwt_signing_key`` signs the access tokens: a
    secret (``str``/``bytes``, 16 bytes at least: HS256 with a key derived from it)
    or a joserfc private key (RS256, ES256...); the default is a random key per
    process, so tokens die with it (give one to survive restarts, and the same one to
    every replica, with a shared ``store``). Lifetimes in seconds:
    ``access_token_lifetime``, ``refresh_token_lifetime``, ``code_lifetime``,
    ``flow_lifetime`` (from ``/authorize`` to the callback: the consent page and the
    sign-in). ``http_client`` talks to the provider (one of our own by default,
    ``timeout`` per request; ``aclose`` closes it); ``clock`` is the wall clock of
    the tokens' ``iat``/``exp``.

    Use it as ``server.run_http(auth=proxy)`` (or ``serve_http``/``http_app``).
    """

    base_url: str
    upstream_client_id: str
    upstream_client_secret: str | None = attrs.field(default=None, repr=False)
    upstream_authorization_endpoint: str | None = None
    upstream_token_endpoint: str | None = None
    upstream_userinfo_endpoint: str | None = None
    upstream_issuer: str | None = None
    upstream_scopes: Sequence[str] = attrs.field(default=(), converter=_scope_list)
    upstream_name: str | None = None
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"
    )
    forward_pkce: bool = True
    extra_authorize_params: Mapping[str, str] = attrs.field(factory=dict)
    extra_token_params: Mapping[str, str] = attrs.field(factory=dict)
    redirect_path: str = "/auth/callback"
    resource: str | None = None
    resource_name: str | None = None
    service_documentation_url: str | None = None
    required_scopes: Sequence[str] = attrs.field(default=(), converter=_scope_list)
    scopes_supported: Sequence[str] | None = attrs.field(default=None, converter=_optional_scopes)
    check_identity: Callable[[UpstreamIdentity], bool | Awaitable[bool]] | None = None
    require_authorization_consent: bool = True
    allowed_client_redirect_uris: Sequence[str] | None = None
    jwt_signing_key: Any = attrs.field(default=None, repr=False)
    access_token_lifetime: float = 3600.0
    refresh_token_lifetime: float = 30 * 24 * 3600.0
    code_lifetime: float = 300.0
    flow_lifetime: float = 600.0
    store: ProxyStore = attrs.field(factory=InMemoryProxyStore)
    http_client: httpx.AsyncClient | None = None
    timeout: float = 10.0
    clock: Callable[[], float] = time.time
    _issuer: str = attrs.field(init=False)
    _prefix: str = attrs.field(init=False)
    _key: Any = attrs.field(init=False, repr=False)
    _algorithm: str = attrs.field(init=False)
    _bound_resource: str | None = attrs.field(init=False, default=None)
    _own_client: httpx.AsyncClient | None = attrs.field(init=False, default=None)
    _verifier: Any = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        check_resource(self.base_url)
        self._issuer = self.base_url.rstrip("/")
        self._prefix = urlsplit(self._issuer).path
        if not self.redirect_path.startswith("/"):
            raise ValueError(f"redirect_path must start with '/', not {self.redirect_path!r}")
        if self.resource is not None:
            check_resource(self.resource)
        self._key, self._algorithm = _signing_key(self.jwt_signing_key)
        if not self.require_authorization_consent:
            logger.warning(
                "the OAuth proxy at %s asks no consent: any client registered with it can "
                "get a code for a user whose identity provider remembers them (the confused "
                "deputy); only for servers whose every client you control",
                self._issuer,
            )
        for endpoint in (self.upstream_authorization_endpoint, self.upstream_token_endpoint):
            if endpoint is not None:
                check_resource(endpoint)

    # -- what subclasses may override ------------------------------------------------

    async def upstream_endpoints(self) -> UpstreamEndpoints:
        """The identity provider's endpoints (``OIDCProxy`` discovers them)."""
        if self.upstream_authorization_endpoint is None or self.upstream_token_endpoint is None:
            raise UpstreamError(
                "the OAuth proxy needs upstream_authorization_endpoint and upstream_token_endpoint"
            )
        return UpstreamEndpoints(
            authorization_endpoint=self.upstream_authorization_endpoint,
            token_endpoint=self.upstream_token_endpoint,
            userinfo_endpoint=self.upstream_userinfo_endpoint,
            issuer=self.upstream_issuer,
        )

    async def upstream_identity(
        self, tokens: UpstreamTokens, *, nonce: str | None = None
    ) -> UpstreamIdentity:
        """Who signed in: the ``userinfo`` endpoint's answer, else the ID token's
        claims (checked: see ``_upstream``); ``UpstreamError`` when neither says.
        When both are there, their subjects must agree (OpenID Connect Core 5.3.2)."""
        endpoints = await self.upstream_endpoints()
        provider = endpoints.issuer or self.upstream_name or endpoints.authorization_endpoint
        from_token: dict[str, Any] | None = None
        if tokens.id_token is not None:
            from_token = id_token_claims(
                tokens.id_token,
                client_id=self.upstream_client_id,
                issuer=endpoints.issuer,
                nonce=nonce,
                now=self.clock(),
            )
        if endpoints.userinfo_endpoint is not None:
            claims = await self.upstream_json(endpoints.userinfo_endpoint, tokens)
            if from_token is not None and str(claims.get("sub")) != str(from_token.get("sub")):
                raise UpstreamError("userinfo and the ID token name different subjects")
            return UpstreamIdentity.from_claims({**(from_token or {}), **claims}, provider)
        if from_token is not None:
            return UpstreamIdentity.from_claims(from_token, provider)
        raise UpstreamError(
            "no way to learn who signed in: give upstream_userinfo_endpoint, ask for the "
            "openid scope, or override upstream_identity"
        )

    # -- helpers for subclasses ------------------------------------------------------

    def http(self) -> httpx.AsyncClient:
        """The HTTP client for the identity provider."""
        if self.http_client is not None:
            return self.http_client
        if self._own_client is None:
            self._own_client = httpx.AsyncClient(timeout=self.timeout)
        return self._own_client

    async def upstream_json(
        self, url: str, tokens: UpstreamTokens, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """GET ``url`` with the provider's access token; the JSON object it answers
        (``UpstreamError`` for anything else)."""
        answer = await self.upstream_get(url, tokens, headers)
        if not isinstance(answer, dict):
            raise UpstreamError(f"GET {url} answered no JSON object")
        return answer

    async def upstream_get(
        self, url: str, tokens: UpstreamTokens | None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """GET ``url`` (with the provider's access token, when given); the JSON it
        answers with a 200 (``UpstreamError`` for anything else)."""
        head = {"accept": "application/json"}
        if tokens is not None:
            head["authorization"] = f"Bearer {tokens.access_token}"
        head.update(headers or {})
        try:
            response = await self.http().get(url, headers=head)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"GET {url} failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise UpstreamError(f"GET {url} answered HTTP {response.status_code}")
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise UpstreamError(f"GET {url} answered no JSON") from None

    # -- public ----------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The issuer: ``base_url`` without a trailing slash."""
        return self._issuer

    @property
    def callback_url(self) -> str:
        """The redirect URI to register with the identity provider."""
        return self._issuer + self.redirect_path

    def wrap(
        self,
        app: ASGIApp,
        *,
        scopes: ScopeSource | None = None,
        max_body_size: int = 16 * 1024 * 1024,
    ) -> ProxyFront:
        """``app`` (the Streamable HTTP app) behind this authorization server: the
        returned ASGI app serves the OAuth endpoints and protects the rest with a
        ``BearerAuth`` that trusts this proxy's tokens. The resource is ``resource``,
        else ``base_url`` with the app's path; a proxy protects one resource."""
        resource = self.resource or self._issuer + str(getattr(app, "path", "") or "")
        check_resource(resource)
        if self._bound_resource is not None and self._bound_resource != resource:
            raise ValueError(f"this OAuth proxy protects {self._bound_resource!r} already")
        self._bound_resource = resource
        bearer = BearerAuth(
            verifier=self.token_verifier(),
            authorization_servers=[self._issuer],
            resource=resource,
            required_scopes=self.required_scopes,
            scopes_supported=self._supported(),
            resource_name=self.resource_name,
            resource_documentation=self.service_documentation_url,
        )
        inner = bearer.wrap(app, scopes=scopes, max_body_size=max_body_size)
        return ProxyFront(self, inner, app, resource)

    def token_verifier(self) -> _ProxyVerifier:
        """The verifier of this proxy's access tokens (what the ``BearerAuth`` of
        ``wrap`` uses; for a resource server in the same process elsewhere)."""
        if self._verifier is None:
            from joserfc.jwk import KeySet

            from fastmcp_server.auth._jwt import JWTVerifier

            public = self._key
            jwt_verifier = JWTVerifier(
                issuer=self._issuer,
                keys=KeySet([public]),
                algorithms=[self._algorithm],
                token_type="at+jwt",
                clock=self.clock,
            )
            self._verifier = _ProxyVerifier(self, jwt_verifier)
        verifier: _ProxyVerifier = self._verifier
        return verifier

    async def upstream_tokens(self, principal: AccessToken) -> UpstreamTokens | None:
        """The identity provider's tokens of the authorization ``principal`` (a
        ``ProxyAccessToken``) belongs to, for calling the provider's API on the user's
        behalf; ``None`` when it is not one of this proxy's or was revoked."""
        if not isinstance(principal, ProxyAccessToken):
            return None
        grant = await self._load("grant", principal.grant_id, _Grant)
        return None if grant is None else grant.upstream

    async def revoke(self, principal: AccessToken) -> None:
        """Revoke the authorization ``principal`` belongs to: its access and refresh
        tokens stop working at once."""
        if isinstance(principal, ProxyAccessToken):
            await self.store.delete("grant", principal.grant_id)

    async def aclose(self) -> None:
        """Close the HTTP client this proxy made for itself (a given one stays open)."""
        client, self._own_client = self._own_client, None
        if client is not None:
            await client.aclose()

    # -- metadata --------------------------------------------------------------------

    def _supported(self) -> tuple[str, ...] | None:
        if self.scopes_supported is not None:
            return tuple(self.scopes_supported)
        return tuple(self.required_scopes) or None

    def metadata(self) -> dict[str, Any]:
        """The authorization server metadata (RFC 8414)."""
        base = self._issuer
        document: dict[str, Any] = {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "registration_endpoint": f"{base}/register",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }
        supported = self._supported()
        if supported:
            document["scopes_supported"] = list(supported)
        if self.service_documentation_url is not None:
            document["service_documentation"] = self.service_documentation_url
        return document

    # -- storage ---------------------------------------------------------------------

    async def _save(self, kind: str, key: str, record: msgspec.Struct, ttl: float | None) -> None:
        await self.store.put(kind, key, msgspec.json.encode(record), ttl)

    async def _load(self, kind: str, key: str, type_: type[S]) -> S | None:
        return _decode(await self.store.get(kind, key), type_)

    async def _take(self, kind: str, key: str, type_: type[S]) -> S | None:
        return _decode(await self.store.take(kind, key), type_)

    # -- registration (RFC 7591) -----------------------------------------------------

    def redirect_uri_allowed(self, uri: str) -> bool:
        """Whether a client may register ``uri`` (see ``allowed_client_redirect_uris``)."""
        try:
            parts = urlsplit(uri)
        except ValueError:
            return False
        scheme = parts.scheme.lower()
        if not scheme or parts.fragment or "#" in uri or scheme in _UNSAFE_SCHEMES:
            return False
        if self.allowed_client_redirect_uris is not None:
            return any(fnmatchcase(uri, pattern) for pattern in self.allowed_client_redirect_uris)
        if scheme == "https":
            return bool(parts.hostname)
        if scheme == "http":
            return _is_loopback(parts.hostname or "")
        return "." in scheme  # a private-use scheme (RFC 8252 section 7.1)

    async def _register(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            metadata = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise _OAuthProblem("invalid_client_metadata", "the body is not JSON") from None
        if not isinstance(metadata, dict):
            raise _OAuthProblem("invalid_client_metadata", "the body is not a JSON object")
        uris = metadata.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            raise _OAuthProblem("invalid_redirect_uri", "redirect_uris must list redirect URIs")
        for uri in uris:
            if not self.redirect_uri_allowed(uri):
                raise _OAuthProblem(
                    "invalid_redirect_uri", f"this server does not accept the redirect URI {uri}"
                )
        method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in _AUTH_METHODS:
            raise _OAuthProblem(
                "invalid_client_metadata", f"token_endpoint_auth_method {method!r} is not supported"
            )
        grant_types = metadata.get("grant_types", ["authorization_code"])
        if not isinstance(grant_types, list) or not set(grant_types) <= {
            "authorization_code",
            "refresh_token",
        }:
            raise _OAuthProblem("invalid_client_metadata", "unsupported grant_types")
        response_types = metadata.get("response_types", ["code"])
        if not isinstance(response_types, list) or not set(response_types) <= {"code"}:
            raise _OAuthProblem("invalid_client_metadata", "unsupported response_types")
        name = metadata.get("client_name")
        client_uri = metadata.get("client_uri")
        scope = metadata.get("scope")
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise _OAuthProblem("invalid_client_metadata", "client_name must be a short string")
        if client_uri is not None and not isinstance(client_uri, str):
            raise _OAuthProblem("invalid_client_metadata", "client_uri must be a string")
        if scope is not None and not isinstance(scope, str):
            raise _OAuthProblem("invalid_client_metadata", "scope must be a string")
        client_id = secrets.token_urlsafe(24)
        secret = None if method == "none" else secrets.token_urlsafe(32)
        issued_at = int(self.clock())
        client = _Client(
            client_id=client_id,
            redirect_uris=list(uris),
            token_endpoint_auth_method=method,
            secret_hash=None if secret is None else _digest(secret),
            client_name=name,
            client_uri=client_uri,
            grant_types=list(grant_types),
            response_types=list(response_types),
            scope=scope,
            issued_at=issued_at,
        )
        await self._save("client", client_id, client, None)
        logger.info("registered the client %r (%s)", name or client_id, ", ".join(uris))
        answer: dict[str, Any] = {
            "client_id": client_id,
            "client_id_issued_at": issued_at,
            "redirect_uris": list(uris),
            "token_endpoint_auth_method": method,
            "grant_types": list(grant_types),
            "response_types": list(response_types),
        }
        if secret is not None:
            answer["client_secret"] = secret
            answer["client_secret_expires_at"] = 0
        for member, value in (("client_name", name), ("client_uri", client_uri), ("scope", scope)):
            if value is not None:
                answer[member] = value
        return 201, answer

    # -- authorization ---------------------------------------------------------------

    def _scopes(self, requested: str | None, allowed: Sequence[str] | None = None) -> list[str]:
        """The scopes an authorization grants: those asked for (each one supported),
        else the required ones."""
        if not requested or not requested.split():
            return sorted(set(self.required_scopes))
        wanted = set(requested.split())
        supported = set(allowed if allowed is not None else (self._supported() or ()))
        unknown = wanted - supported
        if unknown:
            raise _Refusal("invalid_scope", f"unknown scope(s): {' '.join(sorted(unknown))}")
        return sorted(wanted)

    def _client_redirect(
        self, redirect_uri: str, state: str | None, params: Mapping[str, str]
    ) -> str:
        answer = dict(params)
        if state is not None:
            answer["state"] = state
        answer["iss"] = self._issuer
        return _with_query(redirect_uri, answer)

    async def _authorize(self, params: Mapping[str, str]) -> _Answer:
        client_id = params.get("client_id")
        client = None if client_id is None else await self._load("client", client_id, _Client)
        if client is None:
            return _Answer.page(400, "invalid_client", "This application is not registered here.")
        redirect_uri = params.get("redirect_uri")
        given = redirect_uri is not None
        if redirect_uri is None:
            if len(client.redirect_uris) != 1:
                return _Answer.page(
                    400, "invalid_request", "The application did not say where to return."
                )
            redirect_uri = client.redirect_uris[0]
        elif redirect_uri not in client.redirect_uris:
            logger.info("refused an authorization: a redirect URI the client did not register")
            return _Answer.page(
                400,
                "invalid_request",
                "The redirect URI is not one this application registered: nothing is sent there.",
            )
        state = params.get("state")
        try:
            flow = self._check_authorization(params, client, redirect_uri, given, state)
        except _Refusal as refusal:
            logger.info("refused an authorization: %s", refusal.description)
            return _Answer.redirect(
                self._client_redirect(
                    redirect_uri,
                    state,
                    {"error": refusal.error, "error_description": refusal.description},
                )
            )
        if not self.require_authorization_consent:
            return await self._to_upstream(flow)
        consent_id = secrets.token_urlsafe(32)
        await self._save("consent", consent_id, flow, self.flow_lifetime)
        page = consent_page(
            action=f"{self._prefix}/consent",
            consent_id=consent_id,
            client_name=client.client_name or "An unnamed application",
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=flow.scopes,
            upstream=self.upstream_name or "your identity provider",
            server=self.resource_name or flow.resource,
        )
        answer = _Answer(200, page, list(PAGE_HEADERS))
        answer.cookie(self._cookie_name(consent_id), flow.binding, self.flow_lifetime)
        return answer

    def _check_authorization(
        self,
        params: Mapping[str, str],
        client: _Client,
        redirect_uri: str,
        given: bool,
        state: str | None,
    ) -> _Flow:
        if params.get("response_type") != "code":
            raise _Refusal("unsupported_response_type", "only response_type=code is supported")
        if "authorization_code" not in client.grant_types:
            raise _Refusal("unauthorized_client", "the client did not register the code grant")
        challenge = params.get("code_challenge")
        if not challenge:
            raise _Refusal("invalid_request", "PKCE is required: send a code_challenge")
        if params.get("code_challenge_method", "plain") != "S256":
            raise _Refusal("invalid_request", "the code_challenge_method must be S256")
        if not _CHALLENGE.fullmatch(challenge):
            raise _Refusal("invalid_request", "the code_challenge is not a S256 challenge")
        assert self._bound_resource is not None
        resource = params.get("resource")
        if resource is not None and resource != self._bound_resource:
            raise _Refusal(
                "invalid_target", f"this server issues tokens for {self._bound_resource}"
            )
        return _Flow(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            redirect_uri_given=given,
            state=state,
            code_challenge=challenge,
            scopes=self._scopes(params.get("scope")),
            resource=self._bound_resource,
            binding=secrets.token_urlsafe(32),
        )

    async def _consent(self, form: Mapping[str, str], cookies: Mapping[str, str]) -> _Answer:
        consent_id = form.get("consent_id", "")
        flow = await self._take("consent", consent_id, _Flow) if consent_id else None
        if flow is None:
            return _Answer.page(
                400,
                "invalid_request",
                "This request has expired: start again from the application.",
            )
        name = self._cookie_name(consent_id)
        if not hmac.compare_digest(cookies.get(name, "").encode(), flow.binding.encode()):
            logger.info("refused a consent: not posted by the browser that was asked")
            return _Answer.page(
                400, "invalid_request", "This answer did not come from the page you were shown."
            )
        if form.get("decision") != "allow":
            answer = _Answer.redirect(
                self._client_redirect(
                    flow.redirect_uri,
                    flow.state,
                    {"error": "access_denied", "error_description": "the user denied access"},
                )
            )
        else:
            answer = await self._to_upstream(flow)
        answer.cookie(name, "", 0)
        return answer

    async def _to_upstream(self, flow: _Flow) -> _Answer:
        """Send the browser to the identity provider, the transaction stored and bound
        to the browser (step 3 of the module docstring)."""
        try:
            endpoints = await self.upstream_endpoints()
        except UpstreamError as exc:
            logger.warning("the identity provider is unavailable: %s", exc)
            return _Answer.redirect(
                self._client_redirect(
                    flow.redirect_uri,
                    flow.state,
                    {"error": "temporarily_unavailable", "error_description": str(exc)},
                )
            )
        transaction = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48) if self.forward_pkce else None
        nonce = secrets.token_urlsafe(24) if "openid" in self.upstream_scopes else None
        flow = msgspec.structs.replace(flow, upstream_verifier=verifier, nonce=nonce)
        await self._save("flow", transaction, flow, self.flow_lifetime)
        params = {
            "response_type": "code",
            "client_id": self.upstream_client_id,
            "redirect_uri": self.callback_url,
            "state": transaction,
        }
        if self.upstream_scopes:
            params["scope"] = " ".join(self.upstream_scopes)
        if verifier is not None:
            params["code_challenge"] = _s256(verifier)
            params["code_challenge_method"] = "S256"
        if nonce is not None:
            params["nonce"] = nonce
        params.update(self.extra_authorize_params)
        answer = _Answer.redirect(_with_query(endpoints.authorization_endpoint, params))
        answer.cookie(self._cookie_name(transaction), flow.binding, self.flow_lifetime)
        return answer

    async def _callback(self, params: Mapping[str, str], cookies: Mapping[str, str]) -> _Answer:
        transaction = params.get("state", "")
        flow = await self._take("flow", transaction, _Flow) if transaction else None
        if flow is None:
            logger.info("refused a callback: unknown, expired or used transaction")
            return _Answer.page(
                400,
                "invalid_request",
                "This sign-in has expired or was already used: start again from the application.",
            )
        name = self._cookie_name(transaction)
        if not hmac.compare_digest(cookies.get(name, "").encode(), flow.binding.encode()):
            logger.info("refused a callback: not in the browser that started the sign-in")
            return _Answer.page(
                400, "invalid_request", "This sign-in was started in another browser."
            )
        try:
            answer = _Answer.redirect(await self._complete(flow, params))
        except _Refusal as refusal:
            answer = _Answer.redirect(
                self._client_redirect(
                    flow.redirect_uri,
                    flow.state,
                    {"error": refusal.error, "error_description": refusal.description},
                )
            )
        answer.cookie(name, "", 0)
        return answer

    async def _complete(self, flow: _Flow, params: Mapping[str, str]) -> str:
        """Exchange the provider's code, learn the identity, issue our code: the URL
        to send the browser to (``_Refusal`` for an error to send there instead)."""
        error = params.get("error")
        if error is not None:
            logger.info("the identity provider answered %s", error)
            passed = error if error in _PASSED_ON_ERRORS else "server_error"
            raise _Refusal(passed, f"the identity provider answered {error}")
        code = params.get("code")
        if not code:
            raise _Refusal("server_error", "the identity provider sent no code")
        try:
            tokens = await self._exchange(code, flow)
            identity = await self.upstream_identity(tokens, nonce=flow.nonce)
        except UpstreamError as exc:
            logger.warning("signing in at the identity provider failed: %s", exc)
            raise _Refusal("server_error", "signing in at the identity provider failed") from None
        if self.check_identity is not None and not await call_callback(
            self.check_identity, identity
        ):
            logger.info("refused %s %s: check_identity said no", identity.provider, identity.login)
            raise _Refusal("access_denied", "this account may not use this server")
        grant = _Grant(
            grant_id=secrets.token_urlsafe(24),
            client_id=flow.client_id,
            identity=identity,
            scopes=flow.scopes,
            resource=flow.resource,
            upstream=tokens,
        )
        await self._save("grant", grant.grant_id, grant, self.refresh_token_lifetime)
        code = secrets.token_urlsafe(32)
        record = _Code(
            client_id=flow.client_id,
            redirect_uri=flow.redirect_uri,
            redirect_uri_given=flow.redirect_uri_given,
            code_challenge=flow.code_challenge,
            scopes=flow.scopes,
            resource=flow.resource,
            grant_id=grant.grant_id,
        )
        await self._save("code", _digest(code), record, self.code_lifetime)
        logger.info(
            "signed in %s (%s) for the client %s", identity.login, identity.provider, flow.client_id
        )
        return self._client_redirect(flow.redirect_uri, flow.state, {"code": code})

    async def _exchange(self, code: str, flow: _Flow) -> UpstreamTokens:
        endpoints = await self.upstream_endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.callback_url,
        }
        if flow.upstream_verifier is not None:
            form["code_verifier"] = flow.upstream_verifier
        form.update(self.extra_token_params)
        headers = {"accept": "application/json"}
        secret = self.upstream_client_secret
        if self.token_endpoint_auth_method == "client_secret_basic" and secret is not None:
            pair = f"{_form_encode(self.upstream_client_id)}:{_form_encode(secret)}"
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.upstream_client_id
            if self.token_endpoint_auth_method == "client_secret_post" and secret is not None:
                form["client_secret"] = secret
        try:
            response = await self.http().post(endpoints.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the token request failed: {type(exc).__name__}") from None
        try:
            answer = msgspec.json.decode(response.content, type=_UpstreamTokenAnswer)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise UpstreamError(
                f"the token endpoint answered HTTP {response.status_code} without JSON"
            ) from None
        # GitHub answers errors with a 200
        if response.status_code != 200 or answer.error is not None or not answer.access_token:
            raise UpstreamError(
                f"the token endpoint answered HTTP {response.status_code} {answer.error or ''}".strip()
            )
        expires_at = None if answer.expires_in is None else self.clock() + answer.expires_in
        return UpstreamTokens(
            access_token=answer.access_token,
            token_type=answer.token_type or "Bearer",
            expires_at=expires_at,
            refresh_token=answer.refresh_token,
            scope=answer.scope,
            id_token=answer.id_token,
        )

    def _cookie_name(self, key: str) -> str:
        # one cookie per flow (several may run at once), named by a digest of its key
        prefix = "__Host-" if self._issuer.startswith("https:") else ""
        return f"{prefix}fastmcp-oauth-{_digest(key)[:16]}"

    # -- the token endpoint ----------------------------------------------------------

    async def _authenticate(self, form: Mapping[str, str], authorization: str | None) -> _Client:
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        used_basic = False
        if authorization is not None and authorization[:6].lower() == "basic ":
            try:
                pair = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                raise _OAuthProblem("invalid_client", "malformed Basic credentials", 401) from None
            basic_id, sep, basic_secret = pair.partition(":")
            if not sep:
                raise _OAuthProblem("invalid_client", "malformed Basic credentials", 401)
            basic_id, basic_secret = _form_decode(basic_id), _form_decode(basic_secret)
            if client_id is not None and client_id != basic_id:
                raise _OAuthProblem("invalid_request", "two different client ids")
            if secret is not None:
                raise _OAuthProblem("invalid_request", "two ways of client authentication")
            client_id, secret, used_basic = basic_id, basic_secret, True
        if not client_id:
            raise _OAuthProblem("invalid_client", "no client_id", 401)
        client = await self._load("client", client_id, _Client)
        if client is None:
            raise _OAuthProblem("invalid_client", "unknown client", 401)
        method = client.token_endpoint_auth_method
        if method == "none":
            if secret is not None:
                raise _OAuthProblem("invalid_client", "this client has no secret", 401)
            return client
        expected = "client_secret_basic" if used_basic else "client_secret_post"
        if (
            secret is None
            or client.secret_hash is None
            or not hmac.compare_digest(_digest(secret), client.secret_hash)
        ):
            raise _OAuthProblem("invalid_client", "client authentication failed", 401)
        if method != expected:
            logger.debug(
                "client %s authenticated with %s, registered %s", client_id, expected, method
            )
        return client

    async def _token(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        client = await self._authenticate(form, authorization)
        grant_type = form.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise _OAuthProblem("unsupported_grant_type", f"unsupported grant_type {grant_type!r}")
        # refresh tokens come with the code grant, whether registered or not
        if "authorization_code" not in client.grant_types:
            raise _OAuthProblem("unauthorized_client", f"the client may not use {grant_type}")
        if grant_type == "authorization_code":
            return await self._redeem_code(form, client)
        return await self._refresh(form, client)

    async def _redeem_code(self, form: Mapping[str, str], client: _Client) -> dict[str, Any]:
        code = form.get("code")
        verifier = form.get("code_verifier")
        if not code:
            raise _OAuthProblem("invalid_request", "no code")
        if not verifier:
            raise _OAuthProblem("invalid_request", "no code_verifier: PKCE is required")
        key = _digest(code)
        record = await self._take("code", key, _Code)
        if record is None:
            used = await self.store.get("used-code", key)
            if used is not None:
                # RFC 6749 section 4.1.2: a code used twice revokes what it gave
                await self.store.delete("grant", used.decode())
                logger.warning("an authorization code was used twice: its grant is revoked")
                raise _OAuthProblem("invalid_grant", "the code was already used")
            raise _OAuthProblem("invalid_grant", "the code is invalid or has expired")
        await self.store.put("used-code", key, record.grant_id.encode(), self.flow_lifetime)
        if record.client_id != client.client_id:
            raise _OAuthProblem("invalid_grant", "the code was issued to another client")
        redirect_uri = form.get("redirect_uri")
        if (record.redirect_uri_given or redirect_uri is not None) and (
            redirect_uri != record.redirect_uri
        ):
            raise _OAuthProblem(
                "invalid_grant", "the redirect_uri differs from the authorization's"
            )
        if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
            _s256(verifier), record.code_challenge
        ):
            raise _OAuthProblem("invalid_grant", "the code_verifier does not match the challenge")
        resource = form.get("resource")
        if resource is not None and resource != record.resource:
            raise _OAuthProblem("invalid_target", f"the code was issued for {record.resource}")
        grant = await self._load("grant", record.grant_id, _Grant)
        if grant is None:
            raise _OAuthProblem("invalid_grant", "the authorization was revoked")
        scopes = self._narrowed(form.get("scope"), record.scopes)
        return await self._issue(grant, scopes, record.scopes)

    async def _refresh(self, form: Mapping[str, str], client: _Client) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise _OAuthProblem("invalid_request", "no refresh_token")
        record = await self._take("refresh", _digest(token), _Refresh)
        if record is None:
            raise _OAuthProblem("invalid_grant", "the refresh token is invalid or has expired")
        if record.client_id != client.client_id:
            raise _OAuthProblem("invalid_grant", "the refresh token was issued to another client")
        grant = await self._load("grant", record.grant_id, _Grant)
        if grant is None:
            raise _OAuthProblem("invalid_grant", "the authorization was revoked")
        resource = form.get("resource")
        if resource is not None and resource != grant.resource:
            raise _OAuthProblem("invalid_target", f"the authorization is for {grant.resource}")
        scopes = self._narrowed(form.get("scope"), record.scopes)
        await self._save("grant", grant.grant_id, grant, self.refresh_token_lifetime)
        return await self._issue(grant, scopes, record.scopes)

    def _narrowed(self, requested: str | None, granted: Sequence[str]) -> list[str]:
        if requested is None:
            return list(granted)
        wanted = set(requested.split())
        if not wanted <= set(granted):
            raise _OAuthProblem(
                "invalid_scope", "a token cannot have scopes the user did not grant"
            )
        return sorted(wanted)

    async def _issue(self, grant: _Grant, scopes: list[str], granted: list[str]) -> dict[str, Any]:
        """An access token with ``scopes``, and a new refresh token for all that was
        ``granted`` (a narrower access token does not narrow the grant, RFC 6749 6)."""
        from joserfc import jwt

        now = int(self.clock())
        identity = grant.identity
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": identity.subject,
            "aud": grant.resource,
            "client_id": grant.client_id,
            "iat": now,
            "exp": now + int(self.access_token_lifetime),
            "jti": secrets.token_urlsafe(16),
            "grant_id": grant.grant_id,
            "idp": identity.provider,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        for claim, value in (
            ("preferred_username", identity.login),
            ("email", identity.email),
            ("name", identity.name),
        ):
            if value is not None:
                claims[claim] = value
        header = {"alg": self._algorithm, "typ": "at+jwt", "kid": self._key.kid}
        access = jwt.encode(header, claims, self._key)
        refresh = secrets.token_urlsafe(32)
        await self._save(
            "refresh",
            _digest(refresh),
            _Refresh(grant_id=grant.grant_id, client_id=grant.client_id, scopes=granted),
            self.refresh_token_lifetime,
        )
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.access_token_lifetime),
            "refresh_token": refresh,
        }
        if scopes:
            answer["scope"] = " ".join(scopes)
        return answer


def _decode(raw: bytes | None, type_: type[S]) -> S | None:
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=type_)
    except (msgspec.DecodeError, msgspec.ValidationError):
        logger.warning("an unreadable %s record in the proxy store", type_.__name__)
        return None


def _form_encode(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="").replace("%20", "+")


def _form_decode(value: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(value)


@attrs.define(eq=False)
class _ProxyVerifier:
    """Verifies an ``OAuthProxy``'s access tokens: the JWT (signature, ``typ``,
    ``iss``, ``exp``), then that its grant was not revoked."""

    proxy: OAuthProxy
    jwt: Any

    async def verify(self, token: str) -> ProxyAccessToken:
        """The ``ProxyAccessToken`` of a valid token; ``InvalidToken`` otherwise."""
        access: AccessToken = await self.jwt.verify(token)
        grant_id = access.claims.get("grant_id")
        if not isinstance(grant_id, str):
            raise InvalidToken("the token names no grant")
        grant = await self.proxy._load("grant", grant_id, _Grant)
        if grant is None:
            raise InvalidToken("the token was revoked")
        return ProxyAccessToken(
            token=token,
            subject=access.subject,
            client_id=access.client_id,
            scopes=access.scopes,
            expires_at=access.expires_at,
            issuer=access.issuer,
            audience=access.audience,
            claims=access.claims,
            identity=grant.identity,
            grant_id=grant_id,
        )


# -- the ASGI side -----------------------------------------------------------------------


@attrs.define
class _Answer:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]

    @classmethod
    def page(cls, status: int, error: str, description: str) -> _Answer:
        return cls(status, error_page(error, description), list(PAGE_HEADERS))

    @classmethod
    def redirect(cls, location: str) -> _Answer:
        headers = [
            (b"location", location.encode("latin-1", "replace")),
            (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer"),
        ]
        return cls(302, b"", headers)

    @classmethod
    def json(cls, status: int, body: Any, extra: Sequence[tuple[bytes, bytes]] = ()) -> _Answer:
        return cls(status, msgspec.json.encode(body), [*_JSON, *_CORS, *extra])

    def cookie(self, name: str, value: str, max_age: float) -> None:
        secure = "; Secure" if name.startswith("__Host-") else ""
        line = f"{name}={value}; Path=/; Max-Age={int(max_age)}; HttpOnly; SameSite=Lax{secure}"
        self.headers.append((b"set-cookie", line.encode("latin-1")))

    async def send(self, send: Send) -> None:
        headers = [*self.headers, (b"content-length", b"%d" % len(self.body))]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def _params(raw: bytes) -> dict[str, str] | None:
    """Query or form parameters; ``None`` when one is repeated (RFC 6749 section 3.1)."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in found:
            return None
        found[name] = value
    return found


def _cookies(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        if name.lower() != b"cookie":
            continue
        for piece in value.decode("latin-1").split(";"):
            key, sep, item = piece.strip().partition("=")
            if sep:
                found.setdefault(key, item)
    return found


@attrs.define(eq=False)
class ProxyFront:
    """The ASGI app of an ``OAuthProxy`` (made by ``OAuthProxy.wrap``): the OAuth
    endpoints, and everything else through ``bearer`` (the ``AuthMiddleware`` in
    front of ``app``, which serves the Protected Resource Metadata). Lifespan and
    other non-HTTP scopes pass straight through."""

    proxy: OAuthProxy
    bearer: Any
    app: ASGIApp
    _resource: str
    _routes: dict[str, str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        prefix = self.proxy._prefix
        self._routes = {
            "/.well-known/oauth-authorization-server" + prefix: "metadata",
            prefix + "/register": "register",
            prefix + "/authorize": "authorize",
            prefix + "/consent": "consent",
            prefix + "/token": "token",
            prefix + self.proxy.redirect_path.rstrip("/"): "callback",
        }

    @property
    def resource(self) -> str:
        """The canonical resource URI of the protected app."""
        return self._resource

    def bind_resource(self, resource: str) -> None:
        """Nothing to bind: the proxy's resource comes from its ``base_url``."""

    async def aclose(self) -> None:
        """Close the proxy's HTTP client and the bearer layer's."""
        await self.proxy.aclose()
        await self.bearer.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point."""
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        route = self._routes.get(_path(scope))
        if route is None:
            await self.bearer(scope, receive, send)
            return
        method = str(scope.get("method") or "GET").upper()
        try:
            answer = await self._serve(route, method, scope, receive)
        except StoreFull:
            answer = _Answer.json(503, _error("temporarily_unavailable", "try again later"))
        except ClientGone:
            return
        await answer.send(send)

    async def _serve(self, route: str, method: str, scope: Scope, receive: Receive) -> _Answer:
        if method == "OPTIONS" and route in ("metadata", "register", "token"):
            return _Answer(204, b"", list(_PREFLIGHT))
        allowed = {
            "metadata": ("GET", "HEAD"),
            "register": ("POST",),
            "authorize": ("GET", "POST"),
            "consent": ("POST",),
            "token": ("POST",),
            "callback": ("GET",),
        }[route]
        if method not in allowed:
            answer = _Answer(405, b"Method Not Allowed", [(b"content-type", b"text/plain")])
            answer.headers.append((b"allow", ", ".join(allowed).encode()))
            return answer
        proxy = self.proxy
        headers: Sequence[tuple[bytes, bytes]] = scope.get("headers") or ()
        query = bytes(scope.get("query_string") or b"")
        if route == "metadata":
            return _Answer.json(200, proxy.metadata())
        body = await _body(receive, headers) if method == "POST" else b""
        if route == "register":
            try:
                status, registered = await proxy._register(body)
            except _OAuthProblem as problem:
                return _Answer.json(problem.status, _error(problem.error, problem.description))
            return _Answer.json(status, registered)
        params = _params(body if method == "POST" else query)
        if params is None:
            return self._bad_params(route)
        cookies = _cookies(headers)
        if route == "authorize":
            return await proxy._authorize(params)
        if route == "consent":
            return await proxy._consent(params, cookies)
        if route == "callback":
            return await proxy._callback(params, cookies)
        authorization = next(
            (
                bytes(v).decode("latin-1")
                for k, v in headers
                if bytes(k).lower() == b"authorization"
            ),
            None,
        )
        try:
            tokens = await proxy._token(params, authorization)
        except _OAuthProblem as problem:
            extra: tuple[tuple[bytes, bytes], ...] = ()
            if problem.status == 401:
                extra = ((b"www-authenticate", b'Basic realm="token"'),)
            logger.info("refused a token request: %s", problem.description)
            return _Answer.json(problem.status, _error(problem.error, problem.description), extra)
        return _Answer.json(200, tokens, ((b"pragma", b"no-cache"),))

    def _bad_params(self, route: str) -> _Answer:
        description = "a parameter is repeated"
        if route == "token":
            return _Answer.json(400, _error("invalid_request", description))
        return _Answer.page(400, "invalid_request", description)


async def _body(receive: Receive, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    declared = next(
        (bytes(v).decode("latin-1") for k, v in headers if bytes(k).lower() == b"content-length"),
        None,
    )
    try:
        return await read_body(receive, _FORM_LIMIT, declared)
    except HttpError:
        return b""  # too large or malformed: the handlers find the parameters missing


def _error(error: str, description: str) -> dict[str, str]:
    return {"error": error, "error_description": description}
