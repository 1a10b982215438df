"""The official conformance suite against examples/conformance/client.py.

One harness run per harness version and wire (the harness starts every scenario of a
run at once, one client process each): harness 0.1.16 (``--suite all``), and
0.2.0-alpha.12 at the 2026-07-28 wire (stateless) and at the 2025-11-25 wire (sessions;
the only place it runs ``initialize``, ``sse-retry`` and the elicitation defaults).

Every non-auth scenario must pass: no FAILURE and no WARNING check, and at least one
SUCCESS (a scenario the client never reached has no checks at all and would pass).

The ``auth/*`` scenarios are left out for now: the client's OAuth support is being built
(another branch adds it together with its scenarios here). Until then the harness still
runs them, and the client exits at once with "unknown scenario".
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import conformance
import pytest

CLIENT = Path(__file__).parents[1] / "examples" / "conformance" / "client.py"
COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(CLIENT))}"

STATEFUL = {"initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry"}
STATELESS = {
    "tools_call",
    "request-metadata",
    "sep-2322-client-request-state",
    "http-standard-headers",
    "http-custom-headers",
    "http-invalid-tool-headers",
    "json-schema-ref-no-deref",
    "json-schema-2020-12-preservation",
}


@pytest.mark.parametrize(
    ("version", "args", "expected"),
    [
        ("0.1.16", ("--suite", "all"), STATEFUL),
        ("0.2.0-alpha.12", ("--suite", "all", "--spec-version", "2026-07-28"), STATELESS),
        (
            "0.2.0-alpha.12",
            ("--suite", "all", "--spec-version", "2025-11-25"),
            STATEFUL | {"json-schema-2020-12-preservation"},
        ),
    ],
    ids=["0.1.16-all", "alpha.12-2026-07-28", "alpha.12-2025-11-25"],
)
def test_every_non_auth_client_scenario_passes(
    version: str, args: tuple[str, ...], expected: set[str]
) -> None:
    recorded = conformance.run(version, "client", "--command", COMMAND, *args)
    # auth/*: not handled by the client yet (see the module docstring)
    scenarios = [s for s in recorded if not s.name.startswith("auth/")]
    assert {s.name for s in scenarios} == expected
    assert conformance.report(scenarios) == ""
    assert [s.name for s in scenarios if s.warnings] == []
    assert [s.name for s in scenarios if not s.with_status("SUCCESS")] == []
