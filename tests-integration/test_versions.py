"""One version for the six packages, written only where it must be.

Each ``pyproject.toml`` has the version and pins its siblings to exactly it (so that
the six install together); the code reads it back from the installed metadata; the
pages that name a wheel or a pin name it. ``nox -s bump -- X.Y.Z`` (``tools/bump.py``)
rewrites all of them, and these tests hold it to that.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
BUMP = ROOT / "tools" / "bump.py"
PACKAGES = {
    "fastmcp-protocol": "fastmcp_protocol",
    "fastmcp-core": "fastmcp_core",
    "fastmcp-transport": "fastmcp_transport",
    "fastmcp-server": "fastmcp_server",
    "fastmcp-client": "fastmcp_client",
    "fastmcp": "fastmcp",
}
# a wheel, an sdist or a sibling pin as a page names them: (name, version)
WHEEL = re.compile(r"\b(fastmcp(?:_[a-z]+)?)-(\d[^-\s]*?)(?:-py3-none-any\.whl|\.tar\.gz)")
PIN = re.compile(r"(?<![\w-])(fastmcp-[a-z]+)(?:\[[^\]]*\])?==(\d[\w.]*\w)")


def projects(root: Path) -> dict[str, dict[str, object]]:
    return {
        package: tomllib.loads((root / "packages" / package / "pyproject.toml").read_text())[
            "project"
        ]
        for package in PACKAGES
    }


def disagreements(root: Path) -> list[str]:
    """Every place under ``root`` whose version is not the facade's."""
    found = projects(root)
    version = found["fastmcp"]["version"]
    wrong = []
    for package, project in found.items():
        if project["version"] != version:
            wrong.append(f"{package}: version {project['version']}")
        dependencies = project["dependencies"]
        assert isinstance(dependencies, list)
        for requirement in map(Requirement, dependencies):
            ours = canonicalize_name(requirement.name) in PACKAGES
            if ours and str(requirement.specifier) != f"=={version}":
                wrong.append(f"{package}: {requirement}")
    pages = [root / "README.md", root / "AGENTS.md", *root.glob("docs/*.md")]
    pages += [*root.glob("packages/*/*.md"), *root.glob("examples/**/*.md")]
    for page in pages:
        text = page.read_text()
        for name, named in [*WHEEL.findall(text), *PIN.findall(text)]:
            if named != version:
                wrong.append(f"{page.relative_to(root)}: {name} {named}")
    return wrong


def test_every_version_and_sibling_pin_is_the_same() -> None:
    assert disagreements(ROOT) == []


def test_every_package_pins_the_siblings_below_it() -> None:
    """The pins are the layering: each package needs every package under it."""
    below = list(PACKAGES)
    for package, project in projects(ROOT).items():
        dependencies = project["dependencies"]
        assert isinstance(dependencies, list)
        pinned = {
            canonicalize_name(r.name) for r in map(Requirement, dependencies)
        } & PACKAGES.keys()
        expected = set(below[: below.index(package)])
        if package == "fastmcp-client":
            expected.discard("fastmcp-server")  # server and client never depend on each other
        assert pinned == expected, package


@pytest.mark.parametrize(("package", "module"), PACKAGES.items())
def test_the_code_reports_the_pyproject_version(package: str, module: str) -> None:
    """``__version__`` is read from the installed metadata, so it is the pyproject's."""
    version = projects(ROOT)[package]["version"]
    assert importlib.import_module(module).__version__ == version


def copy_of_the_versioned_files(tmp_path: Path) -> Path:
    for path in [
        *ROOT.glob("packages/*/pyproject.toml"),
        *ROOT.glob("packages/*/*.md"),
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("examples/**/*.md"),
        ROOT / "README.md",
        ROOT / "AGENTS.md",
    ]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return tmp_path


def bump(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUMP), *args, "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_bump_writes_the_new_version_everywhere_it_is_written(tmp_path: Path) -> None:
    root = copy_of_the_versioned_files(tmp_path)
    old = projects(root)["fastmcp"]["version"]
    installing = (root / "docs" / "installing.md").read_text()
    done = bump(root, "9.8.7rc1")
    assert done.returncode == 0, done.stderr
    assert {project["version"] for project in projects(root).values()} == {"9.8.7rc1"}
    assert disagreements(root) == []
    changed = set(done.stdout.split())
    assert "docs/installing.md" in changed
    assert {f"packages/{package}/pyproject.toml" for package in PACKAGES} <= changed
    # the wheels the page installs now carry the new version; PyPI's other fastmcp keeps
    # its own version in the prose
    bumped = (root / "docs" / "installing.md").read_text()
    assert "dist/fastmcp_server-9.8.7rc1-py3-none-any.whl" in bumped
    assert installing.count(f"fastmcp=={old}") == bumped.count(f"fastmcp=={old}") > 0
    # only the version changed: bumping back gives the files as they were
    assert bump(root, old).returncode == 0
    assert (root / "docs" / "installing.md").read_text() == installing
    assert disagreements(root) == []


def test_bump_refuses_what_is_not_a_version(tmp_path: Path) -> None:
    root = copy_of_the_versioned_files(tmp_path)
    before = (root / "packages" / "fastmcp" / "pyproject.toml").read_text()
    refused = bump(root, "next")
    assert refused.returncode == 2
    assert "not a release version: 'next'" in refused.stderr
    assert (root / "packages" / "fastmcp" / "pyproject.toml").read_text() == before
