"""Running the official MCP conformance suite (``@modelcontextprotocol/conformance``).

The harness is installed by ``peers`` (pinned, cached; it needs Node >= 22, taken from
PyPI when the machine's Node is older) and run directly: ``server --url URL ...`` or
``client --command CMD ...``. Every scenario writes ``checks.json``; a scenario fails
when one of its checks is ``FAILURE``. This is what
``../shared/mcp-spec/run-conformance.sh`` does, without needing that folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import peers

HARNESS_VERSIONS = ("0.1.16", "0.2.0-alpha.12")


@attrs.frozen
class Scenario:
    name: str
    checks: tuple[dict[str, object], ...]

    @property
    def failures(self) -> list[dict[str, object]]:
        return [c for c in self.checks if c.get("status") == "FAILURE"]

    @property
    def warnings(self) -> list[dict[str, object]]:
        return [c for c in self.checks if c.get("status") == "WARNING"]


def harness(version: str) -> Path:
    modules = peers.npm_peer(f"@modelcontextprotocol/conformance@{version}", node_version=22)
    return modules / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"


def run(version: str, *args: str, timeout: float = 600) -> list[Scenario]:
    """Run the harness with ``args`` and return every scenario it recorded."""
    with tempfile.TemporaryDirectory(prefix="mcp-conformance-") as out:
        result = subprocess.run(
            [str(peers.node(22)), str(harness(version)), *args, "-o", out],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        scenarios = []
        for checks in sorted(Path(out).rglob("checks.json")):
            name = checks.parent.name.rsplit("-2", 1)[0]  # drop the timestamp
            scenarios.append(Scenario(name, tuple(json.loads(checks.read_text()))))
    if not scenarios:
        raise AssertionError(f"the harness recorded nothing:\n{result.stdout}\n{result.stderr}")
    return scenarios


def report(scenarios: Sequence[Scenario]) -> str:
    lines = []
    for s in scenarios:
        for check in s.failures:
            lines.append(
                f"{s.name}: {check.get('id')}: {check.get('errorMessage') or check.get('details')}"
            )
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(
    script: Path, *args: str, port_flag: str | None = "--port", env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start ``script --port PORT`` (``script PORT`` without a ``port_flag``; ``env``
    added to the environment) and yield its MCP URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    port_args = [port_flag, str(port)] if port_flag else [str(port)]
    # stderr to a file, not a pipe: a chatty server never blocks
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, str(script), *port_args, *args],
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
            env={**os.environ, **env} if env else None,
        )
        try:
            _wait_until_up(process, url, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen[str], url: str, log: Any) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"the server exited: {log.read()}")
        try:
            urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError("the server did not start within 30 s") from None
            time.sleep(0.1)
        else:
            return
