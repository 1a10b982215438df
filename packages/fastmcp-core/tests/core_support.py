"""Helpers for the core tests: a pipe transport and a table-driven dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import msgspec
import trio

from fastmcp_core import McpContext, Session, TransportClosed
from fastmcp_protocol import (
    METHOD_NOT_FOUND,
    UNSET,
    CallToolResult,
    JSONRPCNotification,
    JSONRPCRequest,
    McpError,
    RequestId,
    TextContent,
)


@attrs.define(eq=False)
class PipeEnd:
    """One end of an in-process pipe; records what it sent with its routing."""

    inbox: trio.MemoryReceiveChannel[bytes]
    outbox: trio.MemorySendChannel[bytes]
    sent: list[tuple[bytes, RequestId | None, bool]] = attrs.field(factory=list)

    async def receive(self) -> bytes:
        try:
            return await self.inbox.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise TransportClosed("end of input") from None

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        self.sent.append((frame, related, final))
        if not frame:
            return
        try:
            await self.outbox.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise TransportClosed("the peer closed the pipe") from None

    async def aclose(self) -> None:
        await self.outbox.aclose()
        await self.inbox.aclose()

    async def frames(self) -> list[dict[str, Any]]:
        """Every frame waiting to be received, decoded (without waiting; the peer may
        have closed its end after them)."""
        out = []
        while True:
            try:
                out.append(msgspec.json.decode(self.inbox.receive_nowait()))
            except (trio.WouldBlock, trio.EndOfChannel):
                return out

    async def next(self) -> Any:
        return msgspec.json.decode(await self.receive())


def pipe(size: float = 1000) -> tuple[PipeEnd, PipeEnd]:
    a_send, b_recv = trio.open_memory_channel[bytes](size)
    b_send, a_recv = trio.open_memory_channel[bytes](size)
    return PipeEnd(a_recv, a_send), PipeEnd(b_recv, b_send)


HandlerFn = Callable[[McpContext, dict[str, Any]], Awaitable[Any]]


@attrs.define(eq=False)
class TableDispatcher:
    """Routes by method to ``handlers[method](ctx, params_dict)``."""

    handlers: dict[str, HandlerFn] = attrs.field(factory=dict)
    notes: list[JSONRPCNotification] = attrs.field(factory=list)
    version: str = "2025-11-25"
    log_level: str | None = "debug"
    prepare: Callable[[McpContext, dict[str, Any]], None] | None = None

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Callable[[], Awaitable[Any]]:
        fn = self.handlers.get(request.method)
        if fn is None:
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {request.method}")
        params = msgspec.json.decode(request.params) if request.params is not UNSET else {}
        meta = params.get("_meta") or {}
        ctx.progress_token = meta.get("progressToken")
        ctx.protocol_version = self.version
        ctx.log_level = self.log_level  # type: ignore[assignment]
        if self.prepare is not None:
            self.prepare(ctx, params)

        async def call() -> Any:
            return await fn(ctx, params)

        return call

    async def notification(self, note: JSONRPCNotification) -> None:
        self.notes.append(note)


def text(value: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=value)])


async def start(nursery: trio.Nursery, dispatcher: Any, **options: Any) -> tuple[Session, PipeEnd]:
    """A session serving ``dispatcher`` on one end of a pipe; returns the other end."""
    ours, theirs = pipe()
    session = Session(ours, dispatcher, **options)
    await nursery.start(session.run)
    return session, theirs


def request(rid: RequestId, method: str, params: Any = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        body["params"] = params
    return msgspec.json.encode(body)


def notification(method: str, params: Any = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        body["params"] = params
    return msgspec.json.encode(body)


def cancel(rid: RequestId, reason: str = "user") -> bytes:
    return notification("notifications/cancelled", {"requestId": rid, "reason": reason})


class FramesTransport:
    """A transport that hands over its frames without yielding (the lines of one
    read) and records what is sent: the reader serves each request in its own task,
    as far as it goes without waiting. ``send_waits``: each send then waits that
    long, as a writer over its high-water mark does (the frame is queued: it is
    written whatever happens to the wait)."""

    def __init__(self, frames: list[bytes], *, send_waits: float = 0) -> None:
        self.frames = frames
        self.sent: list[Any] = []
        self.send_waits = send_waits

    async def receive(self) -> bytes:
        if self.frames:
            return self.frames.pop(0)
        await trio.sleep_forever()
        raise AssertionError

    async def send(self, frame: bytes, *, related: Any = None, final: bool = False) -> None:
        if frame:
            self.sent.append(msgspec.json.decode(frame))
            if self.send_waits:
                await trio.sleep(self.send_waits)

    async def aclose(self) -> None:
        pass
