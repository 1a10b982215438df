"""Skills (``io.modelcontextprotocol/skills``, SEP-2640): Agent Skills served from
directories, in the 2026-07-28 era.

Theory of operation. ``Server.add_skill(directory)`` reads the skill once, at
registration: its ``SKILL.md`` frontmatter (YAML, kept as written) and every file
under the directory, with each file's SHA-256 digest and size. Each file becomes an
ordinary resource ``skill://<skill-path>/<file-path>`` (so ``resources/list`` and
``resources/read`` serve it, from the bytes the digests were computed over: what a
client verifies is what it gets). The first skill registered turns the extension on:
the server declares it (with ``directoryRead``) and answers ``skills/list``,
``skills/get`` and ``resources/directory/read`` (the skill roots and their
subdirectories are directory resources, ``mimeType: inode/directory``).

The skill format is the Agent Skills specification's: a ``SKILL.md`` starting with
YAML frontmatter that has ``name`` (1-64 lowercase letters, digits and single
hyphens, equal to the directory's name) and ``description``. A directory that breaks
these rules, or a skill over the extension's limits (512 files, 16 MiB), is refused
with ``ValueError`` at registration.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

import attrs

from fastmcp_core import McpContext
from fastmcp_protocol import (
    INVALID_PARAMS,
    BlobResourceContents,
    McpError,
    PaginatedRequestParams,
    ReadResourceResult,
    Resource,
    TextResourceContents,
    is_modern,
)
from fastmcp_protocol.ext_skills import (
    DIRECTORY_MIME_TYPE,
    SKILL_FILE,
    SKILLS_EXTENSION,
    GetSkillRequestParams,
    GetSkillResult,
    ListSkillsResult,
    ReadResourceDirectoryRequestParams,
    ReadResourceDirectoryResult,
    Skill,
    SkillResource,
    digest_of,
    parse_frontmatter,
)
from fastmcp_server._media import is_text, mime_of_name
from fastmcp_server._registry import Registry
from fastmcp_server._results import constant

__all__ = ["Skills"]

MAX_FILES = 512
MAX_BYTES = 16 * 1024 * 1024
_METHODS: dict[str, type] = {
    "skills/list": PaginatedRequestParams,
    "skills/get": GetSkillRequestParams,
    "resources/directory/read": ReadResourceDirectoryRequestParams,
}


@attrs.define(eq=False, repr=False)
class _SkillFile:
    """One file of a skill, served as a resource (a ``ResourceHandler``): its contents
    are made once, from the bytes its digest was computed over."""

    definition: Resource
    contents: ReadResourceResult

    @classmethod
    def of(cls, definition: Resource, data: bytes) -> _SkillFile:
        uri, mime = definition.uri, definition.mime_type or "application/octet-stream"
        if is_text(mime):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                contents = TextResourceContents(uri=uri, text=text, mime_type=mime)
                return cls(definition, ReadResourceResult(contents=[contents]))
        blob = BlobResourceContents(uri=uri, blob=base64.b64encode(data).decode(), mime_type=mime)
        return cls(definition, ReadResourceResult(contents=[blob]))

    async def read(self, ctx: McpContext, uri: str) -> ReadResourceResult:
        return self.contents


class SkillsHost(Protocol):
    """The read-cache hints the skills methods answer with (the server's)."""

    read_ttl_ms: int
    read_cache_scope: Literal["private", "public"]


@attrs.define(eq=False, repr=False)
class Skills:
    """The skills of one server: their entries, files and directories."""

    registry: Registry
    host: SkillsHost
    _entries: dict[str, Skill] = attrs.field(factory=dict)  # by the URI of SKILL.md
    _directories: dict[str, dict[str, Resource]] = attrs.field(factory=dict)

    # -- registration ------------------------------------------------------------------

    def add(self, directory: Path, skill_path: str) -> Skill:
        """Read the skill in ``directory`` and serve it at ``skill://<skill_path>``."""
        skill_md = directory / SKILL_FILE
        if not skill_md.is_file():
            raise ValueError(f"{directory} is not a skill: it has no {SKILL_FILE}")
        try:
            frontmatter = parse_frontmatter(skill_md.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{skill_md}: {exc}") from None
        name = frontmatter["name"]
        segments = skill_path.split("/")
        if any(not segment for segment in segments):
            raise ValueError(f"bad skill path {skill_path!r}: empty segment")
        if segments[-1] != name:
            raise ValueError(
                f"{skill_md}: the skill's name {name!r} must equal its directory's "
                f"name {segments[-1]!r}"
            )
        root = f"skill://{skill_path}"
        files = sorted(_files(directory), key=lambda f: f.relative_to(directory).as_posix())
        if len(files) > MAX_FILES:
            raise ValueError(
                f"{directory}: {len(files)} files, over the {MAX_FILES} a skill may have"
            )
        manifest: list[SkillResource] = []
        handlers: list[_SkillFile] = []
        total = 0
        for path in files:
            relative = path.relative_to(directory).as_posix()
            data = path.read_bytes()
            total += len(data)
            uri = f"{root}/{relative}"
            manifest.append(SkillResource(uri=uri, digest=digest_of(data), size=len(data)))
            handlers.append(_SkillFile.of(_definition(uri, relative, data, frontmatter), data))
        if total > MAX_BYTES:
            raise ValueError(f"{directory}: {total} bytes, over the {MAX_BYTES} a skill may have")
        entry = Skill(uri=f"{root}/{SKILL_FILE}", frontmatter=frontmatter, resources=manifest)
        for handler in handlers:
            uri = handler.definition.uri
            # a nested skill's files are its enclosing skill's too: served once, its
            # SKILL.md with the nested skill's own name and description
            if uri == entry.uri or uri not in self.registry.resources:
                self.registry.add_resource(handler, "replace")
                self._index(handler.definition)
        self._entries[entry.uri] = entry
        return entry

    def _index(self, resource: Resource) -> None:
        """File ``resource`` under its directory, and each directory under its parent,
        up to the top of the namespace (``skill://<first segment>``, which has none)."""
        child = resource
        while True:
            parent = child.uri.rpartition("/")[0]
            if parent.endswith(":/"):
                return
            siblings = self._directories.setdefault(parent, {})
            known = child.uri in siblings
            siblings[child.uri] = child
            if known:  # and so are the directories above
                return
            name = parent.rpartition("/")[2]
            child = Resource(uri=parent, name=name, mime_type=DIRECTORY_MIME_TYPE)

    # -- what the dispatcher asks ---------------------------------------------------------

    def extensions(self) -> dict[str, Any] | None:
        return {SKILLS_EXTENSION: {"directoryRead": True}} if self._entries else None

    def exists(self, method: str, version: str) -> bool:
        return is_modern(version) and bool(self._entries) and method in _METHODS

    def params_type(self, method: str) -> type | None:
        return _METHODS.get(method)

    def routes(self) -> dict[str, Any]:
        registry, host = self.registry, self.host

        async def list_skills(ctx: McpContext, params: PaginatedRequestParams) -> Callable[[], Any]:
            entries = [self._entries[uri] for uri in sorted(self._entries)]
            return constant(
                registry.list_result(ListSkillsResult, "skills", entries, params.cursor)
            )

        async def get_skill(ctx: McpContext, params: GetSkillRequestParams) -> Callable[[], Any]:
            entry = self._entries.get(params.uri)
            if entry is None:
                raise McpError(INVALID_PARAMS, f"No skill is served at {params.uri}")
            return constant(
                GetSkillResult(
                    skill=entry, ttl_ms=host.read_ttl_ms, cache_scope=host.read_cache_scope
                )
            )

        async def read_directory(
            ctx: McpContext, params: ReadResourceDirectoryRequestParams
        ) -> Callable[[], Any]:
            children = self._directories.get(params.uri)
            if children is None:
                raise McpError(INVALID_PARAMS, f"{params.uri} is not a directory resource")
            items = [children[uri] for uri in sorted(children)]
            page, cursor = registry.page(items, params.cursor)
            return constant(ReadResourceDirectoryResult(resources=page, next_cursor=cursor))

        return {  # answered only while some skill is served (``exists``)
            "skills/list": list_skills,
            "skills/get": get_skill,
            "resources/directory/read": read_directory,
        }


def _files(directory: Path) -> Iterator[Path]:
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue  # .git, .DS_Store: not part of the skill
        if path.is_file():
            yield path


def _definition(uri: str, relative: str, data: bytes, frontmatter: dict[str, Any]) -> Resource:
    if relative == SKILL_FILE:
        return Resource(
            uri=uri,
            name=frontmatter["name"],
            description=frontmatter["description"],
            mime_type="text/markdown",
            size=len(data),
        )
    return Resource(
        uri=uri, name=PurePosixPath(relative).name, mime_type=mime_of_name(relative), size=len(data)
    )
