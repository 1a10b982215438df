"""The authorization layer of a Server over HTTP: metadata, challenges, refusals,
scopes (server-wide, per tool/resource/prompt, step-up), the principal in handlers,
and legacy sessions bound to their principal."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import httpx
import msgspec
import pytest
import trio
from auth_server_support import (
    INITIALIZE,
    ISSUER,
    LEGACY,
    RESOURCE,
    KnownTokens,
    challenge_params,
    legacy,
    modern_call,
    modern_headers,
    result_of,
    serving,
)

from fastmcp_core import McpContext
from fastmcp_server import Middleware, MiddlewareContext, Server
from fastmcp_server.auth import (
    AccessToken,
    BearerAuth,
    VerifierUnavailable,
    protected_resource_metadata_url,
)


def make_server(ran: list[str]) -> Server:
    server = Server("guarded", "1.0")

    @server.tool
    async def whoami(ctx: McpContext) -> str:
        ran.append("whoami")
        principal = ctx.principal
        assert isinstance(principal, AccessToken)
        return f"{principal.subject} {' '.join(sorted(principal.scopes))}"

    @server.tool(scopes=["files:write"])
    async def delete(path: str) -> str:
        ran.append(f"delete {path}")
        return "deleted"

    @server.resource("secret://vault/{name}", scopes="vault:read")
    async def secret(name: str) -> str:
        ran.append(f"secret {name}")
        return "s3cr3t"

    @server.prompt(scopes=["prompts:admin"])
    async def admin_prompt() -> str:
        ran.append("admin prompt")
        return "be an admin"

    return server


def auth_for(tokens: KnownTokens, **options: Any) -> BearerAuth:
    options.setdefault("resource", RESOURCE)
    return BearerAuth(verifier=tokens, authorization_servers=[ISSUER], **options)


async def test_the_metadata_is_served_at_both_well_known_urls() -> None:
    tokens = KnownTokens()
    auth = auth_for(tokens, required_scopes=["mcp"], resource_name="Guarded")
    async with serving(make_server([]), auth) as served:
        base = f"http://127.0.0.1:{served.port}"
        for path in (
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ):
            response = await served.client.get(base + path)
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == "*"
            assert response.json() == {
                "resource": RESOURCE,
                "authorization_servers": [ISSUER],
                "scopes_supported": ["mcp"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Guarded",
            }
        response = await served.client.options(base + "/.well-known/oauth-protected-resource")
        assert response.status_code == 204
        response = await served.client.post(base + "/.well-known/oauth-protected-resource")
        assert response.status_code == 405
    assert tokens.calls == 0


def test_the_metadata_url_inserts_the_well_known_path() -> None:
    assert (
        protected_resource_metadata_url("https://host.example/public/mcp")
        == "https://host.example/.well-known/oauth-protected-resource/public/mcp"
    )
    assert (
        protected_resource_metadata_url("https://host.example/")
        == "https://host.example/.well-known/oauth-protected-resource"
    )


async def test_a_request_without_a_token_is_challenged() -> None:
    ran: list[str] = []
    async with serving(
        make_server(ran), auth_for(KnownTokens(), required_scopes=["mcp", "a"])
    ) as served:
        response = await served.post(
            modern_call(1, "whoami"), headers=modern_headers("tools/call", "whoami")
        )
    assert response.status_code == 401
    params = challenge_params(response.headers["www-authenticate"])
    assert params == {
        "scope": "a mcp",
        "resource_metadata": "http://127.0.0.1/.well-known/oauth-protected-resource/mcp",
    }
    assert ran == []


async def test_invalid_tokens_are_refused_with_the_reason() -> None:
    tokens = KnownTokens()
    tokens.add("elsewhere", audience="https://other.example/mcp")
    ran: list[str] = []
    async with serving(make_server(ran), auth_for(tokens)) as served:
        call = modern_call(1, "whoami")
        headers = modern_headers("tools/call", "whoami")
        response = await served.post(call, "unknown", headers=headers)
        assert response.status_code == 401
        params = challenge_params(response.headers["www-authenticate"])
        assert params["error"] == "invalid_token"
        assert params["resource_metadata"].endswith("/.well-known/oauth-protected-resource/mcp")
        response = await served.post(call, "elsewhere", headers=headers)
        assert response.status_code == 401
        params = challenge_params(response.headers["www-authenticate"])
        assert params["error_description"] == "the token was not issued for this resource"
        response = await served.post(call, "not a token", headers=headers)
        assert response.status_code == 400
        assert challenge_params(response.headers["www-authenticate"])["error"] == "invalid_request"
        response = await served.post(call, headers={**headers, "authorization": "Basic YTpi"})
        assert response.status_code == 401
        assert "error" not in challenge_params(response.headers["www-authenticate"])
    assert ran == []


async def test_tokens_outside_the_authorization_header_are_refused() -> None:
    tokens = KnownTokens()
    token = tokens.add("good")
    ran: list[str] = []
    async with serving(make_server(ran), auth_for(tokens)) as served:
        response = await served.client.post(
            served.url + f"?access_token={token}",
            json=modern_call(1, "whoami"),
            headers={"accept": "application/json", **modern_headers("tools/call", "whoami")},
        )
        assert response.status_code == 400
        assert "Authorization header only" in response.json()["error_description"]
        response = await served.client.post(
            served.url,
            content=f"access_token={token}".encode(),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "application/json",
            },
        )
        assert response.status_code == 400
        assert "not in the body" in response.json()["error_description"]
    assert ran == []
    assert tokens.calls == 0


async def test_the_principal_reaches_the_handler() -> None:
    tokens = KnownTokens()
    token = tokens.add("good", subject="bob", scopes="mcp extra")
    ran: list[str] = []
    async with serving(make_server(ran), auth_for(tokens, required_scopes=["mcp"])) as served:
        response = await served.post(
            modern_call(1, "whoami"), token, headers=modern_headers("tools/call", "whoami")
        )
    assert response.status_code == 200
    assert result_of(response)["content"][0]["text"] == "bob extra mcp"
    assert ran == ["whoami"]


async def test_server_wide_scopes_are_required() -> None:
    tokens = KnownTokens()
    token = tokens.add("weak", scopes="other")
    ran: list[str] = []
    async with serving(make_server(ran), auth_for(tokens, required_scopes=["mcp"])) as served:
        response = await served.post(
            modern_call(1, "whoami"), token, headers=modern_headers("tools/call", "whoami")
        )
    assert response.status_code == 403
    params = challenge_params(response.headers["www-authenticate"])
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "mcp"
    assert ran == []


@pytest.mark.parametrize(
    ("payload", "name", "scope"),
    [
        (modern_call(1, "delete", path="/etc"), "delete", "files:write"),
        (
            {
                **modern_call(1, "x"),
                "method": "resources/read",
                "params": {**modern_call(1, "x")["params"], "uri": "secret://vault/db"},
            },
            "secret://vault/db",
            "vault:read",
        ),
        (
            {
                **modern_call(1, "x"),
                "method": "prompts/get",
                "params": {**modern_call(1, "x")["params"], "name": "admin_prompt"},
            },
            "admin_prompt",
            "prompts:admin",
        ),
    ],
    ids=["tool", "resource-template", "prompt"],
)
async def test_what_declares_scopes_needs_them(
    payload: dict[str, Any], name: str, scope: str
) -> None:
    tokens = KnownTokens()
    weak = tokens.add("weak", scopes="mcp")
    strong = tokens.add("strong", scopes=f"mcp {scope}")
    ran: list[str] = []
    headers = modern_headers(payload["method"], name)
    async with serving(make_server(ran), auth_for(tokens, required_scopes=["mcp"])) as served:
        response = await served.post(payload, weak, headers=headers)
        assert response.status_code == 403
        params = challenge_params(response.headers["www-authenticate"])
        assert params["error"] == "insufficient_scope"
        assert params["scope"] == " ".join(sorted(["mcp", scope]))  # all the operation needs
        assert ran == []
        response = await served.post(payload, strong, headers=headers)
        assert response.status_code == 200, response.text
        assert len(ran) == 1


async def test_a_broader_scope_implies_narrower_ones() -> None:
    tokens = KnownTokens()
    admin = tokens.add("admin", scopes="admin")
    ran: list[str] = []
    auth = auth_for(
        tokens,
        required_scopes=["mcp"],
        scope_hierarchy={"admin": ["mcp", "files"], "files": ["files:write"]},
    )
    async with serving(make_server(ran), auth) as served:
        response = await served.post(
            modern_call(1, "delete", path="x"),
            admin,
            headers=modern_headers("tools/call", "delete"),
        )
    assert response.status_code == 200
    assert ran == ["delete x"]


async def test_a_legacy_batch_is_refused_whole_when_one_member_needs_a_scope() -> None:
    tokens = KnownTokens()
    token = tokens.add("weak")
    ran: list[str] = []
    async with serving(make_server(ran), auth_for(tokens)) as served:
        response = await served.post(INITIALIZE, token)
        session = response.headers["mcp-session-id"]
        headers = {"mcp-session-id": session, "mcp-protocol-version": "2025-03-26"}
        batch = [
            legacy(1, "tools/call", {"name": "whoami", "arguments": {}}),
            legacy(2, "tools/call", {"name": "delete", "arguments": {"path": "/"}}),
        ]
        response = await served.post(batch, token, headers=headers)
    assert response.status_code == 403
    assert ran == []


async def test_a_legacy_session_belongs_to_its_principal() -> None:
    tokens = KnownTokens()
    alice = tokens.add("alice-1", subject="alice", scopes="mcp")
    alice_again = tokens.add("alice-2", subject="alice", scopes="mcp files:write")
    mallory = tokens.add("mallory", subject="mallory", scopes="mcp files:write")
    ran: list[str] = []
    async with serving(make_server(ran), auth_for(tokens)) as served:
        response = await served.post(INITIALIZE, alice)
        assert response.status_code == 200
        headers = {
            "mcp-session-id": response.headers["mcp-session-id"],
            "mcp-protocol-version": LEGACY,
        }
        response = await served.post(
            legacy(None, "notifications/initialized"), alice, headers=headers
        )
        assert response.status_code == 202
        call = legacy(1, "tools/call", {"name": "delete", "arguments": {"path": "/x"}})
        response = await served.post(call, mallory, headers=headers)
        assert response.status_code == 403
        assert "another principal" in response.json()["error"]["message"]
        response = await served.post(call, alice, headers=headers)
        assert response.status_code == 403  # step-up needed
        assert ran == []
        response = await served.post(call, alice_again, headers=headers)
        assert response.status_code == 200
        assert ran == ["delete /x"]
        whoami = legacy(2, "tools/call", {"name": "whoami", "arguments": {}})
        response = await served.post(whoami, alice_again, headers=headers)
        # the newer token is the one the handler sees
        assert result_of(response)["content"][0]["text"] == "alice files:write mcp"


async def test_a_verifier_that_cannot_decide_gives_503() -> None:
    class Down:
        async def verify(self, token: str) -> AccessToken | None:
            raise VerifierUnavailable("the key set is unavailable")

    ran: list[str] = []
    auth = BearerAuth(verifier=Down(), authorization_servers=[ISSUER], resource=RESOURCE)
    async with serving(make_server(ran), auth) as served:
        response = await served.post(
            modern_call(1, "whoami"), "t", headers=modern_headers("tools/call", "whoami")
        )
    assert response.status_code == 503
    assert ran == []


async def test_a_verifier_that_stays_down_is_one_warning_not_one_per_request(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastmcp_core import RateLimitedLog
    from fastmcp_server.auth import _bearer

    monkeypatch.setattr(_bearer, "_unverifiable", RateLimitedLog(_bearer.logger))

    class Down:
        async def verify(self, token: str) -> AccessToken | None:
            raise VerifierUnavailable("the key set is unavailable")

    auth = BearerAuth(verifier=Down(), authorization_servers=[ISSUER], resource=RESOURCE)
    async with serving(make_server([]), auth) as served:
        for n in range(20):
            response = await served.post(
                modern_call(n, "whoami"), "t", headers=modern_headers("tools/call", "whoami")
            )
            assert response.status_code == 503
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["could not verify a token: the key set is unavailable"]


async def test_without_a_resource_the_bound_url_is_the_resource() -> None:
    tokens = KnownTokens()
    ran: list[str] = []
    auth = BearerAuth(verifier=tokens, authorization_servers=[ISSUER])
    async with serving(make_server(ran), auth) as served:
        token = tokens.add("t", audience=served.url)
        base = f"http://127.0.0.1:{served.port}"
        response = await served.client.get(base + "/.well-known/oauth-protected-resource/mcp")
        assert response.json()["resource"] == served.url
        response = await served.post(
            modern_call(1, "whoami"), token, headers=modern_headers("tools/call", "whoami")
        )
        assert response.status_code == 200
    assert ran == ["whoami"]


async def test_bodies_read_for_scopes_are_bounded() -> None:
    tokens = KnownTokens()
    token = tokens.add("weak")
    ran: list[str] = []
    auth = auth_for(tokens)
    async with serving(make_server(ran), auth, max_body_size=1000) as served:
        response = await served.post(
            modern_call(1, "whoami", padding="x" * 2000),
            token,
            headers=modern_headers("tools/call", "whoami"),
        )
    assert response.status_code == 413
    assert ran == []


def test_an_app_served_elsewhere_needs_its_resource() -> None:
    server = Server("s")
    with pytest.raises(ValueError, match="resource"):
        server.http_app(auth=BearerAuth(verifier=KnownTokens(), authorization_servers=[ISSUER]))
    app = server.http_app(auth=auth_for(KnownTokens()))
    assert app.resource == RESOURCE


def test_bearer_auth_validates_its_configuration() -> None:
    with pytest.raises(ValueError, match="fragment"):
        BearerAuth(verifier=KnownTokens(), authorization_servers=[ISSUER], resource=RESOURCE + "#x")
    with pytest.raises(ValueError, match="absolute"):
        BearerAuth(verifier=KnownTokens(), authorization_servers=["auth.example.com"])


def test_importing_the_server_does_not_import_authorization() -> None:
    code = (
        "import sys, fastmcp_server; "
        "print(any(m.startswith(('fastmcp_server.auth', 'joserfc')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    code = "import sys, fastmcp_server.auth; print('joserfc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_stdio_and_memory_connections_have_no_principal() -> None:
    from fastmcp_core import Session
    from fastmcp_transport import memory_pair

    seen: list[Any] = []
    server = Server("s")

    @server.tool
    async def who(ctx: McpContext) -> str:
        seen.append(ctx.principal)
        return "ok"

    client_end, server_end = memory_pair()

    class NoRequests:
        async def route(self, ctx: Any, request: Any) -> Any:
            raise AssertionError

        async def notification(self, note: Any) -> None:
            pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_transport, server_end)
        session = Session(client_end, NoRequests())
        nursery.start_soon(session.run)
        await session.request("initialize", INITIALIZE["params"], dict)
        await session.request("tools/call", {"name": "who", "arguments": {}}, dict)
        await session.aclose()
        nursery.cancel_scope.cancel()
    assert seen == [None]


def test_declared_scopes_follow_registrations_and_mounts() -> None:
    from fastmcp_protocol import Tool

    server = make_server([])
    assert server.declared_scopes() == {"files:write", "vault:read", "prompts:admin"}
    assert server.required_scopes("tools/call", "delete") == {"files:write"}
    assert server.required_scopes("tools/call", "whoami") == frozenset()
    assert server.required_scopes("tools/call", "missing") == frozenset()
    assert server.required_scopes("resources/read", "secret://vault/x") == {"vault:read"}
    assert server.required_scopes("prompts/get", "admin_prompt") == {"prompts:admin"}
    assert server.required_scopes("tools/list", "delete") == frozenset()

    class HandWritten:
        scopes = ("hand:made",)
        definition = Tool(name="hand", input_schema={"type": "object"})

        async def call(self, ctx: McpContext, arguments: dict[str, Any]) -> str:
            return "ok"

    inner = Server("inner")
    inner.add_tool(HandWritten())
    server.mount("sub", inner)
    assert "hand:made" in server.declared_scopes()
    assert server.required_scopes("tools/call", "sub_hand") == {"hand:made"}
    server.remove_tool("delete")
    assert "files:write" not in server.declared_scopes()


async def test_the_protected_app_can_be_served_by_any_asgi_server() -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve

    tokens = KnownTokens()
    token = tokens.add("t")
    ran: list[str] = []
    app = make_server(ran).http_app(auth=auth_for(tokens))
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        url = binds[0] + "/mcp"
        async with httpx.AsyncClient() as client:
            headers = {
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "authorization": f"Bearer {token}",
            }
            # a legacy session needs the app's task group: started by the lifespan,
            # which the authorization layer passes through
            response = await client.post(url, json=INITIALIZE, headers=headers)
            assert response.status_code == 200
            assert "mcp-session-id" in response.headers
        await app.aclose()
        nursery.cancel_scope.cancel()


def modern_list(rid: int, method: str) -> dict[str, Any]:
    meta = modern_call(rid, "-")["params"]["_meta"]
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": {"_meta": meta}}


async def modern_names(served: Any, token: str) -> dict[str, list[str]]:
    """What each list shows the holder of ``token`` (2026-07-28 requests)."""
    shown: dict[str, list[str]] = {}
    for rid, (method, field, key) in enumerate(
        [
            ("tools/list", "tools", "name"),
            ("resources/templates/list", "resourceTemplates", "uriTemplate"),
            ("prompts/list", "prompts", "name"),
        ]
    ):
        response = await served.post(
            modern_list(rid, method), token, headers=modern_headers(method)
        )
        assert response.status_code == 200, response.text
        shown[field] = sorted(item[key] for item in result_of(response)[field])
    return shown


@pytest.mark.parametrize("middleware", [False, True])
async def test_the_lists_show_a_principal_only_what_its_token_lets_it_use(
    middleware: bool,
) -> None:
    server = make_server([])
    if middleware:  # lists are then made by the middleware chain

        class Listing(Middleware):
            async def on_list_tools(self, context: MiddlewareContext, call_next: Any) -> Any:
                return await call_next(context)

        server.add_middleware(Listing())
    tokens = KnownTokens()
    weak = tokens.add("weak", scopes="mcp")
    strong = tokens.add("strong", scopes="mcp files:write vault:read prompts:admin")
    admin = tokens.add("admin", scopes="admin")
    auth = auth_for(
        tokens, required_scopes=["mcp"], scope_hierarchy={"admin": ["mcp", "files:write"]}
    )
    async with serving(server, auth) as served:
        assert await modern_names(served, weak) == {
            "tools": ["whoami"],
            "resourceTemplates": [],
            "prompts": [],
        }
        assert await modern_names(served, strong) == {
            "tools": ["delete", "whoami"],
            "resourceTemplates": ["secret://vault/{name}"],
            "prompts": ["admin_prompt"],
        }
        assert (await modern_names(served, admin))["tools"] == ["delete", "whoami"]  # implied

        # the legacy era: the session's requests each carry their token
        response = await served.post(INITIALIZE, weak)
        session = {"mcp-session-id": response.headers["mcp-session-id"]}
        listed = await served.post(legacy(1, "tools/list"), weak, headers=session)
        assert [tool["name"] for tool in result_of(listed)["tools"]] == ["whoami"]
        refused = await served.post(
            legacy(2, "tools/call", {"name": "delete", "arguments": {"path": "/"}}),
            weak,
            headers=session,
        )
        assert refused.status_code == 403  # hidden, and refused as before


async def test_without_authorization_every_list_is_whole() -> None:
    from fastmcp_transport import memory_pair

    server = make_server([])
    client, end = memory_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_transport, end)
        await client.send(msgspec.json.encode(modern_list(1, "tools/list")))
        answer = msgspec.json.decode(await client.receive())
        await client.aclose()
    assert sorted(tool["name"] for tool in answer["result"]["tools"]) == ["delete", "whoami"]
