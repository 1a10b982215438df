"""Rate limiting middleware: a token bucket and a sliding window, per client.

Both count every request (``on_request``) of one client - or of everyone, with
``global_limit=True`` - and refuse the ones over the limit with ``RateLimitError``
(JSON-RPC error -32000, ``Rate limit exceeded``); the refused request never reaches
routing or the handler. Time is trio's clock (``trio.current_time``), so a test's
``MockClock`` drives it.

Who the client is: ``get_client_id(context)`` when given, else the authenticated
principal (HTTP with authorization), else the legacy HTTP session, else the HTTP
client's address, else the connection (stdio, in-memory). A stateless 2026-07-28
HTTP request without authorization is known by its address only: behind a proxy,
pass ``get_client_id`` (reading a header, say).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
import trio

from fastmcp_core import ProtocolError
from fastmcp_server._middleware import Middleware, MiddlewareContext, NextHook

__all__ = [
    "RATE_LIMITED",
    "RateLimitError",
    "RateLimitingMiddleware",
    "SlidingWindowRateLimitingMiddleware",
    "client_id_of",
]

RATE_LIMITED = -32000
ClientId = Callable[[MiddlewareContext], str]
_PRUNE_AT = 4096
"""Beyond this many clients, those with nothing to remember are forgotten."""


class RateLimitError(ProtocolError):
    """A request over its client's rate limit (JSON-RPC error -32000)."""

    def __init__(self, message: str = "Rate limit exceeded") -> None:
        super().__init__(RATE_LIMITED, message)


def client_id_of(context: MiddlewareContext) -> str:
    """Who sent the message (see the module docstring)."""
    ctx = context.fastmcp_context
    principal = ctx.principal
    if principal is not None:
        return f"principal:{getattr(principal, 'id', None) or principal}"
    if ctx.session_id is not None:
        return f"session:{ctx.session_id}"
    connection = context.connection
    info = connection.info if connection is not None else None
    if info is not None and info.client is not None:
        return f"address:{info.client[0]}"
    return f"connection:{id(connection)}"


@attrs.define(eq=False)
class _Bucket:
    tokens: float
    updated: float


@attrs.define(eq=False, init=False)
class RateLimitingMiddleware(Middleware):
    """A token bucket per client: ``max_requests_per_second`` on average, bursts of up
    to ``burst_capacity`` (default: twice the rate) at once."""

    max_requests_per_second: float
    burst_capacity: float
    get_client_id: ClientId | None
    global_limit: bool
    _buckets: dict[str, _Bucket]

    def __init__(
        self,
        max_requests_per_second: float = 10.0,
        burst_capacity: float | None = None,
        get_client_id: ClientId | None = None,
        global_limit: bool = False,
    ) -> None:
        if max_requests_per_second <= 0:
            raise ValueError("max_requests_per_second must be positive")
        self.max_requests_per_second = max_requests_per_second
        self.burst_capacity = (
            burst_capacity if burst_capacity is not None else 2 * max_requests_per_second
        )
        self.get_client_id = get_client_id
        self.global_limit = global_limit
        self._buckets = {}

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        client = "global" if self.global_limit else (self.get_client_id or client_id_of)(context)
        now = trio.current_time()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(self.burst_capacity, now)
        else:
            refill = (now - bucket.updated) * self.max_requests_per_second
            bucket.tokens = min(self.burst_capacity, bucket.tokens + refill)
            bucket.updated = now
        if bucket.tokens < 1:
            raise RateLimitError(
                f"Rate limit exceeded: {self.max_requests_per_second:g} requests per second"
            )
        bucket.tokens -= 1
        return await call_next(context)

    def _forget_full(self, now: float) -> None:
        """Forget the clients whose bucket has filled up again (a new one is full)."""
        rate, capacity = self.max_requests_per_second, self.burst_capacity
        for client, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * rate >= capacity:
                del self._buckets[client]


@attrs.define(eq=False, init=False)
class SlidingWindowRateLimitingMiddleware(Middleware):
    """At most ``max_requests`` per client in any window of ``window_minutes``
    (no bursts beyond it)."""

    max_requests: int
    window_seconds: float
    get_client_id: ClientId | None
    global_limit: bool
    _seen: dict[str, deque[float]]

    def __init__(
        self,
        max_requests: int,
        window_minutes: float = 1,
        get_client_id: ClientId | None = None,
        global_limit: bool = False,
    ) -> None:
        if max_requests < 1 or window_minutes <= 0:
            raise ValueError("max_requests and window_minutes must be positive")
        self.max_requests = max_requests
        self.window_seconds = window_minutes * 60
        self.get_client_id = get_client_id
        self.global_limit = global_limit
        self._seen = {}

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        client = "global" if self.global_limit else (self.get_client_id or client_id_of)(context)
        now = trio.current_time()
        if client not in self._seen and len(self._seen) >= _PRUNE_AT:
            for known in [
                k for k, q in self._seen.items() if not q or q[-1] <= now - self.window_seconds
            ]:
                del self._seen[known]  # nothing left in the window to remember
        seen = self._seen.setdefault(client, deque())
        while seen and seen[0] <= now - self.window_seconds:
            seen.popleft()
        if len(seen) >= self.max_requests:
            raise RateLimitError(
                f"Rate limit exceeded: {self.max_requests} requests per "
                f"{self.window_seconds:g} seconds"
            )
        seen.append(now)
        return await call_next(context)
