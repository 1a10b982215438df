"""The facade re-exports the packages' public names, and importing it stays light.

That each of its names is the very object of its one home is checked with every
package's exports, in ``tests-integration/test_exports.py``."""

from __future__ import annotations

import subprocess
import sys

import fastmcp
import fastmcp.prelude
import fastmcp_client
import fastmcp_server


def test_the_public_server_and_client_names_are_all_there() -> None:
    # what a server or client author reaches for; the task store's TaskState is left
    # to fastmcp_server (the client has its own TaskState of a different shape)
    wanted = (set(fastmcp_server.__all__) - {"TaskState", "Connection"}) | {
        "Client",
        "Outcome",
        "Ok",
        "Err",
        "Cancelled",
        "Panicked",
        "TestingContext",
    }
    assert wanted <= set(fastmcp.__all__)
    assert len(set(fastmcp.__all__)) == len(fastmcp.__all__)


def test_the_prelude_brings_the_everyday_names() -> None:
    scope: dict[str, object] = {}
    exec("from fastmcp.prelude import *", scope)
    names = set(scope) - {"__builtins__"}
    assert names == set(fastmcp.prelude.__all__)
    assert {"Server", "tool", "McpContext", "Budget", "Outcome", "Client"} <= names
    assert all(scope[name] is getattr(fastmcp, name) for name in names)


def test_the_version_is_the_packages_version() -> None:
    assert fastmcp.__version__ == fastmcp_server.__version__ == fastmcp_client.__version__


def test_importing_the_facade_loads_no_http_cli_or_auth_machinery() -> None:
    heavy = [
        "httpx",
        "h11",
        "hypercorn",
        "fastmcp.cli",
        "fastmcp.proxy",
        "fastmcp_transport.http_server",
        "fastmcp_transport.http_client",
        "fastmcp_server.auth",
        "fastmcp_client.auth",
    ]
    script = (
        f"import sys, fastmcp, fastmcp.prelude; print([m for m in {heavy!r} if m in sys.modules])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
