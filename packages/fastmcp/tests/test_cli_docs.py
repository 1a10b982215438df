"""Every command example in CLI.md, run.

A ```console block holds ``$ command`` lines, each followed by what it prints: on
stdout when it succeeds, on stderr when it fails (an error example must print
``fastmcp: error: ...``). A ``...`` line stands for any output; no line, for none.

How the commands run: in a scratch folder holding a copy of ``examples/cli`` (so
``examples/cli/server.py`` works as written), with ``HOME`` there (``install``
writes into it), ``fastmcp`` and ``python`` being this interpreter's, an ``npx``
on ``PATH`` that records its arguments and a ``node`` new enough for the Inspector
(``fastmcp dev``; tests-integration/test_cli_dev.py runs the real one), ports moved to free ones, and ``~`` in expected output
standing for that ``HOME``. ``fastmcp run`` over stdio gets no input and so stops at
once; ``fastmcp run -t http`` keeps serving in the background until its block ends
(then Ctrl-C, and it must exit with status 0).
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "packages" / "fastmcp" / "CLI.md"


def blocks() -> list[list[tuple[str, list[str]]]]:
    """The console blocks of CLI.md: ``[(command, expected lines), ...]`` each."""
    found: list[list[tuple[str, list[str]]]] = []
    current: list[tuple[str, list[str]]] | None = None
    for line in DOC.read_text().splitlines():
        if current is None:
            if line.strip() == "```console":
                current = []
            continue
        if line.strip() == "```":
            found.append(current)
            current = None
        elif line.startswith("$ "):
            current.append((line[2:], []))
        else:
            assert current, f"output before any command in CLI.md: {line!r}"
            current[-1][1].append(line)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_command_of_the_reference_is_shown_running(tmp_path: Path) -> None:
    commands = [command for block in blocks() for command, _ in block]
    assert len(commands) >= 30
    for name in ("run", "call", "list", "inspect", "dev", "install", "version"):
        assert any(c.startswith(f"fastmcp {name}") for c in commands), name


@pytest.mark.parametrize("index", range(len(blocks())))
def test_cli_md_block(index: int, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples" / "cli", work / "examples" / "cli")
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npx = bin_dir / "npx"
    npx.write_text(
        f"#!{sys.executable}\nimport sys\nprint('npx', *sys.argv[1:], file=sys.stderr)\n"
    )
    npx.chmod(0o755)
    (bin_dir / "node").write_text("#!/bin/sh\necho v24.0.0\n")
    (bin_dir / "node").chmod(0o755)
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    env.pop("XDG_CONFIG_HOME", None)
    ports = {port: str(free_port()) for port in ("8000", "8001", "8002")}
    background: list[subprocess.Popen[str]] = []
    try:
        for command, expected in blocks()[index]:
            for port, free in ports.items():
                command = re.sub(rf"\b{port}\b", free, command)
            words = shlex.split(command)
            cwd = work
            if "-m" in words and words[:2] == ["fastmcp", "run"]:
                cwd = work / "examples" / "cli"  # where the module is
            argv = [sys.executable if w == "python" else w for w in words]
            argv = [sys.executable, "-m", "fastmcp", *argv[1:]]
            if words[:2] == ["fastmcp", "run"] and "http" in words and "--reload" not in words:
                background.append(_serve(argv, cwd, env))
                assert not expected, command
                continue
            done = subprocess.run(
                argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
            _check(command, done, expected, home)
    finally:
        for process in background:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
            if process.stdout is not None:
                process.stdout.close()
            if process.stderr is not None:
                process.stderr.close()


def _serve(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while "serving " not in seen:
        ready, _, _ = select.select([process.stderr], [], [], deadline - time.monotonic())
        line = process.stderr.readline() if ready else ""
        assert line, f"{argv} did not start serving: {seen}"
        seen += line
    return process


def _check(
    command: str,
    done: subprocess.CompletedProcess[str],
    expected: list[str],
    home: Path,
) -> None:
    if done.returncode != 0:
        assert expected, f"{command!r} failed:\n{done.stderr}"
        assert expected[0].startswith("fastmcp: error:"), f"{command!r} failed:\n{done.stderr}"
        output = done.stderr
    else:
        assert "Traceback" not in done.stderr
        output = done.stdout
    if expected == ["..."]:
        assert output.strip(), command
        return
    wanted = "\n".join(expected).replace("~/", f"{home}/")
    assert output.rstrip("\n") == wanted, f"{command!r} printed:\n{output}"
