"""AGENTS.md's layering, read from the source: imports point one way between the
packages (protocol <- core <- transport <- {server, client} <- fastmcp), and no
module of a package imports, even for types only or lazily, one that imports it
back (no import circle inside a package)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LAYERS = {
    "fastmcp_protocol": set[str](),
    "fastmcp_core": {"fastmcp_protocol"},
    "fastmcp_transport": {"fastmcp_protocol", "fastmcp_core"},
    "fastmcp_server": {"fastmcp_protocol", "fastmcp_core", "fastmcp_transport"},
    "fastmcp_client": {"fastmcp_protocol", "fastmcp_core", "fastmcp_transport"},
    "fastmcp": {
        "fastmcp_protocol",
        "fastmcp_core",
        "fastmcp_transport",
        "fastmcp_server",
        "fastmcp_client",
    },
}


def modules(package: str) -> dict[str, Path]:
    """Every module of ``package`` by dotted name."""
    folder = next(ROOT.glob(f"packages/*/src/{package}"))
    found = {}
    for path in folder.rglob("*.py"):
        parts = list(path.relative_to(folder.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(path: Path, name: str) -> set[str]:
    """The modules ``path`` (module ``name``) imports anywhere in its body."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_point_down_the_layers(package: str) -> None:
    wrong = {
        f"{name} imports {target}"
        for name, path in modules(package).items()
        for target in imported(path, name)
        if (top := target.partition(".")[0]) in LAYERS
        and top != package
        and top not in LAYERS[package]
    }
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_no_import_circle_inside_a_package(package: str) -> None:
    own = modules(package)
    graph = {
        name: {
            target
            for target in imported(path, name)
            if target in own and target != name and not name.startswith(target + ".")
            # a package's __init__ re-exports its modules: importing one of them
            # runs the __init__ first, which is not an edge of the module's making
        }
        for name, path in own.items()
    }
    circles = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not circles, [" -> ".join(circle) for circle in circles]
