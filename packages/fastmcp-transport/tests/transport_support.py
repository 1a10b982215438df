"""Helpers shared by the transport tests."""

from __future__ import annotations

from fastmcp_core import Transport


async def send_until_refused(transport: Transport) -> None:
    """Send big notifications until the transport refuses (pipes buffer a little first)."""
    frame = b'{"jsonrpc":"2.0","method":"test","params":{"x":"' + b"1" * 100_000 + b'"}}'
    for _ in range(1000):
        await transport.send(frame)
