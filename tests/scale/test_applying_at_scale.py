"""Applying many account assignments: status learnt from the status lists (call counts pinned,
FAILED reasons, lagging lists, aged-out requests), identity writes beside sso-admin writes,
progress reporting."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import pytest
import structlog

from reconciler import cli
from reconciler.adapters.aws import applying
from reconciler.adapters.aws.applying import ApplyProgress, ApplySettings, apply_plan
from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.adapters.aws.request_status import RequestWatch
from reconciler.model.state import AssignmentKey, Membership, PermissionSet, PrincipalType, User
from reconciler.planning.outcomes import Outcome, Status
from reconciler.planning.plans import (
    AddMembership,
    CreateAssignment,
    CreatePermissionSet,
    CreateUser,
    DeleteAssignment,
    Operation,
    Plan,
)
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.seeding import ScaleSpec, SeededScale, seed_organization

FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)
SPEC = ScaleSpec(accounts=4, permission_sets=2, groups=10, users=3, assignments=0)
LISTS = ApplySettings(poll_interval_seconds=0.05, status_list_lag_seconds=0.0)
"""The default strategy (``"lists"``), with short pauses for the sandbox's 50 ms requests and
lists assumed never late (the sandbox's default): every request is settled from the lists."""
SECONDS_LONG = 0.2
"""A request's time IN_PROGRESS that the first list read sees (AWS's take seconds): a request
is judged by its absence from the lists only once a list read was shown to include it."""
IDENTITY_WRITES = frozenset({"CreateUser", "CreateGroup", "CreateGroupMembership"})


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, SeededScale]]:
    """A sandbox (no rate limit) with users, groups and sets but no assignment."""
    with Sandbox(FAST, faults=FaultConfig.parse("none")) as sandbox:
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        for key, value in sandbox.client_environment().items():
            monkeypatch.setenv(key, value)
        yield sandbox, seed_organization(sandbox, SPEC)


def _set(sandbox: Sandbox, **settings: Any) -> None:
    """Change the sandbox's Identity Center settings (status list lag, retention) in place."""
    center = sandbox.identity_center
    with center.lock:
        center.settings = center.settings.model_copy(update=settings)


def _clients() -> AwsClients:
    return make_clients(rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0))


def _create(clients: AwsClients, keys: list[AssignmentKey], settings: ApplySettings) -> Outcome:
    live = read_live_state(clients)
    operations = tuple(CreateAssignment(assignment=key) for key in keys)
    return apply_plan(clients, Plan(revision=None, operations=operations), live, settings=settings)


def _keys(seeded: SeededScale, count: int) -> list[AssignmentKey]:
    accounts = [seeded.accounts[name] for name in seeded.organization.accounts]
    return [
        AssignmentKey(accounts[i % 4], "Role000", PrincipalType.GROUP, group)
        for i, group in enumerate(seeded.organization.groups[:count])
    ]


def test_lists_status_creates_ten_assignments_describing_only_two_canaries(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    _set(seeded[0], assignment_delay_seconds=SECONDS_LONG)
    clients = _clients()

    outcome = _create(clients, _keys(seeded[1], 10), LISTS)

    assert outcome.succeeded
    assert outcome.api_calls["CreateAccountAssignment"] == 10
    assert outcome.api_calls["DescribeAccountAssignmentCreationStatus"] == 2
    # IN_PROGRESS polls (at most one per 50 ms interval while the 0.2 s requests run: how many
    # depends on the machine's load) and one FAILED list read, instead of ten Describe calls.
    assert outcome.api_calls["ListAccountAssignmentCreationStatus"] <= 10
    assert len(read_live_state(clients).state.assignments) == 10


def test_lists_status_reports_every_failed_request_with_awss_reason(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    sandbox, scale = seeded
    _set(sandbox, assignment_delay_seconds=SECONDS_LONG)
    suspended = sandbox.add_account(name="closed", status="SUSPENDED")
    good = _keys(scale, 6)
    bad = [
        AssignmentKey(suspended, "Role000", PrincipalType.GROUP, group)
        for group in scale.organization.groups[7:9]
    ]

    outcome = _create(_clients(), [*good, *bad], LISTS)

    by_key = {result.operation.key: result for result in outcome.results}
    for key in bad:
        failure = by_key[CreateAssignment(assignment=key).key]
        assert failure.status is Status.FAILED
        assert "not an active member" in (failure.reason or "")
    assert sum(r.status is Status.SUCCEEDED for r in outcome.results) == 6
    # The two failures for their reasons, and two canaries.
    assert outcome.api_calls["DescribeAccountAssignmentCreationStatus"] == 4


def test_a_failed_request_the_lagging_lists_do_not_show_yet_is_not_reported_succeeded(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    """The lists are 0.3 s late: every request has ended (50 ms) while neither the IN_PROGRESS
    nor the FAILED list shows it; absence from both must not pass for success."""
    sandbox, scale = seeded
    _set(sandbox, status_list_lag_seconds=0.3)
    suspended = sandbox.add_account(name="closed", status="SUSPENDED")
    good = _keys(scale, 6)
    bad = [
        AssignmentKey(suspended, "Role000", PrincipalType.GROUP, group)
        for group in scale.organization.groups[7:9]
    ]

    outcome = _create(
        _clients(),
        [*good, *bad],
        ApplySettings(poll_interval_seconds=0.05, status_list_lag_seconds=0.4),
    )

    statuses = {result.operation.key: result.status for result in outcome.results}
    assert {statuses[CreateAssignment(assignment=key).key] for key in bad} == {Status.FAILED}
    assert {statuses[CreateAssignment(assignment=key).key] for key in good} == {Status.SUCCEEDED}


def test_requests_that_aged_out_before_their_status_was_read_are_not_reported_succeeded(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    """AWS forgets requests 30 ms after they were made, before they end (neither listed nor
    described): their operations are FAILED with a reason saying so, never SUCCEEDED."""
    sandbox, scale = seeded
    _set(sandbox, status_retention_seconds=0.03)

    outcome = _create(_clients(), _keys(scale, 6), LISTS)

    assert {result.status for result in outcome.results} == {Status.FAILED}
    assert all("aged out" in (result.reason or "") for result in outcome.results)


def test_every_finished_operation_reaches_the_progress_listener(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    updates: list[ApplyProgress] = []
    token = applying.progress_listener.set(updates.append)
    try:
        _create(_clients(), _keys(seeded[1], 6), LISTS)
    finally:
        applying.progress_listener.reset(token)

    assert len(updates) == 6
    assert max(update.done for update in updates) == 6
    assert {update.total for update in updates} == {6}


def test_without_a_listener_progress_is_logged(
    seeded: tuple[Sandbox, SeededScale], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(applying, "PROGRESS_LOG_SECONDS", 0.0)
    saved = structlog.get_config()  # an in-process CLI run elsewhere may filter out info
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with structlog.testing.capture_logs() as logs:
            _create(_clients(), _keys(seeded[1], 4), LISTS)
    finally:
        structlog.configure(**saved)

    progress = [entry for entry in logs if entry["event"] == "apply_progress"]
    assert progress
    assert {entry["total"] for entry in progress} == {4}


def test_the_cli_progress_bar_writes_to_stderr_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)

    with cli._apply_progress(enabled=True):
        listener = applying.progress_listener.get()
        assert listener is not None
        listener(ApplyProgress(done=1, total=2, failed=0, elapsed_seconds=1.0, eta_seconds=1.0))

    assert out.getvalue() == ""
    assert applying.progress_listener.get() is None


# --- identity-store writes beside sso-admin writes ---------------------------------------------


def _new_user(name: str) -> User:
    return User(user_name=name, display_name=name, given_name="New", family_name="User")


def _overlapping_plan(scale: SeededScale) -> tuple[Operation, ...]:
    """Identity writes (memberships of existing users, then a new user) before, in plan order,
    assignments of existing groups and one of the new user."""
    organization = scale.organization
    memberships = [
        Membership(group, user)
        for group in organization.groups
        for user in organization.users
        if (group, user) not in organization.memberships
    ][:8]
    newcomer = AssignmentKey(
        scale.accounts[organization.accounts[0]], "Role000", PrincipalType.USER, "newcomer"
    )
    return (
        *(AddMembership(membership=m) for m in memberships),
        CreateUser(user=_new_user("newcomer")),
        CreateAssignment(assignment=newcomer),
        *(CreateAssignment(assignment=key) for key in _keys(scale, 6)),
    )


def _apply(clients: AwsClients, operations: tuple[Operation, ...]) -> Outcome:
    settings = replace(LISTS, identity_concurrency=1)
    live = read_live_state(clients)
    return apply_plan(clients, Plan(revision=None, operations=operations), live, settings=settings)


def test_identity_store_writes_run_beside_sso_admin_writes(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    """Plan order puts every identity write first; the sandbox's request log shows sso-admin
    writes made before the last identity write (separate rate budgets, no dependency)."""
    sandbox, scale = seeded
    sandbox.configure_faults(FaultConfig.parse("none,latency=0.02"))
    mark = len(sandbox.calls)

    outcome = _apply(_clients(), _overlapping_plan(scale))

    log = [call.operation for call in sandbox.calls[mark:] if call.is_write]
    last_identity_write = max(i for i, op in enumerate(log) if op in IDENTITY_WRITES)
    first_assignment = log.index("CreateAccountAssignment")
    assert outcome.succeeded
    assert first_assignment < last_identity_write


def test_an_assignment_of_a_user_being_created_waits_for_the_user(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    """The new user's assignment is first in the sso-admin lane, its user last in the identity
    lane: it starts only once the user exists (else it could not name the user's id)."""
    sandbox, scale = seeded
    sandbox.configure_faults(FaultConfig.parse("none,latency=0.02"))
    mark = len(sandbox.calls)

    outcome = _apply(_clients(), _overlapping_plan(scale))

    log = [call.operation for call in sandbox.calls[mark:] if call.is_write]
    newcomer = next(
        r
        for r in outcome.results
        if isinstance(r.operation, CreateAssignment)
        and r.operation.assignment.principal_name == "newcomer"
    )
    assert newcomer.status is Status.SUCCEEDED, newcomer.reason
    assert "CreateAccountAssignment" in log[: log.index("CreateUser")]  # others did not wait
    assert "CreateAccountAssignment" in log[log.index("CreateUser") + 1 :]


def test_an_assignment_deletion_waits_for_every_earlier_identity_write(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    """Make before break: a deletion that may take access away comes after every earlier
    operation of the other lane (the memberships that may give the access back)."""
    sandbox, scale = seeded
    clients = _clients()
    keys = _keys(scale, 2)
    _create(clients, keys, LISTS)
    sandbox.configure_faults(FaultConfig.parse("none,latency=0.02"))
    mark = len(sandbox.calls)
    memberships = _overlapping_plan(scale)[:8]

    outcome = _apply(clients, (*memberships, DeleteAssignment(assignment=keys[0])))

    log = [call.operation for call in sandbox.calls[mark:] if call.is_write]
    assert outcome.succeeded
    assert log[-1] == "DeleteAccountAssignment"


def test_assignments_of_existing_sets_start_beside_the_creation_of_new_sets(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    """Three permission sets created one at a time, then assignments: those of an existing set
    start before the last set is created; the new set's own assignment waits for it."""
    sandbox, scale = seeded
    sandbox.configure_faults(FaultConfig.parse("none,latency=0.02"))
    mark = len(sandbox.calls)
    account = scale.accounts[scale.organization.accounts[0]]
    newest = AssignmentKey(account, "New2", PrincipalType.GROUP, scale.organization.groups[9])
    operations = (
        *(CreatePermissionSet(permission_set=PermissionSet(name=f"New{i}")) for i in range(3)),
        CreateAssignment(assignment=newest),
        *(CreateAssignment(assignment=key) for key in _keys(scale, 6)),
    )

    outcome = _apply(_clients(), operations)

    log = [call.operation for call in sandbox.calls[mark:] if call.is_write]
    last_set = max(i for i, op in enumerate(log) if op == "CreatePermissionSet")
    assert outcome.succeeded, [r.reason for r in outcome.results if r.reason]
    assert log.index("CreateAccountAssignment") < last_set


def _creation_watch(clients: AwsClients, instance_arn: str) -> RequestWatch:
    """A watch of account assignment creations that assumes the lists at most 50 ms late and
    describes no tail (so that only the lists and the canaries decide)."""
    return RequestWatch(
        clients=clients,
        instance_arn=instance_arn,
        list_method="list_account_assignment_creation_status",
        list_key="AccountAssignmentsCreationStatus",
        describe=lambda request_id: clients.sso_admin.describe_account_assignment_creation_status(
            InstanceArn=instance_arn, AccountAssignmentCreationRequestId=request_id
        )["AccountAssignmentCreationStatus"],
        interval=0.05,
        lag=0.05,
        tail_describe=0,
    )


def test_lists_later_than_assumed_are_caught_by_a_canary_and_every_request_described(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    """The lists are a second late but assumed at most 50 ms late: the two requests made last
    FAILED and are in neither list when the batch is settled; the youngest canary, described,
    is FAILED, so the lists are not trusted and every request is described."""
    sandbox, scale = seeded
    _set(sandbox, status_list_lag_seconds=1.0)
    suspended = sandbox.add_account(name="closed", status="SUSPENDED")
    clients = _clients()
    live = read_live_state(clients)
    sso = clients.sso_admin
    watch = _creation_watch(clients, live.instance_arn)
    keys = [
        *_keys(scale, 5),
        *(
            AssignmentKey(suspended, "Role000", PrincipalType.GROUP, group)
            for group in scale.organization.groups[7:9]
        ),
    ]
    requests = [
        sso.create_account_assignment(
            InstanceArn=live.instance_arn,
            TargetId=key.account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=live.permission_set_arns[key.permission_set],
            PrincipalType="GROUP",
            PrincipalId=live.group_ids[key.principal_name],
        )["AccountAssignmentCreationStatus"]["RequestId"]
        for key in keys
    ]
    for request_id in requests:
        assert watch.wait_ended(request_id, deadline=time.monotonic() + 30) is None

    settled = watch.settle(requests, wait=True)

    statuses = [settled[request_id] for request_id in requests]
    assert [s["Status"] for s in statuses if isinstance(s, Mapping)] == [
        *["SUCCEEDED"] * 5,
        *["FAILED"] * 2,
    ]


@pytest.mark.parametrize("failing_at", [0, 3, 7])
def test_a_failure_amid_lists_later_than_assumed_is_never_reported_succeeded(
    seeded: tuple[Sandbox, SeededScale], failing_at: int
) -> None:
    """Lists a second late, assumed 50 ms late, and failures neither the oldest nor the youngest
    request (the canaries cannot see them): no list read is shown to include a request that was
    never listed, so none is inferred SUCCEEDED from its absence; each is described."""
    sandbox, scale = seeded
    _set(sandbox, status_list_lag_seconds=1.0)
    suspended = sandbox.add_account(name="closed", status="SUSPENDED")
    clients = _clients()
    live = read_live_state(clients)
    sso = clients.sso_admin
    watch = _creation_watch(clients, live.instance_arn)
    keys = _keys(scale, 8)
    keys[failing_at : failing_at + 2] = [
        AssignmentKey(suspended, "Role000", PrincipalType.GROUP, group)
        for group in scale.organization.groups[7:9]
    ]
    requests = []
    for key in keys:
        sent = watch.now()
        request_id = sso.create_account_assignment(
            InstanceArn=live.instance_arn,
            TargetId=key.account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=live.permission_set_arns[key.permission_set],
            PrincipalType="GROUP",
            PrincipalId=live.group_ids[key.principal_name],
        )["AccountAssignmentCreationStatus"]["RequestId"]
        requests.append((request_id, sent))
    for request_id, sent in requests:
        assert watch.wait_ended(request_id, deadline=time.monotonic() + 30, sent=sent) is None

    settled = watch.settle([request_id for request_id, _ in requests], wait=True)

    statuses = [settled[request_id] for request_id, _ in requests]
    expected = ["SUCCEEDED"] * 8
    expected[failing_at : failing_at + 2] = ["FAILED", "FAILED"]
    assert [s["Status"] for s in statuses if isinstance(s, Mapping)] == expected
