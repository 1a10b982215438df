"""The README's two commands, exactly as written, on a fresh clone in a fresh venv.

A copy of the repository's files (what ``git`` tracks plus new files it does not
ignore: a clean clone of the working tree) gets a virtual environment with only pip
in it, first on ``PATH`` as on a fresh machine; each command runs there with
``bash``. The test command runs the whole suite again, this test excepted (the
nested run sees ``FASTMCP_README_NESTED``), so it is the one slow test of the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NESTED = "FASTMCP_README_NESTED"


def readme_commands() -> list[str]:
    return re.findall(r"^```sh\n(.*?)\n```$", (ROOT / "README.md").read_text(), re.M | re.S)


def test_the_readme_shows_the_two_commands_and_ci_runs_the_second() -> None:
    demo, tests = readme_commands()
    assert demo.endswith("nox -s demo")
    assert tests.endswith("-m nox")  # the default sessions: lint, typecheck, tests
    assert tests in (ROOT / ".ci" / "run").read_text()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    clone = tmp_path_factory.mktemp("clone") / "fastmcp"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    venv = clone.parent / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "NOX_CURRENT_SESSION"}
        and not key.startswith(("PYTEST_", "NOX"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env[NESTED] = "1"
    return clone, env


def run(command: str, clone: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


@pytest.mark.skipif(NESTED in os.environ, reason="the README's test command runs this test")
def test_the_demo_command(fresh: tuple[Path, dict[str, str]]) -> None:
    demo, _ = readme_commands()
    done = run(demo, *fresh)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = re.search(r"^```text\n(.*?)\n```$", (ROOT / "README.md").read_text(), re.M | re.S)
    assert expected is not None
    assert expected[1] in done.stdout


@pytest.mark.skipif(NESTED in os.environ, reason="the README's test command runs this test")
def test_the_test_command(fresh: tuple[Path, dict[str, str]]) -> None:
    _, tests = readme_commands()
    done = run(tests, *fresh)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    assert "nox > Session tests was successful" in done.stderr  # nox reports on stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed, 2 skipped", summary), summary  # skipped: these two
