"""``fastmcp run`` (serve a server: its own, or a proxy of another), ``--reload``,
and ``fastmcp dev`` (the server under the MCP Inspector)."""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from fastmcp._cli._auth import oauth_for
from fastmcp._cli._console import Console, configure_logging
from fastmcp._cli._errors import CliError
from fastmcp._cli._spec import Spec, load_server
from fastmcp_server import LoggingMiddleware, Server, Settings, SettingsError

__all__ = ["INSPECTOR", "http_options", "run_dev", "run_server", "server_for"]

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
"""The MCP Inspector ``fastmcp dev`` runs (pinned: its command line changed between
major versions)."""
INSPECTOR_NODE = (22, 19)
"""The oldest Node.js the pinned Inspector runs on (its ``engines``)."""


def server_for(spec: Spec, args: argparse.Namespace) -> Server:
    """The server ``fastmcp run`` serves: the one in a file or module, else a proxy
    of the URL, configured server or command (whose stderr is passed through). On
    stdio the proxy has one client: its one upstream connection serves it
    (``sessions="shared"``: one child process, not two); over HTTP each session of
    its clients has its own."""
    http = http_options(spec, args)
    if spec.in_process:
        return load_server(spec)
    from fastmcp.proxy import proxy

    stdio = getattr(args, "transport", "stdio") == "stdio"
    sessions: Literal["isolated", "shared"] = "shared" if stdio else "isolated"
    if spec.kind == "url":
        assert spec.url is not None
        return proxy(spec.url, sessions=sessions, **http)
    if spec.kind == "config":
        assert spec.config is not None
        return proxy(spec.config, server=spec.name, stderr="inherit", sessions=sessions, **http)
    return proxy(list(spec.command), stderr="inherit", sessions=sessions)


def http_options(spec: Spec, args: argparse.Namespace) -> dict[str, Any]:
    """The ``Client`` options of ``--header`` and ``--auth`` (only for a server
    reached over HTTP: a URL or a configured one)."""
    options: dict[str, Any] = {}
    headers = _headers(args)
    if headers:
        options["headers"] = headers
    auth = oauth_for(args)
    if auth is not None:
        options["auth"] = auth
    if options and spec.kind not in ("url", "config"):
        raise CliError("--header and --auth are for servers reached over HTTP")
    return options


def run_server(spec: Spec, args: argparse.Namespace, console: Console) -> int:
    """Serve until stdin closes (stdio) or a signal (SIGINT, SIGTERM) arrives; either
    way the server stops gracefully (``Server.run_stdio``/``run_http``: requests in
    flight get ``--shutdown-grace`` seconds, one line on stderr for a signal) and the
    status is 0; a second signal stops at once (130 for Ctrl-C)."""
    _apply_settings(args)
    if args.reload:
        if args.transport != "http":
            raise CliError(
                "--reload needs -t http: a stdio client's session does not survive a "
                "restart of its server (restart the client instead)"
            )
        return _reload(spec, args, console)
    if args.transport == "stdio" and (args.given_http_options):
        raise CliError("--port, --stateless and --http-server are options of -t http")
    if args.transport == "stdio" and args.given_server_auth:
        raise CliError("--server-auth is an option of -t http (stdio has no authorization)")
    if args.shutdown_grace is not None and args.shutdown_grace < 0:
        raise CliError("--shutdown-grace cannot be negative")
    configure_logging(args.log_level)
    if args.transport == "stdio":
        real_stdout = _take_stdout()
        try:
            server = server_for(spec, args)
        finally:
            _give_back_stdout(real_stdout)  # the server's stdio transport protects it again
        server.add_middleware(LoggingMiddleware())
        server.run_stdio(
            shutdown_grace=args.shutdown_grace,
            on_ready=partial(_ready_on_stdio, server, spec, args, console),
        )
        return 0
    server = server_for(spec, args)
    server.add_middleware(LoggingMiddleware())
    auth = server_auth(args, args.port)
    try:
        server.run_http(
            args.host,
            args.port,
            args.path,
            auth=auth,
            stateless=args.stateless,
            http_server=args.http_server,
            shutdown_grace=args.shutdown_grace,
            on_ready=partial(_ready_on_http, server, console),
        )
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CliError(
                f"cannot listen on {args.host}:{args.port}: the address is in use"
            ) from None
        raise
    return 0


def server_auth(args: argparse.Namespace, port: int) -> Any:
    """What protects the served server: ``--server-auth`` (else ``FASTMCP_SERVER_AUTH``,
    applied by ``_apply_settings``) configured by the ``FASTMCP_SERVER_AUTH_*`` variables
    (``fastmcp_server.auth.auth_from_environment``); ``None`` without either. The
    proxies' ``base_url`` defaults to the address served (fine locally)."""
    kind = getattr(args, "server_auth", None)
    if not kind:
        return None
    from fastmcp_server.auth import auth_from_environment

    host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        return auth_from_environment(kind, base_url=f"http://{host}:{port}")
    except (ValueError, ImportError) as error:
        raise CliError(str(error)) from None


def _headers(args: argparse.Namespace) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in getattr(args, "header", None) or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise CliError(f"bad header {item!r}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


def _take_stdout() -> int:
    """Keep the real stdout for MCP messages alone while the server's code is imported:
    until ``_give_back_stdout``, file descriptor 1 (``print``, libraries, child
    processes) is stderr. Returns a descriptor of the real stdout."""
    sys.stdout.flush()
    real = os.dup(1)
    os.dup2(2, 1)
    return real


def _give_back_stdout(real: int) -> None:
    sys.stdout.flush()
    os.dup2(real, 1)
    os.close(real)


def _ready_on_stdio(
    server: Server, spec: Spec, args: argparse.Namespace, console: Console, where: str
) -> None:
    """The banner (stderr a terminal), and the hint when a person, not a client, is
    on stdin."""
    _banner(server, where, console)
    if not os.isatty(0):
        return
    if spec.kind == "command":
        command = shlex.join(["--", *spec.command])
        dev, call = f"fastmcp dev {command}", f"fastmcp call TOOL key=value {command}"
    else:
        named = shlex.join(
            [args.spec] if args.spec else ["-m", args.module] if args.module else spec.run_args()
        )
        dev, call = f"fastmcp dev {named}", f"fastmcp call {named} TOOL key=value"
    console.print(
        f"fastmcp: {server.info.name} is an MCP server on stdio, waiting for a client on "
        f"stdin (try: {dev}, or {call}); Ctrl-C stops it"
    )


def _ready_on_http(server: Server, console: Console, url: str) -> None:
    """The banner on a terminal, else one line a log or a script can read."""
    _banner(server, url, console)
    if not console.is_terminal:
        console.print(f"serving {server.info.name} on {url}")


def _banner(server: Server, where: str, console: Console) -> None:
    counts = [
        (len(server.definitions("tools")), "tool"),
        (len(server.definitions("resources")), "resource"),
        (len(server.definitions("templates")), "resource template"),
        (len(server.definitions("prompts")), "prompt"),
    ]
    offers = ", ".join(f"{n} {what}{'s' if n != 1 else ''}" for n, what in counts)
    console.banner(
        f"fastmcp {metadata.version('fastmcp')} · {server.info.name} {server.info.version}",
        [("serving", where), ("offers", offers)],
    )


# -- --reload ------------------------------------------------------------------------------

_SKIP = {".git", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache"}


def _watched_folder(spec: Spec) -> Path:
    if spec.kind == "file":
        assert spec.path is not None
        return spec.path.parent
    if spec.kind == "module":
        import importlib.util

        sys.path.insert(0, os.getcwd())
        try:
            found = importlib.util.find_spec(spec.module or "")
        except (ImportError, ValueError):
            found = None
        if found is None or found.origin is None:
            raise CliError(f"no module named {spec.module!r}")
        origin = Path(found.origin)
        top = (spec.module or "").split(".")[0]
        # the whole top-level package, or the module's folder
        for parent in origin.parents:
            if parent.name == top:
                return parent
        return origin.parent
    raise CliError("--reload watches Python source: give a file or a module")


def _sources(folder: Path) -> Iterator[tuple[str, float]]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in _SKIP and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                try:
                    yield path, os.stat(path).st_mtime
                except OSError:
                    continue


def _snapshot(folder: Path) -> dict[str, float]:
    return dict(_sources(folder))


def _reload(spec: Spec, args: argparse.Namespace, console: Console) -> int:
    """Run the server in a child process and start it again when a ``.py`` file
    under its folder changes (polled twice a second: no extra dependency). A child
    that crashes is started again at the next change. SIGINT/SIGTERM stop both.

    The child runs in a process group of its own, so that a Ctrl-C in the terminal
    reaches this process only, which then stops the child with one SIGTERM (a second
    signal would make it stop at once instead of draining)."""
    folder = _watched_folder(spec)
    argv = [sys.executable, "-m", "fastmcp", "run", *_child_args(args), *spec.run_args()]
    grace = _grace(args)
    stop = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    console.print(f"fastmcp: watching {folder} for changes")
    snapshot = _snapshot(folder)
    child: subprocess.Popen[bytes] | None = subprocess.Popen(argv, process_group=0)
    try:
        while not stop:
            time.sleep(0.5)
            if child is not None and child.poll() is not None:
                console.warning(
                    f"the server exited with status {child.returncode}; "
                    "waiting for a change to start it again"
                )
                child = None
            current = _snapshot(folder)
            if current != snapshot:
                changed = sorted(
                    Path(p).name
                    for p in set(current) ^ set(snapshot)
                    | {p for p in current if p in snapshot and current[p] != snapshot[p]}
                )
                snapshot = current
                console.print(f"fastmcp: {', '.join(changed)} changed: restarting")
                if child is not None:
                    _stop_child(child, grace)
                child = subprocess.Popen(argv, process_group=0)
    finally:
        if child is not None:
            _stop_child(child, grace)
    return 0


_GIVEN_TO_THE_SERVER = (("--store", "store", "FASTMCP_STORE"),
                        ("--state-secret", "state_secret", "FASTMCP_STATE_SECRET"))  # fmt: skip
"""Options the server reads itself, when it is made: they reach it as its variables."""


def _apply_settings(args: argparse.Namespace) -> None:
    """Fill the options not given on the command line from the ``FASTMCP_*`` variables
    (``fastmcp_server.Settings``; a bad one is one clear line). Notes which HTTP
    options were given explicitly (``given_http_options``): on stdio they are an error,
    while the variables simply do not apply.

    ``--store`` and ``--state-secret`` become this process's ``FASTMCP_STORE`` and
    ``FASTMCP_STATE_SECRET`` before the server's file is loaded: a ``Server`` reads them
    when it is made, unless its code gives its own (the code wins, as everywhere), and
    a ``--reload`` child inherits them."""
    for option, field, variable in _GIVEN_TO_THE_SERVER:
        value = getattr(args, field, None)
        if value is None:
            continue
        try:
            Settings.from_env({variable: value})
        except SettingsError as exc:
            reason = str(exc).partition(": ")[2]
            raise CliError(f"{option}: {reason}") from None
        os.environ[variable] = value
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    args.given_http_options = (
        args.stateless is not None or args.port is not None or args.http_server is not None
    )
    args.given_server_auth = getattr(args, "server_auth", None) is not None
    if not args.given_server_auth:
        args.server_auth = settings.server_auth
    for name in ("transport", "host", "port", "path", "http_server", "log_level"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(settings, name))
    if args.stateless is None:
        args.stateless = settings.stateless
    if args.shutdown_grace is None:
        args.shutdown_grace = settings.shutdown_grace


def _grace(args: argparse.Namespace) -> float:
    grace = getattr(args, "shutdown_grace", None)
    return Server.DEFAULT_SHUTDOWN_GRACE if grace is None else float(grace)


def _child_args(args: argparse.Namespace) -> list[str]:
    out = ["-t", "http", "--host", args.host, "--path", args.path, "--log-level", args.log_level]
    out += ["--port", str(args.port)]
    if args.stateless:
        out.append("--stateless")
    if args.http_server != "h1":
        out += ["--http-server", args.http_server]
    if args.shutdown_grace is not None:
        out += ["--shutdown-grace", f"{args.shutdown_grace:g}"]
    for header in args.header or []:
        out += ["--header", header]
    if args.auth:
        out += ["--auth", args.auth, "--callback-port", str(args.callback_port)]
    if args.server_auth:
        out += ["--server-auth", args.server_auth]
    return out


def _stop_child(child: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM, then as long as a graceful stop can take (the grace and 5 s to answer
    and exit), then SIGKILL."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=grace + 5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


# -- dev -----------------------------------------------------------------------------------


def _check_node(minimum: tuple[int, int]) -> None:
    """Stop with one line when the ``node`` on PATH is older than ``minimum``: the
    Inspector would fail at start-up with a page of JavaScript errors."""
    wanted = ".".join(map(str, minimum))
    node = shutil.which("node")
    try:
        printed = subprocess.run(
            [node or "node", "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        printed = ""
    parts = printed.lstrip("v").split(".")
    found = tuple(int(p) for p in parts[:2]) if all(p.isdigit() for p in parts[:2]) else ()
    if len(found) < 2 or found < minimum:
        raise CliError(
            f"fastmcp dev needs Node.js {wanted} or later for {INSPECTOR} "
            f"(node --version: {printed or 'no answer'})"
        )


def run_dev(spec: Spec, args: argparse.Namespace, console: Console) -> int:
    """Start the MCP Inspector (web UI) on ``fastmcp run SPEC`` over stdio, with this
    Python. Returns the Inspector's exit status."""
    if spec.in_process:
        load_server(spec)  # a broken file fails here, clearly, not in the Inspector
    npx = shutil.which("npx")
    if npx is None:
        raise CliError(
            "fastmcp dev needs Node.js: npx was not found on PATH "
            "(install Node.js 22.19 or later from your package manager)"
        )
    if args.inspector == INSPECTOR:
        _check_node(INSPECTOR_NODE)
    server_command = [sys.executable, "-m", "fastmcp", "run", *spec.run_args()]
    argv = [npx, "-y", args.inspector, "--protocol-era", "auto"]
    for item in args.env or []:
        argv += ["-e", item]
    argv += ["--", *server_command]
    console.print(
        f"fastmcp: starting the MCP Inspector ({args.inspector}) on: {' '.join(server_command)}"
    )
    inspector = subprocess.Popen(argv)
    # SIGTERM stops the Inspector too (Ctrl-C reaches it already: same process group)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: inspector.terminate())
    try:
        return inspector.wait()
    except KeyboardInterrupt:
        _stop_child(inspector)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
