"""Where an OAuth provider keeps its tokens and client registrations.

Tokens are kept per MCP server (its endpoint URL) together with the issuer that
issued them: when the server's metadata starts naming another authorization server,
the old tokens are not sent there. Client registrations (a client id, and the secret
dynamic registration may have issued) are kept per authorization server issuer, as
the MCP specification requires: a client id of one authorization server is never
presented to another.

``TokenStorage`` is the protocol; ``InMemoryTokenStorage`` (the default) forgets
everything when the process ends. A persistent storage must keep secrets secret
(refresh tokens and client secrets are credentials): use the platform's keyring or
an encrypted file, never a plain world-readable one.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["ClientRegistration", "InMemoryTokenStorage", "StoredTokens", "TokenStorage"]


@attrs.frozen(kw_only=True)
class StoredTokens:
    """What a token endpoint gave, ready to use again. Secrets stay out of ``repr``."""

    access_token: str = attrs.field(repr=False)
    token_type: str = "Bearer"
    expires_at: float | None = None
    """Seconds since the epoch (``None``: the server did not say)."""
    refresh_token: str | None = attrs.field(default=None, repr=False)
    scope: str | None = None
    """The scopes granted (or, when the server did not say, requested)."""
    issuer: str | None = None
    """The authorization server that issued them."""
    resource: str | None = None
    """The resource they were requested for (RFC 8707)."""

    def expired(self, now: float | None = None, *, margin: float = 30.0) -> bool:
        """Whether the access token is expired, or will be within ``margin`` seconds."""
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at - margin


@attrs.frozen(kw_only=True)
class ClientRegistration:
    """A client id at one authorization server (and how to authenticate as it)."""

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    token_endpoint_auth_method: str | None = None
    """``none``, ``client_secret_basic``, ``client_secret_post`` (``None``: choose
    from what the authorization server supports)."""
    expires_at: float | None = None
    """When the client secret expires (seconds since the epoch; ``None``: never)."""


@runtime_checkable
class TokenStorage(Protocol):
    """Keeps tokens per MCP server and client registrations per issuer.

    Setting ``None`` forgets. Calls may come from concurrent tasks; each call should
    be atomic on its own (the provider serialises its authorizations itself).
    """

    async def get_tokens(self, server_url: str) -> StoredTokens | None:
        """The tokens kept for the MCP endpoint at ``server_url``."""
        ...

    async def set_tokens(self, server_url: str, tokens: StoredTokens | None) -> None:
        """Keep (or, with ``None``, forget) the tokens for ``server_url``."""
        ...

    async def get_client(self, issuer: str) -> ClientRegistration | None:
        """The client registration kept for the authorization server ``issuer``."""
        ...

    async def set_client(self, issuer: str, client: ClientRegistration | None) -> None:
        """Keep (or, with ``None``, forget) the client registration for ``issuer``."""
        ...


@attrs.define
class InMemoryTokenStorage:
    """A ``TokenStorage`` in this process's memory (the default)."""

    tokens: dict[str, StoredTokens] = attrs.field(factory=dict, repr=False)
    clients: dict[str, ClientRegistration] = attrs.field(factory=dict, repr=False)

    async def get_tokens(self, server_url: str) -> StoredTokens | None:
        """See ``TokenStorage.get_tokens``."""
        return self.tokens.get(server_url)

    async def set_tokens(self, server_url: str, tokens: StoredTokens | None) -> None:
        """See ``TokenStorage.set_tokens``."""
        if tokens is None:
            self.tokens.pop(server_url, None)
        else:
            self.tokens[server_url] = tokens

    async def get_client(self, issuer: str) -> ClientRegistration | None:
        """See ``TokenStorage.get_client``."""
        return self.clients.get(issuer)

    async def set_client(self, issuer: str, client: ClientRegistration | None) -> None:
        """See ``TokenStorage.set_client``."""
        if client is None:
            self.clients.pop(issuer, None)
        else:
            self.clients[issuer] = client
