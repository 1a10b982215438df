"""Settings from the environment: what ``fastmcp run`` sets on its command line, for
servers started any way (``server.run()``, ``python server.py`` in a container...).

Precedence, highest first: what the code passes (``server.run_http(port=9000)``), then
the command line's options, then the ``FASTMCP_*`` variables, then the defaults. A
variable that cannot be read is one clear error naming it (``SettingsError``), at
start-up, never a surprise later.

``VARIABLES`` is the one table of them: the parser below and the documentation's
table (docs/servers.md, checked by a test) both come from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from fastmcp_protocol import LocalError

__all__ = [
    "AUTH_KINDS",
    "DEFAULT_SHUTDOWN_GRACE",
    "VARIABLES",
    "Settings",
    "SettingsError",
    "Variable",
    "secret_ring",
]

DEFAULT_SHUTDOWN_GRACE = 10.0
"""Seconds the requests in flight get to finish when a server stops, by default."""

AUTH_KINDS = ("static", "github", "google", "oidc")
"""The kinds ``FASTMCP_SERVER_AUTH`` names (``fastmcp_server.auth.auth_from_environment``
reads the ``FASTMCP_SERVER_AUTH_*`` variables of each)."""


class SettingsError(LocalError, ValueError):
    """A ``FASTMCP_*`` variable has a value that cannot be used."""


@attrs.frozen
class Variable:
    """One ``FASTMCP_*`` variable: the setting it gives and what it means."""

    name: str
    field: str
    parse: Callable[[str], Any]
    meaning: str
    secret: bool = False
    """Its value is never repeated in an error."""


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value

    return parse


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError("expected a port number, 0 to 65535")
    return port


def _seconds(value: str) -> float:
    seconds = float(value)
    if seconds < 0:
        raise ValueError("expected seconds, 0 or more")
    return seconds


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false (1/0, yes/no, on/off)")


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("expected a path starting with /")
    return value


def _secret(value: str) -> str:
    keys = secret_ring(value)
    if not keys or any(len(key) < 16 for key in keys):
        raise ValueError("expected at least 16 characters of secret (each, in a ring)")
    return ",".join(keys)


def secret_ring(value: str) -> list[str]:
    """The keys of a ``FASTMCP_STATE_SECRET`` value: one secret, or a ring of them
    separated by commas, newest first (for rotation)."""
    return [key.strip() for key in value.split(",") if key.strip()]


def _store(value: str) -> str:
    value = value.strip()
    scheme, sep, _ = value.partition("://")
    if not sep or scheme.lower() not in ("memory", "redis", "rediss", "unix"):
        raise ValueError("expected memory:// or redis://HOST:PORT/DB (rediss://, unix://)")
    return value


VARIABLES: tuple[Variable, ...] = (
    Variable("FASTMCP_TRANSPORT", "transport", _choice("stdio", "http"),
             "`stdio` (default) or `http`: what `server.run()` and `fastmcp run` serve"),
    Variable("FASTMCP_HOST", "host", str.strip,
             "HTTP: the address to bind (default `127.0.0.1`)"),
    Variable("FASTMCP_PORT", "port", _port, "HTTP: the port (default 8000; 0 picks a free one)"),
    Variable("FASTMCP_PATH", "path", _path, "HTTP: the MCP endpoint's path (default `/mcp`)"),
    Variable("FASTMCP_STATELESS", "stateless", _flag,
             "HTTP: no sessions, every request on its own (default false)"),
    Variable("FASTMCP_HTTP_SERVER", "http_server", _choice("h1", "hypercorn"),
             "HTTP: `h1` (default, our own HTTP/1.1 server) or `hypercorn` (HTTP/2 too)"),
    Variable("FASTMCP_LOG_LEVEL", "log_level",
             _choice("debug", "info", "warning", "error", "critical"),
             "the level of the server's log on stderr (default `warning`)"),
    Variable("FASTMCP_SHUTDOWN_GRACE", "shutdown_grace", _seconds,
             "seconds the requests in flight get to finish when the server stops (default 10)"),
    Variable("FASTMCP_STATE_SECRET", "state_secret", _secret,
             "the key of the `requestState` of multi round-trip requests: give every replica "
             "the same one (default: a random key per process); a ring `new,old` for "
             "rotation", secret=True),
    Variable("FASTMCP_SERVER_AUTH", "server_auth", _choice(*AUTH_KINDS),
             "HTTP: put authorization in front: `static`, `github`, `google` or `oidc`, "
             "configured by the `FASTMCP_SERVER_AUTH_*` variables (see the server README)"),
    Variable("FASTMCP_STORE", "store", _store,
             "where replicas share tasks, subscriptions and HTTP sessions: `redis://HOST:PORT/DB` (needs "
             "`fastmcp-server[redis]`) or `memory://` (default: this process alone)",
             secret=True),
)  # fmt: skip


@attrs.frozen
class Settings:
    """The settings a server is started with (see the module docstring)."""

    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    path: str = "/mcp"
    stateless: bool = False
    http_server: Literal["h1", "hypercorn"] = "h1"
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "warning"
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE
    state_secret: str | None = None
    server_auth: str | None = None
    store: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The defaults, with every ``FASTMCP_*`` variable of ``environ`` (default:
        this process's environment) that is set and not empty applied. Raises
        ``SettingsError`` naming the first variable that cannot be read."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for variable in VARIABLES:
            raw = environ.get(variable.name)
            if raw is None or raw == "":
                continue
            try:
                values[variable.field] = variable.parse(raw)
            except ValueError as exc:
                shown = variable.name if variable.secret else f"{variable.name}={raw!r}"
                raise SettingsError(f"{shown}: {exc}") from None
        return cls(**values)
