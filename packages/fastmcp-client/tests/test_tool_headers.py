"""Tools with x-mcp-header annotations: the client registers every listed tool with a
transport that can mirror parameters into headers (Streamable HTTP), and leaves out the
tools the transport refuses."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
from client_support import FakeServer, text

from fastmcp_client import Client
from fastmcp_core import Transport
from fastmcp_protocol import RequestId, Tool
from fastmcp_transport import memory_pair
from fastmcp_transport.http_client import tool_param_headers

GOOD = {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}
BAD = {"type": "object", "properties": {"n": {"type": "number", "x-mcp-header": "N"}}}


@attrs.define(eq=False)
class RegisteringTransport:
    """A memory transport with the ``register_tool`` of the HTTP transport."""

    inner: Transport
    registered: dict[str, Any] = attrs.field(factory=dict)

    def register_tool(self, name: str, input_schema: dict[str, Any]) -> None:
        self.registered[name] = tool_param_headers(input_schema)  # raises when invalid

    async def receive(self) -> bytes:
        return await self.inner.receive()

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        await self.inner.send(frame, related=related, final=final)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _ok() -> Any:
    return text("ok")


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_invalid_tools_are_left_out_in_the_modern_era(
    era: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeServer(era=era)  # type: ignore[arg-type]
    for name, schema in (("good", GOOD), ("bad", BAD)):
        fake.tool(name, lambda ctx, args: _ok())
        fake.tool_defs[-1] = Tool(name=name, input_schema=schema)
    client_end, server_end = memory_pair()
    transport = RegisteringTransport(client_end)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fake.serve_transport, server_end)
        async with Client(transport) as client:
            names = [tool.name for tool in await client.list_all_tools()]
    if era == "modern":
        assert names == ["good"]
        assert [rule.name for rule in transport.registered["good"]] == ["Mcp-Param-Region"]
        assert "ignoring tool 'bad'" in caplog.text
    else:  # x-mcp-header is a 2026-07-28 feature
        assert names == ["good", "bad"]
        assert transport.registered == {}
