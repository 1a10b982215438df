"""Programs the tests take from the system's package manager (redis-server, nginx).

``system_program(name, packages, needed_by)`` finds ``name`` on PATH (or in
/usr/sbin), else installs the first of ``packages`` that apt-get can install (once: a
file lock keeps test processes running side by side from installing it twice; the
package lists are refreshed when the first try fails), else raises
``SystemProgramMissing`` with one line naming what is missing and how to get it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Sequence

import peers

INSTALL_TIMEOUT = 600


class SystemProgramMissing(RuntimeError):
    """A program the tests need is not installed and could not be."""


def system_program(name: str, packages: Sequence[str], needed_by: str) -> str:
    """The path of ``name`` (installed first when missing; see the module)."""
    found = _which(name)
    if found:
        return found
    peers.CACHE.mkdir(parents=True, exist_ok=True)
    with open(peers.CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _which(name):
                _install(name, packages, needed_by)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    found = _which(name)
    if not found:
        raise SystemProgramMissing(f"{name} is missing: apt-get installed it but it is not on PATH")
    return found


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def _install(name: str, packages: Sequence[str], needed_by: str) -> None:
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise SystemProgramMissing(
            f"{name} is missing ({needed_by}): install the {' or '.join(packages)} "
            "package, or run the tests as root with apt-get available"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def install(package: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [apt, "install", "-y", package], capture_output=True, text=True,
            timeout=INSTALL_TIMEOUT, check=False, env=env,
        )  # fmt: skip

    done = install(packages[0])
    if done.returncode != 0:  # the package lists may be missing or old
        subprocess.run(
            [apt, "update"], capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
            check=False, env=env,
        )  # fmt: skip
        for package in packages:
            done = install(package)
            if done.returncode == 0:
                return
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SystemProgramMissing(
            f"{name} is missing and apt-get install -y {packages[-1]} failed: {tail[0]}"
        )
