"""End-to-end offline planning (issue 13): files -> loaded -> validated -> resolved -> plan -> JSON.

Run with ``.venv/bin/python -m benchmarks.planning`` (``--quick`` for 1,000 assignments only;
``make bench`` runs it as its table 3). For each size (1,000, 10,000 and 100,000 account
assignments, the organization of ``bench._planning_spec``) and each run, a fresh child process
(so that sizes and runs do not share memory or caches):

1. generates the organization and writes its desired-state folder, without 1% of the
   assignments (the plan deletes them);
2. builds live state *independently* from the generated content, without another 1% (the plan
   creates them): no object is shared with what is loaded from the files, so equality cannot
   short-circuit on identity as it did when both states were built from the same objects;
3. times each stage a user's ``reconciler plan --format json`` pays after reading AWS: read the
   files (``read_directory``), load and validate them (``check``: JSON, pydantic, checks across
   files), resolve them against live state (``resolve_against``), plan (``plan``, the effect on
   access included) and render the plan as JSON (``plan_json`` + ``json.dumps``);
4. reports the process's peak resident memory (``VmHWM``): everything the process holds,
   the live state and the generated organization included, not only what ``plan()`` allocates.

The parent prints the median of the runs for each stage and the largest peak.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

STAGES = ("read", "load", "resolve", "plan", "render")
SIZES: tuple[int, ...] = (1_000, 10_000, 100_000)
RUNS = 3
CHURN_STEP = 100
"""One assignment in ``CHURN_STEP`` is missing from each side (1% to create, 1% to delete)."""


def _live_state(organization: Any, *, skip: int) -> Any:
    """Live state built from ``organization``'s content with fresh objects, without every
    assignment whose index is ``skip`` modulo ``CHURN_STEP``."""
    from reconciler.model import documents as docs  # noqa: PLC0415
    from reconciler.model.resolving import permission_set_from_document  # noqa: PLC0415
    from reconciler.model.state import (  # noqa: PLC0415
        Account,
        AssignmentKey,
        Group,
        IdentityCenterState,
        LiveState,
        Membership,
        PrincipalType,
        User,
    )

    account_ids = {name: f"{100000000000 + i:012d}" for i, name in enumerate(organization.accounts)}
    # "".join(...) makes new string objects: nothing is shared with the desired side by identity.
    users = {
        "".join(name): User(
            user_name="".join(name),
            display_name=f"User {name}",
            given_name="User",
            family_name="".join(name),
            email=f"{name}@example.com",
        )
        for name in organization.users
    }
    groups = {
        "".join(name): Group(name="".join(name), description=f"Team {name}")
        for name in organization.groups
    }
    # As AWS returns them: the same attributes (the inline policy as its canonical document),
    # built from a deep copy of the generated documents.
    permission_sets = {
        document["name"]: permission_set_from_document(
            docs.PermissionSetFile.model_validate(copy.deepcopy(document))
        )
        for document in organization.permission_sets
    }
    assignments = frozenset(
        AssignmentKey(account_ids[account], "".join(set_name), PrincipalType(kind), "".join(who))
        for index, (account, set_name, kind, who) in enumerate(organization.assignments)
        if index % CHURN_STEP != skip
    )
    return LiveState(
        state=IdentityCenterState(
            users=users,
            groups=groups,
            memberships=frozenset(
                Membership(group="".join(g), user="".join(u)) for g, u in organization.memberships
            ),
            permission_sets=permission_sets,
            assignments=assignments,
        ),
        instance_arn="arn:aws:sso:::instance/ssoins-0000000000000000",
        identity_store_id="d-0000000000",
        accounts={i: Account(id=i, name=n) for n, i in account_ids.items()},
        user_ids={name: f"u-{index}" for index, name in enumerate(users)},
        group_ids={name: f"g-{index}" for index, name in enumerate(groups)},
        permission_set_arns={
            name: f"arn:aws:sso:::permissionSet/ssoins-0000000000000000/ps-{index:016x}"
            for index, name in enumerate(permission_sets)
        },
        provisioned_accounts={name: frozenset(account_ids.values()) for name in permission_sets},
    )


def run_once(size: int) -> dict[str, Any]:
    """One measured pass at ``size`` assignments, in this process (see the module docstring)."""
    from benchmarks.bench import _planning_spec  # noqa: PLC0415
    from reconciler.adapters.source import read_directory  # noqa: PLC0415
    from reconciler.engine import Revision, check, resolve_against  # noqa: PLC0415
    from reconciler.planning.diffing import plan  # noqa: PLC0415
    from reconciler.sandbox.seeding import generate, write_desired_state  # noqa: PLC0415

    organization = generate(_planning_spec(size))
    keep = len(organization.assignments) - len(organization.assignments) // CHURN_STEP
    declared = dataclasses.replace(organization, assignments=organization.assignments[:keep])
    live = _live_state(organization, skip=1)
    account_names = {account.id: account.name for account in live.accounts.values()}
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_desired_state(declared, Path(scratch) / "desired-state")
        del organization, declared
        gc.collect()
        baseline_kb = _rss_now_kb()
        seconds: dict[str, float] = {}
        cpu_seconds: dict[str, float] = {}
        cpu_started = time.process_time()

        def timed(stage: str, started: float) -> None:
            nonlocal cpu_started
            seconds[stage] = time.perf_counter() - started
            cpu_seconds[stage] = time.process_time() - cpu_started
            cpu_started = time.process_time()

        started = time.perf_counter()
        files, refused = read_directory(folder)
        timed("read", started)
        started = time.perf_counter()
        documents, problems = check(Revision(revision=None, files=files, problems=refused))
        timed("load", started)
        if problems:
            raise SystemExit(f"the generated files do not validate: {problems[:3]}")
        started = time.perf_counter()
        desired = resolve_against(documents, live)
        timed("resolve", started)
        started = time.perf_counter()
        produced = plan(desired, live, revision=None)
        timed("plan", started)
        started = time.perf_counter()
        rendered = _render(produced, account_names)
        timed("render", started)
    kinds = Counter(type(operation).__name__ for operation in produced.operations)
    return {
        "assignments": size,
        "seconds": seconds,
        "total_seconds": sum(seconds.values()),
        "cpu_seconds": cpu_seconds,
        "total_cpu_seconds": sum(cpu_seconds.values()),
        "operations": len(produced.operations),
        "operations_by_kind": dict(sorted(kinds.items())),
        "access_changes": 0
        if produced.access is None
        else len(produced.access.gained) + len(produced.access.lost),
        "json_bytes": len(rendered),
        "rss_before_mb": baseline_kb / 1024,
        "peak_rss_mb": _peak_rss_kb() / 1024,
    }


def _render(produced: Any, account_names: dict[str, str]) -> str:
    """The plan as ``reconciler plan --format json`` writes it (``cli._render_pass``: paused
    cyclic collection, ``plan_json``, ``json_text``)."""
    from reconciler.model.collection import collection_paused  # noqa: PLC0415
    from reconciler.planning.rendering import json_text, plan_json  # noqa: PLC0415

    @collection_paused
    def render() -> str:
        return json_text(plan_json(produced, account_names=account_names))

    return render()


def _status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in KiB; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_now_kb() -> int:
    """The process's resident memory now, in KiB (0 where it cannot be read)."""
    return _status_kb("VmRSS") or 0


def _peak_rss_kb() -> int:
    """The process's peak resident memory, in KiB: ``VmHWM``, which starts again at ``exec``,
    where ``ru_maxrss`` (the fallback off Linux) keeps the peak of the process this child was
    forked from (``make bench`` forks it from a process holding the sandbox)."""
    peak = _status_kb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(sizes: tuple[int, ...] = SIZES, runs: int = RUNS) -> list[dict[str, Any]]:
    """For each size, ``runs`` child processes of ``run_once``: the median seconds of each
    stage (and of the total), the largest peak RSS, and the load average before the first run."""
    rows = []
    for size in sizes:
        results = []
        for _ in range(runs):
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.planning", "--child", str(size)],
                check=True,
                capture_output=True,
                text=True,
                cwd=Path(__file__).resolve().parent.parent,
                env=dict(os.environ),
            )
            results.append(json.loads(child.stdout))
        first = results[0]
        rows.append(
            {
                **{key: first[key] for key in ("assignments", "operations", "operations_by_kind")},
                "access_changes": first["access_changes"],
                "json_bytes": first["json_bytes"],
                "runs": runs,
                "seconds": {
                    stage: statistics.median(r["seconds"][stage] for r in results)
                    for stage in STAGES
                },
                "total_seconds": statistics.median(r["total_seconds"] for r in results),
                "cpu_seconds": {
                    stage: statistics.median(r["cpu_seconds"][stage] for r in results)
                    for stage in STAGES
                },
                "total_cpu_seconds": statistics.median(r["total_cpu_seconds"] for r in results),
                "to_plan_seconds": statistics.median(
                    r["total_seconds"] - r["seconds"]["render"] for r in results
                ),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
                "rss_before_mb": max(r["rss_before_mb"] for r in results),
                "load_average": os.getloadavg(),
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The planning table: median wall seconds per stage, files to plan, with the JSON, the
    CPU seconds of the whole, and the peak RSS (and the RSS before the first stage)."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title="3. Offline planning, files to JSON plan (seconds: median of one process per run)"
    )
    columns = (
        "assignments",
        "operations",
        "access +/-",
        *STAGES,
        "files→plan",
        "+ JSON",
        "CPU",
        "peak RSS MB",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            f"{row['assignments']:,}",
            f"{row['operations']:,}",
            f"{row['access_changes']:,}",
            *(f"{row['seconds'][stage]:.3f}" for stage in STAGES),
            f"{row['to_plan_seconds']:.2f}",
            f"{row['total_seconds']:.2f}",
            f"{row['total_cpu_seconds']:.2f}",
            f"{row['peak_rss_mb']:.0f} ({row['rss_before_mb']:.0f} before)",
        )
    Console(width=140).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 assignments only")
    parser.add_argument("--runs", type=int, default=RUNS, help="child processes per size")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_once(args.child)))
        return 0
    rows = measure((1_000,) if args.quick else SIZES, args.runs)
    print_table(rows)
    print(f"load average {os.getloadavg()}, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
