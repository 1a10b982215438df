"""A fresh machine, as far as a test can make one: a copy of the repository, and the
environment of a machine where nothing was installed for the user yet.

* ``clone(destination)``: the repository's files - what git tracks plus the new files it
  does not ignore, as in a clean clone of the working tree - copied to ``destination``;
* ``environment(home)``: ``PATH`` and ``HOME`` only, as ``env -i`` leaves them: ``PATH``
  is ``/usr/bin:/bin`` when ``/usr/bin/python3`` is a Python 3.11+ (Debian, Ubuntu: the
  system's Python, which PEP 668 marks externally managed), else the folder of the Python
  running the tests (its base interpreter, not a virtual environment) comes first;
  ``HOME`` is an empty folder, so there are no caches and no user configuration;
* ``sh(command, cwd, env)``: ``bash -c command`` there, output captured.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
SYSTEM_PATH = "/usr/bin:/bin"


def clone(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def environment(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    system = Path("/usr/bin/python3")
    new_enough = system.is_file() and (
        subprocess.run(
            [str(system), "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
            env={"PATH": SYSTEM_PATH},
            check=False,
        ).returncode
        == 0
    )
    path = SYSTEM_PATH if new_enough else f"{Path(sys.base_prefix) / 'bin'}:{SYSTEM_PATH}"
    return {"PATH": path, "HOME": str(home)}


def sh(
    command: str, cwd: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
