"""The session engine under random interleavings (hypothesis stateful testing).

A ``RuleBasedStateMachine`` plays the client: it sends requests of every kind of
handler (quick, sleeping, masked, failing, crashing, spawning children, reporting
progress, asking the client), cancels them, sends notifications, answers the server's
requests (or answers nothing, or the wrong id), sends malformed frames and batches,
makes time jump (trio's ``MockClock``, moved only by the rules), closes its input,
vanishes (every write fails) or has the server drain. The session runs in a trio
run of its own, in a thread; every rule is one call into it and waits until all
tasks are blocked.

What must hold, whatever the order:

* every request the session read is answered exactly once, except one the client
  cancelled (then at most once) or whose answer could not be written (the client
  vanished); the answer is of the handler's kind (a result, its error, the masked
  -32603, the budget's -32001 or the shutdown -32603);
* a frame is never answered under an id nobody sent; malformed frames are answered
  with id ``null``;
* masked sections always complete, even when the request is cancelled mid-way;
* the session ends once its input ends (within its grace, its farewell and what a
  masked section needs), and then no task of it is left and nothing is retained:
  no request in flight, no outgoing request waiting, every place given back;
* while it runs, what it holds is bounded by ``max_pending``.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import msgspec
import trio
import trio.testing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from fastmcp_core import McpContext, Session, TransportClosed
from fastmcp_protocol import JSONRPCNotification, JSONRPCRequest, McpError, RequestId

KINDS = ["quick", "sleep", "masked", "error", "crash", "spawn", "progress", "ask", "endless"]
DURATIONS = [0.5, 1.5, 3.5, 7.5, 30.5]  # never a whole second: no tie with a budget
MALFORMED = [
    b"",
    b"{",
    b"null",
    b"[]",
    b"42",
    b'"text"',
    b"\xff\xfe\x00",
    b'{"jsonrpc":"2.0"}',
    b'{"jsonrpc":"1.0","id":"bad","method":"x"}',
    b'{"jsonrpc":"2.0","id":{"a":1},"method":"x"}',
    b'{"jsonrpc":"2.0","id":"bad","method":7}',
    b'{"jsonrpc":"2.0","id":"bad","result":{},"error":{"code":1,"message":"m"}}',
    b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":[]}}',
    b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x"}}',
    b"[1,2,3]",
    b'[{"jsonrpc":"2.0","method":"n"}]',
]
BAD = "bad"  # the id of the malformed frames that have one (answered under it)
DEFAULT_TIMEOUT = 45.0  # the server's requests to the client time out after this
FAREWELL = 2.0  # Session.farewell


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


# -- the server side: a transport the rules feed, a dispatcher of handler kinds ---------


@attrs.define(eq=False)
class ScriptedTransport:
    """Frames come from the rules; what the session sends is recorded. ``gone``: every
    write fails, as when the client vanished."""

    inbox: trio.MemoryReceiveChannel[bytes]
    sent: list[bytes] = attrs.field(factory=list)
    read: list[bytes] = attrs.field(factory=list)
    gone: bool = False
    closed: bool = False

    async def receive(self) -> bytes:
        try:
            frame = await self.inbox.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise TransportClosed("end of input") from None
        self.read.append(frame)
        return frame

    async def send(
        self, frame: bytes, *, related: RequestId | None = None, final: bool = False
    ) -> None:
        if self.gone or self.closed:
            raise TransportClosed("the client vanished")
        if frame:
            self.sent.append(frame)
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self.closed = True
        await self.inbox.aclose()


@attrs.define(eq=False)
class Kinds:
    """Routes ``t/<kind>`` to a handler of that kind; records masked sections."""

    masked_entered: Counter[RequestId] = attrs.field(factory=Counter)
    masked_left: Counter[RequestId] = attrs.field(factory=Counter)
    masked_left_at: dict[RequestId, float] = attrs.field(factory=dict)
    session: Session | None = None
    notes: list[str] = attrs.field(factory=list)

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Callable[[], Awaitable[Any]]:
        kind = request.method.removeprefix("t/")
        if kind not in KINDS:
            raise McpError(-32601, f"Method not found: {request.method}")
        params = msgspec.json.decode(request.params) if request.params else {}
        meta = params.get("_meta") or {}
        ctx.progress_token = meta.get("progressToken")
        seconds = float(params.get("d", 1.0))
        handler = getattr(self, "k_" + kind)

        async def call() -> Any:
            return await handler(ctx, seconds)

        return call

    async def notification(self, note: JSONRPCNotification) -> None:
        self.notes.append(note.method)

    async def k_quick(self, ctx: McpContext, seconds: float) -> Any:
        return {"kind": "quick"}

    async def k_sleep(self, ctx: McpContext, seconds: float) -> Any:
        await trio.sleep(seconds)
        return {"kind": "sleep"}

    async def k_masked(self, ctx: McpContext, seconds: float) -> Any:
        with ctx.masked():
            self.masked_entered[ctx.request_id] += 1
            await trio.sleep(seconds)
            self.masked_left[ctx.request_id] += 1
            self.masked_left_at[ctx.request_id] = trio.current_time()
        await ctx.checkpoint()
        return {"kind": "masked"}

    async def k_error(self, ctx: McpContext, seconds: float) -> Any:
        raise McpError(-32099, "refused on purpose")

    async def k_crash(self, ctx: McpContext, seconds: float) -> Any:
        raise RuntimeError("a bug in a handler")

    async def k_spawn(self, ctx: McpContext, seconds: float) -> Any:
        async def child() -> None:
            await trio.sleep(seconds)

        ctx.spawn(child)
        ctx.spawn(child)
        return {"kind": "spawn"}

    async def k_progress(self, ctx: McpContext, seconds: float) -> Any:
        for step in range(3):
            await ctx.report_progress(step, 3)
            await trio.sleep(seconds / 3)
        return {"kind": "progress"}

    async def k_ask(self, ctx: McpContext, seconds: float) -> Any:
        assert self.session is not None
        try:
            await self.session.request("ping", {}, dict, timeout=DEFAULT_TIMEOUT)
        except McpError as error:  # timed out, the peer's error, the connection closed
            return {"kind": "ask", "failed": error.code}
        return {"kind": "ask"}

    async def k_endless(self, ctx: McpContext, seconds: float) -> Any:
        while True:
            await ctx.checkpoint()
            await trio.sleep(seconds)


# -- the trio side, in a thread ----------------------------------------------------------


class TrioThread:
    """A trio run (on ``clock``) in a thread of its own; ``call`` runs an async
    function in it and returns its result."""

    def __init__(self, clock: trio.testing.MockClock) -> None:
        self.clock = clock
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self.nursery: trio.Nursery | None = None
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                self._ready.set()
                await self._stop.wait()
                nursery.cancel_scope.cancel()

        try:
            trio.run(main, clock=self.clock)
        except BaseException as exc:  # pragma: no cover - reported by close()
            self.failure = exc
            self._ready.set()

    def call(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def close(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the trio run did not end"
        if self.failure is not None:
            raise self.failure


def count_tasks() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return walk(root)


# -- the machine -------------------------------------------------------------------------


@attrs.define
class Sent:
    """A request the client sent."""

    rid: RequestId
    kind: str
    seconds: float
    cancelled: bool = False
    in_batch: bool = False


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = trio.testing.MockClock()
        self.trio = TrioThread(self.clock)
        self.requests: dict[RequestId, Sent] = {}
        self.next_id = 0
        self.seen_outgoing: set[int] = set()
        self.answered_outgoing: set[int] = set()
        self.ended = ""  # "eof", "drain", "gone" once the client side stopped
        self.wind_down_at = float("inf")  # when the grace of an EOF or a drain ends
        self.session_done = False
        self.crash: BaseException | None = None

    @initialize(
        request_timeout=st.sampled_from([None, None, 5.0, 20.0]),
        max_concurrency=st.sampled_from([1, 2, 8]),
        max_pending=st.sampled_from([2, 4, 64]),
        grace=st.sampled_from([0.0, 2.0, 10.0]),
    )
    def start(
        self, request_timeout: float | None, max_concurrency: int, max_pending: int, grace: float
    ) -> None:
        self.max_pending = max_pending
        self.request_timeout = request_timeout
        self.grace = grace
        self.kinds = Kinds()

        async def start() -> None:
            send, receive = trio.open_memory_channel[bytes](1000)
            self.feed = send
            self.transport = ScriptedTransport(receive)
            self.session = Session(
                self.transport,
                self.kinds,
                request_timeout=request_timeout,
                max_concurrency=max_concurrency,
                max_pending=max_pending,
                drain_on_eof=grace,
            )
            self.kinds.session = self.session
            self.session_ended = trio.Event()
            self.baseline = count_tasks()

            async def run() -> None:
                try:
                    await self.session.run()
                except BaseException as exc:
                    self.crash = exc
                finally:
                    self.session_done = True
                    self.session_ended.set()

            assert self.trio.nursery is not None
            self.trio.nursery.start_soon(run)
            await trio.testing.wait_all_tasks_blocked()

        self.trio.call(start)

    def teardown(self) -> None:
        try:
            if hasattr(self, "session"):
                self.finish()
        finally:
            self.trio.close()

    # -- sending ---------------------------------------------------------------------

    def _send(self, *frames: bytes) -> None:
        async def send() -> None:
            for frame in frames:
                self.feed.send_nowait(frame)
            await trio.testing.wait_all_tasks_blocked()

        self.trio.call(send)

    def _new_id(self, as_text: bool) -> RequestId:
        self.next_id += 1
        return f"r{self.next_id}" if as_text else self.next_id

    @precondition(lambda self: not self.ended)
    @rule(
        kind=st.sampled_from(KINDS),
        seconds=st.sampled_from(DURATIONS),
        as_text=st.booleans(),
        progress=st.booleans(),
    )
    def request(self, kind: str, seconds: float, as_text: bool, progress: bool) -> None:
        if kind == "endless" and self.request_timeout is None:
            # handlers that never end holding every place (max_pending): the reader
            # reads one frame ahead, so it sees the end of input only when nothing
            # more than that frame was sent before it (test_session_limits.py); after
            # more, only a budget ends them
            kind = "sleep"
        rid = self._new_id(as_text)
        params: dict[str, Any] = {"d": seconds}
        if progress:
            params["_meta"] = {"progressToken": f"p-{rid}"}
        self.requests[rid] = Sent(rid, kind, seconds)
        self._send(encode({"jsonrpc": "2.0", "id": rid, "method": f"t/{kind}", "params": params}))

    @precondition(lambda self: not self.ended)
    @rule(kinds=st.lists(st.sampled_from(["quick", "error", "sleep"]), min_size=1, max_size=3))
    def batch(self, kinds: list[str]) -> None:
        members = []
        for kind in kinds:
            rid = self._new_id(False)
            self.requests[rid] = Sent(rid, kind, 0.5, in_batch=True)
            members.append(
                {"jsonrpc": "2.0", "id": rid, "method": f"t/{kind}", "params": {"d": 0.5}}
            )
        members.append({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self._send(encode(members))

    @precondition(lambda self: not self.ended and self.requests)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.requests, key=str)))
        self.requests[rid].cancelled = True
        note = {"requestId": rid, "reason": "changed my mind"}
        self._send(encode({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": note}))

    @precondition(lambda self: not self.ended)
    @rule(rid=st.one_of(st.integers(10_000, 10_010), st.just("nobody")))
    def cancel_unknown(self, rid: RequestId) -> None:
        note = {"requestId": rid}
        self._send(encode({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": note}))

    @precondition(lambda self: not self.ended)
    @rule(method=st.sampled_from(["notifications/initialized", "notifications/x", "t/quick"]))
    def notification(self, method: str) -> None:
        self._send(encode({"jsonrpc": "2.0", "method": method}))

    @precondition(lambda self: not self.ended)
    @rule(frame=st.one_of(st.sampled_from(MALFORMED), st.binary(max_size=24)))
    def malformed(self, frame: bytes) -> None:
        self._send(frame)

    @precondition(lambda self: not self.ended and self.outgoing_waiting())
    @rule(data=st.data(), as_error=st.booleans())
    def answer_the_server(self, data: st.DataObject, as_error: bool) -> None:
        rid = data.draw(st.sampled_from(sorted(self.outgoing_waiting())))
        self.answered_outgoing.add(rid)
        if as_error:
            body: dict[str, Any] = {"error": {"code": -32000, "message": "no"}}
        else:
            body = {"result": {}}
        self._send(encode({"jsonrpc": "2.0", "id": rid, **body}))

    @precondition(lambda self: not self.ended)
    @rule(rid=st.sampled_from([0, 999_999, "x", None]))
    def answer_nobody(self, rid: RequestId | None) -> None:
        self._send(encode({"jsonrpc": "2.0", "id": rid, "result": {}}))

    # -- time and endings --------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.25, 1.0, 2.0, 5.0, 60.0, 3600.0]))
    def time_passes(self, seconds: float) -> None:
        self._advance(seconds)

    def _advance(self, seconds: float) -> None:
        async def advance() -> None:
            # the clock jumps from one timer to the next (autojump, only meanwhile), so
            # what each timer wakes runs before the next one fires
            self.clock.autojump_threshold = 0
            try:
                await trio.sleep(seconds)
            finally:
                self.clock.autojump_threshold = math.inf
            await trio.testing.wait_all_tasks_blocked()

        self.trio.call(advance)

    @precondition(lambda self: not self.ended)
    @rule()
    def client_closes_its_input(self) -> None:
        self.ended = "eof"
        self.wind_down_at = self.clock.current_time() + self.grace

        async def close() -> None:
            await self.feed.aclose()
            await trio.testing.wait_all_tasks_blocked()

        self.trio.call(close)

    @precondition(lambda self: not self.ended)
    @rule()
    def client_vanishes(self) -> None:
        self.ended = "gone"

        async def vanish() -> None:
            self.transport.gone = True
            await self.feed.aclose()
            await trio.testing.wait_all_tasks_blocked()

        self.trio.call(vanish)

    @precondition(lambda self: not self.ended)
    @rule(grace=st.sampled_from([0.0, 1.0, 10.0]))
    def server_drains(self, grace: float) -> None:
        self.ended = "drain"
        self.wind_down_at = self.clock.current_time() + grace

        async def drain() -> None:
            self.session.start_drain(grace)
            await trio.testing.wait_all_tasks_blocked()

        self.trio.call(drain)

    # -- what holds --------------------------------------------------------------------

    def outgoing_waiting(self) -> set[int]:
        return self.outgoing() - self.answered_outgoing

    def outgoing(self) -> set[int]:
        ids = set()
        for frame in list(self.transport.sent):
            message = msgspec.json.decode(frame)
            if isinstance(message, dict) and message.get("method") == "ping":
                ids.add(message["id"])
        return ids

    @invariant()
    def bounded_while_running(self) -> None:
        if not hasattr(self, "session"):
            return
        assert len(self.session._inflight) <= self.max_pending
        assert len(self.session._pending) <= self.max_pending
        assert self.crash is None, repr(self.crash)

    @invariant()
    def nothing_answered_twice(self) -> None:
        if hasattr(self, "transport"):
            counts = answers(self.transport.sent)
            assert all(n <= 1 for rid, n in counts.items() if rid not in (None, BAD)), counts

    def finish(self) -> None:
        if not self.ended:
            self.client_closes_its_input()

        async def wait_for_the_end() -> bool:
            self.clock.autojump_threshold = 0
            try:
                with trio.move_on_after(24 * 3600):  # far past every grace and timeout
                    await self.session_ended.wait()
            finally:
                self.clock.autojump_threshold = math.inf
            return self.session_done

        assert self.trio.call(wait_for_the_end), "the session did not end after its input did"
        assert self.crash is None, repr(self.crash)

        async def left() -> int:
            await trio.testing.wait_all_tasks_blocked()
            return count_tasks()

        assert self.trio.call(left) == self.baseline, "a task of the session is left"
        session = self.session
        assert session._inflight == {}
        assert session._pending == {}
        assert session._outstanding.value == self.max_pending
        assert session._running.value == session.max_concurrency
        assert self.kinds.masked_entered == self.kinds.masked_left
        self.check_answers()

    def masked_past_farewell(self, rid: RequestId) -> bool:
        """Whether ``rid``'s masked section ended after the wind-down's farewell: nobody
        waits for its answer then (as documented; test_session.py)."""
        left = self.kinds.masked_left_at.get(rid)
        return left is not None and left >= self.wind_down_at + FAREWELL  # a tie: either

    def check_answers(self) -> None:
        read = requests_read(self.transport.read)
        counts = answers(self.transport.sent)
        by_id = answers_by_id(self.transport.sent)
        unknown = set(counts) - set(self.requests) - {None, BAD}
        assert not unknown, f"answers for ids nobody sent: {unknown}"
        if self.ended == "eof":  # nothing stopped the reading: all was read
            assert read == set(self.requests), set(self.requests) - read
        for rid in read:
            sent = self.requests[rid]
            n = counts.get(rid, 0)
            if sent.cancelled or self.ended == "gone" or self.masked_past_farewell(rid):
                assert n <= 1
            else:
                assert n == 1, f"request {rid} ({sent.kind}) answered {n} times"
            if n:
                assert_kind(sent, by_id[rid], self.request_timeout, self.ended)


def answers(sent: list[bytes]) -> Counter[RequestId | None]:
    return Counter(rid for rid, _ in _responses(sent))


def answers_by_id(sent: list[bytes]) -> dict[RequestId, dict[str, Any]]:
    return {rid: message for rid, message in _responses(sent) if rid is not None}


def _responses(sent: list[bytes]) -> list[tuple[RequestId | None, dict[str, Any]]]:
    out = []
    for frame in sent:
        decoded = msgspec.json.decode(frame)
        for message in decoded if isinstance(decoded, list) else [decoded]:
            assert message["jsonrpc"] == "2.0"
            if "method" in message:
                continue  # the server's own requests and notifications
            assert ("result" in message) != ("error" in message), message
            out.append((message["id"], message))
    return out


def requests_read(read: list[bytes]) -> set[RequestId]:
    ids: set[RequestId] = set()
    for frame in read:
        try:
            decoded = msgspec.json.decode(frame)
        except msgspec.DecodeError:
            continue
        for message in decoded if isinstance(decoded, list) else [decoded]:
            if (
                isinstance(message, dict)
                and isinstance(message.get("method"), str)
                and message["method"].startswith("t/")
                and "id" in message
            ):
                ids.add(message["id"])
    return ids


SHUTDOWN = (-32603, "Server is shutting down")


def assert_kind(sent: Sent, answer: dict[str, Any], timeout: float | None, ended: str) -> None:
    """The answer is one the handler's kind can give."""
    error = answer.get("error")
    code = (error["code"], error["message"]) if error else None
    allowed: set[Any] = {SHUTDOWN}
    if timeout is not None:
        allowed.add(-32001)  # its budget ran out
    if sent.kind == "error":
        allowed.add((-32099, "refused on purpose"))
    elif sent.kind == "crash":
        allowed.add((-32603, "Internal error"))
    elif sent.kind != "endless":
        allowed.add(None)  # a result
    assert code in allowed or (code is not None and code[0] in allowed), (sent, answer)
    if code is None:
        assert answer["result"]["kind"] == sent.kind


TestSession = SessionMachine.TestCase
TestSession.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
