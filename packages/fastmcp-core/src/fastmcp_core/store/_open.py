"""Stores named by URLs (``FASTMCP_STORE``, ``fastmcp run --store``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastmcp_core.store._base import Store

__all__ = ["open_store"]


def open_store(url: str) -> Store:
    """The store a URL names: ``memory://`` (this process's memory), ``redis://HOST:PORT/DB``,
    ``rediss://...`` or ``unix:///path?db=N`` (Redis; needs ``coredis``:
    ``pip install "fastmcp-core[redis]"``). Redis URLs take ``prefix=`` (of every key,
    default ``fastmcp``), ``lease=`` (seconds, default 10), ``log_ttl=`` (seconds an
    event log is kept after its last event, default 3600) and ``log_limit=`` (events
    an event log keeps, default 10000) as query options.
    ``ValueError`` for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from fastmcp_core.store._memory import MemoryStore

        return MemoryStore()
    if scheme in ("redis", "rediss", "unix"):
        from fastmcp_core.store._redis import RedisStore

        return RedisStore.from_url(url)
    raise ValueError(f"unknown store {url!r}: expected memory:// or redis://HOST:PORT/DB")
