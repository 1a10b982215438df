"""The small parts of client OAuth: challenges, well-known URLs, PKCE, storage, and
the two redirect handlers (headless, and the browser with its loopback listener)."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from fastmcp_client.auth import (
    AuthorizationError,
    AuthorizationResponse,
    BrowserRedirect,
    ClientRegistration,
    FileTokenStorage,
    HeadlessRedirect,
    InMemoryTokenStorage,
    Pkce,
    RedirectHandler,
    StoredTokens,
    TokenStorage,
    authorization_server_metadata_urls,
    parse_challenges,
    protected_resource_metadata_urls,
)


def test_challenges_are_parsed_in_any_order_and_form() -> None:
    (bearer,) = parse_challenges(
        [
            'Bearer error="insufficient_scope", scope="files:read files:write",'
            ' resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp",'
            ' error_description="needs \\"more\\""'
        ]
    )
    assert bearer.scheme == "bearer"
    assert bearer.error == "insufficient_scope"
    assert bearer.scope == "files:read files:write"
    assert (
        bearer.resource_metadata == "https://mcp.example/.well-known/oauth-protected-resource/mcp"
    )
    assert bearer.error_description == 'needs "more"'
    basic, dpop, other = parse_challenges(
        ['Basic realm="x", DPoP algs="ES256" ,error=use_dpop_nonce', "bearer Scope=a"]
    )
    assert (basic.scheme, basic.params) == ("basic", {"realm": "x"})
    assert dpop.params == {"algs": "ES256", "error": "use_dpop_nonce"}
    assert other.scope == "a"  # parameter names are case-insensitive
    assert parse_challenges(["Bearer"])[0].params == {}
    assert parse_challenges(['Bearer scope=""'])[0].scope is None


def test_the_well_known_urls_of_resource_metadata() -> None:
    assert protected_resource_metadata_urls("https://h.example/public/mcp") == [
        "https://h.example/.well-known/oauth-protected-resource/public/mcp",
        "https://h.example/.well-known/oauth-protected-resource",
    ]
    assert protected_resource_metadata_urls("https://h.example/") == [
        "https://h.example/.well-known/oauth-protected-resource"
    ]


def test_the_well_known_urls_of_authorization_servers() -> None:
    assert authorization_server_metadata_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]
    assert authorization_server_metadata_urls("https://as.example/tenant1/") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/.well-known/openid-configuration/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
    ]


def test_pkce_uses_s256() -> None:
    pkce = Pkce.generate()
    assert 43 <= len(pkce.verifier) <= 128
    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert pkce.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pkce.method == "S256"
    assert pkce.verifier not in repr(pkce)
    assert Pkce.generate().verifier != pkce.verifier


async def test_in_memory_storage_keeps_and_forgets() -> None:
    storage = InMemoryTokenStorage()
    assert isinstance(storage, TokenStorage)
    tokens = StoredTokens(access_token="secret-at", refresh_token="secret-rt", expires_at=100.0)
    await storage.set_tokens("https://mcp.example/mcp", tokens)
    assert await storage.get_tokens("https://mcp.example/mcp") == tokens
    assert "secret" not in repr(tokens)
    assert "secret" not in repr(storage)
    await storage.set_tokens("https://mcp.example/mcp", None)
    assert await storage.get_tokens("https://mcp.example/mcp") is None
    assert tokens.expired(71.0)
    assert not tokens.expired(69.0)


async def test_file_storage_keeps_across_instances_for_its_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "oauth"
    storage = FileTokenStorage(directory)
    assert isinstance(storage, TokenStorage)
    assert await storage.get_tokens("https://mcp.example/mcp") is None
    tokens = StoredTokens(
        access_token="secret-at",
        refresh_token="secret-rt",
        expires_at=100.0,
        scope="mcp",
        issuer="https://as.example",
        resource="https://mcp.example/mcp",
    )
    client = ClientRegistration(client_id="abc", client_secret="secret-cs")
    await storage.set_tokens("https://mcp.example/mcp", tokens)
    await storage.set_client("https://as.example", client)
    assert "secret" not in repr(storage)
    # a later process reads them back
    again = FileTokenStorage(directory)
    assert await again.get_tokens("https://mcp.example/mcp") == tokens
    assert await again.get_client("https://as.example") == client
    assert await again.get_tokens("https://other.example/mcp") is None
    assert await again.get_client("https://mcp.example/mcp") is None  # kinds do not mix
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(directory.iterdir())
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    # forgetting removes the file; a damaged file counts as absent
    await again.set_client("https://as.example", None)
    assert await storage.get_client("https://as.example") is None
    (token_file,) = directory.iterdir()
    token_file.write_text("{not json")
    assert await storage.get_tokens("https://mcp.example/mcp") is None
    await storage.set_tokens("https://mcp.example/mcp", tokens)  # and is replaced
    assert await storage.get_tokens("https://mcp.example/mcp") == tokens
    assert [f.name for f in directory.iterdir()] == [token_file.name]  # no temporary left


def test_authorization_responses_tell_absent_from_empty() -> None:
    found = AuthorizationResponse.from_redirect("http://localhost/cb?code=c&state=s&iss=")
    assert (found.code, found.state, found.iss) == ("c", "s", "")
    found = AuthorizationResponse.from_redirect("http://localhost/cb?code=c&iss=https%3A%2F%2Fas")
    assert found.iss == "https://as"
    assert AuthorizationResponse.from_redirect("http://localhost/cb?code=c").iss is None


async def test_headless_follows_the_authorization_server_and_stops_at_the_redirect() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authorize":
            return httpx.Response(302, headers={"location": "/consent?x=1"})
        if request.url.path == "/consent":
            return httpx.Response(
                303, headers={"location": "http://localhost:3000/cb?code=c1&state=s"}
            )
        return httpx.Response(500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        headless = HeadlessRedirect(redirect_uri="http://localhost:3000/cb", http_client=client)
        assert isinstance(headless, RedirectHandler)
        found = await headless.authorize("https://as.example/authorize?client_id=a")
        assert (found.code, found.state) == ("c1", "s")


async def test_headless_refuses_a_login_page() -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<form>log in</form>"))
    ) as client:
        headless = HeadlessRedirect(http_client=client)
        with pytest.raises(AuthorizationError, match="without a user"):
            await headless.authorize("https://as.example/authorize")


async def test_the_browser_comes_back_to_the_loopback_listener() -> None:
    visited: list[str] = []

    def browser(url: str) -> bool:
        # a user agent: it is sent to the listener, first astray, then with the code
        visited.append(url)
        with httpx.Client() as agent:
            assert (
                agent.get(redirect.redirect_uri.replace("/callback", "/favicon.ico")).status_code
                == 404
            )
            page = agent.get(redirect.redirect_uri + "?code=the-code&state=st&iss=https%3A%2F%2Fas")
            assert page.status_code == 200
            assert "Authorization complete" in page.text
        return True

    redirect = BrowserRedirect(open_browser=browser)
    try:
        uri = redirect.redirect_uri
        assert uri.startswith("http://127.0.0.1:")
        assert uri.endswith("/callback")
        assert redirect.redirect_uri == uri  # bound once, kept
        found = await redirect.authorize("https://as.example/authorize?x=1")
        assert (found.code, found.state, found.iss) == ("the-code", "st", "https://as")
        assert visited == ["https://as.example/authorize?x=1"]
    finally:
        await redirect.aclose()


async def test_the_browser_has_a_deadline(autojump_clock: Any) -> None:
    # nobody ever comes back (the opener runs in a worker thread, abandoned at the end)
    redirect = BrowserRedirect(open_browser=lambda url: True, timeout=120)
    try:
        with pytest.raises(AuthorizationError, match="120"):
            await redirect.authorize("https://as.example/authorize")
    finally:
        await redirect.aclose()


async def test_the_browser_error_page_still_returns_the_response() -> None:
    def browser(url: str) -> None:
        with httpx.Client() as agent:
            agent.get(redirect.redirect_uri + "?error=access_denied&state=s")

    redirect = BrowserRedirect(open_browser=browser)
    try:
        with trio.fail_after(10):
            found = await redirect.authorize("https://as.example/authorize")
    finally:
        await redirect.aclose()
    assert found.error == "access_denied"
