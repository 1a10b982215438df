"""The connection state machine: eras and the session era's handshake."""

from __future__ import annotations

from typing import Any

import attrs
import msgspec
import pytest
import trio
import trio.testing

from fastmcp_core import TransportClosed
from fastmcp_protocol import ClientCapabilities, Implementation, McpError
from fastmcp_server import Server
from fastmcp_server._state import Accepts, ConnectionState, Era, Phase

CLIENT = Implementation(name="c", version="1")
MODERN_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


def test_the_era_comes_from_the_decoded_meta_and_the_kind_of_connection() -> None:
    both = ConnectionState(Accepts.BOTH)
    assert both.era_of(MODERN_META) is Era.MODERN
    assert both.era_of({"progressToken": 1}) is Era.SESSION
    assert both.era_of(None) is Era.SESSION
    assert ConnectionState(Accepts.MODERN_ONLY).era_of(None) is Era.MODERN
    assert ConnectionState(Accepts.SESSION_ONLY).era_of(MODERN_META) is Era.SESSION


async def test_the_handshake_follows_its_table() -> None:
    state = ConnectionState()
    assert state.phase is Phase.NEW
    with pytest.raises(McpError, match="not initialized"):
        state.check_session_request("tools/list")
    state.check_session_request("ping")  # allowed before the handshake
    state.read(1, "initialize")
    assert state.phase is Phase.INITIALIZING
    state.read(2, "initialize")  # a second one read meanwhile is no transition
    with pytest.raises(McpError, match="already initialized"):
        state.check_initialize(2)
    state.check_initialize(1)
    state.negotiated("2025-11-25", CLIENT, ClientCapabilities())
    assert state.phase is Phase.NEGOTIATED
    state.check_session_request("tools/list")
    with pytest.raises(McpError, match="already initialized"):
        state.check_initialize(3)
    await state.initialized()
    assert state.phase is Phase.READY


async def test_initialized_read_before_the_answer_waits_for_it() -> None:
    state = ConnectionState()
    state.read(1, "initialize")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(state.initialized)
        await trio.testing.wait_all_tasks_blocked()
        assert state.phase is Phase.INITIALIZING
        state.negotiated("2025-11-25", CLIENT, ClientCapabilities())
    assert state.phase is Phase.READY
    assert state.ready


async def test_a_refused_initialize_goes_back_to_new() -> None:
    state = ConnectionState()
    state.read(1, "initialize")
    state.routed(1)  # routing ended without an answer
    assert state.phase is Phase.NEW
    await state.initialized()  # nothing to wait for, and no transition from NEW
    assert state.phase is Phase.NEW
    state.read(2, "initialize")
    assert state.phase is Phase.INITIALIZING


async def test_two_pipelined_initializes_negotiate_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Both read in one go: the first negotiates, the second is refused, and a
    request read after them sees the negotiated session."""

    @attrs.define
    class Pipe:
        frames: list[bytes]
        sent: list[bytes] = attrs.field(factory=list)

        async def receive(self) -> bytes:
            if self.frames:
                return self.frames.pop(0)
            await trio.sleep(1)
            raise TransportClosed("end of input")

        async def send(self, frame: bytes, *, related: Any = None, final: bool = False) -> None:
            self.sent.append(frame)

        async def aclose(self) -> None:
            pass

    def initialize(rid: int, version: str) -> bytes:
        return msgspec.json.encode(
            {
                "jsonrpc": "2.0",
                "id": rid,
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "pipe", "version": "1"},
                },
            }
        )

    pipe = Pipe(
        [
            initialize(1, "2025-06-18"),
            initialize(2, "2025-11-25"),
            b'{"jsonrpc":"2.0","id":3,"method":"tools/list"}',
        ]
    )
    await Server("twice").serve_transport(pipe)
    answers = {m["id"]: m for m in map(msgspec.json.decode, pipe.sent)}
    assert answers[1]["result"]["protocolVersion"] == "2025-06-18"
    assert answers[2]["error"]["code"] == -32600
    assert "tools" in answers[3]["result"]
