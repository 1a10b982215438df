"""The HTTP app called from asyncio (what uvicorn or FastAPI do): it runs in a trio guest
run on the asyncio loop - requests answered, a cancelled ASGI call cancels the handler
(and returns once it has ended), ``lifespan``/``running()`` work in an asyncio
``async with``, and the guest ends with them (a later loop gets a new one).
Real asyncio hosts: tests-integration/test_asyncio_hosts.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
from http_server_support import (
    Recorder,
    initialize_body,
    make_connect,
    modern_headers,
    tool_call,
)

from fastmcp_transport.http_server import StreamableHTTPApp


async def asgi_post(app: Any, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """One POST into the app from asyncio; the client never disconnects."""
    messages: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in {**headers, "host": "localhost"}.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    return status, b"".join(
        m.get("body", b"") for m in messages if m["type"] == "http.response.body"
    )


def answer_text(body: bytes) -> str:
    if not body.startswith(b"{"):
        body = next(
            line[5:].strip()
            for line in body.splitlines()
            if line.startswith(b"data:") and line[5:].strip()
        )
    return str(msgspec.json.decode(body)["result"]["content"][0]["text"])


def is_set(table: dict[str, trio.Event], key: str) -> bool:
    return key in table and table[key].is_set()


def test_an_asyncio_call_is_answered() -> None:
    app = StreamableHTTPApp(make_connect(Recorder()))

    async def main() -> None:
        status, body = await asgi_post(
            app, modern_headers("tools/call", "echo"), tool_call(1, "echo", text="from asyncio")
        )
        assert status == 200
        assert answer_text(body) == "from asyncio"

    asyncio.run(main())


def test_cancelling_the_asyncio_call_cancels_the_handler() -> None:
    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder))

    async def main() -> None:
        call = asyncio.ensure_future(
            asgi_post(app, modern_headers("tools/call", "sleep"), tool_call(1, "sleep", key="k"))
        )
        for _ in range(10_000):  # a guard, not a timing: the handler starts in a few ticks
            if is_set(recorder.started, "k"):
                break
            await asyncio.sleep(0)
        assert is_set(recorder.started, "k")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # the call returned once the trio side had ended: the handler saw its cancel
        assert is_set(recorder.cancelled, "k")

    asyncio.run(main())


def test_the_lifespan_runs_in_an_asyncio_block_and_the_guest_ends_with_it() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def owner() -> AsyncIterator[None]:
        trio.lowlevel.current_task()  # trio code, in the guest
        events.append("start")
        try:
            yield
        finally:
            events.append("stop")

    app = StreamableHTTPApp(make_connect(Recorder()), runs_with=owner)

    async def main() -> None:
        events.clear()
        async with app.lifespan(None):
            assert events == ["start"]
            status, _ = await asgi_post(
                app, modern_headers("tools/call", "echo"), tool_call(1, "echo", text="x")
            )
            assert status == 200
            assert events == ["start"]  # once for the app, not per request
        assert events == ["start", "stop"]
        async with app.running() as running:
            assert running is app
        assert events == ["start", "stop", "start", "stop"]

    asyncio.run(main())
    asyncio.run(main())  # another loop: another guest run


def test_a_lifespan_that_fails_fails_the_hosts_startup() -> None:
    @asynccontextmanager
    async def broken() -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    app = StreamableHTTPApp(make_connect(Recorder()), runs_with=broken)

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as caught:  # the trio nursery's
            async with app.lifespan(None):
                raise AssertionError("started")
        assert caught.group_contains(RuntimeError, match="no database", depth=None)

    asyncio.run(main())


def test_an_app_started_on_first_use_starts_again_in_a_later_loop() -> None:
    # what a test client without its lifespan does: a new event loop per request
    recorder = Recorder()
    app = StreamableHTTPApp(make_connect(recorder))

    async def one_call(text: str) -> None:
        status, body = await asgi_post(
            app, modern_headers("tools/call", "echo"), tool_call(1, "echo", text=text)
        )
        assert status == 200
        assert answer_text(body) == text

    async def open_session() -> None:
        headers = {"content-type": "application/json", "accept": "application/json"}
        status, _ = await asgi_post(app, headers, initialize_body())
        assert status == 200  # a legacy session needs the background work: it runs

    for text in ("first", "second"):
        asyncio.run(one_call(text))
    asyncio.run(open_session())
    # each loop's end ended what its first request started
    assert app.session_count == 0
    assert [info.kind for info in recorder.infos] == ["modern", "modern", "legacy"]
    assert recorder.sessions_ended == 3  # the legacy one too: ended with its loop
