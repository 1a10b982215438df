"""The official conformance suite against examples/conformance/client.py (auth/* scenarios
through examples/conformance/auth_client.py).

One harness run per harness version and selection (the harness starts every scenario
of a run at once, one client process each): harness 0.1.16 ``--suite all``, and
0.2.0-alpha.12 ``--suite all`` at the 2026-07-28 wire (stateless), at the 2025-11-25
wire (sessions; the only place it runs ``initialize``, ``sse-retry`` and the elicitation
defaults), and its ``extensions`` suite (the auth extensions, which a ``--spec-version``
leaves out).

Every scenario must pass: no FAILURE and no WARNING check, and at least one SUCCESS (a
scenario the client never reached has no checks at all and would pass). The one check
that measures wall-clock time, ``sse-retry``'s reconnection delay (500 ms, late past
700 ms, failed past 1000 ms), is judged in a run of that scenario alone: in a suite run
the harness starts one client process per scenario, all at once, and on two cores
those thirty interpreters starting up are load enough to delay any process by more
than the check's margin. Everything else of ``sse-retry`` is judged in the suites too. The
0.2.0-alpha.12 skills scenarios (``sep-2640-client-*``, in no suite but ``all``
without a version) run one by one.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import attrs
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
AUTH = {
    f"auth/{name}"
    for name in (
        "metadata-default",
        "metadata-var1",
        "metadata-var2",
        "metadata-var3",
        "basic-cimd",
        "scope-from-www-authenticate",
        "scope-from-scopes-supported",
        "scope-omitted-when-undefined",
        "scope-step-up",
        "scope-retry-limit",
        "token-endpoint-auth-basic",
        "token-endpoint-auth-post",
        "token-endpoint-auth-none",
        "pre-registration",
    )
}
AUTH_BACKCOMPAT = {
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/2025-03-26-oauth-endpoint-fallback",
}
AUTH_DRAFT = {
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
}
AUTH_2026 = AUTH_DRAFT | {
    "auth/authorization-server-migration",
    "auth/iss-supported",
    "auth/iss-not-advertised",
    "auth/iss-supported-missing",
    "auth/iss-wrong-issuer",
    "auth/iss-unexpected",
    "auth/iss-normalized",
    "auth/metadata-issuer-mismatch",
}
AUTH_EXTENSIONS = {"auth/client-credentials-jwt", "auth/client-credentials-basic"}


@pytest.mark.parametrize(
    ("version", "args", "expected"),
    [
        (
            "0.1.16",
            ("--suite", "all"),
            STATEFUL
            | AUTH
            | AUTH_BACKCOMPAT
            | AUTH_DRAFT
            | AUTH_EXTENSIONS
            | {"auth/cross-app-access-complete-flow"},
        ),
        (
            "0.2.0-alpha.12",
            ("--suite", "all", "--spec-version", "2026-07-28"),
            STATELESS | AUTH | AUTH_2026,
        ),
        (
            "0.2.0-alpha.12",
            ("--suite", "all", "--spec-version", "2025-11-25"),
            # --spec-version 2025-11-25 leaves out the 2025-03-26 back-compat scenarios
            STATEFUL | {"json-schema-2020-12-preservation"} | AUTH,
        ),
        (
            "0.2.0-alpha.12",
            ("--suite", "extensions"),
            AUTH_EXTENSIONS
            | {
                "auth/enterprise-managed-authorization",
                "auth/dpop",
                "auth/dpop-nonce",
                "auth/wif-jwt-bearer",
            },
        ),
    ],
    ids=["0.1.16-all", "alpha.12-2026-07-28", "alpha.12-2025-11-25", "alpha.12-extensions"],
)
def test_every_client_scenario_passes(
    version: str, args: tuple[str, ...], expected: set[str]
) -> None:
    scenarios = untimed(conformance.run(version, "client", "--command", COMMAND, *args))
    assert {s.name for s in scenarios} == expected
    failed = conformance.report(scenarios)
    assert not failed, failed
    assert [s.name for s in scenarios if s.warnings] == []
    assert [s.name for s in scenarios if not s.with_status("SUCCESS")] == []


TIMED = ("sse-retry", "client-sse-retry-timing")
"""The scenario and check that measure wall-clock time (see the module docstring)."""


def untimed(scenarios: list[conformance.Scenario]) -> list[conformance.Scenario]:
    return [
        attrs.evolve(s, checks=tuple(c for c in s.checks if (s.name, c.get("id")) != TIMED))
        for s in scenarios
    ]


@pytest.mark.parametrize("version", ["0.1.16", "0.2.0-alpha.12"])
def test_the_client_reconnects_when_the_retry_field_says(version: str) -> None:
    scenarios = conformance.run(version, "client", "--command", COMMAND, "--scenario", TIMED[0])
    assert [s.name for s in scenarios] == [TIMED[0]]
    timing = [c for c in scenarios[0].checks if c.get("id") == TIMED[1]]
    assert [c.get("status") for c in timing] == ["SUCCESS"], timing
    assert not conformance.report(scenarios)


SKILLS = [
    "sep-2640-client-no-prefetch",
    "sep-2640-client-verify-digest",
    "sep-2640-client-verify-size",
    "sep-2640-client-verify-frontmatter",
]


@pytest.mark.parametrize("scenario", SKILLS)
def test_the_skills_scenarios_pass(scenario: str) -> None:
    scenarios = conformance.run(
        "0.2.0-alpha.12", "client", "--command", COMMAND, "--scenario", scenario
    )
    assert [s.name for s in scenarios] == [scenario]
    failed = conformance.report(scenarios)
    assert not failed, failed
    assert [s.name for s in scenarios if s.warnings or not s.with_status("SUCCESS")] == []
