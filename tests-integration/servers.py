"""Starting the HTTP servers the integration tests talk to, on 127.0.0.1, and stopping
them: ours (``http_server``: a Python script that takes ``--port``, on hypercorn through
its own ``run_http``, or on our HTTP/1.1 server through ``h1_serve.py``), the official Python
SDK's (``sdk_http_server``: ``sdk_server.py --http``) and server-everything's
(``everything_http_server``: its ``streamableHttp`` transport). The peers come from
``peers``; a server that does not come up fails the test with its stderr.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import attrs
import peers

HERE = Path(__file__).parent
SDK_SERVER = HERE / "sdk_server.py"
H1_SERVE = HERE / "h1_serve.py"
HTTP_SERVER = os.environ.get("FASTMCP_TEST_HTTP_SERVER", "hypercorn")
"""The HTTP server our scripts run on unless a test says: ``hypercorn`` (the script's own
``run_http``) or ``h1`` (``serve_h1``, through ``h1_serve.py``: for the scripts started
with ``--port`` alone; the others keep their own ``run_http``)."""
START_TIMEOUT = 60  # seconds; a cold start of a Node or SDK server on a busy machine


@attrs.frozen
class Running:
    """A server process and the MCP URL it serves."""

    url: str
    process: subprocess.Popen[str]


@attrs.frozen
class SdkUrls:
    """The SDK's server: Streamable HTTP and the legacy HTTP+SSE transport."""

    streamable: str
    sse: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(
    script: Path,
    *args: str,
    port_flag: str | None = "--port",
    env: dict[str, str] | None = None,
    server: str | None = None,
) -> Iterator[str]:
    """Start our ``script --port PORT`` (``script PORT`` without a ``port_flag``; ``env``
    added to the environment) and yield its MCP URL once it answers. ``server="h1"``
    (or ``HTTP_SERVER``) serves the script's ``server`` with ``serve_h1`` instead."""
    port = free_port()
    port_args = [port_flag, str(port)] if port_flag else [str(port)]
    argv = [sys.executable, str(script), *port_args, *args]
    plain = port_flag == "--port" and not args  # what h1_serve.py can stand in for
    if server == "h1" and not plain:
        raise ValueError("h1_serve.py serves a script's `server` with no arguments of its own")
    if (server or HTTP_SERVER) == "h1" and plain:
        argv = [sys.executable, str(H1_SERVE), str(script), "--port", str(port)]
    environ = {**os.environ, **env} if env else None
    with serving(argv, f"http://127.0.0.1:{port}/mcp", environ) as running:
        yield running.url


@contextmanager
def everything_http_server() -> Iterator[Running]:
    """server-everything over Streamable HTTP (one session per client, at ``/mcp``)."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    argv = peers.server_everything("streamableHttp")
    with serving(argv, f"http://127.0.0.1:{port}/mcp", env) as running:
        yield running


@contextmanager
def serving(argv: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    """Start ``argv``, yield once ``url`` gives any HTTP answer, terminate it after."""
    # stderr to a file, not a pipe: a chatty server never blocks
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, text=True, env=env)
        try:
            _wait_until_up(process, url, log)
            yield Running(url, process)
        finally:
            process.terminate()
            _reap(process)


@contextmanager
def sdk_http_server() -> Iterator[SdkUrls]:
    """``sdk_server.py --http`` in the SDK's venv; stopped by closing its stdin."""
    python = peers.sdk_python()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [str(python), str(SDK_SERVER), "--http"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
            line = process.stdout.readline() if ready else ""
            if not line.startswith("READY "):
                process.kill()
                raise AssertionError(f"the SDK's server did not start: {line!r}\n{_tail(log)}")
            streamable, sse = line.split()[1:]
            yield SdkUrls(f"http://127.0.0.1:{streamable}/mcp", f"http://127.0.0.1:{sse}/sse")
        finally:
            process.stdin.close()
            _reap(process)
            process.stdout.close()


def _wait_until_up(process: subprocess.Popen[str], url: str, log: IO[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as answer:
            answer.close()
            return  # any HTTP answer means it is up
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the server did not answer within {START_TIMEOUT} s:\n{_tail(log)}"
                ) from None
            time.sleep(0.1)


def _reap(process: subprocess.Popen[str]) -> None:
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: IO[str]) -> str:
    log.seek(0)
    return log.read()[-3000:]
