"""The OAuth providers against a fake MCP server and authorization server: discovery,
registration, the authorization code flow and its checks, scopes and step-up, refresh,
the other grants, DPoP, storage and concurrency."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import trio
from auth_client_support import AS, MCP, PRM_PATH, REDIRECT, World, call, s256, world_client
from joserfc import jwt
from joserfc.jwk import ECKey

from fastmcp_client.auth import (
    AuthorizationError,
    ClientCredentials,
    DiscoveryError,
    DPoPKey,
    EnterpriseManaged,
    HeadlessRedirect,
    InMemoryTokenStorage,
    JwtBearer,
    OAuth,
    OAuthError,
    RegistrationError,
    TokenError,
)


def oauth(world: World, client: httpx.AsyncClient, **options: Any) -> OAuth:
    return OAuth(
        redirect=HeadlessRedirect(redirect_uri=REDIRECT, http_client=client),
        http_client=client,
        clock=lambda: world.now,
        **options,
    )


async def test_the_whole_authorization_code_flow() -> None:
    world = World(challenge_scope="mcp:basic")
    storage = InMemoryTokenStorage()
    async with world_client(world) as client:
        auth = oauth(world, client, storage=storage)
        response = await client.post(MCP, json=call(), auth=auth)
        assert response.status_code == 200
        assert world.paths() == [
            "POST mcp.example/mcp",
            "GET mcp.example" + PRM_PATH,  # the challenge's hint, nothing else
            "GET as.example/.well-known/oauth-authorization-server",
            "POST as.example/register",
            "GET as.example/authorize",
            "POST as.example/token",
            "POST mcp.example/mcp",
        ]
        (asked,) = world.authorizations
        assert asked["resource"] == MCP
        assert asked["scope"] == "mcp:basic"
        assert asked["code_challenge_method"] == "S256"
        assert asked["redirect_uri"] == REDIRECT
        assert asked["client_id"] == "dyn-1"
        form, _ = world.tokens_asked[0]
        assert s256(form["code_verifier"]) == asked["code_challenge"]
        assert form["resource"] == MCP
        assert form["client_id"] == "dyn-1"
        (registration,) = world.registrations
        assert registration["redirect_uris"] == [REDIRECT]
        assert registration["application_type"] == "native"
        assert "refresh_token" in registration["grant_types"]
        # later requests reuse the token
        before = len(world.seen)
        response = await client.post(MCP, json=call(), auth=auth)
        assert response.status_code == 200
        assert len(world.seen) == before + 1
    assert (await storage.get_tokens(MCP)) is not None
    assert (await storage.get_client(AS)) is not None


async def test_resource_metadata_is_found_at_the_well_known_urls() -> None:
    world = World(prm_at="root", resource="https://mcp.example")
    async with world_client(world) as client:
        response = await client.post(MCP, json=call(), auth=oauth(world, client))
    assert response.status_code == 200
    assert world.paths()[1:3] == [
        "GET mcp.example" + PRM_PATH,
        "GET mcp.example/.well-known/oauth-protected-resource",
    ]
    assert world.authorizations[0]["resource"] == "https://mcp.example"  # verbatim


async def test_a_path_issuer_is_looked_up_in_order_never_at_the_root() -> None:
    issuer = AS + "/tenant1"
    world = World(
        issuer=issuer,
        authorization_servers=[issuer],
        metadata_paths=("/tenant1/.well-known/openid-configuration",),
    )
    async with world_client(world) as client:
        response = await client.post(MCP, json=call(), auth=oauth(world, client))
    assert response.status_code == 200
    lookups = [p for p in world.paths() if "well-known" in p and "as.example" in p]
    assert lookups == [
        "GET as.example/.well-known/oauth-authorization-server/tenant1",
        "GET as.example/.well-known/openid-configuration/tenant1",
        "GET as.example/tenant1/.well-known/openid-configuration",
    ]


async def test_metadata_naming_another_issuer_is_not_used() -> None:
    world = World(metadata={"issuer": "https://attacker.example"})
    async with world_client(world) as client:
        with pytest.raises(DiscoveryError, match="attacker"):
            await client.post(MCP, json=call(), auth=oauth(world, client))
    assert world.registrations == []
    assert world.authorizations == []


async def test_resource_metadata_for_another_server_is_refused() -> None:
    world = World(resource="https://evil.example/mcp")
    async with world_client(world) as client:
        with pytest.raises(DiscoveryError, match="evil"):
            await client.post(MCP, json=call(), auth=oauth(world, client))
    assert world.authorizations == []


@pytest.mark.parametrize(
    ("resource", "ok"),
    [
        ("https://mcp.example", True),
        ("https://MCP.example:443/mcp", True),
        ("https://mcp.example/mcp/", True),
        ("https://mcp.example/other", False),
        ("https://mcp.example/mc", False),
        ("http://mcp.example/mcp", False),
        ("https://mcp.example:8443/mcp", False),
    ],
)
def test_which_resources_designate_the_server(resource: str, ok: bool) -> None:
    from fastmcp_client.auth._metadata import resource_matches

    assert resource_matches(resource, MCP) is ok


async def test_a_2025_03_26_server_is_its_own_authorization_server() -> None:
    # no resource metadata; the origin's metadata names another issuer (as some do)
    world = World(
        prm_at=None,
        issuer="https://mcp.example/oauth",
        iss=None,
        metadata={"authorization_response_iss_parameter_supported": False},
    )
    world.metadata_paths = ()
    async with world_client(world) as client:

        def both(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/.well-known/oauth-authorization-server":
                world.seen.append(request)
                return httpx.Response(200, json=world._as_metadata())
            if request.url.path.startswith("/oauth/"):
                return world._as(request)
            return world.handler(request)

        client._transport = httpx.MockTransport(both)
        world.authorization_servers = ["https://mcp.example/oauth"]
        response = await client.post(MCP, json=call(), auth=oauth(world, client))
    assert response.status_code == 200
    assert world.authorizations[0]["resource"] == MCP


async def test_without_any_metadata_the_default_endpoints_are_used() -> None:
    world = World(prm_at=None)
    requests: list[str] = []

    def fallback(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url.path}")
        path = request.url.path
        if path == "/register":
            return httpx.Response(201, json={"client_id": "c", "client_secret": "s"})
        if path == "/authorize":
            query = dict(parse(request))
            location = f"{query['redirect_uri']}?code=x&state={query['state']}"
            return httpx.Response(302, headers={"location": location})
        if path == "/token":
            world.issued["legacy"] = world.issued.get("legacy") or _issued(world)
            return httpx.Response(200, json={"access_token": "legacy", "token_type": "Bearer"})
        if path == "/mcp":
            if request.headers.get("authorization") == "Bearer legacy":
                return httpx.Response(200, json={})
            return httpx.Response(401, headers={"www-authenticate": "Bearer"})
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(fallback)) as client:
        response = await client.post(MCP, json=call(), auth=oauth(world, client))
    assert response.status_code == 200
    assert [r for r in requests if not r.startswith("GET /.well-known")] == [
        "POST /mcp",
        "POST /register",
        "GET /authorize",
        "POST /token",
        "POST /mcp",
    ]


def parse(request: httpx.Request) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(request.url.query.decode())


def _issued(world: World) -> Any:
    from auth_client_support import Issued

    return Issued(set(), world.now + 60, AS)


@pytest.mark.parametrize(
    ("advertised", "iss", "accepted"),
    [
        (True, "issuer", True),
        (True, None, False),
        (True, "https://evil.example", False),
        (True, AS + "/", False),  # no normalisation
        (False, None, True),
        (False, "https://evil.example", False),
        (False, "issuer", True),
    ],
)
async def test_the_iss_of_the_authorization_response(
    advertised: bool, iss: str | None, accepted: bool
) -> None:
    world = World(iss=iss, metadata={"authorization_response_iss_parameter_supported": advertised})
    async with world_client(world) as client:
        auth = oauth(world, client)
        if accepted:
            response = await client.post(MCP, json=call(), auth=auth)
            assert response.status_code == 200
        else:
            with pytest.raises(AuthorizationError, match="iss"):
                await client.post(MCP, json=call(), auth=auth)
            assert world.tokens_asked == []  # the code went nowhere


async def test_a_response_with_another_state_is_refused() -> None:
    world = World(state="forged")
    async with world_client(world) as client:
        with pytest.raises(AuthorizationError, match="state"):
            await client.post(MCP, json=call(), auth=oauth(world, client))
    assert world.tokens_asked == []


async def test_no_pkce_no_authorization() -> None:
    world = World(metadata={"code_challenge_methods_supported": None})
    async with world_client(world) as client:
        with pytest.raises(DiscoveryError, match="PKCE"):
            await client.post(MCP, json=call(), auth=oauth(world, client))
    assert world.authorizations == []


@pytest.mark.parametrize(
    ("challenge", "supported", "as_scopes", "expected"),
    [
        ("a b", ["x"], None, "a b"),
        (None, ["x", "y"], None, "x y"),
        (None, None, None, None),
        (None, ["x"], ["x", "offline_access"], "offline_access x"),
        (None, None, ["offline_access"], None),
    ],
    ids=["challenge", "scopes-supported", "omitted", "offline-access", "never-alone"],
)
async def test_scope_selection(
    challenge: str | None,
    supported: list[str] | None,
    as_scopes: list[str] | None,
    expected: str | None,
) -> None:
    world = World(challenge_scope=challenge, scopes_supported=supported)
    world.metadata["scopes_supported"] = as_scopes
    async with world_client(world) as client:
        response = await client.post(MCP, json=call(), auth=oauth(world, client))
    assert response.status_code == 200
    assert world.authorizations[0].get("scope") == expected


async def test_step_up_asks_for_the_union_once() -> None:
    world = World(challenge_scope="mcp:basic", needs={"tools/call": {"mcp:write"}})
    async with world_client(world) as client:
        auth = oauth(world, client)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
        response = await client.post(MCP, json=call("tools/call"), auth=auth)
        assert response.status_code == 200
        assert [a.get("scope") for a in world.authorizations] == [
            "mcp:basic",
            "mcp:basic mcp:write",
        ]
        # the stepped-up token serves both
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
        assert len(world.authorizations) == 2


async def test_a_scope_that_is_never_granted_is_not_asked_for_forever() -> None:
    world = World(
        challenge_scope="mcp:admin",
        needs={"tools/list": {"mcp:admin", "never"}},
        withheld={"never"},
    )
    async with world_client(world) as client:
        auth = oauth(world, client)
        response = await client.post(MCP, json=call(), auth=auth)
        assert response.status_code == 403  # one step-up, then the answer
        response = await client.post(MCP, json=call(), auth=auth)
        assert response.status_code == 403
    assert [a.get("scope") for a in world.authorizations] == ["mcp:admin", "mcp:admin never"]


async def test_an_expired_token_is_refreshed_without_the_user() -> None:
    world = World(refresh_tokens=True, expires_in=60)
    async with world_client(world) as client:
        auth = oauth(world, client)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
        world.now += 120
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    assert len(world.authorizations) == 1
    grants = [form["grant_type"] for form, _ in world.tokens_asked]
    assert grants == ["authorization_code", "refresh_token"]
    assert world.tokens_asked[1][0]["resource"] == MCP


async def test_a_refused_refresh_falls_back_to_authorizing() -> None:
    world = World(refresh_tokens=True)
    async with world_client(world) as client:
        auth = oauth(world, client)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
        world.issued.clear()  # revoked
        world.refresh.clear()
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    grants = [form["grant_type"] for form, _ in world.tokens_asked]
    assert grants == ["authorization_code", "refresh_token", "authorization_code"]


async def test_a_client_metadata_document_replaces_registration() -> None:
    url = "https://app.example/client.json"
    world = World(metadata={"client_id_metadata_document_supported": True})
    async with world_client(world) as client:
        response = await client.post(
            MCP, json=call(), auth=oauth(world, client, client_metadata_url=url)
        )
    assert response.status_code == 200
    assert world.registrations == []
    assert world.authorizations[0]["client_id"] == url
    assert world.tokens_asked[0][0]["client_id"] == url
    with pytest.raises(ValueError, match="https"):
        OAuth(client_metadata_url="http://app.example/client.json")


async def test_a_pre_registered_client_uses_basic_authentication() -> None:
    world = World(metadata={"token_endpoint_auth_methods_supported": ["client_secret_basic"]})
    async with world_client(world) as client:
        auth = oauth(world, client, client_id="pre id", client_secret="pre:secret")
        response = await client.post(MCP, json=call(), auth=auth)
    assert response.status_code == 200
    assert world.registrations == []
    form, headers = world.tokens_asked[0]
    expected = base64.b64encode(b"pre+id:pre%3Asecret").decode()
    assert headers["authorization"] == f"Basic {expected}"
    assert "client_secret" not in form


@pytest.mark.parametrize(
    ("supported", "dcr_method", "expected"),
    [
        (["client_secret_post"], None, "post"),
        (["client_secret_basic"], None, "basic"),
        (["none"], None, "none"),
        (["client_secret_basic", "client_secret_post"], "client_secret_post", "post"),
    ],
)
async def test_the_token_endpoint_authentication(
    supported: list[str], dcr_method: str | None, expected: str
) -> None:
    world = World(
        dcr_secret=True,
        dcr_method=dcr_method,
        metadata={"token_endpoint_auth_methods_supported": supported},
    )
    async with world_client(world) as client:
        assert (await client.post(MCP, json=call(), auth=oauth(world, client))).status_code == 200
    form, headers = world.tokens_asked[0]
    used = "basic" if "authorization" in headers else "post" if "client_secret" in form else "none"
    assert used == expected
    assert form.get("client_id") == (None if expected == "basic" else "dyn-1")


async def test_a_new_authorization_server_gets_a_new_registration() -> None:
    world = World()
    storage = InMemoryTokenStorage()
    async with world_client(world) as client:
        auth = oauth(world, client, storage=storage)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
        world.issuer = "https://as2.example"
        world.authorization_servers = ["https://as2.example"]
        client._transport = httpx.MockTransport(lambda r: _as2(world, r))
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    assert [a["client_id"] for a in world.authorizations] == ["dyn-1", "dyn-2"]
    assert set(storage.clients) == {AS, "https://as2.example"}


def _as2(world: World, request: httpx.Request) -> httpx.Response:
    if request.url.host == "as2.example":
        world.seen.append(request)
        return world._as(request)
    return world.handler(request)


async def test_pre_registered_credentials_stay_with_their_authorization_server() -> None:
    world = World()
    async with world_client(world) as client:
        auth = oauth(world, client, client_id="pre", client_issuer="https://other.example")
        with pytest.raises(RegistrationError, match=r"other\.example"):
            await client.post(MCP, json=call(), auth=auth)
    assert world.authorizations == []


async def test_concurrent_requests_share_one_authorization() -> None:
    world = World()
    async with world_client(world) as client:
        auth = oauth(world, client)
        statuses: list[int] = []

        async def one() -> None:
            statuses.append((await client.post(MCP, json=call(), auth=auth)).status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(one)
    assert statuses == [200] * 5
    assert len(world.authorizations) == 1


async def test_a_token_endpoint_error_surfaces_as_an_httpx_error() -> None:
    world = World(token_error="invalid_client")
    async with world_client(world) as client:
        with pytest.raises(TokenError, match="invalid_client") as failed:
            await client.post(MCP, json=call(), auth=oauth(world, client))
    assert isinstance(failed.value, OAuthError)
    assert isinstance(failed.value, httpx.HTTPError)
    assert failed.value.error == "invalid_client"


async def test_authorize_ahead_of_any_request() -> None:
    world = World(prm_at="path")
    async with world_client(world) as client:
        auth = oauth(world, client, server_url=MCP)
        tokens = await auth.authorize()
        assert tokens.issuer == AS
        response = await client.post(MCP, json=call(), auth=auth)
    assert response.status_code == 200
    assert world.paths()[-1] == "POST mcp.example/mcp"
    assert sum(p == "POST mcp.example/mcp" for p in world.paths()) == 1


# -- other grants -----------------------------------------------------------------------


async def test_client_credentials_with_a_secret() -> None:
    world = World(metadata={"token_endpoint_auth_methods_supported": ["client_secret_basic"]})
    async with world_client(world) as client:
        auth = ClientCredentials(client_id="svc", client_secret="pw", http_client=client)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    assert world.authorizations == []
    form, headers = world.tokens_asked[0]
    assert form == {"grant_type": "client_credentials", "resource": MCP}
    assert headers["authorization"] == "Basic " + base64.b64encode(b"svc:pw").decode()


async def test_client_credentials_with_private_key_jwt() -> None:
    key = ECKey.generate_key("P-256")
    world = World(metadata={"token_endpoint_auth_methods_supported": ["private_key_jwt"]})
    async with world_client(world) as client:
        auth = ClientCredentials(
            client_id="svc", private_key=key.as_pem(private=True).decode(), http_client=client
        )
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    form, headers = world.tokens_asked[0]
    assert "authorization" not in headers
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    claims = jwt.decode(form["client_assertion"], key, algorithms=["ES256"]).claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("svc", "svc", AS)
    with pytest.raises(ValueError, match="exactly one"):
        ClientCredentials(client_id="svc")


async def test_a_jwt_bearer_assertion_is_exchanged_once() -> None:
    world = World()
    made: list[int] = []

    async def assertion() -> str:
        made.append(1)
        return "workload-jwt"

    async with world_client(world) as client:
        auth = JwtBearer(assertion=assertion, client_id="wl", http_client=client)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    ((form, _),) = world.tokens_asked
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert form["assertion"] == "workload-jwt"
    assert made == [1]


async def test_enterprise_managed_authorization_exchanges_twice() -> None:
    world = World(metadata={"token_endpoint_auth_methods_supported": ["client_secret_basic"]})
    async with world_client(world) as client:
        auth = EnterpriseManaged(
            idp_token_endpoint=AS + "/token",
            id_token="id-token",
            idp_client_id="idp-client",
            client_id="app",
            client_secret="app-secret",
            http_client=client,
        )
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    (exchange, _), (bearer, headers) = world.tokens_asked
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert exchange["requested_token_type"] == "urn:ietf:params:oauth:token-type:id-jag"
    assert exchange["audience"] == AS
    assert exchange["resource"] == MCP
    assert exchange["subject_token"] == "id-token"
    assert exchange["client_id"] == "idp-client"
    assert bearer["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert bearer["assertion"] == "tok-1"  # the ID-JAG the first exchange gave
    assert headers["authorization"] == "Basic " + base64.b64encode(b"app:app-secret").decode()


# -- DPoP ------------------------------------------------------------------------------


async def test_dpop_binds_the_token_and_proves_every_request() -> None:
    world = World(metadata={"dpop_signing_alg_values_supported": ["ES256"]})
    key = DPoPKey()
    async with world_client(world) as client:
        auth = oauth(world, client, dpop=key)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    _, token_headers = world.tokens_asked[0]
    assert "dpop" in token_headers
    mcp = [r for r in world.seen if r.url.host == "mcp.example" and r.url.path == "/mcp"][1:]
    assert all(r.headers["authorization"].startswith("DPoP ") for r in mcp)
    proofs = [jwt.decode(r.headers["dpop"], _public(key)).claims for r in mcp]
    assert len({p["jti"] for p in proofs}) == len(proofs)
    assert all(p["htu"] == MCP and p["htm"] == "POST" and "ath" in p for p in proofs)


def _public(key: DPoPKey) -> Any:
    from joserfc.jwk import ECKey

    return ECKey.import_key(key._ready().as_dict(private=False))


async def test_dpop_nonces_are_learnt_from_both_servers() -> None:
    world = World(metadata={"dpop_signing_alg_values_supported": ["ES256"]})
    key = DPoPKey()
    state = {"as_nonced": False, "rs_nonced": False}

    def nonces(request: httpx.Request) -> httpx.Response:
        proof = request.headers.get("dpop")
        if request.url.path == "/token" and not state["as_nonced"]:
            state["as_nonced"] = True
            return httpx.Response(
                400, json={"error": "use_dpop_nonce"}, headers={"dpop-nonce": "as-nonce"}
            )
        if request.url.path == "/mcp" and proof and not state["rs_nonced"]:
            state["rs_nonced"] = True
            return httpx.Response(
                401,
                headers={
                    "www-authenticate": 'DPoP error="use_dpop_nonce"',
                    "dpop-nonce": "rs-nonce",
                },
            )
        return world.handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(nonces)) as client:
        auth = oauth(world, client, dpop=key)
        assert (await client.post(MCP, json=call(), auth=auth)).status_code == 200
    token_proofs = [jwt.decode(h["dpop"], _public(key)).claims for _, h in world.tokens_asked]
    assert token_proofs[-1]["nonce"] == "as-nonce"
    last = world.seen[-1]
    assert jwt.decode(last.headers["dpop"], _public(key)).claims["nonce"] == "rs-nonce"
    assert len(world.authorizations) == 1  # a nonce is not a reason to authorize again
