"""``OAuthProvider``: OAuth for MCP over HTTP, as an ``httpx.Auth``.

Theory of operation. The provider sits in httpx's authentication flow of every
request the MCP HTTP transport makes. It attaches the access token it holds (none
at first) and looks at the answer:

* **401**: the token is missing, expired or revoked, or the server now trusts
  another authorization server. The provider discovers afresh (every time: the
  metadata may have changed): the Protected Resource Metadata from the challenge's
  ``resource_metadata`` URL, else from the well-known URLs (path-inserted, then
  root); then the metadata of the first authorization server it names, from its
  well-known URLs in the specification's order. The metadata's ``issuer`` must be
  exactly the issuer the URL was built from, and the resource metadata's
  ``resource`` must designate this server: otherwise nothing is sent anywhere. A
  server with no resource metadata is treated as a 2025-03-26 server: its origin is
  the authorization server (metadata at the root, else the default ``/authorize``,
  ``/token`` and ``/register`` endpoints), and its issuer is then taken as found
  (some such servers publish an issuer that is not their origin). Then: refresh the
  token if the same issuer issued it and a refresh token exists, else obtain a new
  one (the grant is the subclass's: authorization code, client credentials, ...),
  and retry the request once.
* **403** with ``insufficient_scope``: step-up. The provider asks for the union of
  the scopes it asked for before (and was granted) and the challenged ones, and
  retries once. When the challenge asks for nothing new it gives up at once: the
  authorization server already declined, asking again would loop.
* anything else is the answer.

Scopes for a first authorization: the ones given to the provider, else the
challenge's ``scope``, else the resource metadata's ``scopes_supported``, else none
(the ``scope`` parameter omitted). ``offline_access`` is added when the
authorization server lists it and the grant can use refresh tokens. The resource
indicator (RFC 8707) is the resource metadata's ``resource``, verbatim (the MCP URL
for 2025-03-26 servers).

Concurrency: authorizations are serialised (one lock per provider); a request that
waited finds the token another one obtained and uses it. Cancelling a request
abandons its authorization (nothing half-done is stored). Tokens live in a
``TokenStorage`` per MCP server URL, client registrations per issuer (a client id is
never shown to another authorization server). Nothing secret is logged.

DPoP (RFC 9449): with a ``dpop`` key, token requests carry proofs when the
authorization server supports DPoP, ``use_dpop_nonce`` errors are answered with the
nonce (from the authorization server and from the MCP server alike, without
re-authorizing), and DPoP-bound tokens are presented as ``Authorization: DPoP``
with a fresh proof per request.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import ClassVar, TypeVar
from urllib.parse import quote

import attrs
import httpx
import msgspec
import trio

from fastmcp_client.auth._challenge import Challenge, find_challenge
from fastmcp_client.auth._errors import DiscoveryError, OAuthError, RegistrationError, TokenError
from fastmcp_client.auth._jose import DPoPKey, SigningKey
from fastmcp_client.auth._metadata import (
    AuthorizationServerMetadata,
    TokenErrorResponse,
    TokenResponse,
    authorization_server_metadata_urls,
    origin,
    protected_resource_metadata_urls,
    resource_matches,
)
from fastmcp_client.auth._storage import (
    ClientRegistration,
    InMemoryTokenStorage,
    StoredTokens,
    TokenStorage,
)
from fastmcp_protocol import ProtectedResourceMetadata

__all__ = ["Discovered", "OAuthProvider"]

logger = logging.getLogger("fastmcp.auth")

T = TypeVar("T")

OFFLINE_ACCESS = "offline_access"
_FORM = "application/x-www-form-urlencoded"


@attrs.frozen(kw_only=True)
class Discovered:
    """What discovery found about one MCP server and its authorization server."""

    server_url: str
    resource: str
    """The RFC 8707 resource indicator (verbatim from the resource metadata)."""
    issuer: str
    """The authorization server (its validated ``issuer``, or the 2025-03-26 origin)."""
    metadata: AuthorizationServerMetadata | None
    resource_metadata: ProtectedResourceMetadata | None
    authorization_endpoint: str | None
    token_endpoint: str
    registration_endpoint: str | None

    @property
    def scopes_supported(self) -> list[str] | None:
        """The MCP server's advertised scopes."""
        scopes = self.resource_metadata.scopes_supported if self.resource_metadata else None
        return None if scopes is None else list(scopes)


def _form_encode(value: str) -> str:
    return quote(value, safe="").replace("%20", "+")


def basic_credentials(client_id: str, client_secret: str) -> str:
    """``Authorization: Basic`` for a client (RFC 6749 section 2.3.1: both parts
    form-encoded first)."""
    pair = f"{_form_encode(client_id)}:{_form_encode(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def scope_set(scope: str | Sequence[str] | None) -> frozenset[str]:
    """Scopes as a set, from a space-separated string or a sequence."""
    if scope is None:
        return frozenset()
    if isinstance(scope, str):
        return frozenset(scope.split())
    return frozenset(scope)


def scope_text(scopes: frozenset[str] | None) -> str | None:
    """The ``scope`` parameter: sorted for stable requests, ``None`` to omit it."""
    return " ".join(sorted(scopes)) if scopes else None


@attrs.define(eq=False, kw_only=True)
class OAuthProvider(httpx.Auth):
    """The grant-independent part of OAuth for MCP (see the module docstring).

    Subclasses (``OAuth``, ``ClientCredentials``, ``JwtBearer``, ``EnterpriseManaged``)
    say how a token is obtained. Options common to all:

    * ``server_url``: the MCP endpoint (by default the URL of the first request);
      tokens are stored under it;
    * ``scopes``: always ask for these (instead of the scope selection strategy);
    * ``storage``: where tokens and client registrations live (in memory by default);
    * ``http_client``: for the requests to the authorization server and the metadata
      (one of our own otherwise; ``aclose`` closes it); ``timeout`` for each of them;
    * ``dpop``: a ``DPoPKey`` to bind tokens to (when the authorization server
      supports DPoP);
    * ``clock``: seconds since the epoch, for token expiry.
    """

    server_url: str | None = None
    scopes: Sequence[str] | None = None
    storage: TokenStorage = attrs.field(factory=InMemoryTokenStorage)
    http_client: httpx.AsyncClient | None = None
    timeout: float = 30.0
    dpop: DPoPKey | None = None
    clock: Callable[[], float] = time.time
    _discovered: Discovered | None = attrs.field(init=False, default=None)
    _tokens: StoredTokens | None = attrs.field(init=False, default=None)
    _loaded: bool = attrs.field(init=False, default=False)
    _requested: frozenset[str] = attrs.field(init=False, default=frozenset())
    _lock: trio.Lock = attrs.field(init=False, factory=trio.Lock)
    _own_client: httpx.AsyncClient | None = attrs.field(init=False, default=None)
    _nonces: dict[str, str] = attrs.field(init=False, factory=dict)

    uses_refresh_tokens: ClassVar[bool] = True
    """Whether this grant can use refresh tokens (and so asks for ``offline_access``)."""

    # -- what subclasses provide -----------------------------------------------------

    async def obtain(self, discovered: Discovered, scopes: frozenset[str] | None) -> StoredTokens:
        """A new token for ``discovered`` with ``scopes`` (``None``: omit ``scope``)."""
        raise NotImplementedError

    # -- public ----------------------------------------------------------------------

    @property
    def tokens(self) -> StoredTokens | None:
        """The tokens in use (``None`` before the first authorization)."""
        return self._tokens

    async def authorize(self) -> StoredTokens:
        """Discover and obtain a token now, before any MCP request needs one (for
        interactive logins that should not run inside a request's timeout).
        Requires ``server_url``."""
        if self.server_url is None:
            raise ValueError("authorize() needs the provider's server_url")
        async with self._lock:
            discovered = await self.discover(None)
            return await self._obtain_and_store(discovered, self._initial_scopes(None, discovered))

    async def aclose(self) -> None:
        """Close the HTTP client the provider made for itself (a given one stays open)."""
        client, self._own_client = self._own_client, None
        if client is not None:
            await client.aclose()

    # -- the httpx flow --------------------------------------------------------------

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Attach the token; answer 401 (authorize), 403 ``insufficient_scope`` (step
        up) and DPoP nonce challenges, each at most once per request."""
        if self.server_url is None:
            self.server_url = str(request.url.copy_with(query=None, fragment=None))
        tokens = await self._usable_tokens()
        self._attach(request, tokens)
        response = yield request
        reauthorized = stepped_up = renonced = False
        while True:
            status = response.status_code
            if status not in (401, 403):
                return
            challenge = find_challenge(
                response.headers.get_list("www-authenticate"), "bearer", "dpop"
            )
            if (
                status == 401
                and challenge is not None
                and challenge.error == "use_dpop_nonce"
                and tokens is not None
                and not renonced
            ):
                renonced = True
                if not self._learn_nonce(request.url, response):
                    return
            elif status == 401 and not reauthorized:
                reauthorized = True
                await response.aread()
                tokens = await self._after_unauthorized(challenge, tokens)
            elif (
                status == 403
                and challenge is not None
                and challenge.error == "insufficient_scope"
                and not stepped_up
            ):
                stepped_up = True
                await response.aread()
                stepped = await self._after_insufficient_scope(challenge, tokens)
                if stepped is None:
                    return
                tokens = stepped
            else:
                return
            self._attach(request, tokens)
            response = yield request

    def _attach(self, request: httpx.Request, tokens: StoredTokens | None) -> None:
        if tokens is None:
            request.headers.pop("authorization", None)
            return
        if tokens.token_type.lower() == "dpop" and self.dpop is not None:
            request.headers["authorization"] = f"DPoP {tokens.access_token}"
            nonce = self._nonces.get(origin(str(request.url)))
            request.headers["dpop"] = self.dpop.proof(
                request.method, str(request.url), access_token=tokens.access_token, nonce=nonce
            )
        else:
            request.headers["authorization"] = f"Bearer {tokens.access_token}"

    def _learn_nonce(self, url: httpx.URL, response: httpx.Response) -> bool:
        nonce = response.headers.get("dpop-nonce")
        if not nonce:
            return False
        self._nonces[origin(str(url))] = nonce
        return True

    # -- tokens ----------------------------------------------------------------------

    async def _usable_tokens(self) -> StoredTokens | None:
        """The token to send: stored, refreshed when it expired and can be."""
        if not self._loaded:
            assert self.server_url is not None
            self._tokens = await self.storage.get_tokens(self.server_url)
            self._loaded = True
            if self._tokens is not None and self._tokens.scope:
                self._requested = scope_set(self._tokens.scope)
        tokens = self._tokens
        if tokens is None or not tokens.expired(self.clock()):
            return tokens
        async with self._lock:
            if self._tokens is not tokens:
                return self._tokens  # another task renewed them meanwhile
            discovered = self._discovered
            if (
                discovered is not None
                and tokens.refresh_token
                and tokens.issuer == discovered.issuer
            ):
                refreshed = await self._try_refresh(discovered, tokens)
                if refreshed is not None:
                    return refreshed
        return None  # the server will say 401, and the provider will authorize

    async def _store(self, tokens: StoredTokens | None) -> None:
        self._tokens = tokens
        assert self.server_url is not None
        await self.storage.set_tokens(self.server_url, tokens)

    async def _after_unauthorized(
        self, challenge: Challenge | None, used: StoredTokens | None
    ) -> StoredTokens:
        async with self._lock:
            current = self._tokens
            if (
                current is not None
                and (used is None or current.access_token != used.access_token)
                and not current.expired(self.clock())
            ):
                return current  # another request authorized while this one waited
            discovered = await self.discover(challenge)
            if current is not None and current.issuer != discovered.issuer:
                logger.info("the server now uses %s: its old tokens are dropped", discovered.issuer)
                await self._store(None)
                self._requested = frozenset()
                current = None
            if current is not None and current.refresh_token:
                refreshed = await self._try_refresh(discovered, current)
                if refreshed is not None:
                    return refreshed
            scopes = self._initial_scopes(challenge, discovered)
            if current is not None and self.scopes is None:
                # re-authorizing: keep what was asked for before
                scopes = (scopes or frozenset()) | self._requested or None
            return await self._obtain_and_store(discovered, scopes)

    async def _after_insufficient_scope(
        self, challenge: Challenge, used: StoredTokens | None
    ) -> StoredTokens | None:
        challenged = scope_set(challenge.scope)
        async with self._lock:
            current = self._tokens
            if (
                current is not None
                and used is not None
                and current.access_token != used.access_token
                and challenged <= scope_set(current.scope)
            ):
                return current  # another request stepped up already
            granted = scope_set(current.scope) if current is not None else frozenset()
            before = self._requested | granted
            if not challenged or challenged <= before:
                logger.info(
                    "the server still wants %s, which was asked for already: giving up",
                    challenge.scope,
                )
                return None
            discovered = self._discovered or await self.discover(challenge)
            return await self._obtain_and_store(discovered, before | challenged)

    async def _obtain_and_store(
        self, discovered: Discovered, scopes: frozenset[str] | None
    ) -> StoredTokens:
        tokens = await self.obtain(discovered, scopes)
        self._requested = scopes or frozenset()
        await self._store(tokens)
        return tokens

    def _initial_scopes(
        self, challenge: Challenge | None, discovered: Discovered
    ) -> frozenset[str] | None:
        """The scope selection strategy (see the module docstring)."""
        if self.scopes is not None:
            scopes = scope_set(self.scopes)
        elif challenge is not None and challenge.scope:
            scopes = scope_set(challenge.scope)
        elif discovered.scopes_supported:
            scopes = scope_set(discovered.scopes_supported)
        else:
            return None
        metadata = discovered.metadata
        if (
            self.uses_refresh_tokens
            and scopes
            and metadata is not None
            and OFFLINE_ACCESS in (metadata.scopes_supported or ())
        ):
            scopes |= {OFFLINE_ACCESS}
        return scopes or None

    async def _try_refresh(
        self, discovered: Discovered, tokens: StoredTokens
    ) -> StoredTokens | None:
        assert tokens.refresh_token is not None
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "resource": discovered.resource,
        }
        try:
            client = await self.client_for(discovered)
            fresh = await self.token_request(discovered, form, client)
        except OAuthError as exc:
            logger.info("refreshing the token failed (%s): authorizing again", exc)
            return None
        if fresh.refresh_token is None:  # the server kept the refresh token
            fresh = attrs.evolve(fresh, refresh_token=tokens.refresh_token)
        if fresh.scope is None:
            fresh = attrs.evolve(fresh, scope=tokens.scope)
        await self._store(fresh)
        return fresh

    # -- discovery -------------------------------------------------------------------

    def http(self) -> httpx.AsyncClient:
        """The client for metadata and authorization server requests."""
        if self.http_client is not None:
            return self.http_client
        if self._own_client is None:
            self._own_client = httpx.AsyncClient(timeout=self.timeout)
        return self._own_client

    async def _get_json(self, url: str, kind: type[T]) -> T | None:
        """The document at ``url``, or ``None`` when there is none (a 4xx)."""
        try:
            response = await self.http().get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"GET {url} failed: {exc!r}") from None
        if 400 <= response.status_code < 500:
            return None
        if response.status_code != 200:
            raise DiscoveryError(f"GET {url} answered HTTP {response.status_code}")
        try:
            return msgspec.json.decode(response.content, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise DiscoveryError(f"{url} is not valid metadata: {exc}") from None

    async def discover(self, challenge: Challenge | None) -> Discovered:
        """Find the resource metadata and the authorization server (module docstring)."""
        server_url = self.server_url
        assert server_url is not None
        resource_metadata: ProtectedResourceMetadata | None = None
        hinted = challenge.resource_metadata if challenge is not None else None
        if hinted is not None:
            resource_metadata = await self._get_json(hinted, ProtectedResourceMetadata)
            if resource_metadata is None:
                raise DiscoveryError(f"the resource metadata at {hinted} is missing")
        else:
            for url in protected_resource_metadata_urls(server_url):
                resource_metadata = await self._get_json(url, ProtectedResourceMetadata)
                if resource_metadata is not None:
                    break
        if resource_metadata is None:
            discovered = await self._discover_legacy(server_url)
        else:
            discovered = await self._discover_with(server_url, resource_metadata)
        self._discovered = discovered
        return discovered

    async def _discover_with(
        self, server_url: str, resource_metadata: ProtectedResourceMetadata
    ) -> Discovered:
        resource = resource_metadata.resource
        if not resource_matches(resource, server_url):
            raise DiscoveryError(
                f"the resource metadata is for {resource!r}, not for {server_url!r}: refusing it"
            )
        if not resource_metadata.authorization_servers:
            raise DiscoveryError("the resource metadata names no authorization server")
        issuer = resource_metadata.authorization_servers[0]
        metadata = await self._authorization_server(issuer, strict=True)
        if metadata is None:
            raise DiscoveryError(f"no metadata found for the authorization server {issuer!r}")
        if metadata.token_endpoint is None:
            raise DiscoveryError(f"the authorization server {issuer!r} has no token endpoint")
        return Discovered(
            server_url=server_url,
            resource=resource,
            issuer=metadata.issuer,
            metadata=metadata,
            resource_metadata=resource_metadata,
            authorization_endpoint=metadata.authorization_endpoint,
            token_endpoint=metadata.token_endpoint,
            registration_endpoint=metadata.registration_endpoint,
        )

    async def _discover_legacy(self, server_url: str) -> Discovered:
        base = origin(server_url)
        metadata = await self._authorization_server(base, strict=False)
        if metadata is not None:
            return Discovered(
                server_url=server_url,
                resource=server_url,
                issuer=metadata.issuer,
                metadata=metadata,
                resource_metadata=None,
                authorization_endpoint=metadata.authorization_endpoint or f"{base}/authorize",
                token_endpoint=metadata.token_endpoint or f"{base}/token",
                registration_endpoint=metadata.registration_endpoint,
            )
        return Discovered(
            server_url=server_url,
            resource=server_url,
            issuer=base,
            metadata=None,
            resource_metadata=None,
            authorization_endpoint=f"{base}/authorize",
            token_endpoint=f"{base}/token",
            registration_endpoint=f"{base}/register",
        )

    async def _authorization_server(
        self, issuer: str, *, strict: bool
    ) -> AuthorizationServerMetadata | None:
        """The first metadata document found for ``issuer``; with ``strict`` its
        ``issuer`` must be exactly ``issuer`` (else ``DiscoveryError``: none of its
        endpoints is used)."""
        for url in authorization_server_metadata_urls(issuer):
            metadata = await self._get_json(url, AuthorizationServerMetadata)
            if metadata is None:
                continue
            if metadata.issuer != issuer:
                if strict:
                    raise DiscoveryError(
                        f"the metadata at {url} names the issuer {metadata.issuer!r}, "
                        f"not {issuer!r}: refusing it"
                    )
                logger.info("the 2025-03-26 server %s names the issuer %r", issuer, metadata.issuer)
            return metadata
        return None

    # -- talking to the token endpoint -----------------------------------------------

    async def client_for(self, discovered: Discovered) -> ClientRegistration:
        """The client to authenticate as at ``discovered.issuer`` (subclasses decide
        how one is had; the base has none: public flows override)."""
        raise RegistrationError("this provider has no client for the authorization server")

    def auth_method(self, discovered: Discovered, client: ClientRegistration) -> str:
        """How to authenticate at the token endpoint: the client's own method, else
        the best the authorization server lists for what the client has."""
        if client.token_endpoint_auth_method:
            return client.token_endpoint_auth_method
        if client.client_secret is None:
            return "none"
        metadata = discovered.metadata
        supported = (
            metadata.token_endpoint_auth_methods_supported
            if metadata is not None and metadata.token_endpoint_auth_methods_supported
            else ["client_secret_basic"]  # RFC 8414's default
        )
        for method in ("client_secret_basic", "client_secret_post"):
            if method in supported:
                return method
        return "none"

    def signing_key(self) -> SigningKey | None:
        """The key for ``private_key_jwt`` (none unless a subclass has one)."""
        return None

    async def token_request(
        self,
        discovered: Discovered,
        form: dict[str, str],
        client: ClientRegistration | None,
        *,
        endpoint: str | None = None,
    ) -> StoredTokens:
        """POST ``form`` to the token endpoint (or ``endpoint``), authenticated as
        ``client``; a ``TokenError`` unless it answers with a token."""
        url = endpoint or discovered.token_endpoint
        headers = {"content-type": _FORM, "accept": "application/json"}
        form = dict(form)
        if client is not None:
            self._authenticate(discovered, client, form, headers)
        use_dpop = self.dpop is not None and (
            discovered.metadata is None or discovered.metadata.dpop_signing_alg_values_supported
        )
        for attempt in range(2):
            if use_dpop:
                assert self.dpop is not None
                headers["dpop"] = self.dpop.proof("POST", url, nonce=self._nonces.get(origin(url)))
            try:
                response = await self.http().post(url, data=form, headers=headers)
            except httpx.HTTPError as exc:
                raise TokenError(f"the token request to {url} failed: {exc!r}") from None
            if response.status_code == 200:
                return self._tokens_from(response, discovered, form)
            problem = _token_error(response)
            if (
                use_dpop
                and attempt == 0
                and problem.error == "use_dpop_nonce"
                and self._learn_nonce(response.url, response)
            ):
                continue
            detail = f"{problem.error}: {problem.error_description}" if problem.error else ""
            raise TokenError(
                f"the token endpoint answered HTTP {response.status_code} {detail}".rstrip(),
                error=problem.error,
                description=problem.error_description,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _authenticate(
        self,
        discovered: Discovered,
        client: ClientRegistration,
        form: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        method = self.auth_method(discovered, client)
        if method == "client_secret_basic" and client.client_secret is not None:
            headers["authorization"] = basic_credentials(client.client_id, client.client_secret)
        elif method == "client_secret_post" and client.client_secret is not None:
            form["client_id"] = client.client_id
            form["client_secret"] = client.client_secret
        elif method == "private_key_jwt":
            key = self.signing_key()
            if key is None:
                raise RegistrationError("private_key_jwt needs a signing key")
            form["client_id"] = client.client_id
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = key.assertion(client.client_id, discovered.issuer)
        else:
            form["client_id"] = client.client_id

    def _tokens_from(
        self, response: httpx.Response, discovered: Discovered, form: Mapping[str, str]
    ) -> StoredTokens:
        try:
            answer = msgspec.json.decode(response.content, type=TokenResponse)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise TokenError(f"the token endpoint answered no token: {exc}") from None
        expires_at = None
        if answer.expires_in is not None:
            expires_at = self.clock() + float(answer.expires_in)
        return StoredTokens(
            access_token=answer.access_token,
            token_type=answer.token_type or "Bearer",
            expires_at=expires_at,
            refresh_token=answer.refresh_token,
            scope=answer.scope if answer.scope is not None else form.get("scope"),
            issuer=discovered.issuer,
            resource=discovered.resource,
        )


def _token_error(response: httpx.Response) -> TokenErrorResponse:
    try:
        return msgspec.json.decode(response.content, type=TokenErrorResponse)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return TokenErrorResponse()
