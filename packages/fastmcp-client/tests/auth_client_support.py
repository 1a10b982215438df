"""A fake MCP server and authorization server behind one ``httpx.MockTransport``, for
the client OAuth tests: configurable discovery, challenges, scopes and responses,
and a record of every request the client made."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs
import httpx

MCP = "https://mcp.example/mcp"
AS = "https://as.example"
REDIRECT = "http://localhost:3000/callback"
PRM_PATH = "/.well-known/oauth-protected-resource/mcp"


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@attrs.define
class Issued:
    scopes: set[str]
    expires_at: float
    issuer: str
    token_type: str = "Bearer"


@attrs.define
class World:
    """What the fake servers do (change it between requests) and what they saw."""

    now: float = 1_000_000.0
    issuer: str = AS
    # resource metadata: where it is served ("hint": in the challenge and path-inserted,
    # "path", "root", None: nowhere), and what it says
    prm_at: str | None = "hint"
    resource: str = MCP
    authorization_servers: list[str] = attrs.field(factory=lambda: [AS])
    scopes_supported: list[str] | None = None
    challenge_scope: str | None = None
    # authorization server metadata: the paths serving it, and overrides of its members
    metadata_paths: tuple[str, ...] = ("/.well-known/oauth-authorization-server",)
    metadata: dict[str, Any] = attrs.field(factory=dict)
    iss: str | None = "issuer"  # "issuer": the issuer; None: absent; else that value
    state: str | None = None  # None: echo the client's
    refresh_tokens: bool = False
    expires_in: int = 3600
    dcr_secret: bool = False
    dcr_method: str | None = None
    token_error: str | None = None
    withheld: set[str] = attrs.field(factory=set)  # scopes never granted
    # what each MCP method needs (a token's scopes must cover it)
    needs: dict[str, set[str]] = attrs.field(factory=dict)
    # records
    seen: list[httpx.Request] = attrs.field(factory=list)
    authorizations: list[dict[str, str]] = attrs.field(factory=list)
    tokens_asked: list[tuple[dict[str, str], httpx.Headers]] = attrs.field(factory=list)
    registrations: list[dict[str, Any]] = attrs.field(factory=list)
    issued: dict[str, Issued] = attrs.field(factory=dict)
    refresh: dict[str, set[str]] = attrs.field(factory=dict)
    challenges: dict[str, str] = attrs.field(factory=dict)
    mcp_calls: list[str] = attrs.field(factory=list)

    # -- what the client sees ------------------------------------------------------------

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.host}{r.url.path}" for r in self.seen]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        host = request.url.host
        if host == "mcp.example":
            return self._mcp(request)
        return self._as(request)

    # -- the MCP server ------------------------------------------------------------------

    def _challenge(self, **params: str) -> str:
        items = dict(params)
        if self.challenge_scope is not None and "scope" not in items:
            items["scope"] = self.challenge_scope
        if self.prm_at == "hint":
            items["resource_metadata"] = f"https://mcp.example{PRM_PATH}"
        return "Bearer " + ", ".join(f'{k}="{v}"' for k, v in items.items())

    def _mcp(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/.well-known/oauth-protected-resource"):
            served = {
                "hint": PRM_PATH,
                "path": PRM_PATH,
                "root": "/.well-known/oauth-protected-resource",
            }
            if self.prm_at is None or served.get(self.prm_at) != path:
                return httpx.Response(404)
            document: dict[str, Any] = {
                "resource": self.resource,
                "authorization_servers": self.authorization_servers,
            }
            if self.scopes_supported is not None:
                document["scopes_supported"] = self.scopes_supported
            return httpx.Response(200, json=document)
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        issued = self.issued.get(token)
        if (
            scheme.lower() not in ("bearer", "dpop")
            or issued is None
            or issued.expires_at <= self.now
            or issued.issuer != self.authorization_servers[0]
        ):
            return httpx.Response(401, headers={"www-authenticate": self._challenge()})
        method = json.loads(request.content or b"{}").get("method", "")
        needed = self.needs.get(method, set())
        if not needed <= issued.scopes:
            header = self._challenge(error="insufficient_scope", scope=" ".join(sorted(needed)))
            return httpx.Response(403, headers={"www-authenticate": header})
        self.mcp_calls.append(method)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"token": token}})

    # -- the authorization server -------------------------------------------------------

    def _as_metadata(self) -> dict[str, Any]:
        base = self.issuer
        document: dict[str, Any] = {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "registration_endpoint": f"{base}/register",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "authorization_response_iss_parameter_supported": True,
        }
        document.update(self.metadata)
        return {k: v for k, v in document.items() if v is not None}

    def _as(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        base_path = urlsplit(self.issuer).path
        if request.method == "GET" and path in self.metadata_paths:
            return httpx.Response(200, json=self._as_metadata())
        if path == f"{base_path}/authorize":
            query = dict(parse_qsl(request.url.query.decode()))
            self.authorizations.append(query)
            params = {"code": f"code-{len(self.authorizations)}"}
            state = self.state if self.state is not None else query.get("state")
            if state is not None:
                params["state"] = state
            if self.iss is not None:
                params["iss"] = self.issuer if self.iss == "issuer" else self.iss
            return httpx.Response(
                302, headers={"location": f"{query['redirect_uri']}?{urlencode(params)}"}
            )
        if path == f"{base_path}/token":
            return self._token(request)
        if path == f"{base_path}/register":
            body = json.loads(request.content)
            self.registrations.append(body)
            answer: dict[str, Any] = {"client_id": f"dyn-{len(self.registrations)}"}
            if self.dcr_secret:
                answer["client_secret"] = "dyn-secret"
            if self.dcr_method:
                answer["token_endpoint_auth_method"] = self.dcr_method
            return httpx.Response(201, json=answer)
        return httpx.Response(404)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        self.tokens_asked.append((form, request.headers))
        if self.token_error:
            return httpx.Response(400, json={"error": self.token_error})
        grant = form.get("grant_type")
        scopes = set((form.get("scope") or "").split())
        if grant == "authorization_code":
            asked = self.authorizations[-1]
            if s256(form.get("code_verifier", "")) != asked.get("code_challenge"):
                return httpx.Response(400, json={"error": "invalid_grant"})
            scopes = set((asked.get("scope") or "").split()) - self.withheld
        elif grant == "refresh_token":
            known = self.refresh.pop(form.get("refresh_token", ""), None)
            if known is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            scopes = known
        token = f"tok-{len(self.issued) + 1}"
        token_type = "DPoP" if "dpop" in request.headers else "Bearer"
        self.issued[token] = Issued(scopes, self.now + self.expires_in, self.issuer, token_type)
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": token_type,
            "expires_in": self.expires_in,
            "scope": " ".join(sorted(scopes)),
        }
        if self.refresh_tokens:
            refresh = f"refresh-{token}"
            self.refresh[refresh] = scopes
            answer["refresh_token"] = refresh
        return httpx.Response(200, json=answer)


@asynccontextmanager
async def world_client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(world.handler)) as client:
        yield client


def call(method: str = "tools/list") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method}
