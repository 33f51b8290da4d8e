"""Applying many account assignments: status learnt from the FAILED list, progress reporting."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from reconciler import cli
from reconciler.adapters.aws import applying
from reconciler.adapters.aws.applying import ApplyProgress, ApplySettings, apply_plan
from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.model.state import AssignmentKey, PrincipalType
from reconciler.planning.outcomes import Outcome, Status
from reconciler.planning.plans import CreateAssignment, Plan
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.seeding import ScaleSpec, SeededScale, seed_organization

FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)
SPEC = ScaleSpec(accounts=4, permission_sets=2, groups=10, users=3, assignments=0)
FAILED_LIST = ApplySettings(poll_interval_seconds=0.05, request_status="failed-list")


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, SeededScale]]:
    """A sandbox (no rate limit) with users, groups and sets but no assignment."""
    with Sandbox(FAST, faults=FaultConfig.parse("none")) as sandbox:
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        for key, value in sandbox.client_environment().items():
            monkeypatch.setenv(key, value)
        yield sandbox, seed_organization(sandbox, SPEC)


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


def test_failed_list_status_creates_assignments_without_describing_them(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    clients = _clients()

    outcome = _create(clients, _keys(seeded[1], 10), FAILED_LIST)

    assert outcome.succeeded
    assert outcome.api_calls["CreateAccountAssignment"] == 10
    assert "DescribeAccountAssignmentCreationStatus" not in outcome.api_calls
    assert len(read_live_state(clients).state.assignments) == 10


def test_failed_list_status_reports_a_failed_request_with_its_reason(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    sandbox, scale = seeded
    suspended = sandbox.add_account(name="closed", status="SUSPENDED")
    good = _keys(scale, 3)
    bad = AssignmentKey(suspended, "Role000", PrincipalType.GROUP, scale.organization.groups[5])

    outcome = _create(_clients(), [*good, bad], FAILED_LIST)

    by_key = {result.operation.key: result for result in outcome.results}
    failure = by_key[CreateAssignment(assignment=bad).key]
    assert failure.status is Status.FAILED
    assert "not an active member" in (failure.reason or "")
    assert sum(r.status is Status.SUCCEEDED for r in outcome.results) == 3
    assert outcome.api_calls["DescribeAccountAssignmentCreationStatus"] == 1


def test_every_finished_operation_reaches_the_progress_listener(
    seeded: tuple[Sandbox, SeededScale],
) -> None:
    updates: list[ApplyProgress] = []
    token = applying.progress_listener.set(updates.append)
    try:
        _create(_clients(), _keys(seeded[1], 6), FAILED_LIST)
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
            _create(_clients(), _keys(seeded[1], 4), FAILED_LIST)
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
