"""The ``fastmcp`` command, run for real: ``python -m fastmcp ...`` as a subprocess
against example servers (in-process, over stdio and HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
import trio

from fastmcp import __version__ as fastmcp_version
from fastmcp_client import Client
from fastmcp_protocol import TextContent

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "cli" / "server.py"
FASTMCP = [sys.executable, "-m", "fastmcp"]


def fastmcp(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*FASTMCP, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        input=input if input is not None else "",
        timeout=timeout,
        check=False,
    )


def assert_one_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    """Failed, with exactly one line on stderr that says ``message``; no traceback."""
    assert done.returncode != 0, done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("fastmcp: error: "), lines
    assert message in lines[0], lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_until(stream: IO[str], needle: str, limit: float = 30) -> str:
    """Lines of ``stream`` up to the one holding ``needle`` (fails after ``limit`` s)."""
    seen = ""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = stream.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never came; got:\n{seen}")


@contextmanager
def serving_http(*args: str, cwd: Path | None = None) -> Iterator[str]:
    """``fastmcp run ... -t http --port 0`` in the background; yields its URL."""
    with subprocess.Popen(
        [*FASTMCP, "run", "-t", "http", "--port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    ) as process:
        try:
            assert process.stderr is not None
            line = read_until(process.stderr, "serving ").strip()
            yield line.rsplit(" on ", 1)[1]
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
            assert process.stdout is not None
            assert process.stdout.read() == ""  # nothing on stdout while serving


# -- version, help ------------------------------------------------------------------------------


def test_version_names_every_package_python_and_the_platform() -> None:
    done = fastmcp("version")
    assert done.returncode == 0
    for package in (
        "fastmcp ", "fastmcp-protocol", "fastmcp-core", "fastmcp-transport",
        "fastmcp-server", "fastmcp-client",
    ):  # fmt: skip
        assert package in done.stdout
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in done.stdout
    assert "platform" in done.stdout
    assert fastmcp("--version").stdout == done.stdout


def test_help_and_usage_mistakes() -> None:
    done = fastmcp("--help")
    assert done.returncode == 0
    for command in ("run", "call", "list", "inspect", "dev", "install", "version"):
        assert command in done.stdout
    assert_one_error(
        fastmcp("run", "--transport", "carrier-pigeon", str(EXAMPLE)), "invalid choice"
    )
    assert fastmcp().returncode == 2


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "fastmcp"
    done = subprocess.run([str(script), "version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "fastmcp-server" in done.stdout


# -- list, inspect ------------------------------------------------------------------------------


def test_list() -> None:
    done = fastmcp("list", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:5] == [
        "Tools (4)",
        "  add(a: integer, b: integer)  Add two integers.",
        "  shout(message: string, times?: integer, loud?: boolean)  Repeat a message, in capitals unless loud is false.",
        "  stats(values: array[number])  Count and average some numbers.",
        "  countdown(start: integer)  Count down to zero, reporting progress at every step.",
    ]
    assert "  demo://motd [text/plain]  The message of the day." in done.stdout
    assert "  demo://users/{name}  A user's card." in done.stdout
    assert "  review(code, language?)  Ask for a code review." in done.stdout
    assert done.stderr == ""
    schemas = fastmcp("list", str(EXAMPLE), "--schemas").stdout
    assert '"required": [' in schemas
    assert "output schema:" in schemas
    listed = json.loads(fastmcp("list", str(EXAMPLE), "--json").stdout)
    assert [t["name"] for t in listed["tools"]] == ["add", "shout", "stats", "countdown"]
    assert listed["tools"][0]["inputSchema"]["properties"]["a"] == {"type": "integer"}
    assert listed["resourceTemplates"][0]["uriTemplate"] == "demo://users/{name}"
    assert listed["prompts"][0]["arguments"][0] == {
        "name": "code", "required": True
    }  # fmt: skip


def test_inspect_reports_the_server() -> None:
    done = fastmcp("inspect", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["serverInfo"] == {"name": "demo", "version": "1.0.0"}
    assert report["protocolVersion"] == "2026-07-28"
    # every version it speaks: per request (server/discover) and at initialize
    assert report["supportedVersions"] == [
        "2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"
    ]  # fmt: skip
    assert report["instructions"] == "A small server to try the fastmcp command on."
    assert set(report["capabilities"]) >= {"tools", "resources", "prompts"}
    assert len(report["tools"]) == 4
    assert report["tools"][2]["outputSchema"]["properties"]["mean"] == {"type": "number"}
    assert [r["uri"] for r in report["resources"]] == ["demo://motd"]
    assert len(report["resourceTemplates"]) == 1
    assert report["prompts"][0]["name"] == "review"


def test_inspect_lists_only_the_versions_a_server_speaks(tmp_path: Path) -> None:
    server = tmp_path / "old.py"
    server.write_text(
        "from fastmcp import Server\n"
        "server = Server('old', '1', protocol_versions=['2025-06-18', '2025-03-26'])\n"
    )
    done = fastmcp("inspect", str(server))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["protocolVersion"] == "2025-06-18"
    assert report["supportedVersions"] == ["2025-06-18", "2025-03-26"]


# -- call ---------------------------------------------------------------------------------------


def test_call_tools_with_typed_arguments() -> None:
    assert fastmcp("call", str(EXAMPLE), "add", "a=2", "b=3").stdout == "5\n"
    shout = fastmcp("call", str(EXAMPLE), "shout", "message=hey", "times=2")
    assert shout.stdout == "HEY HEY\n"
    quiet = fastmcp("call", str(EXAMPLE), "shout", "message=007", "loud=false")
    assert quiet.stdout == "007\n"  # a string stays a string
    stats = fastmcp("call", str(EXAMPLE), "stats", "values=[1, 2, 4.5]")
    assert json.loads(stats.stdout) == {"count": 3, "mean": 2.5}
    assert stats.stdout.startswith("{\n  ")  # structured content, pretty
    given = fastmcp("call", str(EXAMPLE), "add", "--input-json", '{"a": 1, "b": 1}', "b=5")
    assert given.stdout == "6\n"
    raw = json.loads(fastmcp("call", "--json", str(EXAMPLE), "add", "a=1", "b=1").stdout)
    assert raw["structuredContent"] == {"result": 2}
    assert raw["content"] == [{"type": "text", "text": "2"}]


def test_call_resources_and_prompts() -> None:
    assert fastmcp("call", str(EXAMPLE), "demo://motd").stdout == "Have a nice day.\n"
    assert fastmcp("call", str(EXAMPLE), "--resource", "demo://users/ada").stdout == "User ada\n"
    review = fastmcp("call", str(EXAMPLE), "--prompt", "review", "code=x = 1")
    assert (
        review.stdout
        == "# Ask for a code review.\n[user]\nPlease review this python code:\nx = 1\n"
    )
    raw = json.loads(fastmcp("call", str(EXAMPLE), "--json", "demo://motd").stdout)
    assert raw["contents"][0]["text"] == "Have a nice day."


def test_progress_goes_to_stderr() -> None:
    done = fastmcp("call", str(EXAMPLE), "countdown", "start=3")
    assert done.stdout == "liftoff\n"
    assert done.stderr.splitlines() == [
        "progress 1/3 3...",
        "progress 2/3 2...",
        "progress 3/3 1...",
    ]


def test_progress_bar_on_a_terminal() -> None:
    primary, secondary = pty.openpty()
    try:
        with subprocess.Popen(
            [*FASTMCP, "call", str(EXAMPLE), "countdown", "start=2"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=secondary,
        ) as process:
            os.close(secondary)
            out, _ = process.communicate(timeout=60)
            drawn = _drain(primary)
    finally:
        os.close(primary)
    assert out == b"liftoff\n"
    assert "\r\x1b[2K" in drawn
    assert "100% (2/2) 1..." in drawn


def _drain(fd: int) -> str:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


FAILING = """
from fastmcp_core import ToolError
from fastmcp_server import Server

server = Server("failing")

@server.tool
async def broken() -> str:
    raise ToolError("the disk is full")
"""


def test_a_failed_tool_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(FAILING)
    done = fastmcp("call", str(tmp_path / "failing.py"), "broken")
    assert_one_error(done, "the tool failed: the disk is full")
    assert done.stdout == ""
    raw = fastmcp("call", "--json", str(tmp_path / "failing.py"), "broken")
    assert raw.returncode == 1
    assert json.loads(raw.stdout)["isError"] is True


NOISY = """
import os
from fastmcp_server import Server

print("imported: noise")
server = Server("noisy")

@server.tool
async def chatter(word: str) -> str:
    print("print: noise")
    os.write(1, b"fd1: noise\\n")
    return word
"""


def test_a_server_that_prints_does_not_spoil_the_output(tmp_path: Path) -> None:
    (tmp_path / "noisy.py").write_text(NOISY)
    done = fastmcp("call", str(tmp_path / "noisy.py"), "chatter", "word=clean")
    assert done.stdout.splitlines()[-1] == "clean"
    assert "print: noise" in done.stderr


def test_call_a_command_after_double_dash_and_with_module() -> None:
    command = ["--", sys.executable, str(EXAMPLE)]
    assert fastmcp("call", "add", "a=1", "b=2", *command).stdout == "3\n"
    assert fastmcp("list", "--json", *command).returncode == 0
    module = fastmcp("call", "-m", "server:server", "add", "a=4", "b=4", cwd=EXAMPLE.parent)
    assert module.stdout == "8\n"


WAITING = """
import sys
from pathlib import Path
import trio
from fastmcp_core import McpContext
from fastmcp_server import Server

server = Server("waiting")
MARKS = Path(__file__).with_name("marks.txt")

@server.tool
async def wait(ctx: McpContext) -> str:
    await ctx.report_progress(0, 1, "started")
    try:
        await trio.sleep_forever()
    except trio.Cancelled:
        with MARKS.open("a") as out:
            out.write("cancelled\\n")
        raise
    return "never"

if __name__ == "__main__":
    server.run()
"""


@pytest.mark.parametrize("how", ["in-process", "stdio"])
def test_ctrl_c_cancels_the_call_on_the_server(tmp_path: Path, how: str) -> None:
    (tmp_path / "waiting.py").write_text(WAITING)
    if how == "in-process":
        args = ["call", str(tmp_path / "waiting.py"), "wait"]
    else:
        args = ["call", "wait", "--", sys.executable, str(tmp_path / "waiting.py")]
    with subprocess.Popen(
        [*FASTMCP, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        read_until(process.stderr, "progress 0/1 started")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert out == ""
    assert "fastmcp: error: interrupted: the request was cancelled" in err
    assert "Traceback" not in err
    assert (tmp_path / "marks.txt").read_text() == "cancelled\n"  # the server saw it


# -- run ----------------------------------------------------------------------------------------


def test_run_stdio_writes_only_json_rpc_on_stdout(tmp_path: Path) -> None:
    (tmp_path / "noisy.py").write_text(NOISY)
    with subprocess.Popen(
        [*FASTMCP, "run", str(tmp_path / "noisy.py"), "--log-level", "info"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        stdin, stdout, stderr = process.stdin, process.stdout, process.stderr
        assert stdin is not None
        assert stdout is not None
        assert stderr is not None

        def send(message: dict[str, Any]) -> None:
            stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
            stdin.flush()

        frames: list[dict[str, Any]] = []

        def answer() -> dict[str, Any]:
            frames.append(json.loads(stdout.readline()))
            return frames[-1]

        send({"id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        }})  # fmt: skip
        assert answer()["result"]["serverInfo"]["name"] == "noisy"
        send({"method": "notifications/initialized"})
        call = {"name": "chatter", "arguments": {"word": "hi"}}
        send({"id": 2, "method": "tools/call", "params": call})
        assert answer()["result"]["content"] == [{"type": "text", "text": "hi"}]
        stdin.close()
        rest = stdout.read()
        err = stderr.read()
        assert process.wait(timeout=30) == 0
    assert rest == ""
    assert all(frame["jsonrpc"] == "2.0" for frame in frames)
    for noise in ("imported: noise", "print: noise", "fd1: noise"):
        assert noise in err
    # the request log, with timings
    assert "fastmcp.requests: tools/call id=2 ok in " in err


def test_run_stdio_as_a_client_sees_it(tmp_path: Path) -> None:
    async def main() -> None:
        async with Client([*FASTMCP, "run", str(EXAMPLE)]) as client:
            assert client.server_info is not None
            assert client.server_info.name == "demo"
            result = await client.call_tool("add", {"a": 20, "b": 22})
            assert result.content == [TextContent(text="42")]

    trio.run(main)


def test_the_banner_shows_on_a_terminal_only() -> None:
    primary, secondary = pty.openpty()
    try:
        with subprocess.Popen(
            [*FASTMCP, "run", str(EXAMPLE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=secondary,
        ) as process:
            os.close(secondary)
            banner = b""
            while b"Ctrl-C to stop" not in banner:
                ready, _, _ = select.select([primary], [], [], 30)
                assert ready, banner
                banner += os.read(primary, 4096)
            out, _ = process.communicate(timeout=30)
            assert process.returncode == 0
            assert out == b""
    finally:
        os.close(primary)
    text = banner.decode()
    assert f"fastmcp {fastmcp_version} · demo 1.0.0" in text
    assert "serving  stdio" in text
    assert "offers   4 tools, 1 resource, 1 resource template, 1 prompt" in text
    # without a terminal: no banner at all
    assert fastmcp("run", str(EXAMPLE)).stderr == ""


def test_run_http_and_call_it_by_url() -> None:
    with serving_http(str(EXAMPLE)) as url:
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/mcp")
        assert fastmcp("call", url, "add", "a=1", "b=1").stdout == "2\n"
        assert "countdown" in fastmcp("list", url).stdout


def test_run_http_stateless_and_a_custom_path() -> None:
    with serving_http(str(EXAMPLE), "--stateless", "--path", "/api/mcp") as url:
        assert url.endswith("/api/mcp")
        assert fastmcp("call", url, "add", "a=3", "b=1").stdout == "4\n"


def test_run_http_serves_the_custom_routes(tmp_path: Path) -> None:
    source = tmp_path / "routed.py"
    source.write_text(
        "from fastmcp_server import Server\n"
        "from fastmcp_transport.http_server import HttpRequest\n"
        "server = Server('routed')\n"
        "@server.custom_route('/health')\n"
        "async def health(request: HttpRequest) -> dict[str, str]:\n"
        "    return {'status': 'ok', 'agent': request.headers.get('user-agent', '')}\n"
    )
    with serving_http(str(source)) as url:
        health = url.removesuffix("/mcp") + "/health"
        with urllib.request.urlopen(
            urllib.request.Request(health, headers={"user-agent": "lb"})
        ) as answer:
            assert json.loads(answer.read()) == {"status": "ok", "agent": "lb"}


def test_run_a_url_is_a_proxy() -> None:
    with serving_http(str(EXAMPLE)) as url:

        async def main() -> None:
            async with Client([*FASTMCP, "run", url], protocol_version="2025-11-25") as client:
                assert client.server_info is not None
                assert client.server_info.name == "demo"  # the remote's name
                result = await client.call_tool("add", {"a": 5, "b": 6})
                assert result.content == [TextContent(text="11")]

        trio.run(main)
        # and the proxy served over HTTP in turn
        with serving_http(url) as front:
            assert fastmcp("call", front, "shout", "message=via").stdout == "VIA\n"


def test_a_server_from_mcp_json(tmp_path: Path) -> None:
    config = {"mcpServers": {"demo": {"command": sys.executable, "args": [str(EXAMPLE)]}}}
    (tmp_path / "mcp.json").write_text(json.dumps(config))
    assert fastmcp("call", "demo", "add", "a=2", "b=2", cwd=tmp_path).stdout == "4\n"
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps(config))
    assert "add(" in fastmcp("list", "--config", str(other), "demo").stdout
    with serving_http("demo", cwd=tmp_path) as url:  # a configured server, proxied
        assert fastmcp("call", url, "add", "a=1", "b=6").stdout == "7\n"


def test_run_a_command_on_stdio_starts_it_once(tmp_path: Path) -> None:
    # one client on stdio: the proxy's one upstream connection serves it
    (tmp_path / "counted.py").write_text(
        "import os\n"
        "from fastmcp_server import Server\n"
        "with open('started', 'a') as started:\n"
        "    started.write(f'{os.getpid()}\\n')\n"
        "server = Server('counted')\n"
        "@server.tool\n"
        "async def hello() -> str:\n"
        "    return 'hi'\n"
        "server.run()\n"
    )
    command = [*FASTMCP, "run", "--", sys.executable, "counted.py"]

    async def main() -> None:
        async with Client(command, protocol_version="2025-11-25", cwd=tmp_path) as client:
            assert (await client.call_tool("hello")).content == [TextContent(text="hi")]

    trio.run(main)
    assert len((tmp_path / "started").read_text().splitlines()) == 1


def test_run_a_command_proxied_over_http() -> None:
    with serving_http("--", sys.executable, str(EXAMPLE)) as url:
        assert fastmcp("call", url, "add", "a=9", "b=1").stdout == "10\n"


# -- what a user gets wrong: one line, no traceback ---------------------------------------------


def test_user_mistakes_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    (tmp_path / "two.py").write_text(
        "from fastmcp_server import Server\na = Server('a')\nb = Server('b')\n"
    )
    (tmp_path / "crash.py").write_text("raise RuntimeError('no database')\n")
    (tmp_path / "lifespan.py").write_text(
        "from contextlib import asynccontextmanager\n"
        "from fastmcp_server import Server\n"
        "@asynccontextmanager\n"
        "async def lifespan(server):\n"
        "    raise ConnectionError('the database is down')\n"
        "    yield\n"
        "server = Server('x', lifespan=lifespan)\n"
    )
    example = str(EXAMPLE)
    cases = [
        (("call", "missing.py", "add"), "no such file: missing.py"),
        (("list", str(tmp_path / "empty.py")), "no Server object in empty.py"),
        (("list", str(tmp_path / "two.py")), "several Server objects in two.py (a, b)"),
        (("call", example, "add", "a"), "bad argument 'a': expected key=value"),
        (("call", example, "add", "a=one", "b=2"), "argument 'a' of tool 'add' must be an integer"),
        (
            ("call", example, "nope"),
            "unknown tool 'nope' (the server has: add, countdown, shout, stats)",
        ),
        (("call", example, "--prompt", "nope"), "unknown prompt 'nope'"),
        (("call", example, "--prompt", "review"), "prompt 'review' needs code=..."),
        (("call", example, "demo://nothing"), "Resource not found: demo://nothing"),
        (("call", example), "what to call?"),
        (
            ("run", str(tmp_path / "crash.py")),
            "importing crash.py failed: RuntimeError: no database (crash.py:1)",
        ),
        (("run", str(tmp_path / "lifespan.py")), "the database is down"),
        (("run", example, "--shutdown-grace", "-1"), "--shutdown-grace cannot be negative"),
        (("list", str(tmp_path / "lifespan.py")), "the database is down"),
        (("list", "--", sys.executable, "-c", "raise SystemExit(3)"), "exited with code 3"),
        (("list", "--", "/no/such/server"), "could not start the server '/no/such/server'"),
        (("list", f"http://127.0.0.1:{free_port()}/mcp"), "ConnectError"),
        (("run", f"http://127.0.0.1:{free_port()}/mcp"), "ConnectError"),
        (("list", "nothing-here"), "'nothing-here' is not a .py file, a URL, module:object"),
        (("run", "--reload", example), "--reload needs -t http"),
        (
            ("run", example, "--port", "9"),
            "--port, --stateless and --http-server are options of -t http",
        ),
        (("list", "-m", "no_such_module_anywhere"), "no module named 'no_such_module_anywhere'"),
        (("list", example, "--auth", "oauth"), "--header and --auth are for servers reached"),
        (("run", example, "-H", "X-Key: 1"), "--header and --auth are for servers reached"),
    ]
    # run side by side: each is a Python start-up or two
    processes = [
        subprocess.Popen(
            [*FASTMCP, *args],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, _ in cases
    ]
    for process, (_, message) in zip(processes, cases, strict=True):
        with process:
            out, err = process.communicate(timeout=60)
        done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
        assert_one_error(done, message)


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = fastmcp("run", str(EXAMPLE), "-t", "http", "--port", str(port))
    assert_one_error(done, f"cannot listen on 127.0.0.1:{port}: the address is in use")


# -- --reload -----------------------------------------------------------------------------------


RELOADED = """
from fastmcp_server import Server

server = Server("reloaded")

@server.tool
async def version() -> str:
    return "{version}"
"""


def test_reload_restarts_the_server_when_its_source_changes(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text(RELOADED.format(version="one"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with subprocess.Popen(
        [*FASTMCP, "run", str(source), "-t", "http", "--port", str(port), "--reload"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            read_until(process.stderr, "serving reloaded on")
            assert fastmcp("call", url, "version").stdout == "one\n"
            time.sleep(0.01)  # a different modification time, even on coarse clocks
            source.write_text(RELOADED.format(version="two"))
            read_until(process.stderr, "app.py changed: restarting")
            read_until(process.stderr, "serving reloaded on")
            assert fastmcp("call", url, "version").stdout == "two\n"
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0


# -- install ------------------------------------------------------------------------------------


def install(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": "", "APPDATA": ""}
    return fastmcp("install", *args, cwd=tmp_path, env=env)


def test_install_in_claude_desktop_keeps_other_entries(tmp_path: Path) -> None:
    config = tmp_path / "home" / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}))
    (tmp_path / ".env").write_text("TOKEN=secret\n")
    done = install(
        tmp_path, str(EXAMPLE), "--target", "claude-desktop", "--env", "MODE=test",
        "--env-file", ".env",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"installed 'demo' in {config}" in done.stderr
    written = json.loads(config.read_text())
    assert written["theme"] == "dark"
    assert written["mcpServers"]["other"] == {"command": "x"}
    assert written["mcpServers"]["demo"] == {
        "command": sys.executable,
        "args": ["-m", "fastmcp", "run", str(EXAMPLE)],
        "env": {"TOKEN": "secret", "MODE": "test"},
    }
    # the entry works as written
    listed = fastmcp("call", "--config", str(config), "demo", "add", "a=1", "b=2")
    assert listed.stdout == "3\n"
    # the same name again: refused, then replaced with --force
    again = install(tmp_path, str(EXAMPLE), "--target", "claude-desktop")
    assert_one_error(again, "already has a server named 'demo': use --force")
    forced = install(tmp_path, str(EXAMPLE), "--target", "claude-desktop", "--force")
    assert forced.returncode == 0
    assert "env" not in json.loads(config.read_text())["mcpServers"]["demo"]
    named = install(tmp_path, str(EXAMPLE), "--target", "claude-desktop", "--name", "calc")
    assert named.returncode == 0
    assert set(json.loads(config.read_text())["mcpServers"]) == {"other", "demo", "calc"}


def test_install_refuses_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "home" / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    config.write_text("{ not json")
    done = install(tmp_path, str(EXAMPLE), "--target", "claude-desktop")
    assert_one_error(done, "is not valid JSON")
    assert config.read_text() == "{ not json"


def test_install_in_cursor_and_claude_code(tmp_path: Path) -> None:
    assert install(tmp_path, str(EXAMPLE), "--target", "cursor").returncode == 0
    cursor = json.loads((tmp_path / "home" / ".cursor" / "mcp.json").read_text())
    assert cursor["mcpServers"]["demo"]["args"] == ["-m", "fastmcp", "run", str(EXAMPLE)]
    project = tmp_path / "project"
    project.mkdir()
    assert (
        install(tmp_path, str(EXAMPLE), "--target", "cursor", "--project", "project").returncode
        == 0
    )
    assert "demo" in json.loads((project / ".cursor" / "mcp.json").read_text())["mcpServers"]
    assert install(tmp_path, str(EXAMPLE), "--target", "claude-code").returncode == 0
    code = json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["demo"]
    assert code["type"] == "stdio"
    assert code["command"] == sys.executable
    url = install(tmp_path, "https://example.com/mcp", "--target", "claude-code",
                  "--header", "Authorization: Bearer t")  # fmt: skip
    assert url.returncode == 0, url.stderr
    remote = json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["example.com"]
    assert remote == {
        "type": "http", "url": "https://example.com/mcp",
        "headers": {"Authorization": "Bearer t"},
    }  # fmt: skip


def test_install_mcp_json_prints_or_merges(tmp_path: Path) -> None:
    printed = install(tmp_path, str(EXAMPLE), "--target", "mcp-json", "--name", "calc")
    assert json.loads(printed.stdout) == {
        "mcpServers": {
            "calc": {"command": sys.executable, "args": ["-m", "fastmcp", "run", str(EXAMPLE)]}
        }
    }
    out = tmp_path / "servers.json"
    out.write_text(json.dumps({"mcpServers": {"kept": {"url": "http://x"}}}))
    merged = install(tmp_path, str(EXAMPLE), "--target", "mcp-json", "--output", str(out))
    assert merged.returncode == 0
    assert set(json.loads(out.read_text())["mcpServers"]) == {"kept", "demo"}
    # a URL for Claude Desktop (commands only) goes through a local proxy
    desktop = install(tmp_path, "https://example.com/mcp", "--target", "claude-desktop")
    assert desktop.returncode == 0
    config = tmp_path / "home" / ".config" / "Claude" / "claude_desktop_config.json"
    entry = json.loads(config.read_text())["mcpServers"]["example.com"]
    assert entry["args"] == ["-m", "fastmcp", "run", "https://example.com/mcp"]
    # and with --auth oauth, the proxy authorizes (the other targets do it themselves)
    oauth = install(
        tmp_path, "https://example.com/mcp", "--target", "claude-desktop", "--force",
        "--auth", "oauth", "--callback-port", "40001",
    )  # fmt: skip
    assert oauth.returncode == 0, oauth.stderr
    entry = json.loads(config.read_text())["mcpServers"]["example.com"]
    assert entry["args"][-4:] == ["--auth", "oauth", "--callback-port", "40001"]
    assert_one_error(
        install(tmp_path, "https://example.com/mcp", "--target", "cursor", "--auth", "oauth"),
        "--auth is for claude-desktop (its local proxy authorizes): cursor clients authorize",
    )
    assert_one_error(
        install(tmp_path, str(EXAMPLE), "--target", "claude-desktop", "--auth", "oauth"),
        "--auth is for servers reached over HTTP",
    )
    # a command after -- is written as it is
    command = install(tmp_path, "--target", "mcp-json", "--", "npx", "-y", "some-server")
    assert json.loads(command.stdout)["mcpServers"]["npx"] == {
        "command": "npx",
        "args": ["-y", "some-server"],
    }


def test_install_mistakes(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("")
    assert_one_error(
        install(tmp_path, str(tmp_path / "empty.py"), "--target", "cursor"), "no Server object"
    )
    assert_one_error(
        install(tmp_path, str(EXAMPLE), "--target", "cursor", "--python", "/no/python"),
        "no Python interpreter '/no/python' found",
    )
    assert_one_error(
        install(tmp_path, str(EXAMPLE), "--target", "cursor", "--env", "NOEQUALS"),
        "bad --env 'NOEQUALS': expected KEY=VALUE",
    )
    assert_one_error(
        install(tmp_path, str(EXAMPLE), "--target", "claude-desktop", "--project", "x"),
        "--project is for --target cursor or claude-code",
    )


# -- dev ----------------------------------------------------------------------------------------


def test_dev_without_node_is_one_line(tmp_path: Path) -> None:
    done = fastmcp("dev", str(EXAMPLE), env={"PATH": str(tmp_path)})
    assert_one_error(done, "fastmcp dev needs Node.js: npx was not found on PATH")


def _fake_node(folder: Path, version: str) -> None:
    node = folder / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)


def test_dev_with_a_node_too_old_for_the_inspector_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "npx").write_text("#!/bin/sh\nexit 3\n")
    (tmp_path / "npx").chmod(0o755)
    _fake_node(tmp_path, "v22.18.0")
    done = fastmcp("dev", str(EXAMPLE), env={"PATH": f"{tmp_path}:{os.environ['PATH']}"})
    assert_one_error(
        done,
        "fastmcp dev needs Node.js 22.19 or later for @modelcontextprotocol/inspector@2.12.0 "
        "(node --version: v22.18.0)",
    )


def test_dev_stops_the_inspector_when_terminated(tmp_path: Path) -> None:
    # an npx that runs until it is terminated, and says so
    started, stopped = tmp_path / "started", tmp_path / "stopped"
    npx = tmp_path / "npx"
    npx.write_text(
        f"#!{sys.executable}\nimport pathlib, signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *_: (pathlib.Path({str(stopped)!r}).touch(), "
        "sys.exit(0)))\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "time.sleep(60)\n"
    )
    npx.chmod(0o755)
    _fake_node(tmp_path, "v24.0.0")
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    dev = subprocess.Popen(
        [sys.executable, "-m", "fastmcp", "dev", str(EXAMPLE)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline, "the stand-in Inspector did not start"
            time.sleep(0.05)
        dev.terminate()
        assert dev.wait(timeout=30) == 0  # the Inspector's own exit status
        assert stopped.exists()
    finally:
        dev.kill()
        dev.wait()


def test_dev_starts_the_pinned_inspector_on_fastmcp_run(tmp_path: Path) -> None:
    # an npx that records what it was asked to run (tests-integration/test_cli_dev.py
    # runs the real Inspector)
    record = tmp_path / "argv.json"
    npx = tmp_path / "npx"
    npx.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    npx.chmod(0o755)
    _fake_node(tmp_path, "v24.0.0")
    done = fastmcp(
        "dev", str(EXAMPLE), "-e", "TOKEN=x", env={"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    )
    assert done.returncode == 0, done.stderr
    argv = json.loads(record.read_text())
    split = argv.index("--")
    assert argv[:split] == [
        "-y",
        "@modelcontextprotocol/inspector@2.12.0",
        "--protocol-era",
        "auto",
        "-e",
        "TOKEN=x",
    ]
    server_command = argv[split + 1 :]
    assert server_command == [sys.executable, "-m", "fastmcp", "run", str(EXAMPLE)]
    # the command the Inspector would start is a working stdio server
    assert fastmcp("call", "add", "a=1", "b=1", "--", *server_command).stdout == "2\n"


def test_run_http_with_static_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_SERVER_AUTH", "static")
    monkeypatch.setenv(
        "FASTMCP_SERVER_AUTH_TOKENS", '{"dev-token": {"client_id": "me", "scopes": ["mcp"]}}'
    )
    with serving_http(str(EXAMPLE)) as url:
        refused = fastmcp("call", url, "add", "a=1", "b=1")
        assert refused.returncode != 0
        assert "401" in refused.stderr
        wrong = fastmcp("call", url, "add", "a=1", "b=1", "-H", "Authorization: Bearer guess")
        assert wrong.returncode != 0
        good = fastmcp("call", url, "add", "a=1", "b=1", "-H", "Authorization: Bearer dev-token")
        assert good.stdout == "2\n", good.stderr


def test_server_auth_mistakes_are_one_line() -> None:
    example = str(EXAMPLE)
    done = fastmcp("run", example, "--server-auth", "static")
    assert_one_error(done, "--server-auth is an option of -t http")
    done = fastmcp("run", example, "-t", "http", "--port", "0", "--server-auth", "facebook")
    assert_one_error(done, "use one of static, github, google, oidc")
    done = fastmcp("run", example, "-t", "http", "--port", "0", "--server-auth", "github")
    assert_one_error(done, "FASTMCP_SERVER_AUTH_CLIENT_ID")
