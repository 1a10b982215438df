"""Settings from the environment: the documented table is the code's, and every way
of starting a server honours the variables."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fastmcp_core import RequestStateSealer
from fastmcp_core.store import MemoryStore, RedisStore
from fastmcp_server import Server, Settings, SettingsError
from fastmcp_server._settings import VARIABLES

ROOT = Path(__file__).parents[1]
SERVERS = ROOT / "docs" / "servers.md"


def table() -> str:
    lines = ["| variable | what it sets |", "|---|---|"]
    lines += [f"| `{v.name}` | {v.meaning} |" for v in VARIABLES]
    return "\n".join(lines)


def test_the_documented_table_is_the_code_s() -> None:
    text = SERVERS.read_text()
    found = re.search(r"<!-- settings:table -->\n(.*?)<!-- /settings:table -->", text, re.S)
    assert found is not None
    assert found[1].strip() == table(), (
        "docs/servers.md's settings table differs from VARIABLES: paste\n" + table()
    )


def test_every_variable_reaches_its_setting() -> None:
    settings = Settings.from_env(
        {
            "FASTMCP_TRANSPORT": "HTTP",
            "FASTMCP_HOST": "0.0.0.0",
            "FASTMCP_PORT": "0",
            "FASTMCP_PATH": "/api/mcp",
            "FASTMCP_STATELESS": "yes",
            "FASTMCP_HTTP_SERVER": "hypercorn",
            "FASTMCP_LOG_LEVEL": "info",
            "FASTMCP_SHUTDOWN_GRACE": "2.5",
            "FASTMCP_STATE_SECRET": "s3cret-s3cret-s3cret",
            "FASTMCP_STORE": "redis://127.0.0.1:6379/0",
            "UNRELATED": "x",
        }
    )
    assert settings == Settings(
        transport="http",
        host="0.0.0.0",
        port=0,
        path="/api/mcp",
        stateless=True,
        http_server="hypercorn",
        log_level="info",
        shutdown_grace=2.5,
        state_secret="s3cret-s3cret-s3cret",
        store="redis://127.0.0.1:6379/0",
    )
    assert Settings.from_env({"FASTMCP_PORT": ""}) == Settings()  # empty: unset


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FASTMCP_PORT", "eighty", "FASTMCP_PORT='eighty': "),
        ("FASTMCP_PORT", "70000", "FASTMCP_PORT='70000': expected a port number"),
        ("FASTMCP_TRANSPORT", "ws", "FASTMCP_TRANSPORT='ws': expected one of stdio, http"),
        ("FASTMCP_PATH", "mcp", "FASTMCP_PATH='mcp': expected a path starting with /"),
        ("FASTMCP_STATELESS", "maybe", "FASTMCP_STATELESS='maybe': expected true or false"),
        ("FASTMCP_SHUTDOWN_GRACE", "-1", "FASTMCP_SHUTDOWN_GRACE='-1': expected seconds"),
    ],
)
def test_a_bad_variable_is_one_clear_error(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert str(caught.value).startswith(message)


def test_a_bad_secret_is_not_repeated() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FASTMCP_STATE_SECRET": "short-one"})
    assert "short-one" not in str(caught.value)
    assert str(caught.value).startswith("FASTMCP_STATE_SECRET: ")


def test_a_state_secret_may_be_a_ring_and_the_server_takes_it_whole() -> None:
    ring = " new-secret-0123456789 , old-secret-0123456789 "
    settings = Settings.from_env({"FASTMCP_STATE_SECRET": ring})
    assert settings.state_secret == "new-secret-0123456789,old-secret-0123456789"
    with pytest.raises(SettingsError, match="each, in a ring"):
        Settings.from_env({"FASTMCP_STATE_SECRET": "new-secret-0123456789,short"})
    # the sealer takes the whole ring: the newest seals, any opens
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTMCP_STATE_SECRET", ring)
        server = Server("ring")
    assert server.sealer.keys == (b"new-secret-0123456789", b"old-secret-0123456789")
    newest = RequestStateSealer(key=b"new-secret-0123456789")
    oldest = RequestStateSealer(key=b"old-secret-0123456789")
    assert newest.open(server.sealer.seal("b", {"n": 1}), "b") == {"n": 1}
    assert server.sealer.open(oldest.seal("b", {"n": 2}), "b") == {"n": 2}


def test_the_store_comes_from_the_code_else_the_variable_else_memory() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTMCP_STORE", "redis://127.0.0.1:6390/3?prefix=jobs")
        from_env = Server("env").store
        given = MemoryStore()
        assert Server("code", store=given).store is given
    assert isinstance(from_env, RedisStore)
    assert (from_env.where, from_env.prefix) == ("redis://127.0.0.1:6390/3", "jobs")
    assert isinstance(Server("plain").store, MemoryStore)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FASTMCP_STORE": "mongodb://user:pw@db"})
    assert str(caught.value) == (
        "FASTMCP_STORE: expected memory:// or redis://HOST:PORT/DB (rediss://, unix://)"
    )  # a URL may hold a password: never repeated


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    line = process.stderr.readline()  # the address line (or the error)
    process.terminate()
    process.communicate(timeout=60)
    return line


@pytest.mark.parametrize("how", ["script", "command line"])
def test_server_run_and_fastmcp_run_serve_where_the_variables_say(how: str) -> None:
    port = free_port()
    env = {"FASTMCP_TRANSPORT": "http", "FASTMCP_PORT": str(port), "FASTMCP_PATH": "/api/mcp"}
    script = ROOT / "examples" / "echo_server.py"
    if how == "script":
        code = (
            "import runpy, sys; sys.argv = ['echo']; "
            f"ns = runpy.run_path({str(script)!r}); ns['server'].run()"
        )
        argv = [sys.executable, "-c", code]
    else:
        argv = [sys.executable, "-m", "fastmcp", "run", str(script)]
    line = first_line(start(argv, env))
    assert f"http://127.0.0.1:{port}/api/mcp" in line, line


def test_a_bad_variable_stops_fastmcp_run_with_one_line() -> None:
    process = start(
        [sys.executable, "-m", "fastmcp", "run", str(ROOT / "examples" / "echo_server.py")],
        {"FASTMCP_PORT": "eighty"},
    )
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert err.strip().splitlines() == [
        "fastmcp: error: FASTMCP_PORT='eighty': invalid literal for int() with base 10: 'eighty'"
    ]
