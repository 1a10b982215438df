"""A minimal raw client for the server tests: a core Session over a memory pair.

The tests speak the protocol by hand (dict params, decoded JSON results) so they
check the wire, not a client library's interpretation of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import msgspec
import trio

from fastmcp_core import McpContext, Session
from fastmcp_protocol import (
    ClientCapabilities,
    ElicitationCapability,
    JSONRPCNotification,
    JSONRPCRequest,
    McpError,
    RootsCapability,
    SamplingCapability,
    modern_request_meta,
)
from fastmcp_server import Server
from fastmcp_transport import memory_pair

MODERN = "2026-07-28"
CAPS = ClientCapabilities(
    sampling=SamplingCapability(),
    elicitation=ElicitationCapability(form={}),
    roots=RootsCapability(),
)


class _Json(msgspec.Struct):
    """Decode any result as plain JSON."""


@attrs.define(eq=False)
class RawClient:
    session: Session
    modern: bool
    notes: list[JSONRPCNotification]
    caps: dict[str, Any]
    answers: dict[str, Any]
    progress: list[dict[str, Any]] = attrs.field(factory=list)

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        with_progress: bool = False,
        **meta: Any,
    ) -> Any:
        params = dict(params or {})
        if self.modern:
            full = modern_request_meta(
                client_capabilities=msgspec.convert(self.caps, ClientCapabilities)
            )
            full.update(params.get("_meta", {}))
            full.update(meta)
            params["_meta"] = full
        elif meta:
            params["_meta"] = {**params.get("_meta", {}), **meta}
        on_progress = self._record_progress if with_progress else None
        return await self.session.request(method, params, dict, on_progress=on_progress)

    async def _record_progress(self, params: Any) -> None:
        self.progress.append(msgspec.to_builtins(params))

    async def error(
        self, method: str, params: dict[str, Any] | None = None, **meta: Any
    ) -> McpError:
        try:
            await self.call(method, params, **meta)
        except McpError as exc:
            return exc
        raise AssertionError(f"{method} did not fail")

    def notifications(self, method: str) -> list[dict[str, Any]]:
        return [
            msgspec.json.decode(n.params) if n.params is not msgspec.UNSET else {}
            for n in self.notes
            if n.method == method
        ]


class _ClientSide:
    """Answers the server's requests (legacy era) with canned answers."""

    def __init__(self, client: RawClient) -> None:
        self.client = client

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Any:
        answer = self.client.answers.get(request.method)
        if answer is None:
            raise McpError(-32601, f"no answer for {request.method}")

        async def respond() -> Any:
            return answer(msgspec.json.decode(request.params)) if callable(answer) else answer

        return respond

    async def notification(self, note: JSONRPCNotification) -> None:
        self.client.notes.append(note)


@asynccontextmanager
async def connect(
    server: Server,
    *,
    modern: bool = False,
    initialize: bool = True,
    version: str = "2025-11-25",
    caps: dict[str, Any] | None = None,
    answers: dict[str, Any] | None = None,
) -> AsyncIterator[RawClient]:
    client_end, server_end = memory_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_transport, server_end)
        client = RawClient(
            None, modern, [], caps if caps is not None else msgspec.to_builtins(CAPS), answers or {}
        )  # type: ignore[arg-type]
        session = Session(client_end, _ClientSide(client), drain_on_eof=None)
        client.session = session
        await nursery.start(session.run)
        if not modern and initialize:
            await client.call(
                "initialize",
                {
                    "protocolVersion": version,
                    "capabilities": client.caps,
                    "clientInfo": {"name": "test", "version": "1"},
                },
            )
            await session.notify("notifications/initialized")
            await client.call("ping")  # answered after the notification was handled
        try:
            yield client
        finally:
            # closing our end ends the server's connection gracefully (lifespan exits
            # normally); the nursery then waits for it
            await session.aclose()
