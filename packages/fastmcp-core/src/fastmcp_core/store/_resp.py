"""A lean Redis client on trio for the store's commands (RESP2); pub/sub stays on coredis.

Why it exists: a command through coredis costs 150 to 250 µs of CPU under trio (its
connection runs a writer task fed through memory streams, its retry and statistics
layers run on every call), about six times what the round trip itself costs. A
legacy HTTP request stores its answer in Redis before the client gets it, so that
price was paid on every request. This client does only what the store needs:

* ``RespClient.call(*args)``: one command, one round trip, on a connection taken
  from a small pool (a connection serves one command at a time; up to
  ``max_connections`` run at once, the others wait for one);
* ``RespClient.script(script, keys, args)``: ``EVALSHA``, and ``EVAL`` once when the
  server answers ``NOSCRIPT`` (after a restart or ``SCRIPT FLUSH``);
* ``RespClient.script_unanswered(...)``: the same, sent at once, its reply read
  later and only logged when it is an error (``NOSCRIPT``: sent again with ``EVAL``
  then). For writes whose outcome changes nothing for the caller. The replies wait
  in the socket until a command that waits for its own comes on that connection, or
  ``UNREAD_LIMIT`` of them are due: one read for many writes, and a write never
  waits for the reply to the one before it (a Redis that syncs its append-only file
  on every write answers late). On a connection that has not run the script yet it
  goes as ``EVAL`` (its source), so a restarted Redis never answers ``NOSCRIPT`` to
  a write nobody reads yet;
* a connection is opened when none is idle (``AUTH``, ``SELECT``, ``CLIENT SETNAME``
  in one round trip), and thrown away whenever its state is unknown: a command that
  failed, timed out or was cancelled midway, or an idle connection that Redis closed
  (checked before each use: Redis sends nothing unasked on a command connection, so
  a readable idle socket with no reply due is a closed one, and with replies due
  the poll's ``POLLRDHUP`` tells; where there is no ``POLLRDHUP`` the replies are
  read before each use). Nothing is ever retried here.

Errors: ``ConnectionError`` (an ``OSError``) when Redis cannot be reached, does not
answer within ``timeout`` or answers what is not RESP; ``ReplyError`` when it answers
an error (``OOM``, ``WRONGTYPE``...). The store turns both into ``StoreUnavailable``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import select
import socket as _socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Union
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import trio

__all__ = ["ReplyError", "RespAddress", "RespClient", "Script", "encode_command"]

logger = logging.getLogger("fastmcp.store")

Reply = Union[bytes, int, None, list["Reply"], "ReplyError"]
Arg = bytes | str | int | float

UNREAD_LIMIT = 64
"""Replies to unanswered writes a connection leaves in its socket before it reads
them (one read for them all)."""

_HANGUP = getattr(select, "POLLRDHUP", 0)
"""Set by ``poll`` once the peer closed its side, whatever is still unread (Linux):
without it, a connection reads its due replies before each use (see ``closed_by_peer``)."""
_CLOSED = _HANGUP | select.POLLHUP | select.POLLERR | select.POLLNVAL


class ReplyError(Exception):
    """Redis answered an error (its message, e.g. ``OOM command not allowed...``)."""


class _Incomplete(Exception):
    """More bytes are needed to parse the reply."""


class _Timeout(ConnectionError):
    """Redis did not answer (or take what was sent) by the command's deadline."""


def encode_command(args: Sequence[Arg]) -> bytes:
    """One command in RESP (an array of bulk strings)."""
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int):
            data = b"%d" % arg
        else:
            data = repr(float(arg)).encode()
        append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


def parse_reply(buffer: bytes | bytearray, start: int = 0) -> tuple[Reply, int]:
    """The reply at ``start`` and where the next one begins; ``_Incomplete`` when the
    buffer holds only part of it, ``ConnectionError`` when it is not RESP."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        raise _Incomplete
    kind = buffer[start : start + 1]
    line = bytes(buffer[start + 1 : end])
    after = end + 2
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _Incomplete
        return bytes(buffer[after : after + size]), after + size + 2
    if kind == b":":
        return int(line), after
    if kind == b"+":
        return line, after
    if kind == b"-":
        return ReplyError(line.decode(errors="replace")), after
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items: list[Reply] = []
        for _ in range(count):
            item, after = parse_reply(buffer, after)
            items.append(item)
        return items, after
    raise ConnectionError(f"Redis answered what is not RESP: {bytes(buffer[start:end])[:40]!r}")


@attrs.frozen
class RespAddress:
    """Where a Redis listens and how to log in (read from a store URL)."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    """A Unix socket's path (``unix://``) instead of host and port."""
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None

    @classmethod
    def from_url(cls, url: str) -> RespAddress:
        """``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS;
        ``ssl_cert_reqs=none`` and ``ssl_ca_certs=PATH`` in the query) or
        ``unix://[[user]:password@]/path?db=N``. Other query options are ignored."""
        parts = urlsplit(url)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        scheme = parts.scheme.lower()
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        db = query.get("db")
        if db is None and scheme != "unix":
            db = parts.path.lstrip("/")
        if scheme == "unix":
            return cls(path=unquote(parts.path), db=int(db or 0), username=username,
                       password=password)  # fmt: skip
        if scheme not in ("redis", "rediss"):
            raise ValueError(f"not a Redis URL: {parts.scheme}://...")
        tls = None
        if scheme == "rediss":
            tls = ssl.create_default_context(cafile=query.get("ssl_ca_certs"))
            if query.get("ssl_cert_reqs", "required").lower() in ("none", "optional"):
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=int(db or 0),
            username=username,
            password=password,
            tls=tls,
        )


@attrs.frozen
class Script:
    """A Lua script: its source and SHA-1 (``EVALSHA`` names it by that)."""

    source: str
    sha: str = attrs.field(init=False)

    @sha.default
    def _sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


@attrs.define(eq=False)
class _Connection:
    """One connection: a plain socket driven by hand (no stream layers: the cheapest
    round trip trio allows), or a TLS stream."""

    socket: _socket.socket | trio.socket.SocketType
    """The socket (under the TLS stream, for ``rediss://``: its readability only)."""
    tls: trio.SSLStream[trio.SocketStream] | None = None
    buffer: bytearray = attrs.field(factory=bytearray)
    unanswered: list[tuple[Script, Sequence[Arg]]] = attrs.field(factory=list)
    """Scripts sent without waiting (with their keys and arguments), oldest first:
    their replies come before any other."""
    scripts: set[str] = attrs.field(factory=set)
    """The scripts (SHA-1) this connection sent with their source (``EVAL``), by
    unanswered writes: Redis knows them (unless flushed meanwhile)."""
    _poller: select.poll | None = None
    timeout: float = 2.0
    deadline: float = math.inf
    """When the command now running must be done (a cancel scope is made only
    when it has to wait: most commands never do)."""

    async def _wait(self, ready: Callable[[Any], Awaitable[None]]) -> None:
        with trio.CancelScope(deadline=self.deadline) as scope:
            await ready(self.socket)
        if scope.cancelled_caught:
            raise _Timeout(f"Redis did not answer within {self.timeout:g} s")

    def closed_by_peer(self) -> bool:
        """Whether Redis closed the idle connection: it became readable with no reply
        due (Redis sends nothing unasked on a command connection), or, with replies
        due, the peer hung up (``POLLRDHUP``)."""
        try:  # poll, not select: a busy server's descriptors go beyond FD_SETSIZE
            poller = self._poller
            if poller is None:
                poller = self._poller = select.poll()
                poller.register(self.socket, select.POLLIN | _HANGUP)
            ready = poller.poll(0)
        except (OSError, ValueError):
            return True
        if not ready:
            return False
        return not self.unanswered or bool(ready[0][1] & _CLOSED)

    def defers(self) -> bool:
        """Whether a write sent without waiting may leave the due replies unread
        (see ``UNREAD_LIMIT``)."""
        return bool(_HANGUP) and self.tls is None and len(self.unanswered) < UNREAD_LIMIT

    def discard(self) -> None:
        """Close at once (no goodbye: its state is unknown)."""
        self.socket.close()

    async def _send(self, payload: bytes) -> None:
        if self.tls is not None:
            with trio.CancelScope(deadline=self.deadline) as scope:
                await self.tls.send_all(payload)
            if scope.cancelled_caught:
                raise _Timeout(f"Redis did not answer within {self.timeout:g} s")
            return
        sock = self.socket
        assert isinstance(sock, _socket.socket)
        view = memoryview(payload)
        while view:
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_writable)

    async def _receive(self) -> bytes | bytearray:
        if self.tls is not None:
            data: bytes | bytearray = b""
            with trio.CancelScope(deadline=self.deadline) as scope:
                data = await self.tls.receive_some(65536)
            if scope.cancelled_caught:
                raise _Timeout(f"Redis did not answer within {self.timeout:g} s")
            return data
        sock = self.socket
        assert isinstance(sock, _socket.socket)
        while True:
            try:
                return sock.recv(65536)
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_readable)

    async def roundtrip(self, payload: bytes, count: int) -> list[Reply]:
        """Send ``payload`` (``count`` commands), read ``count`` replies."""
        await self._send(payload)
        return await self.replies(count)

    async def replies(self, count: int) -> list[Reply]:
        """Read ``count`` replies."""
        replies: list[Reply] = []
        buffer = self.buffer
        position = 0
        while len(replies) < count:
            try:
                reply, position = parse_reply(buffer, position)
            except _Incomplete:
                data = await self._receive()
                if not data:
                    raise ConnectionError("Redis closed the connection") from None
                buffer += data
                continue
            except ValueError as exc:
                raise ConnectionError(f"Redis answered what is not RESP: {exc}") from None
            replies.append(reply)
        if position == len(buffer):
            buffer.clear()
        else:  # more than was asked for: the connection is out of step
            raise ConnectionError("Redis answered more than it was asked")
        if self.tls is None:
            await trio.lowlevel.checkpoint_if_cancelled()
        return replies


@attrs.define(eq=False)
class RespClient:
    """Commands to one Redis (see the module docstring). ``timeout``: seconds to
    connect and for each command. ``close()`` closes the idle connections; commands
    after it open new ones."""

    address: RespAddress
    timeout: float = 2.0
    name: str | None = None
    """``CLIENT SETNAME`` of each connection."""
    max_connections: int = 32
    _idle: list[_Connection] = attrs.field(init=False, factory=list)
    _again: list[tuple[Script, Sequence[Arg]]] = attrs.field(init=False, factory=list)
    """Scripts sent unanswered that the server did not know: sent again with EVAL."""
    _slots: trio.Semaphore = attrs.field(init=False)

    @_slots.default
    def _make_slots(self) -> trio.Semaphore:
        return trio.Semaphore(self.max_connections)

    async def call(self, *args: Arg) -> Reply:
        """Run one command; its reply. ``ReplyError`` when it is an error."""
        (reply,) = await self._run(encode_command(args), 1)
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Reply:
        """Run ``script`` (``EVALSHA``; ``EVAL`` when the server does not know it)."""
        tail = (len(keys), *keys, *args)
        try:
            return await self.call("EVALSHA", script.sha, *tail)
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call("EVAL", script.source, *tail)

    async def _run(
        self,
        payload: bytes | None,
        count: int,
        unanswered: tuple[Script, Sequence[Arg]] | None = None,
    ) -> list[Reply]:
        slots = self._slots
        try:
            slots.acquire_nowait()
        except trio.WouldBlock:
            with trio.move_on_after(self.timeout) as waiting:
                await slots.acquire()
            if waiting.cancelled_caught:
                raise ConnectionError(
                    f"no connection to Redis was free within {self.timeout:g} s"
                ) from None
        try:
            replies = await self._exchange(payload, count, unanswered)
        except trio.BrokenResourceError as exc:
            raise ConnectionError(f"the connection to Redis broke: {exc}") from None
        finally:
            slots.release()
        if self._again:
            again, self._again = self._again, []
            await self._run_unanswered_again(again)
        return replies

    async def script_unanswered(
        self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> None:
        """Send ``script`` now and return; its reply is read later (see the module
        docstring). ``ConnectionError`` when it could not be sent."""
        await self._run(None, 0, (script, (len(keys), *keys, *args)))

    async def _run_unanswered_again(self, again: list[tuple[Script, Sequence[Arg]]]) -> None:
        for script, tail in again:
            try:
                await self.call("EVAL", script.source, *tail)
            except (ReplyError, OSError) as exc:
                logger.warning("a write sent without waiting failed: %s", exc)

    async def _exchange(
        self,
        payload: bytes | None,
        count: int,
        unanswered: tuple[Script, Sequence[Arg]] | None = None,
    ) -> list[Reply]:
        deadline = trio.current_time() + self.timeout
        connection = await self._take(deadline, defer=unanswered is not None)
        try:
            if unanswered is None:
                assert payload is not None
                replies = await connection.roundtrip(payload, count)
            else:
                script, tail = unanswered
                if script.sha in connection.scripts:
                    payload = encode_command(("EVALSHA", script.sha, *tail))
                else:  # Redis may not know it (restarted): loaded by this very write
                    payload = encode_command(("EVAL", script.source, *tail))
                    connection.scripts.add(script.sha)
                await connection._send(payload)
                connection.unanswered.append(unanswered)
                replies = []
        except BaseException as exc:
            connection.discard()
            if connection.unanswered:
                logger.warning(
                    "the outcome of %d writes sent without waiting is unknown: %r",
                    len(connection.unanswered),
                    exc,
                )
            raise
        self._idle.append(connection)
        return replies

    async def _take(self, deadline: float, *, defer: bool = False) -> _Connection:
        """An idle connection that Redis did not close (its due replies read first,
        unless ``defer`` and it ``defers``), else a new one."""
        while self._idle:
            connection = self._idle.pop()
            connection.deadline = deadline
            due = connection.unanswered and not (defer and connection.defers())
            if due and not await self._answered(connection):
                continue
            if not connection.closed_by_peer():
                return connection
            if connection.unanswered:  # what came before the end is read, the rest logged
                await self._answered(connection)
            connection.discard()
        with trio.CancelScope(deadline=deadline):
            return await self._connect(deadline)
        raise _Timeout(f"Redis did not answer within {self.timeout:g} s")

    async def _answered(self, connection: _Connection) -> bool:
        """Read the replies to what was sent unanswered on ``connection`` (logging
        the errors); ``False`` when it broke meanwhile (it is thrown away)."""
        sent, connection.unanswered = connection.unanswered, []
        try:
            replies = await connection.replies(len(sent))
        except BaseException as exc:
            connection.discard()
            if isinstance(exc, OSError | trio.BrokenResourceError):
                logger.warning(
                    "the outcome of %d writes sent without waiting is unknown: %s", len(sent), exc
                )
                return False
            raise
        again = []
        for reply, (script, tail) in zip(replies, sent, strict=True):
            if isinstance(reply, ReplyError):
                if str(reply).startswith("NOSCRIPT"):  # flushed: EVAL from now on
                    connection.scripts.discard(script.sha)
                    again.append((script, tail))
                else:
                    logger.warning("a write sent without waiting failed: %s", reply)
        if again:
            self._again.extend(again)
        return True

    async def _connect(self, deadline: float) -> _Connection:
        address = self.address
        try:
            connection = await _open(address)
        except OSError as exc:
            raise ConnectionError(f"cannot connect to Redis: {exc}") from None
        connection.timeout, connection.deadline = self.timeout, deadline
        try:
            hello: list[Sequence[Arg]] = []
            if address.password is not None:
                login = (address.username, address.password) if address.username else (
                    address.password,
                )  # fmt: skip
                hello.append(("AUTH", *login))
            if address.db:
                hello.append(("SELECT", address.db))
            if self.name:
                hello.append(("CLIENT", "SETNAME", self.name))
            if not hello:
                hello.append(("PING",))
            replies = await connection.roundtrip(
                b"".join(encode_command(command) for command in hello), len(hello)
            )
            _raise_first_error(replies)
        except BaseException:
            connection.discard()
            raise
        return connection

    def close(self) -> None:
        """Close the idle connections (those in use close when their command ends)."""
        while self._idle:
            self._idle.pop().discard()


def _raise_first_error(replies: list[Reply]) -> None:
    for reply in replies:
        if isinstance(reply, ReplyError):
            raise reply


async def _open(address: RespAddress) -> _Connection:
    """A connected socket (a TLS stream on it for ``rediss://``)."""
    if address.tls is not None:
        stream = await trio.open_tcp_stream(address.host, address.port)
        tls = trio.SSLStream(stream, address.tls, server_hostname=address.host)
        return _Connection(stream.socket, tls)
    families: list[tuple[int, Any]]
    if address.path is not None:
        families = [(_socket.AF_UNIX, address.path)]
    else:
        found = await trio.socket.getaddrinfo(address.host, address.port, type=_socket.SOCK_STREAM)
        families = [(family, where) for family, _, _, _, where in found]
    failure: OSError = OSError(f"no address for {address.host}")
    for family, where in families:
        sock = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if family != _socket.AF_UNIX:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            try:
                sock.connect(where)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                error = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error)) from None
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)
    raise failure
