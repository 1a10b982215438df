"""Other implementations' clients against our server: the official Python SDK's
``Client`` (both eras) and ``@modelcontextprotocol/inspector-cli``, over stdio and HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import peers
import pytest
import servers

HERE = Path(__file__).parent
SERVER = [sys.executable, str(HERE / "interop_server.py")]


def sdk_client(mode: str, *target: str) -> dict[str, Any]:
    python = peers.sdk_python()
    result = subprocess.run(
        [str(python), str(HERE / "sdk_client_script.py"), mode, *target],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


EXPECTED = {
    "tools": ["add", "countdown"],
    "add": ["42"],
    "add_structured": {"result": 42},
    "bad_is_error": True,
    "countdown": ["liftoff"],
    "progress": [1.0, 2.0, 3.0],
    "resource": ["interop test server"],
    "prompts": ["greeting"],
    "prompt": ["Please greet Ada warmly."],
}


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_official_sdk_client_over_stdio(mode: str, version: str) -> None:
    seen = sdk_client(mode, *SERVER)
    assert seen.pop("protocol_version") == version
    assert seen == EXPECTED


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_official_sdk_client_over_http(mode: str, version: str) -> None:
    with servers.http_server(HERE / "interop_server.py") as url:
        seen = sdk_client(mode, url)
    assert seen.pop("protocol_version") == version
    assert seen == EXPECTED


def inspector(*args: str) -> Any:
    build = peers.inspector_cli()
    # the CLI looks for its package.json relative to the working directory
    result = subprocess.run(
        [str(peers.node(peers.INSPECTOR_CLI_NODE).node), "index.js", *args],
        cwd=build,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_inspector_cli_over_stdio() -> None:
    tools = inspector(*SERVER, "--method", "tools/list")
    assert [t["name"] for t in tools["tools"]] == ["add", "countdown"]
    called = inspector(
        *SERVER, "--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=2", "b=40"
    )
    assert called["content"] == [{"type": "text", "text": "42"}]
    read = inspector(*SERVER, "--method", "resources/read", "--uri", "info://about")
    assert read["contents"][0]["text"] == "interop test server"
    prompt = inspector(
        *SERVER, "--method", "prompts/get", "--prompt-name", "greeting", "--prompt-args", "name=Ada"
    )
    assert prompt["messages"][0]["content"]["text"] == "Please greet Ada warmly."
    templates = inspector(*SERVER, "--method", "resources/templates/list")
    assert templates["resourceTemplates"] == []


def test_inspector_cli_over_http() -> None:
    with servers.http_server(HERE / "interop_server.py") as url:
        target = (url, "--transport", "http")
        tools = inspector(*target, "--method", "tools/list")
        assert [t["name"] for t in tools["tools"]] == ["add", "countdown"]
        called = inspector(
            *target, "--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=1", "b=2"
        )
        assert called["structuredContent"] == {"result": 3}
        read = inspector(*target, "--method", "resources/read", "--uri", "info://about")
        assert read["contents"][0]["text"] == "interop test server"
        prompt = inspector(
            *target,
            "--method",
            "prompts/get",
            "--prompt-name",
            "greeting",
            "--prompt-args",
            "name=Bo",
        )
        assert prompt["messages"][0]["content"]["text"] == "Please greet Bo warmly."
