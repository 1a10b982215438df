"""``fastmcp dev`` under the real MCP Inspector (``@modelcontextprotocol/inspector@2.12.0``,
web UI): the test plays the Inspector's page. The page talks to the Inspector's backend,
which starts ``python -m fastmcp run FILE`` over stdio (as ``fastmcp dev`` told it to) and
relays JSON-RPC messages: POST ``/api/mcp/send``, answers on the SSE stream
``/api/mcp/events``.

``fastmcp dev`` runs ``npx -y PACKAGE ...``; here ``npx`` is a stand-in that checks it is
asked for the pinned Inspector and runs the copy ``peers.py`` installed (same package,
no download at test time), with a Node new enough for it first on ``PATH``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import peers
import servers

from fastmcp._cli._serve import INSPECTOR

EXAMPLE = Path(__file__).parents[1] / "examples" / "cli" / "server.py"
START_TIMEOUT = 120  # seconds: a guard against a hang, not a measurement
ANSWER_TIMEOUT = 30


@contextmanager
def inspector_on(tmp_path: Path, *fastmcp_args: str) -> Iterator[httpx.Client]:
    """``fastmcp dev ...`` running; yields a client of the Inspector's backend."""
    assert peers.INSPECTOR == INSPECTOR, "fastmcp dev and the test peer must be the same"
    node, launcher = peers.inspector()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "node").symlink_to(node)
    npx = bin_dir / "npx"
    npx.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"if sys.argv[1:3] != ['-y', {INSPECTOR!r}]:\n"
        "    sys.exit(f'npx stand-in: unexpected {sys.argv[1:3]}')\n"
        f"os.execv({str(node)!r}, [{str(node)!r}, {str(launcher)!r}, *sys.argv[3:]])\n"
    )
    npx.chmod(0o755)
    port, token = servers.free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CLIENT_PORT": str(port),
        "MCP_SANDBOX_PORT": str(servers.free_port()),
        "MCP_APP_ORIGIN_PORT": str(servers.free_port()),
        "MCP_AUTO_OPEN_ENABLED": "false",  # no browser
        "MCP_INSPECTOR_API_TOKEN": token,
        "MCP_INSPECTOR_SECRET_STORE": "memory",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fastmcp", "dev", *fastmcp_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # the Inspector and the server it starts go with it
    )
    lines: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(process, lines), daemon=True)
    pump.start()
    try:
        seen = _wait_for(lines, "is up and running", process)
        assert f"http://127.0.0.1:{port}" in seen
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"x-mcp-remote-auth": f"Bearer {token}"},
            timeout=ANSWER_TIMEOUT,
        ) as backend:
            yield backend
        # stopping fastmcp dev stops the Inspector and the servers it started
        process.terminate()
        process.wait(timeout=30)
        assert _group_ends(process.pid), "fastmcp dev left processes behind"
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left, after a failure
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pump.join(timeout=15)  # the output ends when the whole group is gone
        assert process.stdout is not None
        process.stdout.close()


def _group_ends(group: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put("")


def _wait_for(lines: queue.Queue[str], text: str, process: subprocess.Popen[str]) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if not line:
            raise AssertionError(f"fastmcp dev exited ({process.poll()}):\n{''.join(seen)}")
        seen.append(line)
        if text in line:
            return "".join(seen) + "".join(_drain(lines))
    raise AssertionError(f"no {text!r} within {START_TIMEOUT} s:\n{''.join(seen)}")


def _drain(lines: queue.Queue[str]) -> Iterator[str]:
    time.sleep(0.2)  # the URL is printed on the lines right after
    while not lines.empty():
        yield lines.get()


class Page:
    """What the Inspector's page does: connect to the configured server, send
    messages, read the answers from the event stream."""

    def __init__(self, backend: httpx.Client) -> None:
        self.backend = backend
        self.config = backend.get("/api/config").raise_for_status().json()
        server = {
            "type": "stdio",
            "command": self.config["defaultCommand"],
            "args": self.config["defaultArgs"],
            "env": self.config["defaultEnvironment"],
            "cwd": self.config["defaultCwd"],
        }
        connected = backend.post("/api/mcp/connect", json={"config": server})
        self.session = connected.raise_for_status().json()["sessionId"]
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ids = iter(range(1, 1000))
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        try:
            with self.backend.stream(
                "GET", "/api/mcp/events", params={"sessionId": self.session}, timeout=None
            ) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        self.events.put(json.loads(line[5:]))
        except httpx.HTTPError as error:  # the Inspector stopped (at the end of the test)
            self.events.put({"type": "closed", "data": {"error": repr(error)}})

    def send(self, message: dict[str, Any]) -> None:
        sent = self.backend.post(
            "/api/mcp/send", json={"sessionId": self.session, "message": message}
        )
        assert sent.raise_for_status().json() == {"ok": True}, sent.text

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self.ids)
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while time.monotonic() < deadline:
            event = self.events.get(timeout=ANSWER_TIMEOUT)
            message = event.get("data", {})
            assert event.get("type") != "closed", f"the event stream broke: {message}"
            if event.get("type") == "message" and message.get("id") == request_id:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result
        raise AssertionError(f"no answer to {method} within {ANSWER_TIMEOUT} s")


def test_fastmcp_dev_serves_the_file_to_the_real_inspector(tmp_path: Path) -> None:
    with inspector_on(tmp_path, str(EXAMPLE), "-e", "GREETING=hello") as backend:
        page = Page(backend)
        # what fastmcp dev told the Inspector to start: this Python, fastmcp run FILE
        assert page.config["defaultCommand"] == sys.executable
        assert page.config["defaultArgs"] == ["-m", "fastmcp", "run", str(EXAMPLE)]
        assert page.config["defaultEnvironment"]["GREETING"] == "hello"

        # the legacy era, as the Inspector's page speaks it by default
        init = page.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "inspector-page", "version": "test"},
            },
        )
        assert init["serverInfo"]["name"] == "demo"
        assert init["instructions"] == "A small server to try the fastmcp command on."
        page.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        tools = page.request("tools/list", {})["tools"]
        assert {"add", "shout", "stats", "countdown"} <= {tool["name"] for tool in tools}
        added = page.request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
        assert added["content"] == [{"type": "text", "text": "5"}]
        assert added["structuredContent"] == {"result": 5}
        motd = page.request("resources/read", {"uri": "demo://motd"})
        assert motd["contents"][0]["text"] == "Have a nice day."

        # the 2026-07-28 era (what the Inspector's "auto" tries first), on a second
        # connection (a second server process): every request carries its version,
        # capabilities and client in _meta
        page = Page(backend)
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "inspector-page", "version": "test"},
        }
        discovered = page.request("server/discover", {"_meta": meta})
        assert "2026-07-28" in discovered["supportedVersions"]
        shout = page.request(
            "tools/call",
            {"name": "shout", "arguments": {"message": "hi", "times": 2}, "_meta": meta},
        )
        assert shout["content"] == [{"type": "text", "text": "HI HI"}]
