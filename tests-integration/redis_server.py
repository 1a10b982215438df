"""A real Redis for the tests: ``redis-server`` on 127.0.0.1, started by the tests.

``redis_binary()`` finds ``redis-server`` on PATH and, when it is missing, installs it
with the system's package manager (the ``redis-server`` package; see
``system_programs``). When that cannot be done the tests that need Redis fail with one
line naming what is missing; they never skip.

``RedisServer`` runs one server on a free port, in a folder of its own, with an
append-only file written on every command (``appendfsync always``): a write Redis
acknowledged survives ``restart()``, whether it stops gracefully or is killed.
(``appendfsync="everysec"``, the setting docs/scale-out.md recommends, syncs it once
a second instead: what the benchmarks run against.)
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
from system_programs import system_program

START_TIMEOUT = 20.0  # seconds for redis-server to answer PING


def redis_binary() -> str:
    """The path of ``redis-server`` (installed first when missing; see
    ``system_programs``)."""
    return system_program("redis-server", ["redis-server"], "the Redis tests need Redis 7")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@attrs.define(eq=False)
class RedisServer:
    """One redis-server on 127.0.0.1 (see the module docstring)."""

    folder: Path
    port: int = attrs.field(factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    appendfsync: str = "always"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers (its log in ``folder/redis.log``)."""
        argv = [
            redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.folder), "--save", "", "--appendonly", "yes",
            "--appendfsync", self.appendfsync, "--logfile", "redis.log", "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(self.port):
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {err}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on {self.port} in time")
            time.sleep(0.02)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """Stop it (SIGTERM: gracefully; SIGKILL: as a crash) and wait for its end."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(timeout=30)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def restart(self, how: signal.Signals = signal.SIGKILL) -> None:
        """Stop it and start it again on the same port and files."""
        self.stop(how)
        self.start()


@contextmanager
def redis_server(folder: Path, *, appendfsync: str = "always") -> Iterator[RedisServer]:
    """A running ``RedisServer`` in ``folder``, stopped at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    server = RedisServer(folder, appendfsync=appendfsync)
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)
