"""Stopping a server process, for real: ``run_stdio()``, ``run_http()``,
``run("http")`` and ``fastmcp run`` (stdio and HTTP) as child processes, stopped by
the end of their input, SIGTERM, SIGINT and a second signal; in a pty for what a
terminal sees (the hint and address lines, the terminal's flags afterwards).

The tests synchronise on what the child says (lines on stderr, progress of a call,
marker files), never on sleeps; the time limits are only guards against hangs.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import servers
import trio

import fastmcp
from fastmcp import Client, McpError
from fastmcp_protocol import ProgressNotificationParams
from fastmcp_transport import stdio_client

HERE = Path(__file__).parent
SERVER = str(HERE / "lifecycle_server.py")
EXAMPLES = HERE.parent / "examples"
PYTHON = sys.executable
FASTMCP = [PYTHON, "-m", "fastmcp"]
GUARD = 60  # seconds: only against hangs
ERAS = ["2026-07-28", "2025-11-25"]
SHUTDOWN_ERROR = (-32603, "Server is shutting down")


def stopping(name: str, grace: str) -> str:
    return (
        f"fastmcp: {name} received, stopping: requests in flight have {grace} s to finish "
        "(Ctrl-C again to stop now)"
    )


@attrs.define(eq=False)
class Lines:
    """Lines a child writes (on stderr), and a way to wait for one."""

    seen: list[str] = attrs.field(factory=list)
    _changed: trio.Event = attrs.field(factory=trio.Event)

    def add(self, line: str) -> None:
        self.seen.append(line)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, text: str) -> str:
        with trio.fail_after(GUARD):
            while True:
                for line in self.seen:
                    if text in line:
                        return line
                await self._changed.wait()


@attrs.define(eq=False)
class Call:
    """A tool call in flight: ``started`` once its progress came; then its outcome."""

    started: trio.Event = attrs.field(factory=trio.Event)
    outcome: Any = None

    async def on_progress(self, params: ProgressNotificationParams) -> None:
        self.started.set()

    async def run(self, client: Client, tool: str, **arguments: Any) -> None:
        try:
            result = await client.call_tool(tool, arguments, on_progress=self.on_progress)
        except McpError as error:
            self.outcome = (error.code, error.message)
        else:
            self.outcome = result.content


async def calling(nursery: trio.Nursery, client: Client, tool: str, **arguments: Any) -> Call:
    call = Call()
    nursery.start_soon(partial(call.run, client, tool, **arguments))
    with trio.fail_after(GUARD):
        await call.started.wait()
    return call


# -- stdio: our client over pipes --------------------------------------------------------


@asynccontextmanager
async def stdio_child(argv: list[str], lines: Lines, grace: str = "1") -> AsyncIterator[Any]:
    async with stdio_client(
        argv, env={"GRACE": grace}, stderr=lines.add, shutdown_timeout=GUARD
    ) as transport:
        yield transport


def stdio_argv(how: str) -> list[str]:
    if how == "run_stdio":
        return [PYTHON, SERVER, "stdio"]
    return [*FASTMCP, "run", SERVER, "--shutdown-grace", "1"]


@pytest.mark.parametrize("how", ["run_stdio", "fastmcp run"])
async def test_stdio_ends_quietly_with_its_input(how: str) -> None:
    lines = Lines()
    async with stdio_child(stdio_argv(how), lines) as transport:
        async with Client(transport) as client:
            assert await client.call_tool("add", {"a": 1, "b": 2}, result_type=int) == 3
        with trio.fail_after(GUARD):
            await transport.process.wait()
    assert transport.process.returncode == 0
    assert lines.seen == []  # not a word: the client ended the conversation


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize(
    ("how", "signum"),
    [
        ("run_stdio", signal.SIGTERM),
        ("run_stdio", signal.SIGINT),
        ("fastmcp run", signal.SIGTERM),
    ],
)
async def test_stdio_signal_answers_the_call_in_flight_and_exits_zero(
    how: str, signum: signal.Signals, version: str
) -> None:
    lines = Lines()
    async with stdio_child(stdio_argv(how), lines) as transport:
        async with (
            Client(transport, protocol_version=version) as client,
            trio.open_nursery() as nursery,
        ):
            hang = await calling(nursery, client, "hang")
            done = await client.call_tool("add", {"a": 2, "b": 2}, result_type=int)
            transport.process.send_signal(signum)
            await lines.wait_for("stopping")
        with trio.fail_after(GUARD):
            await transport.process.wait()
    assert done == 4
    assert hang.outcome == SHUTDOWN_ERROR  # the answer reached us before the exit
    assert transport.process.returncode == 0
    assert lines.seen == [stopping(signum.name, "1")]


async def test_stdio_a_masked_section_completes_after_the_signal(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    lines = Lines()
    async with stdio_child([PYTHON, SERVER, "stdio"], lines, grace="0.2") as transport:
        async with Client(transport) as client, trio.open_nursery() as nursery:
            guarded = await calling(nursery, client, "guarded", marker=str(marker))
            transport.process.send_signal(signal.SIGTERM)
        with trio.fail_after(GUARD):
            await transport.process.wait()
    assert marker.read_text() == "written after the cancellation (shutdown)"
    assert guarded.outcome == SHUTDOWN_ERROR
    assert transport.process.returncode == 0
    assert lines.seen == [stopping("SIGTERM", "0.2")]


@pytest.mark.parametrize("how", ["run_stdio", "fastmcp run"])
async def test_stdio_a_second_signal_stops_at_once_with_130(how: str) -> None:
    lines = Lines()
    argv = stdio_argv(how)
    async with (
        stdio_child(argv, lines, grace="3600") as transport,
        Client(transport) as client,
        trio.open_nursery() as nursery,
    ):
        hang = await calling(nursery, client, "hang")
        transport.process.send_signal(signal.SIGINT)
        await lines.wait_for("stopping")
        transport.process.send_signal(signal.SIGINT)
        with trio.fail_after(GUARD):
            await transport.process.wait()
    assert transport.process.returncode == 130
    assert hang.outcome is not None  # the connection went away with the process
    assert hang.outcome != SHUTDOWN_ERROR  # cut short
    if how == "run_stdio":
        assert lines.seen[0] == stopping("SIGINT", "3600")
    assert lines.seen[-1] == "fastmcp: SIGINT again, stopping now"
    assert not any("Traceback" in line for line in lines.seen)


async def test_closing_a_busy_child_gives_it_its_whole_grace_before_sigkill() -> None:
    # stdin closes with a call in flight: the server drains (4 s); the client's SIGTERM
    # after 0.5 s is its first signal, which does not shorten that; no SIGKILL comes
    lines = Lines()
    argv = [PYTHON, SERVER, "stdio"]
    async with (
        stdio_client(argv, env={"GRACE": "4"}, stderr=lines.add, shutdown_timeout=0.5) as transport,
        Client(transport) as client,
        trio.open_nursery() as nursery,
    ):
        await calling(nursery, client, "hang")
        closing = trio.current_time()
        await transport.aclose()  # what leaving does, without cancelling the call
        nursery.cancel_scope.cancel()
    assert trio.current_time() - closing >= 4
    assert transport.process.returncode == 0
    assert lines.seen == [stopping("SIGTERM", "4")]


async def test_stdio_with_every_default_an_endless_handler_ends_with_the_grace() -> None:
    # no request_timeout, no shutdown_grace: once stdin closes, an endless handler gets
    # DEFAULT_SHUTDOWN_GRACE, is answered with the shutdown error and the process exits
    # (the child runs on a mock clock: the grace takes no real time)
    conversation = b"".join(
        json.dumps(message).encode() + b"\n"
        for message in (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "hang"}},
        )
    )
    with trio.fail_after(GUARD):
        done = await trio.run_process(
            [PYTHON, SERVER, "stdio-mock-clock"],
            stdin=conversation,
            capture_stdout=True,
            capture_stderr=True,
        )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[1]["error"] == {"code": -32603, "message": "Server is shutting down"}
    grace = fastmcp.Server.DEFAULT_SHUTDOWN_GRACE
    assert done.stderr.decode().splitlines() == [f"stopped at {grace:g} s"]


async def test_a_signal_ignored_from_the_start_stays_ignored() -> None:
    # as a shell's background job: SIGINT ignored; SIGTERM still stops it
    lines = Lines()
    script = (
        "import runpy, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"sys.argv = [{SERVER!r}, 'stdio']\n"
        f"runpy.run_path({SERVER!r}, run_name='__main__')\n"
    )
    async with (
        stdio_child([PYTHON, "-c", script], lines) as transport,
        Client(transport) as client,
    ):
        assert await client.call_tool("add", {"a": 1, "b": 1}, result_type=int) == 2
        transport.process.send_signal(signal.SIGINT)
        transport.process.send_signal(signal.SIGTERM)
        with trio.fail_after(GUARD):
            await transport.process.wait()
    assert transport.process.returncode == 0  # SIGTERM was the first signal it took
    assert lines.seen == [stopping("SIGTERM", "1")]


# -- HTTP: a child on a free port --------------------------------------------------------


@attrs.define(eq=False)
class HttpChild:
    process: trio.Process
    url: str
    lines: Lines


@asynccontextmanager
async def http_child(argv: list[str], ready: str, grace: str = "1") -> AsyncIterator[HttpChild]:
    """Start ``argv``; yield once a line holding ``ready`` names the URL."""
    lines = Lines()
    process = await trio.lowlevel.open_process(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "GRACE": grace},
    )

    async def pump() -> None:
        assert process.stderr is not None
        pending = b""
        while chunk := await process.stderr.receive_some(65536):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                lines.add(line.decode())

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            line = await lines.wait_for(ready)
            url = next(word for word in line.split() if word.startswith("http://"))
            yield HttpChild(process, url, lines)
            with trio.fail_after(GUARD):
                await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()


def http_argv(how: str) -> tuple[list[str], str]:
    """The command and the word of its ready line."""
    port = str(servers.free_port())
    if how == "run_http":
        return [PYTHON, SERVER, "http", port], "serving MCP on"
    if how == 'run("http")':
        return [PYTHON, SERVER, "run-http", port], "serving MCP on"
    command = [*FASTMCP, "run", SERVER, "-t", "http", "--port", port, "--shutdown-grace", "1"]
    return command, "serving lifecycle on"


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize(
    ("how", "signum"),
    [
        ("run_http", signal.SIGTERM),
        ("run_http", signal.SIGINT),
        ('run("http")', signal.SIGINT),
        ("fastmcp run", signal.SIGTERM),
    ],
)
async def test_http_signal_answers_the_call_in_flight_and_exits_zero(
    how: str, signum: signal.Signals, version: str
) -> None:
    argv, ready = http_argv(how)
    async with (
        http_child(argv, ready) as child,
        Client(child.url, protocol_version=version) as client,
        trio.open_nursery() as nursery,
    ):
        hang = await calling(nursery, client, "hang")
        assert await client.call_tool("add", {"a": 2, "b": 3}, result_type=int) == 5
        child.process.send_signal(signum)
    assert hang.outcome == SHUTDOWN_ERROR
    assert child.process.returncode == 0
    ready_line, *rest = child.lines.seen
    assert child.url in ready_line
    assert rest == [stopping(signum.name, "1")]


async def test_http_a_masked_section_completes_after_the_signal(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    argv, ready = http_argv("run_http")
    async with (
        http_child(argv, ready, grace="0.2") as child,
        Client(child.url) as client,
        trio.open_nursery() as nursery,
    ):
        guarded = await calling(nursery, client, "guarded", marker=str(marker))
        child.process.send_signal(signal.SIGINT)
    assert marker.read_text() == "written after the cancellation (shutdown)"
    assert guarded.outcome == SHUTDOWN_ERROR
    assert child.process.returncode == 0
    assert child.lines.seen[1:] == [stopping("SIGINT", "0.2")]


@pytest.mark.parametrize("how", ["run_http", "fastmcp run"])
async def test_http_a_second_signal_stops_at_once_with_130(how: str) -> None:
    argv, ready = http_argv(how)
    async with (
        http_child(argv, ready, grace="3600") as child,
        Client(child.url) as client,
        trio.open_nursery() as nursery,
    ):
        await calling(nursery, client, "hang")
        child.process.send_signal(signal.SIGINT)
        await child.lines.wait_for("stopping")
        child.process.send_signal(signal.SIGINT)
        with trio.fail_after(GUARD):
            await child.process.wait()
        nursery.cancel_scope.cancel()  # the call's connection is gone
    assert child.process.returncode == 130
    assert child.lines.seen[-1] == "fastmcp: SIGINT again, stopping now"
    assert not any("Traceback" in line for line in child.lines.seen)


# httpx leaves a request body's async generator unfinished when the server closes the
# connection while the request is being sent (likely under load); trio reports it when
# the garbage collector finds it
@pytest.mark.filterwarnings(
    "ignore:Async generator 'httpx._content.ByteStream.__aiter__' was garbage collected"
    ":ResourceWarning"
)
async def test_http_ctrl_c_under_load_stops_the_server() -> None:
    argv, ready = http_argv("run_http")
    answered = 0
    refused: list[str] = []
    enough = trio.Event()

    async def keep_calling(client: Client) -> None:
        nonlocal answered
        try:
            while True:
                assert await client.call_tool("add", {"a": 1, "b": 1}, result_type=int) == 2
                answered += 1
                if answered == 200:
                    enough.set()
        except McpError as error:  # refused, or the connection is gone: the server stopped
            refused.append(type(error).__name__)

    async with (
        http_child(argv, ready) as child,
        Client(child.url) as client,
        trio.open_nursery() as nursery,
    ):
        for _ in range(8):
            nursery.start_soon(keep_calling, client)
        with trio.fail_after(GUARD):
            await enough.wait()
        child.process.send_signal(signal.SIGINT)
        with trio.fail_after(GUARD):
            await child.process.wait()
    assert child.process.returncode == 0
    assert len(refused) == 8  # every caller was told, none hangs
    assert child.lines.seen[1:] == [stopping("SIGINT", "1")]


async def test_the_http_example_says_where_it_listens() -> None:
    port = servers.free_port()
    argv = [PYTHON, str(EXAMPLES / "http_server.py"), str(port)]
    async with http_child(argv, "serving MCP on") as child:
        assert child.url == f"http://127.0.0.1:{port}/mcp"
        assert child.lines.seen == [
            f"fastmcp: http-example serving MCP on {child.url} (Ctrl-C to stop)"
        ]
        async with Client(child.url) as client:
            assert await client.call_tool("add", {"a": 1, "b": 2}, result_type=int) == 3
        child.process.send_signal(signal.SIGTERM)
    assert child.process.returncode == 0


# -- in a terminal: a pty ---------------------------------------------------------------


@attrs.define(eq=False)
class Terminal:
    """A child whose stdin, stdout and stderr are one pty, as in a shell."""

    process: subprocess.Popen[bytes]
    primary: int
    secondary: int
    output: bytes = b""

    def read_until(self, text: str) -> str:
        deadline = time.monotonic() + GUARD
        while text.encode() not in self.output:
            ready, _, _ = select.select([self.primary], [], [], deadline - time.monotonic())
            assert ready, f"{text!r} never came; the terminal shows:\n{self.text}"
            try:
                self.output += os.read(self.primary, 65536)
            except OSError:  # the child is gone and nothing is left to read
                break
        return self.text

    def type(self, data: bytes) -> None:
        os.write(self.primary, data)

    def exit_status(self) -> int:
        status = self.process.wait(timeout=GUARD)
        while select.select([self.primary], [], [], 0)[0]:
            try:
                chunk = os.read(self.primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        return status

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace").replace("\r\n", "\n")

    def blocking(self) -> bool:
        """Whether the terminal is in blocking mode, as a shell expects it."""
        return fcntl.fcntl(self.secondary, fcntl.F_GETFL) & os.O_NONBLOCK == 0


@contextmanager
def terminal(argv: list[str], grace: str = "1") -> Iterator[Terminal]:
    primary, secondary = os.openpty()
    attributes = termios.tcgetattr(secondary)
    attributes[3] &= ~termios.ECHO  # what we type is not shown back
    termios.tcsetattr(secondary, termios.TCSANOW, attributes)
    process = subprocess.Popen(
        argv,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "GRACE": grace, "NO_COLOR": "1"},
    )
    try:
        assert os.get_blocking(secondary)
        yield Terminal(process, primary, secondary)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(primary)
        os.close(secondary)


HINT = (
    "fastmcp: lifecycle is an MCP server on stdio, waiting for a client on stdin "
    "(try: fastmcp dev {spec}, or fastmcp call {spec} TOOL key=value); Ctrl-C stops it"
)
HANG_CALL = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "hang",
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "progressToken": 1,
            },
        },
    }
)


@pytest.mark.parametrize("how", ["run_stdio", "fastmcp run"])
@pytest.mark.parametrize("stop", ["Ctrl-D", "SIGINT", "SIGTERM"])
def test_in_a_terminal_stdio_says_what_it_is_and_leaves_the_terminal_as_it_was(
    how: str, stop: str
) -> None:
    argv = [PYTHON, SERVER, "stdio"] if how == "run_stdio" else [*FASTMCP, "run", SERVER]
    spec = SERVER
    with terminal(argv) as tty:
        tty.read_until("Ctrl-C stops it")
        assert not tty.blocking()  # the server's streams are non-blocking meanwhile
        if stop == "Ctrl-D":
            tty.type(b"\x04")
        else:
            tty.process.send_signal(getattr(signal, stop))
        assert tty.exit_status() == 0
        assert tty.blocking()
        shown = tty.text.splitlines()
    hint = HINT.format(spec=spec)
    if how == "fastmcp run":
        assert shown[:4] == [
            f"╭─ fastmcp {fastmcp.__version__} · lifecycle 1.0",
            "│ serving  stdio",
            "│ offers   3 tools, 0 resources, 0 resource templates, 0 prompts",
            "╰─ Ctrl-C to stop",
        ]
        shown = shown[4:]
    grace = "1" if how == "run_stdio" else "10"  # GRACE=1, or fastmcp run's default
    expected = [hint] if stop == "Ctrl-D" else [hint, stopping(stop, grace)]
    assert shown == expected


@pytest.mark.parametrize("how", ["run_stdio", "fastmcp run"])
def test_in_a_terminal_a_second_ctrl_c_restores_the_terminal_and_exits_130(how: str) -> None:
    argv = [PYTHON, SERVER, "stdio"] if how == "run_stdio" else [*FASTMCP, "run", SERVER]
    with terminal(argv, grace="3600") as tty:
        tty.read_until("Ctrl-C stops it")
        tty.type(HANG_CALL.encode() + b"\n")
        tty.read_until('"notifications/progress"')  # the call is in flight
        tty.process.send_signal(signal.SIGINT)
        tty.read_until("stopping")
        assert not tty.blocking()
        tty.process.send_signal(signal.SIGINT)
        assert tty.exit_status() == 130
        assert tty.blocking()  # put back before the forced exit
        assert tty.text.splitlines()[-2:] == [
            stopping("SIGINT", "3600" if how == "run_stdio" else "10"),
            "fastmcp: SIGINT again, stopping now",
        ]
        assert "Traceback" not in tty.text


def test_the_quick_start_in_a_terminal_says_what_it_is_and_stops_on_ctrl_c() -> None:
    script = EXAMPLES / "quickstart.py"
    with terminal([PYTHON, str(script)]) as tty:
        tty.read_until("Ctrl-C stops it")
        tty.process.send_signal(signal.SIGINT)
        assert tty.exit_status() == 0
        assert tty.blocking()
        assert tty.text.splitlines() == [
            "fastmcp: example-server is an MCP server on stdio, waiting for a client on "
            f"stdin (try: fastmcp dev {script}, or fastmcp call {script} TOOL key=value); "
            "Ctrl-C stops it",
            stopping("SIGINT", "10"),
        ]


def test_in_a_terminal_run_http_says_where_it_listens() -> None:
    port = servers.free_port()
    with terminal([PYTHON, SERVER, "http", str(port)]) as tty:
        tty.read_until("(Ctrl-C to stop)")
        tty.process.send_signal(signal.SIGINT)
        assert tty.exit_status() == 0
        assert tty.blocking()
        assert tty.text.splitlines() == [
            f"fastmcp: lifecycle serving MCP on http://127.0.0.1:{port}/mcp (Ctrl-C to stop)",
            stopping("SIGINT", "1"),
        ]


# -- a Ctrl-C before the server is ready -------------------------------------------------

SLOW_IMPORT = """
import sys, time
from fastmcp import Server

server = Server("slow")
print("importing", file=sys.stderr, flush=True)
time.sleep(600)  # a heavy import, say
"""


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_fastmcp_run_interrupted_while_importing_is_one_line_and_130(
    tmp_path: Path, transport: str
) -> None:
    (tmp_path / "slow.py").write_text(SLOW_IMPORT)
    with subprocess.Popen(
        [*FASTMCP, "run", str(tmp_path / "slow.py"), "-t", transport, "--port", "0"]
        if transport == "http"
        else [*FASTMCP, "run", str(tmp_path / "slow.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            ready, _, _ = select.select([process.stderr], [], [], GUARD)
            assert ready
            assert process.stderr.readline() == "importing\n"
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=GUARD)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130
    assert out == ""
    assert err == "fastmcp: error: interrupted\n"
