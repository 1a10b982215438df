"""What the HTTP server writes to its log: never a session id at WARNING and above, and
no flood a client can cause (one line per message it makes the server drop)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing
from http_server_support import (
    Recorder,
    call_asgi,
    initialize_body,
    legacy_headers,
    make_connect,
    tool_call,
)

from fastmcp_transport import HttpConnectionInfo
from fastmcp_transport.http_server import StreamableHTTPApp

JSON_ONLY = {"accept": "application/json"}


def loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_json_only_client_without_a_get_stream_cannot_flood_the_log(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = StreamableHTTPApp(make_connect(Recorder()), json_response=True)
    async with app.running(), trio.open_nursery() as nursery:
        init = await call_asgi(
            nursery, app, "POST", "/mcp", legacy_headers(**JSON_ONLY), initialize_body()
        )
        await init.done.wait()
        session_id = init.response.headers["mcp-session-id"]
        # 3,000 messages for the GET stream this client never opens: 1,976 are dropped
        flood = tool_call(1, "broadcast", modern=False, count=3000)
        call = await call_asgi(
            nursery, app, "POST", "/mcp", legacy_headers(session_id, **JSON_ONLY), flood
        )
        await call.done.wait()
        assert call.response.status == 200
        nursery.cancel_scope.cancel()
    lines = loud(caplog)
    assert len(lines) <= 2, f"{len(lines)} lines"
    assert not any(session_id in r.getMessage() for r in lines)


async def test_a_failing_sse_connection_handler_is_logged_without_its_session_id(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def connect(transport: Any, info: HttpConnectionInfo) -> None:
        raise RuntimeError("the handler broke")

    app = StreamableHTTPApp(connect)
    async with app.running(), trio.open_nursery() as nursery:
        get = await call_asgi(nursery, app, "GET", "/sse", {"accept": "text/event-stream"})
        await get.response.wait_for(b"session_id=")
        session_id = get.response.body.split(b"session_id=")[1].split(b"\n")[0].decode()
        await trio.testing.wait_all_tasks_blocked()
        get.disconnect.set()
    (line,) = loud(caplog)
    assert line.getMessage().startswith("the connection handler of SSE session #")
    assert session_id not in line.getMessage()
