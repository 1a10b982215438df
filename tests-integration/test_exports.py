"""One home per public name: what each package exports is what it claims, and its own.

The rule (AGENTS.md, "One home per public name"): a package's ``__all__`` names what
it defines, and only that; a higher package does not re-export a lower one's names
(``fastmcp_server`` does not hand on ``fastmcp_core.McpContext``). The one exception is
the facade: ``fastmcp`` (and ``fastmcp.prelude``) re-exports, for users, names whose
home is another package, and each of them is the very object of that home.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

PACKAGES = [
    "fastmcp_protocol",
    "fastmcp_core",
    "fastmcp_transport",
    "fastmcp_server",
    "fastmcp_client",
    "fastmcp",
]
FACADE = "fastmcp"


def public_modules() -> list[str]:
    """Every importable module of ours whose dotted name has no ``_`` part."""
    found = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        found.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                found.append(info.name)
    return found


PUBLIC = public_modules()
PUBLIC_PACKAGES = [name for name in PUBLIC if hasattr(importlib.import_module(name), "__path__")]
HOMES = [name for name in PUBLIC if name.split(".")[0] != FACADE]


def package_of(module_name: str) -> str:
    return module_name.split(".")[0]


def defined_in(value: Any) -> str | None:
    """The module of ours that defines a class or function; ``None`` for other values
    (constants, type aliases - ``Cursor = str`` is ``str`` -, which say nothing of where
    they were written)."""
    if inspect.isclass(value) or inspect.isfunction(value):
        module = str(value.__module__)
        if package_of(module) in PACKAGES:
            return module
    return None


def exports(module_name: str) -> dict[str, Any]:
    module = importlib.import_module(module_name)
    return {name: getattr(module, name) for name in module.__all__}


def test_the_walk_finds_the_public_modules() -> None:
    assert {
        "fastmcp_protocol.ext_tasks",
        "fastmcp_transport.http_server",
        "fastmcp_server.auth",
        "fastmcp_client.auth",
        "fastmcp.prelude",
        "fastmcp.proxy",
    } <= set(PUBLIC)
    assert "fastmcp._cli" not in PUBLIC


@pytest.mark.parametrize("module_name", PUBLIC)
def test_all_names_public_names_that_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = module.__all__
    assert len(names) == len(set(names)), "a name twice in __all__"
    for name in names:
        assert not name.startswith("_"), f"{module_name}.__all__ has the private {name}"
        assert hasattr(module, name), f"{module_name}.__all__ has {name}, which is not there"


@pytest.mark.parametrize("module_name", PUBLIC_PACKAGES)
def test_a_package_shows_nothing_public_but_its_all_and_its_modules(module_name: str) -> None:
    """An ``__init__`` hands on names; what it imports for itself stays private. (A plain
    module's own imports are its business: type checkers do not re-export them.)"""
    module = importlib.import_module(module_name)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    stray = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - set(module.__all__)
    assert stray == set(), f"{module_name} shows names outside __all__"
    shown_modules = {
        name for name, value in vars(module).items() if isinstance(value, types.ModuleType)
    }
    assert {name for name in shown_modules if not name.startswith("_")} <= submodules


def test_a_name_has_one_home() -> None:
    """No two packages export the same name, and no two modules the same object."""
    by_name: dict[str, set[str]] = defaultdict(set)
    by_object: dict[int, set[str]] = defaultdict(set)
    for module_name in HOMES:
        for name, value in exports(module_name).items():
            by_name[name].add(package_of(module_name))
            if defined_in(value) is not None:
                # one module may name it twice (the schema's aliases: EmptyResult is
                # Result), two modules may not
                by_object[id(value)].add(module_name)
    twice = [
        f"{name}: {sorted(packages)}" for name, packages in by_name.items() if len(packages) > 1
    ]
    assert not twice, "names exported by more than one package:\n" + "\n".join(sorted(twice))
    again = [", ".join(sorted(places)) for places in by_object.values() if len(places) > 1]
    assert not again, "objects exported by more than one module:\n" + "\n".join(again)


def test_a_package_exports_only_what_it_defines() -> None:
    """A class or function is exported by the package that defines it, never by a
    package above it."""
    foreign = []
    for module_name in HOMES:
        for name, value in exports(module_name).items():
            where = defined_in(value)
            if where is not None and package_of(where) != package_of(module_name):
                foreign.append(f"{module_name}.{name} (defined in {where})")
    assert not foreign, "names handed on from a lower package:\n" + "\n".join(foreign)


def home_of() -> dict[str, tuple[str, Any]]:
    homes = {}
    for module_name in HOMES:
        for name, value in exports(module_name).items():
            homes.setdefault(name, (module_name, value))
    return homes


@pytest.mark.parametrize("facade", ["fastmcp", "fastmcp.prelude"])
def test_the_facade_hands_on_each_name_from_its_one_home(facade: str) -> None:
    homes = home_of()
    strays = []
    for name, value in exports(facade).items():
        if name in homes:
            if homes[name][1] is not value:
                strays.append(f"{facade}.{name} is not {homes[name][0]}.{name}")
        elif package_of(defined_in(value) or "") != FACADE:
            strays.append(f"{facade}.{name} has no home")
    assert strays == []


def test_the_prelude_is_a_part_of_the_facade() -> None:
    import fastmcp
    import fastmcp.prelude

    for name in fastmcp.prelude.__all__:
        assert getattr(fastmcp.prelude, name) is getattr(fastmcp, name)


def test_no_package_imports_another_packages_private_modules() -> None:
    """What another package needs of a package is in its ``__all__``."""
    reaching = []
    for package in PACKAGES:
        source = Path(importlib.import_module(package).__path__[0])
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules = [node.module]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    continue
                for module in modules:
                    private = any(part.startswith("_") for part in module.split("."))
                    if package_of(module) in PACKAGES and package_of(module) != package and private:
                        reaching.append(f"{path.relative_to(source.parent)}: {module}")
    assert not reaching, "\n".join(reaching)
