"""Micro-benchmark: the session engine's own cost per request, against the floor.

The floor is the hand-written trio + msgspec server of ../shared/bench/peers
(``floor_server.Server.handle``: decode a line, answer inline). The engine runs the
same echo tool through ``fastmcp_core.Session`` (envelope decode, dispatch, a task
with its own cancel scope and nursery, the outcome table, encode) over an in-process
transport, in two modes:

* pipelined: all frames available at once (like 64+ requests in flight);
* sequential: the next frame only after the previous response was sent.

Both count CPU time per request; the difference to the floor is the engine's cost.

    python benchmarks/engine_overhead.py [FLOOR_SERVER_PATH]
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import trio

from fastmcp_core import McpContext, Session, TransportClosed
from fastmcp_protocol import CallToolRequestParams, CallToolResult, TextContent, decode_params

N = 20_000


def frame(i: int) -> bytes:
    return msgspec.json.encode(
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": f"m{i}"}},
        }
    )


FRAMES = [frame(i) for i in range(N)]


class Echo:
    async def route(self, ctx: McpContext, request: Any) -> Any:
        params = decode_params(request.params, CallToolRequestParams)
        text = params.arguments["message"]  # type: ignore[index]

        async def call() -> CallToolResult:
            return CallToolResult(
                content=[TextContent(text=text)], structured_content={"result": text}
            )

        return call

    async def notification(self, note: Any) -> None:
        pass


class Feed:
    """Frames from a list; in sequential mode one at a time (after each answer)."""

    def __init__(self, sequential: bool) -> None:
        self.sequential = sequential
        self.index = 0
        self.sent = 0
        self.ready = trio.Event()
        self.ready.set()

    async def receive(self) -> bytes:
        if self.sequential:
            await self.ready.wait()
            self.ready = trio.Event()
        if self.index == N:
            raise TransportClosed("done")
        self.index += 1
        return FRAMES[self.index - 1]

    async def send(self, data: bytes, *, related: Any = None, final: bool = False) -> None:
        if data:
            self.sent += 1
            if self.sequential:
                self.ready.set()

    async def aclose(self) -> None:
        pass


def run_engine(sequential: bool) -> float:
    feed = Feed(sequential)

    async def main() -> None:
        await Session(feed, Echo()).run()

    start = time.process_time()
    trio.run(main)
    elapsed = time.process_time() - start
    assert feed.sent == N, feed.sent
    return elapsed / N


def run_floor(path: Path) -> float:
    spec = importlib.util.spec_from_file_location("floor_server", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.Server(None, None)
    out: list[bytes] = []
    start = time.process_time()
    for line in FRAMES:
        server.handle(line, out)
    elapsed = time.process_time() - start
    assert len(out) == N
    return elapsed / N


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peers" / "floor_server.py"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    floor = min(run_floor(path) for _ in range(3)) if path.exists() else None
    pipelined = min(run_engine(False) for _ in range(3))
    sequential = min(run_engine(True) for _ in range(3))
    print(f"requests: {N} echo tools/call, CPU time per request (best of 3)")
    if floor is not None:
        print(f"  floor handle():        {floor * 1e6:6.2f} us")
    print(f"  engine, pipelined:     {pipelined * 1e6:6.2f} us", end="")
    print(f"  (+{(pipelined - floor) * 1e6:.2f} us over the floor)" if floor is not None else "")
    print(f"  engine, sequential:    {sequential * 1e6:6.2f} us", end="")
    print(f"  (+{(sequential - floor) * 1e6:.2f} us over the floor)" if floor is not None else "")


if __name__ == "__main__":
    main()
