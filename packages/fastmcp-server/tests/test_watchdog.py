"""A handler that blocks the event loop is named in a warning (the watchdog)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import trio
from server_support import connect

from fastmcp_core import watch_event_loop
from fastmcp_server import Server


class _Flag(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = threading.Event()
        self.resumed = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "has been blocked" in record.getMessage():
            self.seen.set()
        if "ran again" in record.getMessage():
            self.resumed.set()


async def test_a_handler_that_blocks_the_loop_is_named(caplog: pytest.LogCaptureFixture) -> None:
    flag = _Flag()
    logging.getLogger("fastmcp").addHandler(flag)
    server = Server("blocking", "1", blocking_warning=0.05)

    @server.tool
    async def blocker() -> str:
        # blocks the trio thread until the watchdog has reported it (or 60 s)
        deadline = time.monotonic() + 60
        while not flag.seen.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)  # noqa: ASYNC251 - the blocking call under test
        return "done"

    try:
        async with connect(server, modern=True) as client:
            result = await client.call("tools/call", {"name": "blocker"})
        # the watchdog says so once the loop runs again (its thread, its own pace)
        assert await trio.to_thread.run_sync(flag.resumed.wait, 60)
    finally:
        logging.getLogger("fastmcp").removeHandler(flag)
    assert result["content"][0]["text"] == "done"
    warnings = [r.getMessage() for r in caplog.records if r.name == "fastmcp"]
    blocked = next(m for m in warnings if "has been blocked" in m)
    assert "by tools/call (request" in blocked
    assert "in blocker() at test_watchdog.py:" in blocked
    assert "trio.to_thread.run_sync" in blocked
    assert any("ran again after" in m for m in warnings)


async def test_no_watchdog_without_a_threshold_and_a_threshold_must_be_positive() -> None:
    before = threading.active_count()
    with watch_event_loop(None):
        assert threading.active_count() == before
    with pytest.raises(ValueError, match="positive"), watch_event_loop(0):
        pass
