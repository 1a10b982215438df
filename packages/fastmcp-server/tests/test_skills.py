"""The skills extension (SEP-2640): skills read from directories, listed with complete
manifests, got by URI, their files read as resources and their directories read."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from server_support import connect

from fastmcp_server import Server

SKILL_MD = """\
---
name: refunds
description: Process customer refund requests per company policy
license: Apache-2.0
metadata:
  version: "1.2"
  released: 2026-07-28
---

# Refunds

Use `examples/email.md` as the reply template.
"""


def write_skills(root: Path) -> Path:
    skill = root / "refunds"
    (skill / "examples" / "old").mkdir(parents=True)
    (skill / "SKILL.md").write_text(SKILL_MD)
    (skill / "examples" / "email.md").write_text("Dear customer,\n")
    (skill / "examples" / "old" / "letter.md").write_text("Dear sir,\n")
    (skill / "scripts").mkdir()
    (skill / "scripts" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (skill / ".DS_Store").write_bytes(b"junk")  # hidden: not part of the skill
    nested = skill / "examples" / "partial"
    nested.mkdir()
    (nested / "SKILL.md").write_text("---\nname: partial\ndescription: Partial refunds\n---\nHi\n")
    return root


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_listing_getting_and_reading_skills(tmp_path: Path) -> None:
    root = write_skills(tmp_path)
    server = Server("skills", page_size=1).add_skills(root, prefix="acme/billing")
    async with connect(server, modern=True) as c:
        discovered = await c.call("server/discover")
        assert discovered["capabilities"]["extensions"]["io.modelcontextprotocol/skills"] == {
            "directoryRead": True
        }
        first = await c.call("skills/list")
        second = await c.call("skills/list", {"cursor": first["nextCursor"]})
        assert "nextCursor" not in second
        assert (first["resultType"], first["ttlMs"], first["cacheScope"]) == (
            "complete",
            server.list_ttl_ms,
            server.list_cache_scope,
        )
        entries = first["skills"] + second["skills"]
        assert [e["uri"] for e in entries] == [
            "skill://acme/billing/refunds/SKILL.md",
            "skill://acme/billing/refunds/examples/partial/SKILL.md",
        ]
        refunds = entries[0]
        # the frontmatter as written (a YAML date comes out as its ISO text)
        assert refunds["frontmatter"] == {
            "name": "refunds",
            "description": "Process customer refund requests per company policy",
            "license": "Apache-2.0",
            "metadata": {"version": "1.2", "released": "2026-07-28"},
        }
        skill_dir = root / "refunds"
        files = [
            "SKILL.md",
            "examples/email.md",
            "examples/old/letter.md",
            "examples/partial/SKILL.md",  # a nested skill's files belong to the enclosing one
            "scripts/logo.png",
        ]
        assert refunds["resources"] == [
            {
                "uri": f"skill://acme/billing/refunds/{name}",
                "digest": digest((skill_dir / name).read_bytes()),
                "size": (skill_dir / name).stat().st_size,
            }
            for name in files
        ]
        got = await c.call("skills/get", {"uri": "skill://acme/billing/refunds/SKILL.md"})
        assert got["skill"] == refunds
        assert (got["ttlMs"], got["cacheScope"]) == (server.read_ttl_ms, server.read_cache_scope)
        assert "nextCursor" not in got
        unknown = await c.error("skills/get", {"uri": "skill://acme/billing/nope/SKILL.md"})
        assert unknown.code == -32602
        assert "No skill is served at skill://acme/billing/nope/SKILL.md" in unknown.message

        # every file is a resource, read from the bytes the digests cover
        listed: dict[str, dict[str, Any]] = {}
        cursor: dict[str, Any] = {}
        while True:
            page = await c.call("resources/list", cursor)
            listed.update((r["uri"], r) for r in page["resources"])
            if "nextCursor" not in page:
                break
            cursor = {"cursor": page["nextCursor"]}
        nested = listed["skill://acme/billing/refunds/examples/partial/SKILL.md"]
        assert (nested["name"], nested["description"]) == ("partial", "Partial refunds")
        skill_md = listed["skill://acme/billing/refunds/SKILL.md"]
        assert skill_md["name"] == "refunds"
        assert skill_md["description"] == "Process customer refund requests per company policy"
        assert skill_md["mimeType"] == "text/markdown"
        read = await c.call("resources/read", {"uri": "skill://acme/billing/refunds/SKILL.md"})
        assert read["contents"][0]["text"].encode() == (skill_dir / "SKILL.md").read_bytes()
        logo = await c.call(
            "resources/read", {"uri": "skill://acme/billing/refunds/scripts/logo.png"}
        )
        blob = logo["contents"][0]
        assert blob["mimeType"] == "image/png"
        assert base64.b64decode(blob["blob"]) == (skill_dir / "scripts" / "logo.png").read_bytes()


async def test_a_root_that_is_itself_a_skill(tmp_path: Path) -> None:
    root = write_skills(tmp_path) / "refunds"
    server = Server("skills").add_skills(root)
    async with connect(server, modern=True) as c:
        listed = (await c.call("skills/list"))["skills"]
        assert [e["uri"] for e in listed] == [
            "skill://refunds/SKILL.md",
            "skill://refunds/examples/partial/SKILL.md",
        ]


async def test_reading_directories(tmp_path: Path) -> None:
    server = Server("skills").add_skills(write_skills(tmp_path))
    async with connect(server, modern=True) as c:
        top = await c.call("resources/directory/read", {"uri": "skill://refunds"})
        assert [(r["uri"], r["mimeType"]) for r in top["resources"]] == [
            ("skill://refunds/SKILL.md", "text/markdown"),
            ("skill://refunds/examples", "inode/directory"),
            ("skill://refunds/scripts", "inode/directory"),
        ]
        examples = await c.call("resources/directory/read", {"uri": "skill://refunds/examples"})
        assert [(r["name"], r["mimeType"]) for r in examples["resources"]] == [
            ("email.md", "text/markdown"),
            ("old", "inode/directory"),
            ("partial", "inode/directory"),
        ]
        for not_a_directory in ("skill://refunds/SKILL.md", "skill://elsewhere"):
            error = await c.error("resources/directory/read", {"uri": not_a_directory})
            assert error.code == -32602
            assert "is not a directory resource" in error.message


async def test_without_skills_or_in_the_legacy_era_the_methods_do_not_exist(
    tmp_path: Path,
) -> None:
    async with connect(Server("plain"), modern=True) as c:
        assert (await c.error("skills/list")).code == -32601
        discovered = await c.call("server/discover")
        assert "io.modelcontextprotocol/skills" not in (
            discovered["capabilities"].get("extensions") or {}
        )
    server = Server("skills").add_skill(write_skills(tmp_path) / "refunds")
    async with connect(server) as c:  # 2025-11-25: the files are ordinary resources
        assert (await c.error("skills/list")).code == -32601
        read = await c.call("resources/read", {"uri": "skill://refunds/SKILL.md"})
        assert read["contents"][0]["text"] == SKILL_MD


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# no frontmatter\n", "must begin with YAML frontmatter"),
        ("---\nname: [unclosed\n---\n", "bad YAML frontmatter"),
        ("---\n- a list\n---\n", "must be a YAML mapping"),
        ("---\nname: Refunds\ndescription: x\n---\n", "1-64 lowercase letters"),
        ("---\nname: re--funds\ndescription: x\n---\n", "1-64 lowercase letters"),
        ("---\nname: refunds\n---\n", "non-empty description"),
        ("---\nname: other\ndescription: x\n---\n", "must equal its directory's name"),
    ],
)
def test_a_directory_that_is_not_a_valid_skill_is_refused(
    tmp_path: Path, content: str, message: str
) -> None:
    skill = tmp_path / "refunds"
    skill.mkdir()
    (skill / "SKILL.md").write_text(content)
    with pytest.raises(ValueError, match=message):
        Server("bad").add_skill(skill)


def test_skills_over_the_limits_and_missing_ones_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no SKILL\.md"):
        Server("bad").add_skill(tmp_path)
    with pytest.raises(ValueError, match=r"no SKILL\.md under"):
        Server("bad").add_skills(tmp_path)
    skill = tmp_path / "big"
    (skill / "files").mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: big\ndescription: Too many files\n---\n")
    for i in range(512):
        (skill / "files" / f"{i}.txt").write_text("x")
    with pytest.raises(ValueError, match="513 files, over the 512"):
        Server("bad").add_skill(skill)
