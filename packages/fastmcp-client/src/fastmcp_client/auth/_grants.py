"""How a token is obtained: the grants of the OAuth providers.

* ``OAuth``: the authorization code grant with PKCE (S256), for a user. The client
  id is the pre-registered one, else the Client ID Metadata Document URL when the
  authorization server supports those, else one registered earlier with that same
  authorization server, else a fresh dynamic registration (RFC 7591). The
  authorization response is checked before its code goes anywhere: ``iss`` against
  the issuer recorded before redirecting (RFC 9207, exact string comparison; an
  ``iss`` the server did not advertise is still compared, and a missing one is
  refused when it was advertised), then ``state``, then ``error``.
* ``ClientCredentials``: the client credentials grant, for a client acting on its
  own behalf (the MCP OAuth client credentials extension), authenticated with a
  secret (``client_secret_basic``/``client_secret_post``) or a private key
  (``private_key_jwt``, RFC 7523).
* ``JwtBearer``: an assertion from elsewhere (a workload identity, RFC 7523 section
  2.1) exchanged for a token; one attempt, no fallback to another grant.
* ``EnterpriseManaged``: the enterprise-managed authorization extension: the user's
  ID token is exchanged at the enterprise identity provider for an identity
  assertion grant (ID-JAG, RFC 8693 token exchange), which the authorization server
  exchanges for an access token (RFC 7523 JWT bearer grant).
"""

from __future__ import annotations

import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import attrs
import httpx
import msgspec

from fastmcp_client.auth._errors import AuthorizationError, DiscoveryError, RegistrationError
from fastmcp_client.auth._jose import SigningKey
from fastmcp_client.auth._metadata import ClientRegistrationResponse, TokenErrorResponse
from fastmcp_client.auth._pkce import Pkce
from fastmcp_client.auth._provider import Discovered, OAuthProvider, scope_text
from fastmcp_client.auth._redirect import AuthorizationResponse, BrowserRedirect, RedirectHandler
from fastmcp_client.auth._storage import ClientRegistration, StoredTokens

__all__ = ["ClientCredentials", "EnterpriseManaged", "JwtBearer", "OAuth"]

logger = logging.getLogger("fastmcp.auth")

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"

Assertion = str | Callable[[], str | Awaitable[str]]
"""A JWT, or a (sync or async) function making a fresh one for each token request."""


async def _assertion(source: Assertion) -> str:
    if isinstance(source, str):
        return source
    value = source()
    if inspect.isawaitable(value):
        value = await value
    assert isinstance(value, str)
    return value


def _with_query(endpoint: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(endpoint)
    query = urlencode(params)
    if parts.query:
        query = f"{parts.query}&{query}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@attrs.define(eq=False, kw_only=True)
class _StaticClient:
    """A pre-registered client, bound to the authorization server it was issued by
    (given as ``issuer``, or the first one it is used with)."""

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    method: str | None = None
    issuer: str | None = None

    def for_issuer(self, issuer: str) -> ClientRegistration:
        if self.issuer is None:
            self.issuer = issuer
        elif self.issuer != issuer:
            raise RegistrationError(
                f"the pre-registered client is for {self.issuer!r}, but the server now uses "
                f"{issuer!r}: its credentials are not sent there"
            )
        return ClientRegistration(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.method,
        )


@attrs.define(eq=False, kw_only=True)
class OAuth(OAuthProvider):
    """OAuth for MCP with the authorization code grant and PKCE: a user authorizes.

    ``redirect`` shows the user the authorization URL and brings the redirect back
    (``BrowserRedirect`` by default; ``HeadlessRedirect`` for tests and CI). The
    client is, in order of preference: pre-registered (``client_id``,
    ``client_secret``, ``token_endpoint_auth_method``, bound to ``client_issuer`` or
    to the first authorization server it is used with), a Client ID Metadata
    Document at ``client_metadata_url`` (an https URL you host, naming the redirect
    URI), or dynamically registered as ``client_name`` (``client_uri``,
    ``application_type`` and any ``registration_metadata`` members added). See
    ``OAuthProvider`` for the options every provider has.

    ::

        auth = OAuth("https://mcp.example.com/mcp", client_name="My agent")
        async with streamable_http_client("https://mcp.example.com/mcp", auth=auth) as t:
            ...
    """

    redirect: RedirectHandler = attrs.field(factory=BrowserRedirect)
    client_name: str = "fastmcp"
    client_uri: str | None = None
    application_type: Literal["native", "web"] = "native"
    client_metadata_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
    client_issuer: str | None = None
    token_endpoint_auth_method: str | None = None
    registration_metadata: Mapping[str, Any] = attrs.field(factory=dict)
    _static: _StaticClient | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        if self.client_id is not None:
            self._static = _StaticClient(
                client_id=self.client_id,
                client_secret=self.client_secret,
                method=self.token_endpoint_auth_method,
                issuer=self.client_issuer,
            )
        if self.client_metadata_url is not None:
            parts = urlsplit(self.client_metadata_url)
            if parts.scheme != "https" or parts.path in ("", "/"):
                raise ValueError("a client metadata document URL is an https URL with a path")

    async def aclose(self) -> None:
        """Close what the provider opened: its HTTP client, and the redirect handler's
        loopback listener (``BrowserRedirect``)."""
        await super().aclose()
        close = getattr(self.redirect, "aclose", None)
        if close is not None:
            await close()

    async def client_for(self, discovered: Discovered) -> ClientRegistration:
        """The client id to use at ``discovered.issuer``: pre-registered, a Client ID
        Metadata Document, one registered before (``storage``), or a new registration."""
        if self._static is not None:
            return self._static.for_issuer(discovered.issuer)
        metadata = discovered.metadata
        if (
            self.client_metadata_url is not None
            and metadata is not None
            and metadata.client_id_metadata_document_supported
        ):
            return ClientRegistration(
                client_id=self.client_metadata_url, token_endpoint_auth_method="none"
            )
        stored = await self.storage.get_client(discovered.issuer)
        if stored is not None and (stored.expires_at is None or stored.expires_at > self.clock()):
            return stored
        if discovered.registration_endpoint is None:
            raise RegistrationError(
                f"the authorization server {discovered.issuer!r} offers no way to get a client "
                "id (no registration endpoint, no client metadata documents): give client_id="
            )
        client = await self._register(discovered)
        await self.storage.set_client(discovered.issuer, client)
        return client

    async def _register(self, discovered: Discovered) -> ClientRegistration:
        assert discovered.registration_endpoint is not None
        metadata = discovered.metadata
        supported = (metadata.token_endpoint_auth_methods_supported if metadata else None) or []
        method = "none"
        if supported and "none" not in supported:
            method = next(
                (m for m in ("client_secret_basic", "client_secret_post") if m in supported),
                supported[0],
            )
        body: dict[str, Any] = {
            "client_name": self.client_name,
            "redirect_uris": [self.redirect.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
            "application_type": self.application_type,
        }
        if self.client_uri is not None:
            body["client_uri"] = self.client_uri
        body.update(self.registration_metadata)
        try:
            response = await self.http().post(
                discovered.registration_endpoint,
                json=body,
                headers={"accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise RegistrationError(f"client registration failed: {exc!r}") from None
        if response.status_code not in (200, 201):
            problem = _problem(response)
            raise RegistrationError(
                f"client registration was refused (HTTP {response.status_code}"
                f"{': ' + problem if problem else ''})"
            )
        try:
            answer = msgspec.json.decode(response.content, type=ClientRegistrationResponse)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RegistrationError(f"client registration answered no client: {exc}") from None
        expires = answer.client_secret_expires_at
        return ClientRegistration(
            client_id=answer.client_id,
            client_secret=answer.client_secret,
            token_endpoint_auth_method=answer.token_endpoint_auth_method
            or (method if answer.client_secret is None or method != "none" else None),
            expires_at=float(expires) if expires else None,
        )

    async def obtain(self, discovered: Discovered, scopes: frozenset[str] | None) -> StoredTokens:
        """Authorize with the user (PKCE, ``state``, ``resource``), check the
        response, exchange the code."""
        endpoint = discovered.authorization_endpoint
        metadata = discovered.metadata
        if endpoint is None:
            raise DiscoveryError(f"{discovered.issuer!r} has no authorization endpoint")
        if metadata is not None and "S256" not in (metadata.code_challenge_methods_supported or ()):
            raise DiscoveryError(
                f"{discovered.issuer!r} does not advertise PKCE with S256: refusing to authorize"
            )
        client = await self.client_for(discovered)
        pkce = Pkce.generate()
        state = secrets.token_urlsafe(24)
        redirect_uri = self.redirect.redirect_uri
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": pkce.method,
            "resource": discovered.resource,
        }
        scope = scope_text(scopes)
        if scope is not None:
            params["scope"] = scope
        # recorded before the user goes anywhere: what the response must name (RFC 9207)
        expected_issuer = metadata.issuer if metadata is not None else discovered.issuer
        iss_promised = (
            metadata is not None and metadata.authorization_response_iss_parameter_supported
        )
        response = await self.redirect.authorize(_with_query(endpoint, params))
        code = _check_response(response, state, expected_issuer, iss_promised)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier,
            "resource": discovered.resource,
        }
        if scope is not None:
            form["scope"] = scope
        return await self.token_request(discovered, form, client)


def _check_response(
    response: AuthorizationResponse, state: str, issuer: str, iss_promised: bool
) -> str:
    """The code of a valid authorization response; ``AuthorizationError`` otherwise.
    ``iss`` is checked first: a response from another issuer is not even read."""
    if response.iss is not None:
        if response.iss != issuer:
            raise AuthorizationError(
                f"the authorization response names the issuer {response.iss!r}, not {issuer!r}"
            )
    elif iss_promised:
        raise AuthorizationError("the authorization server promised an iss parameter and sent none")
    if response.state != state:
        raise AuthorizationError("the authorization response does not carry this request's state")
    if response.error is not None:
        detail = f": {response.error_description}" if response.error_description else ""
        raise AuthorizationError(f"authorization was refused ({response.error}{detail})")
    if not response.code:
        raise AuthorizationError("the authorization response carries no code")
    return response.code


def _problem(response: httpx.Response) -> str:
    try:
        problem = msgspec.json.decode(response.content, type=TokenErrorResponse)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ""
    if problem.error is None:
        return ""
    return f"{problem.error} {problem.error_description or ''}".strip()


@attrs.define(eq=False, kw_only=True)
class ClientCredentials(OAuthProvider):
    """The client credentials grant: a client acting on its own behalf, no user.

    Authenticates with ``client_secret`` (``client_secret_basic`` or
    ``client_secret_post``, as the authorization server prefers) or with
    ``private_key`` (``private_key_jwt``: a PEM, a JWK or a joserfc key, signing with
    ``signing_algorithm``; needs joserfc). ``client_issuer`` binds the credentials to
    one authorization server (else: to the first one used).
    """

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    private_key: Any = attrs.field(default=None, repr=False)
    signing_algorithm: str = "ES256"
    key_id: str | None = None
    token_endpoint_auth_method: str | None = None
    client_issuer: str | None = None
    _static: _StaticClient = attrs.field(init=False)
    _key: SigningKey | None = attrs.field(init=False, default=None)

    uses_refresh_tokens: ClassVar[bool] = False

    def __attrs_post_init__(self) -> None:
        if (self.client_secret is None) == (self.private_key is None):
            raise ValueError(
                "ClientCredentials needs exactly one of client_secret= and private_key="
            )
        method = self.token_endpoint_auth_method
        if self.private_key is not None:
            self._key = SigningKey(self.private_key, self.signing_algorithm, self.key_id)
            method = method or "private_key_jwt"
        self._static = _StaticClient(
            client_id=self.client_id,
            client_secret=self.client_secret,
            method=method,
            issuer=self.client_issuer,
        )

    def signing_key(self) -> SigningKey | None:
        """The ``private_key_jwt`` key, when a private key was given."""
        return self._key

    async def client_for(self, discovered: Discovered) -> ClientRegistration:
        """The configured client (bound to its authorization server)."""
        return self._static.for_issuer(discovered.issuer)

    async def obtain(self, discovered: Discovered, scopes: frozenset[str] | None) -> StoredTokens:
        """One client credentials token request."""
        form = {"grant_type": "client_credentials", "resource": discovered.resource}
        scope = scope_text(scopes)
        if scope is not None:
            form["scope"] = scope
        client = await self.client_for(discovered)
        return await self.token_request(discovered, form, client)


@attrs.define(eq=False, kw_only=True)
class JwtBearer(OAuthProvider):
    """The JWT bearer grant (RFC 7523 section 2.1): trade an ``assertion`` (a workload
    identity token, say) for an access token. ``client_id`` is sent when given,
    authenticated with ``client_secret`` when given. A refused assertion is not
    retried with another grant."""

    assertion: Assertion = attrs.field(repr=False)
    client_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)

    uses_refresh_tokens: ClassVar[bool] = False

    async def client_for(self, discovered: Discovered) -> ClientRegistration:
        """The configured client id (and secret)."""
        if self.client_id is None:
            raise RegistrationError("no client id")
        return ClientRegistration(client_id=self.client_id, client_secret=self.client_secret)

    async def obtain(self, discovered: Discovered, scopes: frozenset[str] | None) -> StoredTokens:
        """One JWT bearer token request with a fresh assertion."""
        form = {
            "grant_type": JWT_BEARER,
            "assertion": await _assertion(self.assertion),
            "resource": discovered.resource,
        }
        scope = scope_text(scopes)
        if scope is not None:
            form["scope"] = scope
        client = await self.client_for(discovered) if self.client_id is not None else None
        return await self.token_request(discovered, form, client)


@attrs.define(eq=False, kw_only=True)
class EnterpriseManaged(OAuthProvider):
    """Enterprise-managed authorization: the user's ``id_token`` (from the enterprise
    identity provider, where the user signed in) is exchanged at
    ``idp_token_endpoint`` for an ID-JAG naming the MCP server's authorization
    server and resource, and the ID-JAG at the authorization server for an access
    token, authenticated as ``client_id``/``client_secret``. ``id_token`` may be a
    function, called for each exchange (ID tokens expire)."""

    idp_token_endpoint: str
    id_token: Assertion = attrs.field(repr=False)
    idp_client_id: str
    idp_client_secret: str | None = attrs.field(default=None, repr=False)
    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    client_issuer: str | None = None
    _static: _StaticClient = attrs.field(init=False)

    uses_refresh_tokens: ClassVar[bool] = False

    def __attrs_post_init__(self) -> None:
        self._static = _StaticClient(
            client_id=self.client_id, client_secret=self.client_secret, issuer=self.client_issuer
        )

    async def client_for(self, discovered: Discovered) -> ClientRegistration:
        """The configured client at the authorization server (bound to it)."""
        return self._static.for_issuer(discovered.issuer)

    async def obtain(self, discovered: Discovered, scopes: frozenset[str] | None) -> StoredTokens:
        """Exchange the ID token for an ID-JAG at the identity provider, then the ID-JAG
        for an access token at the authorization server."""
        scope = scope_text(scopes)
        exchange = {
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": ID_JAG,
            "audience": discovered.issuer,
            "resource": discovered.resource,
            "subject_token": await _assertion(self.id_token),
            "subject_token_type": ID_TOKEN,
        }
        if scope is not None:
            exchange["scope"] = scope
        idp_client = ClientRegistration(
            client_id=self.idp_client_id, client_secret=self.idp_client_secret
        )
        grant = await self.token_request(
            discovered, exchange, idp_client, endpoint=self.idp_token_endpoint
        )
        form = {"grant_type": JWT_BEARER, "assertion": grant.access_token}
        if scope is not None:
            form["scope"] = scope
        client = await self.client_for(discovered)
        return await self.token_request(discovered, form, client)
