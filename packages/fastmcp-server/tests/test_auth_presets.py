"""The OAuth proxy presets: GitHub, Google and any OpenID Connect issuer.

Each provider is simulated by a small HTTP service on 127.0.0.1 (GitHub's token
endpoint and user API, Google's discovery document, token and userinfo endpoints),
and the MCP server is served for real behind the preset. A sign-in goes as a browser
would take it, except that the provider's login is skipped: the test calls the
proxy's callback with the code the provider would have sent (the redirect URL the
proxy built names everything the provider would get). The principal a tool sees
carries the identity the provider described.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import httpx
import pytest
import trio

from fastmcp_core import McpContext
from fastmcp_server import Server
from fastmcp_server.auth import (
    GitHubProvider,
    GoogleProvider,
    OAuthProxy,
    OIDCProxy,
    ProxyAccessToken,
    UpstreamIdentity,
)
from fastmcp_transport.http_server import H1Server

REDIRECT_URI = "http://127.0.0.1:9/callback"
MODERN = "2026-07-28"

Handler = Callable[[dict[str, str], dict[str, str]], tuple[int, Any]]


@attrs.define
class FakeProvider:
    """An identity provider's HTTP side: ``routes`` map a path to a handler of the
    request's parameters (query and form) and headers; ``seen`` records requests."""

    routes: dict[str, Handler] = attrs.field(factory=dict)
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = attrs.field(factory=list)
    base: str = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        params = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        params.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append((scope["path"], params, headers))
        handler = self.routes.get(scope["path"])
        status, answer = (
            (404, {"error": "not_found"}) if handler is None else handler(params, headers)
        )
        payload = json.dumps(answer).encode()
        head = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": payload})

    def requests_to(self, path: str) -> list[tuple[dict[str, str], dict[str, str]]]:
        return [(params, headers) for p, params, headers in self.seen if p == path]


@asynccontextmanager
async def serving_provider(provider: FakeProvider) -> AsyncIterator[FakeProvider]:
    async with trio.open_nursery() as nursery:
        server = H1Server(provider, host="127.0.0.1", port=0, lifespan="off")
        address = await nursery.start(server.serve)
        provider.base = f"http://127.0.0.1:{address.port}"
        yield provider
        nursery.cancel_scope.cancel()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    # the proxy reads an ID token from the token endpoint without its signature (TLS)
    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


@attrs.define
class SignIn:
    """What one sign-in through a preset gave: the provider's authorize parameters,
    the principal a tool saw, and the token answer."""

    authorize: dict[str, str]
    principal: ProxyAccessToken
    tokens: dict[str, Any]


@asynccontextmanager
async def served(make: Callable[[str], OAuthProxy]) -> AsyncIterator[tuple[str, list[Any]]]:
    """A server with a ``whoami`` tool behind ``make(base_url)``; yields its base URL
    and the principals the tool saw."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    seen: list[Any] = []
    server = Server("presets", "1.0")

    @server.tool
    async def whoami(ctx: McpContext) -> str:
        seen.append(ctx.principal)
        return "ok"

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(server.serve_http, port=port, auth=make(base)))
        yield base, seen
        nursery.cancel_scope.cancel()


async def sign_in(
    base: str, seen: list[Any], code_for: Callable[[dict[str, str]], str] = lambda _: "code-1"
) -> SignIn:
    """Register, authorize, come back from the provider with a code, redeem, call."""
    async with httpx.AsyncClient() as http:
        registered = await http.post(
            f"{base}/register",
            json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"},
        )
        client_id = registered.json()["client_id"]
        verifier, challenge = pkce()
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        to_provider = await http.get(f"{base}/authorize?{urlencode(params)}")
        assert to_provider.status_code == 302, to_provider.text
        upstream = query(to_provider.headers["location"])
        callback = {"state": upstream["state"], "code": code_for(upstream)}
        back = await http.get(f"{base}/auth/callback?{urlencode(callback)}")
        assert back.status_code == 302, back.text
        answer = query(back.headers["location"])
        assert "code" in answer, answer
        tokens = await http.post(
            f"{base}/token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": answer["code"],
                "code_verifier": verifier,
                "redirect_uri": REDIRECT_URI,
            },
        )
        assert tokens.status_code == 200, tokens.text
        access = tokens.json()["access_token"]
        called = await http.post(
            f"{base}/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "whoami",
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": MODERN,
                        "io.modelcontextprotocol/clientCapabilities": {},
                    },
                },
            },
            headers={
                "authorization": f"Bearer {access}",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": MODERN,
                "mcp-method": "tools/call",
                "mcp-name": "whoami",
            },
        )
        assert called.status_code == 200, called.text
    principal = seen[-1]
    assert isinstance(principal, ProxyAccessToken)
    return SignIn(upstream, principal, tokens.json())


# -- GitHub ------------------------------------------------------------------------------


def github_routes(provider: FakeProvider, *, public_email: str | None) -> None:
    provider.routes["/login/oauth/access_token"] = lambda params, headers: (
        200,
        {"access_token": "gho_upstream", "token_type": "bearer", "scope": "read:user,user:email"}
        if params.get("code") == "code-1"
        else {"error": "bad_verification_code"},  # GitHub answers errors with a 200
    )
    provider.routes["/user"] = lambda params, headers: (
        200,
        {"id": 583231, "login": "octocat", "name": "The Octocat", "email": public_email},
    )
    provider.routes["/user/emails"] = lambda params, headers: (
        200,
        [
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "octocat@example.com", "primary": True, "verified": True},
        ],
    )


def github(provider: FakeProvider, base: str, **options: Any) -> GitHubProvider:
    return GitHubProvider(
        client_id="Ov23liGitHubApp",
        client_secret="github-secret",
        base_url=base,
        api_base_url=provider.base,
        authorization_endpoint=f"{provider.base}/login/oauth/authorize",
        token_endpoint=f"{provider.base}/login/oauth/access_token",
        require_authorization_consent=False,
        **options,
    )


def test_github_defaults_name_github() -> None:
    auth = GitHubProvider(
        client_id="id", client_secret="secret", base_url="https://mcp.example.com/"
    )
    assert auth.upstream_authorization_endpoint == "https://github.com/login/oauth/authorize"
    assert auth.upstream_token_endpoint == "https://github.com/login/oauth/access_token"
    assert auth.api_base_url == "https://api.github.com"
    assert tuple(auth.upstream_scopes) == ("read:user", "user:email")
    assert auth.callback_url == "https://mcp.example.com/auth/callback"
    assert auth.issuer == "https://mcp.example.com"
    assert auth.metadata()["authorization_endpoint"] == "https://mcp.example.com/authorize"


async def test_github_sign_in_maps_the_github_user() -> None:
    async with serving_provider(FakeProvider()) as provider:
        github_routes(provider, public_email=None)
        async with served(partial(github, provider)) as (base, seen):
            signed = await sign_in(base, seen)
    # the authorization request GitHub got: the proxy's app, callback, scopes, PKCE
    assert signed.authorize["client_id"] == "Ov23liGitHubApp"
    assert signed.authorize["redirect_uri"] == f"{base}/auth/callback"
    assert signed.authorize["scope"] == "read:user user:email"
    assert signed.authorize["code_challenge_method"] == "S256"
    assert "nonce" not in signed.authorize  # no OpenID at GitHub
    # the code exchange: the secret in the form (GitHub's way), JSON asked for
    ((exchange, headers),) = provider.requests_to("/login/oauth/access_token")
    assert exchange["client_id"] == "Ov23liGitHubApp"
    assert exchange["client_secret"] == "github-secret"
    assert exchange["redirect_uri"] == f"{base}/auth/callback"
    assert "code_verifier" in exchange
    assert headers["accept"] == "application/json"
    ((_, user_headers),) = provider.requests_to("/user")
    assert user_headers["authorization"] == "Bearer gho_upstream"
    assert user_headers["accept"] == "application/vnd.github+json"
    # the identity: the numeric id as subject, the primary verified email
    identity = signed.principal.identity
    assert identity == UpstreamIdentity(
        subject="583231",
        provider="github",
        login="octocat",
        email="octocat@example.com",
        email_verified=True,
        name="The Octocat",
        claims=identity.claims,
    )
    assert signed.principal.subject == "583231"
    assert signed.principal.claims["preferred_username"] == "octocat"
    assert "gho_upstream" not in json.dumps(signed.tokens)  # never handed to the client


async def test_github_public_email_and_check_identity() -> None:
    allowed: list[str] = []

    def only_octocat(identity: UpstreamIdentity) -> bool:
        allowed.append(identity.login or "")
        return identity.login == "octocat"

    async with serving_provider(FakeProvider()) as provider:
        github_routes(provider, public_email="public@example.com")
        async with served(partial(github, provider, check_identity=only_octocat)) as (base, seen):
            signed = await sign_in(base, seen)
    assert signed.principal.identity.email == "public@example.com"
    assert signed.principal.identity.email_verified is None  # GitHub does not say
    assert provider.requests_to("/user/emails") == []
    assert allowed == ["octocat"]


async def test_github_refusing_the_code_is_a_server_error() -> None:
    async with serving_provider(FakeProvider()) as provider:
        github_routes(provider, public_email=None)
        async with served(partial(github, provider)) as (base, seen):
            with pytest.raises(AssertionError, match="server_error"):
                await sign_in(base, seen, lambda _: "a-code-github-does-not-know")
    assert provider.requests_to("/user") == []


# -- OpenID Connect: Google and any issuer -----------------------------------------------


def oidc_routes(provider: FakeProvider, *, issuer: str | None = None) -> None:
    base = provider.base
    provider.routes["/.well-known/openid-configuration"] = lambda params, headers: (
        200,
        {
            "issuer": issuer or base,
            "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/v1/userinfo",
        },
    )
    provider.routes["/v1/userinfo"] = lambda params, headers: (
        200,
        {
            "sub": "10769150350006150715113082367",
            "email": "jane@example.com",
            "email_verified": True,
            "name": "Jane Doe",
            "picture": "https://example.com/jane.png",
        },
    )


def token_route(provider: FakeProvider, nonces: list[str], **claims: Any) -> None:
    def answer(params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        id_token = unsigned_jwt(
            {
                "iss": provider.base,
                "aud": "123-abc.apps.googleusercontent.com",
                "sub": "10769150350006150715113082367",
                "exp": 4102444800,
                "nonce": nonces[0],
                **claims,
            }
        )
        return 200, {"access_token": "ya29.upstream", "expires_in": 3599, "id_token": id_token}

    provider.routes["/token"] = answer


def google(provider: FakeProvider, base: str, **options: Any) -> GoogleProvider:
    return GoogleProvider(
        client_id="123-abc.apps.googleusercontent.com",
        client_secret="google-secret",
        base_url=base,
        config_url=f"{provider.base}/.well-known/openid-configuration",
        require_authorization_consent=False,
        **options,
    )


def test_google_defaults_name_google() -> None:
    auth = GoogleProvider(client_id="id", client_secret="s", base_url="https://mcp.example.com")
    assert auth.config_url == "https://accounts.google.com/.well-known/openid-configuration"
    assert tuple(auth.upstream_scopes) == ("openid", "email", "profile")
    assert auth.upstream_name == "Google"
    assert auth.token_endpoint_auth_method == "client_secret_basic"


async def test_google_sign_in_maps_the_openid_claims() -> None:
    nonce: list[str] = []

    def code_for(upstream: dict[str, str]) -> str:
        nonce.append(upstream["nonce"])
        return "google-code"

    async with serving_provider(FakeProvider()) as provider:
        oidc_routes(provider)
        token_route(provider, nonce)
        async with served(partial(google, provider)) as (base, seen):
            signed = await sign_in(base, seen, code_for)
    assert signed.authorize["client_id"] == "123-abc.apps.googleusercontent.com"
    assert signed.authorize["scope"] == "openid email profile"
    assert signed.authorize["redirect_uri"] == f"{base}/auth/callback"
    ((exchange, headers),) = provider.requests_to("/token")
    assert exchange["code"] == "google-code"
    expected = base64.b64encode(b"123-abc.apps.googleusercontent.com:google-secret").decode()
    assert headers["authorization"] == f"Basic {expected}"
    identity = signed.principal.identity
    assert identity.subject == "10769150350006150715113082367"
    assert identity.provider == provider.base  # the issuer
    assert identity.login == "jane@example.com"
    assert identity.email == "jane@example.com"
    assert identity.email_verified is True
    assert identity.name == "Jane Doe"
    assert identity.claims["picture"] == "https://example.com/jane.png"
    assert len(provider.requests_to("/.well-known/openid-configuration")) == 1


async def test_an_id_token_that_does_not_fit_is_refused() -> None:
    nonce: list[str] = []
    async with serving_provider(FakeProvider()) as provider:
        oidc_routes(provider)
        token_route(provider, nonce, aud="someone-else")
        async with served(partial(google, provider)) as (base, seen):
            with pytest.raises(AssertionError, match="server_error"):
                await sign_in(base, seen, lambda upstream: nonce.append(upstream["nonce"]) or "c")
        assert provider.requests_to("/v1/userinfo") == []
        nonce.clear()
        token_route(provider, nonce, nonce="replayed")
        async with served(partial(google, provider)) as (base, seen):
            with pytest.raises(AssertionError, match="server_error"):
                await sign_in(base, seen, lambda upstream: nonce.append(upstream["nonce"]) or "c")


async def test_an_oidc_issuer_is_discovered_and_checked() -> None:
    def make(provider: FakeProvider, base: str) -> OIDCProxy:
        return OIDCProxy(
            config_url=f"{provider.base}/.well-known/openid-configuration",
            client_id="123-abc.apps.googleusercontent.com",
            client_secret="s",
            base_url=base,
            require_authorization_consent=False,
        )

    async with serving_provider(FakeProvider()) as provider:
        oidc_routes(provider, issuer="https://impostor.example")
        async with served(partial(make, provider)) as (base, _), httpx.AsyncClient() as http:
            registered = await http.post(f"{base}/register", json={"redirect_uris": [REDIRECT_URI]})
            assert registered.json()["token_endpoint_auth_method"] == "client_secret_basic"
            _, challenge = pkce()
            params = {
                "response_type": "code",
                "client_id": registered.json()["client_id"],
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            refused = await http.get(f"{base}/authorize?{urlencode(params)}")
    # a discovery document naming another issuer is not used: the client is told
    assert refused.status_code == 302
    assert refused.headers["location"].startswith(REDIRECT_URI)
    assert query(refused.headers["location"])["error"] == "temporarily_unavailable"
