"""Protected Resource Metadata (RFC 9728): where it is served.

The document itself is ``fastmcp_protocol.ProtectedResourceMetadata`` (the client
reads the same type). A client that gets a 401 learns from it which authorization servers
issue tokens for this server, which scopes exist, and the canonical ``resource``
identifier it must name in its authorization and token requests (RFC 8707). The
document is built and encoded once; the server serves the same bytes at the
well-known URL derived from the resource (path inserted after the host:
``https://host/.well-known/oauth-protected-resource/mcp`` for
``https://host/mcp``) and at the root well-known URL, and names the former in its
``WWW-Authenticate`` challenges.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["WELL_KNOWN_PATH", "metadata_url"]

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"


def check_resource(resource: str) -> None:
    """``ValueError`` unless ``resource`` is an absolute http(s) URI without fragment
    (RFC 8707 section 2)."""
    parts = urlsplit(resource)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the resource must be an absolute http(s) URI, not {resource!r}")
    if parts.fragment or "#" in resource:
        raise ValueError(f"the resource must not have a fragment: {resource!r}")


def metadata_path(resource: str) -> str:
    """The path of the metadata document of ``resource`` (RFC 9728 section 3.1)."""
    path = urlsplit(resource).path.rstrip("/")
    return WELL_KNOWN_PATH + path


def metadata_url(resource: str) -> str:
    """The URL of the metadata document of ``resource``: the well-known path inserted
    between the host and the resource's path (a trailing slash dropped)."""
    parts = urlsplit(resource)
    return urlunsplit((parts.scheme, parts.netloc, metadata_path(resource), parts.query, ""))
