"""Log lines that can come in floods, and identifiers that must not reach a log.

A server logs what its operator must see; a peer must not be able to turn that into a
flood (one line per dropped message, per refused token) or read secrets out of the
log. Two tools, for every package:

* ``RateLimitedLog``: one kind of line at most ``burst`` times per ``period``; the
  lines left out are counted, and the next line written says how many;
* ``redacted(secret)``: a short stand-in for a session id or a token, the same for
  the same value (lines of one session can be told apart) and useless to replay.

Rule of the house: a line at WARNING or above never carries a session id, a token or
a URL's query; ``redacted`` them, or log them at DEBUG.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable

import attrs

__all__ = ["RateLimitedLog", "redacted"]


def redacted(secret: str | bytes) -> str:
    """A stand-in for ``secret`` in a log line: ``"#"`` and 8 hex digits of its SHA-256.

    The same value always gives the same stand-in; it reveals nothing a peer could use
    (32 bits of a hash of a value with far more entropy).
    """
    data = secret.encode() if isinstance(secret, str) else secret
    return "#" + hashlib.sha256(data).hexdigest()[:8]


@attrs.define(eq=False)
class RateLimitedLog:
    """Writes one kind of line to ``logger`` at ``level``, at most ``burst`` times per
    ``period`` seconds of ``clock`` (``time.monotonic`` unless told otherwise: pass
    ``trio.current_time`` to follow a ``MockClock``).

    A line past the limit is counted and dropped (its arguments are not formatted);
    the next line written ends with ``" (N more like it left out)"``. Counts left when
    the flood stops are not written by themselves: nothing runs on a timer. A clock
    that goes backwards opens a new period. Not thread-safe; meant for one event loop.
    """

    logger: logging.Logger
    level: int = logging.WARNING
    period: float = 60.0
    burst: int = 1
    clock: Callable[[], float] = time.monotonic
    _started: float = attrs.field(init=False, default=-math.inf)
    _written: int = attrs.field(init=False, default=0)
    _left_out: int = attrs.field(init=False, default=0)

    def log(self, message: str, *args: object) -> bool:
        """Write ``message % args`` unless over the limit; whether it was written."""
        if not self.logger.isEnabledFor(self.level):
            return False
        now = self.clock()
        if now < self._started or now - self._started >= self.period:
            self._started, self._written = now, 0
        if self._written >= self.burst:
            self._left_out += 1
            return False
        self._written += 1
        if self._left_out:
            message += " (%d more like it left out)"
            args = (*args, self._left_out)
            self._left_out = 0
        self.logger.log(self.level, message, *args, stacklevel=2)
        return True

    @property
    def left_out(self) -> int:
        """Lines dropped since the last one written."""
        return self._left_out
