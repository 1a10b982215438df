"""The token verifiers: JWTVerifier (signature, claims, the JWKS cache and key
rotation) and IntrospectionVerifier (RFC 7662, client authentication, caching)."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import trio
from auth_server_support import ISSUER, RESOURCE, issue, new_key
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey

from fastmcp_server.auth import (
    IntrospectionVerifier,
    InvalidToken,
    JWTVerifier,
    TokenVerifier,
    VerifierUnavailable,
)

JWKS_URI = "https://auth.example.com/jwks"


def jwks_client(keys: list[Any], log: list[str], *, fail: bool = False) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        log.append(str(request.url))
        if fail:
            return httpx.Response(500)
        return httpx.Response(200, json=KeySet(list(keys)).as_dict(private=False))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# -- JWTVerifier ------------------------------------------------------------------------


async def test_a_valid_jwt_becomes_an_access_token() -> None:
    key = new_key()
    verifier = JWTVerifier(issuer=ISSUER, keys=[key], audience=RESOURCE)
    assert isinstance(verifier, TokenVerifier)
    token = issue(key, scope="files:read files:write", sub="alice", client_id="app")
    access = await verifier.verify(token)
    assert access.subject == "alice"
    assert access.client_id == "app"
    assert access.scopes == {"files:read", "files:write"}
    assert access.issuer == ISSUER
    assert access.audience == (RESOURCE,)
    assert access.expires_at is not None
    assert access.claims["sub"] == "alice"
    assert token not in repr(access)


async def test_scp_lists_and_azp_are_understood() -> None:
    key = new_key()
    verifier = JWTVerifier(issuer=ISSUER, keys={"keys": [key.as_dict(private=False)]})
    access = await verifier.verify(issue(key, scp=["a", "b"], client_id=None, azp="the-app"))
    assert access.scopes == {"a", "b"}
    assert access.client_id == "the-app"


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"exp": int(time.time()) - 120}, "the token has expired"),
        ({"nbf": int(time.time()) + 600}, "the token is not valid yet"),
        ({"iss": "https://evil.example.com"}, "the token was issued by an untrusted issuer"),
        ({"aud": "https://other.example/mcp"}, "the token was not issued for this resource"),
        ({"exp": None}, "the token lacks the claim(s) exp"),
    ],
    ids=["expired", "not-yet", "issuer", "audience", "no-exp"],
)
async def test_bad_claims_are_refused(claims: dict[str, Any], problem: str) -> None:
    key = new_key()
    verifier = JWTVerifier(issuer=ISSUER, keys=[key], audience=RESOURCE)
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(issue(key, **claims))
    assert refused.value.description == problem


async def test_leeway_absorbs_clock_skew() -> None:
    key = new_key()
    verifier = JWTVerifier(issuer=ISSUER, keys=[key], leeway=60)
    access = await verifier.verify(issue(key, exp=int(time.time()) - 30))
    assert access.subject == "alice"


async def test_bad_signatures_and_algorithms_are_refused() -> None:
    key, other = new_key("k1"), new_key("k1")
    verifier = JWTVerifier(issuer=ISSUER, keys=[key])
    with pytest.raises(InvalidToken, match="signature is invalid"):
        await verifier.verify(issue(other))
    with pytest.raises(InvalidToken, match="unknown key"):
        await verifier.verify(issue(new_key("k9")))
    secret = OctKey.generate_key(256, parameters={"kid": "k1"})
    hmac = jwt.encode({"alg": "HS256", "kid": "k1"}, {"iss": ISSUER, "exp": 2**31}, secret)
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(hmac)
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"iss":"x"}').rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(f"{header}.{payload}.")
    with pytest.raises(InvalidToken, match="not a signed JWT"):
        await verifier.verify("opaque-token")
    with pytest.raises(ValueError, match="none"):
        JWTVerifier(issuer=ISSUER, keys=[key], algorithms=["none"])


async def test_the_token_type_can_be_required() -> None:
    key = new_key()
    verifier = JWTVerifier(issuer=ISSUER, keys=[key], token_type="at+jwt")
    access = await verifier.verify(issue(key, header={"typ": "application/at+jwt"}))
    assert access.subject == "alice"
    with pytest.raises(InvalidToken, match="typ"):
        await verifier.verify(issue(key))


async def test_a_verified_token_is_checked_again_once_it_expires() -> None:
    key = new_key()
    now = [time.time()]
    verifier = JWTVerifier(issuer=ISSUER, keys=[key], leeway=0, clock=lambda: now[0])
    token = issue(key, exp=int(now[0]) + 60)
    await verifier.verify(token)
    await verifier.verify(token)  # remembered
    now[0] += 120
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_keys_are_fetched_once_and_again_for_an_unknown_kid(autojump_clock: Any) -> None:
    old, new = new_key("old"), new_key("new")
    keys = [old]
    log: list[str] = []
    async with jwks_client(keys, log) as client:
        verifier = JWTVerifier(issuer=ISSUER, jwks_uri=JWKS_URI, http_client=client)
        await verifier.verify(issue(old))
        await verifier.verify(issue(old, sub="bob"))
        assert len(log) == 1
        await trio.sleep(31)
        keys.append(new)  # rotation: a token signed with a key the cache lacks
        access = await verifier.verify(issue(new))
        assert access.subject == "alice"
        assert len(log) == 2
        # made-up kids do not make the server fetch again and again
        for _ in range(3):
            with pytest.raises(InvalidToken, match="unknown key"):
                await verifier.verify(issue(new_key("made-up")))
        assert len(log) == 2
        await trio.sleep(3601)  # too old: fetched again
        await verifier.verify(issue(old, sub="carol"))
        assert len(log) == 3


async def test_an_unreachable_key_set_makes_the_verifier_unavailable(autojump_clock: Any) -> None:
    key = new_key()
    log: list[str] = []
    async with jwks_client([key], log, fail=True) as client:
        verifier = JWTVerifier(issuer=ISSUER, jwks_uri=JWKS_URI, http_client=client)
        with pytest.raises(VerifierUnavailable):
            await verifier.verify(issue(key))


async def test_a_failed_refresh_keeps_the_old_keys(autojump_clock: Any) -> None:
    key = new_key()
    failing = [False]
    log: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        log.append("get")
        if failing[0]:
            return httpx.Response(503)
        return httpx.Response(200, json=KeySet([key]).as_dict(private=False))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        verifier = JWTVerifier(issuer=ISSUER, jwks_uri=JWKS_URI, http_client=client)
        await verifier.verify(issue(key))
        failing[0] = True
        await trio.sleep(3601)
        access = await verifier.verify(issue(key, sub="bob"))
        assert access.subject == "bob"
        assert len(log) == 2


def test_a_jwt_verifier_needs_keys_from_one_place() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        JWTVerifier(issuer=ISSUER)
    with pytest.raises(ValueError, match="exactly one"):
        JWTVerifier(issuer=ISSUER, keys=[new_key()], jwks_uri=JWKS_URI)


# -- IntrospectionVerifier --------------------------------------------------------------


def introspection_client(answers: dict[str, Any], log: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request)
        form = parse_qs(request.content.decode())
        answer = answers.get(form["token"][0], {"active": False})
        if answer == "down":
            return httpx.Response(500)
        return httpx.Response(200, json=answer)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


INTROSPECT = "https://auth.example.com/introspect"


async def test_an_active_token_is_accepted_with_basic_client_authentication() -> None:
    log: list[httpx.Request] = []
    answers = {
        "t1": {
            "active": True,
            "scope": "a b",
            "client_id": "app",
            "sub": "alice",
            "aud": [RESOURCE],
            "iss": ISSUER,
            "exp": int(time.time()) + 60,
        }
    }
    async with introspection_client(answers, log) as client:
        verifier = IntrospectionVerifier(
            endpoint=INTROSPECT, client_id="rs id", client_secret="s:cret", http_client=client
        )
        access = await verifier.verify("t1")
    assert access.subject == "alice"
    assert access.scopes == {"a", "b"}
    assert access.audience == (RESOURCE,)
    request = log[0]
    # RFC 6749 2.3.1: id and secret form-encoded before the Basic encoding
    assert (
        request.headers["authorization"] == "Basic " + base64.b64encode(b"rs+id:s%3Acret").decode()
    )
    form = parse_qs(request.content.decode())
    assert form == {"token": ["t1"], "token_type_hint": ["access_token"]}
    assert "s:cret" not in repr(verifier)


async def test_client_secret_post_puts_the_credentials_in_the_body() -> None:
    log: list[httpx.Request] = []
    async with introspection_client({"t": {"active": True}}, log) as client:
        verifier = IntrospectionVerifier(
            endpoint=INTROSPECT,
            client_id="rs",
            client_secret="secret",
            auth_method="client_secret_post",
            http_client=client,
        )
        await verifier.verify("t")
    assert "authorization" not in log[0].headers
    form = parse_qs(log[0].content.decode())
    assert form["client_id"] == ["rs"]
    assert form["client_secret"] == ["secret"]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"active": False}, "not active"),
        ({"active": "true"}, "not active"),
        ({"active": True, "exp": int(time.time()) - 120}, "expired"),
        ({"active": True, "iss": "https://evil.example.com"}, "untrusted issuer"),
    ],
)
async def test_inactive_or_stale_tokens_are_refused(answer: dict[str, Any], problem: str) -> None:
    async with introspection_client({"t": answer}, []) as client:
        verifier = IntrospectionVerifier(
            endpoint=INTROSPECT,
            client_id="rs",
            client_secret="s",
            issuer=ISSUER,
            http_client=client,
        )
        with pytest.raises(InvalidToken, match=problem):
            await verifier.verify("t")


async def test_a_failing_endpoint_makes_the_verifier_unavailable() -> None:
    async with introspection_client({"t": "down"}, []) as client:
        verifier = IntrospectionVerifier(
            endpoint=INTROSPECT, client_id="rs", client_secret="s", http_client=client
        )
        with pytest.raises(VerifierUnavailable):
            await verifier.verify("t")


async def test_answers_are_cached_only_when_asked() -> None:
    log: list[httpx.Request] = []
    now = [1000.0]
    async with introspection_client({"t": {"active": True}}, log) as client:
        every_time = IntrospectionVerifier(
            endpoint=INTROSPECT, client_id="rs", client_secret="s", http_client=client
        )
        await every_time.verify("t")
        await every_time.verify("t")
        assert len(log) == 2
        cached = IntrospectionVerifier(
            endpoint=INTROSPECT,
            client_id="rs",
            client_secret="s",
            http_client=client,
            cache_ttl=30,
            clock=lambda: now[0],
        )
        await cached.verify("t")
        await cached.verify("t")
        assert len(log) == 3
        now[0] += 31
        await cached.verify("t")
        assert len(log) == 4
