"""The Redis store: state shared by every replica that names the same Redis (coredis).

Theory of operation. Truth lives in keys and streams; pub/sub only wakes. Every key
starts with ``prefix`` (``P``, default ``fastmcp``)::

    P:replica:<id>        this replica's lease: set with a time-to-live of ``lease``
                          seconds, renewed every third of it; gone = the replica died
    P:rec:<ns>:<key>      a record: a hash of its value ``v``, version ``n``, owner ``o``
                          (and group key ``g``); written only by the Lua scripts below,
                          which compare the version and publish the wake in one step
    P:grp:<ns>:<group>    a sorted set of a group's record keys, by creation time (those
                          whose record expired are pruned when the group is read)
    P:log:<log>           an event log: a stream whose ids are ``0-1``, ``0-2``... (dense,
                          so a reader can tell a hole), trimmed to ``log_limit`` entries
                          and dropped ``log_ttl`` seconds after its last append
    P:following:<log>     how many followers the log has (on any replica): an append
                          publishes its wake only when it has some, so that an event
                          nobody follows costs no pub/sub message to every replica
                          (kept 24 ``log_ttl`` after a follower came: a crashed
                          follower's count goes in the end)
    P:inbox:<id>          a replica's inbox: a stream of (topic, data); the replica
                          deletes what it took; it expires an hour after the last send

and three pub/sub channels: ``P:hint`` (the bus's lossy hints, each framed with the
replica that sent it), ``P:wake`` (the key that just changed: the followers of
records and logs read again) and ``P:to:<id>`` (one replica's: "mail" when its inbox
got a message, and its own heartbeats).

Commands go through ``_resp.RespClient``, a lean client of our own (a coredis command
costs 150 to 250 µs of CPU under trio, several times the round trip; a legacy HTTP
request pays one on its way out, and does not even wait for the reply: ``put``).
Pub/sub stays on coredis: each process holds one
pub/sub connection for the three channels. coredis's PubSub
is made here without its own retry policy: a broken connection ends it and a new one
is made (with back-off), never resubscribed inside coredis, where under trio it may
stop delivering after the server restarts. A heartbeat published to this replica's
own channel must come back, or the connection is made anew too. After every new
subscription but the first one, whatever might have been missed is looked at again:
the watches wake, the inbox is read, and the ``on_resync`` callbacks run.

Commands use a small pool of connections; while Redis is down each fails within
``timeout`` (at once when the connection is refused) with ``StoreUnavailable``. Nothing the
store does in the background ever raises out of ``running()``: it logs and retries.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import anyio.streams.memory
import attrs
import coredis
import coredis.exceptions
import trio

from fastmcp_core.store._base import LogEvent, LogGap, Record, StoreUnavailable, Watch
from fastmcp_core.store._follow import follow_log
from fastmcp_core.store._resp import Arg, ReplyError, RespAddress, RespClient, Script
from fastmcp_core.store._wakes import Wakes, add_callback, call_safely

__all__ = ["RedisStore"]

logger = logging.getLogger("fastmcp.store")

Callback = Callable[[bytes], None]

_FAILURES = (coredis.exceptions.RedisError, ReplyError, OSError, anyio.BrokenResourceError,
             anyio.ClosedResourceError, anyio.EndOfStream)  # fmt: skip
_INBOX_TTL_MS = 3_600_000
_TAKE_BATCH = 100
_BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', 1, 'o', ARGV[2])
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if ARGV[4] ~= '' then
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'g', KEYS[2])
  redis.call('ZADD', KEYS[2], tonumber(now[1]) * 1000000 + tonumber(now[2]), ARGV[4])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
"""

_SWAP = """
local n = redis.call('HGET', KEYS[1], 'n')
if (not n) or tonumber(n) ~= tonumber(ARGV[1]) then return false end
local owner = redis.call('HGET', KEYS[1], 'o')
if ARGV[3] ~= '' then
  owner = ARGV[3]
  redis.call('HSET', KEYS[1], 'o', owner)
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'n', tonumber(n) + 1)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {tonumber(n) + 1, owner}
"""

_DELETE = """
local group = redis.call('HGET', KEYS[1], 'g')
if redis.call('DEL', KEYS[1]) == 1 then
  if group then redis.call('ZREM', group, ARGV[1]) end
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return 0
"""

_APPEND = """
local id
if ARGV[6] == '0-*' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-*', 'd', ARGV[2])
else
  local want = tonumber(string.sub(ARGV[6], 3))
  if want > 1 then
    local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
    if #top > 0 and tonumber(string.match(top[1][1], '-(%d+)$')) + 1 ~= want then
      return redis.error_reply('event ' .. want .. ' is not the next of ' .. KEYS[1])
    end
  end
  id = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[6], 'd', ARGV[2])
  if type(id) == 'table' and id.err then
    if not string.find(id.err, 'smaller', 1, true) then return id end
    return redis.error_reply('event ' .. want .. ' is not the next of ' .. KEYS[1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return id
"""

_FOLLOW = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n <= 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n
"""

_READ = """
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #head == 0 then return {} end
local tail = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local events = redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[1], '+', 'COUNT', ARGV[2])
return {head[1][1], tail[1][1], events}
"""

_DROP = """
local n = #KEYS / 2
redis.call('DEL', unpack(KEYS, 1, n))
if redis.call('EXISTS', unpack(KEYS, n + 1, #KEYS)) > 0 then
  for i = 1, n do
    if redis.call('EXISTS', KEYS[n + i]) == 1 then redis.call('PUBLISH', ARGV[1], ARGV[i + 1]) end
  end
end
return 0
"""

_SEND = """
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[5], 'mail')
return 1
"""


_TAKE = """
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
for _, entry in ipairs(entries) do redis.call('XDEL', KEYS[1], entry[1]) end
return entries
"""

_SCRIPTS = {
    name: Script(source)
    for name, source in (
        ("create", _CREATE), ("swap", _SWAP), ("delete", _DELETE), ("append", _APPEND),
        ("read", _READ), ("send", _SEND), ("follow", _FOLLOW), ("drop", _DROP),
        ("take", _TAKE),
    )
}  # fmt: skip


def _seq(stream_id: bytes) -> int:
    return int(stream_id.split(b"-", 1)[1])


@attrs.define(eq=False, repr=False)
class RedisStore:
    """The store in a Redis server (see the module docstring); ``from_url`` reads the
    options from a URL (``open_store`` does too).

    ``lease``: seconds a replica counts as alive after its last renewal. ``timeout``:
    seconds to connect and for each command before ``StoreUnavailable``. ``log_limit``
    and ``log_ttl``: how many events an event log keeps, and how long after its last
    append it is kept at all.
    """

    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "fastmcp"
    lease: float = 10.0
    timeout: float = 2.0
    log_limit: int = 10_000
    log_ttl: float = 3600.0
    _replica: str = attrs.field(factory=lambda: secrets.token_hex(8), alias="replica")
    _client: coredis.Redis[bytes] | None = attrs.field(init=False, default=None)
    """coredis, for pub/sub only."""
    _commands: RespClient | None = attrs.field(init=False, default=None)
    wakes: Wakes = attrs.field(init=False, factory=Wakes)
    _hints: dict[str, list[Callback]] = attrs.field(init=False, factory=dict)
    _inbox_callbacks: dict[str, list[Callback]] = attrs.field(init=False, factory=dict)
    _resyncs: list[Callable[[], None]] = attrs.field(init=False, factory=list)
    _mail: trio.Event = attrs.field(init=False, factory=trio.Event)
    _listening: trio.Event = attrs.field(init=False, factory=trio.Event)
    _running: bool = attrs.field(init=False, default=False)
    _down_since: float | None = attrs.field(init=False, default=None)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """A store for ``url`` (``redis://``, ``rediss://``, ``unix://``); its query may
        carry ``prefix=``, ``lease=``, ``log_ttl=`` (seconds) and ``log_limit=`` (events)
        (the rest goes to coredis)."""
        parts = urlsplit(url)
        query = []
        for name, value in parse_qsl(parts.query):
            if name == "prefix":
                options.setdefault("prefix", value)
            elif name == "lease":
                lease = float(value)
                if not lease > 0:
                    raise ValueError(f"lease must be positive seconds, got {value!r}")
                options.setdefault("lease", lease)
            elif name == "log_ttl":
                ttl = float(value)
                if not ttl > 0:
                    raise ValueError(f"log_ttl must be positive seconds, got {value!r}")
                options.setdefault("log_ttl", ttl)
            elif name == "log_limit":
                if not value.isdigit() or int(value) < 1:
                    raise ValueError(f"log_limit must be a positive count, got {value!r}")
                options.setdefault("log_limit", int(value))
            else:
                query.append((name, value))
        return cls(urlunsplit(parts._replace(query=urlencode(query))), **options)

    def __repr__(self) -> str:
        return f"<RedisStore {self.where} replica {self._replica}>"

    @property
    def where(self) -> str:
        """The URL without its password (for messages and logs)."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=netloc, query=""))

    # -- Store ---------------------------------------------------------------------

    @property
    def replica(self) -> str:
        return self._replica

    @property
    def shared(self) -> bool:
        return True

    @property
    def bus(self) -> RedisStore:
        return self

    @property
    def logs(self) -> RedisStore:
        return self

    def records(self, namespace: str) -> _RedisRecords:
        return _RedisRecords(self, namespace)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def alive(self, replica: str) -> bool:
        if replica == self._replica:
            return True
        return bool(await self._do("EXISTS", self._key("replica", replica)))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        if self._running:
            raise RuntimeError(f"{self!r} is running already")
        self._running = True
        self._listening = trio.Event()
        self._commands = RespClient(
            RespAddress.from_url(self.url), self.timeout, name=f"fastmcp-{self._replica}"
        )
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._connected)
                with trio.move_on_after(self.timeout):  # start ready when Redis is up
                    await self._listening.wait()
                if not self._listening.is_set():
                    logger.warning(
                        "the store at %s cannot be reached: serving without it until it "
                        "can be (what needs it fails meanwhile)",
                        self.where,
                    )
                try:
                    yield
                finally:
                    with trio.CancelScope(shield=True), trio.move_on_after(self.timeout):
                        await self._leave()
                    nursery.cancel_scope.cancel()
        finally:
            self._running = False
            self._client = None
            self._commands.close()
            self._commands = None

    async def _leave(self) -> None:
        """A clean end: the lease and the inbox go at once (the others need not wait
        for the lease to run out to know)."""
        with suppress(StoreUnavailable):
            await self._do("DEL", self._key("replica", self._replica), self._inbox_key())

    # -- connections -------------------------------------------------------------------

    async def _connected(self) -> None:
        """The client for the life of ``running``; made anew should coredis's own
        tasks ever fail (they would otherwise end the server with them)."""
        while True:
            try:
                pool = coredis.ConnectionPool.from_url(
                    self.url,
                    connect_timeout=self.timeout,
                    stream_timeout=self.timeout,
                    client_name=f"fastmcp-{self._replica}",
                )
                pool.connection_class = _closing(pool.connection_class)
                client: coredis.Redis[bytes] = coredis.Redis(connection_pool=pool)
                async with client:
                    self._client = client
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._renew)
                        nursery.start_soon(self._listen, client)
                        nursery.start_soon(self._take_mail)
            except BaseException as exc:
                _raise_if_cancelled(exc)
                logger.exception("the store's client for %s failed; making a new one", self.where)
            finally:
                self._client = None
            await trio.sleep(1.0)

    async def _do(self, *command: Arg) -> Any:
        """Run one command (``StoreUnavailable`` when it cannot be)."""
        commands = self._commands
        if commands is None:
            raise StoreUnavailable(f"the store at {self.where} is not connected")
        try:
            return await commands.call(*command)
        except BaseException as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> BaseException:
        """What to raise for ``exc`` out of a command: ``StoreUnavailable`` (caused by
        ``exc``) when it says that Redis cannot be reached, else ``exc`` itself."""
        if not isinstance(exc, _FAILURES):
            return exc
        unavailable = StoreUnavailable(f"the store at {self.where} cannot be reached: {exc}")
        unavailable.__cause__ = exc
        return unavailable

    async def _script(self, name: str, keys: list[str], args: list[Arg]) -> Any:
        commands = self._commands
        if commands is None:
            raise StoreUnavailable(f"the store at {self.where} is not connected")
        try:
            return await commands.script(_SCRIPTS[name], keys, args)
        except BaseException as exc:
            raise self._unavailable(exc) from None

    async def _renew(self) -> None:
        key = self._key("replica", self._replica)
        me = f"{socket.gethostname()}:{os.getpid()}".encode()
        while True:
            try:
                await self._do("SET", key, me, "PX", int(self.lease * 1000))
            except StoreUnavailable as exc:
                self._went_down(exc)
            await trio.sleep(self.lease / 3)

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning("the store at %s cannot be reached (%s); retrying", self.where, exc)

    def _came_back(self) -> None:
        if self._down_since is not None:
            logger.warning(
                "the store at %s is back after %.1f s",
                self.where,
                time.monotonic() - self._down_since,
            )
            self._down_since = None

    async def _listen(self, client: coredis.Redis[bytes]) -> None:
        """One pub/sub connection after another (see the module docstring)."""
        hint, wake, mine = self._key("hint"), self._key("wake"), self._key("to", self._replica)
        attempt = 0
        first = True
        while True:
            try:
                async with client.pubsub(
                    channels=[hint, wake, mine],
                    retry_policy=None,
                    subscription_timeout=self.timeout,
                ) as pubsub:
                    attempt = 0
                    self._came_back()
                    if not first:
                        self._resync()
                    first = False
                    self._listening.set()
                    await self._read(pubsub, hint.encode(), wake.encode(), mine)
            except BaseException as exc:  # a broken connection: made anew below
                _raise_if_cancelled(exc)
                self._went_down(exc)
            if self._listening.is_set():
                self._listening = trio.Event()
            await trio.sleep(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
            attempt += 1

    async def _read(self, pubsub: Any, hint: bytes, wake: bytes, mine: str) -> None:
        beat_every = min(1.0, self.lease / 3)
        sent = seen = 0

        async def heartbeat() -> None:
            nonlocal sent
            while True:
                await trio.sleep(beat_every)
                if sent - seen >= 2:
                    raise _Deaf(f"no heartbeat came back from {self.where}")
                sent += 1
                try:
                    await self._do("PUBLISH", mine, b"beat")
                except StoreUnavailable as exc:
                    raise _Deaf(str(exc)) from exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat)
            async for message in pubsub:
                kind = message["type"]
                if kind == "subscribe":
                    continue
                if kind != "message":
                    continue
                channel, data = message["channel"], message["data"]
                if channel == hint:
                    self._hinted(data)
                elif channel == wake:
                    self.wakes.wake(data.decode())
                elif data == b"beat":
                    seen = sent
                else:
                    self._mail.set()
            nursery.cancel_scope.cancel()

    def _resync(self) -> None:
        self.wakes.wake_all()
        self._mail.set()
        for callback in list(self._resyncs):
            call_safely(callback)

    # -- Bus -------------------------------------------------------------------------

    def _hinted(self, frame: bytes) -> None:
        origin, _, rest = frame.partition(b"\n")
        topic, _, data = rest.partition(b"\n")
        if origin.decode() == self._replica:
            return
        for callback in list(self._hints.get(topic.decode(), ())):
            call_safely(callback, data)

    async def publish(self, topic: str, data: bytes) -> None:
        frame = b"\n".join((self._replica.encode(), topic.encode(), data))
        await self._do("PUBLISH", self._key("hint"), frame)

    def subscribe(self, topic: str, callback: Callback) -> Callable[[], None]:
        return add_callback(self._hints.setdefault(topic, []), callback)

    def _inbox_key(self, replica: str | None = None) -> str:
        return self._key("inbox", replica or self._replica)

    async def send(self, replica: str, topic: str, data: bytes) -> None:
        await self._script(
            "send",
            [self._inbox_key(replica)],
            [10_000, topic, data, _INBOX_TTL_MS, self._key("to", replica)],
        )

    def receive(self, topic: str, callback: Callback) -> Callable[[], None]:
        return add_callback(self._inbox_callbacks.setdefault(topic, []), callback)

    def on_resync(self, callback: Callable[[], None]) -> Callable[[], None]:
        return add_callback(self._resyncs, callback)

    async def _take_mail(self) -> None:
        """Read the inbox when told ("mail", a resync) and every third of a lease (a
        message whose wake was lost waits no longer than that)."""
        key = self._inbox_key()
        last = b"0-0"

        async def take() -> int:
            # taken and deleted in one step: one round trip
            nonlocal last
            entries = await self._script("take", [key], [last, _TAKE_BATCH])
            for identifier, fields in entries:
                last = identifier
                topic = _field(fields, b"t").decode()
                for callback in list(self._inbox_callbacks.get(topic, ())):
                    call_safely(callback, _field(fields, b"d"))
            return len(entries)

        while True:
            try:
                while await take() == _TAKE_BATCH:
                    pass
            except StoreUnavailable as exc:
                self._went_down(exc)
            with trio.move_on_after(self.lease / 3):
                await self._mail.wait()
            self._mail = trio.Event()

    # -- EventLogs -------------------------------------------------------------------

    async def append(self, log: str, data: bytes) -> int:
        stream_id = await self._script("append", *self._append(log, data, "0-*"))
        return _seq(stream_id)

    async def put(self, log: str, event: int, data: bytes) -> None:
        # XADD with the id itself: Redis refuses one that is not above the log's last,
        # so a log's first event (a POST stream's answer) needs no look at its top
        commands = self._commands
        if commands is None:
            raise StoreUnavailable(f"the store at {self.where} is not connected")
        keys, args = self._append(log, data, f"0-{event}")
        try:
            await commands.script_unanswered(_SCRIPTS["append"], keys, args)
        except BaseException as exc:
            raise self._unavailable(exc) from None

    def _append(self, log: str, data: bytes, stream_id: str) -> tuple[list[str], list[Arg]]:
        keys = [self._key("log", log), self._key("following", log)]
        ttl = int(self.log_ttl * 1000)
        return keys, [self.log_limit, data, ttl, self._key("wake"), f"log:{log}", stream_id]

    async def read(self, log: str, after: int = 0, limit: int = 1000) -> list[LogEvent]:
        found = await self._script("read", [self._key("log", log)], [after, limit])
        if not found:
            if after:
                raise LogGap(f"the event log {log} holds no event {after}")
            return []
        first, last, entries = _seq(found[0]), _seq(found[1]), found[2]
        if after > last:
            raise LogGap(f"the event log {log} never had event {after}")
        if after + 1 < first:
            raise LogGap(f"the events of {log} after {after} were forgotten")
        return [LogEvent(_seq(entry[0]), _field(entry[1], b"d")) for entry in entries]

    @asynccontextmanager
    async def follow(self, log: str, after: int = 0) -> AsyncIterator[AsyncIterator[LogEvent]]:
        # counted before the first read: an append either sees the follower (and
        # wakes it) or comes before that read (which returns it)
        key, ttl = self._key("following", log), int(self.log_ttl * 24_000)
        await self._script("follow", [key], [1, ttl])
        try:
            async with follow_log(self, self._watch_log, log, after) as events:
                yield events
        finally:
            with trio.CancelScope(shield=True), suppress(StoreUnavailable):
                await self._script("follow", [key], [-1, ttl])

    def _watch_log(self, log: str) -> AbstractAsyncContextManager[Watch]:
        return self.wakes.watch(f"log:{log}")

    async def drop(self, *logs: str) -> None:
        # a wake only for the logs that have followers (they see the log gone)
        if not logs:
            return
        keys = [self._key("log", log) for log in logs]
        keys += [self._key("following", log) for log in logs]
        await self._script("drop", keys, [self._key("wake"), *(f"log:{log}" for log in logs)])


@attrs.define(eq=False, repr=False)
class _RedisRecords:
    store: RedisStore
    namespace: str

    def _name(self, key: str) -> str:
        return f"rec:{self.namespace}:{key}"

    async def get(self, key: str) -> Record | None:
        full = self.store._key(self._name(key))
        value, version, owner = await self.store._do("HMGET", full, "v", "n", "o")
        if version is None:
            return None
        return Record(key, value or b"", int(version), owner.decode() if owner else None)

    async def create(
        self, key: str, value: bytes, *, ttl: float | None = None, group: str | None = None
    ) -> Record | None:
        store = self.store
        name = self._name(key)
        group_key = store._key("grp", self.namespace, group or "")
        created = await store._script(
            "create",
            [store._key(name), group_key],
            [
                value,
                store.replica,
                "" if ttl is None else max(1, int(ttl * 1000)),
                "" if group is None else key,
                store._key("wake"),
                name,
            ],
        )
        return Record(key, value, 1, store.replica) if created else None

    async def swap(
        self, key: str, version: int, value: bytes, *, claim: bool = False
    ) -> Record | None:
        store = self.store
        name = self._name(key)
        written = await store._script(
            "swap",
            [store._key(name)],
            [version, value, store.replica if claim else "", store._key("wake"), name],
        )
        if not written:
            return None
        new_version, owner = written
        return Record(key, value, int(new_version), owner.decode() if owner else None)

    async def delete(self, key: str) -> None:
        store = self.store
        name = self._name(key)
        await store._script("delete", [store._key(name)], [key, store._key("wake"), name])

    async def group(self, group: str) -> list[Record]:
        store = self.store
        group_key = store._key("grp", self.namespace, group)

        found, gone = [], []
        for member in await store._do("ZRANGE", group_key, 0, -1):
            record = await self.get(member.decode())
            if record is None:
                gone.append(member)
            else:
                found.append(record)
        if gone:
            await store._do("ZREM", group_key, *gone)
        return found

    def watch(self, key: str) -> AbstractAsyncContextManager[Watch]:
        return self.store.wakes.watch(self._name(key))


class _ClosesItsBuffers:
    """coredis 6.9's connections leave their in-memory buffers open when connecting
    fails (each refused attempt while Redis is down would leak six, with a
    ``ResourceWarning`` apiece): closed here once the connection's run ends."""

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)  # type: ignore[misc]
        finally:
            for value in list(vars(self).values()):
                if isinstance(value, _BUFFERS):
                    value.close()


_BUFFERS = (anyio.streams.memory.MemoryObjectSendStream,
            anyio.streams.memory.MemoryObjectReceiveStream)  # fmt: skip


def _closing(connection_class: Any) -> Any:
    return type(connection_class.__name__, (_ClosesItsBuffers, connection_class), {})


class _Deaf(Exception):
    """The pub/sub connection stopped delivering: it is made anew."""


def _field(fields: Any, name: bytes) -> bytes:
    if isinstance(fields, dict):
        return bytes(fields.get(name, b""))
    pairs = list(fields)
    for index in range(0, len(pairs) - 1, 2):
        if pairs[index] == name:
            return bytes(pairs[index + 1])
    return b""


def _raise_if_cancelled(exc: BaseException) -> None:
    """Raise what cancels this task, when ``exc`` holds it: what coredis's task groups
    raise beside it while they close (a closed stream, say) is noise then. Anything
    else but an ``Exception`` is raised as it is."""
    if isinstance(exc, BaseExceptionGroup):
        cancelled, _ = exc.split(trio.Cancelled)
        if cancelled is not None:
            raise cancelled from None
    if not isinstance(exc, Exception):
        raise exc
