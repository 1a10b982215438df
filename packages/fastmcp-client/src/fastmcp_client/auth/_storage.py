"""Where an OAuth provider keeps its tokens and client registrations.

Tokens are kept per MCP server (its endpoint URL) together with the issuer that
issued them: when the server's metadata starts naming another authorization server,
the old tokens are not sent there. Client registrations (a client id, and the secret
dynamic registration may have issued) are kept per authorization server issuer, as
the MCP specification requires: a client id of one authorization server is never
presented to another.

``TokenStorage`` is the protocol; ``InMemoryTokenStorage`` (the default) forgets
everything when the process ends; ``FileTokenStorage`` keeps it in files only their
owner can read, so that a command line tool authorizes once. A persistent storage
must keep secrets secret (refresh tokens and client secrets are credentials): files
readable by their owner alone, the platform's keyring, or encryption; never a
world-readable file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs
import msgspec
import trio

__all__ = [
    "ClientRegistration",
    "FileTokenStorage",
    "InMemoryTokenStorage",
    "StoredTokens",
    "TokenStorage",
]

logger = logging.getLogger("fastmcp.client.auth")


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


_Kept = TypeVar("_Kept", StoredTokens, ClientRegistration)


@attrs.define
class FileTokenStorage:
    """A ``TokenStorage`` in a directory: one JSON file per MCP server (its tokens)
    and per authorization server (the client registered there).

    The directory is created readable by its owner alone (``0700``) and every file is
    written ``0600``, to a temporary name first and then renamed, so a reader never
    sees half a file and concurrent processes (a proxy and a command line call) do
    not corrupt each other. A file that cannot be read or decoded counts as absent
    (it is logged): the provider then authorizes again.

    ::

        auth = OAuth(storage=FileTokenStorage(Path.home() / ".local/state/my-agent/oauth"))
    """

    directory: Path = attrs.field(converter=Path)

    async def get_tokens(self, server_url: str) -> StoredTokens | None:
        """See ``TokenStorage.get_tokens``."""
        return await trio.to_thread.run_sync(self._read, "tokens", server_url, StoredTokens)

    async def set_tokens(self, server_url: str, tokens: StoredTokens | None) -> None:
        """See ``TokenStorage.set_tokens``."""
        await trio.to_thread.run_sync(self._write, "tokens", server_url, tokens)

    async def get_client(self, issuer: str) -> ClientRegistration | None:
        """See ``TokenStorage.get_client``."""
        return await trio.to_thread.run_sync(self._read, "client", issuer, ClientRegistration)

    async def set_client(self, issuer: str, client: ClientRegistration | None) -> None:
        """See ``TokenStorage.set_client``."""
        await trio.to_thread.run_sync(self._write, "client", issuer, client)

    def _path(self, kind: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.directory / f"{kind}-{digest}.json"

    def _read(self, kind: str, key: str, type_: type[_Kept]) -> _Kept | None:
        path = self._path(kind, key)
        try:
            stored = msgspec.json.decode(path.read_bytes(), type=dict[str, Any])
            if stored.pop("key", None) != key:  # another key with the same digest
                return None
            return type_(**stored)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError, TypeError) as exc:
            logger.warning("ignoring %s: %s", path, exc)
            return None

    def _write(self, kind: str, key: str, value: StoredTokens | ClientRegistration | None) -> None:
        path = self._path(kind, key)
        if value is None:
            path.unlink(missing_ok=True)
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = msgspec.json.encode({"key": key, **attrs.asdict(value)})
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
