"""The OAuth proxy's parts on their own: the in-memory store (on trio's MockClock),
which redirect URIs a client may register, the signing key, and the ID token checks."""

from __future__ import annotations

import base64
import json

import pytest
import trio.testing

from fastmcp_server.auth import (
    GitHubProvider,
    GoogleProvider,
    InMemoryProxyStore,
    OAuthProxy,
    OIDCProxy,
    StaticTokenVerifier,
    StoreFull,
    UpstreamError,
    auth_from_environment,
)
from fastmcp_server.auth._upstream import id_token_claims


def proxy(**options: object) -> OAuthProxy:
    settings: dict[str, object] = {
        "base_url": "https://mcp.example.com",
        "upstream_client_id": "proxy",
        "upstream_client_secret": "secret",
        "upstream_authorization_endpoint": "https://idp.example.com/authorize",
        "upstream_token_endpoint": "https://idp.example.com/token",
    }
    settings.update(options)
    return OAuthProxy(**settings)  # type: ignore[arg-type]


async def test_records_expire_and_are_taken_once(autojump_clock: trio.testing.MockClock) -> None:
    store = InMemoryProxyStore()
    await store.put("code", "k", b"v", 10)
    await store.put("client", "c", b"forever", None)
    assert await store.get("code", "k") == b"v"
    assert await store.take("code", "k") == b"v"
    assert await store.take("code", "k") is None  # single use
    await store.put("code", "k", b"v", 10)
    await trio.sleep(10)
    assert await store.get("code", "k") is None
    await trio.sleep(10**6)
    assert await store.get("client", "c") == b"forever"
    await store.delete("client", "c")
    assert await store.get("client", "c") is None


async def test_a_full_store_drops_expired_records_then_refuses(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = InMemoryProxyStore(max_records=2)
    await store.put("flow", "a", b"1", 5)
    await store.put("flow", "b", b"2", 50)
    await trio.sleep(6)
    await store.put("flow", "c", b"3", 5)  # "a" had expired: room for it
    assert len(store) == 2
    with pytest.raises(StoreFull):
        await store.put("flow", "d", b"4", 5)
    await store.put("flow", "b", b"again", 5)  # replacing is always possible


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("http://127.0.0.1:33418/callback", True),
        ("http://localhost/cb", True),
        ("http://[::1]:8080/cb", True),
        ("https://claude.ai/api/mcp/auth_callback", True),
        ("com.example.app:/oauth2redirect", True),
        ("http://example.com/cb", False),
        ("javascript:alert(1)", False),
        ("data:text/html,x", False),
        ("https://example.com/cb#fragment", False),
        ("myapp:/cb", False),
        ("/relative", False),
    ],
)
def test_which_redirect_uris_a_client_may_register(uri: str, allowed: bool) -> None:
    assert proxy().redirect_uri_allowed(uri) is allowed


def test_redirect_uri_patterns_replace_the_default() -> None:
    restricted = proxy(allowed_client_redirect_uris=["http://127.0.0.1:*", "https://app.example/*"])
    assert restricted.redirect_uri_allowed("http://127.0.0.1:4000/cb")
    assert restricted.redirect_uri_allowed("https://app.example/oauth")
    assert not restricted.redirect_uri_allowed("http://localhost:4000/cb")
    assert not restricted.redirect_uri_allowed("javascript:alert(1)//https://app.example/")


def test_the_configuration_is_checked_when_made() -> None:
    with pytest.raises(ValueError, match="too short"):
        proxy(jwt_signing_key="short")
    with pytest.raises(ValueError, match="absolute"):
        proxy(base_url="mcp.example.com")
    with pytest.raises(ValueError, match="redirect_path"):
        proxy(redirect_path="callback")
    assert proxy(jwt_signing_key="a long enough secret, really").callback_url == (
        "https://mcp.example.com/auth/callback"
    )


def token(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


def test_id_token_claims_are_checked() -> None:
    good = {"iss": "https://idp", "aud": ["proxy", "x"], "sub": "u", "exp": 2000, "nonce": "n"}
    check = {"client_id": "proxy", "issuer": "https://idp", "nonce": "n", "now": 1000.0}
    assert id_token_claims(token(good), **check)["sub"] == "u"  # type: ignore[arg-type]
    for bad, reason in (
        ({"iss": "https://other"}, "another issuer"),
        ({"aud": "someone"}, "not for this client"),
        ({"exp": 900}, "expired"),
        ({"nonce": "m"}, "nonce"),
    ):
        with pytest.raises(UpstreamError, match=reason):
            id_token_claims(token({**good, **bad}), **check)  # type: ignore[arg-type]
    with pytest.raises(UpstreamError, match="not a JWT"):
        id_token_claims("opaque", **check)  # type: ignore[arg-type]


def test_the_environment_configures_any_kind() -> None:
    assert auth_from_environment(environ={}) is None
    common = {
        "FASTMCP_SERVER_AUTH_CLIENT_ID": "id",
        "FASTMCP_SERVER_AUTH_CLIENT_SECRET": "secret",
        "FASTMCP_SERVER_AUTH_REQUIRED_SCOPES": "mcp, files:read",
    }
    github = auth_from_environment(
        environ={"FASTMCP_SERVER_AUTH": "github", **common}, base_url="http://127.0.0.1:8000"
    )
    assert isinstance(github, GitHubProvider)
    assert github.callback_url == "http://127.0.0.1:8000/auth/callback"
    assert tuple(github.required_scopes) == ("mcp", "files:read")
    google = auth_from_environment(
        "google",
        environ={**common, "FASTMCP_SERVER_AUTH_BASE_URL": "https://mcp.example.com"},
        base_url="http://127.0.0.1:8000",
    )
    assert isinstance(google, GoogleProvider)
    assert google.issuer == "https://mcp.example.com"
    oidc = auth_from_environment(
        "oidc",
        environ={
            **common,
            "FASTMCP_SERVER_AUTH_BASE_URL": "https://mcp.example.com",
            "FASTMCP_SERVER_AUTH_CONFIG_URL": "https://idp/.well-known/openid-configuration",
            "FASTMCP_SERVER_AUTH_UPSTREAM_SCOPES": "openid email",
        },
    )
    assert isinstance(oidc, OIDCProxy)
    assert tuple(oidc.upstream_scopes) == ("openid", "email")
    static = auth_from_environment(
        "static", environ={"FASTMCP_SERVER_AUTH_TOKENS": '{"t": {"client_id": "me"}}'}
    )
    assert isinstance(static, StaticTokenVerifier)
    with pytest.raises(ValueError, match="FASTMCP_SERVER_AUTH_CONFIG_URL"):
        auth_from_environment("oidc", environ=common, base_url="http://127.0.0.1:8000")
    with pytest.raises(ValueError, match="FASTMCP_SERVER_AUTH_TOKENS"):
        auth_from_environment("static", environ={"FASTMCP_SERVER_AUTH_TOKENS": "[1]"})
