"""The OAuth proxy end to end, on 127.0.0.1: our client, registering dynamically and
authorizing with PKCE, against our MCP server behind an ``OAuthProxy``, in front of a
real authorization server (authlib, ``oauth_server.py``) playing an identity provider
that has no dynamic registration and a login page.

The "user" is a scripted browser (``browser.py``): it follows the redirects, allows
on the proxy's consent page, signs in on the provider's login page. Then the ways an
authorization must fail are tried by hand, each with its OAuth error and status:
a redirect URI that was not registered, a wrong PKCE verifier, a code used twice, a
sign-in that took too long, a token for another resource, a provider that refuses.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import httpx
import pytest
import trio
import trio.testing
from browser import ScriptedBrowser
from joserfc import jwt
from joserfc.jwk import ECKey
from oauth_server import USER, USER_CLAIMS
from protected_server import Effects
from proxied_server import PROXY_CLIENT_ID, ProxyStack, proxy_stack

from fastmcp_client import Client
from fastmcp_client.auth import AuthorizationError, OAuth
from fastmcp_protocol import TextContent
from fastmcp_server.auth import ProxyAccessToken

REDIRECT_URI = "http://127.0.0.1:9/callback"
MODERN = "2026-07-28"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_a_client_signs_in_through_the_proxy_and_calls_tools() -> None:
    effects = Effects()
    async with proxy_stack(effects) as stack, httpx.AsyncClient() as http:
        browser = ScriptedBrowser(http, REDIRECT_URI)
        auth = OAuth(redirect=browser, client_name="Proxy integration test")
        async with Client(stack.url, auth=auth) as client:
            result = await client.call_tool("whoami")
            assert result.content == [TextContent(text=USER)]
            # step-up: delete needs files:write, which the first token lacks
            result = await client.call_tool("delete", {"path": "/tmp/x"})
            assert result.content == [TextContent(text="deleted /tmp/x")]
        tokens = auth.tokens
        await auth.aclose()
    assert effects.deleted == ["/tmp/x"]
    # the user saw the consent page (naming the client and where the answer goes) and
    # the provider's login page, twice: once per authorization
    consent, login = browser.pages[:2]
    assert "Proxy integration test" in consent
    assert REDIRECT_URI in consent
    assert "Sign in" in login
    assert len(browser.pages) == 4
    # the provider saw the proxy's own client and callback, with a PKCE challenge
    first = stack.upstream.authorizations[0]
    assert first["client_id"] == PROXY_CLIENT_ID
    assert first["redirect_uri"] == f"{stack.base}/auth/callback"
    assert first["code_challenge_method"] == "S256"
    assert first["scope"] == "profile"
    # the principal carries the upstream identity
    principal = effects.principals[0]
    assert isinstance(principal, ProxyAccessToken)
    assert principal.subject == USER
    assert principal.identity.login == USER_CLAIMS["preferred_username"]
    assert principal.identity.email == USER_CLAIMS["email"]
    assert principal.identity.name == USER_CLAIMS["name"]
    assert principal.identity.provider == stack.upstream.base
    assert principal.audience == (stack.url,)
    assert principal.scopes == {"mcp"}
    assert principal.issuer == stack.base
    # the client holds the proxy's tokens, never the provider's
    assert tokens is not None
    assert tokens.refresh_token is not None
    assert tokens.scope is not None
    assert set(tokens.scope.split()) == {"mcp", "files:write"}


# -- by hand: what must fail -------------------------------------------------------------


@attrs.define
class Hand:
    """A client that registers and authorizes by hand, and the user's browser."""

    stack: ProxyStack
    http: httpx.AsyncClient
    browser: ScriptedBrowser

    async def register(self, *redirect_uris: str, **metadata: Any) -> httpx.Response:
        body = {
            "redirect_uris": list(redirect_uris or [REDIRECT_URI]),
            "client_name": "by hand",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            **metadata,
        }
        return await self.http.post(f"{self.stack.base}/register", json=body)

    async def client_id(self) -> str:
        registered = await self.register()
        assert registered.status_code == 201, registered.text
        client_id: str = registered.json()["client_id"]
        return client_id

    def authorize_url(self, client_id: str, challenge: str | None, **params: str) -> str:
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "client-state",
            "resource": self.stack.url,
            "scope": "mcp",
        }
        if challenge is not None:
            query.update(code_challenge=challenge, code_challenge_method="S256")
        query.update(params)
        return f"{self.stack.base}/authorize?{urlencode(query)}"

    async def code(self, client_id: str, challenge: str, **params: str) -> str:
        final = await self.browser.browse(self.authorize_url(client_id, challenge, **params))
        answer = query(final)
        assert answer["state"] == "client-state"
        assert answer["iss"] == self.stack.base
        return answer["code"]

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post(f"{self.stack.base}/token", data=form)

    async def redeem(self, client_id: str, code: str, verifier: str, **form: str) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code",
            client_id=client_id,
            code=code,
            code_verifier=verifier,
            redirect_uri=REDIRECT_URI,
            **form,
        )

    async def whoami(self, access_token: str) -> httpx.Response:
        body = {
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
        }
        headers = {
            "authorization": f"Bearer {access_token}",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": MODERN,
            "mcp-method": "tools/call",
            "mcp-name": "whoami",
        }
        return await self.http.post(self.stack.url, json=body, headers=headers)


@asynccontextmanager
async def by_hand(effects: Effects, **options: Any) -> AsyncIterator[Hand]:
    # no kept-alive connections: a test that jumps the clock makes the servers close them
    fresh = httpx.Limits(max_keepalive_connections=0)
    stacked = proxy_stack(effects, **options)
    async with stacked as stack, httpx.AsyncClient(limits=fresh) as http:
        yield Hand(stack, http, ScriptedBrowser(http, REDIRECT_URI))


def oauth_error(response: httpx.Response) -> str:
    assert response.headers["cache-control"] == "no-store"
    error: str = response.json()["error"]
    return error


async def test_the_proxy_publishes_its_metadata() -> None:
    async with by_hand(Effects()) as hand:
        base = hand.stack.base
        found = await hand.http.get(f"{base}/.well-known/oauth-authorization-server")
        resource = await hand.http.get(
            f"{base}/.well-known/oauth-protected-resource/mcp", headers={"origin": "x"}
        )
    metadata = found.json()
    assert metadata["issuer"] == base
    assert metadata["registration_endpoint"] == f"{base}/register"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["scopes_supported"] == ["mcp", "files:write"]
    assert resource.json()["authorization_servers"] == [base]
    assert resource.json()["resource"] == hand.stack.url


async def test_redirect_uris_match_exactly_and_others_are_never_redirected_to() -> None:
    async with by_hand(Effects()) as hand:
        for refused in ("http://evil.example/cb", "javascript:alert(1)", "https://x.example/#f"):
            answer = await hand.register(refused)
            assert answer.status_code == 400
            assert oauth_error(answer) == "invalid_redirect_uri"
        client_id = await hand.client_id()
        _, challenge = pkce()
        for other in (REDIRECT_URI + "/", REDIRECT_URI + "?x=1", "http://127.0.0.1:10/callback"):
            url = hand.authorize_url(client_id, challenge, redirect_uri=other)
            answer = await hand.http.get(url)
            assert answer.status_code == 400
            assert "location" not in answer.headers
            assert "not one this application registered" in answer.text
            assert answer.headers["x-frame-options"] == "DENY"
        unknown = await hand.http.get(hand.authorize_url("nobody", challenge))
        assert unknown.status_code == 400
        assert "location" not in unknown.headers
        assert hand.stack.upstream.authorizations == []  # nobody was sent upstream


async def test_pkce_is_required_and_checked() -> None:
    async with by_hand(Effects()) as hand:
        client_id = await hand.client_id()
        missing = await hand.http.get(hand.authorize_url(client_id, None))
        assert missing.status_code == 302
        sent_back = query(missing.headers["location"])
        assert sent_back["error"] == "invalid_request"
        assert sent_back["state"] == "client-state"
        verifier, challenge = pkce()
        plain = await hand.http.get(
            hand.authorize_url(client_id, challenge, code_challenge_method="plain")
        )
        assert query(plain.headers["location"])["error"] == "invalid_request"
        code = await hand.code(client_id, challenge)
        wrong = await hand.redeem(client_id, code, pkce()[0])
        assert wrong.status_code == 400
        assert oauth_error(wrong) == "invalid_grant"
        assert "code_verifier" in wrong.json()["error_description"]
        # a code is not a place to guess verifiers: it is spent
        again = await hand.redeem(client_id, code, verifier)
        assert oauth_error(again) == "invalid_grant"


async def test_a_code_works_once_and_its_reuse_revokes_what_it_gave() -> None:
    effects = Effects()
    async with by_hand(effects) as hand:
        client_id = await hand.client_id()
        verifier, challenge = pkce()
        code = await hand.code(client_id, challenge)
        first = await hand.redeem(client_id, code, verifier)
        assert first.status_code == 200, first.text
        tokens = first.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["scope"] == "mcp"
        assert (await hand.whoami(tokens["access_token"])).status_code == 200
        # the refresh token rotates: the new one works, the old one no more
        refreshed = await hand.token(
            grant_type="refresh_token", client_id=client_id, refresh_token=tokens["refresh_token"]
        )
        assert refreshed.status_code == 200, refreshed.text
        stale = await hand.token(
            grant_type="refresh_token", client_id=client_id, refresh_token=tokens["refresh_token"]
        )
        assert oauth_error(stale) == "invalid_grant"
        # the code again: refused, and everything it gave is revoked
        reused = await hand.redeem(client_id, code, verifier)
        assert reused.status_code == 400
        assert oauth_error(reused) == "invalid_grant"
        assert "already used" in reused.json()["error_description"]
        revoked = await hand.whoami(refreshed.json()["access_token"])
        assert revoked.status_code == 401
        assert "revoked" in revoked.headers["www-authenticate"]
        dead = await hand.token(
            grant_type="refresh_token",
            client_id=client_id,
            refresh_token=refreshed.json()["refresh_token"],
        )
        assert oauth_error(dead) == "invalid_grant"
        # a code belongs to its client
        other = await hand.client_id()
        verifier, challenge = pkce()
        code = await hand.code(client_id, challenge)
        stolen = await hand.redeem(other, code, verifier)
        assert oauth_error(stolen) == "invalid_grant"
    assert len(effects.principals) == 1


async def test_a_sign_in_that_takes_too_long_expires(mock_clock: trio.testing.MockClock) -> None:
    async with by_hand(Effects()) as hand:
        client_id = await hand.client_id()
        _, challenge = pkce()
        # at the consent page
        page = await hand.http.get(hand.authorize_url(client_id, challenge))
        assert page.status_code == 200
        mock_clock.jump(601)
        form = {"consent_id": _consent_id(page.text), "decision": "allow"}
        late = await hand.http.post(f"{hand.stack.base}/consent", data=form)
        assert late.status_code == 400
        assert "expired" in late.text
        # at the identity provider
        page = await hand.http.get(hand.authorize_url(client_id, challenge))
        form = {"consent_id": _consent_id(page.text), "decision": "allow"}
        upstream = await hand.http.post(f"{hand.stack.base}/consent", data=form)
        assert upstream.status_code == 302
        mock_clock.jump(601)
        with pytest.raises(AuthorizationError, match="expired"):
            await hand.browser.browse(upstream.headers["location"])
        assert hand.browser.visits[-1].startswith(f"{hand.stack.base}/auth/callback?")


def _consent_id(page: str) -> str:
    found = re.search(r'name=consent_id value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def test_consent_and_callback_belong_to_the_browser_that_was_asked() -> None:
    async with by_hand(Effects()) as hand, httpx.AsyncClient() as elsewhere:
        client_id = await hand.client_id()
        _, challenge = pkce()
        page = await hand.http.get(hand.authorize_url(client_id, challenge))
        form = {"consent_id": _consent_id(page.text), "decision": "allow"}
        forged = await elsewhere.post(f"{hand.stack.base}/consent", data=form)
        assert forged.status_code == 400
        assert "did not come from the page" in forged.text
        # the sign-in started here, finished in another browser
        page = await hand.http.get(hand.authorize_url(client_id, challenge))
        form = {"consent_id": _consent_id(page.text), "decision": "allow"}
        upstream = await hand.http.post(f"{hand.stack.base}/consent", data=form)
        other = ScriptedBrowser(elsewhere, REDIRECT_URI)
        with pytest.raises(AuthorizationError, match="another browser"):
            await other.browse(upstream.headers["location"])


async def test_tokens_are_for_this_resource_only() -> None:
    key = ECKey.generate_key("P-256")
    async with by_hand(Effects(), jwt_signing_key=key) as hand:
        client_id = await hand.client_id()
        verifier, challenge = pkce()
        elsewhere = await hand.http.get(
            hand.authorize_url(client_id, challenge, resource="https://other.example/mcp")
        )
        assert query(elsewhere.headers["location"])["error"] == "invalid_target"
        code = await hand.code(client_id, challenge)
        refused = await hand.redeem(client_id, code, verifier, resource="https://other.example/mcp")
        assert oauth_error(refused) == "invalid_target"
        verifier, challenge = pkce()
        code = await hand.code(client_id, challenge)
        tokens = (await hand.redeem(client_id, code, verifier)).json()
        claims = jwt.decode(tokens["access_token"], key).claims
        assert claims["aud"] == hand.stack.url
        assert claims["iss"] == hand.stack.base
        # the same signer, the same live grant, another audience: not for this server
        forged = jwt.encode(
            {"alg": "ES256", "typ": "at+jwt", "kid": key.kid},
            {**claims, "aud": "https://other.example/mcp"},
            key,
        )
        answer = await hand.whoami(forged)
        assert answer.status_code == 401
        assert "not issued for this resource" in answer.headers["www-authenticate"]
        assert (await hand.whoami(tokens["access_token"])).status_code == 200


async def test_refusals_upstream_and_at_the_consent_page_reach_the_client() -> None:
    async with by_hand(Effects()) as hand:
        client_id = await hand.client_id()
        _, challenge = pkce()
        hand.browser.answers = {**hand.browser.answers, "decision": "deny"}
        denied = query(await hand.browser.browse(hand.authorize_url(client_id, challenge)))
        assert denied["error"] == "access_denied"
        assert denied["state"] == "client-state"
        assert hand.stack.upstream.authorizations == []  # a denial goes nowhere else
        hand.browser.answers = {
            **hand.browser.answers,
            "decision": "allow",
            "login_decision": "deny",
        }
        refused = query(await hand.browser.browse(hand.authorize_url(client_id, challenge)))
        assert refused["error"] == "access_denied"
        assert refused["state"] == "client-state"
        assert refused["iss"] == hand.stack.base


async def test_an_identity_provider_that_fails_is_a_server_error() -> None:
    async with by_hand(Effects(), upstream_client_secret="not the registered one") as hand:
        client_id = await hand.client_id()
        _, challenge = pkce()
        failed = query(await hand.browser.browse(hand.authorize_url(client_id, challenge)))
        assert failed["error"] == "server_error"
        assert failed["state"] == "client-state"
        assert "code" not in failed
        assert hand.stack.upstream.token_requests  # the exchange was tried, and refused


async def test_an_identity_provider_without_pkce_still_gets_clients_with_pkce() -> None:
    async with by_hand(Effects(), upstream_pkce=False, forward_pkce=False) as hand:
        client_id = await hand.client_id()
        verifier, challenge = pkce()
        code = await hand.code(client_id, challenge)
        narrowed = await hand.redeem(client_id, code, verifier, scope="mcp")
        assert narrowed.status_code == 200, narrowed.text
        assert (await hand.whoami(narrowed.json()["access_token"])).status_code == 200
        (upstream,) = hand.stack.upstream.authorizations
    assert "code_challenge" not in upstream  # the provider got none
    assert "code_verifier" not in hand.stack.upstream.token_requests[0]
