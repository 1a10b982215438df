"""Scale-out over HTTP with real processes: three replicas of one server
(``fastmcp run replica_server.py -t http --store redis://... --state-secret ...``)
share one real Redis and stand behind a real nginx balancing them round robin
(``nginx_server.py``, with the site docs/scale-out.md shows). The clients speak raw HTTP, so each test sees what each
response was and which replica gave it (nginx's ``X-Replica`` header).

Both eras: 2026-07-28 calls, input rounds and tasks land on any replica; a legacy
(2025-11-25) session is served by all three (its requests forwarded to the replica
that runs it), its streams resumed with ``Last-Event-ID`` on any replica with exactly
what was missed; a replica killed with SIGKILL and a Redis restart lose nothing that
was acknowledged.

Waiting is on conditions (a response, a marker file, a status), each polled with a
bounded guard (``WAIT``); nothing sleeps to synchronise.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import h11
import httpx
import msgspec
import pytest
import trio
from nginx_server import Balancer, balancer, free_port
from redis_server import RedisServer, redis_server

HERE = Path(__file__).parent
SERVER = HERE / "replica_server.py"
SECRET = "replicas-share-this-secret"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
CAPS = {"elicitation": {"form": {}}, "extensions": {"io.modelcontextprotocol/tasks": {}}}
ACCEPT = "application/json, text/event-stream"
WAIT = 30.0  # seconds any awaited condition may take before the test fails
_ids = itertools.count(1)


@attrs.frozen
class Event:
    """One SSE event of a response: its id (``None`` without), its message (a
    ``message`` event's JSON; ``None`` for a priming event) and its raw data."""

    id: str | None
    message: dict[str, Any] | None
    kind: str = "message"
    data: str = ""


def parse_sse(text: str) -> list[Event]:
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            if name in ("id", "data", "event"):
                fields[name] = value.removeprefix(" ")
        if "data" in fields:
            data, kind = fields["data"], fields.get("event", "message")
            message = msgspec.json.decode(data) if data and kind == "message" else None
            events.append(Event(fields.get("id"), message, kind, data))
    return events


@attrs.frozen
class Answer:
    """A response: its status, the replica that gave it, its messages (JSON or SSE)."""

    status: int
    replica: str
    headers: httpx.Headers
    events: list[Event]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [event.message for event in self.events if event.message is not None]

    @property
    def result(self) -> Any:
        (last,) = [m for m in self.messages if "result" in m or "error" in m]
        assert "result" in last, last
        return last["result"]


def _answer(response: httpx.Response, text: str) -> Answer:
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/event-stream"):
        events = parse_sse(text)
    elif kind.startswith("application/json") and text:
        decoded = msgspec.json.decode(text)
        events = [Event(None, m) for m in (decoded if isinstance(decoded, list) else [decoded])]
    else:
        events = []
    return Answer(
        response.status_code, response.headers.get("x-replica", ""), response.headers, events
    )


async def stream_sse(
    url: str,
    method: str,
    headers: dict[str, str],
    until: Callable[[list[Event]], bool],
    body: Any = None,
) -> tuple[int, list[Event]]:
    """Send a request on a connection of its own (h11 over trio) and read its SSE
    events until ``until(events)`` holds or the response ends; then close the
    connection (the client is gone, as far as the server can tell)."""
    parts = urlsplit(url)
    data = msgspec.json.encode(body) if body is not None else b""
    fields = [("host", parts.netloc), ("connection", "close"), *headers.items()]
    if body is not None:
        fields += [("content-type", "application/json"), ("content-length", str(len(data)))]
    connection = h11.Connection(h11.CLIENT)
    stream = await trio.open_tcp_stream(parts.hostname or "127.0.0.1", parts.port or 80)
    async with stream:
        await stream.send_all(
            connection.send(h11.Request(method=method, target=parts.path, headers=fields))
        )
        await stream.send_all(connection.send(h11.Data(data=data)) if data else b"")
        await stream.send_all(connection.send(h11.EndOfMessage()))
        buffer = b""
        code = 0
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await stream.receive_some(65536))
                continue
            if isinstance(event, h11.Response):
                code = event.status_code
            elif isinstance(event, h11.Data):
                buffer += bytes(event.data)
                events = parse_sse(buffer.decode())
                if until(events):
                    return code, events
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return code, parse_sse(buffer.decode())


def request(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or {}}


@attrs.define(eq=False)
class Cluster:
    """Redis, three replicas on loopback, nginx in front of them."""

    redis: RedisServer
    markers: Path
    http: httpx.AsyncClient
    ports: list[int]
    processes: dict[int, subprocess.Popen[bytes]]
    nginx: Balancer

    @property
    def url(self) -> str:
        return f"{self.nginx.url}/mcp"

    def replica_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/mcp"

    def port_of(self, answer: Answer) -> int:
        return int(answer.replica.rpartition(":")[2])

    async def post(self, body: Any, headers: dict[str, str], *, url: str | None = None) -> Answer:
        with trio.fail_after(WAIT):  # an SSE response's keep-alives defeat httpx's timeout
            response = await self.http.post(
                url or self.url, json=body, headers={"accept": ACCEPT, **headers}
            )
        return _answer(response, response.text)

    async def get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        with trio.fail_after(WAIT):
            return await self.http.get(url, headers=headers)

    async def delete(self, url: str, headers: dict[str, str]) -> httpx.Response:
        with trio.fail_after(WAIT):
            return await self.http.delete(url, headers=headers)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, name: str | None = None
    ) -> Answer:
        """A 2026-07-28 request through nginx."""
        params = dict(params or {})
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": CAPS,
            **params.get("_meta", {}),
        }
        headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
        name = name or params.get("taskId")
        if name is not None:
            headers["mcp-name"] = name
        answer = await self.post(request(method, params), headers)
        assert answer.status == 200, answer
        return answer

    async def tool(self, name: str, **arguments: Any) -> Answer:
        return await self.call("tools/call", {"name": name, "arguments": arguments}, name=name)


@attrs.define(eq=False)
class LegacySession:
    """A 2025-11-25 session, opened through nginx or one replica."""

    cluster: Cluster
    session_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"mcp-session-id": self.session_id, "mcp-protocol-version": LEGACY}

    async def open(self, url: str | None = None) -> Answer:
        init = request(
            "initialize",
            {
                "protocolVersion": LEGACY,
                "capabilities": {"elicitation": {}},
                "clientInfo": {"name": "scale-out test", "version": "1"},
            },
        )
        answer = await self.cluster.post(init, {}, url=url)
        assert answer.status == 200, answer
        self.session_id = answer.headers["mcp-session-id"]
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await self.cluster.post(note, self.headers, url=url)).status == 202
        return answer

    async def send(self, message: dict[str, Any], *, url: str | None = None) -> Answer:
        return await self.cluster.post(message, self.headers, url=url)

    async def tool(self, name: str, *, url: str | None = None, **arguments: Any) -> Answer:
        return await self.send(
            request("tools/call", {"name": name, "arguments": arguments}), url=url
        )


def _start(port: int, store: str, markers: Path, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "fastmcp", "run", str(SERVER), "-t", "http"]
    argv += ["--port", str(port), "--store", store, "--state-secret", SECRET]
    env = {**os.environ, "MARKERS": str(markers), "FASTMCP_STORE": "", "FASTMCP_STATE_SECRET": ""}
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )


async def _listening(http: httpx.AsyncClient, port: int, process: subprocess.Popen[bytes]) -> None:
    with trio.fail_after(WAIT):
        while True:
            assert process.poll() is None, f"the replica on {port} exited"
            try:
                await http.get(f"http://127.0.0.1:{port}/mcp")
            except httpx.TransportError:
                await trio.sleep(0.05)
            else:
                return


@asynccontextmanager
async def cluster(
    redis: RedisServer, folder: Path, *, lease: float = 10.0
) -> AsyncIterator[Cluster]:
    """Three replicas (a prefix of their own on the one Redis) behind nginx."""
    store = f"{redis.url}?prefix=h{secrets.token_hex(4)}&lease={lease:g}"
    markers = folder / "markers"
    markers.mkdir(parents=True, exist_ok=True)
    ports = [free_port() for _ in range(3)]
    processes = {
        port: _start(port, store, markers, folder / f"replica-{port}.log") for port in ports
    }
    try:
        async with httpx.AsyncClient(timeout=WAIT) as http:
            for port, process in processes.items():
                await _listening(http, port, process)
            with balancer(folder / "nginx", ports) as nginx:  # docs/scale-out.md's site
                yield Cluster(redis, markers, http, ports, processes, nginx)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


def text(result: Any) -> str:
    return str(result["content"][0]["text"])


async def appears(path: Path) -> None:
    """Wait until ``path`` exists (a replica's tool wrote it; bounded)."""
    with trio.fail_after(WAIT):
        while True:
            if await trio.Path(path).exists():
                return
            await trio.sleep(0.01)


async def status(c: Cluster, task_id: str, until: set[str]) -> dict[str, Any]:
    """Ask any replica (through nginx) until the task's status is one of ``until``."""
    with trio.fail_after(WAIT):
        while True:
            state = (await c.call("tasks/get", {"taskId": task_id})).result
            if state["status"] in until:
                return state  # type: ignore[no-any-return]
            await trio.sleep(0.02)


# -- 2026-07-28 ----------------------------------------------------------------------------


async def test_modern_calls_input_rounds_and_tasks_on_any_replica(
    redis: RedisServer, tmp_path: Path
) -> None:
    async with cluster(redis, tmp_path) as c:
        answers = [await c.tool("whoami") for _ in range(6)]
        assert {a.replica for a in answers} == {f"127.0.0.1:{p}" for p in c.ports}
        assert len({text(a.result) for a in answers}) == 3  # three processes answered

        # an input round begun on one replica ends on the next (round robin)
        first = await c.tool("greet")
        assert first.result["resultType"] == "input_required"
        answer = {"name": {"action": "accept", "content": {"name": "Ada"}}}
        second = await c.call(
            "tools/call",
            {
                "name": "greet",
                "inputResponses": answer,
                "requestState": first.result["requestState"],
            },
            name="greet",
        )
        assert second.replica != first.replica
        assert text(second.result).startswith("Hello Ada from ")

        # a task created on one replica, its cancel landing on another: the cancel wins
        created = await c.call(
            "tools/call",
            {"name": "deliver", "arguments": {"name": "job", "seconds": 30}, "task": {}},
            name="deliver",
        )
        task_id = created.result["taskId"]
        await appears(c.markers / "job.started")
        cancel = await c.call("tasks/cancel", {"taskId": task_id})
        assert cancel.replica != created.replica
        await appears(c.markers / "job.ended")
        assert not (c.markers / "job.delivered").exists()
        assert (await status(c, task_id, {"cancelled"}))["status"] == "cancelled"

        # a task that ends is read on every replica
        done = await c.call(
            "tools/call",
            {"name": "compute", "arguments": {"seconds": 0.2}, "task": {}},
            name="compute",
        )
        finished = await status(c, done.result["taskId"], {"completed"})
        assert text(finished["result"]) == "computed after 0.2s"


# -- 2025-11-25 sessions -------------------------------------------------------------------


async def test_a_legacy_session_is_served_by_all_three_replicas(
    redis: RedisServer, tmp_path: Path
) -> None:
    async with cluster(redis, tmp_path) as c:
        session = LegacySession(c)
        opened = await session.open()
        owner = c.port_of(opened)
        answers = [await session.tool("whoami") for _ in range(6)]
        assert all(a.status == 200 for a in answers), answers
        assert {a.replica for a in answers} == {f"127.0.0.1:{p}" for p in c.ports}
        # every request ran in the one session, on the replica that holds it
        assert len({text(a.result) for a in answers}) == 1
        assert text(answers[0].result) == str(c.processes[owner].pid)
        # ctx.http on the owner is each POST's own, wherever it landed (no credentials
        # cross the bus)
        for n, port in enumerate(c.ports):
            probed = await c.post(
                request("tools/call", {"name": "probe", "arguments": {}}),
                {**session.headers, "x-probe": f"p{n}", "authorization": "Basic c2VjcmV0"},
                url=c.replica_url(port),
            )
            assert probed.status == 200, probed
            forwarded = port != owner
            assert text(probed.result) == (
                f"p{n} None True" if forwarded else f"p{n} Basic c2VjcmV0 True"
            )

        # a server-to-client request crosses replicas: asked on one stream, answered by
        # a POST that lands elsewhere, the tool's answer on the first stream
        async with trio.open_nursery() as nursery:
            asked: list[Answer] = []
            # the question comes on the tool call's stream: read it live
            done = trio.Event()
            question: list[dict[str, Any]] = []

            body = request("tools/call", {"name": "greet", "arguments": {}})

            def answered(events: list[Event]) -> bool:
                for event in events:
                    message = event.message or {}
                    if message.get("method") == "elicitation/create" and not question:
                        question.append(message)
                        done.set()
                    if message.get("id") == body["id"] and "method" not in message:
                        return True
                return False

            async def stream_greet() -> None:
                headers = {"accept": ACCEPT, **session.headers}
                url = c.replica_url(c.ports[1])
                code, events = await stream_sse(url, "POST", headers, answered, body)
                asked.append(Answer(code, "", httpx.Headers(), events[-1:]))

            nursery.start_soon(stream_greet)
            with trio.fail_after(WAIT):
                await done.wait()
            reply = {
                "jsonrpc": "2.0",
                "id": question[0]["id"],
                "result": {"action": "accept", "content": {"name": "Bo"}},
            }
            assert (await session.send(reply, url=c.replica_url(c.ports[2]))).status == 202
        assert text(asked[0].result) == f"Hello Bo from {c.processes[owner].pid}"

        # DELETE on any replica ends it for all
        gone = await c.delete(c.url, headers=session.headers)
        assert gone.status_code == 200
        for port in c.ports:
            with trio.fail_after(WAIT):
                while True:  # a replica may still be forwarding to the owner that ended it
                    if (await session.tool("whoami", url=c.replica_url(port))).status == 404:
                        break
                    await trio.sleep(0.02)


async def test_last_event_id_on_a_third_replica_returns_exactly_the_missing_suffix(
    redis: RedisServer, tmp_path: Path
) -> None:
    async with cluster(redis, tmp_path) as c:
        first, second, third = (c.replica_url(p) for p in c.ports)
        session = LegacySession(c)
        await session.open(first)
        body = request(
            "tools/call",
            {"name": "count", "arguments": {"n": 6, "gate": "gate"}, "_meta": {"progressToken": 7}},
        )
        headers = {"accept": ACCEPT, **session.headers}

        def half(events: list[Event]) -> bool:
            return len([e for e in events if e.message is not None]) >= 3

        # on the second replica: read the first half, then lose the connection
        _, events = await stream_sse(second, "POST", headers, half, body)
        seen = [e for e in events if e.message is not None]
        assert [e.message["params"]["progress"] for e in seen if e.message] == [1, 2, 3]
        last = seen[-1].id
        assert last is not None
        (c.markers / "gate").write_text("")  # the tool goes on while nobody listens
        resumed = await c.get(
            third, headers={"accept": "text/event-stream", "last-event-id": last, **session.headers}
        )
        assert resumed.status_code == 200
        events = parse_sse(resumed.text)
        messages = [e.message for e in events if e.message is not None]
        assert [m["params"]["progress"] for m in messages[:-1]] == [4, 5, 6]
        assert text(messages[-1]["result"]) == "counted 6"
        assert messages[-1]["id"] == body["id"]
        # and from the very first event, on the first replica: the whole stream, once
        again = await c.get(
            first,
            headers={
                "accept": "text/event-stream",
                "last-event-id": seen[0].id or "",
                **session.headers,
            },
        )
        replayed = [e.message for e in parse_sse(again.text) if e.message is not None]
        assert [m["params"]["progress"] for m in replayed[:-1]] == [2, 3, 4, 5, 6]
        # an id of another session's stream is refused
        other = LegacySession(c)
        await other.open(third)
        refused = await c.get(
            third, headers={"accept": "text/event-stream", "last-event-id": last, **other.headers}
        )
        assert refused.status_code == 400


async def test_changes_reach_listeners_on_every_replica_in_both_eras(
    redis: RedisServer, tmp_path: Path
) -> None:
    async with cluster(redis, tmp_path) as c:
        first, second, third = (c.replica_url(p) for p in c.ports)
        session = LegacySession(c)
        await session.open(first)
        subscribed = await session.send(
            request("resources/subscribe", {"uri": "config://app"}), url=second
        )
        assert subscribed.status == 200
        heard: dict[str, list[dict[str, Any]]] = {"legacy": [], "modern": []}
        ready = {"legacy": trio.Event(), "modern": trio.Event()}
        changed = trio.Event()

        def reader(kind: str) -> Callable[[list[Event]], bool]:
            def read(events: list[Event]) -> bool:
                ready[kind].set()
                heard[kind] = [e.message for e in events if e.message is not None]
                if all(
                    any(m.get("method") == "notifications/resources/updated" for m in h)
                    for h in heard.values()
                ):
                    changed.set()
                return False

            return read

        async def legacy_get() -> None:  # the session's GET stream, on the third replica
            headers = {"accept": "text/event-stream", **session.headers}
            await stream_sse(third, "GET", headers, reader("legacy"))

        async def modern_listen() -> None:  # a 2026 listener, on the second replica
            wanted = {"resourceSubscriptions": ["config://app"]}
            params = {
                "notifications": wanted,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": CAPS,
                },
            }
            headers = {
                "accept": ACCEPT,
                "mcp-protocol-version": MODERN,
                "mcp-method": "subscriptions/listen",
            }
            body = request("subscriptions/listen", params)
            await stream_sse(second, "POST", headers, reader("modern"), body)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(legacy_get)
            nursery.start_soon(modern_listen)
            with trio.fail_after(WAIT):
                await ready["legacy"].wait()
                await ready["modern"].wait()
                # touched on the first replica (each touch is a hint: touch until heard,
                # since a GET that just opened may not follow its log yet)
                while not changed.is_set():
                    touch = {"uri": "config://app"}
                    await c.call("tools/call", {"name": "touch", "arguments": touch}, name="touch")
                    with trio.move_on_after(0.5):
                        await changed.wait()
            nursery.cancel_scope.cancel()
        legacy_updates = [
            m for m in heard["legacy"] if m.get("method") == "notifications/resources/updated"
        ]
        assert legacy_updates[0]["params"] == {"uri": "config://app"}


async def test_a_legacy_task_is_cancelled_from_another_replica(
    redis: RedisServer, tmp_path: Path
) -> None:
    async with cluster(redis, tmp_path) as c:
        first, second, third = (c.replica_url(p) for p in c.ports)
        session = LegacySession(c)
        await session.open(first)
        created = await session.send(
            request(
                "tools/call",
                {"name": "deliver", "arguments": {"name": "old", "seconds": 30}, "task": {}},
            ),
            url=second,
        )
        task_id = created.result["task"]["taskId"]
        await appears(c.markers / "old.started")
        cancelled = await session.send(request("tasks/cancel", {"taskId": task_id}), url=third)
        assert cancelled.status == 200
        await appears(c.markers / "old.ended")
        assert not (c.markers / "old.delivered").exists()
        state = await session.send(request("tasks/get", {"taskId": task_id}), url=first)
        assert state.result["status"] == "cancelled"


# -- failures --------------------------------------------------------------------------------


async def test_a_killed_replica_loses_nothing_acknowledged(
    redis: RedisServer, tmp_path: Path
) -> None:
    async with cluster(redis, tmp_path, lease=1.0) as c:
        first, second, third = (c.replica_url(p) for p in c.ports)
        session = LegacySession(c)
        await session.open(first)
        answered = await session.tool("whoami", url=second)
        assert text(answered.result) == str(c.processes[c.ports[0]].pid)
        done = await c.call(
            "tools/call",
            {"name": "compute", "arguments": {"seconds": 0}, "task": {}},
            name="compute",
        )
        await status(c, done.result["taskId"], {"completed"})
        # a stream of the session, answered and acknowledged before the crash
        body = request(
            "tools/call",
            {"name": "count", "arguments": {"n": 2, "gate": "open"}, "_meta": {"progressToken": 1}},
        )
        (c.markers / "open").write_text("")
        streamed = await session.send(body, url=first)
        first_id = streamed.events[0].id
        assert first_id is not None

        c.processes[c.ports[0]].send_signal(signal.SIGKILL)  # the session's replica
        c.processes[c.ports[0]].wait()

        # the session goes on: adopted by another replica once the lease ran out
        with trio.fail_after(WAIT):
            while True:
                again = await session.tool("whoami", url=third)
                if again.status == 200 and again.messages:
                    break
                # forwarded to the dead replica: refused (503), or its stream ended
                # unanswered once the lease ran out (a client would resume it): retry
                assert again.status in (200, 503), again
                await trio.sleep(0.1)
        adopter = text(again.result)
        assert adopter in {str(c.processes[p].pid) for p in c.ports[1:]}
        # ...and is the same session everywhere from now on
        for url in (second, third, c.url):
            later = await session.tool("whoami", url=url)
            assert later.status == 200, (url, later)
            assert text(later.result) == adopter
        # what was answered before is still there
        replay = await c.get(
            second,
            headers={"accept": "text/event-stream", "last-event-id": first_id, **session.headers},
        )
        messages = [e.message for e in parse_sse(replay.text) if e.message is not None]
        assert text(messages[-1]["result"]) == "counted 2"
        assert (await status(c, done.result["taskId"], {"completed"}))["status"] == "completed"
        # and nginx sends the rest of the traffic to the living replicas
        for _ in range(4):
            assert text((await c.tool("whoami")).result) != str(c.processes[c.ports[0]].pid)


async def test_a_redis_restart_loses_nothing_acknowledged(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        async with cluster(server, tmp_path) as c:
            first, second, third = (c.replica_url(p) for p in c.ports)
            session = LegacySession(c)
            await session.open(first)
            body = request(
                "tools/call",
                {
                    "name": "count",
                    "arguments": {"n": 2, "gate": "open"},
                    "_meta": {"progressToken": 1},
                },
            )
            (c.markers / "open").write_text("")
            streamed = await session.send(body, url=second)
            first_id = streamed.events[0].id
            assert first_id is not None
            done = await c.call(
                "tools/call",
                {"name": "compute", "arguments": {"seconds": 0}, "task": {}},
                name="compute",
            )
            await status(c, done.result["taskId"], {"completed"})

            await trio.to_thread.run_sync(server.restart)  # SIGKILL, then start again

            # the session, its stream and the task are all still there
            with trio.fail_after(WAIT):
                while True:
                    again = await session.tool("whoami", url=third)
                    if again.status == 200:
                        break
                    assert again.status == 503, again  # the store is reconnecting
                    await trio.sleep(0.1)
            assert text(again.result) == str(c.processes[c.ports[0]].pid)
            replay = await c.get(
                third,
                headers={
                    "accept": "text/event-stream",
                    "last-event-id": first_id,
                    **session.headers,
                },
            )
            messages = [e.message for e in parse_sse(replay.text) if e.message is not None]
            assert text(messages[-1]["result"]) == "counted 2"
            assert (await status(c, done.result["taskId"], {"completed"}))["status"] == "completed"


async def test_an_http_sse_session_takes_its_posts_on_every_replica(
    redis: RedisServer, tmp_path: Path
) -> None:
    """2024-11-05: the one GET stream stays on its replica; POSTs land anywhere."""
    async with cluster(redis, tmp_path) as c:
        first = f"http://127.0.0.1:{c.ports[0]}"
        seen: list[Event] = []
        changed = trio.Event()

        def read(events: list[Event]) -> bool:
            nonlocal changed
            seen[:] = events
            changed.set()
            changed = trio.Event()
            return False

        async def wait_for(check: Callable[[list[Event]], bool]) -> None:
            with trio.fail_after(WAIT):
                while not check(seen):
                    await changed.wait()

        def answered(request_id: int) -> Callable[[list[Event]], bool]:
            return lambda events: any((e.message or {}).get("id") == request_id for e in events)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                stream_sse, f"{first}/sse", "GET", {"accept": "text/event-stream"}, read
            )
            await wait_for(lambda events: any(e.kind == "endpoint" for e in events))
            (endpoint,) = [e.data for e in seen if e.kind == "endpoint"]
            replicas = [f"http://127.0.0.1:{port}{endpoint}" for port in c.ports]
            init = request(
                "initialize",
                {
                    "protocolVersion": "2024-11-05",
                    "capabilities": {},
                    "clientInfo": {"name": "old client", "version": "1"},
                },
            )
            assert (await c.post(init, {}, url=replicas[1])).status == 202
            await wait_for(answered(init["id"]))
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert (await c.post(note, {}, url=replicas[2])).status == 202
            calls = []
            for url in (*replicas, f"{c.nginx.url}{endpoint}"):
                call = request("tools/call", {"name": "whoami", "arguments": {}})
                assert (await c.post(call, {}, url=url)).status == 202
                calls.append(call["id"])
            for call_id in calls:
                await wait_for(answered(call_id))
            answers = [e.message for e in seen if (e.message or {}).get("id") in calls]
            assert {text(m["result"]) for m in answers if m} == {str(c.processes[c.ports[0]].pid)}
            nursery.cancel_scope.cancel()
        # the stream is gone: so is the session, on every replica
        with trio.fail_after(WAIT):
            while True:
                late = await c.post(request("ping"), {}, url=replicas[1])
                if late.status == 404:
                    break
                await trio.sleep(0.02)
