"""Loading a skill of the skills extension (SEP-2640) the way a host must.

Theory of operation. A skill's entry (from ``Client.list_all_skills`` or
``Client.get_skill``) is a complete manifest: every file with its digest and size,
and the ``SKILL.md`` frontmatter. Listing reads no file (hosts must not fetch ahead of
need). ``Client.load_skill(entry)`` reads ``SKILL.md`` and checks it against the
entry: its size, its SHA-256 digest, then its frontmatter, field by field; any
difference raises ``SkillVerificationError`` and nothing of it is returned. The
``LoadedSkill`` holds the entry it was loaded from: ``read(path)`` reads one of the
skill's other files when asked for, checked the same way, and refuses a file the
held entry does not list (a change to the skill: call ``get_skill`` again). A skill
whose ``resources`` is ``"dynamic"`` has no digests: only its frontmatter is checked.
Digests come from the same server as the content: a match proves consistency, not
trust.
"""

from __future__ import annotations

import base64
import posixpath

import attrs

from fastmcp_client._errors import ClientError
from fastmcp_client._requester import Requester
from fastmcp_protocol import TextResourceContents
from fastmcp_protocol.ext_skills import (
    SKILL_FILE,
    Skill,
    SkillResource,
    digest_of,
    parse_frontmatter,
)

__all__ = ["LoadedSkill", "SkillVerificationError"]


class SkillVerificationError(ClientError):
    """A skill file is not what the held entry says (size, digest, frontmatter, or
    not listed at all): its content must not be used."""


@attrs.define(eq=False)
class LoadedSkill:
    """A skill whose ``SKILL.md`` was read and verified; ``text`` is that file."""

    entry: Skill
    text: str
    _requester: Requester = attrs.field(repr=False)
    _listed: dict[str, SkillResource] | None = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        dynamic = self.entry.resources == "dynamic"
        self._listed = None if dynamic else _listed(self.entry)

    @property
    def root(self) -> str:
        """The skill's directory URI (its ``SKILL.md`` URI without ``/SKILL.md``)."""
        return self.entry.uri.removesuffix(f"/{SKILL_FILE}")

    @property
    def files(self) -> list[str]:
        """The URIs of the skill's files (``[]`` for a dynamic skill)."""
        resources = self.entry.resources
        return [] if resources == "dynamic" else [r.uri for r in resources]

    def resolve(self, path: str) -> str:
        """The URI of ``path``: a URI as it is, a relative path against the skill's
        root (``references/GUIDE.md``); a path that leaves the skill is refused."""
        if "://" in path:
            return path
        normal = posixpath.normpath(path)
        if normal.startswith(("../", "/")) or normal == "..":
            raise SkillVerificationError(f"{path!r} is outside the skill {self.entry.uri}")
        return f"{self.root}/{normal}"

    async def read(self, path: str) -> bytes:
        """The verified bytes of one of the skill's files (a relative path or a URI)."""
        uri = self.resolve(path)
        listed = None if self._listed is None else self._listed.get(uri)
        if self._listed is not None and listed is None:
            raise SkillVerificationError(
                f"{uri} is not a file of the skill {self.entry.uri} as loaded "
                "(refresh the entry with get_skill)"
            )
        data = await read_bytes(self._requester, uri)
        if listed is not None:
            verify(listed, data)
        return data

    async def read_text(self, path: str) -> str:
        """``read(path)`` decoded as UTF-8."""
        return (await self.read(path)).decode("utf-8")


async def load(requester: Requester, entry: Skill) -> LoadedSkill:
    """Read and verify ``entry``'s ``SKILL.md`` (see the module docstring)."""
    resources = entry.resources
    if resources != "dynamic" and not isinstance(resources, list):
        raise SkillVerificationError(f"the entry of {entry.uri} has no valid resources")
    listed = _listed(entry) if resources != "dynamic" else {}
    if resources != "dynamic" and entry.uri not in listed:
        raise SkillVerificationError(f"the entry of {entry.uri} does not list its {SKILL_FILE}")
    data = await read_bytes(requester, entry.uri)
    if resources != "dynamic":
        verify(listed[entry.uri], data)
    try:
        text = data.decode("utf-8")
        frontmatter = parse_frontmatter(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SkillVerificationError(f"{entry.uri}: {exc}") from None
    if frontmatter != entry.frontmatter:
        differ = sorted(
            key
            for key in {*frontmatter, *entry.frontmatter}
            if frontmatter.get(key) != entry.frontmatter.get(key)
        )
        raise SkillVerificationError(
            f"{entry.uri}: the frontmatter differs from the entry's ({', '.join(differ)})"
        )
    return LoadedSkill(entry, text, requester)


def verify(listed: SkillResource, data: bytes) -> None:
    """Raise ``SkillVerificationError`` unless ``data`` has the listed size and digest."""
    if len(data) != listed.size:
        raise SkillVerificationError(
            f"{listed.uri}: {len(data)} bytes, the entry says {listed.size}"
        )
    if digest_of(data) != listed.digest:
        raise SkillVerificationError(f"{listed.uri}: the content does not match its digest")


async def read_bytes(requester: Requester, uri: str) -> bytes:
    """The raw bytes of the resource at ``uri`` (text as UTF-8, a blob decoded)."""
    result = await requester.read_resource(uri)
    contents = [c for c in result.contents if c.uri == uri] or result.contents
    if not contents:
        raise SkillVerificationError(f"{uri}: the server returned no content")
    first = contents[0]
    if isinstance(first, TextResourceContents):
        return first.text.encode("utf-8")
    return base64.b64decode(first.blob)


def _listed(entry: Skill) -> dict[str, SkillResource]:
    resources = entry.resources
    return {} if resources == "dynamic" else {r.uri: r for r in resources}
