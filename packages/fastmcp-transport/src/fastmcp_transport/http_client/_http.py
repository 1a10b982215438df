"""What both HTTP clients share: the httpx client, timeouts, SSE reading, errors.

Timeouts. ``timeout`` (seconds) bounds connecting, writing a request, waiting for a
connection from the pool, and reading short answers (the ``202`` to a notification,
the opening of an SSE stream in the legacy transport, a ``DELETE``). Reading the
answer to a request is not bounded here: a tool may take minutes, and a
``subscriptions/listen`` stream stays open for hours. The session engine's request
timeout governs those: it cancels the request, which closes its stream.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from typing import cast

import httpx
import trio

from fastmcp_core import TransportClosed
from fastmcp_transport._sse import SSEEvent, SSEParser

__all__ = [
    "EVENT_STREAM",
    "JSON",
    "SessionExpired",
    "background_nursery",
    "base_headers",
    "content_type",
    "describe",
    "http_client_for",
    "is_message",
    "parse_url",
    "sse_events",
    "timeouts",
]

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


class SessionExpired(TransportClosed):
    """The server no longer knows this session (HTTP 404 on a request that carried
    its ``Mcp-Session-Id``, or on the message endpoint of the legacy HTTP+SSE
    transport).

    The transport is closed: every request still waiting fails with this message.
    The specification says the client starts a new session: a new transport (or a
    new HTTP+SSE connection) and ``initialize`` again.
    """

    def __init__(self, message: str, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


def timeouts(timeout: float | None) -> tuple[httpx.Timeout, httpx.Timeout]:
    """``(short, stream)``: for answers that come at once, and for response streams."""
    return httpx.Timeout(timeout), httpx.Timeout(timeout, read=None, pool=None)


@asynccontextmanager
async def http_client_for(
    http_client: httpx.AsyncClient | None, timeout: httpx.Timeout
) -> AsyncIterator[httpx.AsyncClient]:
    """The caller's client (left open), or one of our own (closed on exit).

    Our own follows redirects: servers mounted at ``/mcp`` often redirect to
    ``/mcp/`` with a 307, which keeps the method and the body (httpx drops the
    ``Authorization`` header when a redirect leaves the origin).
    """
    if http_client is not None:
        yield http_client
        return
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
        yield client


def parse_url(url: str) -> httpx.URL:
    """``url`` parsed once for all the requests to it; ``ValueError`` unless it is an
    absolute http or https URL."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http or https URL: {url!r}")
    return parsed


def content_type(response: httpx.Response) -> str:
    """The media type of a response, lower-cased, without parameters."""
    value: str = response.headers.get("content-type", "")
    return value.partition(";")[0].strip().lower()


def describe(exc: BaseException) -> str:
    """An httpx failure in words: its kind and, when it has one, its message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def sse_events(response: httpx.Response, parser: SSEParser) -> AsyncGenerator[SSEEvent, None]:
    """The events of an SSE response as they arrive; ``parser`` keeps the last event
    id and the retry interval, so a reconnection can pick them up.

    To stop early, cancel a scope around the loop and keep iterating until the
    cancellation lands: httpx's body iterators nest async generators that only end
    cleanly by exhaustion or by an exception raised inside them; leaving the loop
    with ``break`` hands them to the garbage collector (and trio warns).
    """
    body = cast(AsyncGenerator[bytes, None], response.aiter_bytes())  # it is one
    async with aclosing(body) as chunks:
        async for chunk in chunks:
            for event in parser.feed(chunk):
                yield event


def is_message(event: SSEEvent) -> bool:
    """Whether an event carries a JSON-RPC message (priming events carry only an id
    and a retry interval; other event types are not MCP's)."""
    return event.event == "message" and bool(event.data) and not event.data.isspace()


def base_headers(extra: Mapping[str, str] | None, accept: str) -> dict[str, str]:
    """The headers every request of one kind carries, built once per transport."""
    headers = {name.lower(): value for name, value in (extra or {}).items()}
    headers["accept"] = accept  # the transport's, whatever the caller passed
    return headers


@asynccontextmanager
async def background_nursery() -> AsyncIterator[trio.Nursery]:
    """A nursery for a transport's background tasks, hidden inside a context manager.

    The tasks never raise (they turn every failure into frames or a closed
    transport), so an exception that leaves the block is the body's own - a caller's
    ``McpError``, a failed start - and comes out as it is, not wrapped in an
    exception group the caller never asked for.
    """
    single: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            yield nursery
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        single = group.exceptions[0]
    if single is not None:
        raise single  # outside the handler: its own context, not the group's
