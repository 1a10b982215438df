"""``RateLimitedLog`` and ``redacted``: log lines a peer cannot flood, ids it cannot read."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from fastmcp_core import RateLimitedLog, redacted


class Exploding:
    def __str__(self) -> str:
        raise AssertionError("formatted although nothing was written")


async def test_a_flood_is_one_line_a_period_and_the_next_says_how_many(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = RateLimitedLog(logging.getLogger("test.flood"), clock=trio.current_time)
    written = [log.log("dropped message %d", n) for n in range(3000)]
    assert written.count(True) == 1
    assert log.left_out == 2999
    await trio.sleep(59)
    assert not log.log("dropped message %d", 3000)
    await trio.sleep(1)
    assert log.log("dropped message %d", 3001)
    assert [r.getMessage() for r in caplog.records] == [
        "dropped message 0",
        "dropped message 3001 (3000 more like it left out)",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert caplog.records[0].pathname == __file__  # where it was logged, not the helper


async def test_a_burst_and_a_clock_that_goes_back(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    log = RateLimitedLog(
        logging.getLogger("test.burst"), level=logging.ERROR, burst=3, clock=lambda: now[0]
    )
    assert [log.log("line") for _ in range(5)] == [True, True, True, False, False]
    now[0] = 50.0  # backwards: a new period
    assert log.log("line")
    assert caplog.messages[-1] == "line (2 more like it left out)"


def test_nothing_is_formatted_when_the_level_is_off_or_over_the_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet = RateLimitedLog(logging.getLogger("test.quiet"), level=logging.DEBUG)
    caplog.set_level(logging.INFO)
    assert not quiet.log("%s", Exploding())
    limited = RateLimitedLog(logging.getLogger("test.limited"), clock=lambda: 0.0)
    assert limited.log("first")
    assert not limited.log("%s", Exploding())


def test_redacted_is_stable_short_and_not_the_secret() -> None:
    session_id = "x3mU0Qd2rJ5p1Qw9vZrTqB7cYkLm3NfA"
    stand_in = redacted(session_id)
    assert stand_in == redacted(session_id.encode())
    assert stand_in != redacted(session_id + "!")
    assert len(stand_in) == 9
    assert stand_in.startswith("#")
    assert session_id[:6] not in stand_in
