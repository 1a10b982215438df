"""MCP configurations: the ``mcp.json`` / ``claude_desktop_config.json`` format.

::

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "some-server"], "env": {"K": "v"},
                  "cwd": "/srv"},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "..."}}
    }}

The top-level key may also be ``"servers"`` (VS Code's ``mcp.json``). An entry with
``command`` is a stdio server; one with ``url`` is an HTTP server, Streamable HTTP
unless its ``type``/``transport`` says ``"sse"`` (the legacy HTTP+SSE transport).
Keys this client does not use (``disabled``, ``alwaysAllow``, ...) are ignored;
values are not expanded (``${VAR}`` stays as written), as Claude Desktop does.
A configuration is parsed once, when the ``Client`` is made: errors are
``ConfigError`` naming the server and the field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

import msgspec

from fastmcp_client._errors import ConfigError

__all__ = ["HttpServer", "McpConfig", "ServerConfig", "StdioServer"]


class StdioServer(msgspec.Struct, frozen=True, kw_only=True):
    """A server run as a child process, spoken to over its stdin/stdout."""

    command: str
    args: list[str] = msgspec.field(default_factory=list)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    """Added to this process's environment."""
    cwd: str | None = None

    @property
    def argv(self) -> list[str]:
        return [self.command, *self.args]


class HttpServer(msgspec.Struct, frozen=True, kw_only=True):
    """A server reached over HTTP."""

    url: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    transport: Literal["streamable-http", "sse"] = "streamable-http"


ServerConfig: TypeAlias = StdioServer | HttpServer
"""One server of a configuration."""


class _Entry(msgspec.Struct, kw_only=True):
    """Every key an entry may have, as written (camelCase variants included)."""

    command: str | None = None
    args: list[str] = msgspec.field(default_factory=list)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    server_url: str | None = msgspec.field(default=None, name="serverUrl")
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    type: str | None = None
    transport: str | None = None


_SSE = frozenset({"sse"})
_HTTP = frozenset({"http", "streamable-http", "streamable_http", "streamableHttp"})


def _server(name: str, raw: Any) -> ServerConfig:
    try:
        entry = msgspec.convert(raw, _Entry)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"MCP server {name!r}: {exc}") from None
    url = entry.url or entry.server_url
    kind = entry.type or entry.transport
    if entry.command is not None:
        if url is not None:
            raise ConfigError(f"MCP server {name!r} has both a command and a url")
        if not entry.command:
            raise ConfigError(f"MCP server {name!r} has an empty command")
        return StdioServer(command=entry.command, args=entry.args, env=entry.env, cwd=entry.cwd)
    if url is None:
        raise ConfigError(f"MCP server {name!r} needs a 'command' or a 'url'")
    if kind is not None and kind not in _SSE | _HTTP:
        raise ConfigError(f"MCP server {name!r}: unknown transport type {kind!r}")
    transport: Literal["streamable-http", "sse"] = "sse" if kind in _SSE else "streamable-http"
    return HttpServer(url=url, headers=entry.headers, transport=transport)


class McpConfig(msgspec.Struct, frozen=True):
    """The servers of an MCP configuration, by name (in the file's order)."""

    servers: dict[str, ServerConfig]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> McpConfig:
        """Parse a configuration: ``{"mcpServers": {...}}``, ``{"servers": {...}}``, or
        a single server entry (``{"command": ...}`` / ``{"url": ...}``, named ``"default"``)."""
        if "command" in data or "url" in data or "serverUrl" in data:
            return cls({"default": _server("default", data)})
        servers = data.get("mcpServers", data.get("servers"))
        if not isinstance(servers, Mapping):
            raise ConfigError('an MCP configuration needs an "mcpServers" object')
        return cls({str(name): _server(str(name), entry) for name, entry in servers.items()})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> McpConfig:
        """Read and parse a configuration file (JSON)."""
        try:
            data = msgspec.json.decode(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigError(
                f"cannot read the MCP configuration {os.fspath(path)!r}: {exc}"
            ) from None
        except msgspec.DecodeError as exc:
            raise ConfigError(f"{os.fspath(path)!r} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{os.fspath(path)!r} is not a JSON object")
        return cls.from_dict(data)

    def select(self, name: str | None = None) -> tuple[str, ServerConfig]:
        """The server called ``name``; without a name, the only server there is.

        Raises ``ConfigError`` listing the names when ``name`` is unknown, or when
        there are several servers and no name.
        """
        names = ", ".join(repr(n) for n in self.servers) or "none"
        if name is None:
            if len(self.servers) == 1:
                return next(iter(self.servers.items()))
            raise ConfigError(
                f"the MCP configuration has several servers ({names}): choose one with server=..."
            )
        try:
            return name, self.servers[name]
        except KeyError:
            raise ConfigError(
                f"no MCP server {name!r} in the configuration (it has {names})"
            ) from None
