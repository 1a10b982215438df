"""The benchmark run behind ``nox -s bench``: our server and client against the peers.

One interleaved ``mcpbench.py`` run (``--reps`` repetitions) measures four servers
side by side: the floor (trio + msgspec, no framework), the official SDK (``mcp``),
jlowin's ``fastmcp`` and ours (``examples/bench_server.py``), on stdio and HTTP,
plus the import time of each framework. Then ``client_bench.py`` runs our client and
the SDK's client against the floor server, interleaved the same way. The results go
to ``benchmarks/RESULTS.md`` (tables, ratios against the targets, date, versions,
the exact commands) and the raw JSON lines to ``benchmarks/results.jsonl``; the
comparison table of ``README.md`` (between ``<!-- bench:compare -->`` markers) is
rewritten from the same figures.

The text between ``<!-- notes -->`` and ``<!-- /notes -->`` in an existing
RESULTS.md (why a target is missed, what was changed) is kept across runs.

    python benchmarks/run.py --bench-dir ../shared/bench --peers ~/.cache/mcpbench-peers

Run it with the interpreter that has our packages installed (not editable): that
interpreter serves ``bench_server.py`` and runs our client.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER = ROOT / "examples" / "bench_server.py"
CLIENT = HERE / "client_bench.py"
NOTES_BEGIN, NOTES_END = "<!-- notes -->", "<!-- /notes -->"

# (metric, label, kind, limit): kind "ratio" compares ours / floor, "abs" ours alone
TARGETS: list[tuple[str, str, str, float]] = [
    ("stdio.seq_server_cpu_us_per_call", "stdio sequential echo, server CPU per call (µs)",
     "ratio", 2.0),
    ("stdio.pipe_server_cpu_us_per_call", "stdio pipelined (64 in flight), server CPU per call (µs)",
     "ratio", 5.0),
    ("stdio.cold_start_ms", "stdio cold start, spawn → initialize response (ms)", "ratio", 1.5),
    ("import.wall_ms", "import of the server package (ms)", "ratio", 1.5),
    ("stdio.rss_idle_mb", "stdio idle RSS (MiB)", "ratio", 1.3),
    ("stdio.cold_start_1000tools_ms", "cold start with 1003 tools (ms)", "ratio", 2.0),
    ("stdio.tools_list_1000_ms", "tools/list of 1003 tools (ms)", "ratio", 3.0),
    ("http.seq_server_cpu_us_per_call", "HTTP sequential echo, server CPU per call (µs)",
     "ratio", 2.0),
    ("stdio.conc50_sleep100_wall_ms", "stdio 50 x sleep(100 ms) at once, wall (ms)", "abs", 120.0),
    ("http.conc50_sleep100_wall_ms", "HTTP 50 x sleep(100 ms) at once, wall (ms)", "ratio", 1.15),
]  # fmt: skip
"""Issue 9's targets, as issue 14 tightened them (stdio pipelined 5x the floor, HTTP
50 sleeps 1.15x the floor, the client 1.15x the bare loop)."""
PEERS = ("floor", "sdk", "fastmcp", "ours")
CLIENT_TARGET_RATIO = 1.15
"""Our client's CPU per sequential call at most this many times the bare trio loop's
(its concurrent row writes each wave at once, which no request/response client does)."""


def mcpbench_args(o: argparse.Namespace) -> list[str]:
    """The mcpbench command line: every peer and ours, import time, stdio and HTTP."""
    peers, bench = Path(o.peers), Path(o.bench_dir)
    py = {
        name: str(peers / f"venv-{name}" / "bin" / "python") for name in ("floor", "sdk", "fastmcp")
    }
    script = {
        name: str(bench / "peers" / f"{name}_server.py") for name in ("floor", "sdk", "fastmcp")
    }
    ours = f"{shlex.quote(o.python)} {shlex.quote(str(SERVER))}"
    args = [sys.executable, str(bench / "mcpbench.py"), "--reps", str(o.reps)]
    if o.quick:
        args.append("--quick")
    else:
        # server CPU is read in clock ticks (10 ms): 1000 sequential HTTP calls of
        # ~200 us are ~20 ticks, a step of 10 us per call; 3000 make it 3.3 us
        args += ["--n-http-seq", "3000"]
    args += [
        "--import-time", f"floor={py['floor']}:trio,msgspec",
        "--import-time", f"sdk={py['sdk']}:from mcp.server import MCPServer",
        "--import-time", f"fastmcp={py['fastmcp']}:from fastmcp import FastMCP",
        "--import-time", f"ours={o.python}:from fastmcp_server import Server",
    ]  # fmt: skip
    for name in ("floor", "sdk", "fastmcp"):
        args += ["--stdio", f"{name}={py[name]} {script[name]}"]
    args += ["--stdio", f"ours={ours}"]
    for name in ("floor", "sdk", "fastmcp"):
        args += ["--http", f"{name}={py[name]} {script[name]} http {{port}}"]
    args += ["--http", f"ours={ours} http {{port}}"]
    return args


def client_commands(o: argparse.Namespace) -> dict[str, list[str]]:
    peers, bench = Path(o.peers), Path(o.bench_dir)
    floor = f"{peers / 'venv-floor' / 'bin' / 'python'} {bench / 'peers' / 'floor_server.py'}"
    extra = ["--n-seq", "500", "--n-conc", "2000"] if o.quick else []
    return {
        "ours": [o.python, str(CLIENT), "--impl", "ours", "--server", floor, *extra],
        "sdk": [str(peers / "venv-sdk" / "bin" / "python"), str(CLIENT), "--impl", "sdk",
                "--server", floor, *extra],
        "bare": [o.python, str(CLIENT), "--impl", "bare", "--server", floor, *extra],
        "paired": [o.python, str(CLIENT), "--impl", "paired", "--server", floor,
                   *(["--blocks", "4"] if o.quick else [])],
    }  # fmt: skip


def version_of(python: str, *dists: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for d in sys.argv[1:]:\n"
        "    try: out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    result = subprocess.run([python, "-c", code, *dists], capture_output=True, text=True)
    found: dict[str, str] = json.loads(result.stdout or "{}")
    return found


def git_revision() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    outputs = ("benchmarks/RESULTS.md", "benchmarks/results.jsonl", "README.md")  # its outputs
    changed = [
        line
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if line[3:] not in outputs
    ]
    return revision + (" (with uncommitted changes)" if changed else "")


def medians(rows: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        if "target" in row:
            groups.setdefault((row["target"], row["metric"]), []).append(row["value"])
    out: dict[tuple[str, str], Any] = {}
    for key, values in groups.items():
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        out[key] = statistics.median(numbers) if len(numbers) == len(values) else values[0]
    return out


def fmt(value: Any) -> str:
    if not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def targets_table(m: dict[tuple[str, str], Any]) -> tuple[str, list[str]]:
    lines = [
        "| measurement (median of reps) | floor | sdk | fastmcp | ours | ours / floor | target | met |",
        "|---|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    misses: list[str] = []
    for metric, label, kind, limit in TARGETS:
        values = [m.get((peer, metric)) for peer in PEERS]
        cells = [fmt(v) if v is not None else "-" for v in values]
        floor, ours = values[0], values[3]
        ratio = ours / floor if isinstance(ours, int | float) and floor else None
        if kind == "ratio":
            target = f"≤ {limit:g}x floor"
            met = ratio is not None and ratio <= limit
            gap = f"{ratio:.2f}x floor, target ≤ {limit:g}x" if ratio is not None else "n/a"
        else:
            target = f"≤ {limit:g}"
            met = isinstance(ours, int | float) and ours <= limit
            gap = f"{fmt(ours)}, target ≤ {limit:g}" if isinstance(ours, int | float) else "n/a"
        ratio_cell = f"{ratio:.2f}x" if ratio is not None else "-"
        lines.append(
            f"| {label} | {' | '.join(cells)} | {ratio_cell} | {target} | {'yes' if met else '**no**'} |"
        )
        if not met:
            misses.append(f"{label}: {gap}")
    return "\n".join(lines), misses


def client_table(rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["impl"], row["phase"]), []).append(row)
    lines = [
        "| client, against the floor server over stdio (median of reps) | calls/s | client CPU per call (µs) | server CPU per call (µs) |",
        "|---|--:|--:|--:|",
    ]  # fmt: skip
    misses: list[str] = []

    for (impl, phase), group in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rate = statistics.median(r["calls_per_s"] for r in group)
        cpu = statistics.median(r["client_cpu_us_per_call"] for r in group)
        server = statistics.median(r["server_cpu_us_per_call"] for r in group)
        name = {
            "ours": "fastmcp_client (ours)",
            "sdk": "mcp SDK Client",
            "bare": "bare trio loop, no library (calibration)",
        }[impl]
        mode = {"seq": "sequential", "seq-paired": "sequential, paired in one process"}.get(
            phase, f"{phase[4:]} concurrent"
        )
        lines.append(f"| {name}, {mode} | {fmt(rate)} | {fmt(cpu)} | {fmt(server)} |")
    # the target is read on the paired runs: ours and the bare loop in the same process
    # at the same time (separate runs depend on where the scheduler put each one)
    paired = [r["ratio_to_bare"] for r in groups.get(("ours", "seq-paired"), [])]
    if paired:
        ratio = statistics.median(paired)
        lines.append("")
        lines.append(
            f"Client CPU per sequential call, ours / the bare loop, paired in one process "
            f"(median of each run's per-block ratios, median over runs): **{ratio:.2f}x** "
            f"(runs: {', '.join(f'{r:.2f}' for r in paired)}); target ≤ {CLIENT_TARGET_RATIO:g}x."
        )
        if ratio > CLIENT_TARGET_RATIO:
            misses.append(
                f"client CPU per sequential call: {ratio:.2f}x the bare loop's (paired),"
                f" target ≤ {CLIENT_TARGET_RATIO:g}x"
            )
    return "\n".join(lines), misses


# the README's comparison: (metric, label, unit, how to show a check's value)
README_ROWS: list[tuple[str, str, str]] = [
    ("stdio.seq_server_cpu_us_per_call", "stdio, server CPU per sequential call", "µs"),
    ("stdio.pipe_server_cpu_us_per_call", "stdio, server CPU per call, 64 in flight", "µs"),
    ("stdio.pipe_calls_per_s", "stdio, calls per second, 64 in flight", ""),
    ("stdio.cold_start_ms", "stdio cold start, spawn to first answer", "ms"),
    ("stdio.rss_idle_mb", "idle memory (RSS)", "MiB"),
    ("stdio.cold_start_1000tools_ms", "cold start with 1003 tools", "ms"),
    ("stdio.tools_list_1000_ms", "`tools/list` of 1003 tools", "ms"),
    ("http.seq_server_cpu_us_per_call", "HTTP, server CPU per sequential call", "µs"),
]
README_CHECKS: list[tuple[str, str, dict[str, str]]] = [
    ("stdio.check.unknown_tool", "an unknown tool",
     {"ok (JSON-RPC error -32602)": "JSON-RPC error -32602", "isError result": "`isError` result"}),
    ("stdio.check.parse_error", "a line that is not JSON",
     {"ok (-32700)": "-32700 answer", "survived, no -32700 reply": "no answer"}),
    ("stdio.eof", "stdin closes while a call runs",
     {"in-flight finished": "the call finishes", "in-flight aborted": "the call is aborted",
      "in-flight dropped": "the call is dropped"}),
]  # fmt: skip
README_BEGIN, README_END = "<!-- bench:compare -->", "<!-- /bench:compare -->"


def readme_table(
    m: dict[tuple[str, str], Any], rows: list[dict[str, Any]], versions: dict[str, dict[str, str]]
) -> str:
    """The README's comparison table and client line, from this run's medians."""

    def cell(peer: str, metric: str, unit: str) -> str:
        value = m.get((peer, metric))
        return "-" if value is None else f"{fmt(value)} {unit}".strip()

    sdk, jlowin = versions["sdk"].get("mcp", "?"), versions["fastmcp"].get("fastmcp", "?")
    lines = [
        f"| measured (ratios count, not absolute values) | floor | official SDK `mcp` {sdk} "
        f"| jlowin `fastmcp` {jlowin} | fastmcp for Python |",
        "|---|--:|--:|--:|--:|",
    ]
    for metric, label, unit in README_ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(p, metric, unit) for p in PEERS) + " |")
    sleeps = [
        f"{cell(p, 'stdio.conc50_sleep100_wall_ms', '')} / {cell(p, 'http.conc50_sleep100_wall_ms', 'ms')}"
        for p in PEERS
    ]
    lines.append(f"| 50 calls of `sleep(100 ms)` at once, stdio / HTTP | {' | '.join(sleeps)} |")
    for metric, label, words in README_CHECKS:
        shown = []
        for peer in PEERS:
            value = str(m.get((peer, metric), "-"))
            shown.append(next((w for k, w in words.items() if value.startswith(k)), value))
        lines.append(f"| {label} | {' | '.join(shown)} |")

    def client(impl: str, phase: str) -> str:
        cpu = [
            r["client_cpu_us_per_call"] for r in rows if (r["impl"], r["phase"]) == (impl, phase)
        ]
        return f"{fmt(statistics.median(cpu))} µs" if cpu else "-"

    conc = next((r["phase"] for r in rows if r["phase"].startswith("conc")), "conc2000")
    lines += [
        "",
        "And the clients, each calling the floor server over stdio (client CPU per call):",
        f"ours {client('ours', 'seq')} sequential and {client('ours', conc)} with {conc[4:]} calls in "
        f"flight; the official SDK's `Client` {client('sdk', 'seq')} and {client('sdk', conc)}.",
    ]
    return "\n".join(lines)


def update_readme(path: Path, table: str) -> None:
    text = path.read_text()
    start, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    path.write_text(f"{text[:start]}\n{table}\n{text[end:]}")


def kept_notes(path: Path) -> str:
    if path.exists():
        text = path.read_text()
        if NOTES_BEGIN in text and NOTES_END in text:
            return text[text.index(NOTES_BEGIN) : text.index(NOTES_END) + len(NOTES_END)]
    return f"{NOTES_BEGIN}\n(no notes yet)\n{NOTES_END}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", required=True, help="the shared mcpbench directory")
    parser.add_argument("--peers", required=True, help="the peers' venvs (setup_peers.sh)")
    parser.add_argument("--python", default=sys.executable, help="the python with our packages")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run (not for RESULTS.md)")
    parser.add_argument("--out", help="default: benchmarks/RESULTS.md (-quick.md for --quick)")
    parser.add_argument("--jsonl", help="default: benchmarks/results.jsonl (-quick.jsonl)")
    o = parser.parse_args(argv)
    suffix = "-quick" if o.quick else ""
    o.out = o.out or str(HERE / f"RESULTS{suffix}.md")
    o.jsonl = o.jsonl or str(HERE / f"results{suffix}.jsonl")
    sys.path.insert(0, o.bench_dir)
    import mcpbench  # type: ignore[import-not-found]  # the shared harness, stdlib only

    revision = git_revision()  # before this run rewrites its own outputs
    started = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()
    jsonl = Path(o.jsonl)
    jsonl.unlink(missing_ok=True)
    bench = [*mcpbench_args(o), "--jsonl", str(jsonl)]
    print("$", shlex.join(bench), file=sys.stderr, flush=True)
    subprocess.run(bench, check=True)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]

    client_rows: list[dict[str, Any]] = []
    commands = client_commands(o)
    for rep in range(1, o.reps + 1):
        for impl, command in commands.items():
            print(f"[client rep {rep}/{o.reps}] {impl} ...", file=sys.stderr, flush=True)
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                row = json.loads(line) | {"rep": rep}
                client_rows.append(row)
    with jsonl.open("a") as f:
        for row in client_rows:
            f.write(json.dumps(row | {"metric": "client"}) + "\n")

    server_rows = [r for r in rows if "target" in r]
    m = medians(server_rows)
    targets, misses = targets_table(m)
    clients, client_misses = client_table(client_rows)
    full = mcpbench.summarize(server_rows, list(PEERS))
    ours = version_of(o.python, "fastmcp-server", "fastmcp-client", "trio", "msgspec", "hypercorn")
    peer_versions = {
        name: version_of(str(Path(o.peers) / f"venv-{name}" / "bin" / "python"), *dists)
        for name, dists in {
            "floor": ("trio", "msgspec"),
            "sdk": ("mcp", "pydantic", "anyio", "starlette", "uvicorn"),
            "fastmcp": ("fastmcp", "mcp", "pydantic", "uvicorn"),
        }.items()
    }
    meta: dict[str, Any] = next((r for r in rows if r.get("metric") == "meta"), {})
    versions = "; ".join(
        f"{name}: " + ", ".join(f"{d} {v}" for d, v in found.items())
        for name, found in {"ours": ours, **peer_versions}.items()
    )
    elapsed = time.time() - started.timestamp()
    client_lines = "\n".join(shlex.join(c) for c in commands.values())
    verdict = "\n".join(f"- {miss}" for miss in misses + client_misses) or "- none"
    text = f"""# Benchmark results

Generated by `nox -s bench` (`benchmarks/run.py`) on {started:%Y-%m-%d %H:%M} UTC, in {elapsed / 60:.0f} min.
Medians of {o.reps} interleaved repetitions{" (QUICK smoke run: small N, not comparable)" if o.quick else ""}.
Machine: {meta.get("host_cpus", os.cpu_count())} CPUs, {platform.platform()}, Python {platform.python_version()};
load average {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} (1 / 5 / 15 min) at the start.
This machine is shared and noisy: read the ratios, measured in the same run, not the absolute values.

Our revision: {revision}. Versions: {versions}.

## Targets (issue 9, as issue 14 tightened them)

{targets}

## Client

Our client (`fastmcp_client.Client`) and the official SDK client (`mcp.Client`, from the
peers' `venv-sdk`) making the same echo calls to the floor server over stdio; CPU is the
client process's (`time.process_time`). Target for ours: ≤ {CLIENT_TARGET_RATIO:g}x the
client CPU per sequential call of the bare trio loop. The bare trio loop (raw JSON lines, `os.write` and `wait_readable`
in one task, no library) is what a call costs this machine at the least; its concurrent
row sends each wave in one write, which no request/response client does. The target is
read on the paired runs (`client_bench.py --impl paired`: ours and the bare loop in one
process, each with its own floor server, in alternating blocks of calls), because
separate runs of the same client move by half on this 2-core machine depending on
whether the client and the server share a core; the separate rows are shown as well.

{clients}

## Targets missed in this run

{verdict}

## Notes

{kept_notes(Path(o.out))}

## Every measurement

{full}

## Commands

The server run (one interleaved mcpbench run):

```
{shlex.join(bench)}
```

The client run (interleaved, {o.reps} repetitions each):

```
{client_lines}
```
"""
    Path(o.out).write_text(text)
    print(f"wrote {o.out}", file=sys.stderr)
    if not o.quick:
        update_readme(ROOT / "README.md", readme_table(m, client_rows, peer_versions))
        print("updated the comparison in README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
