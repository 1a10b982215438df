"""Run nox from a virtual environment of its own: ``python3 tools/nox.py [nox arguments]``.

The README's commands use this so that they work on a machine with nothing but Python
3.11+ and pip - a system Python that PEP 668 marks "externally managed" (Debian's,
Ubuntu's, Homebrew's) included - and leave that Python as it was. The first run makes
``.nox/_bootstrap`` (git-ignored) with nox and uv at the versions of
``lock/constraints.txt``; later runs reuse it until the lock or the Python changes. nox
finds uv beside itself, so its ``uv|virtualenv`` backend makes the sessions' environments
with uv. Standard library only.

The environment is made by ``python3 -m venv`` with pip. When that cannot provide pip
(Debian or Ubuntu without python3-venv: "ensurepip is not available"), it is made without
pip and this Python's own pip installs into it (``pip --python``, pip 22.3 or newer). When
neither works, one line says what to install. Two runs at once take turns (a file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "lock" / "constraints.txt"
VENV = ROOT / ".nox" / "_bootstrap"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / "bootstrap.stamp"  # what the environment was made from
TOOLS = ("nox", "uv")
ME = "tools/nox.py"
OLDEST = (3, 11)  # a name, not a literal: checked at run time, by any Python


def main(argv: list[str]) -> None:
    if sys.version_info < OLDEST:
        fail(f"Python 3.11 or newer is needed; {sys.executable} is {platform.python_version()}")
    stamp = f"{sys.executable} {platform.python_version()} {digest(LOCK)}\n"
    VENV.parent.mkdir(exist_ok=True)
    with open(VENV.parent / "_bootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PYTHON.is_file() and STAMP.is_file() and STAMP.read_text() == stamp):
            bootstrap()
            STAMP.write_text(stamp)
    os.chdir(ROOT)
    os.execv(PYTHON, [str(PYTHON), "-m", "nox", *argv])


def bootstrap() -> None:
    """(Re)make ``VENV`` with the lock's nox and uv."""
    print(
        f"{ME}: installing nox and uv (lock/constraints.txt) into .nox/_bootstrap", file=sys.stderr
    )
    shutil.rmtree(VENV, ignore_errors=True)
    install = ["install", "--quiet", "--disable-pip-version-check", "-c", str(LOCK), *TOOLS]
    if run([sys.executable, "-m", "venv", str(VENV)]).returncode == 0:
        pip = [str(PYTHON), "-m", "pip"]
    else:  # no ensurepip: a venv without pip, filled by this Python's own pip
        shutil.rmtree(VENV, ignore_errors=True)
        made = run([sys.executable, "-m", "venv", "--without-pip", str(VENV)])
        if made.returncode != 0 or not own_pip_can_target_a_venv():
            shutil.rmtree(VENV, ignore_errors=True)
            fail(
                f"{sys.executable} cannot make a virtual environment with pip in it: install "
                "python3-venv (Debian/Ubuntu: sudo apt install python3-venv), or pip 22.3 or "
                "newer for this Python, and run this again"
            )
        pip = [sys.executable, "-m", "pip", "--python", str(PYTHON)]
    done = run([*pip, *install])
    if done.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        sys.stderr.write(done.stdout + done.stderr)
        fail(f"installing {' and '.join(TOOLS)} failed (pip's output is above)")


def own_pip_can_target_a_venv() -> bool:
    """This Python has a pip with ``--python`` (22.3 or newer)."""
    found = run([sys.executable, "-m", "pip", "--version"])
    version = re.match(r"pip (\d+)\.(\d+)", found.stdout)
    return (
        found.returncode == 0
        and version is not None
        and (int(version[1]), int(version[2])) >= (22, 3)
    )


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fail(message: str) -> NoReturn:
    print(f"{ME}: {message}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
