"""Serve an example script's ``server`` on our own HTTP/1.1 server (``serve_h1``)
instead of its ``run_http`` (hypercorn's trio worker):

    python h1_serve.py SCRIPT --port PORT [--host HOST]

The script is imported, not run: it must define a module-level ``fastmcp_server.Server``
named ``server`` and serve it with the defaults of ``run_http`` (path ``/mcp``), as the
examples do. ``servers.http_server`` starts scripts this way when asked for the ``h1``
server (``FASTMCP_TEST_HTTP_SERVER=h1``); nothing in the script or the framework changes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import trio

from fastmcp_transport.http_server import serve_h1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("served_example", args.script)
    assert spec is not None, args.script
    assert spec.loader is not None, args.script
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    server = module.server

    async def serve() -> None:
        async with server.running():
            await serve_h1(server.http_app(), host=args.host, port=args.port)

    trio.run(serve)


if __name__ == "__main__":
    main()
