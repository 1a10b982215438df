"""stdio for real: child processes that serve, crash, hang and print garbage."""

from __future__ import annotations

import fcntl
import os
import random
import select
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from transport_support import send_until_refused

from fastmcp_core import ConnectionClosed, Session, TransportClosed
from fastmcp_protocol import CallToolResult, JSONRPCNotification, JSONRPCRequest, TextContent
from fastmcp_transport import DescriptorFlags, LineSplitter, stdio_client

CHILD = [sys.executable, str(Path(__file__).with_name("stdio_child.py"))]


class NoRequests:
    async def route(self, ctx: Any, request: JSONRPCRequest) -> Any:
        raise AssertionError("the server sent a request")

    async def notification(self, note: JSONRPCNotification) -> None:
        pass


def call(name: str, **arguments: Any) -> bytes:
    return msgspec.json.encode(
        {
            "jsonrpc": "2.0",
            "id": name,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
    )


async def test_serve_and_call_over_a_real_child_process() -> None:
    async with stdio_client(CHILD) as transport, trio.open_nursery() as nursery:
        client = Session(transport, NoRequests(), drain_on_eof=None)
        await nursery.start(client.run)
        result = await client.request(
            "tools/call", {"name": "echo", "arguments": {"text": "héllo ✓"}}, CallToolResult
        )
        assert result.content == [TextContent(text="héllo ✓")]
        # 200 concurrent calls over one pipe
        results: list[str] = []

        async def one(i: int) -> None:
            r = await client.request(
                "tools/call", {"name": "echo", "arguments": {"text": str(i)}}, CallToolResult
            )
            results.append(r.content[0].text)  # type: ignore[union-attr]

        async with trio.open_nursery() as calls:
            for i in range(200):
                calls.start_soon(one, i)
        assert sorted(results, key=int) == [str(i) for i in range(200)]
        await client.aclose()


async def test_stray_prints_in_the_server_go_to_stderr_not_stdout() -> None:
    seen: list[str] = []
    async with stdio_client(CHILD, stderr=seen.append) as transport:
        await transport.send(call("shout", text="ok"))
        reply = msgspec.json.decode(await transport.receive())
        assert reply["result"]["content"] == [{"type": "text", "text": "ok"}]
    assert "this is not JSON-RPC" in seen
    assert "from a child process" in seen


async def test_bad_lines_get_parse_errors_and_serving_goes_on() -> None:
    async with stdio_client(CHILD, env={"MAX_LINE": "1000"}) as transport:
        await transport.send(b"{oops")
        await transport.send(b"\xff\xfe not utf-8")
        await transport.send(
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'
            + b"z" * 5000
            + b'"}}}'
        )
        await transport.send(call("echo", text="still here"))
        replies = [msgspec.json.decode(await transport.receive()) for _ in range(4)]
        assert [r["id"] for r in replies[:3]] == [None, None, None]
        assert [r["error"]["code"] for r in replies[:3]] == [-32700, -32700, -32600]
        assert "1000 byte limit" in replies[2]["error"]["message"]
        assert replies[3]["result"]["content"][0]["text"] == "still here"


async def test_end_of_input_finishes_in_flight_work_then_exits_zero() -> None:
    seen: list[str] = []
    async with stdio_client(CHILD, stderr=seen.append) as transport:
        await transport.send(call("sleep", seconds=0.3))
        await transport.process.stdin.aclose()  # type: ignore[union-attr]
        reply = msgspec.json.decode(await transport.receive())
        assert reply["result"]["content"] == [{"type": "text", "text": "slept"}]
        with pytest.raises(TransportClosed, match="exited with code 0"):
            await transport.receive()
    assert transport.process.returncode == 0
    assert "server: clean exit" in seen


async def test_a_crash_fails_every_pending_request_at_once_with_code_and_stderr() -> None:
    async with stdio_client(CHILD) as transport, trio.open_nursery() as nursery:
        client = Session(transport, NoRequests(), drain_on_eof=None)
        await nursery.start(client.run)
        errors: list[BaseException] = []

        async def waiting() -> None:
            try:
                await client.request(
                    "tools/call", {"name": "sleep", "arguments": {"seconds": 60}}, CallToolResult
                )
            except ConnectionClosed as exc:
                errors.append(exc)

        for _ in range(3):
            nursery.start_soon(waiting)
        await trio.sleep(0.2)
        with trio.fail_after(10):  # never a hang
            with pytest.raises(ConnectionClosed) as info:
                await client.request("tools/call", {"name": "crash"}, CallToolResult)
        message = str(info.value)
        assert "exited with code 3" in message
        assert "fatal: the tool crashed" in message
        await trio.sleep(0.1)
        assert len(errors) == 3
        assert all("exited with code 3" in str(e) for e in errors)


async def test_a_command_that_dies_at_start_is_reported() -> None:
    script = "import sys; sys.stderr.write('cannot start: bad config\\n'); sys.exit(2)"
    async with stdio_client([sys.executable, "-c", script]) as transport:
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
    assert "exited with code 2" in str(info.value)
    assert "cannot start: bad config" in str(info.value)


async def test_a_missing_command_raises_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        async with stdio_client(["/nonexistent/mcp-server"]):
            pass


async def test_garbage_on_the_child_stdout_is_skipped_by_the_client() -> None:
    script = (
        "import sys\n"
        "print('Starting server v1.0...')\n"
        'print(\'{"jsonrpc":"2.0","id":1,"result":{}}\')\n'
        "sys.stdout.flush()\n"
    )
    async with stdio_client([sys.executable, "-c", script]) as transport:
        assert await transport.receive() == b"Starting server v1.0..."
        assert await transport.receive() == b'{"jsonrpc":"2.0","id":1,"result":{}}'


async def test_a_hanging_child_is_terminated_on_close() -> None:
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(1)"
    hung = [sys.executable, "-c", script]
    async with stdio_client(hung, shutdown_timeout=0.2, terminate_timeout=0.2) as transport:
        pid = transport.process.pid
    # stdin closed, SIGTERM ignored, then SIGKILL
    assert transport.process.returncode == -9
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_closing_waits_then_sigterm_then_sigkill_for_the_whole_group() -> None:
    # The child ignores the end of its input and SIGTERM, and has a child of its own.
    script = (
        "import signal, subprocess, sys, time\n"
        "def say(what): print(what, file=sys.stderr, flush=True)\n"
        "signal.signal(signal.SIGTERM, lambda *_: say('SIGTERM'))\n"
        "sleeper = subprocess.Popen(['sleep', '600'])\n"
        "print(sleeper.pid, flush=True)\n"
        "sys.stdin.read()\n"
        "say('EOF')\n"
        "while True: time.sleep(1)\n"
    )
    said: list[str] = []
    command = [sys.executable, "-c", script]
    async with stdio_client(
        command, stderr=said.append, shutdown_timeout=0.5, terminate_timeout=0.7
    ) as transport:
        grandchild = int(await transport.receive())
        pid = transport.process.pid
        assert os.getpgid(pid) == pid != os.getpgid(0)  # a process group of its own
        t0 = trio.current_time()
    # stdin closed, 0.5 s, SIGTERM (handled), 0.7 s, SIGKILL to the group
    assert trio.current_time() - t0 >= 1.2
    assert transport.process.returncode == -9
    assert said == ["EOF", "SIGTERM"]
    with trio.fail_after(10):
        while _running(grandchild):  # noqa: ASYNC110 - the sleeper dies with its group
            await trio.sleep(0.05)


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no init has reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


async def test_a_child_that_stops_reading_its_stdin() -> None:
    script = "import os, time\nos.close(0)\ntime.sleep(30)"
    hung = [sys.executable, "-c", script]
    async with stdio_client(hung, shutdown_timeout=0.5, terminate_timeout=0.5) as transport:
        with pytest.raises(TransportClosed, match="stopped reading its stdin"):
            await send_until_refused(transport)


def _read_line_from(fd: int, limit: float = 30) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no line came: {data!r}"
        data += os.read(fd, 4096)
    return data


def test_a_terminal_shared_by_stdin_and_stdout_is_left_blocking() -> None:
    # In a terminal, stdin and stdout are one open file: the FdStream on stdout used to
    # record "non-blocking" (set by the one on stdin) and restore that last.
    primary, secondary = os.openpty()
    attrs = termios.tcgetattr(secondary)
    attrs[3] &= ~termios.ECHO  # what we type is not echoed back as server output
    termios.tcsetattr(secondary, termios.TCSANOW, attrs)
    try:
        assert os.get_blocking(secondary)  # blocking before
        with subprocess.Popen(
            CHILD, stdin=secondary, stdout=secondary, stderr=subprocess.PIPE
        ) as process:
            os.write(primary, call("echo", text="tty") + b"\n")
            reply = msgspec.json.decode(_read_line_from(primary).strip())
            assert reply["result"]["content"] == [{"type": "text", "text": "tty"}]
            # the server is serving: its streams made the terminal non-blocking meanwhile
            assert not os.get_blocking(secondary)
            os.write(primary, b"\x04")  # Ctrl-D: end of input
            assert process.wait(timeout=30) == 0
            assert process.stderr is not None
            assert process.stderr.read() == b"server: clean exit\n"
        assert os.get_blocking(secondary)
        assert fcntl.fcntl(secondary, fcntl.F_GETFL) & os.O_NONBLOCK == 0
    finally:
        os.close(primary)
        os.close(secondary)


def test_descriptor_flags_put_back_what_they_saved_and_skip_closed_ones() -> None:
    read, write = os.pipe()
    try:
        saved = DescriptorFlags.save(read, write, 987654)
        assert [fd for fd, _ in saved.flags] == [read, write]
        os.set_blocking(read, False)
        fcntl.fcntl(write, fcntl.F_SETFL, fcntl.fcntl(write, fcntl.F_GETFL) | os.O_APPEND)
        saved.restore()
        assert os.get_blocking(read)
        assert fcntl.fcntl(write, fcntl.F_GETFL) & os.O_APPEND == 0
        os.close(read)
        saved.restore()  # a descriptor closed since is skipped
    finally:
        os.close(write)


def test_line_splitter_handles_crlf_blank_lines_and_partial_chunks() -> None:
    split = LineSplitter(max_line=10)
    split.feed(b'{"a":1}\r\n\n  \n{"b"')
    split.feed(b":2}\n")
    assert list(split.lines) == [b'{"a":1}', b'{"b":2}']
    split.lines.clear()
    split.feed(b"x" * 25)  # over the limit, no newline yet
    split.feed(b"yyy\n{}\n")
    assert list(split.lines) == [b"{}"]
    assert split.take_dropped() == 1
    split.feed(b"0123456789ab\n")
    assert split.take_dropped() == 1


def test_one_line_at_a_time_comes_straight_back_and_anything_else_goes_through_feed() -> None:
    split = LineSplitter(max_line=10)
    assert split.feed_one(b'{"a":1}\n') == b'{"a":1}'
    assert split.feed_one(b'{"a":1}\r\n') == b'{"a":1}'
    assert split.feed_one(b"  \n") is None  # blank: skipped, as by ``feed``
    assert split.feed_one(b'{"b"') is None  # half a line: kept
    assert split.feed_one(b':2}\n{"c":3}\n') == b'{"b":2}'
    assert list(split.lines) == [b'{"c":3}']
    assert split.feed_one(b'{"d":4}\n') == b'{"c":3}'  # in order behind what waits
    assert list(split.lines) == [b'{"d":4}']
    split.lines.clear()
    assert split.feed_one(b"0123456789ab\n") is None  # over the limit: dropped
    assert split.take_dropped() == 1


@pytest.mark.parametrize("mark_drops", [False, True])
def test_taking_one_line_at_a_time_gives_what_feed_gives_for_any_chunks(mark_drops: bool) -> None:
    """The client's reading caller (``take_frame``: ``feed_one`` while no line waits,
    else the next line waiting) against ``feed``, over random chunks of lines, CRLF,
    blank and oversized lines cut anywhere."""
    rng = random.Random(14)
    pieces = [b"a", b"\n", b"\r", b" ", b"\r\n", b"xyz", b"\t"]
    for _ in range(3000):
        max_line = rng.choice([1, 2, 3, 5, 8, 16])
        fed = LineSplitter(max_line, mark_drops=mark_drops)
        taken = LineSplitter(max_line, mark_drops=mark_drops)
        by_feed: list[bytes] = []
        one_at_a_time: list[bytes] = []
        for _ in range(rng.randint(1, 8)):
            chunk = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
            fed.feed(chunk)
            by_feed += fed.lines
            fed.lines.clear()
            if taken.lines:
                one_at_a_time.append(taken.lines.popleft())
                taken.feed(chunk)
            else:
                line = taken.feed_one(chunk)
                if line is not None:
                    one_at_a_time.append(line)
            one_at_a_time += taken.lines
            taken.lines.clear()
        assert one_at_a_time == by_feed
        assert (taken.dropped, taken.pending) == (fed.dropped, fed.pending)


async def test_requests_read_at_once_are_answered_in_one_write_and_a_waiting_one_later() -> None:
    """The server side over a packet socket (one write, one packet): the answers of
    requests read together go out in one write; the answer of one that waits comes
    in a write of its own when it is ready, not held back for more input."""
    import socket

    from fastmcp_transport import StdioServerTransport

    release = trio.Event()

    class Tools:
        async def route(self, ctx: Any, request: JSONRPCRequest) -> Any:
            params = msgspec.json.decode(request.params)

            async def run() -> CallToolResult:
                if params["name"] == "wait":
                    await release.wait()
                return CallToolResult(content=[TextContent(text=params["name"])])

            return run

        async def notification(self, note: JSONRPCNotification) -> None:
            pass

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    transport = StdioServerTransport(
        trio.lowlevel.FdStream(os.dup(ours.fileno())), trio.lowlevel.FdStream(ours.detach())
    )
    peer = trio.socket.from_stdlib_socket(theirs)

    def ids(packet: bytes) -> list[Any]:
        return [msgspec.json.decode(line)["id"] for line in packet.splitlines()]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(Session(transport, Tools()).run)
        await peer.send(b"".join(call(name) + b"\n" for name in ("a", "wait", "b", "c")))
        assert ids(await peer.recv(65536)) == ["a", "b", "c"]  # one write
        release.set()
        assert ids(await peer.recv(65536)) == ["wait"]
        await peer.send(call("d") + b"\n")
        assert ids(await peer.recv(65536)) == ["d"]
        peer.close()
