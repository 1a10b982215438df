"""Protected Resource Metadata (RFC 9728), the document of MCP authorization.

An MCP server that requires OAuth tokens publishes it (the MCP authorization
specification requires RFC 9728): which authorization servers issue its tokens, its
scopes, and the canonical ``resource`` identifier a client names in its authorization
and token requests (RFC 8707). It is one document for both sides: a server's
``fastmcp_server.auth.BearerAuth`` encodes it, a client's
``fastmcp_client.auth`` providers decode it. Its members are RFC 9728's own names
(snake_case); members this type lacks are ignored when decoding, and members left at
their default are left out when encoding.
"""

from __future__ import annotations

import msgspec

__all__ = ["ProtectedResourceMetadata"]


class ProtectedResourceMetadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The RFC 9728 document (the members MCP servers and clients use).

    Every URL and identifier is kept as the exact string received: a client sends the
    ``resource`` back verbatim.
    """

    resource: str
    authorization_servers: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] | None = None
    bearer_methods_supported: tuple[str, ...] | None = None
    resource_name: str | None = None
    resource_documentation: str | None = None
