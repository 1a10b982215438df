"""The interop server hosted by asyncio ASGI servers, for test_asyncio_hosts.py.

    python asyncio_host.py HOST PORT

HOST is ``fastapi`` (FastAPI on uvicorn, the MCP app mounted at ``/api`` with
``FastAPI(lifespan=mcp_app.lifespan)``), ``fastapi-plain`` (the same mount without the
lifespan line: the app starts on first use), ``uvicorn`` (the MCP app alone, at
``/mcp``) or ``hypercorn`` (the FastAPI app on hypercorn's asyncio worker). The
FastAPI route ``GET /state`` tells which ``wait`` calls started and which were
cancelled; every such event is also a line on stdout (``started KEY``,
``cancelled KEY``), and ``exited`` ends the output once the host has stopped.
SIGTERM stops the host (uvicorn and hypercorn give the requests in flight 2 s).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import trio
from interop_server import server

seen: dict[str, list[str]] = {"started": [], "cancelled": []}


def note(kind: str, key: str) -> None:
    seen[kind].append(key)
    print(kind, key, flush=True)


@server.tool
async def wait(key: str) -> str:
    """Wait until cancelled."""
    note("started", key)
    try:
        await trio.sleep_forever()
    finally:
        note("cancelled", key)
    return "never"


def fastapi_app(*, lifespan: bool) -> Any:
    from fastapi import FastAPI

    mcp_app = server.http_app(path="/mcp")
    app = FastAPI(lifespan=mcp_app.lifespan) if lifespan else FastAPI()
    app.mount("/api", mcp_app)

    @app.get("/state")
    async def state() -> dict[str, list[str]]:
        asyncio.get_running_loop()  # a route of the host's own event loop
        return seen

    return app


async def hypercorn_main(app: Any, port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.graceful_timeout = 2.0
    config.accesslog = None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    if host == "hypercorn":
        asyncio.run(hypercorn_main(fastapi_app(lifespan=True), port))
    else:
        import uvicorn

        app = server.http_app() if host == "uvicorn" else fastapi_app(lifespan=host == "fastapi")
        # uvicorn raises the signal it stopped for again once stopped, to the handler
        # it found: this one lets the script end normally (and say so)
        signal.signal(signal.SIGTERM, lambda number, frame: None)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, timeout_graceful_shutdown=2, log_level="warning"
        )
        uvicorn.Server(config).run()
    print("exited", flush=True)


if __name__ == "__main__":
    main()
