"""Accounts that cannot take assignments never make a pass fail in a loop.

- SUSPENDED and PENDING_CLOSURE accounts (Organizations ``Account.Status``): assignments there
  are neither created nor deleted, the plan says so in a note, the pass succeeds; a permission
  set provisioned there is reprovisioned to its ACTIVE accounts only.
- The management account, seen from a delegated administrator that planning did not recognize
  as one (IAM Identity Center user guide, "Delegated administration": only the management
  account manages permission sets provisioned there and the assignments there; a recognized
  one is refused at plan time): the first refused write fails with AWS's
  AccessDeniedException, the other writes in that account are skipped with the reason, the
  rest of the pass goes on; each pass makes one refused call, not one per assignment.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from moto.organizations.models import organizations_backends

from reconciler.planning.outcomes import Status
from reconciler.planning.plans import CreateAssignment, DeleteAssignment
from reconciler.sandbox import Sandbox, SandboxSettings
from tests.support import commit_all
from tests.survival.conftest import pass_on, read_json, write_json

pytestmark = pytest.mark.usefixtures("aws_environment", "quick_apply")


@pytest.fixture
def sandbox_settings() -> SandboxSettings:
    return SandboxSettings(
        assignment_delay_seconds=0.05,
        provisioning_delay_seconds=0.05,
        delegated_administrator=True,
    )


def set_status(sandbox: Sandbox, account_id: str, status: str) -> None:
    backend = organizations_backends[sandbox.management_account_id]["aws"]
    with sandbox.identity_center.lock:
        account = backend.get_account_by_id(account_id)
        account.status = status
        account.state = status


def assign_developers_in(repository: Path, accounts: list[str]) -> None:
    base = repository / "desired-state"
    assignments = read_json(base / "assignments.json")
    for entry in assignments["assignments"]:
        if entry["permission_set"] == "AdministratorAccess":
            entry["accounts"] = accounts
    write_json(base / "assignments.json", assignments)
    commit_all(repository, f"AdministratorAccess in {accounts}")


@pytest.mark.parametrize("status", ["SUSPENDED", "PENDING_CLOSURE"])
def test_an_assignment_naming_an_inactive_account_is_held_back_with_a_note(
    access_repo: Path, sandbox: Sandbox, status: str
) -> None:
    closing = sandbox.add_account(name="closing", status=status)
    assign_developers_in(access_repo, ["prod", "staging", "closing"])

    result = pass_on(access_repo, apply=True)

    assert result.outcome is not None
    assert result.outcome.succeeded
    assert not [
        op
        for op in result.plan.operations
        if isinstance(op, CreateAssignment) and op.assignment.account_id == closing
    ]
    assert any("not ACTIVE" in note and closing in note for note in result.plan.notes)
    again = pass_on(access_repo, apply=False)
    assert again.plan.is_empty


def test_assignments_in_an_account_suspended_later_are_not_pruned_and_make_no_call(
    access_repo: Path, sandbox: Sandbox
) -> None:
    doomed = sandbox.add_account(name="doomed")
    assign_developers_in(access_repo, ["prod", "staging", "doomed"])
    first = pass_on(access_repo, apply=True)
    assert first.outcome is not None
    assert first.outcome.succeeded
    set_status(sandbox, doomed, "SUSPENDED")
    assign_developers_in(access_repo, ["prod", "staging"])
    writes = len(sandbox.recorder.write_calls())

    for _ in range(2):
        result = pass_on(access_repo, apply=True)
        assert not [op for op in result.plan.operations if isinstance(op, DeleteAssignment)]
        assert any("not deleted" in note for note in result.plan.notes)

    assert len(sandbox.recorder.write_calls()) == writes


def test_a_changed_set_is_reprovisioned_to_its_active_accounts_only(
    access_repo: Path, sandbox: Sandbox
) -> None:
    doomed = sandbox.add_account(name="doomed")
    assign_developers_in(access_repo, ["prod", "staging", "doomed"])
    first = pass_on(access_repo, apply=True)
    assert first.outcome is not None
    assert first.outcome.succeeded
    set_status(sandbox, doomed, "SUSPENDED")
    base = access_repo / "desired-state"
    admin = read_json(base / "permission-sets" / "AdministratorAccess.json")
    admin["session_duration"] = "PT2H"
    write_json(base / "permission-sets" / "AdministratorAccess.json", admin)
    commit_all(access_repo, "Longer sessions")

    result = pass_on(access_repo, apply=True)

    assert result.outcome is not None
    assert result.outcome.succeeded, [(r.operation.key, r.reason) for r in result.outcome.results]
    assert pass_on(access_repo, apply=False).plan.is_empty


def test_the_management_account_is_refused_once_per_pass_and_the_rest_applies(
    access_repo: Path, sandbox: Sandbox
) -> None:
    # The caller looks like the management account (STS answers it), so planning does not
    # refuse the revision (tests/adoption/test_delegated_administration.py): AWS's own
    # refusal must still be met once per pass.
    sandbox.delegated_administrator_id = None
    base = access_repo / "desired-state"
    assignments = read_json(base / "assignments.json")
    for entry in assignments["assignments"]:
        if entry["permission_set"] == "AdministratorAccess":
            entry["accounts"] = ["prod", "staging", "management"]
            entry["users"] = ["jane.doe", "sam.lee"]  # three assignments in management
    write_json(base / "assignments.json", assignments)
    commit_all(access_repo, "Administrators in the management account")

    for _ in range(2):
        before = len(sandbox.recorder.write_calls())
        result = pass_on(access_repo, apply=True)
        assert result.outcome is not None
        in_management = [
            r
            for r in result.outcome.results
            if isinstance(r.operation, CreateAssignment)
            and r.operation.assignment.account_id == sandbox.management_account_id
        ]
        refused = sandbox.recorder.write_calls()[before:]
        denied = [
            c for c in refused if c.operation == "CreateAccountAssignment" and c.status == 400
        ]
        statuses = sorted(r.status.value for r in in_management)
        assert statuses == ["failed", "skipped", "skipped"]
        assert len(denied) == 1  # one refused call per pass, not one per assignment
        failed = next(r for r in in_management if r.status is Status.FAILED)
        assert failed.reason is not None
        assert "AccessDeniedException" in failed.reason
        skipped = [r.reason or "" for r in in_management if r.status is Status.SKIPPED]
        assert all("AWS denied" in reason for reason in skipped)
        others = [r for r in result.outcome.results if r not in in_management]
        assert all(r.status is Status.SUCCEEDED for r in others)
