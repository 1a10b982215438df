"""Helpers shared by the transport tests."""

from __future__ import annotations

from fastmcp_core import Transport


async def send_until_refused(transport: Transport) -> None:
    """Send big frames until the transport refuses (pipes buffer a little first)."""
    for _ in range(1000):
        await transport.send(b'{"x":"' + b"1" * 100_000 + b'"}')
