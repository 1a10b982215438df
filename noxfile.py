"""Build, test and check every package of the monorepo together.

nox                 lint, typecheck and tests: what CI runs (.ci/run)
nox -s tests        every package's tests, tests-integration/ and examples/ (installs
                    what they need)
nox -s lint         ruff lint + format check
nox -s typecheck    mypy --strict on every package's src/ and on the examples
nox -s conformance  the official MCP conformance suite against our server and client
nox -s bench        benchmarks against the peers (writes benchmarks/RESULTS.md); the
                    harness is ../shared/bench (MCPBENCH_DIR), the peers' venvs
                    ~/.cache/mcpbench-peers (MCPBENCH_PEERS); `-- --quick` for a smoke run
nox -s demo         install, start an example server, call one of its tools
"""

from __future__ import annotations

import os
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


# The shared benchmark harness: ../shared/bench beside the repository (MCPBENCH_DIR
# overrides), and the peers' environments it sets up (MCPBENCH_PEERS overrides).
BENCH_PACKAGES = PACKAGES[:5]  # the server and the client, without the facade


def _bench_dir(session: nox.Session) -> Path:
    default = Path(__file__).resolve().parent.parent / "shared" / "bench"
    bench = Path(os.environ.get("MCPBENCH_DIR") or default).expanduser().resolve()
    if not (bench / "mcpbench.py").is_file() or not (bench / "setup_peers.sh").is_file():
        session.error(
            f"the benchmark harness is not at {bench} (no mcpbench.py / setup_peers.sh): "
            "check out shared/ beside this repository or set MCPBENCH_DIR"
        )
    return bench


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against the peers: writes benchmarks/RESULTS.md (pass --quick or
    --reps N after -- to change the run)."""
    bench_dir = _bench_dir(session)
    peers = os.environ.get("MCPBENCH_PEERS") or str(Path("~/.cache/mcpbench-peers").expanduser())
    session.run("bash", str(bench_dir / "setup_peers.sh"), peers, external=True)
    # Installed the way users get them: built, not editable (an editable install in an
    # environment without bytecode writing would recompile on every start), then
    # byte-compiled, since uv does not compile at install.
    local = [f"packages/{package}" for package in BENCH_PACKAGES]
    session.install(*local)
    session.install("--no-deps", "--force-reinstall", *local)
    site = session.run(
        "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True
    )
    assert isinstance(site, str)
    session.run("python", "-m", "compileall", "-q", site.strip(), silent=True)
    session.run(
        "python", "benchmarks/run.py", "--bench-dir", str(bench_dir), "--peers", peers,
        *session.posargs,
    )  # fmt: skip
