"""A real nginx for the tests: a round-robin balancer on 127.0.0.1 in front of replicas.

``nginx_binary()`` finds ``nginx`` on PATH (or in /usr/sbin) and, when it is missing,
installs it with the system's package manager (``nginx-light``, else ``nginx``; see
``system_programs``). When that cannot be done the tests that need it fail with one
line naming what is missing.

``Balancer`` writes its configuration into a folder of its own and runs
``nginx -p FOLDER -c nginx.conf`` in the foreground (``daemon off``): a site (by
default the one docs/scale-out.md shows) turned to loopback
ports, round robin over the upstreams, and an ``X-Replica`` header on every
response naming the upstream that answered.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
from system_programs import system_program

START_TIMEOUT = 20.0  # seconds for nginx to accept connections

CONFIG = """\
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{site}
}}
"""

DOCS = Path(__file__).parents[1] / "docs" / "scale-out.md"


def documented_site() -> str:
    """The nginx site docs/scale-out.md shows (the default: the tests and the
    benchmark balance through it)."""
    (block,) = re.findall(r"^```nginx\n(.*?)^```$", DOCS.read_text(), re.MULTILINE | re.DOTALL)
    return str(block)


_SERVER_LINE = re.compile(r"^(\s*)server\s+[0-9.]+:\d+;\n", re.MULTILINE)
_LISTEN = re.compile(r"listen\s+\d+;")
_LOCATION = re.compile(r"(location\s+\S+\s*\{\n)")


def site(template: str, upstreams: Sequence[int], port: int) -> str:
    """``template`` (an ``upstream`` block with ``server ADDRESS:PORT;`` lines and a
    ``server`` block with ``listen PORT;``) for these loopback ports: the upstream
    lines name ``upstreams``, it listens on 127.0.0.1:``port``, and every location
    adds ``X-Replica`` (the upstream that answered) to its responses."""
    lines = _SERVER_LINE.findall(template)
    if not lines or not _LISTEN.search(template):
        raise ValueError("the nginx site needs server ADDRESS:PORT; lines and listen PORT;")
    indent = lines[0]
    servers = "".join(f"{indent}server 127.0.0.1:{p};\n" for p in upstreams)
    first = _SERVER_LINE.search(template)
    assert first is not None
    body = _SERVER_LINE.sub("", template)
    body = body[: first.start()] + servers + body[first.start() :]
    body = _LISTEN.sub(f"listen 127.0.0.1:{port};", body)
    return _LOCATION.sub(r"\1        add_header X-Replica $upstream_addr always;\n", body)


def nginx_binary() -> str:
    """The path of ``nginx`` (installed first when missing; see ``system_programs``)."""
    return system_program("nginx", ["nginx-light", "nginx"], "the scale-out HTTP tests need it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@attrs.define(eq=False)
class Balancer:
    """One nginx on 127.0.0.1 balancing ``upstreams`` (ports) round robin."""

    folder: Path
    upstreams: Sequence[int]
    template: str = attrs.field(factory=documented_site)
    port: int = attrs.field(factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        body = site(self.template, self.upstreams, self.port)
        return CONFIG.format(folder=self.folder, site=textwrap.indent(body, "    "))

    def start(self) -> None:
        """Write the configuration, start nginx, wait until it accepts connections."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "nginx.conf").write_text(self.config())
        argv = [nginx_binary(), "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(self.port):
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                error = self.process.stderr.read().decode(errors="replace").strip()
                raise RuntimeError(f"nginx exited at start: {error}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen on {self.port} in {START_TIMEOUT}s")
            time.sleep(0.02)

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        process.send_signal(signal.SIGTERM)  # a fast stop: SSE streams would hold a graceful one
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


@contextmanager
def balancer(
    folder: Path, upstreams: Sequence[int], template: str | None = None
) -> Iterator[Balancer]:
    """A running nginx in front of ``upstreams`` (its site made from ``template``,
    by default docs/scale-out.md's), stopped at the end."""
    server = Balancer(folder, upstreams, template or documented_site())
    server.start()
    try:
        yield server
    finally:
        server.stop()
