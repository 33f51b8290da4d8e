"""``reconciler access`` on the benchmark's 200-account generated organization: calls, seconds.

Run with ``.venv/bin/python -m benchmarks.access`` (``--quick`` for a small organization). The
sandbox is seeded in-process with ``bench.READ_SPEC`` (200 accounts, 30 permission sets, 60
groups, 300 users, 3,000 account assignments) under the benchmark's AWS-like limits (20
requests/s, 50 ms latency), and ``reconciler access`` runs as a user runs it: a subprocess of
the console script, once per format, then once on the revision (``--desired``). Each run's
AWS calls are counted by the sandbox; seconds are the subprocess's wall time (Python start
included). Figures are printed and written to ``benchmarks/access-latest.json`` (git-ignored
like ``latest.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.bench import HERE, READ_SPEC, _limits, _quiet_logs, _sandbox
from reconciler.sandbox.seeding import ScaleSpec, seed_organization

QUICK_SPEC = ScaleSpec(accounts=20, permission_sets=6, groups=10, users=40, assignments=200)
RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("live, text", ("--format", "text")),
    ("live, json", ("--format", "json")),
    ("live, csv", ("--format", "csv")),
    ("live, html", ("--format", "html")),
    ("live, json, --ou Root", ("--format", "json", "--ou", "Root")),
    ("revision (--desired), json", ("--format", "json", "--desired")),
)


def _git(repository: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        cwd=repository,
        check=True,
        capture_output=True,
    )


def bench_access(spec: ScaleSpec) -> dict[str, Any]:
    """Seconds, calls (total and by operation) and output size of each run in ``RUNS``."""
    results: dict[str, Any] = {"organization": spec.__repr__(), "runs": {}}
    with (
        tempfile.TemporaryDirectory() as scratch,
        _sandbox(_limits()) as (sandbox, _),
    ):
        repository = Path(scratch) / "access"
        repository.mkdir()
        seeded = seed_organization(sandbox, spec, folder=repository / "desired-state")
        _git(repository, "init", "-q", "-b", "main")
        _git(repository, "add", "-A")
        _git(repository, "commit", "-q", "-m", "generated organization")
        results["seeded"] = seeded.counts
        for name, args in RUNS:
            out = Path(scratch) / f"report-{len(results['runs'])}"
            command = [sys.executable, "-m", "reconciler", "access", *args, "--out", str(out)]
            if "--desired" in args:
                command += ["--repo", str(repository)]
            mark = len(sandbox.calls)
            started = time.monotonic()
            subprocess.run(command, env=dict(os.environ), check=True, capture_output=True)
            seconds = time.monotonic() - started
            calls = Counter(call.operation for call in sandbox.calls[mark:])
            throttled = sum(1 for call in sandbox.calls[mark:] if call.fault == "rate_limit")
            document = json.loads(out.read_text()) if "json" in args else None
            results["runs"][name] = {
                "seconds": round(seconds, 2),
                "calls": sum(calls.values()),
                "throttled": throttled,
                "by_operation": dict(sorted(calls.items())),
                "bytes": out.stat().st_size,
                "grants": document["summary"]["grants"] if document else None,
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small organization")
    args = parser.parse_args(argv)
    _quiet_logs()
    spec = QUICK_SPEC if args.quick else READ_SPEC
    results = bench_access(spec)
    table = Table(title=f"reconciler access on {results['seeded']}")
    for column in ("run", "seconds", "AWS calls", "throttled", "output bytes", "grants"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, run in results["runs"].items():
        table.add_row(
            name,
            f"{run['seconds']:.1f}",
            f"{run['calls']:,}",
            str(run["throttled"]),
            f"{run['bytes']:,}",
            "" if run["grants"] is None else f"{run['grants']:,}",
        )
    Console(width=130).print(table)
    (HERE / "access-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
