"""``StaticTokenVerifier``: tokens known by heart, on their own and served bare with
``auth=`` (a resource server with no authorization server)."""

from __future__ import annotations

import msgspec
import pytest
from auth_server_support import modern_call, modern_headers, result_of, serving
from test_auth_bearer import make_server

from fastmcp_server.auth import InvalidToken, StaticTokenVerifier

TOKENS = {
    "dev-token": {"client_id": "me", "scopes": ["mcp", "files:write"]},
    "read-only": {"client_id": "ci", "scopes": "mcp", "subject": "ci-bot"},
    "old": {"client_id": "me", "scopes": ["mcp"], "expires_at": 1000.0},
    "elsewhere": {"client_id": "me", "scopes": ["mcp"], "audience": "https://other.example/mcp"},
}


async def test_known_tokens_are_what_their_entry_says() -> None:
    verifier = StaticTokenVerifier(TOKENS, clock=lambda: 2000.0)
    verifier.bind_resource("http://127.0.0.1:8000/mcp")
    token = await verifier.verify("read-only")
    assert token.client_id == "ci"
    assert token.subject == "ci-bot"
    assert token.scopes == {"mcp"}
    assert token.audience == ("http://127.0.0.1:8000/mcp",)
    assert (await verifier.verify("dev-token")).subject == "me"  # the client by default
    with pytest.raises(InvalidToken, match="unknown"):
        await verifier.verify("dev-token2")
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify("old")


async def test_required_scopes_are_required_by_the_verifier_itself() -> None:
    verifier = StaticTokenVerifier(TOKENS, required_scopes=["files:write"])
    assert (await verifier.verify("dev-token")).client_id == "me"
    with pytest.raises(InvalidToken, match="scope"):
        await verifier.verify("read-only")


def test_a_mistyped_entry_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="scope"):
        StaticTokenVerifier({"t": {"client_id": "me", "scope": ["mcp"]}})
    with pytest.raises(ValueError, match="empty"):
        StaticTokenVerifier({"": {"client_id": "me"}})
    with pytest.raises(TypeError):
        StaticTokenVerifier({"t": {"scopes": 3}})


async def test_served_bare_it_protects_the_server() -> None:
    ran: list[str] = []
    auth = StaticTokenVerifier(TOKENS)
    async with serving(make_server(ran), auth) as served:
        call = modern_call(1, "delete", path="/x")
        headers = modern_headers("tools/call", "delete")
        refused = await served.post(call, headers=headers)
        assert refused.status_code == 401
        unknown = await served.post(call, "guess", headers=headers)
        assert unknown.status_code == 401
        assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
        weak = await served.post(call, "read-only", headers=headers)
        assert weak.status_code == 403  # delete needs files:write
        other = await served.post(call, "elsewhere", headers=headers)
        assert other.status_code == 401  # its audience is another resource
        assert ran == []
        done = await served.post(call, "dev-token", headers=headers)
        assert done.status_code == 200
        assert result_of(done)["content"][0]["text"] == "deleted"
        # the metadata names no authorization server: tokens come from elsewhere
        metadata = await served.client.get(
            served.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
        )
        document = msgspec.json.decode(metadata.content)
        assert document["resource"] == served.url
        assert "authorization_servers" not in document
    assert ran == ["delete /x"]
