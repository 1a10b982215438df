"""The auth/* scenarios of the official MCP conformance suite, as a client.

``run(scenario, url, context)`` performs one scenario against the harness's mock
server at ``url``: it connects over Streamable HTTP with the OAuth provider the
scenario calls for (``fastmcp_client.auth``), speaks the era the harness runs
(``MCP_CONFORMANCE_PROTOCOL_VERSION``: 2026-07-28 is stateless, with ``_meta`` on
every request; anything else, or nothing, is the legacy ``initialize`` handshake),
lists the tools and calls ``test-tool``. ``context`` is the scenario's
``MCP_CONFORMANCE_CONTEXT`` (credentials for pre-registration, client credentials,
enterprise-managed authorization, workload identity).

Standalone, as the harness's client command::

    python examples/conformance/auth_client.py http://localhost:PORT/mcp

(the harness appends the URL and sets ``MCP_CONFORMANCE_SCENARIO``). Exit status 1
when the scenario could not be completed (some scenarios expect exactly that).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import msgspec
import trio

from fastmcp_client.auth import (
    ClientCredentials,
    DPoPKey,
    EnterpriseManaged,
    HeadlessRedirect,
    JwtBearer,
    OAuth,
    OAuthProvider,
)
from fastmcp_core import McpContext, Session
from fastmcp_protocol import (
    LEGACY_PROTOCOL_VERSIONS,
    METHOD_NOT_FOUND,
    ClientCapabilities,
    Implementation,
    JSONRPCNotification,
    JSONRPCRequest,
    McpError,
    is_modern,
    modern_request_meta,
)
from fastmcp_transport.http_client import StreamableHttpTransport, streamable_http_client

CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
REDIRECT_URI = "http://localhost:3000/callback"
CLIENT_INFO = Implementation(name="fastmcp-conformance-auth-client", version="0.1.0")

# scenarios whose client only lists the tools
_LIST_ONLY = {
    "auth/client-credentials-jwt",
    "auth/client-credentials-basic",
    "auth/wif-jwt-bearer",
}


def provider_for(scenario: str, context: dict[str, Any]) -> OAuthProvider:
    """The OAuth provider a scenario calls for."""
    name = scenario.removeprefix("auth/")
    if name == "client-credentials-jwt":
        return ClientCredentials(
            client_id=context["client_id"],
            private_key=context["private_key_pem"],
            signing_algorithm=context.get("signing_algorithm", "ES256"),
        )
    if name == "client-credentials-basic":
        return ClientCredentials(
            client_id=context["client_id"], client_secret=context["client_secret"]
        )
    if name in ("cross-app-access-complete-flow", "enterprise-managed-authorization"):
        return EnterpriseManaged(
            idp_token_endpoint=context["idp_token_endpoint"],
            id_token=context["idp_id_token"],
            idp_client_id=context["idp_client_id"],
            client_id=context["client_id"],
            client_secret=context["client_secret"],
        )
    if name == "wif-jwt-bearer":
        return JwtBearer(assertion=context["valid_jwt"], client_id=context.get("client_id"))
    redirect = HeadlessRedirect(redirect_uri=REDIRECT_URI)
    if name == "pre-registration":
        return OAuth(
            redirect=redirect,
            client_id=context["client_id"],
            client_secret=context.get("client_secret"),
            client_issuer=context.get("issuer"),
        )
    return OAuth(
        redirect=redirect,
        client_name="fastmcp conformance client",
        client_metadata_url=CLIENT_METADATA_URL,
        dpop=DPoPKey() if name.startswith("dpop") else None,
    )


class _NoServerRequests:
    """The client side of the session: it answers no server requests."""

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Any:
        raise McpError(METHOD_NOT_FOUND, f"Method not found: {request.method}")

    async def notification(self, note: JSONRPCNotification) -> None:
        pass


async def run(scenario: str, url: str, context: dict[str, Any]) -> None:
    """Perform one auth/* scenario against ``url`` (see the module docstring).

    Raises (``McpError``, ``OAuthError``...) when the scenario cannot be completed.
    """
    version = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION") or LEGACY_PROTOCOL_VERSIONS[0]
    modern = is_modern(version)
    auth = provider_for(scenario, context)
    try:
        async with streamable_http_client(url, auth=auth, standalone_stream=False) as transport:
            session = Session(transport, _NoServerRequests())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(session.run)
                try:
                    await _converse(session, transport, scenario, version, modern)
                finally:
                    await session.aclose()
    finally:
        await auth.aclose()


async def _converse(
    session: Session,
    transport: StreamableHttpTransport,
    scenario: str,
    version: str,
    modern: bool,
) -> None:
    capabilities = ClientCapabilities()

    async def request(method: str, params: dict[str, Any] | None = None) -> Any:
        params = dict(params or {})
        if modern:
            params["_meta"] = modern_request_meta(
                client_capabilities=capabilities, protocol_version=version, client_info=CLIENT_INFO
            )
        return await session.request(method, params, dict)

    if not modern:
        result = await request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": msgspec.to_builtins(CLIENT_INFO),
            },
        )
        negotiated = result.get("protocolVersion")
        if isinstance(negotiated, str):
            transport.protocol_version = negotiated
        await session.notify("notifications/initialized", {})
    listed = await request("tools/list")
    if scenario in _LIST_ONLY:
        return
    names = [tool.get("name") for tool in listed.get("tools", [])]
    name = "test-tool" if "test-tool" in names or not names else names[0]
    await request("tools/call", {"name": name, "arguments": {}})


def main() -> int:
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    if len(sys.argv) < 2 or not scenario.startswith("auth/"):
        print("usage: MCP_CONFORMANCE_SCENARIO=auth/... auth_client.py URL", file=sys.stderr)
        return 2
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    try:
        trio.run(run, scenario, sys.argv[-1], context)
    except Exception as exc:
        print(f"{scenario}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
