"""Build, test and check every package of the monorepo together.

nox                 lint, typecheck and tests: what CI runs (.ci/run)
nox -s tests        every package's tests, tests-integration/ and examples/ (installs
                    what they need)
nox -s lint         ruff lint + format check
nox -s typecheck    mypy --strict on every package's src/ and on the examples
nox -s conformance  the official MCP conformance suite against our server and client
nox -s bench        benchmarks against the peers (writes benchmarks/RESULTS.md)
nox -s demo         install, start an example server, call one of its tools
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

# Dependency order: each package pins its siblings to the same version.
PACKAGES = [
    "fastmcp-protocol",
    "fastmcp-core",
    "fastmcp-transport",
    "fastmcp-server",
    "fastmcp-client",
    "fastmcp",
]


def install_packages(session: nox.Session, extra: str = "test", *, editable: bool = True) -> None:
    """Every package (editable unless told otherwise) in one resolver run, so the
    siblings resolve to these folders."""
    args: list[str] = []
    for package in PACKAGES:
        path = f"packages/{package}[{extra}]" if extra else f"packages/{package}"
        args += ["-e", path] if editable else [path]
    session.install(*args)
    if not editable:  # a reused environment may hold an older build of the same version
        session.install("--force-reinstall", "--no-deps", *args)


@nox.session
def tests(session: nox.Session) -> None:
    """Run every package's tests and tests-integration/ (pass pytest args after --)."""
    install_packages(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the src/ of every package, and on the examples (one folder at
    a time: each is a set of scripts, and two of them are called client.py)."""
    install_packages(session)
    session.install("mypy")
    session.run("mypy")
    for folder in ("examples", "examples/cli", "examples/conformance"):
        session.run("mypy", "--strict", *sorted(str(p) for p in Path(folder).glob("*.py")))
    session.run("mypy", "--strict", "examples/testing", env={"MYPYPATH": "examples"})


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: install the packages, start the quick-start example server as a
    child process (stdio) and call its tool, resource and prompt."""
    install_packages(session, extra="", editable=False)  # as a user gets them
    session.run("python", "examples/client.py")


@nox.session
def conformance(session: nox.Session) -> None:
    """The official MCP conformance suite (harness 0.1.16 and 0.2.0-alpha.12) against
    examples/conformance/server.py and examples/conformance/client.py."""
    install_packages(session)
    session.run(
        "pytest",
        "-v",
        "tests-integration/test_conformance_server.py",
        "tests-integration/test_conformance_client.py",
        *session.posargs,
    )
