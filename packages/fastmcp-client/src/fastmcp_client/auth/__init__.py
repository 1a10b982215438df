"""OAuth for MCP clients over HTTP, as ``httpx.Auth`` providers.

::

    from fastmcp_client.auth import OAuth
    from fastmcp_transport.http_client import streamable_http_client

    auth = OAuth("https://mcp.example.com/mcp", client_name="My agent")
    async with streamable_http_client("https://mcp.example.com/mcp", auth=auth) as transport:
        ...  # run a session: the first 401 starts the authorization

A provider answers the server's challenges as the MCP authorization specification
describes: it discovers the server's Protected Resource Metadata (RFC 9728) and its
authorization server's metadata (RFC 8414 / OpenID Connect, issuer checked exactly),
obtains a token for the server's canonical resource (RFC 8707), attaches it to every
request, refreshes it, and steps up when the server asks for more scopes (403
``insufficient_scope``).

Providers (one per grant): ``OAuth`` (authorization code with PKCE, for a user; the
client is pre-registered, a Client ID Metadata Document, or dynamically registered;
``RedirectHandler`` implementations ``BrowserRedirect`` and ``HeadlessRedirect``
bring the authorization response back), ``ClientCredentials`` (a client on its own
behalf: secret or ``private_key_jwt``), ``JwtBearer`` (an assertion such as a
workload identity token), ``EnterpriseManaged`` (an enterprise ID token exchanged for
an ID-JAG, then for a token). ``TokenStorage`` (``InMemoryTokenStorage`` by default,
``FileTokenStorage`` to keep them across runs) keeps tokens and client
registrations; ``DPoPKey`` binds tokens to the client.

``private_key_jwt`` and DPoP need joserfc: ``pip install "fastmcp-client[auth]"``.
"""

from fastmcp_client.auth._challenge import Challenge, parse_challenges
from fastmcp_client.auth._errors import (
    AuthorizationError,
    DiscoveryError,
    OAuthError,
    RegistrationError,
    TokenError,
)
from fastmcp_client.auth._grants import ClientCredentials, EnterpriseManaged, JwtBearer, OAuth
from fastmcp_client.auth._jose import DPoPKey, SigningKey
from fastmcp_client.auth._metadata import (
    AuthorizationServerMetadata,
    authorization_server_metadata_urls,
    protected_resource_metadata_urls,
)
from fastmcp_client.auth._pkce import Pkce
from fastmcp_client.auth._provider import Discovered, OAuthProvider
from fastmcp_client.auth._redirect import (
    AuthorizationResponse,
    BrowserRedirect,
    HeadlessRedirect,
    RedirectHandler,
)
from fastmcp_client.auth._storage import (
    ClientRegistration,
    FileTokenStorage,
    InMemoryTokenStorage,
    StoredTokens,
    TokenStorage,
)

__all__ = [
    "OAuthProvider",
    "OAuth",
    "ClientCredentials",
    "JwtBearer",
    "EnterpriseManaged",
    "RedirectHandler",
    "AuthorizationResponse",
    "BrowserRedirect",
    "HeadlessRedirect",
    "TokenStorage",
    "InMemoryTokenStorage",
    "FileTokenStorage",
    "StoredTokens",
    "ClientRegistration",
    "DPoPKey",
    "SigningKey",
    "Pkce",
    "Discovered",
    "AuthorizationServerMetadata",
    "protected_resource_metadata_urls",
    "authorization_server_metadata_urls",
    "Challenge",
    "parse_challenges",
    "OAuthError",
    "DiscoveryError",
    "RegistrationError",
    "AuthorizationError",
    "TokenError",
]
