"""The official conformance suite against examples/conformance/server.py.

Every server scenario of harness 0.1.16 (32), and of 0.2.0-alpha.12 at each wire:
2026-07-28 (stateless), 2025-11-25 (sessions), and the whole suite including the
tasks and skills extensions; with the server on hypercorn (its own ``run_http``) and on
our own HTTP/1.1 server (``serve_h1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import conformance
import pytest
import servers

SERVER = Path(__file__).parents[1] / "examples" / "conformance" / "server.py"


@pytest.fixture(scope="module", params=["hypercorn", "h1"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    with servers.http_server(SERVER, server=request.param) as url:
        yield url


@pytest.mark.parametrize(
    ("version", "args", "expected"),
    [
        ("0.1.16", ("--suite", "all"), 32),
        ("0.2.0-alpha.12", ("--suite", "all", "--spec-version", "2026-07-28"), 40),
        ("0.2.0-alpha.12", ("--suite", "all", "--spec-version", "2025-11-25"), 33),
        ("0.2.0-alpha.12", ("--suite", "all"), 65),
    ],
    ids=["0.1.16-all", "alpha.12-2026-07-28", "alpha.12-2025-11-25", "alpha.12-all"],
)
def test_every_server_scenario_passes(
    url: str, version: str, args: tuple[str, ...], expected: int
) -> None:
    scenarios = conformance.run(version, "server", "--url", url, *args)
    assert len(scenarios) == expected, sorted(s.name for s in scenarios)
    failed = conformance.report(scenarios)
    assert not failed, failed
    assert [s.name for s in scenarios if s.warnings] == []
    # the skills extension is served: its checks run (none skipped as not applicable)
    skills = [s for s in scenarios if "sep-2640" in s.name]
    assert [s.name for s in skills if s.with_status("SKIPPED")] == []
    assert len(skills) == (3 if version != "0.1.16" and args == ("--suite", "all") else 0)
