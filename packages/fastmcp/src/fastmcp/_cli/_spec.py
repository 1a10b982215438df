"""SPEC: what a command is pointed at, and how to reach it.

A SPEC is one of (tried in this order):

* ``-m module`` or ``-m module:object`` (the ``-m`` option);
* a command after ``--`` (a stdio server run as a child process);
* a URL, ``http://...`` or ``https://...`` (Streamable HTTP, or legacy SSE when the
  server only speaks that);
* ``file.py`` or ``file.py:object`` (a Python file; ``object`` may be dotted);
* ``module:object`` (an importable module);
* a server name from an MCP configuration: ``--config PATH``, else the first of
  ``./mcp.json`` and ``./.mcp.json`` that exists.

A file or module holds the server as a module-level ``Server`` instance: the only one
there, else the one named ``server``, ``mcp`` or ``app`` (in that order); several
others are ambiguous. ``:object`` names it, or names a function that takes no
arguments and returns (or, if async, awaits to) a ``Server``.

A file is imported like ``python file.py`` would run it (its folder first on
``sys.path``) but under its own module name, so ``if __name__ == "__main__":`` blocks
do not run; a module is imported with the current folder on ``sys.path``, like
``python -m`` does.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import trio

from fastmcp._cli._errors import CliError
from fastmcp_server import Server

__all__ = ["CONFIG_NAMES", "Spec", "client_target", "find_config", "load_server", "parse_spec"]

CONFIG_NAMES = ("mcp.json", ".mcp.json")
"""The configurations looked for in the current folder when no ``--config`` is given."""

PREFERRED_NAMES = ("server", "mcp", "app")

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

Kind = Literal["file", "module", "url", "config", "command"]


@attrs.frozen
class Spec:
    """What a command was pointed at (see the module docstring)."""

    kind: Kind
    text: str
    path: Path | None = None
    module: str | None = None
    attribute: str | None = None
    url: str | None = None
    config: Path | None = None
    name: str | None = None
    command: tuple[str, ...] = ()

    @property
    def in_process(self) -> bool:
        """Whether the server is Python code this process loads (a file or module)."""
        return self.kind in ("file", "module")

    def run_args(self) -> list[str]:
        """The arguments of ``fastmcp run`` that name this SPEC again (absolute paths)."""
        if self.kind == "file":
            assert self.path is not None
            return [str(self.path) + (f":{self.attribute}" if self.attribute else "")]
        if self.kind == "module":
            assert self.module is not None
            return ["-m", self.module + (f":{self.attribute}" if self.attribute else "")]
        if self.kind == "url":
            assert self.url is not None
            return [self.url]
        if self.kind == "config":
            assert self.config is not None
            assert self.name is not None
            return ["--config", str(self.config), self.name]
        return ["--", *self.command]


def find_config(explicit: str | None, cwd: Path | None = None) -> Path | None:
    """The MCP configuration to read names from: ``explicit`` (which must exist),
    else the first of ``CONFIG_NAMES`` in ``cwd`` that exists, else ``None``."""
    if explicit is not None:
        path = Path(explicit).expanduser().resolve()
        if not path.is_file():
            raise CliError(f"no such configuration file: {explicit}")
        return path
    folder = cwd or Path.cwd()
    for name in CONFIG_NAMES:
        if (folder / name).is_file():
            return (folder / name).resolve()
    return None


def parse_spec(
    text: str | None,
    *,
    module: str | None = None,
    command: Sequence[str] = (),
    config: str | None = None,
) -> Spec:
    """Classify a SPEC (see the module docstring); ``CliError`` when it names nothing
    that could work. Files must exist; modules are imported later."""
    given = [x for x in (text, module, list(command) or None) if x is not None]
    if len(given) > 1:
        raise CliError("give one SPEC: a file, -m module, a URL, a name, or a command after --")
    if module is not None:
        name, _, member = module.partition(":")
        if not _DOTTED.match(name) or (member and not _DOTTED.match(member)):
            raise CliError(f"not a module name: {module!r} (expected module or module:object)")
        return Spec("module", module, module=name, attribute=member or None)
    if command:
        return Spec("command", " ".join(command), command=tuple(command))
    if not text:
        raise CliError(
            "no server given: name a file.py, -m module, a URL, a server of mcp.json, "
            "or a command after --"
        )
    if text.startswith(("http://", "https://")):
        return Spec("url", text, url=text)
    path_text: str = text
    attribute: str | None = None
    left, sep, right = text.rpartition(":")
    if sep and left and _DOTTED.match(right):
        path_text, attribute = left, right
    path = Path(path_text).expanduser()
    if path_text.endswith(".py") or path.is_file():
        if not path.is_file():
            raise CliError(f"no such file: {path_text}")
        return Spec("file", text, path=path.resolve(), attribute=attribute)
    if attribute is not None and _DOTTED.match(path_text):
        return Spec("module", text, module=path_text, attribute=attribute)
    config_path = find_config(config)
    if config_path is not None:
        names = _config_names(config_path)
        if text in names:
            return Spec("config", text, config=config_path, name=text)
        if config is not None:
            listed = ", ".join(names) or "none"
            raise CliError(f"no server {text!r} in {config} (it has: {listed})")
    if path.exists():
        raise CliError(f"{text} is a folder: name a .py file in it")
    where = f"in {config_path.name}" if config_path is not None else "in ./mcp.json (none here)"
    raise CliError(f"{text!r} is not a .py file, a URL, module:object, or a server named {where}")


def _config_names(path: Path) -> list[str]:
    from fastmcp_client import ConfigError, McpConfig

    try:
        return list(McpConfig.load(path).servers)
    except ConfigError as error:
        raise CliError(str(error)) from None


# -- loading servers -------------------------------------------------------------------


def load_server(spec: Spec) -> Server:
    """Import the file or module of ``spec`` and find its ``Server``."""
    if spec.kind == "file":
        assert spec.path is not None
        module = _import_file(spec.path)
        where = spec.path.name
    elif spec.kind == "module":
        assert spec.module is not None
        module = _import_module(spec.module)
        where = spec.module
    else:  # pragma: no cover - callers check in_process
        raise CliError(f"{spec.text} is not Python code to load")
    if spec.attribute is not None:
        return _named_server(module, spec.attribute, where)
    return _only_server(module, where)


def _import_file(path: Path) -> Any:
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if _DOTTED.match(path.stem) else "__fastmcp_server__"
    if name in sys.modules:  # never shadow a module already imported (json.py, ...)
        name = f"__fastmcp_{name}__"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {path.name}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        raise _import_failure(path.name, exc, str(path)) from None
    return module


def _import_module(name: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise CliError(f"no module named {exc.name!r}") from None
        raise _import_failure(name, exc, None) from None
    except BaseException as exc:
        raise _import_failure(name, exc, None) from None


def _import_failure(what: str, exc: BaseException, filename: str | None) -> CliError:
    """One line that says what went wrong while importing, and where."""
    if isinstance(exc, KeyboardInterrupt):
        return CliError("interrupted", 130)
    if isinstance(exc, SystemExit):
        return CliError(f"importing {what} called exit({exc.code})")
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        place = f"{Path(exc.filename).name}:{exc.lineno}"
        return CliError(f"importing {what} failed: SyntaxError: {exc.msg} ({place})")
    ours = [f for f in frames if filename is None or f.filename == filename]
    chosen = ours or list(frames)
    place = f" ({Path(chosen[-1].filename).name}:{chosen[-1].lineno})" if chosen else ""
    return CliError(f"importing {what} failed: {type(exc).__name__}: {exc}{place}")


def _servers_in(module: Any) -> dict[str, Server]:
    found: dict[str, Server] = {}
    seen: set[int] = set()
    for name, value in vars(module).items():
        if isinstance(value, Server) and id(value) not in seen:
            seen.add(id(value))
            found[name] = value
    return found


def _only_server(module: Any, where: str) -> Server:
    found = _servers_in(module)
    if len(found) == 1:
        return next(iter(found.values()))
    for name in PREFERRED_NAMES:
        value = vars(module).get(name)
        if isinstance(value, Server) and found:
            return value
    if not found:
        factories = [
            n for n, v in vars(module).items() if inspect.isfunction(v) and n.startswith("create")
        ]
        hint = f" (or name a function: {where}:{factories[0]})" if factories else ""
        raise CliError(
            f"no Server object in {where}: define one at module level, e.g. "
            f"server = Server(...){hint}"
        )
    names = ", ".join(found)
    first = next(iter(found))
    raise CliError(f"several Server objects in {where} ({names}): choose one, e.g. {where}:{first}")


def _named_server(module: Any, attribute: str, where: str) -> Server:
    value: Any = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            servers = ", ".join(_servers_in(module)) or "none"
            raise CliError(
                f"{where} has no {attribute!r} (Server objects there: {servers})"
            ) from None
    if isinstance(value, Server):
        return value
    if not callable(value):
        raise CliError(
            f"{attribute!r} in {where} is a {type(value).__name__}, "
            "not a Server or a function that returns one"
        )
    try:
        made = value()
        if inspect.isawaitable(made):
            made = trio.run(_awaited, made)
    except TypeError as exc:
        raise CliError(
            f"{attribute}() in {where} cannot be called without arguments: {exc}"
        ) from None
    except Exception as exc:
        raise CliError(f"{attribute}() in {where} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(made, Server):
        raise CliError(f"{attribute}() in {where} returned a {type(made).__name__}, not a Server")
    return made


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


# -- reaching servers as a client ---------------------------------------------------------


def client_target(spec: Spec) -> tuple[Any, dict[str, Any]]:
    """What to give ``fastmcp_client.Client`` to reach ``spec``, and the options.

    A file or module is loaded and run in this process (in-process transport: no
    child process, its log lines on this stderr); a command's stderr is passed
    through so its errors are seen.
    """
    if spec.in_process:
        return load_server(spec), {}
    if spec.kind == "url":
        return spec.url, {}
    if spec.kind == "config":
        return spec.config, {"server": spec.name, "stderr": "inherit"}
    return list(spec.command), {"stderr": "inherit"}
