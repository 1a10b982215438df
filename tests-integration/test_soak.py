"""The bounded part of the soak (``tools/soak.py --quick``, our server only, about a
minute): the probes ``nox -s soak`` runs against ours and the official SDK's, with
smaller counts, each of which our server must survive.

Real processes, real sockets, wall-clock figures; what is asserted is what survived,
never how fast (the figures go to RELIABILITY.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_soak_is_survived(tmp_path: Path) -> None:
    out = tmp_path / "RELIABILITY.md"
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "soak.py"), "--quick", "--out", str(out)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    ours = msgspec.json.decode(run.stdout)["ours"]
    garbage = ours["garbage"]
    assert garbage["inputs"] == 1000
    assert garbage["alive"]  # every ping among the garbage answered
    assert garbage["tracebacks on stderr"] == 0
    assert ours["vanish"]["exited"]  # within its grace (DEFAULT_SHUTDOWN_GRACE)
    assert ours["epipe"]["exited"]
    assert ours["http-vanish"]["next call answered"]
    flood = ours["session-flood"]
    assert flood["refused"] == 0
    assert flood["still held"] == 100  # max_sessions_per_client: the newest ones
    assert flood["newcomer served"]
    assert ours["load"]["errors"] == 0
    assert ours["load"]["calls"] > 0
    assert ours["slow-body"]["let go"]
    assert ours["slow-body"]["answer"].startswith("HTTP/1.1 408")
    report = out.read_text()
    assert "| garbage | alive | True |" in report
