"""The scale benchmark (issue 5): API calls, wall time, planning cost and the no-op pass.

Run with ``make bench`` (or ``.venv/bin/python -m benchmarks.bench``; ``--quick`` for small
sizes). It prints four tables and writes the same figures, with a ``targets`` object, to
``benchmarks/latest.json`` (git-ignored):

1. API calls to read one generated organization (200 accounts x 30 permission sets), each
   reader against the honest floor of that organization (``benchmarks.floor``, derived there
   from the data and botocore's page sizes, independent of any reader): this reconciler's
   complete read (the default, per permission set), its hybrid read after a complete one, its
   opt-in per-principal read, the peers where installed (aws-sso-lib's ``list_assignments``;
   Terraform's AWS provider planning every object, on a 50 x 10 organization unless
   ``--terraform full``; each skipped with the reason where absent), and two baselines (every
   account x every set; one read per declared assignment). Each row gives the floor of the
   kinds that reader reads and its calls plus the floor of the kinds it leaves out ("to read
   every kind"), the figure our complete read must beat;
2. wall time of a full read and of a converge from empty under the sandbox's AWS-like rate
   limits (20 requests/s) and latency, against the time the limits alone force;
3. offline planning for 1,000, 10,000 and 100,000 assignments, from the files to the JSON
   plan, each stage timed, live state built apart, whole-process peak RSS
   (``benchmarks.planning``), against a naive whole-state ``DeepDiff``;
4. a no-op pass: calls made and write calls (must be 0).

Everything runs against the in-process sandbox on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.table import Table

from benchmarks.floor import (
    ASSIGNMENTS_ONLY,
    EVERY_KIND,
    OrganizationData,
    floor,
    organization_data,
    page_limits,
)
from benchmarks.peers import aws_sso_lib, terraform
from benchmarks.planning import CHURN_STEP, _live_state, measure
from benchmarks.planning import print_table as print_planning_table
from reconciler.adapters.aws.applying import ApplySettings, apply_plan
from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.errors import pages
from reconciler.adapters.aws.reading import find_instance, read_accounts, read_live_state
from reconciler.engine import Revision, load, reconcile, resolve_against
from reconciler.model.documents import ReconcilerFile
from reconciler.model.resolving import DesiredState
from reconciler.model.state import (
    AssignmentKey,
    Group,
    IdentityCenterState,
    LiveState,
    Membership,
    PermissionSet,
    PrincipalType,
    User,
)
from reconciler.planning.diffing import plan
from reconciler.planning.outcomes import Status
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.seeding import ScaleSpec, generate, seed_organization

HERE = Path(__file__).resolve().parent
AWS_RATE = 20.0
"""Requests/s AWS allows: sso-admin as a whole, identitystore per API (user guide)."""
LATENCY_SECONDS = 0.05
"""Latency the sandbox adds to every call in the timed runs (a typical AWS round trip)."""

READ_SPEC = ScaleSpec(accounts=200, permission_sets=30, groups=60, users=300, assignments=3000)
TIMED_READ_SPEC = ScaleSpec(accounts=50, permission_sets=10, groups=20, users=60, assignments=500)
CONVERGE_SPEC = ScaleSpec(
    accounts=40, permission_sets=8, groups=20, users=40, assignments=600, populate_live=False
)
PLANNING_SIZES: tuple[int, ...] = (1_000, 10_000, 100_000)
DEEPDIFF_TIMEOUT_SECONDS = 60.0

console = Console(width=130)


def _quiet_logs() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(40),  # errors only
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


@contextmanager
def _sandbox(
    faults: FaultConfig, settings: SandboxSettings | None = None
) -> Iterator[tuple[Sandbox, dict[str, str]]]:
    with Sandbox(settings, faults=faults) as sandbox, sandbox.process_environment() as environment:
        yield sandbox, environment


def _unlimited_clients() -> AwsClients:
    return make_clients(rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0))


# --- baselines ---------------------------------------------------------------------------------


def _overhead_read(clients: AwsClients) -> tuple[str, str, list[str], dict[str, str]]:
    """What every reader reads besides assignments: instance, accounts, identities, set details.

    Returns (instance ARN, store id, account ids, permission set name -> ARN).
    """
    arn, store = find_instance(clients)
    accounts = sorted(read_accounts(clients))
    sso, ids = clients.sso_admin, clients.identitystore
    for method in ("list_users", "list_groups"):
        for _ in pages(ids, method, IdentityStoreId=store):
            pass
    groups = [
        group["GroupId"]
        for page in pages(ids, "list_groups", IdentityStoreId=store)
        for group in page["Groups"]
    ]
    for group_id in groups:
        for _ in pages(ids, "list_group_memberships", IdentityStoreId=store, GroupId=group_id):
            pass
    names: dict[str, str] = {}
    for page in pages(sso, "list_permission_sets", InstanceArn=arn):
        for set_arn in page["PermissionSets"]:
            target = {"InstanceArn": arn, "PermissionSetArn": set_arn}
            names[sso.describe_permission_set(**target)["PermissionSet"]["Name"]] = set_arn
            for method in (
                "list_managed_policies_in_permission_set",
                "list_customer_managed_policy_references_in_permission_set",
            ):
                for _ in pages(sso, method, **target):
                    pass
            sso.get_inline_policy_for_permission_set(**target)
            # No boundary: AWS answers ResourceNotFoundException.
            with contextlib.suppress(sso.exceptions.ResourceNotFoundException):
                sso.get_permissions_boundary_for_permission_set(**target)
            for _ in pages(sso, "list_tags_for_resource", InstanceArn=arn, ResourceArn=set_arn):
                pass
    return arn, store, accounts, names


def every_account_every_set_reader(clients: AwsClients) -> int:
    """Baseline: ListAccountAssignments for every account x every permission set (as several
    public tools do), after the same identity and permission-set reads. Returns calls made."""
    before = clients.calls.total()
    arn, _, accounts, names = _overhead_read(clients)
    for account_id in accounts:
        for set_arn in names.values():
            for _ in pages(
                clients.sso_admin,
                "list_account_assignments",
                InstanceArn=arn,
                AccountId=account_id,
                PermissionSetArn=set_arn,
            ):
                pass
    return clients.calls.total() - before


def per_declared_assignment_reader(clients: AwsClients, declared: list[tuple[str, str]]) -> int:
    """Baseline: per-resource IaC: one read (every page of ListAccountAssignments of its account
    and set) per declared assignment, after the same identity and permission-set reads.
    ``declared`` holds (account id, permission set name) per declared assignment."""
    before = clients.calls.total()
    arn, _, _, names = _overhead_read(clients)
    for account_id, set_name in declared:
        for _ in pages(
            clients.sso_admin,
            "list_account_assignments",
            InstanceArn=arn,
            AccountId=account_id,
            PermissionSetArn=names[set_name],
        ):
            pass
    return clients.calls.total() - before


# --- 1. calls of a full read --------------------------------------------------------------------


def _row(
    reader: str,
    *,
    organization: ScaleSpec,
    kinds: frozenset[str],
    calls: Mapping[str, int],
    seconds: float | None,
    data: OrganizationData,
    note: str = "",
) -> dict[str, Any]:
    """One reader's figures beside the honest floor of the same organization: the floor of the
    kinds it reads, and what it would take to read every kind (its calls plus the floor of the
    kinds it leaves out)."""
    total = sum(calls.values())
    own_floor = sum(floor(data, kinds).values())
    full_floor = sum(floor(data).values())
    return {
        "reader": reader,
        "organization": _spec_json(organization),
        "kinds": sorted(kinds),
        "calls": total,
        "by_operation": dict(sorted(calls.items())),
        "seconds": seconds,
        "floor_of_kinds_read": own_floor,
        "over_floor_of_kinds_read": total / own_floor,
        "calls_to_read_every_kind": total + full_floor - own_floor,
        "floor": full_floor,
        "note": note,
    }


def _timed_read(**kwargs: Any) -> tuple[LiveState, dict[str, int], float]:
    clients = _unlimited_clients()
    started = time.perf_counter()
    live = read_live_state(clients, **kwargs)
    return live, clients.calls.snapshot(), time.perf_counter() - started


def bench_read_calls(spec: ScaleSpec, terraform_spec: ScaleSpec | None) -> dict[str, Any]:
    """Every reader on one generated organization (Terraform on ``terraform_spec`` when it is
    another, with this reconciler's complete read of that organization beside it), each against
    the honest floor of that organization (``benchmarks.floor``)."""
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    with _sandbox(FaultConfig.parse("none")) as (sandbox, _):
        seeded = seed_organization(sandbox, spec)
        data = organization_data(sandbox, instance_arn=seeded.instance_arn)
        floor_calls = floor(data)
        live, calls, seconds = _timed_read()
        complete = _row(
            "ours: complete (default, per set)",
            organization=spec,
            kinds=EVERY_KIND,
            calls=calls,
            seconds=seconds,
            data=data,
        )
        rows.append(complete)
        hybrid, calls, seconds = _timed_read(assignments_by="hybrid", previous=live)
        rows.append(
            _row(
                "ours: hybrid after a complete read",
                organization=spec,
                kinds=EVERY_KIND,
                calls=calls,
                seconds=seconds,
                data=data,
                note="same state" if hybrid.state == live.state else "DIFFERENT STATE",
            )
        )
        by_principal, calls, seconds = _timed_read(assignments_by="principal")
        rows.append(
            _row(
                "ours: per principal (opt-in, incomplete)",
                organization=spec,
                kinds=EVERY_KIND,
                calls=calls,
                seconds=seconds,
                data=data,
                note="same state" if by_principal.state == live.state else "DIFFERENT STATE",
            )
        )
        reason = aws_sso_lib.available()
        if reason is None:
            peer = aws_sso_lib.measure(sandbox)
            ours = {
                (k.account_id, live.permission_set_arns[k.permission_set], k.principal_type.value)
                for k in live.state.assignments
            }
            theirs = {(account, arn, kind) for account, arn, kind, _ in peer.assignments}
            rows.append(
                _row(
                    "aws-sso-lib 1.14 list_assignments",
                    organization=spec,
                    kinds=ASSIGNMENTS_ONLY,
                    calls=peer.calls,
                    seconds=peer.seconds,
                    data=data,
                    note=f"{len(peer.assignments)} assignments"
                    + ("" if theirs == ours else " (not the same as ours)"),
                )
            )
        else:
            skipped["aws-sso-lib"] = reason
        declared = [
            (seeded.accounts[account], set_name)
            for account, set_name, _, _ in seeded.organization.assignments
        ]
        every = _unlimited_clients()
        every_account_every_set_reader(every)
        rows.append(
            _row(
                "baseline: every account x set",
                organization=spec,
                kinds=_BASELINE_KINDS,
                calls=every.calls.snapshot(),
                seconds=None,
                data=data,
            )
        )
        per_declared = _unlimited_clients()
        per_declared_assignment_reader(per_declared, declared)
        rows.append(
            _row(
                "baseline: per declared assignment",
                organization=spec,
                kinds=_BASELINE_KINDS,
                calls=per_declared.calls.snapshot(),
                seconds=None,
                data=data,
            )
        )
        if terraform_spec == spec:
            _terraform_rows(
                sandbox, seeded.instance_arn, spec=spec, data=data, rows=rows, skipped=skipped
            )
    if terraform_spec is not None and terraform_spec != spec:
        with _sandbox(FaultConfig.parse("none")) as (sandbox, _):
            seeded = seed_organization(sandbox, terraform_spec)
            small = organization_data(sandbox, instance_arn=seeded.instance_arn)
            _, calls, seconds = _timed_read()
            rows.append(
                _row(
                    "ours: complete, Terraform's org",
                    organization=terraform_spec,
                    kinds=EVERY_KIND,
                    calls=calls,
                    seconds=seconds,
                    data=small,
                )
            )
            _terraform_rows(
                sandbox,
                seeded.instance_arn,
                spec=terraform_spec,
                data=small,
                rows=rows,
                skipped=skipped,
            )
    elif terraform_spec is None:
        skipped["terraform"] = "not asked (--terraform skip)"
    return {
        "organization": _spec_json(spec),
        "assignments_read": len(live.state.assignments),
        "floor": {"total": sum(floor_calls.values()), "by_operation": floor_calls},
        "floor_assignments_only": floor(data, ASSIGNMENTS_ONLY),
        "page_limits": dict(page_limits()),
        "rows": rows,
        "skipped": skipped,
        "ours": complete,
    }


_BASELINE_KINDS = frozenset(EVERY_KIND - {"provisioning", "caller"})
"""The baselines read identities, memberships and set attributes, then assignments."""
TERRAFORM_KINDS = frozenset({"users", "groups", "memberships", "permission_sets", "assignments"})
"""What a plan of aws_identitystore_* and aws_ssoadmin_* resources reads (no accounts list, no
provisioning status)."""


def _terraform_rows(
    sandbox: Sandbox,
    instance_arn: str,
    *,
    spec: ScaleSpec,
    data: OrganizationData,
    rows: list[dict[str, Any]],
    skipped: dict[str, str],
) -> None:
    reason = terraform.available()
    if reason is not None:
        skipped["terraform"] = reason
        return
    try:
        figures = terraform.measure_seeded_plan(sandbox, instance_arn=instance_arn)
    except RuntimeError as exc:
        skipped["terraform"] = f"failed: {str(exc)[:300]}"
        return
    rows.append(
        _row(
            "Terraform 1.11, aws 5.100: plan",
            organization=spec,
            kinds=TERRAFORM_KINDS,
            calls=figures.plan_calls,
            seconds=figures.plan_seconds,
            data=data,
            note=f"{figures.resources} resources; imported in {figures.import_seconds:.0f} s "
            f"with {figures.import_writes} writes; plan exit {figures.plan_exit_code}",
        )
    )


# --- 2. wall time under AWS-like limits ------------------------------------------------------


def _limits() -> FaultConfig:
    return FaultConfig(latency_seconds=LATENCY_SECONDS)


def _floor_seconds(calls: Mapping[tuple[str, str], int]) -> float:
    """Seconds the rate limits alone force for ``calls`` ((service, operation) -> count):
    sso-admin shares one 20/s budget, each identitystore API has its own, Organizations none.
    The budgets are spent in parallel, so the floor is the longest of them (a maximum over the
    budgets, not their sum: identity-store writes can run beside sso-admin writes). Each bucket
    starts full (one second's worth, the sandbox's burst), so the first 20 calls of a bucket
    are free."""
    sso = sum(n for (service, _), n in calls.items() if service == "sso-admin")
    identitystore = [n for (service, _), n in calls.items() if service == "identitystore"]
    return max(max(0.0, n - AWS_RATE) / AWS_RATE for n in [sso, *identitystore])


def _recorded(sandbox: Sandbox, since: int) -> Counter[tuple[str, str]]:
    return Counter((c.service, c.operation) for c in sandbox.calls[since:])


def bench_timed(read_spec: ScaleSpec, converge_spec: ScaleSpec) -> dict[str, Any]:
    # A full read of a populated organization.
    with _sandbox(_limits()) as (sandbox, _):
        seeded = seed_organization(sandbox, read_spec)
        floor_ops = floor(organization_data(sandbox, instance_arn=seeded.instance_arn))
        clients = make_clients()
        mark = len(sandbox.calls)
        started = time.monotonic()
        read_live_state(clients)
        read_seconds = time.monotonic() - started
        recorded = _recorded(sandbox, mark)
        throttled = sum(1 for c in sandbox.calls[mark:] if c.fault == "rate_limit")
        floor_calls = Counter(
            {
                (
                    "identitystore"
                    if name.startswith(("ListUsers", "ListGroup"))
                    else "organizations"
                    if name == "ListAccounts"
                    else "sts"
                    if name == "GetCallerIdentity"
                    else "sso-admin",
                    name,
                ): count
                for name, count in floor_ops.items()
            }
        )
    read: dict[str, Any] = {
        "organization": _spec_json(read_spec),
        "seconds": read_seconds,
        "calls": sum(recorded.values()),
        "throttled": throttled,
        "floor_calls": sum(floor_calls.values()),
        "limit_floor_seconds": _floor_seconds(floor_calls),
    }
    read["over_limit_floor"] = read["seconds"] / read["limit_floor_seconds"]

    converges = {
        mode: _converge(converge_spec, ApplySettings(request_status=mode))
        for mode in ("lists", "describe")
    }
    noop_pass = converges["lists"].pop("noop")
    converges["describe"].pop("noop")
    return {"read": read, "converge": converges, "noop": noop_pass}


def _converge(spec: ScaleSpec, settings: ApplySettings) -> dict[str, Any]:
    """A converge from empty under AWS-like limits, then a no-op pass on the result."""
    with (
        _sandbox(_limits(), SandboxSettings()) as (sandbox, _),
        tempfile.TemporaryDirectory() as scratch,
    ):
        folder = Path(scratch) / "desired-state"
        seed_organization(sandbox, spec, folder=folder)
        clients = make_clients()
        mark = len(sandbox.calls)
        started = time.monotonic()
        documents = load(Revision(revision=None, folder=folder))
        live = read_live_state(clients)
        the_plan = plan(resolve_against(documents, live), live, revision=None)
        outcome = apply_plan(clients, the_plan, live, settings=settings)
        converge_seconds = time.monotonic() - started
        calls = list(sandbox.calls[mark:])
        failed = sum(1 for r in outcome.results if r.status is not Status.SUCCEEDED)
        writes = Counter((c.service, c.operation) for c in calls if c.is_write and c.fault is None)
        throttled = sum(1 for c in calls if c.fault == "rate_limit")
        mark = len(sandbox.calls)
        noop_started = time.monotonic()
        noop = reconcile(revision=Revision(revision=None, folder=folder), aws=clients, apply=True)
        noop_seconds = time.monotonic() - noop_started
        noop_calls = list(sandbox.calls[mark:])
    # The floor: every write made (each is needed once) plus a read of the empty instance; no
    # status call is counted (a floor below what any client that learns its statuses makes).
    first_write = next((i for i, c in enumerate(calls) if c.is_write), len(calls))
    needed = writes + Counter((c.service, c.operation) for c in calls[:first_write])
    by_operation = Counter(f"{c.service}:{c.operation}" for c in calls)
    converge: dict[str, Any] = {
        "organization": _spec_json(spec),
        "request_status": settings.request_status,
        "operations": len(the_plan.operations),
        "failed_operations": failed,
        "seconds": converge_seconds,
        "calls": len(calls),
        "writes": sum(writes.values()),
        "throttled": throttled,
        "by_operation": dict(sorted(by_operation.items())),
        "needed_calls": sum(needed.values()),
        "limit_floor_seconds": _floor_seconds(needed),
    }
    converge["over_limit_floor"] = converge["seconds"] / converge["limit_floor_seconds"]
    converge["noop"] = {
        "organization": _spec_json(spec),
        "plan_operations": len(noop.plan.operations),
        "calls": len(noop_calls),
        "write_calls": sum(1 for c in noop_calls if c.is_write),
        "seconds": noop_seconds,
    }
    return converge


# --- 3. planning ------------------------------------------------------------------------------


def _planning_spec(assignments: int) -> ScaleSpec:
    return ScaleSpec(
        accounts=400,
        permission_sets=40,
        groups=max(20, assignments // 50),
        users=max(100, assignments // 20),
        assignments=assignments,
        seed=7,
    )


def _states(assignments: int) -> tuple[DesiredState, LiveState]:
    """A desired and a live state of ``assignments`` assignments differing by 1% each way,
    built independently (for the DeepDiff baseline; ``benchmarks.planning`` times ours)."""
    organization = generate(_planning_spec(assignments))
    account_ids = {name: f"{100000000000 + i:012d}" for i, name in enumerate(organization.accounts)}
    users = {
        name: User(
            user_name=name,
            display_name=f"User {name}",
            given_name="User",
            family_name=name,
            email=f"{name}@example.com",
        )
        for name in organization.users
    }
    groups = {name: Group(name=name, description=f"Team {name}") for name in organization.groups}
    permission_sets = {
        document["name"]: PermissionSet(
            name=document["name"],
            description=document["description"],
            session_duration=document["session_duration"],
            managed_policies=frozenset(document["managed_policies"]),
            tags={**document["tags"], "managed-by": "identity-center-reconciler"},
        )
        for document in organization.permission_sets
    }
    keys = [
        AssignmentKey(account_ids[account], set_name, PrincipalType(kind), principal)
        for account, set_name, kind, principal in organization.assignments
    ]
    memberships = frozenset(Membership(group=g, user=u) for g, u in organization.memberships)
    desired_keys = frozenset(keys[: len(keys) - len(keys) // CHURN_STEP])
    desired = DesiredState(
        state=IdentityCenterState(
            users=users,
            groups=groups,
            memberships=memberships,
            permission_sets=permission_sets,
            assignments=desired_keys,
        ),
        config=ReconcilerFile(),
    )
    # Built apart, with objects of its own: no equality is decided by identity.
    return desired, _live_state(organization, skip=1)


def _as_documents(state: IdentityCenterState) -> dict[str, Any]:
    """The whole state as plain JSON-like data, as a naive differ would compare it."""
    return {
        "users": [vars_of(user) for user in state.users.values()],
        "groups": [vars_of(group) for group in state.groups.values()],
        "memberships": [{"group": m.group, "user": m.user} for m in state.memberships],
        "permission_sets": [
            {**vars_of(ps), "managed_policies": sorted(ps.managed_policies), "tags": dict(ps.tags)}
            for ps in state.permission_sets.values()
        ],
        "assignments": [
            {
                "account_id": key.account_id,
                "permission_set": key.permission_set,
                "principal_type": key.principal_type.value,
                "principal_name": key.principal_name,
            }
            for key in state.assignments
        ],
    }


def vars_of(value: Any) -> dict[str, Any]:
    fields = getattr(value, "__slots__", ())
    return {
        name: getattr(value, name)
        for name in fields
        if isinstance(getattr(value, name), str | int | float | type(None))
    }


def _peak_bytes(function: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _deepdiff_seconds(desired: DesiredState, live: LiveState, limit: float) -> float | None:
    """Seconds of a whole-state DeepDiff (ignore_order), or None when over ``limit`` seconds
    (run in a child process, killed at the limit)."""
    import multiprocessing  # noqa: PLC0415

    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue()
    process = context.Process(target=_deepdiff_child, args=(desired, live, queue))
    process.start()
    process.join(limit)
    if process.is_alive():
        process.kill()
        process.join()
        return None
    return float(queue.get())


def _deepdiff_child(desired: DesiredState, live: LiveState, queue: Any) -> None:
    from deepdiff import DeepDiff  # noqa: PLC0415

    started = time.perf_counter()
    DeepDiff(_as_documents(live.state), _as_documents(desired.state), ignore_order=True)
    queue.put(time.perf_counter() - started)


def bench_planning(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """The offline planning table of ``benchmarks.planning`` (files to JSON plan, each stage,
    whole-process peak RSS, one child process per run), with a whole-state DeepDiff of the same
    two states beside it: DeepDiff is given both states already built, and is compared with our
    plan stage alone (``speedup``) and with the whole path from the files
    (``speedup_end_to_end``)."""
    rows = measure(sizes)
    for row in rows:
        size = row["assignments"]
        desired, live = _states(size)
        naive = _deepdiff_seconds(desired, live, DEEPDIFF_TIMEOUT_SECONDS)
        naive_peak = (
            _peak_bytes(functools.partial(_deepdiff_in_process, desired, live))
            if size <= 1_000
            else None
        )
        del desired, live
        bound = naive if naive is not None else DEEPDIFF_TIMEOUT_SECONDS
        row.update(
            {
                "deepdiff_seconds": naive,
                "deepdiff_timed_out_after": None if naive is not None else DEEPDIFF_TIMEOUT_SECONDS,
                "deepdiff_peak_mb": None if naive_peak is None else naive_peak / 1e6,
                "speedup": bound / row["seconds"]["plan"],
                "speedup_end_to_end": bound / row["to_plan_seconds"],
            }
        )
    return rows


def _deepdiff_in_process(desired: DesiredState, live: LiveState) -> None:
    from deepdiff import DeepDiff  # noqa: PLC0415

    DeepDiff(_as_documents(live.state), _as_documents(desired.state), ignore_order=True)


# --- report -----------------------------------------------------------------------------------


def _spec_json(spec: ScaleSpec) -> dict[str, Any]:
    return {
        "accounts": spec.accounts,
        "permission_sets": spec.permission_sets,
        "groups": spec.groups,
        "users": spec.users,
        "assignments": spec.assignments,
        "seed": spec.seed,
    }


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@dataclass(frozen=True)
class _Target:
    name: str
    met: bool
    detail: str


def _targets(report: dict[str, Any]) -> list[_Target]:
    read = report["read_calls"]
    converge = report["timed"]["converge"]["lists"]  # the default strategy, not the best
    noop = report["timed"]["noop"]
    largest = report["planning"][-1]
    return [
        _Target(
            "full_read_within_10_percent_of_honest_floor",
            read["ours"]["calls"] <= 1.10 * read["ours"]["floor"],
            f"{read['ours']['calls']} calls vs honest floor {read['ours']['floor']} "
            f"(x{read['ours']['calls'] / read['ours']['floor']:.3f})",
        ),
        _read_below_best_peer(read),
        _Target(
            "converge_within_25_percent_of_rate_limit_floor",
            converge["over_limit_floor"] <= 1.25,
            f"{converge['seconds']:.1f} s vs {converge['limit_floor_seconds']:.1f} s "
            f"(x{converge['over_limit_floor']:.2f}, request_status={converge['request_status']})",
        ),
        _Target(
            "planning_100k_under_2_seconds",
            largest["assignments"] >= 100_000 and largest["to_plan_seconds"] < 2,
            f"{largest['to_plan_seconds']:.2f} s from the files to the plan for "
            f"{largest['assignments']:,} assignments (median of {largest['runs']}; "
            f"{largest['total_seconds']:.2f} s with the JSON rendered)",
        ),
        _Target(
            "planning_100k_under_500_mb",
            largest["assignments"] >= 100_000 and largest["peak_rss_mb"] < 500,
            f"{largest['peak_rss_mb']:.0f} MB peak RSS, whole process",
        ),
        _Target(
            "planning_100k_10x_faster_than_deepdiff",
            largest["assignments"] >= 100_000 and largest["speedup_end_to_end"] >= 10,
            f"x{largest['speedup_end_to_end']:.0f} from the files, x{largest['speedup']:.0f} "
            f"plan stage, at {largest['assignments']:,} assignments"
            + (" (DeepDiff killed: lower bound)" if largest["deepdiff_seconds"] is None else ""),
        ),
        _Target(
            "noop_pass_zero_writes",
            noop["write_calls"] == 0 and report["noop_large"]["write_calls"] == 0,
            f"{noop['write_calls']} + {report['noop_large']['write_calls']} write calls",
        ),
    ]


def _read_below_best_peer(read: dict[str, Any]) -> _Target:
    """Our complete read against each peer's calls to read every kind (its calls plus the floor
    of the kinds it leaves out), on the same organization."""
    rows = read["rows"]
    peers = [r for r in rows if r["reader"].startswith(("aws-sso-lib", "Terraform"))]
    if not peers:
        return _Target("full_read_below_best_peer", False, "no peer ran: " + str(read["skipped"]))
    details, met = [], True
    for peer in peers:
        ours = next(
            r
            for r in rows
            if r["reader"].startswith("ours: complete")
            and r["organization"] == peer["organization"]
        )
        met = met and ours["calls"] < peer["calls_to_read_every_kind"]
        details.append(
            f"{ours['calls']} vs {peer['reader'].split(' ')[0]} {peer['calls']} "
            f"({peer['calls_to_read_every_kind']} reading every kind)"
        )
    return _Target("full_read_below_best_peer", met, "; ".join(details))


def bench_noop_large(spec: ScaleSpec) -> dict[str, Any]:
    """A no-op pass (read, plan, apply nothing) on the large organization, unlimited rates."""
    with (
        _sandbox(FaultConfig.parse("none")) as (sandbox, _),
        tempfile.TemporaryDirectory() as scratch,
    ):
        folder = Path(scratch) / "desired-state"
        seed_organization(sandbox, spec, folder=folder)
        mark = len(sandbox.calls)
        result = reconcile(
            revision=Revision(revision=None, folder=folder), aws=_unlimited_clients(), apply=True
        )
        calls = sandbox.calls[mark:]
    return {
        "organization": _spec_json(spec),
        "plan_operations": len(result.plan.operations),
        "calls": len(calls),
        "write_calls": sum(1 for c in calls if c.is_write),
    }


def _print_read_calls(read: dict[str, Any]) -> None:
    org = read["organization"]
    table = Table(
        title=(
            f"1. API calls to read live state vs the honest floor (benchmarks/floor.py) of what "
            f"each reads: {org['accounts']} accounts x {org['permission_sets']} sets, "
            f"{org['groups']} groups, {org['users']} users, {org['assignments']} assignments; "
            f"'all kinds': calls + floor of the kinds not read / floor of all kinds"
        )
    )
    for column in ("reader", "org", "reads", "calls", "floor", "x", "all kinds", "s", "note"):
        table.add_column(
            column, justify="left" if column in ("reader", "note", "reads") else "right"
        )
    for row in read["rows"]:
        o = row["organization"]
        kinds = (
            "all"
            if len(row["kinds"]) == len(EVERY_KIND)
            else "all but provisioning, caller"
            if set(row["kinds"]) == EVERY_KIND - {"provisioning", "caller"}
            else "assignments"
            if row["kinds"] == ["assignments"]
            else "no accounts, no provisioning"
        )
        table.add_row(
            row["reader"],
            f"{o['accounts']}x{o['permission_sets']}",
            kinds,
            str(row["calls"]),
            str(row["floor_of_kinds_read"]),
            f"{row['over_floor_of_kinds_read']:.2f}",
            f"{row['calls_to_read_every_kind']} / {row['floor']}",
            "" if row["seconds"] is None else f"{row['seconds']:.1f}",
            row["note"],
        )
    console.print(table)
    for peer, reason in read["skipped"].items():
        console.print(f"   {peer}: skipped ({reason})")
    by_op = Table(title="   calls by operation: this reconciler (complete) / honest floor")
    by_op.add_column("operation")
    by_op.add_column("ours", justify="right")
    by_op.add_column("floor", justify="right")
    ours = read["ours"]["by_operation"]
    floor_ops = read["floor"]["by_operation"]
    for name in sorted(set(ours) | set(floor_ops)):
        by_op.add_row(name, str(ours.get(name, 0)), str(floor_ops.get(name, 0)))
    console.print(by_op)


def _print(report: dict[str, Any]) -> None:
    _print_read_calls(report["read_calls"])

    timed = report["timed"]
    table = Table(
        title=f"2. Wall time under AWS-like limits (20 req/s, {LATENCY_SECONDS}s latency)"
    )
    for column in ("run", "calls", "seconds", "limit floor s", "ratio", "throttled"):
        table.add_column(column, justify="left" if column == "run" else "right")
    r = timed["read"]
    table.add_row(
        f"full read ({r['organization']['accounts']}x{r['organization']['permission_sets']}, "
        f"{r['organization']['assignments']} assignments)",
        str(r["calls"]),
        f"{r['seconds']:.1f}",
        f"{r['limit_floor_seconds']:.1f}",
        f"x{r['over_limit_floor']:.2f}",
        str(r["throttled"]),
    )
    for mode, c in timed["converge"].items():
        table.add_row(
            f"converge from empty ({c['operations']} operations, "
            f"{c['organization']['assignments']} assignments), status by {mode}",
            f"{c['calls']} ({c['writes']} writes)",
            f"{c['seconds']:.1f}",
            f"{c['limit_floor_seconds']:.1f}",
            f"x{c['over_limit_floor']:.2f}",
            str(c["throttled"]),
        )
    console.print(table)

    print_planning_table(report["planning"])
    table = Table(title="   3b. Against a whole-state DeepDiff of the same two states")
    for column in ("assignments", "DeepDiff s", "vs plan stage", "vs files to plan"):
        table.add_column(column, justify="right")
    for row in report["planning"]:
        naive = (
            f"{row['deepdiff_seconds']:.2f}"
            if row["deepdiff_seconds"] is not None
            else f">{row['deepdiff_timed_out_after']:.0f} (killed)"
        )
        bound = "" if row["deepdiff_seconds"] is not None else "+"
        table.add_row(
            f"{row['assignments']:,}",
            naive,
            f"x{row['speedup']:.0f}{bound}",
            f"x{row['speedup_end_to_end']:.0f}{bound}",
        )
    console.print(table)

    table = Table(title="4. No-op pass")
    for column in ("organization", "plan operations", "calls", "write calls"):
        table.add_column(column, justify="left" if column == "organization" else "right")
    for row in (timed["noop"], report["noop_large"]):
        org = row["organization"]
        table.add_row(
            f"{org['accounts']}x{org['permission_sets']}, {org['assignments']} assignments",
            str(row["plan_operations"]),
            str(row["calls"]),
            str(row["write_calls"]),
        )
    console.print(table)

    table = Table(title="Targets (issue 5)")
    for column in ("target", "met", "figures"):
        table.add_column(column)
    for target in report["targets_detail"]:
        table.add_row(target["name"], "yes" if target["met"] else "NO", target["detail"])
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--out", default=str(HERE / "latest.json"), help="JSON report path")
    parser.add_argument(
        "--terraform",
        choices=("small", "full", "skip"),
        default="small",
        help="organization Terraform plans: 'small' (50 accounts x 10 sets, 500 assignments; "
        "the default: a full-size plan takes minutes), 'full' (the read table's), or 'skip'",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="only the read-calls table (section 1)"
    )
    args = parser.parse_args(argv)
    _quiet_logs()
    read_spec, timed_spec, converge_spec, sizes = (
        READ_SPEC,
        TIMED_READ_SPEC,
        CONVERGE_SPEC,
        (PLANNING_SIZES),
    )
    if args.quick:
        read_spec = ScaleSpec(accounts=20, permission_sets=6, groups=10, users=30, assignments=150)
        timed_spec = ScaleSpec(accounts=10, permission_sets=4, groups=5, users=10, assignments=40)
        converge_spec = ScaleSpec(
            accounts=10, permission_sets=3, groups=5, users=10, assignments=40, populate_live=False
        )
        sizes = (1_000,)
    started = time.monotonic()
    report: dict[str, Any] = {"machine": _machine()}
    terraform_spec = {"small": timed_spec, "full": read_spec, "skip": None}[args.terraform]
    console.print("[dim]1/4 reading the 200 x 30 organization with every reader and peer...[/dim]")
    report["read_calls"] = bench_read_calls(read_spec, terraform_spec)
    if args.read_only:
        report["seconds"] = time.monotonic() - started
        report["load_average"] = os.getloadavg()
        _print_read_calls(report["read_calls"])
        Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
        console.print(f"[dim]written {args.out} in {report['seconds']:.0f} s[/dim]")
        return 0
    report["noop_large"] = bench_noop_large(read_spec)
    console.print("[dim]2/4 timed read and converge under AWS-like limits...[/dim]")
    report["timed"] = bench_timed(timed_spec, converge_spec)
    console.print("[dim]3/4 planning...[/dim]")
    report["planning"] = bench_planning(sizes)
    targets = _targets(report)
    report["targets"] = {target.name: target.met for target in targets}
    report["targets_detail"] = [vars(target) for target in targets]
    report["seconds"] = time.monotonic() - started
    report["load_average"] = os.getloadavg()
    _print(report)
    Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    console.print(f"[dim]written {args.out} in {report['seconds']:.0f} s[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
