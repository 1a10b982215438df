"""The locks under ``lock/`` cover what they must and agree with what asks for them.

``nox -s lock`` writes them. These tests catch a change that needed a refresh and did
not get one: a new dependency or extra in a ``pyproject.toml``, a range the locked version
no longer satisfies, a peer pinned to another version. And a peer installed from an older
lock is installed again.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import peers
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
LOCK = ROOT / "lock" / "constraints.txt"
PROJECTS = {
    path.parent.name: tomllib.loads(path.read_text())
    for path in sorted(ROOT.glob("packages/*/pyproject.toml"))
}
OURS = {canonicalize_name(project["project"]["name"]) for project in PROJECTS.values()}


def locked(lock: Path) -> dict[str, set[str]]:
    """The versions a lock file pins, by name (a name can have one per Python fork)."""
    versions: dict[str, set[str]] = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith(("#", " ")):
            requirement = Requirement(line)
            (pin,) = requirement.specifier
            assert pin.operator == "==", line
            versions.setdefault(canonicalize_name(requirement.name), set()).add(pin.version)
    return versions


def requirements(project: dict[str, Any]) -> list[Requirement]:
    """What a pyproject.toml asks for: dependencies, every extra, the build backend."""
    declared = [
        *project["project"]["dependencies"],
        *(
            r
            for extra in project["project"].get("optional-dependencies", {}).values()
            for r in extra
        ),
        *project["build-system"]["requires"],
    ]
    return [Requirement(r) for r in declared]


def test_the_lock_covers_every_package_with_all_its_extras() -> None:
    covered = {
        line
        for line in (ROOT / "lock" / "requirements.in").read_text().splitlines()
        if line.startswith("./packages/")
    }
    expected = set()
    for folder, project in PROJECTS.items():
        extras = ",".join(sorted(project["project"].get("optional-dependencies", {})))
        expected.add(f"./packages/{folder}[{extras}]" if extras else f"./packages/{folder}")
    assert covered == expected, "run nox -s lock"


@pytest.mark.parametrize("folder", sorted(PROJECTS))
def test_every_requirement_is_locked_within_its_range(folder: str) -> None:
    versions = locked(LOCK)
    for requirement in requirements(PROJECTS[folder]):
        name = canonicalize_name(requirement.name)
        if name in OURS:
            continue
        assert name in versions, f"{requirement} is not in lock/constraints.txt: run nox -s lock"
        for version in versions[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"lock/constraints.txt has {name}=={version}, outside {requirement}: run nox -s lock"
            )


def test_the_tools_are_locked() -> None:
    assert {"nox", "uv", "ruff", "mypy", "types-pyyaml", "hatchling"} <= locked(LOCK).keys()


def test_the_python_peers_are_locked_at_their_pins() -> None:
    versions = locked(peers.PYTHON_LOCK)
    for pin in peers.PYTHON_PEERS:
        name, _, version = pin.partition("==")
        assert versions.get(canonicalize_name(name)) == {version}, "run nox -s lock"
    assert {"uvicorn", "mcp-types"} <= versions.keys()  # what mcp pulls in is locked too


def test_each_npm_peer_has_its_lock_and_nothing_else_has_one() -> None:
    wanted = {peers.npm_lock(spec): spec for spec, _ in peers.NPM_PEERS}
    assert set(peers.NPM_LOCKS.iterdir()) == set(wanted), "run nox -s lock"
    for folder, spec in wanted.items():
        package, _, version = spec.rpartition("@")
        manifest = json.loads((folder / "package.json").read_text())
        lock = json.loads((folder / "package-lock.json").read_text())
        assert manifest["dependencies"] == {package: version}
        assert lock["packages"][""]["dependencies"] == {package: version}, "run nox -s lock"
        assert lock["packages"][f"node_modules/{package}"]["version"] == version
        # every package of the tree is pinned to one version and its content checksum
        assert all(
            "version" in entry and ("integrity" in entry or "link" in entry)
            for path, entry in lock["packages"].items()
            if path
        )


def test_a_peer_is_installed_again_when_its_lock_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The way python_peer and npm_peer keep their installations: the marker names the
    lock's content, and the installation keeps a copy of the lock it came from."""
    monkeypatch.setattr(peers, "CACHE", tmp_path / "cache")
    lock = tmp_path / "lock.txt"
    lock.write_text("thing==1\n")
    installs: list[str] = []

    def install(folder: Path) -> None:
        folder.mkdir(parents=True)
        shutil.copyfile(lock, folder / "copy")
        installs.append(lock.read_text())

    def check(folder: Path) -> None:
        peers._check_copy(folder / "copy", lock)

    def get() -> Path:
        recipe = f"thing lock {peers._digest(lock)}"
        return peers._installed("thing", recipe=recipe, install=install, check=check)

    folder = get()
    assert get() == folder
    assert installs == ["thing==1\n"]  # the second call trusted the first installation

    (folder / ".ready").unlink()  # an installation from the current lock, without marker
    get()
    assert installs == ["thing==1\n"]  # checked and adopted

    lock.write_text("thing==2\n")  # nox -s lock took in a new release
    assert get() == folder
    assert installs == ["thing==1\n", "thing==2\n"]
    assert (folder / "copy").read_text() == "thing==2\n"
