"""The README's two commands.

The demo command runs exactly as written, on a fresh copy of the repository, in the
environment of a fresh machine (``fresh_machine.py``: only ``PATH`` and an empty
``HOME``; on Debian or Ubuntu ``python3`` is then the system's Python, externally managed
under PEP 668), and prints what the README shows. The test command runs every test, this
file included, so it is not run from here: CI runs it (``.ci/run``), and the test here is
that ``.ci/run`` runs exactly that command.
"""

from __future__ import annotations

import re
from pathlib import Path

import fresh_machine

ROOT = Path(__file__).parents[1]


def readme_commands() -> list[str]:
    return re.findall(r"^```sh\n(.*?)\n```$", (ROOT / "README.md").read_text(), re.M | re.S)


def test_the_readme_shows_the_two_commands_and_ci_runs_the_second() -> None:
    demo, tests = readme_commands()
    assert demo == "python3 tools/nox.py -s demo"
    assert tests == "python3 tools/nox.py"  # the default sessions: lint, typecheck, tests
    script = (ROOT / ".ci" / "run").read_text()
    assert script.rstrip().splitlines()[-1] == tests
    done = fresh_machine.sh("bash -n .ci/run", ROOT, {"PATH": fresh_machine.SYSTEM_PATH})
    assert done.returncode == 0, done.stderr


def test_the_demo_command_on_a_fresh_machine(tmp_path: Path) -> None:
    clone = fresh_machine.clone(tmp_path / "fastmcp")
    env = fresh_machine.environment(tmp_path / "home")
    demo, _ = readme_commands()
    done = fresh_machine.sh(demo, clone, env)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = re.search(r"^```text\n(.*?)\n```$", (ROOT / "README.md").read_text(), re.M | re.S)
    assert expected is not None
    assert expected[1] in done.stdout
    # nox and uv, at the lock's versions, went into the copy's own environment
    lock = (ROOT / "lock" / "constraints.txt").read_text()
    pins = {
        f"{name}-{version}.dist-info"
        for name, version in re.findall(r"^(nox|uv)==(\S+)", lock, re.M)
    }
    site = next((clone / ".nox" / "_bootstrap" / "lib").glob("python3*/site-packages"))
    assert len(pins) == 2
    assert pins <= {p.name for p in site.iterdir()}
    assert not (tmp_path / "home" / ".local").exists()  # and nothing into the user's site
