"""Against the sandbox: identities owned by an external IdP, time-bound access, and stale
provisioning found and healed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.clients import make_clients
from reconciler.engine import PassResult, Revision, reconcile
from reconciler.errors import InvalidRevisionError
from reconciler.planning.plans import ProvisionPermissionSet, UpdatePermissionSet
from reconciler.sandbox import Sandbox
from tests.adoption.conftest import Console, with_required_files

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = {"name": "Admin", "managed_policies": [READ_ONLY]}
WRITES = ("Create", "Update", "Delete")


def _write(folder: Path, files: dict[str, Any]) -> Revision:
    for relative, document in with_required_files(files).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document))
    return Revision(revision=None, folder=folder)


def _pass(revision: Revision, *, now: datetime | None = None, apply: bool = True) -> PassResult:
    return reconcile(revision=revision, aws=make_clients(), apply=apply, now=now)


# --- identities from an external IdP --------------------------------------------------------


@pytest.fixture
def scim_identities(console: Console) -> None:
    """Users and groups as an IdP's SCIM sync leaves them, with one membership."""
    ann = console.user("ann")
    console.user("bob")
    platform = console.group("Platform", Description="Synced from Okta")
    console.member(platform, ann)


@pytest.mark.usefixtures("scim_identities")
def test_external_identities_mode_never_writes_to_the_identity_store(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    revision = _write(
        tmp_path,
        {
            "reconciler.json": {"identities": "external", "prune": {"memberships": True}},
            "permission-sets/Admin.json": ADMIN,
            "assignments.json": {
                "assignments": [
                    {"permission_set": "Admin", "groups": ["Platform"], "accounts": ["prod"]},
                    {"permission_set": "Admin", "users": ["bob"], "accounts": ["staging"]},
                ]
            },
        },
    )
    first_call = len(sandbox.calls)

    result = _pass(revision)

    assert result.outcome is not None
    assert result.outcome.succeeded
    assert len(result.plan.operations) == 3  # the set and its two assignments
    writes = [
        call.operation
        for call in sandbox.calls[first_call:]
        if call.service == "identitystore" and call.operation.startswith(WRITES)
    ]
    assert writes == []


@pytest.mark.usefixtures("scim_identities")
def test_external_identities_mode_refuses_a_group_the_idp_has_not_synced(
    tmp_path: Path,
) -> None:
    revision = _write(
        tmp_path,
        {
            "reconciler.json": {"identities": "external"},
            "permission-sets/Admin.json": ADMIN,
            "assignments.json": {
                "assignments": [
                    {"permission_set": "Admin", "groups": ["Security"], "accounts": ["prod"]}
                ]
            },
        },
    )

    with pytest.raises(InvalidRevisionError) as caught:
        _pass(revision)

    (problem,) = caught.value.problems
    assert problem.rule == "unknown_group"
    assert "identity provider" in problem.message


# --- time-bound access --------------------------------------------------------------------


def test_expired_assignment_is_removed_at_the_next_pass(console: Console, tmp_path: Path) -> None:
    expires = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    revision = _write(
        tmp_path,
        {
            "permission-sets/Admin.json": ADMIN,
            "groups.json": {"groups": [{"name": "Oncall"}]},
            "assignments.json": {
                "assignments": [
                    {
                        "permission_set": "Admin",
                        "groups": ["Oncall"],
                        "accounts": ["prod"],
                        "expires_at": "2026-12-31T18:00:00+01:00",
                    }
                ]
            },
        },
    )
    granted = _pass(revision, now=expires - timedelta(days=1))
    assert any(
        "assignment" in op.key for op in granted.plan.operations if op.action.value == "create"
    )
    assert any("access expires at" in note for note in granted.plan.notes)

    expired = _pass(revision, now=expires + timedelta(seconds=1))

    assert [(op.action.value, op.kind.value) for op in expired.plan.operations] == [
        ("delete", "assignment")
    ]
    assert any("access expired at" in note for note in expired.plan.notes)
    assert _pass(revision, now=expires + timedelta(days=1), apply=False).plan.is_empty


# --- stale provisioning -------------------------------------------------------------------


@pytest.fixture
def converged(console: Console, tmp_path: Path) -> Revision:
    revision = _write(
        tmp_path,
        {
            "permission-sets/Admin.json": ADMIN,
            "groups.json": {"groups": [{"name": "Ops"}]},
            "assignments.json": {
                "assignments": [
                    {"permission_set": "Admin", "groups": ["Ops"], "accounts": ["prod", "staging"]}
                ]
            },
        },
    )
    _pass(revision)
    assert _pass(revision, apply=False).plan.is_empty
    return revision


def _set_arn(console: Console) -> str:
    sets = console.sso.list_permission_sets(InstanceArn=console.org.instance_arn)
    return str(sets["PermissionSets"][0])


def test_hand_change_reverted_without_provisioning_is_healed_by_reprovisioning(
    console: Console, converged: Revision
) -> None:
    """Attached and detached by hand, never provisioned: the set is as declared but the
    accounts run a stale copy, which only the provisioning status shows."""
    arn, instance = _set_arn(console), console.org.instance_arn
    extra = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
    console.sso.attach_managed_policy_to_permission_set(
        InstanceArn=instance, PermissionSetArn=arn, ManagedPolicyArn=extra
    )
    console.sso.detach_managed_policy_from_permission_set(
        InstanceArn=instance, PermissionSetArn=arn, ManagedPolicyArn=extra
    )

    healing = _pass(converged)

    (operation,) = healing.plan.operations
    assert isinstance(operation, ProvisionPermissionSet)
    assert operation.accounts == frozenset(
        {console.org.accounts["prod"], console.org.accounts["staging"]}
    )
    assert healing.outcome is not None
    assert healing.outcome.succeeded
    assert _pass(converged, apply=False).plan.is_empty


def test_hand_change_without_provisioning_is_drift_healed_by_update_and_provision(
    console: Console, converged: Revision
) -> None:
    arn = _set_arn(console)
    console.sso.attach_managed_policy_to_permission_set(
        InstanceArn=console.org.instance_arn,
        PermissionSetArn=arn,
        ManagedPolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )

    healing = _pass(converged)

    assert [type(op) for op in healing.plan.operations] == [
        UpdatePermissionSet,
        ProvisionPermissionSet,
    ]
    assert healing.outcome is not None
    assert healing.outcome.succeeded
    assert _pass(converged, apply=False).plan.is_empty
