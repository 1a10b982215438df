"""Build, test and check every package of the monorepo together.

``python3 tools/nox.py [ARGS]`` runs nox with ARGS from a virtual environment of its own
(.nox/_bootstrap, nox and uv at the lock's versions): what the README and CI use, and
what works on a system Python that PEP 668 marks externally managed. Any nox runs this
file too.

nox                 lint, typecheck and tests: what CI runs (.ci/run)
nox -s tests        every package's tests, tests-integration/ and examples/ (installs
                    what they need)
nox -s lint         ruff lint + format check
nox -s typecheck    mypy --strict on every package's src/, on the examples and on tools/
nox -s demo         install, start an example server, call one of its tools
nox -s build        the six packages' wheels and sdists into dist/ (docs/installing.md)
nox -s conformance  the official MCP conformance suite against our server and client
nox -s soak         the same probes against our server and the official SDK's (garbage,
                    vanishing peers, EPIPE, a slow body, a session flood, load): writes
                    RELIABILITY.md; `-- --quick` is the bounded run the tests make
nox -s bench        benchmarks against the peers (writes benchmarks/RESULTS.md); the
                    harness is ../shared/bench (MCPBENCH_DIR), the peers' venvs
                    ~/.cache/mcpbench-peers (MCPBENCH_PEERS); `-- --quick` for a smoke run
nox -s lock         refresh lock/ on purpose: the newest releases the packages' ranges
                    allow (`-- --upgrade-package NAME` refreshes one), and the locks of
                    what the integration tests install for the peers
nox -s tests-latest the tests against the newest releases, lock ignored (not a default
                    session: drift shows up here without blocking a landing)
nox -s bump -- X.Y.Z  the six packages' new version: every pyproject.toml's version and
                    sibling pins, and the pages that name a wheel or a pin (tools/bump.py)

The lock. Every session installs against ``lock/constraints.txt``: one version of every
third-party package the sessions install (the packages' dependencies and all their extras,
the tools, the build backend hatchling), resolved for Python 3.11 and newer on any
platform. It applies to what is installed (``-c``) and to what builds our packages
(``UV_BUILD_CONSTRAINT``, ``PIP_CONSTRAINT``), so a release on PyPI changes nothing here
until ``nox -s lock`` takes it in. The packages' own requirements stay ranges: the lock is
this repository's, not their users'.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
# uv trusts the certificates the system trusts, as pip does (Debian's pip, or pip 24.2+
# with truststore): where pip can download (behind a proxy with its own authority, say),
# the sessions can too. A value the user set wins.
os.environ.setdefault("UV_SYSTEM_CERTS", "1")

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "lock" / "constraints.txt"
LOCK_INPUT = ROOT / "lock" / "requirements.in"  # what the lock covers, written by `nox -s lock`
# The tools the sessions install, locked beside the packages' dependencies.
TOOLS = ["nox", "uv", "ruff", "mypy", "types-PyYAML", "hatchling"]

# Dependency order: each package pins its siblings to the same version.
PACKAGES = [
    "fastmcp-protocol",
    "fastmcp-core",
    "fastmcp-transport",
    "fastmcp-server",
    "fastmcp-client",
    "fastmcp",
]


def install(session: nox.Session, *args: str, locked: bool = True) -> None:
    """``session.install(*args)`` against the lock: for what is installed, and for the
    build dependencies of what is built (uv or pip, whichever nox runs on). Unlocked, the
    newest releases instead (``--upgrade`` in a reused environment)."""
    if locked:
        build = {"UV_BUILD_CONSTRAINT": str(LOCK), "PIP_CONSTRAINT": str(LOCK)}
        session.install("-c", str(LOCK), *args, env=build)
    else:
        session.install("--upgrade", *args)


def install_packages(
    session: nox.Session,
    *also: str,
    extra: str = "test",
    editable: bool = True,
    locked: bool = True,
) -> None:
    """Every package (editable unless told otherwise) and ``also`` in one resolver run,
    so the siblings resolve to these folders."""
    args: list[str] = []
    for package in PACKAGES:
        path = f"packages/{package}[{extra}]" if extra else f"packages/{package}"
        args += ["-e", path] if editable else [path]
    install(session, *args, *also, locked=locked)
    if not editable:  # a reused environment may hold an older build of the same version
        install(session, "--force-reinstall", "--no-deps", *args, locked=locked)


def need_uv(session: nox.Session) -> None:
    """Make ``uv`` runnable in ``session``: nox runs its own when it runs on uv
    (``tools/nox.py`` installs it beside nox), else the lock's goes into the session."""
    if session.venv_backend != "uv":
        install(session, "uv")


@nox.session
def tests(session: nox.Session) -> None:
    """Run every package's tests and tests-integration/ (pass pytest args after --).

    The property tests draw their examples from a fixed seed here, so the test command
    gives the same answer on every run (a failure it finds is one anyone can replay);
    ``nox -s tests-latest`` and a plain ``pytest`` draw new ones each time."""
    install_packages(session)
    seed = (
        []
        if any(a.startswith("--hypothesis-seed") for a in session.posargs)
        else ["--hypothesis-seed=0"]
    )
    session.run("pytest", *seed, *session.posargs)


@nox.session(name="tests-latest")
def tests_latest(session: nox.Session) -> None:
    """The tests against the newest releases the packages' ranges allow, the lock ignored
    (pass pytest args after --). Not a default session: a new release that breaks
    something shows up here, and in CI only once ``nox -s lock`` takes it in."""
    install_packages(session, locked=False)
    # the installs of docs/installing.md (tests-integration/test_install.py) unlocked too
    session.run("pytest", *session.posargs, env={"FASTMCP_TEST_CONSTRAINTS": ""})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    install(session, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the src/ of every package, on the examples (one folder at a time:
    each is a set of scripts, and two of them are called client.py) and on tools/."""
    install_packages(session, "mypy")
    session.run("mypy")
    for folder in ("examples", "examples/cli", "examples/conformance", "tools"):
        session.run("mypy", "--strict", *sorted(str(p) for p in Path(folder).glob("*.py")))
    session.run("mypy", "--strict", "examples/testing", env={"MYPYPATH": "examples"})


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: install the packages, start the quick-start example server as a
    child process (stdio) and call its tool, resource and prompt."""
    install_packages(session, extra="", editable=False)  # as a user gets them
    session.run("python", "examples/client.py")


@nox.session
def build(session: nox.Session) -> None:
    """The six packages' wheels and sdists into dist/ (each wheel built from its sdist,
    hatchling at the lock's version); earlier builds of them there are removed first."""
    dist = ROOT / "dist"
    for old in [*dist.glob("fastmcp*.whl"), *dist.glob("fastmcp*.tar.gz")]:
        old.unlink()
    need_uv(session)
    for package in PACKAGES:
        session.run(
            "uv", "build", "--quiet", "--build-constraints", str(LOCK),
            "--out-dir", str(dist), f"packages/{package}",
        )  # fmt: skip
    session.log("dist/: " + " ".join(sorted(p.name for p in dist.glob("fastmcp*"))))


@nox.session
def lock(session: nox.Session) -> None:
    """Refresh lock/ on purpose: lock/constraints.txt with the newest releases the
    packages' ranges allow, for Python 3.11+ on any platform (``-- --upgrade-package
    NAME`` refreshes only NAME, keeping the rest), and the peers' locks: lock/peers.txt
    and lock/npm/ (``tests-integration/peers.py --lock``, with the same arguments). Review
    the diff, run the tests, commit."""
    # peers.py needs attrs and runs `python -m uv`; the very first lock is made unlocked
    install(session, "attrs", "uv", locked=LOCK.is_file())
    LOCK_INPUT.write_text(lock_input())
    no_emit = [arg for package in PACKAGES for arg in ("--no-emit-package", package)]
    uv_args = session.posargs or ["--upgrade"]
    session.run(
        "uv", "pip", "compile", "--quiet", "--universal", "--python-version", "3.11",
        *uv_args, *no_emit, "--custom-compile-command", "python3 tools/nox.py -s lock",
        "--output-file", str(LOCK.relative_to(ROOT)), str(LOCK_INPUT.relative_to(ROOT)),
    )  # fmt: skip
    session.run("python", "tests-integration/peers.py", "--lock", *uv_args)


@nox.session(venv_backend="none")
def bump(session: nox.Session) -> None:
    """Give the six packages a new version (``-- X.Y.Z``): ``tools/bump.py`` rewrites
    every place it is written and lists the files it changed. Review the diff, run the
    tests (the sessions reinstall the packages at their new version), commit."""
    if len(session.posargs) != 1:
        session.error("give the new version after --: nox -s bump -- X.Y.Z")
    session.run(sys.executable, "tools/bump.py", *session.posargs, external=True)


def lock_input() -> str:
    """What the lock covers: every package with all its extras (the packages themselves
    are left out of the lock), and the tools."""
    lines = [
        "# What lock/constraints.txt locks: every package with all its extras (the packages",
        "# themselves are left out of the lock) and the tools the nox sessions install.",
        "# Written by `python3 tools/nox.py -s lock` from packages/*/pyproject.toml.",
    ]
    for package in PACKAGES:
        project = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
        extras = ",".join(sorted(project["project"].get("optional-dependencies", {})))
        lines.append(f"./packages/{package}[{extras}]" if extras else f"./packages/{package}")
    return "\n".join([*lines, *TOOLS]) + "\n"


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


@nox.session
def soak(session: nox.Session) -> None:
    """The soak: the same probes (garbage on stdin, vanishing clients, EPIPE, a slow
    body, a session flood, load) against our server and the official SDK's in one run;
    writes RELIABILITY.md (pass --quick, --peers or --sdk-python after --). The SDK is
    the benchmark peers' (``nox -s bench`` sets it up; MCPBENCH_PEERS overrides)."""
    install_packages(session)
    peers = os.environ.get("MCPBENCH_PEERS") or str(Path("~/.cache/mcpbench-peers").expanduser())
    sdk = str(Path(peers) / "venv-sdk" / "bin" / "python")
    session.run("python", "tools/soak.py", "--sdk-python", sdk, *session.posargs)


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
    install(session, *local, "coredis")  # the Redis store (scale_out.py)
    install(session, "--no-deps", "--force-reinstall", *local)
    site = session.run(
        "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True
    )
    assert isinstance(site, str)
    # a file for a newer Python than this one (coredis's _py_312_typing) does not
    # compile and is never imported here: its failure is no failure of the run
    compile_all = "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=2)"
    session.run("python", "-c", compile_all, site.strip(), silent=True)
    session.run(
        "python", "benchmarks/run.py", "--bench-dir", str(bench_dir), "--peers", peers,
        *session.posargs,
    )  # fmt: skip
    # what the Redis store costs a replica, and replicas behind nginx (issue 16)
    quick = (
        ["--calls", "300", "--reps", "1", "--seconds", "2"] if "--quick" in session.posargs else []
    )
    out = "benchmarks/SCALE-OUT-quick.md" if quick else "benchmarks/SCALE-OUT.md"
    session.run("python", "benchmarks/scale_out.py", *quick, "--out", out)
