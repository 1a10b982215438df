"""Where an ``OAuthProxy`` keeps its state: ``ProxyStore``, and the in-memory default.

The proxy keeps five kinds of records, each an encoded msgspec struct under a key:
registered clients (``client``, no expiry), authorizations waiting for the user's
consent (``consent``) or for the identity provider (``flow``), authorization codes
(``code``, and ``used-code`` once redeemed), refresh tokens (``refresh``) and grants
(``grant``: what one authorization gave, which its tokens point to; deleting it
revokes them all). Codes and refresh tokens are stored under the SHA-256 of their
value, never the value itself, so that a copy of the store holds nothing usable.

The interface is four operations with a time to live, which a shared store (Redis:
``SET ... EX``, ``GET``, ``GETDEL``, ``DEL``) implements as they are, so that every
replica of a server sees the same clients, codes and tokens. ``take`` must be atomic:
it is what makes codes and refresh tokens single-use when two requests race.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs
import trio

from fastmcp_protocol import LocalError

__all__ = ["InMemoryProxyStore", "ProxyStore", "StoreFull"]


class StoreFull(LocalError):
    """The store refuses a new record (the in-memory store's ``max_records``): the
    request gets 503."""


@runtime_checkable
class ProxyStore(Protocol):
    """Keyed records with a time to live (see the module docstring).

    ``ttl`` is in seconds (``None``: kept until deleted). Records are opaque bytes.
    Operations may be cancelled at any await: a cancelled ``put`` may or may not have
    stored, a cancelled ``take`` may or may not have removed (the proxy treats a
    record it did not get as absent).
    """

    async def put(self, kind: str, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` (replacing any) for ``ttl`` seconds."""
        ...

    async def get(self, kind: str, key: str) -> bytes | None:
        """The record, or ``None`` when absent or expired."""
        ...

    async def take(self, kind: str, key: str) -> bytes | None:
        """Remove and return the record, atomically: of two concurrent takes of the
        same key, at most one gets it."""
        ...

    async def delete(self, kind: str, key: str) -> None:
        """Remove the record, if any."""
        ...


@attrs.define(eq=False)
class InMemoryProxyStore:
    """A ``ProxyStore`` in this process: lost on restart, not shared between replicas.

    Expiry is measured on trio's clock (``trio.current_time``: a test's ``MockClock``
    moves it). ``max_records`` bounds the memory an open registration endpoint can be
    made to use: past it, expired records are dropped, and if that is not enough the
    new record is refused (``StoreFull``).
    """

    max_records: int = 100_000
    _records: dict[tuple[str, str], tuple[float, bytes]] = attrs.field(init=False, factory=dict)

    def __len__(self) -> int:
        return len(self._records)

    async def put(self, kind: str, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` for ``ttl`` seconds (``StoreFull`` past ``max_records``)."""
        now = trio.current_time()
        if (kind, key) not in self._records and len(self._records) >= self.max_records:
            self._purge(now)
            if len(self._records) >= self.max_records:
                raise StoreFull(f"the proxy store holds {self.max_records} records already")
        expires = float("inf") if ttl is None else now + ttl
        self._records[kind, key] = (expires, value)

    async def get(self, kind: str, key: str) -> bytes | None:
        """The record, or ``None`` when absent or expired."""
        found = self._records.get((kind, key))
        if found is None:
            return None
        if found[0] <= trio.current_time():
            del self._records[kind, key]
            return None
        return found[1]

    async def take(self, kind: str, key: str) -> bytes | None:
        """Remove and return the record (atomic: there is no await in between)."""
        found = self._records.pop((kind, key), None)
        if found is None or found[0] <= trio.current_time():
            return None
        return found[1]

    async def delete(self, kind: str, key: str) -> None:
        """Remove the record, if any."""
        self._records.pop((kind, key), None)

    def _purge(self, now: float) -> None:
        expired = [key for key, (expires, _) in self._records.items() if expires <= now]
        for key in expired:
            del self._records[key]
