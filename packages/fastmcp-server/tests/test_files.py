"""``FileResources``: the files under one directory, and nothing else, as resources."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from server_support import connect

from fastmcp_server import FileResources, Server
from fastmcp_server._files import _Missing

ERAS = pytest.mark.parametrize("modern", [False, True], ids=["legacy", "modern"])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ with a few files; a secret beside it, outside."""
    root = tmp_path / "root"
    (root / "guide").mkdir(parents=True)
    (root / "guide" / "intro.md").write_text("# Intro\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 8)
    (root / "notes.txt").write_bytes(b"caf\xc3\xa9")
    (root / "latin1.txt").write_bytes(b"caf\xe9")
    (root / ".env").write_text("TOKEN=hunter2")
    (tmp_path / "secret.txt").write_text("the secret")
    return root


def files_server(root: Path, **options: object) -> Server:
    return Server("files", "1.0").resource(FileResources(root, "docs://{+path}", **options))  # type: ignore[arg-type]


def not_found(modern: bool) -> int:
    return -32602 if modern else -32002


@ERAS
async def test_serves_the_files_under_its_root(tree: Path, modern: bool) -> None:
    async with connect(files_server(tree), modern=modern) as c:
        templates = await c.call("resources/templates/list")
        assert templates["resourceTemplates"] == [
            {"uriTemplate": "docs://{+path}", "name": "root", "description": "The files under root"}
        ]
        intro = await c.call("resources/read", {"uri": "docs://guide/intro.md"})
        assert intro["contents"] == [
            {"uri": "docs://guide/intro.md", "mimeType": "text/markdown", "text": "# Intro\n"}
        ]
        logo = await c.call("resources/read", {"uri": "docs://logo.png"})
        assert logo["contents"][0]["mimeType"] == "image/png"
        assert base64.b64decode(logo["contents"][0]["blob"]).startswith(b"\x89PNG")
        notes = await c.call("resources/read", {"uri": "docs://notes.txt"})
        assert notes["contents"][0]["text"] == "café"
        latin1 = await c.call("resources/read", {"uri": "docs://latin1.txt"})  # not UTF-8
        assert base64.b64decode(latin1["contents"][0]["blob"]) == b"caf\xe9"


@ERAS
async def test_nothing_outside_the_root_and_nothing_hidden(tree: Path, modern: bool) -> None:
    secret = tree.parent / "secret.txt"
    (tree / "escape.txt").symlink_to(secret)  # a symlink out
    (tree / "outside").symlink_to(tree.parent, target_is_directory=True)
    (tree / "inside.md").symlink_to(tree / "guide" / "intro.md")  # a symlink within
    os.mkfifo(tree / "fifo")  # opening it must not wait for a writer
    async with connect(files_server(tree), modern=modern) as c:
        inside = await c.call("resources/read", {"uri": "docs://inside.md"})
        assert inside["contents"][0]["text"] == "# Intro\n"
        for uri in (
            f"docs://{secret}",
            "docs://" + str(secret).replace("/", "%2F"),
            "docs://../secret.txt",
            "docs://guide/../../secret.txt",
            "docs://%2E%2E/secret.txt",
            "docs://escape.txt",
            "docs://outside/secret.txt",
            "docs://.env",
            "docs://guide/.hidden",
            "docs://guide",  # a directory
            "docs://",
            "docs://fifo",
            "docs://missing.txt",
        ):
            error = await c.error("resources/read", {"uri": uri})
            assert (error.code, error.data) == (not_found(modern), {"uri": uri}), uri
            assert error.message == f"Resource not found: {uri}"


async def test_hidden_files_when_asked_and_a_size_limit(tree: Path) -> None:
    (tree / "big.bin").write_bytes(b"x" * 65)
    async with connect(files_server(tree, hidden=True, max_bytes=64)) as c:
        env = await c.call("resources/read", {"uri": "docs://.env"})
        assert base64.b64decode(env["contents"][0]["blob"]) == b"TOKEN=hunter2"
        error = await c.error("resources/read", {"uri": "docs://big.bin"})
        assert (error.code, error.message) == (
            -32602,
            "Resource too large: docs://big.bin is over 64 bytes",
        )


async def test_a_directory_swapped_for_a_symlink_after_the_check_is_refused(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the path checks out (resolution patched to be lexical, as if the directory were
    # swapped right after it), but the file opened is outside: the descriptor says so
    (tree / "swapped").symlink_to(tree.parent, target_is_directory=True)
    handler = FileResources(tree, "docs://{+path}")
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: Path(os.path.abspath(self)))
    with pytest.raises(_Missing):
        handler._load("swapped/secret.txt")
    assert handler._load("guide/intro.md") == b"# Intro\n"


def test_the_root_and_the_template_are_checked_when_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a directory"):
        FileResources(tmp_path / "absent", "docs://{+path}")
    with pytest.raises(ValueError, match="exactly one variable"):
        FileResources(tmp_path, "docs://{kind}/{+path}")
