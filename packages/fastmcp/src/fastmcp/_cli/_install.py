"""``fastmcp install``: put a server in an MCP client's configuration.

The entry runs the server the way that client can: a Python server as
``<python> -m fastmcp run /absolute/path/server.py`` (the interpreter that runs this
command unless ``--python`` names another, which must be able to import fastmcp);
a command after ``--`` as that command; a URL as ``{"url": ...}`` where the client
takes URLs, and through a local proxy (``fastmcp run URL``) for Claude Desktop,
whose configuration file takes commands only; a server of an MCP configuration as
its entry there.

Where each client keeps its configuration:

* ``claude-desktop``: ``claude_desktop_config.json`` in ``~/Library/Application
  Support/Claude`` (macOS), ``%APPDATA%\\Claude`` (Windows), ``$XDG_CONFIG_HOME/Claude``
  or ``~/.config/Claude`` (Linux);
* ``cursor``: ``~/.cursor/mcp.json``, or ``PROJECT/.cursor/mcp.json`` with ``--project``;
* ``claude-code``: the project's ``.mcp.json`` (``--project``, default: the current
  folder), the file Claude Code shares with everyone working on the project
  (written directly rather than through ``claude mcp add``, so it works the same
  with or without the ``claude`` command installed);
* ``mcp-json``: the entry is printed (``{"mcpServers": {...}}``), or merged into the
  file given with ``--output``.

A file is changed, never replaced: the other servers and keys stay as they are, an
entry of the same name is replaced only with ``--force``, a file that is not valid
JSON is left alone (an error), and the new content is written to a temporary file
first and then renamed over the old one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastmcp._cli._console import Console
from fastmcp._cli._errors import CliError
from fastmcp._cli._serve import _headers
from fastmcp._cli._spec import Spec, load_server

__all__ = ["TARGETS", "claude_desktop_config", "read_env_file", "run_install"]

TARGETS = ("claude-desktop", "claude-code", "cursor", "mcp-json")

_RESTART = {
    "claude-desktop": "restart Claude Desktop to load it",
    "cursor": "Cursor picks it up in Settings > MCP",
    "claude-code": "Claude Code asks to approve project servers the next time it starts here",
    "mcp-json": "",
}


def claude_desktop_config(
    platform: str | None = None,
    environ: dict[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """Where Claude Desktop keeps ``claude_desktop_config.json`` on ``platform``
    (``sys.platform`` values)."""
    platform = platform or sys.platform
    environ = dict(os.environ) if environ is None else environ
    home = home or Path.home()
    if platform == "darwin":
        folder = home / "Library" / "Application Support" / "Claude"
    elif platform == "win32":
        appdata = environ.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        folder = base / "Claude"
    else:
        xdg = environ.get("XDG_CONFIG_HOME")
        folder = (Path(xdg) if xdg else home / ".config") / "Claude"
    return folder / "claude_desktop_config.json"


def read_env_file(path: str) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` and quotes allowed, ``#`` comments skipped)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise CliError(f"cannot read the env file {path}: {exc.strerror}") from None
    env: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise CliError(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def _env(args: argparse.Namespace) -> dict[str, str]:
    env: dict[str, str] = {}
    if args.env_file:
        env.update(read_env_file(args.env_file))
    for item in args.env or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"bad --env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


def _python(args: argparse.Namespace) -> str:
    if args.python is None:
        return sys.executable  # not resolved: a venv's python is a symlink that matters
    python = Path(args.python).expanduser()
    if not python.is_absolute():
        found = _which(args.python)
        if found is None:
            raise CliError(f"no Python interpreter {args.python!r} found")
        python = Path(found)
    check = (
        subprocess.run(
            [str(python), "-c", "import fastmcp"], capture_output=True, text=True, check=False
        )
        if python.exists()
        else None
    )
    if check is None:
        raise CliError(f"no Python interpreter {args.python!r} found")
    if check.returncode != 0:
        raise CliError(f"{python} cannot import fastmcp: install fastmcp in that environment")
    return str(python.absolute())


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def _entry(spec: Spec, target: str, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The name and the configuration entry for ``spec`` in ``target``'s file."""
    env = _env(args)
    headers = _headers(args)
    name = args.name
    entry: dict[str, Any]
    if args.auth and spec.kind not in ("url", "config"):
        raise CliError("--auth is for servers reached over HTTP")
    if spec.kind in ("file", "module"):
        server = load_server(spec)  # a broken server fails now, not in the client
        name = name or server.info.name
        if spec.kind == "module":
            env.setdefault("PYTHONPATH", os.getcwd())  # where `-m module` was found
        entry = {"command": _python(args), "args": ["-m", "fastmcp", "run", *spec.run_args()]}
    elif spec.kind == "command":
        name = name or Path(spec.command[0]).name
        entry = {"command": spec.command[0], "args": list(spec.command[1:])}
    elif spec.kind == "config":
        from fastmcp_client import McpConfig, StdioServer

        assert spec.config is not None
        assert spec.name is not None
        name = name or spec.name
        configured = McpConfig.load(spec.config).servers[spec.name]
        if isinstance(configured, StdioServer):
            if args.auth:
                raise CliError("--auth is for servers reached over HTTP")
            entry = {"command": configured.command, "args": configured.args}
            env = {**configured.env, **env}
            if configured.cwd:
                entry["cwd"] = configured.cwd
        else:
            entry = _url_entry(configured.url, {**configured.headers, **headers}, target, args)
    else:
        assert spec.url is not None
        name = name or urlsplit(spec.url).hostname or "remote"
        entry = _url_entry(spec.url, headers, target, args)
    if "url" not in entry:
        if target == "claude-code":
            entry = {"type": "stdio", **entry}
        if env:
            entry["env"] = env
    elif env:
        raise CliError("--env is for servers run as a command; a URL takes --header")
    return name, entry


def _url_entry(
    url: str, headers: dict[str, str], target: str, args: argparse.Namespace
) -> dict[str, Any]:
    if target == "claude-desktop":  # commands only: a local stdio proxy of the URL
        proxy_args = ["-m", "fastmcp", "run", url]
        for key, value in headers.items():
            proxy_args += ["--header", f"{key}: {value}"]
        if args.auth:
            proxy_args += ["--auth", args.auth, "--callback-port", str(args.callback_port)]
        return {"command": _python(args), "args": proxy_args}
    if args.auth:
        raise CliError(
            f"--auth is for claude-desktop (its local proxy authorizes): {target} "
            "clients authorize servers reached by URL themselves"
        )
    entry: dict[str, Any] = (
        {"type": "http", "url": url} if target == "claude-code" else {"url": url}
    )
    if headers:
        entry["headers"] = headers
    return entry


def _config_file(target: str, args: argparse.Namespace) -> Path | None:
    if target == "claude-desktop":
        return claude_desktop_config()
    if target == "cursor":
        base = Path(args.project).expanduser() if args.project else Path.home()
        return base.resolve() / ".cursor" / "mcp.json"
    if target == "claude-code":
        base = Path(args.project).expanduser() if args.project else Path.cwd()
        return base.resolve() / ".mcp.json"
    return Path(args.output).expanduser().resolve() if args.output else None


def run_install(spec: Spec, args: argparse.Namespace, console: Console) -> int:
    """Add the server to the target client's configuration (see the module docstring)."""
    target = args.target
    if args.project and target not in ("cursor", "claude-code"):
        raise CliError("--project is for --target cursor or claude-code")
    if args.output and target != "mcp-json":
        raise CliError("--output is for --target mcp-json")
    name, entry = _entry(spec, target, args)
    path = _config_file(target, args)
    if path is None:
        sys.stdout.write(json.dumps({"mcpServers": {name: entry}}, indent=2) + "\n")
        sys.stdout.flush()
        return 0
    _merge(path, name, entry, force=args.force)
    hint = _RESTART[target]
    console.print(f"fastmcp: installed {name!r} in {path}" + (f" ({hint})" if hint else ""))
    return 0


def _merge(path: Path, name: str, entry: dict[str, Any], *, force: bool) -> None:
    data: Any = {}
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}") from None
        if text.strip():
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise CliError(
                    f"{path} is not valid JSON ({exc}): fix it first; nothing was written"
                ) from None
        if not isinstance(data, dict):
            raise CliError(f"{path} does not hold a JSON object; nothing was written")
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise CliError(f'"mcpServers" in {path} is not an object; nothing was written')
    if name in servers and not force:
        raise CliError(
            f"{path} already has a server named {name!r}: use --force to replace it, "
            "or --name to choose another name"
        )
    servers[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
