"""Shared by the command line's tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _children_take_ctrl_c() -> Iterator[None]:
    """The commands these tests start see SIGINT as a shell's foreground job does, even
    when the tests run as a background job (started with SIGINT ignored, which
    children inherit, and which a server started that way keeps ignoring)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
