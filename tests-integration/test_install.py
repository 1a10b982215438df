"""docs/installing.md as written: each install command of the page, in a fresh virtual
environment, installs what the page says it does and nothing it says it does not.

The wheels come from the page's build command, run once on a fresh copy of the
repository in a fresh machine's environment (``fresh_machine.py``). Each install runs
there as the page says: ``python3 -m venv``, activate, the command. It is held to the lock
by ``PIP_CONSTRAINT`` (which reaches what pip builds too), so the command stays as
written; ``FASTMCP_TEST_CONSTRAINTS`` names other constraints, none when it is empty
(``nox -s tests-latest``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import attrs
import fresh_machine
import pytest

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "installing.md"
BUILD = "python3 tools/nox.py -s build"
CONSTRAINTS = os.environ.get("FASTMCP_TEST_CONSTRAINTS", str(ROOT / "lock" / "constraints.txt"))

# what the cases tell apart: our six packages and the extras' dependencies
MODULES = (
    "fastmcp_protocol",
    "fastmcp_core",
    "fastmcp_transport",
    "fastmcp_server",
    "fastmcp_client",
    "fastmcp",
    "joserfc",
    "yaml",
)
SERVER = {"fastmcp_protocol", "fastmcp_core", "fastmcp_transport", "fastmcp_server"}
CLIENT = {"fastmcp_protocol", "fastmcp_core", "fastmcp_transport", "fastmcp_client"}


@attrs.frozen
class Case:
    name: str
    modules: set[str]
    """Of ``MODULES``, the ones this install makes importable (the rest it must not)."""
    check: str = ""
    """Python that must run in the environment afterwards."""


# the wheels' names carry the packages' one version (tools/bump.py rewrites the page)
VERSION = tomllib.loads((ROOT / "packages" / "fastmcp" / "pyproject.toml").read_text())["project"][
    "version"
]
WHEEL = "python -m pip install --find-links dist {}"
CASES = {
    WHEEL.format(f"dist/fastmcp-{VERSION}-py3-none-any.whl"): Case(
        "everything",
        set(MODULES),
        "from fastmcp import McpContext, Server, Client\n"
        "from fastmcp_server.auth import JWTVerifier\n"
        "import subprocess, sys, os\n"
        "command = os.path.join(os.path.dirname(sys.executable), 'fastmcp')\n"
        "out = subprocess.run([command, 'version'], capture_output=True, text=True, check=True)\n"
        "assert out.stdout.startswith('fastmcp '), out.stdout\n",
    ),
    WHEEL.format(f"dist/fastmcp_server-{VERSION}-py3-none-any.whl"): Case(
        "server", SERVER, "from fastmcp_core import McpContext\nfrom fastmcp_server import Server"
    ),
    WHEEL.format(f'"dist/fastmcp_server-{VERSION}-py3-none-any.whl[auth]"'): Case(
        "server[auth]", SERVER | {"joserfc"}, "from fastmcp_server.auth import JWTVerifier"
    ),
    WHEEL.format(f'"dist/fastmcp_server-{VERSION}-py3-none-any.whl[skills]"'): Case(
        "server[skills]", SERVER | {"yaml"}
    ),
    WHEEL.format(f"dist/fastmcp_client-{VERSION}-py3-none-any.whl"): Case(
        "client", CLIENT, "from fastmcp_client import Client"
    ),
    WHEEL.format(f'"dist/fastmcp_client-{VERSION}-py3-none-any.whl[auth]"'): Case(
        "client[auth]", CLIENT | {"joserfc"}
    ),
    WHEEL.format(f'"dist/fastmcp_client-{VERSION}-py3-none-any.whl[skills]"'): Case(
        "client[skills]", CLIENT | {"yaml"}
    ),
    "python -m pip install ./packages/fastmcp-protocol ./packages/fastmcp-core"
    ' ./packages/fastmcp-transport "./packages/fastmcp-server[auth]"': Case(
        "from-the-clone", SERVER | {"joserfc"}, "from fastmcp_server.auth import JWTVerifier"
    ),
}

# run in the new environment: which of MODULES it finds, and the versions of what the
# lock pins that it holds
PROBE = """
import importlib.metadata, importlib.util, json, sys
found = [name for name in sys.argv[1:] if importlib.util.find_spec(name) is not None]
versions = {d.metadata["Name"].lower().replace("_", "-"): d.version
            for d in importlib.metadata.distributions()}
print(json.dumps({"found": found, "versions": versions}))
"""


def page_commands() -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```$", PAGE.read_text(), re.M | re.S)
    return [line for block in blocks for line in block.splitlines()]


def test_the_page_shows_the_build_the_venv_and_every_case() -> None:
    commands = page_commands()
    assert commands[:3] == [BUILD, "python3 -m venv .venv", ". .venv/bin/activate"]
    assert commands[3:] == list(CASES)  # the page and this test name the same installs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh copy of the repository after the page's build command, and the fresh
    machine's environment it ran in."""
    base = tmp_path_factory.mktemp("install")
    clone = fresh_machine.clone(base / "fastmcp")
    env = fresh_machine.environment(base / "home")
    done = fresh_machine.sh(BUILD, clone, env)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = {p.name for p in (clone / "dist").glob("*.whl")}
    assert len(wheels) == 6, wheels
    return clone, env


def locked_versions() -> dict[str, str]:
    pins = re.findall(r"^([a-z0-9-]+)==(\S+)$", Path(CONSTRAINTS).read_text(), re.M)
    return dict(pins)


@pytest.mark.parametrize("command", list(CASES), ids=lambda command: CASES[command].name)
def test_the_install(command: str, built: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    clone, env = built
    case = CASES[command]
    venv = tmp_path / "venv"
    held = {**env, "PIP_CONSTRAINT": CONSTRAINTS} if CONSTRAINTS else env
    done = fresh_machine.sh(
        f"python3 -m venv {venv} && . {venv}/bin/activate && {command}", clone, held
    )
    assert done.returncode == 0, done.stdout + done.stderr

    python = str(venv / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", PROBE, *MODULES], env=env, capture_output=True, text=True, check=True
    )
    seen = json.loads(probe.stdout)
    assert set(seen["found"]) == case.modules
    if case.check:
        checked = subprocess.run(
            [python, "-c", case.check], env=env, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
    if CONSTRAINTS:  # what pip installed came at the lock's versions
        lock = locked_versions()
        held_to = {name: v for name, v in seen["versions"].items() if name in lock}
        assert held_to == {name: lock[name] for name in held_to}
        assert {"trio", "msgspec", "attrs"} <= held_to.keys()
