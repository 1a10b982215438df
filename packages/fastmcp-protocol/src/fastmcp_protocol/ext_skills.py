"""The skills extension (``io.modelcontextprotocol/skills``, SEP-2640), against the
2026-07-28 base protocol.

A server serves Agent Skills (a directory with a ``SKILL.md`` and supporting files) as
resources, conventionally ``skill://<skill-path>/<file-path>``, read with
``resources/read``. It declares ``capabilities.extensions[SKILLS_EXTENSION] =
{"directoryRead": true}`` (or ``{}``) and then answers ``skills/list`` (every entry a
complete manifest: the verbatim frontmatter and each file's ``sha256:`` digest and
size), ``skills/get`` (one entry by the URI of its ``SKILL.md``; ``-32602`` for a URI
that is not a skill it serves) and, with ``directoryRead``, ``resources/directory/read``
(the direct children of a directory resource, ``mimeType: inode/directory``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final, Literal

import msgspec

from fastmcp_protocol._base import WireStruct
from fastmcp_protocol._jsonrpc import (
    CacheableResult,
    PaginatedRequestParams,
    PaginatedResult,
    RequestParams,
)
from fastmcp_protocol._messages import Resource

__all__ = [
    "DIRECTORY_MIME_TYPE",
    "SKILLS_EXTENSION",
    "SKILL_FILE",
    "GetSkillRequestParams",
    "GetSkillResult",
    "ListSkillsResult",
    "ReadResourceDirectoryRequestParams",
    "ReadResourceDirectoryResult",
    "Skill",
    "SkillResource",
    "SkillsSettings",
    "digest_of",
    "parse_frontmatter",
]

SKILLS_EXTENSION: Final = "io.modelcontextprotocol/skills"
SKILL_FILE: Final = "SKILL.md"
DIRECTORY_MIME_TYPE: Final = "inode/directory"
"""The ``mimeType`` of a directory resource."""


class SkillsSettings(WireStruct, kw_only=True, frozen=True):
    """The extension's settings in the server's capabilities."""

    directory_read: bool | None = None
    """The server implements ``resources/directory/read``."""


class SkillResource(WireStruct, kw_only=True, frozen=True):
    """One file of a skill: its URI, and the SHA-256 digest (``sha256:<64 hex>``) and
    length of its raw bytes."""

    uri: str
    digest: str
    size: int


class Skill(WireStruct, kw_only=True, frozen=True):
    """The entry of one skill, in ``skills/list`` and ``skills/get`` alike.

    ``frontmatter`` is the ``SKILL.md`` YAML frontmatter as it was written (``name``
    and ``description`` always present). ``resources`` lists every file of the skill,
    ``SKILL.md`` included, or is ``"dynamic"`` for generated content without stable
    digests.
    """

    uri: str
    frontmatter: dict[str, Any]
    resources: list[SkillResource] | Literal["dynamic"]


class ListSkillsResult(CacheableResult, kw_only=True, frozen=True):
    """The answer to ``skills/list`` (paginated; an entry is never split)."""

    skills: list[Skill]
    next_cursor: str | None = None


class GetSkillRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``skills/get``: the URI of a skill's ``SKILL.md``."""

    uri: str


class GetSkillResult(CacheableResult, kw_only=True, frozen=True):
    """The answer to ``skills/get``."""

    skill: Skill


class ReadResourceDirectoryRequestParams(PaginatedRequestParams, kw_only=True, frozen=True):
    """Params of ``resources/directory/read``: a directory resource's URI."""

    uri: str


class ReadResourceDirectoryResult(PaginatedResult, kw_only=True, frozen=True):
    """The answer to ``resources/directory/read``: the directory's direct children
    (subdirectories with ``mimeType: inode/directory``)."""

    resources: list[Resource]


_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_FRONTMATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def digest_of(data: bytes) -> str:
    """A ``SkillResource`` digest: ``sha256:`` and 64 lowercase hex digits."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_frontmatter(text: str) -> dict[str, Any]:
    """The YAML frontmatter at the start of a ``SKILL.md``, as JSON values (a YAML
    date becomes its ISO text), checked as the Agent Skills specification asks: an
    object whose ``name`` is 1-64 lowercase letters, digits and single hyphens and
    whose ``description`` is not empty. Raises ``ValueError`` saying what is wrong.

    Needs PyYAML (the ``skills`` extra of fastmcp-server and fastmcp-client).
    """
    try:
        import yaml
    except ImportError:  # pragma: no cover - the skills extra
        raise ImportError('skills need a YAML parser: pip install "pyyaml>=6"') from None
    match = _FRONTMATTER.match(text)
    if match is None:
        raise ValueError(f"{SKILL_FILE} must begin with YAML frontmatter (---)")
    try:
        loaded = yaml.safe_load(match[1])
    except yaml.YAMLError as exc:
        raise ValueError(f"bad YAML frontmatter: {exc}") from None
    if not isinstance(loaded, dict):
        raise ValueError("the frontmatter must be a YAML mapping")  # noqa: TRY004
    frontmatter: dict[str, Any] = msgspec.to_builtins(loaded)
    name, description = frontmatter.get("name"), frontmatter.get("description")
    if not isinstance(name, str) or len(name) > 64 or not _NAME.fullmatch(name):
        raise ValueError(
            f"name {name!r} must be 1-64 lowercase letters, digits and single hyphens "
            "(the Agent Skills naming rules)"
        )
    if not isinstance(description, str) or not description.strip():
        raise ValueError("the frontmatter needs a non-empty description")
    return frontmatter
