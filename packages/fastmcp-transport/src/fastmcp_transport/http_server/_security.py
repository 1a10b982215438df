"""DNS-rebinding protection: ``Host`` and ``Origin`` against allow-lists.

A web page on ``evil.example`` can make the browser resolve its own name to
127.0.0.1 and then talk to a local MCP server as if it were the same origin. The
browser still sends ``Host: evil.example`` (and ``Origin: http://evil.example``), so a
server that only answers requests naming the hosts it expects is safe. Both checks
run before anything else, sessions included; a refused request gets 403 and a
JSON-RPC error without ``id``, as the specification says.

Patterns (compiled once): ``"localhost"`` matches that host on any port,
``"localhost:8000"`` only that port, ``"*"`` anything; origins are written
``"https://app.example.com"`` (any port) or with a port. Host names compare
case-insensitively; IPv6 literals keep their brackets (``"[::1]"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

__all__ = ["LOCAL_HOSTS", "LOCAL_ORIGINS", "DnsRebindingProtection"]

LOCAL_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
"""The loopback names: the default ``Host`` allow-list (any port)."""

LOCAL_ORIGINS: tuple[str, ...] = tuple(
    f"{scheme}://{host}" for scheme in ("http", "https") for host in LOCAL_HOSTS
)
"""Pages served from the loopback names: the default ``Origin`` allow-list (any port)."""


_PASSED_LIMIT = 64
"""How many allowed ``Host`` values ``DnsRebindingProtection`` remembers."""


def _split_host(value: str) -> tuple[str, str | None]:
    """``host[:port]`` into the lower-cased host (IPv6 keeps brackets) and the port."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, None
        host, rest = value[: end + 1], value[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return value, None
    return host, port


def _compile(patterns: Sequence[str] | None) -> frozenset[tuple[str, str | None]] | None:
    if patterns is None or "*" in patterns:
        return None
    return frozenset(_split_host(p) for p in patterns)


def _matches(allowed: frozenset[tuple[str, str | None]], host: str, port: str | None) -> bool:
    return (host, None) in allowed or (port is not None and (host, port) in allowed)


@attrs.frozen
class DnsRebindingProtection:
    """Which ``Host`` and ``Origin`` values the server answers.

    The defaults allow only the loopback names (any port): right for a server on
    127.0.0.1. A server reachable under other names lists them in ``allowed_hosts``
    (and the web origins allowed to call it in ``allowed_origins``); ``None`` turns a
    check off. A request without ``Origin`` (not from a browser) passes the origin
    check; one without ``Host`` (HTTP/1.0) passes the host check, since a browser
    always sends it.
    """

    allowed_hosts: Sequence[str] | None = LOCAL_HOSTS
    allowed_origins: Sequence[str] | None = LOCAL_ORIGINS
    _hosts: frozenset[tuple[str, str | None]] | None = attrs.field(init=False)
    _origins: frozenset[tuple[str, str | None]] | None = attrs.field(init=False)
    _passed: set[str] = attrs.field(init=False, eq=False, hash=False, repr=False)
    """``Host`` values seen allowed (a few: the names the server is reached by), so that
    each request does not parse its ``Host`` again."""

    def __attrs_post_init__(self) -> None:
        # compiled once; frozen attrs classes set derived fields this way
        object.__setattr__(self, "_hosts", _compile(self.allowed_hosts))
        object.__setattr__(self, "_origins", _compile(self.allowed_origins))
        object.__setattr__(self, "_passed", set())

    def refusal(self, headers: Mapping[str, str]) -> str | None:
        """Why a request with these (lower-cased) headers is refused, or ``None``."""
        if self._hosts is not None:
            host = headers.get("host")
            if host is not None and host not in self._passed:
                if not _matches(self._hosts, *_split_host(host)):
                    return f"Forbidden: Host {host.strip()!r} is not allowed"
                if len(self._passed) < _PASSED_LIMIT:
                    self._passed.add(host)
        if self._origins is not None:
            origin = headers.get("origin")
            if origin is not None and not _matches(self._origins, *_split_host(origin)):
                return f"Forbidden: Origin {origin.strip()!r} is not allowed"
        return None

    @property
    def local_only(self) -> bool:
        """Whether only loopback names are allowed as ``Host`` (the default)."""
        return self._hosts is not None and all(h in LOCAL_HOSTS for h, _ in self._hosts)
