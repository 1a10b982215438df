"""The Redis store's own command client (fastmcp_core.store._resp), against a real
redis-server: replies of every kind, scripts the server forgot, a restart, a password
and a database, a server that does not answer, a command cancelled midway."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio
from redis_server import RedisServer, redis_server

from fastmcp_core.store._resp import (
    UNREAD_LIMIT,
    ReplyError,
    RespAddress,
    RespClient,
    Script,
    _Incomplete,
    encode_command,
    parse_reply,
)


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


def client(server: RedisServer, *, timeout: float = 2.0, query: str = "") -> RespClient:
    return RespClient(RespAddress.from_url(server.url + query), timeout, name="resp-test")


@asynccontextmanager
async def scripted_redis(
    tmp_path: Path, answer: Callable[[trio.SocketStream], Awaitable[None]]
) -> AsyncIterator[RespClient]:
    """A client of a scripted peer on a unix socket: ``answer`` serves each connection."""
    path = str(tmp_path / "redis.sock")
    sock = trio.socket.socket(trio.socket.AF_UNIX)
    await sock.bind(path)
    sock.listen()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(trio.serve_listeners, answer, [trio.SocketListener(sock)]))
        commands = RespClient(RespAddress.from_url(f"unix://{path}"), 2.0)
        yield commands
        commands.close()
        nursery.cancel_scope.cancel()


def test_encoding_and_parsing() -> None:
    assert encode_command(["SET", b"k", 12, 1.5]) == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$3\r\n1.5\r\n"
    )
    reply = b"*4\r\n$3\r\nabc\r\n:-7\r\n$-1\r\n*2\r\n+OK\r\n-ERR no\r\n"
    value, end = parse_reply(reply)
    assert end == len(reply)
    assert value[:3] == [b"abc", -7, None]  # type: ignore[index]
    nested = value[3]  # type: ignore[index]
    assert nested[0] == b"OK"
    assert isinstance(nested[1], ReplyError)
    for cut in range(len(reply)):  # any prefix is incomplete, never misread
        with pytest.raises(_Incomplete):
            parse_reply(reply[:cut])
    with pytest.raises(ConnectionError, match="not RESP"):
        parse_reply(b"?what\r\n")


def test_addresses_from_urls() -> None:
    plain = RespAddress.from_url("redis://127.0.0.1:6390/3?prefix=x")
    assert (plain.host, plain.port, plain.db, plain.password, plain.tls) == (
        "127.0.0.1", 6390, 3, None, None,
    )  # fmt: skip
    login = RespAddress.from_url("rediss://me:p%40ss@cache.example?db=2")
    assert (login.username, login.password, login.db, login.port) == ("me", "p@ss", 2, 6379)
    assert login.tls is not None
    unix = RespAddress.from_url("unix://:pw@/run/redis.sock?db=1")
    assert (unix.path, unix.db, unix.password) == ("/run/redis.sock", 1, "pw")
    with pytest.raises(ValueError, match="not a Redis URL"):
        RespAddress.from_url("http://x")


async def test_commands_and_their_replies(redis: RedisServer) -> None:
    commands = client(redis)
    assert await commands.call("SET", "resp:k", b"\x00\r\nv") == b"OK"
    assert await commands.call("GET", "resp:k") == b"\x00\r\nv"
    assert await commands.call("GET", "resp:none") is None
    assert await commands.call("HMGET", "resp:none", "a", "b") == [None, None]
    assert await commands.call("INCRBY", "resp:n", 5) == 5
    with pytest.raises(ReplyError, match="WRONGTYPE"):
        await commands.call("LPUSH", "resp:k", 1)
    assert await commands.call("GET", "resp:k") == b"\x00\r\nv"  # the connection goes on
    commands.close()


async def test_a_script_the_server_forgot_is_sent_again(redis: RedisServer) -> None:
    commands = client(redis)
    script = Script("return {KEYS[1], ARGV[1], 42}")
    await commands.call("SCRIPT", "FLUSH")
    assert await commands.script(script, ["resp:s"], [b"a"]) == [b"resp:s", b"a", 42]
    assert await commands.call("SCRIPT", "EXISTS", script.sha) == [1]
    assert await commands.script(script, ["resp:s"], [b"b"]) == [b"resp:s", b"b", 42]
    with pytest.raises(ReplyError):
        await commands.script(Script("return redis.call('NOSUCHCOMMAND')"), [], [])
    commands.close()


async def test_concurrent_commands_share_a_bounded_pool(redis: RedisServer) -> None:
    commands = RespClient(RespAddress.from_url(redis.url), 2.0, max_connections=3)
    results: list[object] = []

    async def one(index: int) -> None:
        results.append(await commands.call("ECHO", str(index)))

    async with trio.open_nursery() as nursery:
        for index in range(20):
            nursery.start_soon(one, index)
    assert sorted(results) == sorted(str(index).encode() for index in range(20))  # type: ignore[arg-type]
    assert len(commands._idle) <= 3
    commands.close()


async def test_a_restart_costs_no_command_once_redis_is_back(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        commands = client(server)
        assert await commands.call("SET", "k", "v") == b"OK"
        await trio.to_thread.run_sync(server.stop, signal.SIGKILL)
        with pytest.raises(ConnectionError):
            await commands.call("GET", "k")  # refused: at once
        await trio.to_thread.run_sync(server.start)
        assert await commands.call("PING") == b"PONG"  # the dead idle connection is not used
        commands.close()


async def test_password_and_database_from_the_url(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        setup = client(server)
        await setup.call("CONFIG", "SET", "requirepass", "s3cret")
        setup.close()
        anonymous = client(server)
        with pytest.raises(ReplyError, match="NOAUTH"):
            await anonymous.call("PING")
        wrong = RespClient(RespAddress.from_url(f"redis://:nope@127.0.0.1:{server.port}/0"))
        with pytest.raises(ReplyError):
            await wrong.call("PING")
        in4 = RespClient(RespAddress.from_url(f"redis://:s3cret@127.0.0.1:{server.port}/4"))
        in0 = RespClient(RespAddress.from_url(f"redis://:s3cret@127.0.0.1:{server.port}/0"))
        assert await in4.call("SET", "k", "in 4") == b"OK"
        assert await in0.call("GET", "k") is None
        assert await in4.call("GET", "k") == b"in 4"
        for commands in (anonymous, wrong, in4, in0):
            commands.close()


async def test_a_server_that_does_not_answer_times_out_and_is_left(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def mute(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, mute, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        commands = RespClient(RespAddress.from_url(f"redis://127.0.0.1:{port}/0"), 2.0)
        started = trio.current_time()
        with pytest.raises(ConnectionError, match="did not answer within 2 s"):
            await commands.call("PING")
        assert trio.current_time() - started == pytest.approx(2.0)
        assert commands._idle == []  # its state is unknown: never used again
        nursery.cancel_scope.cancel()


async def test_a_command_cancelled_midway_leaves_no_reply_behind(redis: RedisServer) -> None:
    commands = client(redis)
    await commands.call("DEL", "resp:list")
    with trio.move_on_after(0.2):
        await commands.call("BLPOP", "resp:list", 5)  # cancelled while Redis waits
    assert commands._idle == []  # thrown away: its BLPOP's reply may still come
    assert await commands.call("ECHO", "after") == b"after"
    commands.close()


async def test_a_unix_socket_url(tmp_path: Path) -> None:
    seen: list[bytes] = []

    async def answer(stream: trio.SocketStream) -> None:
        async for data in stream:
            seen.append(data)
            await stream.send_all(b"+PONG\r\n" * data.count(b"PING"))

    async with scripted_redis(tmp_path, answer) as commands:
        assert await commands.call("PING") == b"PONG"
        assert b"".join(seen).count(b"PING") == 2  # the connection's own, then ours


async def test_connections_beyond_fd_setsize_are_reused(redis: RedisServer) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    files = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        commands = client(redis)
        assert await commands.call("PING") == b"PONG"
        (connection,) = commands._idle
        assert connection.socket.fileno() > 1024
        assert await commands.call("PING") == b"PONG"
        assert commands._idle == [connection]  # the same one: its check works there too
        commands.close()
    finally:
        for file in files:
            os.close(file)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_script_sent_unanswered_runs_and_its_errors_are_logged(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    commands = client(redis)
    incr = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    await commands.call("DEL", "resp:u", "resp:w")
    await commands.call("SCRIPT", "FLUSH")  # the first one is sent again with EVAL
    await commands.script_unanswered(incr, ["resp:u"], [2])
    await commands.script_unanswered(incr, ["resp:u"], [3])
    await commands.call("SET", "resp:w", "text")
    await commands.script_unanswered(incr, ["resp:w"], [1])  # not a number: an error
    assert await commands.call("GET", "resp:u") == b"5"  # the replies were read first
    assert await commands.call("GET", "resp:w") == b"text"
    failed = [r.getMessage() for r in caplog.records if "sent without waiting" in r.getMessage()]
    assert len(failed) == 1
    assert "not an integer" in failed[0]
    commands.close()


async def test_unanswered_writes_on_a_connection_that_broke_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connections = 0

    async def answer(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        async for data in stream:
            if first and b"EVAL" in data:
                return  # gone without a reply to the write
            await stream.send_all(b"+PONG\r\n" * data.count(b"PING"))

    async with scripted_redis(tmp_path, answer) as commands:
        await commands.script_unanswered(Script("return 1"), [], [])
        assert await commands.call("PING") == b"PONG"  # on a new connection
        assert connections == 2
        lost = [r.getMessage() for r in caplog.records if "outcome of 1 writes" in r.getMessage()]
        assert len(lost) == 1


async def test_a_write_sent_unanswered_never_waits_for_the_reply_before_it(
    tmp_path: Path,
) -> None:
    # a Redis that answers writes late (an append-only file synced on every write):
    # this one answers them only once it has UNREAD_LIMIT of them
    due = 0

    async def answer(stream: trio.SocketStream) -> None:
        nonlocal due
        async for data in stream:
            due += data.count(b"EVAL")
            if due >= UNREAD_LIMIT:
                await stream.send_all(b":1\r\n" * due)
                due = 0
            await stream.send_all(b"+PONG\r\n" * data.count(b"PING"))

    async with scripted_redis(tmp_path, answer) as commands:
        write = Script("return 1")
        for _ in range(UNREAD_LIMIT):  # each would time out waiting for the one before
            await commands.script_unanswered(write, [], [])
        (connection,) = commands._idle
        assert len(connection.unanswered) == UNREAD_LIMIT
        assert await commands.call("PING") == b"PONG"  # the replies are read first
        assert connection.unanswered == []
        assert commands._idle == [connection]


async def test_a_connection_redis_closed_with_replies_unread_is_left(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    commands, other = client(redis), client(redis)
    incr = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    await commands.call("DEL", "resp:c")
    await commands.script_unanswered(incr, ["resp:c"], [2])
    while await other.call("GET", "resp:c") != b"2":  # Redis ran it (its reply unread)
        pass
    (connection,) = commands._idle
    assert await other.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes") >= 1
    await commands.script_unanswered(incr, ["resp:c"], [3])  # on a new connection
    assert commands._idle != [connection]
    assert await other.call("GET", "resp:c") == b"5"
    assert not [r for r in caplog.records if "outcome" in r.getMessage()]  # its reply came
    commands.close()
    other.close()
