"""A real Redis for the tests: ``redis-server`` on 127.0.0.1, started by the tests.

``redis_binary()`` finds ``redis-server`` on PATH and, when it is missing, installs it
with the system's package manager (``apt-get install -y redis-server``; as root, under
a file lock so that parallel test runs wait for one another, like ``peers.py``). When
that cannot be done the tests that need Redis fail with one line naming what is
missing; they never skip.

``RedisServer`` runs one server on a free port, in a folder of its own, with an
append-only file written on every command (``appendfsync always``): a write Redis
acknowledged survives ``restart()``, whether it stops gracefully or is killed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import peers

START_TIMEOUT = 20.0  # seconds for redis-server to answer PING
INSTALL_TIMEOUT = 600


class RedisMissing(RuntimeError):
    """redis-server is not installed and could not be."""


def redis_binary() -> str:
    """The path of ``redis-server`` (installed first when missing; see the module)."""
    found = shutil.which("redis-server")
    if found:
        return found
    peers.CACHE.mkdir(parents=True, exist_ok=True)
    with open(peers.CACHE / ".redis-server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            found = shutil.which("redis-server")
            if found:
                return found
            _install()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    found = shutil.which("redis-server")
    if not found:
        raise RedisMissing("redis-server is missing: apt-get installed it but it is not on PATH")
    return found


def _install() -> None:
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise RedisMissing(
            "redis-server is missing (the Redis tests need Redis 7): install the "
            "redis-server package, or run the tests as root with apt-get available"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [apt, *args], capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
            check=False, env=env,
        )  # fmt: skip

    done = run("install", "-y", "redis-server")
    if done.returncode != 0:  # the package lists may be missing or old
        run("update")
        done = run("install", "-y", "redis-server")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RedisMissing(
            f"redis-server is missing and apt-get install -y redis-server failed: {tail[0]}"
        )


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

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers (its log in ``folder/redis.log``)."""
        argv = [
            redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.folder), "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--logfile", "redis.log", "--daemonize", "no",
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
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A running ``RedisServer`` in ``folder``, stopped at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)
