"""Micro-benchmark: one tools/call through the sans-IO codec.

decode the frame (envelope only) -> convert params into CallToolRequestParams ->
build a CallToolResult -> encode the response. Prints microseconds per call (best of
several runs).

    python benchmarks/protocol_codec.py
"""

from __future__ import annotations

import time

import fastmcp_protocol as p

FRAME = (
    b'{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"echo",'
    b'"arguments":{"message":"hello world"},"_meta":{"progressToken":17}}}'
)


def one() -> bytes:
    message = p.decode_message(FRAME)
    assert isinstance(message, p.JSONRPCRequest)
    params = p.decode_params(message.params, p.CallToolRequestParams)
    text = params.arguments["message"]  # type: ignore[index]
    result = p.CallToolResult(
        content=[p.TextContent(text=text)], structured_content={"result": text}
    )
    return p.encode_result(message.id, result)


def main(n: int = 200_000, runs: int = 5) -> None:
    one()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            one()
        best = min(best, (time.perf_counter() - start) / n)
    print(f"tools/call decode -> typed params -> encode result: {best * 1e6:.2f} us per call")


if __name__ == "__main__":
    main()
