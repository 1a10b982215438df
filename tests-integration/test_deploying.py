"""docs/deploying.md, for real: its FastAPI app (the page's first ``python`` block, as
``main.py``) served by its ``uvicorn`` command behind nginx with the page's
configuration (TLS with a throwaway authority's certificate for 127.0.0.1), and by
uvicorn serving TLS itself; our client uses it through them in both eras, progress
streamed through the proxy, the health route and the host's own route answer."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import servers
import trio
import trustme

from fastmcp_client import Client

ROOT = Path(__file__).parents[1]
PAGE = (ROOT / "docs" / "deploying.md").read_text()
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def block(language: str, index: int = 0) -> str:
    return re.findall(rf"^```{language}\n(.*?)^```$", PAGE, re.MULTILINE | re.DOTALL)[index]


def command(prefix: str) -> list[str]:
    """The page's shell line starting with ``prefix``."""
    for text in re.findall(r"^```sh\n(.*?)^```$", PAGE, re.MULTILINE | re.DOTALL):
        for line in text.splitlines():
            if line.startswith(prefix):
                return shlex.split(line)
    raise AssertionError(f"no {prefix!r} line on the page")


@contextmanager
def process(argv: list[str], cwd: Path, url: str) -> Iterator[None]:
    """``argv`` running in ``cwd`` until the block ends, once ``url`` answers (an
    ``https`` one with the authority of ``SSL_CERT_FILE``)."""
    with tempfile.TemporaryFile("w+") as log:
        started = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            deadline = time.monotonic() + servers.START_TIMEOUT
            while True:
                if started.poll() is not None:
                    log.seek(0)
                    raise AssertionError(f"{argv[0]} exited:\n{log.read()[-3000:]}")
                try:
                    httpx.get(url, timeout=2)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield
        finally:
            started.terminate()
            servers._reap(started)


@pytest.fixture
def authority(tmp_path: Path) -> Path:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return tmp_path / "ca.pem"


def use_it(base: str) -> None:
    async def main() -> None:
        for version in ("2026-07-28", "2025-11-25"):
            async with Client(f"{base}/api/mcp", protocol_version=version) as client:
                progress: list[float] = []

                def on_progress(update: Any, seen: list[float] = progress) -> None:
                    seen.append(update.progress)

                result = await client.call_tool(
                    "forecast", {"city": "Oslo"}, result_type=str, on_progress=on_progress
                )
                assert result == "sunny in Oslo"
                assert client.protocol_version == version
                assert progress == [1.0]

    trio.run(main)
    with httpx.Client() as http:  # the authority of SSL_CERT_FILE
        assert http.get(f"{base}/api/health").text == "ok"
        assert http.get(f"{base}/status").json() == {"status": "up"}


def test_the_fastapi_app_on_uvicorn_behind_nginx(
    tmp_path: Path, authority: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "main.py").write_text(block("python"))
    app_port, proxy_port = servers.free_port(), servers.free_port()
    uvicorn = command("uvicorn main:app --host")
    uvicorn[uvicorn.index("--port") + 1] = str(app_port)
    site = block("nginx")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{proxy_port} ssl;")
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{app_port}")
    site = site.replace("/etc/ssl/mcp.example.com.pem", str(tmp_path / "cert.pem"))
    site = site.replace("/etc/ssl/mcp.example.com.key", str(tmp_path / "key.pem"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path};\n"
        f"proxy_temp_path {tmp_path};\n{site}}}\n"
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(authority))
    base = f"https://127.0.0.1:{proxy_port}"
    with (
        process([sys.executable, "-m", *uvicorn], tmp_path, f"http://127.0.0.1:{app_port}/status"),
        process(
            [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
            tmp_path,
            f"{base}/status",
        ),
    ):
        use_it(base)
        with httpx.Client() as http:
            # what the app saw came through the proxy: the Host it checks is the public one
            refused = http.post(f"{base}/api/mcp", json={}, headers={"host": "evil.example"})
            assert refused.status_code == 403


def test_the_fastapi_app_on_uvicorn_serving_tls(
    tmp_path: Path, authority: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "main.py").write_text(block("python"))
    port = servers.free_port()
    uvicorn = command("uvicorn main:app --port 8443")
    uvicorn[uvicorn.index("--port") + 1] = str(port)
    monkeypatch.setenv("SSL_CERT_FILE", str(authority))
    base = f"https://127.0.0.1:{port}"
    with process([sys.executable, "-m", *uvicorn], tmp_path, f"{base}/status"):
        use_it(base)


@pytest.mark.parametrize(
    "line",
    [
        "hypercorn main:app --bind 127.0.0.1:8000 --graceful-timeout",
        "hypercorn main:app --bind 127.0.0.1:8000 --worker-class trio",
    ],
)
def test_the_fastapi_app_on_the_pages_hypercorn_commands(tmp_path: Path, line: str) -> None:
    (tmp_path / "main.py").write_text(block("python"))
    port = servers.free_port()
    argv = command(line)
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    base = f"http://127.0.0.1:{port}"
    with process([sys.executable, "-m", *argv], tmp_path, f"{base}/status"):
        use_it(base)
