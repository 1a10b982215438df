"""Serving the files under one directory as resources, without serving anything else.

``server.resource(FileResources("docs", "docs://{+path}"))`` answers
``resources/read`` of ``docs://guide/intro.md`` with the file ``docs/guide/intro.md``.

Theory of operation. A URI reaches a file through three gates, and whatever fails
at any of them is answered as "Resource not found" with the URI, exactly like a URI
no template names (a client learns nothing about what lies outside the root):

1. the template guard (``UriTemplate``): no absolute path, no ``..``, no backslash,
   no NUL, no encoded separator, nothing still encoded after one decoding;
2. names: a hidden segment (``.env``, ``.git/config``) is refused unless
   ``hidden=True``;
3. the file system, in a worker thread: the path is resolved (symlinks followed) and
   must still lie inside the root (resolved once, when the helper is made); the file
   is opened without following a final symlink and without blocking on a FIFO, and
   must be a regular file; where the system says which file a descriptor is
   (Linux ``/proc``, macOS ``F_GETPATH``), that path is checked against the root
   again, so a directory swapped for a symlink between the check and the open is
   refused too. A file over ``max_bytes`` is refused with -32602.

Symlinks inside the root that point inside it work; one that points outside does
not. The root must exist when the helper is made (``ValueError`` otherwise); files
are read on every request (edits show at once). Resource templates are not listed
file by file (``resources/list`` does not walk the directory); offer a completer
(``Server.completion``) when clients should discover names.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio

from fastmcp_core import McpContext
from fastmcp_protocol import (
    INVALID_PARAMS,
    RESOURCE_NOT_FOUND,
    McpError,
    ReadResourceResult,
    ResourceTemplate,
    is_modern,
)
from fastmcp_server._media import is_text, mime_of_name
from fastmcp_server._results import resource_contents
from fastmcp_server._uri_template import UriTemplate

__all__ = ["FileResources"]

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class _Missing(Exception):
    """The file is not there for this client (outside the root, absent, not a file)."""


class _TooLarge(Exception):
    pass


def _scopes(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _root(value: str | os.PathLike[str]) -> Path:
    root = Path(value).resolve()
    if not root.is_dir():
        raise ValueError(f"FileResources: {value} is not a directory")
    return root


@attrs.define(eq=False, repr=False)
class FileResources:
    """The files under ``root`` as a resource template (a ``ResourceTemplateHandler``;
    see the module docstring for what is refused).

    ``uri_template`` has exactly one variable: the file's path relative to ``root``,
    usually ``{+path}`` (slashes allowed). ``mime_type`` fixes the type of every file;
    by default it is guessed from each name, and text types are served as text when
    they are UTF-8 (as a blob otherwise). ``scopes``: the OAuth scopes a reader needs
    (HTTP with authorization only). A read cancelled while the file is being read
    lets that read finish in its worker thread and answers nothing.
    """

    root: Path = attrs.field(converter=_root)
    uri_template: str
    name: str | None = attrs.field(default=None, kw_only=True)
    title: str | None = attrs.field(default=None, kw_only=True)
    description: str | None = attrs.field(default=None, kw_only=True)
    mime_type: str | None = attrs.field(default=None, kw_only=True)
    max_bytes: int = attrs.field(default=DEFAULT_MAX_BYTES, kw_only=True)
    hidden: bool = attrs.field(default=False, kw_only=True)
    scopes: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=_scopes)
    template: UriTemplate = attrs.field(init=False)
    _variable: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.template = UriTemplate(self.uri_template)
        variables = self.template.variables
        if len(variables) != 1:
            raise ValueError(
                f"FileResources: {self.uri_template!r} must have exactly one variable "
                f"(the file's path), not {len(variables)}"
            )
        self._variable = variables[0]

    def __repr__(self) -> str:
        return f"FileResources({str(self.root)!r}, {self.uri_template!r})"

    @property
    def definition(self) -> ResourceTemplate:
        return ResourceTemplate(
            uri_template=self.uri_template,
            name=self.name or self.root.name or "files",
            title=self.title,
            description=self.description or f"The files under {self.root.name or '/'}",
            mime_type=self.mime_type,
        )

    def match(self, uri: str) -> dict[str, str] | None:
        found = self.template.match(uri)
        if found is None:
            return None
        path = found.get(self._variable, "")
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if not parts or (not self.hidden and any(p.startswith(".") for p in parts)):
            return None
        return {self._variable: "/".join(parts)}

    async def read(
        self, ctx: McpContext, uri: str, variables: dict[str, str]
    ) -> ReadResourceResult:
        relative = variables[self._variable]
        try:
            data = await trio.to_thread.run_sync(self._load, relative)
        except _Missing:
            code = INVALID_PARAMS if is_modern(ctx.protocol_version) else RESOURCE_NOT_FOUND
            raise McpError(code, f"Resource not found: {uri}", {"uri": uri}) from None
        except _TooLarge:
            raise McpError(
                INVALID_PARAMS,
                f"Resource too large: {uri} is over {self.max_bytes} bytes",
                {"uri": uri},
            ) from None
        mime = self.mime_type or mime_of_name(relative)
        value: str | bytes = data
        if is_text(mime):
            with contextlib.suppress(UnicodeDecodeError):  # served as a blob then
                value = data.decode("utf-8")
        return resource_contents(value, uri, mime)

    def _load(self, relative: str) -> bytes:
        """The bytes of ``relative`` under the root (in a worker thread)."""
        try:
            resolved = (self.root / relative).resolve(strict=True)
        except (OSError, RuntimeError):  # absent, unreadable, a symlink loop
            raise _Missing from None
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise _Missing
        try:
            fd = os.open(resolved, _OPEN_FLAGS)
        except OSError:  # gone, or a symlink put in its place meanwhile
            raise _Missing from None
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):  # a directory, a FIFO, a device
                raise _Missing
            opened = _path_of(fd)
            if opened is not None and not Path(opened).is_relative_to(self.root):
                raise _Missing
            if status.st_size > self.max_bytes:
                raise _TooLarge
            with os.fdopen(fd, "rb", closefd=False) as file:
                data = file.read(self.max_bytes + 1)
        finally:
            os.close(fd)
        if len(data) > self.max_bytes:
            raise _TooLarge
        return data


def _path_of(fd: int) -> str | None:
    """The path the system gives for an open descriptor, where it gives one."""
    if sys.platform == "darwin":
        import fcntl

        try:
            raw = fcntl.fcntl(fd, fcntl.F_GETPATH, b"\0" * 1024)
        except OSError:
            return None
        return os.fsdecode(raw.rstrip(b"\0"))
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc here
        return None
