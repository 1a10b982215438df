"""The resource template guard: what a URI's variables may be before a handler sees them.

A value is a name, never a path that leaves the handler's directory: absolute paths
(plain or encoded), climbing (``..``, plain or encoded), backslashes, NUL bytes and
values still encoded after one decoding do not match, in every kind of variable.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from server_support import connect

from fastmcp_server import Server, UriTemplate

TREE = UriTemplate("tree://{+path}")


@pytest.mark.parametrize(
    "uri",
    [
        "tree:///etc/passwd",  # absolute
        "tree://%2Fetc%2Fpasswd",  # absolute, encoded
        "tree://%2fetc/passwd",
        "tree://a/../../etc/passwd",  # climbing
        "tree://a/%2E%2E/%2e%2e/etc/passwd",  # climbing, encoded dots
        "tree://..",
        "tree://a%2F..%2F..%2Fetc",  # encoded separators
        "tree://a%5C..%5Cetc",
        "tree://a\\..\\etc",  # backslashes
        "tree://..%5Cetc",
        "tree://C:/Windows/win.ini",  # a drive
        "tree://c%3A%5Cboot.ini",
        "tree://a%00.txt",  # NUL
        "tree://%252E%252E/etc",  # double-encoded: decoded once more, it climbs
        "tree://%252Fetc%252Fpasswd",
    ],
)
def test_reserved_values_that_leave_their_directory_do_not_match(uri: str) -> None:
    assert TREE.match(uri) is None


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("tree://a/b/c.txt", "a/b/c.txt"),
        ("tree://notes/2024%20plan.md", "notes/2024 plan.md"),
        ("tree://a/./b", "a/./b"),
        ("tree://..hidden/x", "..hidden/x"),  # a name starting with dots is a name
        ("tree://caf%C3%A9.txt", "café.txt"),
        ("tree://100%25.txt", "100%.txt"),  # a percent sign, once decoded, is fine
    ],
)
def test_relative_paths_match_decoded(uri: str, path: str) -> None:
    assert TREE.match(uri) == {"path": path}


@pytest.mark.parametrize(
    ("template", "uri"),
    [
        ("users://{id}", "users://%2Fetc"),
        ("users://{id}", "users://.."),
        ("users://{id}", "users://a%5Cb"),
        ("users://{id}", "users://C:"),
        ("search://x{?q}", "search://x?q=/etc/passwd"),
        ("search://x{?q}", "search://x?q=a/../../b"),
        ("search://x{?q}", "search://x?q=%5C%5Cserver%5Cshare"),
        ("search://x{?q}", "search://x?q=%00"),
        ("files{/path*}", "files//etc/passwd"),
        ("files{/path*}", "files/a/%2E%2E/%2E%2E"),
        ("page://x{#section}", "page://x#/etc/passwd"),
    ],
)
def test_every_kind_of_variable_is_guarded(template: str, uri: str) -> None:
    assert UriTemplate(template).match(uri) is None


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("ab./\\%2EeFfC:0\x00"), max_size=16))
def test_a_matched_path_stays_inside_its_root(text: str) -> None:
    # whatever the client writes, a value that matches joins under the root
    found = TREE.match("tree://" + text)
    if found is None:
        return
    joined = posixpath.normpath(posixpath.join("/root", found["path"]))
    assert joined == "/root" or joined.startswith("/root/"), found


def tree_server(root: Path) -> Server:
    server = Server("tree", "1.0")

    @server.resource("tree://{+path}")
    def read(path: str) -> str:
        """A naive handler: it trusts the guard."""
        return (root / path).read_text()

    return server


@pytest.mark.parametrize("modern", [False, True], ids=["legacy", "modern"])
async def test_a_naive_file_template_does_not_serve_absolute_paths(
    tmp_path: Path, modern: bool
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_text("hello")
    async with connect(tree_server(root), modern=modern) as c:
        read = await c.call("resources/read", {"uri": "tree://hello.txt"})
        assert read["contents"][0]["text"] == "hello"
        for uri in (
            f"tree://{secret}",
            "tree://" + str(secret).replace("/", "%2F"),
            "tree://../secret.txt",
            "tree://%2E%2E/secret.txt",
        ):
            error = await c.error("resources/read", {"uri": uri})
            assert error.code == (-32602 if modern else -32002), uri
            assert error.data == {"uri": uri}
