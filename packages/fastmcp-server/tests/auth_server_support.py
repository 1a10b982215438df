"""Helpers for the server authorization tests: keys and JWTs, a verifier that knows
tokens by heart, and a Server served over real HTTP with ``auth=``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import httpx
import msgspec
import trio
from joserfc import jwt
from joserfc.jwk import ECKey

from fastmcp_server import Server
from fastmcp_server.auth import AccessToken

ISSUER = "https://auth.example.com"
RESOURCE = "http://127.0.0.1/mcp"
LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


def new_key(kid: str = "k1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid})


def issue(
    key: ECKey, *, alg: str = "ES256", header: Mapping[str, Any] | None = None, **claims: Any
) -> str:
    """A signed JWT with sensible defaults (``iss``, ``sub``, ``aud``, ``exp``)."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": RESOURCE,
        "iat": now,
        "exp": now + 600,
        "client_id": "app",
    }
    body.update(claims)
    for name in [k for k, v in body.items() if v is None]:
        del body[name]
    head = {"alg": alg, "kid": key.kid, **(header or {})}
    return jwt.encode(head, body, key)


@attrs.define
class KnownTokens:
    """A ``TokenVerifier`` that knows its tokens by heart (and counts its calls)."""

    tokens: dict[str, AccessToken] = attrs.field(factory=dict)
    calls: int = 0

    def add(
        self,
        token: str,
        *,
        subject: str = "alice",
        scopes: str = "",
        audience: str = RESOURCE,
        client_id: str = "app",
    ) -> str:
        self.tokens[token] = AccessToken(
            token=token,
            subject=subject,
            client_id=client_id,
            scopes=scopes,
            audience=audience,
            issuer=ISSUER,
            expires_at=time.time() + 600,
        )
        return token

    async def verify(self, token: str) -> AccessToken | None:
        self.calls += 1
        return self.tokens.get(token)


@attrs.define(eq=False)
class Served:
    client: httpx.AsyncClient
    url: str
    port: int

    async def post(
        self, payload: Any, token: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        head = {"content-type": "application/json", "accept": ACCEPT}
        if token is not None:
            head["authorization"] = f"Bearer {token}"
        head.update(headers or {})
        return await self.client.post(self.url, content=msgspec.json.encode(payload), headers=head)


@asynccontextmanager
async def serving(server: Server, auth: object, **options: Any) -> AsyncIterator[Served]:
    async with trio.open_nursery() as nursery:
        address = await nursery.start(partial(server.serve_http, port=0, auth=auth, **options))
        async with httpx.AsyncClient(timeout=30) as client:
            yield Served(client, address.url, address.port)
        nursery.cancel_scope.cancel()


def modern_call(rid: int, name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    return headers


def legacy(rid: int | None, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if rid is not None:
        message["id"] = rid
    if params is not None:
        message["params"] = params
    return message


INITIALIZE = legacy(
    0,
    "initialize",
    {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
)


def result_of(response: httpx.Response) -> Any:
    """The result (or error) of a JSON or SSE answer."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                message = msgspec.json.decode(line[5:].strip())
                if "id" in message:
                    return message.get("result", message.get("error"))
        raise AssertionError(f"no answer in {response.text!r}")
    message = response.json()
    return message.get("result", message.get("error"))


def challenge_params(header: str) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge (simple: no commas inside values)."""
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer", header
    params = {}
    for part in rest.split(", "):
        name, _, value = part.partition("=")
        params[name.strip()] = value.strip().strip('"')
    return params
