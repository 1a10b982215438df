"""Running the official MCP conformance suite (``@modelcontextprotocol/conformance``).

The harness comes from ``peers.conformance_harness`` (pinned, cached; Node >= 22, taken
from PyPI when the machine's Node is older) and runs directly: ``server --url URL ...``
or ``client --command CMD ...``. Every scenario writes ``checks.json``; a scenario fails
when one of its checks is ``FAILURE``. This is what ``../shared/mcp-spec/run-conformance.sh``
does, without needing that folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs
import peers

HARNESS_VERSIONS = peers.CONFORMANCE_VERSIONS

# a scenario's results folder is <name>-<ISO timestamp>, e.g. auth/basic-cimd-2026-11-25T10-08-12-276Z
_TIMESTAMP = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


@attrs.frozen
class Scenario:
    name: str
    checks: tuple[dict[str, object], ...]
    output: str = ""
    """What the client under test printed (client mode), for the failure report."""

    def with_status(self, status: str) -> list[dict[str, object]]:
        return [c for c in self.checks if c.get("status") == status]

    @property
    def failures(self) -> list[dict[str, object]]:
        return self.with_status("FAILURE")

    @property
    def warnings(self) -> list[dict[str, object]]:
        return self.with_status("WARNING")


def run(version: str, *args: str, timeout: float = 600) -> list[Scenario]:
    """Run the harness with ``args`` and return every scenario it recorded, by name."""
    with tempfile.TemporaryDirectory(prefix="mcp-conformance-") as out:
        result = subprocess.run(
            [*peers.conformance_harness(version), *args, "-o", out],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        scenarios = []
        for checks in sorted(Path(out).rglob("checks.json")):
            name = _TIMESTAMP.sub("", checks.parent.relative_to(out).as_posix())
            output = "".join(
                f"{stream.name}:\n{stream.read_text()[-2000:]}"
                for stream in sorted(checks.parent.glob("std*.txt"))
                if stream.stat().st_size
            )
            scenarios.append(Scenario(name, tuple(json.loads(checks.read_text())), output))
    if not scenarios:
        raise AssertionError(f"the harness recorded nothing:\n{result.stdout}\n{result.stderr}")
    return sorted(scenarios, key=lambda s: s.name)


def report(scenarios: Sequence[Scenario]) -> str:
    """One line per FAILURE check: ``scenario: check id: message``, then what the
    client printed in that scenario."""
    lines = []
    for s in scenarios:
        for check in s.failures:
            lines.append(
                f"{s.name}: {check.get('id')}: {check.get('errorMessage') or check.get('details')}"
            )
        if s.failures and s.output:
            lines.append(f"{s.name}: the client printed\n{s.output}")
    return "\n".join(lines)
