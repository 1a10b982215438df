"""What a shared Redis store costs a replica, and what replicas behind nginx serve.

Two parts, in one run, on a redis-server and an nginx this script starts (both on
127.0.0.1; they are installed as the integration tests do when missing):

* **cost**: per era, two replicas (``Server`` with an ``echo`` tool on ``serve_h1``)
  side by side, one without a store and one with ``store="redis://..."``, each with
  its own keep-alive client sending sequential ``tools/call`` POSTs (2026-07-28: one
  POST each, JSON; 2025-11-25: in a session, each answered as SSE). After
  ``--warmup`` calls each (a legacy session's steady state: past its first 1 024
  streams, when the oldest start to be dropped), ``--reps`` rounds of ``--calls``
  calls alternate between the two (no store first in even rounds, Redis first in odd
  ones), so that what else the machine does weighs on both alike. Measured per round:
  the replica's CPU per call (``/proc/PID/task/*/schedstat``: nanoseconds of every
  thread, no clock tick involved) and Redis commands per call (``INFO stats``'s
  ``total_commands_processed`` before and after, less what the replica sends while
  idle - its lease and heartbeat - over the same time). The table gives medians
  with their range over the rounds; the CPU the store adds is the median of each
  round's ratio (Redis round over the no-store round next to it);
* **throughput**: 1 and 3 replicas with the Redis store behind nginx (round robin),
  ``--clients`` threads each sending 2026-07-28 calls on a keep-alive connection for
  ``--seconds``: calls per second. This machine is small and shared: the replicas,
  nginx, Redis and the clients compete for the same cores.

Redis runs as docs/scale-out.md recommends (``appendfsync everysec``): syncing its
file on every write (``always``) puts the disk's journal work on the same two cores
at each call, which moves the rounds with Redis far more than the store's own work.

    python benchmarks/scale_out.py [--calls 1000] [--reps 15] [--clients 8] [--seconds 5]

Writes the tables on stdout (markdown) and, with ``--out``, into that file.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests-integration"))

from http_server_cpu import Client, caller, cpu_ns  # noqa: E402

TARGETS = {"mcp-modern": 10.0, "mcp-legacy": 30.0}
"""The most CPU per call the store may add, in percent, per era."""


def serve(store: str) -> None:
    """A replica (a child process): ``echo`` on ``serve_h1``, with ``store`` (``-``: none),
    on a port of its own choosing, told on its first line (``READY PORT``): a port picked
    by the parent and bound later could be taken meanwhile by one of the many
    connections a run opens."""
    from functools import partial

    import trio

    from fastmcp_server import Server
    from fastmcp_transport.http_server import serve_h1

    mcp = Server(
        "bench", "0.1.0", store=None if store == "-" else store, state_secret=b"bench-secret"
    )

    @mcp.tool
    async def echo(message: str) -> str:
        """Echo the message back."""
        return message

    async def main() -> None:
        app = mcp.http_app()
        async with mcp.running(), trio.open_nursery() as nursery:
            address = await nursery.start(partial(serve_h1, app, port=0))
            print(f"READY {address.port}", flush=True)

    trio.run(main)


def redis_commands(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"INFO stats\r\n")
        data = b""
        while b"total_commands_processed" not in data or not data.endswith(b"\r\n"):
            data += sock.recv(65536)
    for line in data.decode().splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":")[1])
    raise RuntimeError("no total_commands_processed in INFO stats")


def start_replica(store: str, name: str = "") -> tuple[subprocess.Popen[str], int]:
    """A replica process and the port it listens on."""
    argv = [sys.executable, str(Path(__file__).resolve()), "serve", store]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"the replica {name} did not start: {line!r}")
    return process, int(line.split()[1])


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


STORES = ("memory", "redis")


def waits(pid: int) -> int:
    """How many times the process's threads gave up their CPU to wait (voluntary
    context switches): each is a wake-up the replica pays for."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
    return total


def idle_commands(redis_port: int, seconds: float = 1.0) -> float:
    """Redis commands per second while the replicas are idle (leases, heartbeats)."""
    before, started = redis_commands(redis_port), time.perf_counter()
    time.sleep(seconds)
    return (redis_commands(redis_port) - before - 1) / (time.perf_counter() - started)


def cost(
    era: str, url: str, redis_port: int, calls: int, reps: int, warmup: int
) -> dict[str, list[dict[str, float]]]:
    """The rounds of one era (see the module docstring): per store, each round's CPU
    and Redis commands per call."""
    stores = {"memory": "-", "redis": url}
    ports: dict[str, int] = {}
    processes: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in STORES:
            processes[name], ports[name] = start_replica(stores[name], name)
        clients = {name: Client(ports[name]) for name in STORES}
        calls_of = {name: caller(era, clients[name]) for name in STORES}
        for name in STORES:
            for i in range(warmup):
                calls_of[name](i)
        idle_rate = idle_commands(redis_port)
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in STORES}
        for rep in range(reps):
            for name in STORES if rep % 2 == 0 else STORES[::-1]:
                call, pid = calls_of[name], processes[name].pid
                reconnect(clients[name])  # idle past its keep-alive during the other's round
                first = warmup + rep * calls
                commands, cpu, slept, started = (
                    redis_commands(redis_port),
                    cpu_ns(pid),
                    waits(pid),
                    time.perf_counter(),
                )
                for i in range(first, first + calls):
                    call(i)
                wall = time.perf_counter() - started
                cpu = cpu_ns(pid) - cpu
                slept = waits(pid) - slept
                commands = redis_commands(redis_port) - commands - 1  # less the INFO itself
                rounds[name].append(
                    {
                        "cpu_us": cpu / calls / 1000,
                        "waits_per_call": slept / calls,
                        "redis_per_call": max(0.0, (commands - idle_rate * wall) / calls),
                    }
                )
        for client in clients.values():
            client.sock.close()
    finally:
        for process in processes.values():
            stop(process)
    return rounds


def reconnect(client: Client) -> None:
    """A new connection for ``client`` (a legacy session is named by its header, not
    by the connection: it goes on)."""
    client.sock.close()
    client.sock = client._connect()
    client.buffer = b""


def spread(values: list[float], digits: int = 1) -> str:
    """``median (min-max)``."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def forwarded(url: str, redis_port: int, calls: int, warmup: int) -> dict[str, float]:
    """2025-11-25 calls sent to a replica that does not hold their session (opened on
    another): CPU of both replicas and Redis commands per call."""
    import json

    from http_server_cpu import ACCEPT, LEGACY, _message

    replicas = [start_replica(url) for _ in range(2)]
    processes, ports = [process for process, _ in replicas], [port for _, port in replicas]
    try:
        owner, other = Client(ports[0]), Client(ports[1])
        init = {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "b", "version": "1"},
        }
        base = {"content-type": "application/json", "accept": ACCEPT}
        status, found, _ = owner.post(base, _message(0, "initialize", init))
        assert status == 200, status
        session = {
            **base,
            "mcp-session-id": found["mcp-session-id"],
            "mcp-protocol-version": LEGACY,
        }
        note = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
        assert owner.post(session, note)[0] == 202

        def call(i: int) -> None:
            body = json.dumps(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                 "params": {"name": "echo", "arguments": {"message": f"m{i}"}}}
            ).encode()  # fmt: skip
            status, _, answer = other.post(session, body)
            assert status == 200, status
            assert b'"result"' in answer, answer

        for i in range(warmup):
            call(i)
        commands = redis_commands(redis_port)
        cpu = sum(cpu_ns(p.pid) for p in processes)
        started = time.perf_counter()
        for i in range(calls):
            call(i)
        wall = time.perf_counter() - started
        cpu = sum(cpu_ns(p.pid) for p in processes) - cpu
        commands = redis_commands(redis_port) - commands - 1
    finally:
        for process in processes:
            stop(process)
    return {
        "cpu_us": cpu / calls / 1000,
        "redis_per_call": commands / calls,
        "wall_us": wall / calls * 1e6,
    }


def throughput(port: int, clients: int, seconds: float) -> float:
    done = [0] * clients
    stop_at = time.monotonic() + seconds
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            client = Client(port)
            call = caller("mcp-modern", client)
            while time.monotonic() < stop_at:
                call(done[index])
                done[index] += 1
            client.sock.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    from nginx_server import balancer
    from redis_server import redis_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=1500)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines: list[str] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        redis_server(Path(folder) / "redis", appendfsync="everysec") as redis,
    ):
        url = f"{redis.url}?prefix=bench"
        lines += [
            f"One replica per store and era, {args.warmup} calls each first, then"
            f" {args.reps} rounds of {args.calls} sequential calls alternating between the"
            " two: medians (min-max) over the rounds; CPU added: the median of each round's"
            " ratio to the no-store round beside it. Redis on the same machine, its file"
            " synced once a second (appendfsync everysec).",
            "",
            "| era | CPU µs/call, no store | CPU µs/call, Redis | CPU added | target | Redis commands/call |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        notes = []
        for era, target in TARGETS.items():
            rounds = cost(era, url, redis.port, args.calls, args.reps, args.warmup)
            plain = [r["cpu_us"] for r in rounds["memory"]]
            shared = [r["cpu_us"] for r in rounds["redis"]]
            for index, (a, b) in enumerate(zip(plain, shared, strict=True)):
                print(
                    f"round {index + 1} {era}: {a:.1f} / {b:.1f} us CPU/call (no store / Redis), "
                    f"{rounds['redis'][index]['redis_per_call']:.2f} Redis commands/call",
                    file=sys.stderr,
                )
            added = [(b / a - 1) * 100 for a, b in zip(plain, shared, strict=True)]
            ops = statistics.median(r["redis_per_call"] for r in rounds["redis"])
            verdict = "met" if statistics.median(added) <= target else "MISSED"
            label = "2026-07-28" if era == "mcp-modern" else "2025-11-25"
            lines.append(
                f"| {label} | {spread(plain)} | {spread(shared)} | "
                f"{statistics.median(added):+.1f}% ({min(added):+.1f}..{max(added):+.1f}%) | "
                f"≤{target:g}% ({verdict}) | {ops:.2f} |"
            )
            waited = [
                statistics.median(r["waits_per_call"] for r in rounds[name]) for name in STORES
            ]
            notes.append(f"{label}: {waited[0]:.2f} without a store, {waited[1]:.2f} with Redis")
        lines += [
            "",
            "How often the replica waited for something per call (voluntary context switches,"
            " medians; each wake-up costs it CPU): " + "; ".join(notes) + ".",
        ]
        forwarded_reps = min(args.reps, 3)
        runs = [
            forwarded(url, redis.port, args.calls, min(args.warmup, 300))
            for _ in range(forwarded_reps)
        ]
        cpu = spread([r["cpu_us"] for r in runs], 0)
        ops = statistics.median(r["redis_per_call"] for r in runs)
        wall = spread([r["wall_us"] for r in runs], 0)
        lines += [
            "",
            "A 2025-11-25 call on the replica that does not hold its session (forwarded),"
            f" medians (min-max) of {forwarded_reps} runs of {args.calls} calls:"
            f" {cpu} µs of CPU over both replicas, {ops:.1f} Redis commands"
            f" (idle ones included), {wall} µs of wall time per call.",
        ]
        lines += [
            "",
            f"Through nginx (round robin), the Redis store, {args.clients} client threads, "
            f"{args.seconds:g} s each, 2026-07-28 calls:",
            "",
            "| replicas | calls/s |",
            "|---:|---:|",
        ]
        for count in (1, 3):
            replicas = [start_replica(url) for _ in range(count)]
            processes, ports = [p for p, _ in replicas], [port for _, port in replicas]
            try:
                with balancer(Path(folder) / f"nginx-{count}", ports) as nginx:
                    rate = throughput(nginx.port, args.clients, args.seconds)
            finally:
                for process in processes:
                    stop(process)
            lines.append(f"| {count} | {rate:.0f} |")
    lines += ["", f"Machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at the end."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        main()
