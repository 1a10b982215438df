"""OpenTelemetry: a span per request on the server and on the client, joined into one
trace through ``_meta``, with the four outcomes; nothing imported without it.

Spans go to the SDK's in-memory exporter through a provider of the test's own (the
global one is left alone)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import msgspec
import pytest
import trio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from fastmcp import Client, McpContext, PeerError, Server, ToolError
from fastmcp_core.telemetry import Telemetry
from fastmcp_protocol import ProgressNotificationParams
from fastmcp_transport import memory_pair

ERAS = ["2026-07-28", "2025-11-25"]


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def traced_server(provider: TracerProvider) -> Server:
    server = Server("traced", telemetry=Telemetry(tracer_provider=provider))
    inner = trace.get_tracer("tools", tracer_provider=provider)

    @server.tool
    async def add(a: int, b: int) -> int:
        with inner.start_as_current_span("adding"):
            return a + b

    @server.tool
    async def refuse() -> str:
        raise ToolError("not today")

    @server.tool
    async def crash() -> str:
        raise RuntimeError("a bug")

    @server.tool(timeout=0.5)
    async def endless(ctx: McpContext) -> str:
        await ctx.report_progress(0, 1)
        await trio.sleep_forever()
        return "never"

    @server.prompt
    def review(code: str) -> str:
        return f"Review {code}"

    return server


def named(exporter: InMemorySpanExporter, name: str, kind: SpanKind) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name and s.kind == kind]
    assert len(found) == 1, [(s.name, s.kind) for s in exporter.get_finished_spans()]
    return found[0]


@pytest.mark.parametrize("version", ERAS)
async def test_a_call_is_one_trace_from_the_client_through_the_server_to_the_tool(
    provider: TracerProvider, exporter: InMemorySpanExporter, version: str
) -> None:
    server = traced_server(provider)
    telemetry = Telemetry(tracer_provider=provider)
    async with Client(server, protocol_version=version, telemetry=telemetry) as client:
        assert await client.call_tool("add", {"a": 2, "b": 3}, result_type=int) == 5
        await client.get_prompt("review", {"code": "x = 1"})

    sent = named(exporter, "tools/call add", SpanKind.CLIENT)
    served = named(exporter, "tools/call add", SpanKind.SERVER)
    adding = named(exporter, "adding", SpanKind.INTERNAL)
    assert sent.context is not None
    assert served.context is not None
    assert served.context.trace_id == sent.context.trace_id  # carried in _meta
    assert served.parent is not None
    assert served.parent.span_id == sent.context.span_id
    assert adding.parent is not None
    assert adding.parent.span_id == served.context.span_id
    assert dict(served.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "jsonrpc.request.id": dict(served.attributes or {})["jsonrpc.request.id"],
        "gen_ai.tool.name": "add",
        "gen_ai.operation.name": "execute_tool",
        "mcp.protocol.version": version,
        "fastmcp.outcome": "ok",
    }
    assert dict(sent.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "add",
        "gen_ai.operation.name": "execute_tool",
        "fastmcp.outcome": "ok",
    }
    assert served.status.status_code is StatusCode.UNSET
    prompt = named(exporter, "prompts/get review", SpanKind.SERVER)
    assert (prompt.attributes or {})["gen_ai.prompt.name"] == "review"
    if version == "2025-11-25":  # the handshake is traced too
        assert named(exporter, "initialize", SpanKind.SERVER).parent is not None


async def test_each_of_the_four_outcomes_is_on_the_span(
    provider: TracerProvider, exporter: InMemorySpanExporter, autojump_clock: trio.abc.Clock
) -> None:
    server = traced_server(provider)
    telemetry = Telemetry(tracer_provider=provider)
    async with Client(server, telemetry=telemetry) as client:
        assert (await client.call_tool("refuse")).is_error
        assert (await client.call_tool("crash")).is_error
        with pytest.raises(PeerError) as unknown:
            await client.call_tool("nothing")
        with pytest.raises(PeerError):  # its budget (0.5 s) runs out
            await client.call_tool("endless")
        with trio.move_on_after(5) as scope:  # cancelled by the caller once it runs

            def progressed(progress: ProgressNotificationParams) -> None:
                scope.cancel()

            await client.call_tool("endless", on_progress=progressed, timeout=60)
        assert scope.cancelled_caught
        await client.list_tools()  # the cancel is read before this is answered

    def attributes(name: str, kind: SpanKind = SpanKind.SERVER) -> dict[str, object]:
        return dict(named(exporter, name, kind).attributes or {})

    refused = named(exporter, "tools/call refuse", SpanKind.SERVER)
    assert refused.status.status_code is StatusCode.ERROR
    assert attributes("tools/call refuse")["error.type"] == "tool_error"
    assert attributes("tools/call refuse")["fastmcp.outcome"] == "error"

    crashed = named(exporter, "tools/call crash", SpanKind.SERVER)
    assert attributes("tools/call crash")["fastmcp.outcome"] == "panicked"
    assert attributes("tools/call crash")["error.type"] == "RuntimeError"
    assert [event.name for event in crashed.events] == ["exception"]

    code = str(unknown.value.code)
    assert attributes("tools/call nothing")["fastmcp.outcome"] == "error"
    assert attributes("tools/call nothing")["rpc.response.status_code"] == code
    assert attributes("tools/call nothing", SpanKind.CLIENT)["rpc.response.status_code"] == code

    endless = [
        dict(s.attributes or {})
        for s in exporter.get_finished_spans()
        if s.name == "tools/call endless" and s.kind is SpanKind.SERVER
    ]
    assert sorted((a["fastmcp.outcome"], a["fastmcp.cancel_reason"]) for a in endless) == [
        ("cancelled", "budget"),
        ("cancelled", "client"),
    ]
    assert [a.get("error.type") for a in endless].count("timeout") == 1
    sent = [
        dict(s.attributes or {})["fastmcp.outcome"]
        for s in exporter.get_finished_spans()
        if s.name == "tools/call endless" and s.kind is SpanKind.CLIENT
    ]
    assert sorted(sent) == ["cancelled", "error"]


async def test_a_request_from_any_client_is_served_in_the_trace_its_meta_names(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A peer of another SDK sends W3C trace context in ``params._meta``."""
    server = traced_server(provider)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    request = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {
            "name": "add",
            "arguments": {"a": 1, "b": 1},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "traceparent": f"00-{trace_id}-{parent_id}-01",
            },
        },
    }
    client, server_end = memory_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_transport, server_end)
        await client.send(msgspec.json.encode(request))
        answer = msgspec.json.decode(await client.receive())
        assert answer["result"]["structuredContent"] == {"result": 2}, answer
        await client.aclose()
    served = named(exporter, "tools/call add", SpanKind.SERVER)
    assert served.context is not None
    assert served.parent is not None
    assert f"{served.context.trace_id:032x}" == trace_id
    assert f"{served.parent.span_id:016x}" == parent_id
    assert served.parent.is_remote


def test_opentelemetry_is_imported_only_with_a_telemetry() -> None:
    script = (
        "import sys, trio\n"
        "from fastmcp import Client, Server\n"
        "server = Server('plain')\n"
        "server.tool(lambda: 'hi', name='hi')\n"
        "async def main():\n"
        "    async with Client(server) as client:\n"
        "        await client.call_tool('hi')\n"
        "trio.run(main)\n"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))\n"
        "from fastmcp_core.telemetry import Telemetry\n"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))\n"
        "Telemetry()\n"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]
