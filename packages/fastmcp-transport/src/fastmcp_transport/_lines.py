"""Newline-delimited JSON framing, shared by both ends of stdio.

Each frame is one line: UTF-8 JSON without embedded newlines (JSON encoders never
write a raw newline inside a message), ended by ``\\n``; a ``\\r`` before it is
tolerated, blank lines are skipped. A line longer than the limit is dropped up to its
end and reported, so one oversized message cannot take the stream down.
"""

from __future__ import annotations

from collections import deque

import attrs

__all__ = ["LineSplitter"]

DEFAULT_MAX_LINE = 16 * 1024 * 1024  # 16 MiB


@attrs.define(eq=False)
class LineSplitter:
    """Feed it chunks, take complete lines; counts the lines it had to drop."""

    max_line: int = DEFAULT_MAX_LINE
    lines: deque[bytes] = attrs.field(factory=deque)
    dropped: int = 0
    """Oversized lines dropped since the last ``take_dropped``."""
    _partial: list[bytes] = attrs.field(factory=list)
    _partial_size: int = 0
    _skipping: bool = False

    def feed(self, chunk: bytes | bytearray) -> None:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._keep(bytes(chunk[start:]))
                return
            piece = bytes(chunk[start:end])
            start = end + 1
            if self._skipping:
                self._skipping = False
                self._partial.clear()
                self._partial_size = 0
                continue
            if self._partial:
                if self._partial_size + len(piece) > self.max_line:
                    self._partial.clear()
                    self._partial_size = 0
                    self.dropped += 1
                    continue
                self._partial.append(piece)
                piece = b"".join(self._partial)
                self._partial.clear()
                self._partial_size = 0
            elif len(piece) > self.max_line:
                self.dropped += 1
                continue
            if piece.endswith(b"\r"):
                piece = piece[:-1]
            if piece.strip():
                self.lines.append(piece)

    def _keep(self, rest: bytes) -> None:
        if not rest or self._skipping:
            return
        self._partial.append(rest)
        self._partial_size += len(rest)
        if self._partial_size > self.max_line:
            self._partial.clear()
            self._partial_size = 0
            self._skipping = True
            self.dropped += 1

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped

    @property
    def pending(self) -> bool:
        """Whether an incomplete line is buffered (for reporting a truncated end)."""
        return bool(self._partial) or self._skipping
