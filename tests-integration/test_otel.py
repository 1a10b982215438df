"""OpenTelemetry, both sides (the ``otel`` extra): ``Client(tracing=True)`` makes a
``CLIENT`` span per request and puts its trace in ``_meta``; the server's
``OpenTelemetryMiddleware`` makes a ``SERVER`` span per request, its child, with the
handler's own spans inside; method, target, outcome and error code on both - in both
eras, in memory and over real HTTP, recorded by the SDK's in-memory exporter. Without
tracing, nothing of OpenTelemetry is imported."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from fastmcp_client import Client
from fastmcp_core import ToolError
from fastmcp_protocol import PeerError
from fastmcp_server import Server
from fastmcp_server.otel import OpenTelemetryMiddleware

ERAS = ["2026-07-28", "2025-11-25"]


def traced_server(provider: TracerProvider, started: trio.Event) -> Server:
    server = Server("traced")
    server.add_middleware(OpenTelemetryMiddleware(tracer_provider=provider))
    tracer = provider.get_tracer("the handler")

    @server.tool
    async def add(a: int, b: int) -> int:
        with tracer.start_as_current_span("adding"):  # the handler's own span
            return a + b

    @server.tool
    async def fail() -> str:
        raise ToolError("no luck")

    @server.tool
    async def wait() -> str:
        started.set()
        await trio.sleep_forever()
        return "never"

    @server.resource("data://info")
    def info() -> str:
        return "info"

    @server.prompt
    def hello(name: str) -> str:
        return f"hello {name}"

    return server


class WhenEnded(SpanProcessor):
    """Sets ``event`` when the span ``name`` of ``kind`` ends."""

    def __init__(self, name: str, kind: SpanKind, event: trio.Event) -> None:
        self.name, self.kind, self.event = name, kind, event

    def on_end(self, span: ReadableSpan) -> None:
        if span.name == self.name and span.kind == self.kind:
            self.event.set()


@asynccontextmanager
async def connected(
    server: Server, transport: str, version: str, provider: TracerProvider
) -> AsyncIterator[Client]:
    if transport == "memory":
        async with Client(
            server, protocol_version=version, tracing=True, tracer_provider=provider
        ) as client:
            yield client
        return
    async with trio.open_nursery() as nursery:
        address = await nursery.start(partial(server.serve_http, port=0))
        async with Client(
            address.url, protocol_version=version, tracing=True, tracer_provider=provider
        ) as client:
            yield client
        nursery.cancel_scope.cancel()


def spans_named(spans: list[ReadableSpan], name: str) -> dict[SpanKind, ReadableSpan]:
    found = {span.kind: span for span in spans if span.name == name}
    assert set(found) == {SpanKind.CLIENT, SpanKind.SERVER}, [s.name for s in spans]
    return found


def check_parent(pair: dict[SpanKind, ReadableSpan]) -> None:
    client, served = pair[SpanKind.CLIENT], pair[SpanKind.SERVER]
    assert client.context is not None
    assert served.context is not None
    assert served.context.trace_id == client.context.trace_id
    assert served.parent is not None
    assert served.parent.span_id == client.context.span_id


@pytest.mark.parametrize("transport", ["memory", "http"])
@pytest.mark.parametrize("version", ERAS)
async def test_a_request_is_one_trace_across_client_and_server(
    transport: str, version: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ended = trio.Event()
    provider.add_span_processor(WhenEnded("tools/call wait", SpanKind.SERVER, ended))
    started = trio.Event()
    server = traced_server(provider, started)
    async with connected(server, transport, version, provider) as client:
        exporter.clear()  # the handshake's spans
        assert await client.call_tool("add", {"a": 1, "b": 2}, result_type=int) == 3
        spans = list(exporter.get_finished_spans())
        pair = spans_named(spans, "tools/call add")
        check_parent(pair)
        for span in pair.values():
            assert span.attributes is not None
            assert span.attributes["mcp.method.name"] == "tools/call"
            assert span.attributes["gen_ai.tool.name"] == "add"
            assert span.status.status_code == StatusCode.UNSET
        assert pair[SpanKind.SERVER].attributes["mcp.protocol.version"] == version  # type: ignore[index]
        adding = next(span for span in spans if span.name == "adding")
        assert adding.parent is not None
        assert adding.parent.span_id == pair[SpanKind.SERVER].context.span_id  # type: ignore[union-attr]

        exporter.clear()
        result = await client.call_tool("fail", {})
        assert result.is_error
        for span in spans_named(list(exporter.get_finished_spans()), "tools/call fail").values():
            assert span.attributes is not None
            assert span.attributes["error.type"] == "tool_error"
            assert span.status.status_code == StatusCode.ERROR

        exporter.clear()
        with pytest.raises(PeerError) as caught:
            await client.call_tool("missing", {})
        pair = spans_named(list(exporter.get_finished_spans()), "tools/call missing")
        check_parent(pair)
        for span in pair.values():
            assert span.attributes is not None
            assert span.attributes["rpc.response.status_code"] == caught.value.code
            assert span.attributes["error.type"] == str(caught.value.code)
            assert span.status.status_code == StatusCode.ERROR

        exporter.clear()
        await client.read_resource("data://info")
        await client.get_prompt("hello", {"name": "Ada"})
        spans = list(exporter.get_finished_spans())
        read = spans_named(spans, "resources/read data://info")
        assert read[SpanKind.SERVER].attributes["mcp.resource.uri"] == "data://info"  # type: ignore[index]
        prompt = spans_named(spans, "prompts/get hello")
        assert prompt[SpanKind.CLIENT].attributes["gen_ai.prompt.name"] == "hello"  # type: ignore[index]
        assert spans_named(spans, "resources/read data://info")

        exporter.clear()
        with trio.move_on_after(60) as scope:  # a guard: the cancel below ends it
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.call_tool, "wait", {})
                await started.wait()
                nursery.cancel_scope.cancel()
        assert not scope.cancelled_caught
        with trio.fail_after(60):
            await ended.wait()  # the server heard of the cancel, its span ended
        pair = spans_named(list(exporter.get_finished_spans()), "tools/call wait")
        for span in pair.values():
            assert span.attributes is not None
            assert span.attributes["error.type"] == "cancelled"


def test_without_tracing_nothing_of_opentelemetry_is_imported() -> None:
    code = (
        "import sys, trio\n"
        "from fastmcp import Client, Server\n"
        "server = Server('s')\n"
        "@server.tool\n"
        "def add(a: int, b: int) -> int:\n"
        "    return a + b\n"
        "async def main():\n"
        "    async with Client(server) as client:\n"
        "        assert await client.call_tool('add', {'a': 1, 'b': 1}, result_type=int) == 2\n"
        "    server.http_app()\n"
        "trio.run(main)\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_trace_context_goes_in_and_out_of_meta() -> None:
    from opentelemetry import trace

    from fastmcp_core.otel import extract_trace, inject_trace

    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("outer") as outer:
        meta = inject_trace({"mine": 1})
    assert meta["mine"] == 1
    context = outer.get_span_context()
    assert meta["traceparent"].startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    carried = trace.get_current_span(extract_trace(meta)).get_span_context()
    assert (carried.trace_id, carried.span_id) == (context.trace_id, context.span_id)
    assert not trace.get_current_span(extract_trace({"traceparent": 3})).get_span_context().is_valid
    assert not trace.get_current_span(extract_trace(None)).get_span_context().is_valid
