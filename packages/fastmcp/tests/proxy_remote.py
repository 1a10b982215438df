"""A remote for the proxy's reconnection tests, run as a child process on stdio:
``pid`` says which process answers."""

from __future__ import annotations

import os

from fastmcp_server import Server

server = Server("remote", "1.0")


@server.tool
async def pid() -> int:
    """This process's id."""
    return os.getpid()


if __name__ == "__main__":
    server.run()
