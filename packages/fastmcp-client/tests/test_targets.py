"""What a Client connects to: in-process servers, commands (real child processes),
URLs and MCP configurations; and what happens when the server goes away."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from client_support import FakeServer, text

from fastmcp_client import Client, ConfigError, HttpServer, McpConfig, StdioServer
from fastmcp_client._targets import ConnectOptions, resolve_target
from fastmcp_core import ConnectionClosed, McpContext
from fastmcp_protocol import CallToolResult, TextContent

FAKE = str(Path(__file__).with_name("stdio_fake.py"))
PYTHON = sys.executable


def first_text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


# -- configurations -------------------------------------------------------------------------


def test_a_configuration_names_its_servers() -> None:
    config = McpConfig.from_dict(
        {
            "mcpServers": {
                "files": {
                    "command": "npx",
                    "args": ["-y", "srv"],
                    "env": {"K": "v"},
                    "cwd": "/srv",
                },
                "remote": {"url": "https://example.com/mcp", "headers": {"X": "1"}},
                "old": {"url": "https://example.com/sse", "type": "sse", "disabled": False},
            }
        }
    )
    assert config.servers["files"] == StdioServer(
        command="npx", args=["-y", "srv"], env={"K": "v"}, cwd="/srv"
    )
    assert config.servers["remote"] == HttpServer(url="https://example.com/mcp", headers={"X": "1"})
    assert config.servers["old"].transport == "sse"  # type: ignore[union-attr]
    assert config.select("remote")[0] == "remote"
    with pytest.raises(ConfigError, match="several servers \\('files', 'remote', 'old'\\)"):
        config.select()
    with pytest.raises(ConfigError, match="no MCP server 'nope'"):
        config.select("nope")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, 'needs an "mcpServers" object'),
        ({"mcpServers": {"x": {}}}, "'x' needs a 'command' or a 'url'"),
        ({"mcpServers": {"x": {"command": 3}}}, "MCP server 'x': .*at `\\$.command`"),
        ({"mcpServers": {"x": {"command": "a", "url": "http://b"}}}, "both a command and a url"),
        ({"mcpServers": {"x": {"url": "http://b", "type": "carrier-pigeon"}}}, "unknown transport"),
    ],
)
def test_bad_configurations_are_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        McpConfig.from_dict(data)


def test_vs_code_servers_key_and_single_entries() -> None:
    assert McpConfig.from_dict({"servers": {"a": {"command": "x"}}}).select()[0] == "a"
    assert McpConfig.from_dict({"command": "x"}).select() == ("default", StdioServer(command="x"))


def test_targets_resolve_before_connecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = ConnectOptions()
    assert resolve_target("python -m server --flag 'a b'", options).name == "python"
    assert resolve_target(["python", "s.py"], options).kind == "stdio"
    assert resolve_target("https://example.com/mcp", options).kind == "http"
    assert resolve_target(FakeServer(), options).kind == "memory"
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"a": {"command": "x"}, "b": {"url": "http://h"}}}))
    assert resolve_target(path, ConnectOptions(server="b")).kind == "http"
    assert resolve_target(str(path), ConnectOptions(server="a")).name == "a"
    # several servers at once need what provides them (the fastmcp package, through an
    # entry point: tested there); without it, the error says what to do
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    with pytest.raises(ConfigError, match=r"several servers .*: choose one .*install fastmcp"):
        Client(path)
    with pytest.raises(ConfigError, match="cannot read"):
        Client(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="server= picks a server"):
        Client(["python"], server="a")
    with pytest.raises(ConfigError, match="cannot connect to a int"):
        Client(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="roots= or roots_handler="):
        Client(FakeServer(), roots=[], roots_handler=_no_roots)


async def _no_roots() -> list[Any]:
    return []


# -- stdio -----------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_a_command_runs_the_server_as_a_child(era: str, tmp_path: Path) -> None:
    target = {
        "mcpServers": {
            "fake": {"command": PYTHON, "args": [FAKE, era], "env": {"FAKE_VAR": "from-config"}}
        }
    }
    async with Client(target, cwd=tmp_path) as client:
        assert client.is_modern == (era == "modern")
        assert first_text(await client.call_tool("echo", {"message": "hi"})) == "hi"
        assert first_text(await client.call_tool("env", {"name": "FAKE_VAR"})) == "from-config"
        assert first_text(await client.call_tool("cwd")) == str(tmp_path)


async def test_a_string_command_is_split_like_a_shell_would() -> None:
    async with Client(f"{PYTHON} {FAKE} legacy", env={"FAKE_VAR": "x y"}) as client:
        assert first_text(await client.call_tool("env", {"name": "FAKE_VAR"})) == "x y"


@pytest.fixture
def python_file(tmp_path: Path) -> Path:
    """The fake server as a plain file: no executable bit, no shebang (run directly,
    it could not start)."""
    script = tmp_path / "server.py"
    here = f"sys.path.insert(0, {str(Path(FAKE).parent)!r})"
    source = Path(FAKE).read_text().replace("sys.path.insert(0, str(Path(__file__).parent))", here)
    script.write_text(source)
    script.chmod(0o644)
    return script


@pytest.mark.parametrize("how", ["string", "argv", "path"])
async def test_a_python_file_runs_with_this_interpreter(how: str, python_file: Path) -> None:
    targets: dict[str, Any] = {
        "string": f"{python_file} legacy",
        "argv": [str(python_file), "legacy"],
        "path": python_file,
    }
    client = Client(targets[how])
    assert repr(client) == "<Client stdio 'server.py', not connected>"
    async with client:
        assert first_text(await client.call_tool("echo", {"message": "hi"})) == "hi"


async def test_a_server_that_crashes_mid_call_fails_the_call_at_once() -> None:
    async with Client([PYTHON, FAKE, "modern"], request_timeout=600) as client:
        async with trio.open_nursery() as nursery:
            failures: list[BaseException] = []

            async def waiting() -> None:
                try:
                    await client.call_tool("hang")
                except ConnectionClosed as exc:
                    failures.append(exc)

            nursery.start_soon(waiting)
            await trio.sleep(0.2)
            with pytest.raises(ConnectionClosed) as caught:
                await client.call_tool("crash")
        assert len(failures) == 1
        with pytest.raises(ConnectionClosed):
            await client.call_tool("echo", {"message": "too late"})
    message = str(caught.value)
    assert "exited with code 3" in message
    assert "fatal: the fake server crashed on purpose" in message


async def test_wait_closed_returns_when_the_server_goes_away() -> None:
    client = Client([PYTHON, FAKE, "legacy"])
    await client.wait_closed()  # not connected: at once
    async with client:
        with pytest.raises(ConnectionClosed):
            await client.call_tool("crash")
        with trio.fail_after(10):
            await client.wait_closed()
        assert not client.connected


async def test_a_command_that_cannot_start_is_a_connection_error() -> None:
    with pytest.raises(ConnectionClosed, match="could not start the server 'no-such-mcp-server'"):
        async with Client(["no-such-mcp-server", "--stdio"]):
            pass


async def test_an_in_process_server_that_fails_is_reported() -> None:
    class Broken:
        async def serve_transport(self, transport: Any, /) -> None:
            await transport.receive()
            raise RuntimeError("boom")

    with pytest.raises(ConnectionClosed, match="in-process server failed: RuntimeError: boom"):
        async with Client(Broken()):
            pass


async def test_an_in_process_server_failing_in_a_nursery_names_the_error_not_the_group() -> None:
    class Broken:
        async def serve_transport(self, transport: Any, /) -> None:
            async with trio.open_nursery():
                raise ValueError("no database")

    with pytest.raises(ConnectionClosed, match="in-process server failed: ValueError: no database"):
        async with Client(Broken()):
            pass


async def test_errors_in_the_body_are_not_wrapped_in_groups() -> None:
    fake = FakeServer(era="modern")

    async def echo(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        return text("x")

    fake.tool("echo", echo)

    async def body() -> None:
        async with Client(fake) as client:
            await client.call_tool("echo")
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        await body()
