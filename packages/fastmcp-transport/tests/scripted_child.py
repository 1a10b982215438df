"""A scripted JSON-RPC peer on stdio (a child process) for the shared-reading tests.

Reads one request per line and answers by its method (blocking reads and writes, no
framework), so a test controls what reaches the client and in which order:

* ``echo``: its params back as the result;
* ``note_first``: a ``notifications/message`` first, then the result;
* ``progress``: three progress notifications for the request's token, then the result;
* ``later``: no answer until ``flush``, which answers the held requests in reverse
  order, then itself;
* ``hang``: never answered; ``note_then_hang``: a ``notifications/message``, then
  never answered; ``cancelled``: the ``params.tag`` of every such request the client
  cancelled so far;
* ``null``: ``null`` as the result;
* ``ask_first``: a ``ping`` request to the client first; the result once the client
  has answered it;
* ``note_after``: the result, then (a moment later) a ``notifications/message``
  while no call waits;
* ``bye``: exits at once, unanswered.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

out = sys.stdout.buffer


def write(message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def result(rid: Any, value: Any) -> None:
    write({"jsonrpc": "2.0", "id": rid, "result": value})


def main() -> None:
    held: list[Any] = []
    hanging: dict[Any, Any] = {}
    cancelled: list[Any] = []
    for line in sys.stdin.buffer:
        message = json.loads(line)
        method, rid = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if method == "notifications/cancelled":
            cancelled.append(hanging.pop(params["requestId"], None))
        elif method == "echo":
            result(rid, params)
        elif method == "note_first":
            write({"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": 1}})
            result(rid, {"after": "note"})
        elif method == "progress":
            token = params["_meta"]["progressToken"]
            for step in (1, 2, 3):
                progress = {"progressToken": token, "progress": step}
                write({"jsonrpc": "2.0", "method": "notifications/progress", "params": progress})
            result(rid, {"steps": 3})
        elif method == "later":
            held.append(rid)
        elif method == "flush":
            for waiting in reversed(held):
                result(waiting, {"held": waiting})
            held.clear()
            result(rid, {"flushed": True})
        elif method == "hang":
            hanging[rid] = params.get("tag")
        elif method == "note_then_hang":
            write({"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": 3}})
            hanging[rid] = params.get("tag")
        elif method == "null":
            result(rid, None)
        elif method == "cancelled":
            result(rid, {"tags": cancelled})
        elif method == "ask_first":
            write({"jsonrpc": "2.0", "id": "s1", "method": "ping"})
            for answer in sys.stdin.buffer:
                if json.loads(answer).get("id") == "s1":
                    break
            result(rid, {"asked": True})
        elif method == "note_after":
            result(rid, {})
            time.sleep(0.05)
            write({"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": 2}})
        elif method == "bye":
            sys.exit(0)


if __name__ == "__main__":
    main()
