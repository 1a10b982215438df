"""Authorization end to end: our HTTP server as a resource server, our OAuth client, and
a real authorization server (authlib, ``oauth_server.py``) issuing JWT access tokens,
all on 127.0.0.1.

The client runs the whole authorization code flow with PKCE (discovery, dynamic
registration, the resource indicator, ``iss``), then steps up for a tool that needs
another scope. Then tokens that must not work are sent by hand: a bad signature, an
expired token, another audience, a token in the query string, a missing scope. Each
is refused with its status and challenge, and the protected tool never runs.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec
import trio
from joserfc import jwt
from joserfc.jwk import ECKey
from oauth_server import USER
from protected_server import Effects, stack

from fastmcp_client.auth import HeadlessRedirect, OAuth
from fastmcp_core import McpContext, Session
from fastmcp_protocol import METHOD_NOT_FOUND, JSONRPCNotification, JSONRPCRequest, McpError
from fastmcp_transport.http_client import streamable_http_client

MODERN = "2026-07-28"
LEGACY = "2025-11-25"


class _NoServerRequests:
    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Any:
        raise McpError(METHOD_NOT_FOUND, request.method)

    async def notification(self, note: JSONRPCNotification) -> None:
        pass


async def test_authorization_code_flow_then_step_up() -> None:
    effects = Effects()
    async with stack(effects) as (authorization_server, url):
        auth = OAuth(redirect=HeadlessRedirect(), client_name="integration test")
        async with streamable_http_client(url, auth=auth, standalone_stream=False) as transport:
            session = Session(transport, _NoServerRequests())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(session.run)
                initialized = await session.request(
                    "initialize",
                    {
                        "protocolVersion": LEGACY,
                        "capabilities": {},
                        "clientInfo": {"name": "it", "version": "1"},
                    },
                    dict,
                )
                assert initialized["protocolVersion"] == LEGACY
                transport.protocol_version = LEGACY
                await session.notify("notifications/initialized", {})
                listed = await session.request("tools/list", {}, dict)
                # a tool the token may not use is not listed (but may be called: step-up)
                assert {t["name"] for t in listed["tools"]} == {"whoami"}
                result = await session.request("tools/call", {"name": "whoami"}, dict)
                assert result["content"][0]["text"] == USER
                # step-up: the tool needs files:write, which the first token lacks
                result = await session.request(
                    "tools/call", {"name": "delete", "arguments": {"path": "/tmp/x"}}, dict
                )
                assert result["content"][0]["text"] == "deleted /tmp/x"
                listed = await session.request("tools/list", {}, dict)  # with the new token
                assert {t["name"] for t in listed["tools"]} == {"whoami", "delete"}
                await session.aclose()
        await auth.aclose()
        first, second = authorization_server.authorizations
    assert first["resource"] == url  # the metadata's resource, verbatim
    assert first["code_challenge_method"] == "S256"
    # the challenge's scope, and offline_access since the authorization server offers it
    assert first["scope"] == "mcp offline_access"
    assert set(second["scope"].split()) == {"mcp", "files:write", "offline_access"}  # the union
    assert effects.deleted == ["/tmp/x"]
    principal = effects.principals[0]
    assert principal.subject == USER
    assert principal.audience == (url,)
    assert principal.scopes == {"mcp", "offline_access"}


async def test_bad_tokens_are_refused_and_nothing_runs() -> None:
    effects = Effects()
    async with stack(effects) as (authorization_server, url), httpx.AsyncClient() as client:

        async def call(token: str | None, *, query: str = "") -> httpx.Response:
            headers = {
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": MODERN,
                "mcp-method": "tools/call",
                "mcp-name": "delete",
            }
            if token is not None:
                headers["authorization"] = f"Bearer {token}"
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "delete",
                    "arguments": {"path": "/etc"},
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": MODERN,
                        "io.modelcontextprotocol/clientCapabilities": {},
                    },
                },
            }
            return await client.post(
                url + query, content=msgspec.json.encode(body), headers=headers
            )

        def challenge(response: httpx.Response) -> str:
            return response.headers["www-authenticate"]

        metadata_url = url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
        good = {"aud": url, "scope": "mcp files:write"}

        response = await call(None)
        assert response.status_code == 401
        assert f'resource_metadata="{metadata_url}"' in challenge(response)
        assert 'scope="mcp"' in challenge(response)

        forged = authorization_server.issue(key=ECKey.generate_key("P-256"), **good)
        response = await call(forged)
        assert response.status_code == 401
        assert 'error="invalid_token"' in challenge(response)
        assert "signature" in challenge(response)

        expired = authorization_server.issue(exp=int(time.time()) - 3600, **good)
        response = await call(expired)
        assert response.status_code == 401
        assert 'error_description="the token has expired"' in challenge(response)

        elsewhere = authorization_server.issue(
            aud="https://other.example/mcp", scope="mcp files:write"
        )
        response = await call(elsewhere)
        assert response.status_code == 401
        assert "not issued for this resource" in challenge(response)

        valid = authorization_server.issue(**good)
        response = await call(None, query=f"?access_token={valid}")
        assert response.status_code == 400
        assert 'error="invalid_request"' in challenge(response)

        weak = authorization_server.issue(aud=url, scope="mcp")
        response = await call(weak)
        assert response.status_code == 403
        assert 'error="insufficient_scope"' in challenge(response)
        assert 'scope="files:write mcp"' in challenge(response)
        assert f'resource_metadata="{metadata_url}"' in challenge(response)

        assert effects.deleted == []  # nothing of the protected tool ran

        response = await call(valid)  # and the right token works
        assert response.status_code == 200, response.text
        assert effects.deleted == ["/etc"]
        claims = jwt.decode(valid, authorization_server.key).claims
        assert claims["aud"] == url
