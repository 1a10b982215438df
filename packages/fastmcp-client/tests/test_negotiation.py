"""Era negotiation: probe server/discover, fall back to initialize, forced versions."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from client_support import SERVER_INFO, FakeServer, sent, text

import fastmcp_client
from fastmcp_client import Client, ConfigError, IncompatibleServer
from fastmcp_core import McpContext, Transport
from fastmcp_protocol import (
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    CallToolResult,
    McpError,
    TextContent,
)


async def echo(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    return text(str(args.get("message")))


def server(era: Any = "dual", **options: Any) -> FakeServer:
    fake = FakeServer(era=era, **options)
    fake.tool("echo", echo)
    return fake


async def test_a_modern_server_is_found_by_discover() -> None:
    fake = server("dual")
    async with Client(fake) as client:
        assert client.is_modern
        assert client.protocol_version == "2026-07-28"
        assert client.server_info == SERVER_INFO
        assert client.instructions == "Use the tools."
        assert client.server_capabilities.tools is not None
        assert client.supported_versions == ["2026-07-28"]
        result = await client.call_tool("echo", {"message": "hi"})
    assert result.content == [TextContent(text="hi")]
    assert [m for m, _ in fake.requests] == ["server/discover", "tools/call"]
    assert fake.legacy_version is None  # never initialized


async def test_every_modern_request_carries_the_per_request_meta() -> None:
    fake = server()
    async with Client(fake, elicitation_handler=None) as client:
        await client.list_tools()
        await client.call_tool("echo", {"message": "x"})
    for method, params in fake.requests:
        meta = params["_meta"]
        assert meta[META_PROTOCOL_VERSION] == "2026-07-28", method
        assert meta[META_CLIENT_INFO] == {
            "name": "fastmcp-client",
            "version": fastmcp_client.__version__,
        }
        assert META_CLIENT_CAPABILITIES in meta


async def test_a_legacy_server_gets_initialize_after_the_probe_fails() -> None:
    fake = server("legacy")
    async with Client(fake) as client:
        assert not client.is_modern
        assert client.protocol_version == "2025-11-25"
        assert client.server_info == SERVER_INFO
        assert client.server_capabilities.tasks is not None
        result = await client.call_tool("echo", {"message": "old"})
    assert result.content == [TextContent(text="old")]
    methods = [m for m, _ in fake.requests]
    assert methods == ["server/discover", "initialize", "tools/call"]
    assert [n.method for n in fake.notes] == ["notifications/initialized"]
    # legacy requests carry no per-request meta
    assert "_meta" not in sent(fake, "tools/call")[0]


async def test_initialize_offers_the_newest_legacy_version_and_accepts_an_older_answer() -> None:
    fake = server("legacy", legacy_versions=["2025-03-26"])
    async with Client(fake) as client:
        assert client.protocol_version == "2025-03-26"
    assert sent(fake, "initialize")[0]["protocolVersion"] == "2025-11-25"


async def test_initialize_leaves_out_modern_capabilities() -> None:
    fake = server("legacy")
    async with Client(fake, sampling_handler=_sample):
        pass
    caps = sent(fake, "initialize")[0]["capabilities"]
    assert caps == {"sampling": {}}  # no tasks extension in a legacy handshake


async def _sample(params: Any) -> str:
    return "ok"


async def test_an_unknown_version_from_initialize_is_refused() -> None:
    fake = server("legacy", legacy_versions=["2099-01-01"])
    with pytest.raises(IncompatibleServer, match="2099-01-01"):
        async with Client(fake):
            pass


async def test_unsupported_version_is_retried_with_a_supported_one() -> None:
    fake = server("modern", reject_first=True)
    async with Client(fake) as client:
        assert client.is_modern
    probes = sent(fake, "server/discover")
    assert len(probes) == 2
    assert probes[1]["_meta"][META_PROTOCOL_VERSION] == "2026-07-28"
    assert not sent(fake, "initialize")  # a modern error never leads to initialize


async def test_a_modern_server_speaking_only_other_versions_is_incompatible() -> None:
    fake = server("modern", modern_versions=["2099-01-01"])
    with pytest.raises(IncompatibleServer) as caught:
        async with Client(fake):
            pass
    assert caught.value.supported == ["2099-01-01"]
    assert [m for m, _ in fake.requests] == ["server/discover"]  # no fallback to initialize


async def test_a_server_with_no_per_request_version_is_tried_with_initialize() -> None:
    """A server that serves only the session era answers the probe with -32022 and an
    empty list of per-request versions: the client falls back to ``initialize``."""
    fake = server("dual", modern_versions=[], legacy_versions=["2025-06-18"])
    async with Client(fake) as client:
        assert not client.is_modern
        assert client.protocol_version == "2025-06-18"
    assert [m for m, _ in fake.requests] == ["server/discover", "initialize"]


async def test_forcing_a_legacy_version_skips_the_probe() -> None:
    fake = server("dual")
    async with Client(fake, protocol_version="2025-06-18") as client:
        assert client.protocol_version == "2025-06-18"
        assert not client.is_modern
    assert [m for m, _ in fake.requests] == ["initialize"]
    assert sent(fake, "initialize")[0]["protocolVersion"] == "2025-06-18"


async def test_forcing_the_modern_version_never_falls_back() -> None:
    fake = server("legacy")
    with pytest.raises(McpError) as caught:
        async with Client(fake, protocol_version="2026-07-28"):
            pass
    assert caught.value.code == -32601
    assert [m for m, _ in fake.requests] == ["server/discover"]


async def test_an_unknown_forced_version_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown protocol version"):
        Client(server(), protocol_version="1999-01-01")


async def test_a_silent_probe_falls_back_after_the_probe_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = server("dual", discover_delay=3600)
    started = trio.current_time()
    async with Client(fake, probe_timeout=5) as client:
        assert not client.is_modern
        assert trio.current_time() - started >= 5
    # the unanswered probe was cancelled before falling back
    assert fake.cancelled == ["server/discover"]
    assert [m for m, _ in fake.requests] == ["server/discover", "initialize"]


async def test_log_level_rides_on_every_modern_request() -> None:
    fake = server()
    async with Client(fake, log_level="info") as client:
        await client.list_tools()
        await client.set_logging_level("error")
        await client.list_tools()
    levels = [params["_meta"].get(META_LOG_LEVEL) for _, params in fake.requests]
    assert levels == ["info", "info", "error"]
    assert not sent(fake, "logging/setLevel")


async def test_log_level_is_set_once_per_legacy_session() -> None:
    fake = server("legacy")
    async with Client(fake, log_level="warning") as client:
        await client.set_logging_level("debug")
    assert sent(fake, "logging/setLevel") == [{"level": "warning"}, {"level": "debug"}]


async def test_ping_in_both_eras() -> None:
    legacy, modern = server("legacy"), server("modern")
    async with Client(legacy) as client:
        await client.ping()
    async with Client(modern) as client:
        await client.ping()
    assert [m for m, _ in legacy.requests][-1] == "ping"
    assert [m for m, _ in modern.requests] == ["server/discover", "server/discover"]


async def test_a_client_can_connect_again_after_closing() -> None:
    client = Client(server())
    async with client:
        assert client.connected
    assert not client.connected
    async with client:
        assert client.connected
    assert "not connected" in repr(client)


async def test_an_already_connected_transport_is_a_target() -> None:
    from fastmcp_transport import memory_pair

    fake = server("legacy")
    client_end, server_end = memory_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fake.serve_transport, server_end)
        transport: Transport = client_end
        async with Client(transport) as client:
            assert client.protocol_version == "2025-11-25"
    assert fake.session is not None
    assert fake.session.closed
