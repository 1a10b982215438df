"""The HTTP app on asyncio ASGI servers, for real: uvicorn and hypercorn's asyncio worker,
alone or mounted in FastAPI (``asyncio_host.py`` in a subprocess on 127.0.0.1), driven
by the official Python SDK's client in both eras (``sdk_hosted_client.py``): tools,
progress, resources, prompts, a cancellation that reaches the handler; the host's own
FastAPI route answers beside the app; SIGTERM ends the host, cancelling what is in flight.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import attrs
import httpx
import peers
import pytest
import servers
from test_interop_server import EXPECTED

HERE = Path(__file__).parent
ERAS = [("auto", "2026-07-28"), ("legacy", "2025-11-25")]


@attrs.frozen
class Host:
    base: str
    mcp_url: str
    process: subprocess.Popen[str]
    out: IO[str]
    err: IO[str]

    def stdout(self) -> list[str]:
        self.out.seek(0)
        return self.out.read().splitlines()

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read()


@contextmanager
def hosted(kind: str) -> Iterator[Host]:
    port = servers.free_port()
    base = f"http://127.0.0.1:{port}"
    mcp_url = f"{base}/mcp" if kind == "uvicorn" else f"{base}/api/mcp"
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "asyncio_host.py"), kind, str(port)],
            stdout=out,
            stderr=err,
            text=True,
        )
        try:
            servers._wait_until_up(process, mcp_url, err)
            yield Host(base, mcp_url, process, out, err)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def stop(host: Host) -> int:
    host.process.send_signal(signal.SIGTERM)
    try:
        return host.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the host did not stop:\n{host.stderr()[-3000:]}") from None


def sdk(mode: str, url: str, state_url: str) -> dict[str, object]:
    result = subprocess.run(
        [str(peers.sdk_python()), str(HERE / "sdk_hosted_client.py"), mode, url, state_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", ["fastapi", "fastapi-plain", "hypercorn"])
def test_the_sdk_client_uses_the_app_mounted_in_fastapi(kind: str) -> None:
    with hosted(kind) as host:
        for mode, version in ERAS:
            seen = sdk(mode, host.mcp_url, f"{host.base}/state")
            assert seen.pop("protocol_version") == version
            assert seen.pop("cancelled") is True  # the handler saw the client's cancel
            assert seen.pop("after_cancel") == ["2"]
            assert seen == {**EXPECTED, "tools": ["add", "countdown", "wait"]}
        state = httpx.get(f"{host.base}/state").json()  # the host's own route
        assert len(state["started"]) == len(state["cancelled"]) == 2
        assert stop(host) == 0
        assert host.stdout()[-1] == "exited"
        assert "Traceback" not in host.stderr(), host.stderr()


def test_the_sdk_client_uses_the_app_alone_on_uvicorn() -> None:
    with hosted("uvicorn") as host:
        for mode, version in ERAS:
            seen = sdk(mode, host.mcp_url, "-")
            assert seen.pop("protocol_version") == version
            assert seen == {**EXPECTED, "tools": ["add", "countdown", "wait"]}
        assert stop(host) == 0
        assert "Traceback" not in host.stderr(), host.stderr()


def modern_wait(key: str) -> dict[str, object]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "wait", "arguments": {"key": key}, "_meta": meta},
    }


MODERN_HEADERS = {
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "wait",
}


def wait_for_line(host: Host, line: str) -> None:
    deadline = time.monotonic() + 30
    while line not in host.stdout():
        if time.monotonic() > deadline or host.process.poll() is not None:
            raise AssertionError(f"no {line!r} from the host:\n{host.stderr()[-3000:]}")
        time.sleep(0.05)


def raw_post(url: str, message: dict[str, object]) -> socket.socket:
    """A modern POST written on a socket of its own (the test closes it)."""
    parts = urllib.parse.urlsplit(url)
    body = json.dumps(message).encode()
    head = [
        f"POST {parts.path} HTTP/1.1",
        f"host: {parts.netloc}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in MODERN_HEADERS.items()),
    ]
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + body)
    return sock


@pytest.mark.parametrize("kind", ["fastapi", "hypercorn"])
def test_a_dropped_connection_cancels_the_handler(kind: str) -> None:
    with hosted(kind) as host:
        sock = raw_post(host.mcp_url, modern_wait("dropped"))
        wait_for_line(host, "started dropped")
        sock.close()
        # the connection is gone: the handler is cancelled, the host goes on
        wait_for_line(host, "cancelled dropped")
        assert httpx.get(f"{host.base}/state").json()["cancelled"] == ["dropped"]
        assert stop(host) == 0


@pytest.mark.parametrize("kind", ["fastapi", "fastapi-plain", "hypercorn"])
def test_the_hosts_shutdown_ends_the_requests_in_flight(kind: str) -> None:
    with hosted(kind) as host:
        sock = raw_post(host.mcp_url, modern_wait("in flight"))
        wait_for_line(host, "started in flight")
        host.process.send_signal(signal.SIGTERM)
        # the host ends the request (its handler cancelled) instead of hanging on it
        sock.settimeout(30)
        while sock.recv(65536):
            pass
        sock.close()
        assert host.process.wait(timeout=30) == 0
        lines = host.stdout()
        assert lines.index("cancelled in flight") < lines.index("exited")


@pytest.mark.parametrize("lifespan", [True, False])
def test_starlettes_test_client_drives_the_mounted_app(lifespan: bool) -> None:
    # its event loop runs in a thread of its own (an anyio portal): a new one per
    # request without the lifespan block
    from fastapi import FastAPI

    from fastmcp_server import Server

    with warnings.catch_warnings():  # starlette would rather have httpx2: not our matter
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient

    server = Server("tested")

    @server.tool
    async def add(a: int, b: int) -> int:
        return a + b

    mcp_app = server.http_app()
    app = FastAPI(lifespan=mcp_app.lifespan)
    app.mount("/api", mcp_app)
    call = {**modern_wait("x"), "params": {**modern_wait("x")["params"], "name": "add",
            "arguments": {"a": 1, "b": 2}}}  # fmt: skip
    headers = {**MODERN_HEADERS, "mcp-name": "add", "accept": "application/json"}
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }

    def use(client: TestClient) -> None:
        for _ in range(2):
            answer = client.post("/api/mcp", json=call, headers=headers)
            assert answer.json()["result"]["content"] == [{"type": "text", "text": "3"}]
        opened = client.post("/api/mcp", json=initialize, headers={"accept": "application/json"})
        assert opened.status_code == 200
        assert "mcp-session-id" in opened.headers

    if lifespan:
        with TestClient(app, base_url="http://localhost") as client:
            use(client)
    else:
        use(TestClient(app, base_url="http://localhost"))
