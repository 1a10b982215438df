"""A real ``Server``'s HTTP app against random sequences of requests, both eras, called
as ASGI (no sockets) on trio's mock clock.

Each example is a conversation: legacy initializes (the session id remembered, or
replaced by a wrong one), modern requests with right or wrong ``Mcp-*`` headers,
GET streams, DELETEs, HTTP+SSE, mutated and oversized bodies, hostile ``Host`` and
``Origin`` headers, time passing (sessions expire). Whatever comes:

* the app never fails: no exception escapes it, no 500, nothing logged at ERROR;
* every response is well-formed: a known status, JSON that parses, SSE events whose
  data parse;
* at the end (streams disconnected, the app shut down) no session and no task is
  left, and what it held is gone.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import msgspec
import trio
import trio.testing
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fastmcp import McpContext, Server, ToolError
from fastmcp_transport import SSEParser

MODERN = "2026-07-28"
LEGACY = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
STATUSES = {200, 202, 204, 400, 403, 404, 405, 406, 409, 413, 415, 503}
MAX_BODY = 2048


def fuzz_server() -> Server:
    server = Server("fuzz", "1.0")

    @server.tool
    async def echo(text: str) -> str:
        """Echo."""
        return text

    @server.tool
    async def nap(seconds: float) -> str:
        """Sleep a while."""
        await trio.sleep(min(seconds, 120))
        return "rested"

    @server.tool
    async def refuse() -> str:
        """A tool error."""
        raise ToolError("no")

    @server.tool
    async def chatty(ctx: McpContext) -> str:
        """Progress and log messages."""
        for step in range(3):
            await ctx.report_progress(step, 3)
            await ctx.info(f"step {step}")
        return "said it all"

    @server.tool
    async def ask(ctx: McpContext) -> str:
        """Asks the client (nobody answers in a fuzz run)."""
        roots = await ctx.list_roots()
        return str(len(roots))

    return server


# -- what a step sends -------------------------------------------------------------------


def rpc(rid: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if rid is not None:
        body["id"] = rid
    if params is not None:
        body["params"] = params
    return body


def modern_meta() -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"roots": {}},
    }


CALLS = [
    ("echo", {"text": "hi"}),
    ("nap", {"seconds": 30}),
    ("refuse", {}),
    ("chatty", {}),
    ("ask", {}),
    ("nosuch", {}),
    ("echo", {"text": 5}),
]


LEGACY_KINDS = ["initialize", "initialized", "legacy_call", "ping", "batch", "get_stream", "delete"]
MODERN_KINDS = ["modern_call", "discover"]
BODY_FAULTS = ["mutated", "oversized", "empty", "garbage"]
HEADER_FAULTS = [
    "wrong_method", "wrong_path", "evil_host", "evil_origin", "no_accept", "html_accept",
    "json_only", "text_body", "no_version", "old_version", "bad_version", "wrong_session",
    "no_session", "wrong_name", "no_method_header", "last_event_id",
]  # fmt: skip


def body_of(kind: str, rid: Any, call: tuple[str, dict[str, Any]], version: str) -> bytes:
    name, arguments = call
    if kind == "initialize":
        message: Any = rpc(rid, "initialize", {
            "protocolVersion": version,
            "capabilities": {"roots": {}},
            "clientInfo": {"name": "fuzz", "version": "1"},
        })  # fmt: skip
    elif kind == "initialized":
        message = rpc(None, "notifications/initialized")
    elif kind == "legacy_call":
        message = rpc(rid, "tools/call", {"name": name, "arguments": arguments})
    elif kind == "modern_call":
        params = {"name": name, "arguments": arguments, "_meta": modern_meta()}
        message = rpc(rid, "tools/call", params)
    elif kind == "discover":
        message = rpc(rid, "server/discover", {"_meta": modern_meta()})
    elif kind == "ping":
        message = rpc(rid, "ping")
    elif kind == "batch":
        message = [rpc(rid, "ping"), rpc(None, "notifications/initialized")]
    else:
        return b""
    return msgspec.json.encode(message)


@attrs.frozen
class Step:
    method: str
    path: str
    kind: str
    body: bytes
    headers: dict[str, str]
    session: str  # "ours", "wrong", "none"
    wait: float  # mock seconds to let pass after sending


@st.composite
def steps(draw: st.DrawFn) -> Step:
    """A request that is right for its kind, with up to two things wrong with it."""
    kind = draw(
        st.sampled_from(
            [*LEGACY_KINDS, *MODERN_KINDS, "legacy_call", "legacy_call", "modern_call", "sse"]
        )
    )
    rid = draw(st.one_of(st.integers(0, 50), st.text(max_size=4)))
    call = draw(st.sampled_from(CALLS))
    version = draw(st.sampled_from([*LEGACY, "1999-01-01"]))
    body = body_of(kind, rid, call, version)
    method = {"get_stream": "GET", "sse": "GET", "delete": "DELETE"}.get(kind, "POST")
    path = "/sse" if kind == "sse" else "/mcp"
    headers = {
        "accept": "text/event-stream" if method == "GET" else "application/json, text/event-stream",
        "host": "127.0.0.1:8000",
    }
    if method == "POST":
        headers["content-type"] = "application/json"
    session = "none"
    if kind in MODERN_KINDS:
        method_name = "tools/call" if kind == "modern_call" else "server/discover"
        headers["mcp-protocol-version"] = MODERN
        headers["mcp-method"] = method_name
        if kind == "modern_call":
            headers["mcp-name"] = call[0]
    elif kind not in ("initialize", "sse"):
        headers["mcp-protocol-version"] = "2025-11-25"
        session = "ours"
    faults = draw(
        st.one_of(
            st.just([]),
            st.lists(st.sampled_from(HEADER_FAULTS + BODY_FAULTS), min_size=1, max_size=2),
        )
    )
    for fault in faults:
        if fault == "wrong_method":
            method = draw(st.sampled_from(["GET", "PUT", "OPTIONS", "DELETE", "PATCH"]))
        elif fault == "wrong_path":
            path = draw(st.sampled_from(["/mcp/", "/messages/", "/other", "/MCP", "/sse"]))
        elif fault == "evil_host":
            headers["host"] = "evil.example"
        elif fault == "evil_origin":
            headers["origin"] = "http://evil.example"
        elif fault == "no_accept":
            headers.pop("accept", None)
        elif fault == "html_accept":
            headers["accept"] = "text/html"
        elif fault == "json_only":
            headers["accept"] = "application/json"
        elif fault == "text_body":
            headers["content-type"] = "text/plain"
        elif fault == "no_version":
            headers.pop("mcp-protocol-version", None)
        elif fault == "old_version":
            headers["mcp-protocol-version"] = "2025-03-26"
        elif fault == "bad_version":
            headers["mcp-protocol-version"] = "garbage"
        elif fault == "wrong_session":
            session = "wrong"
        elif fault == "no_session":
            session = "none"
        elif fault == "wrong_name":
            headers["mcp-name"] = "other"
        elif fault == "no_method_header":
            headers.pop("mcp-method", None)
        elif fault == "last_event_id":
            headers["last-event-id"] = draw(st.sampled_from(["0", "garbage", "1/2", ""]))
        elif fault == "mutated":
            data = bytearray(body or b"{}")
            for _ in range(draw(st.integers(1, 4))):
                at = draw(st.integers(0, len(data) - 1))
                data[at] = draw(st.sampled_from(b'{}[]",:0a\\\x00'))
            body = bytes(data)
        elif fault == "oversized":
            body = body_of("legacy_call", rid, ("echo", {"text": "x" * MAX_BODY}), version)
        elif fault == "empty":
            body = b""
        else:  # garbage
            body = draw(st.binary(max_size=40))
    event(f"{kind} {'+'.join(faults) or 'right'}")
    wait = draw(st.sampled_from([0.0, 0.0, 0.0, 1.0, 31.0, 400.0]))
    return Step(method, path, kind, body if method == "POST" else b"", headers, session, wait)


# -- driving the app ---------------------------------------------------------------------


@attrs.define(eq=False)
class Call:
    step: Step
    status: int = 0
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytearray = attrs.field(factory=bytearray)
    complete: bool = False
    failure: BaseException | None = None
    done: trio.Event = attrs.field(factory=trio.Event)
    disconnect: trio.Event = attrs.field(factory=trio.Event)


async def call(app: Any, step: Step, session_id: str | None, nursery: trio.Nursery) -> Call:
    headers = dict(step.headers)
    if session_id is not None:
        headers["mcp-session-id"] = session_id
    path, _, query = step.path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": step.method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    result = Call(step)
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": step.body, "more_body": False}
        await result.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert result.status == 0, "a second response start"
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            assert result.status, "a body before the response start"
            assert not result.complete, "a body after the end"
            result.body += message.get("body", b"")
            if not message.get("more_body"):
                result.complete = True

    async def run() -> None:
        try:
            await app(scope, receive, send)
        except BaseException as exc:
            result.failure = exc
            raise
        finally:
            result.done.set()

    nursery.start_soon(run)
    return result


def check_response(result: Call) -> None:
    assert result.failure is None, repr(result.failure)
    if not result.status:
        return  # still waiting when the client left (a stream, a slow call)
    assert result.status in STATUSES, (result.status, bytes(result.body[:200]), result.step)
    event(f"{result.step.kind} {result.step.method}: {result.status}")
    content_type = result.headers.get("content-type", "")
    body = bytes(result.body)
    if content_type.startswith("application/json") and result.complete and body:
        msgspec.json.decode(body)
    elif content_type.startswith("text/event-stream"):
        for sse in SSEParser().feed(body):
            if sse.data and sse.event in (None, "message"):
                msgspec.json.decode(sse.data)


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def count_tasks() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return walk(root)


async def conversation(script: list[Step], stateless: bool) -> None:
    server = fuzz_server()
    app = server.http_app(
        max_body_size=MAX_BODY, max_sessions=4, session_idle_timeout=300, stateless=stateless
    )
    before = count_tasks()
    calls: list[Call] = []
    session_id: str | None = None
    async with app.running(), trio.open_nursery() as nursery:
        for step in script:
            sid = {"ours": session_id, "wrong": "not-a-session", "none": None}[step.session]
            result = await call(app, step, sid, nursery)
            calls.append(result)
            with trio.move_on_after(120):  # a stream or a call that waits for the client
                await result.done.wait()
            if step.kind == "initialize" and result.status == 200:
                session_id = result.headers.get("mcp-session-id", session_id)
            check_response(result)
            await trio.sleep(step.wait)
        for result in calls:  # the client leaves
            result.disconnect.set()
        with trio.fail_after(600):
            for result in calls:
                await result.done.wait()
    for result in calls:
        check_response(result)
    assert app.session_count == 0
    await trio.testing.wait_all_tasks_blocked()
    assert count_tasks() == before, "a task of the app is left"


def opening(version: str) -> list[Step]:
    """A legacy session opened the right way."""
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "host": "127.0.0.1:8000",
    }
    initialize = body_of("initialize", 0, CALLS[0], version)
    initialized = body_of("initialized", None, CALLS[0], version)
    return [
        Step("POST", "/mcp", "initialize", initialize, headers, "none", 0.0),
        Step("POST", "/mcp", "initialized", initialized,
             {**headers, "mcp-protocol-version": version}, "ours", 0.0),
    ]  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    script=st.lists(steps(), min_size=1, max_size=12),
    opened=st.sampled_from([None, "2025-11-25", "2025-11-25", "2025-03-26"]),
    stateless=st.sampled_from([False] * 4 + [True]),
)
def test_random_conversations_never_break_the_app(
    script: list[Step], opened: str | None, stateless: bool
) -> None:
    if opened is not None:
        script = opening(opened) + script
    errors = Errors()
    logging.getLogger().addHandler(errors)
    try:
        clock = trio.testing.MockClock(autojump_threshold=0)
        trio.run(conversation, script, stateless, clock=clock)
    finally:
        logging.getLogger().removeHandler(errors)
    assert errors.records == [], [r.getMessage() for r in errors.records]
