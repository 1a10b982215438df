"""The package's public names, and what importing it loads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastmcp_server

# loaded on first use: a server that returns no media, uses no middleware and has no
# resource template starts without them
LAZY_MODULES = [
    "fastmcp_server._media",
    "fastmcp_server._middleware",
    "fastmcp_server._uri_template",
]


def test_every_public_name_is_there() -> None:
    for name in fastmcp_server.__all__:
        assert getattr(fastmcp_server, name) is not None
    assert set(fastmcp_server.__all__) <= set(dir(fastmcp_server))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = fastmcp_server.Nope


@pytest.mark.parametrize("package", ["fastmcp_server", "fastmcp"])
def test_importing_the_package_leaves_the_rarely_used_modules_unloaded(package: str) -> None:
    script = (
        f"import sys, {package}\n"
        f"before = [m for m in {LAZY_MODULES!r} if m in sys.modules]\n"
        f"from {package} import Image, LoggingMiddleware, UriTemplate\n"
        f"after = [m for m in {LAZY_MODULES!r} if m in sys.modules]\n"
        "print(before, len(after))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == f"[] {len(LAZY_MODULES)}"


def test_skills_load_with_the_first_skill() -> None:
    script = (
        "import sys, fastmcp_server\n"
        "print([m for m in ('fastmcp_server._skills', 'yaml') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_openapi_loads_with_the_first_openapi_server() -> None:
    watched = ("fastmcp_server.openapi", "fastmcp_server._openapi_spec", "httpx")
    script = (
        "import sys, fastmcp_server\n"
        f"print([m for m in {watched!r} if m in sys.modules])\n"
        "fastmcp_server.Server.from_openapi("
        "{'openapi': '3.1.0', 'paths': {}, 'servers': [{'url': 'http://h'}]})\n"
        f"print([m for m in {watched!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", str(list(watched[:2]))]


def test_coredis_loads_only_with_a_redis_store() -> None:
    script = (
        "import sys, fastmcp_server\n"
        "fastmcp_server.Server('plain')\n"
        "print('coredis' in sys.modules)\n"
        "fastmcp_server.Server('replica', store='redis://127.0.0.1:6379/0')\n"
        "print('coredis' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FASTMCP_STORE"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
