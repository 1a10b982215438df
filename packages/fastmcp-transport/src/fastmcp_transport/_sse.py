"""Server-sent events (the HTML standard's ``text/event-stream``), both directions.

``encode_event`` writes one event; ``SSEParser`` turns a byte stream into events
incrementally. MCP puts one JSON-RPC message in each event's ``data`` (event type
``message``), uses ``id`` for resumption (``Last-Event-ID``) and ``retry`` to tell
clients how long to wait before reconnecting.
"""

from __future__ import annotations

import attrs

__all__ = ["SSEEvent", "SSEParser", "encode_event"]


@attrs.frozen
class SSEEvent:
    """One dispatched event. ``retry`` is in milliseconds when the event set it."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


def encode_event(
    data: bytes | str = b"",
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """One event as bytes. ``data`` may hold newlines: each line becomes a ``data:``
    field. An event with only ``id``/``retry`` (no data) primes a stream without
    dispatching anything."""
    parts: list[bytes] = []
    if id is not None:
        parts.append(b"id: " + id.encode() + b"\n")
    if event is not None:
        parts.append(b"event: " + event.encode() + b"\n")
    if retry is not None:
        parts.append(b"retry: %d\n" % retry)
    payload = data.encode() if isinstance(data, str) else data
    if payload:
        for line in payload.splitlines() or [b""]:
            parts.append(b"data: " + line + b"\n")
    elif not parts:
        parts.append(b"data: \n")
    parts.append(b"\n")
    return b"".join(parts)


@attrs.define(eq=False)
class SSEParser:
    """Incremental event-stream parser. ``last_event_id`` and ``retry`` persist across
    events as the standard says; feed bytes, get the events completed so far."""

    last_event_id: str | None = None
    retry: int | None = None
    _buffer: bytes = b""
    _data: list[str] = attrs.field(factory=list)
    _event: str = ""
    _saw_retry: int | None = None
    _saw_id: bool = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            line, sep, rest = _split_line(self._buffer)
            if not sep:
                return events
            self._buffer = rest
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._saw_id = True
        elif name == "retry" and value.isdigit():
            self.retry = int(value)
            self._saw_retry = self.retry
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, self._data = self._data, []
        event, self._event = self._event, ""
        retry, self._saw_retry = self._saw_retry, None
        saw_id, self._saw_id = self._saw_id, False
        if not data:
            return None  # id/retry alone update state but dispatch nothing
        return SSEEvent(
            data="\n".join(data),
            event=event or "message",
            id=self.last_event_id if saw_id else None,
            retry=retry,
        )


def _split_line(buffer: bytes) -> tuple[bytes, bytes, bytes]:
    """Split off the first line ending in \\r\\n, \\n or \\r (if complete)."""
    lf = buffer.find(b"\n")
    cr = buffer.find(b"\r", 0, lf if lf >= 0 else len(buffer))
    if cr < 0:
        if lf < 0:
            return buffer, b"", b""
        return buffer[:lf], b"\n", buffer[lf + 1 :]
    if cr + 1 == len(buffer):
        return buffer, b"", b""  # might be the start of \\r\\n: wait for more
    if buffer[cr + 1] == 0x0A:
        return buffer[:cr], b"\r\n", buffer[cr + 2 :]
    return buffer[:cr], b"\r", buffer[cr + 1 :]
