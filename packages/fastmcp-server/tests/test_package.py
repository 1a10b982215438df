"""The package's public names, and what importing it loads."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

import fastmcp_server

# What a plain server (``Server(...)``, ``@server.tool``, ``server.run()`` over stdio)
# never needs, so neither the package nor the facade imports it, each with the use that
# loads it: optional machinery loads on first use.
LAZY_MODULES = {
    "fastmcp_server._media": "from {package} import Image",
    "fastmcp_server._files": "from {package} import FileResources",
    "fastmcp_server._uri_template": "from {package} import UriTemplate",
    "fastmcp_server._middleware": "from {package} import LoggingMiddleware",
    "fastmcp_server._caching": "from {package} import ResponseCachingMiddleware",
    "fastmcp_server._rate_limiting": "from {package} import RateLimitingMiddleware",
    "fastmcp_server._error_handling": "from {package} import RetryMiddleware",
    "fastmcp_server._transform": "from {package} import TransformedTool",
    "fastmcp_server._custom_routes": "server.custom_route('/up')(up)",
    "fastmcp_server.openapi": "from fastmcp_server.openapi import RouteMap",
    "fastmcp_server.auth": "from fastmcp_server.auth import StaticTokenVerifier",
    "fastmcp_server._http": "server.http_app()",
    "fastmcp_transport.http_server": "server.http_app()",
    "fastmcp_core.telemetry": "from fastmcp_core.telemetry import Telemetry",
    "fastmcp_core.store._memory": "server = Server('plain')",
    "fastmcp_core.store._redis": "from fastmcp_core.store import RedisStore",
}
# ...and what only clients and HTTP use of the transports (the facade imports the client)
NOT_FOR_STDIO_SERVERS = [
    "fastmcp_transport._http_common",
    "fastmcp_transport._memory",
    "fastmcp_transport._sse",
    "fastmcp_transport._stdio_client",
]


def test_every_public_name_is_there() -> None:
    for name in fastmcp_server.__all__:
        assert getattr(fastmcp_server, name) is not None
    assert set(fastmcp_server.__all__) <= set(dir(fastmcp_server))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = fastmcp_server.Nope


@pytest.mark.parametrize("package", ["fastmcp_server", "fastmcp"])
def test_importing_the_package_leaves_the_optional_modules_unloaded(package: str) -> None:
    uses = "\n".join(dict.fromkeys(LAZY_MODULES.values())).replace("{package}", package)
    script = (
        f"import sys, {package}\n"
        f"from {package} import Server\n"
        "def loaded(): return [m for m in LAZY if m in sys.modules]\n"
        f"LAZY = {list(LAZY_MODULES)!r}\n"
        "print(loaded())\n"
        "server = Server('plain')\n"
        "async def up(request): ...\n"
        f"{uses}\n"
        "print(loaded())"
    )
    env = {k: v for k, v in os.environ.items() if k != "FASTMCP_STORE"}  # the MemoryStore
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", str(list(LAZY_MODULES))]


def test_a_plain_server_serves_stdio_without_the_optional_modules() -> None:
    watched = [*LAZY_MODULES, *NOT_FOR_STDIO_SERVERS]
    assert all(importlib.util.find_spec(module) for module in watched)
    script = (
        "import sys\n"
        "from fastmcp_server import Server\n"
        "server = Server('plain', '1.0')\n"
        "@server.tool\n"
        "async def add(a: int, b: int) -> int:\n"
        "    return a + b\n"
        "try:\n"
        "    server.run()\n"
        "finally:\n"
        f"    print([m for m in {watched!r} if m in sys.modules], file=sys.stderr)\n"
    )
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 1, "b": 2}},
        },
    ]
    lines = "".join(json.dumps(request) + "\n" for request in requests)
    env = {k: v for k, v in os.environ.items() if k != "FASTMCP_STORE"}  # the MemoryStore
    done = subprocess.run(
        [sys.executable, "-c", script], input=lines, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[1] == {
        "jsonrpc": "2.0",
        "id": 2,
        "result": {"content": [{"type": "text", "text": "3"}], "structuredContent": {"result": 3}},
    }
    assert done.stderr.splitlines()[-1] == "['fastmcp_core.store._memory']"


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
