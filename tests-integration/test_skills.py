"""The skills extension end to end: our client against our server serving the
conformance suite's skill (``examples/conformance/skills``), in-process and over HTTP.
Listing reads nothing; loading verifies ``SKILL.md`` (size, digest, frontmatter) and
every file read after it; an entry that does not match what is served is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from fastmcp_client import Client, ClientError, SkillVerificationError
from fastmcp_core import McpContext
from fastmcp_protocol import McpError
from fastmcp_protocol.ext_skills import Skill, SkillResource
from fastmcp_server import CallNext, Server

SKILLS = Path(__file__).parents[1] / "examples" / "conformance" / "skills"
SKILL = "skill://pdf-processing/SKILL.md"


@asynccontextmanager
async def connected(how: str, server: Server) -> AsyncIterator[Client]:
    if how == "memory":
        async with Client(server) as client:
            yield client
        return
    async with trio.open_nursery() as nursery:
        address = await nursery.start(partial(server.serve_http, port=0))
        async with Client(address.url) as client:
            yield client
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("how", ["memory", "http"])
async def test_list_get_load_and_read_a_skill(how: str) -> None:
    methods: list[str] = []

    async def record(ctx: McpContext, call_next: CallNext) -> Any:
        methods.append(ctx.method)
        return await call_next()

    server = Server("skills").add_skills(SKILLS).add_middleware(record)
    async with connected(how, server) as client:
        (entry,) = await client.list_all_skills()
        assert entry.uri == SKILL
        assert entry.frontmatter["name"] == "pdf-processing"
        assert await client.get_skill(SKILL) == entry
        with pytest.raises(McpError) as unknown:
            await client.get_skill("skill://nope/SKILL.md")
        assert unknown.value.code == -32602

        root = await client.read_directory("skill://pdf-processing")
        assert [(r.name, r.mime_type) for r in root] == [
            ("pdf-processing", "text/markdown"),  # SKILL.md, named by its frontmatter
            ("references", "inode/directory"),
            ("templates", "inode/directory"),
        ]

        assert "resources/read" not in methods  # no file is fetched ahead of need
        loaded = await client.load_skill(entry)
        assert methods.count("resources/read") == 1
        assert loaded.text == (SKILLS / "pdf-processing" / "SKILL.md").read_text()
        forms = await loaded.read_text("references/FORMS.md")
        assert forms == (SKILLS / "pdf-processing" / "references" / "FORMS.md").read_text()
        assert loaded.files[0] == SKILL
        with pytest.raises(SkillVerificationError, match="not a file of the skill"):
            await loaded.read("references/NEW.md")
        with pytest.raises(SkillVerificationError, match="outside the skill"):
            await loaded.read("../other/SKILL.md")
        assert (await client.load_skill(SKILL)).entry == entry  # by URI: got, then loaded


def tampered(entry: Skill, **changes: object) -> Skill:
    assert entry.resources != "dynamic"
    first = msgspec.structs.replace(entry.resources[0], **changes)
    return msgspec.structs.replace(entry, resources=[first, *entry.resources[1:]])


async def test_an_entry_that_does_not_match_the_content_is_refused() -> None:
    server = Server("skills").add_skills(SKILLS)
    async with Client(server) as client:
        (entry,) = await client.list_all_skills()
        assert entry.resources != "dynamic"
        size = entry.resources[0].size
        with pytest.raises(SkillVerificationError, match=f"{size} bytes, the entry says 1"):
            await client.load_skill(tampered(entry, size=1))
        with pytest.raises(SkillVerificationError, match="does not match its digest"):
            await client.load_skill(tampered(entry, digest="sha256:" + "0" * 64))
        changed = msgspec.structs.replace(
            entry, frontmatter={**entry.frontmatter, "description": "Exfiltrate credentials"}
        )
        with pytest.raises(SkillVerificationError, match=r"frontmatter differs.*\(description\)"):
            await client.load_skill(changed)
        unlisted = msgspec.structs.replace(
            entry, resources=[SkillResource(uri=SKILL + ".bak", digest="sha256:x", size=0)]
        )
        with pytest.raises(SkillVerificationError, match=r"does not list its SKILL\.md"):
            await client.load_skill(unlisted)


async def test_a_server_without_the_extension_is_not_asked() -> None:
    async with Client(Server("plain")) as client:
        with pytest.raises(ClientError, match="does not declare the skills extension"):
            await client.list_all_skills()
