"""``--auth oauth`` on the command line, against a protected server and a real
authorization server (``protected_server.py``): the first command opens the browser and
authorizes, the next ones (another command, the stdio proxy of ``fastmcp run``) use
the tokens it kept on disk.

The "browser" is the program ``$BROWSER`` names (Python's ``webbrowser`` runs it): it
does what a user's browser does with the authorization URL, follows it; the
authorization server approves at once and redirects to the command's loopback port.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import servers
import trio
from oauth_server import USER
from protected_server import Effects, stack

from fastmcp_client import Client
from fastmcp_protocol import TextContent

BROWSER = """\
import sys
import httpx

with open(sys.argv[2], "a") as visits:
    visits.write(sys.argv[1] + "\\n")
answer = httpx.get(sys.argv[1], follow_redirects=True, timeout=30)
sys.exit(0 if answer.status_code == 200 else 1)
"""


def browser(tmp_path: Path, visits: Path) -> Path:
    script = tmp_path / "browser.py"
    script.write_text(BROWSER)
    command = tmp_path / "browser"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$1" "{visits}"\n')
    command.chmod(0o755)
    return command


async def fastmcp(*args: str, env: dict[str, str]) -> tuple[str, str]:
    done = await trio.run_process(
        [sys.executable, "-m", "fastmcp", *args],
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, stderr
    return stdout, stderr


async def test_the_command_line_authorizes_once_and_keeps_the_tokens(tmp_path: Path) -> None:
    visits, kept = tmp_path / "visits", tmp_path / "oauth"
    env = {
        **os.environ,
        "BROWSER": str(browser(tmp_path, visits)),
        "FASTMCP_OAUTH_DIR": str(kept),
    }
    oauth = ["--auth", "oauth", "--callback-port", str(servers.free_port())]
    effects = Effects()
    async with stack(effects) as (authorization_server, url):
        # the first command: to the browser and back
        stdout, stderr = await fastmcp("call", url, "whoami", *oauth, env=env)
        assert stdout == f"{USER}\n"
        assert "fastmcp: authorize in your browser" in stderr
        (visit,) = visits.read_text().splitlines()
        assert visit.startswith(f"{authorization_server.base}/authorize?")
        assert len(authorization_server.authorizations) == 1
        # kept on disk, for the user alone
        assert stat.S_IMODE(kept.stat().st_mode) == 0o700
        files = list(kept.iterdir())
        assert len(files) == 2  # the tokens for the server, the client registration
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)

        # the next command: the same tokens, no browser
        stdout, stderr = await fastmcp("list", url, *oauth, env=env)
        assert "whoami" in stdout
        assert "browser" not in stderr

        # fastmcp run URL --auth oauth: a local stdio proxy with the same tokens
        proxy = [sys.executable, "-m", "fastmcp", "run", url, *oauth]
        async with Client(proxy, env=env) as client:
            result = await client.call_tool("whoami")
        assert result.content == [TextContent(text=USER)]

    assert len(visits.read_text().splitlines()) == 1
    assert len(authorization_server.authorizations) == 1
    assert [principal.subject for principal in effects.principals] == [USER, USER]
