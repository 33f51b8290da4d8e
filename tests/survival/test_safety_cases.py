"""Safety against bad input, end to end against the sandbox (cases 7 to 12 of
``shared/cases/README.md``): through the engine in-process, or the CLI as a subprocess, with
the sandbox's recorded write calls as the witness of what reached AWS and in which order."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.clients import make_clients
from reconciler.errors import PlanRefusedError
from reconciler.model.state import MANAGED_TAG_KEY, MANAGED_TAG_VALUE
from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from reconciler.sandbox.inventory import take_inventory
from tests import cli_zygote
from tests.support import commit_all
from tests.survival.conftest import UNLIMITED, pass_on, read_json, write_json

pytestmark = pytest.mark.usefixtures("aws_environment", "quick_apply")

FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)


@pytest.fixture
def sandbox_settings() -> SandboxSettings:
    return FAST


def folder(repository: Path) -> Path:
    return repository / "desired-state"


def apply_ok(repository: Path, *, allow_deletions: bool = False) -> None:
    result = pass_on(repository, apply=True, allow_deletions=allow_deletions)
    assert result.outcome is not None
    assert result.outcome.succeeded, [
        (r.operation.key, r.reason) for r in result.outcome.results if r.reason
    ]


def writes_since(sandbox: Sandbox, baseline: int) -> list[str]:
    return [call.operation for call in sandbox.recorder.write_calls()[baseline:]]


# --- case 10: an emptied file is not an instruction to delete everything ----------------------


def two_hundred_assignments(repository: Path) -> None:
    """25 groups, each assigned the 3 example sets plus one more in prod and staging: 200."""
    base = folder(repository)
    groups = read_json(base / "groups.json")
    groups["groups"] += [{"name": f"Team{index:02d}", "members": []} for index in range(22)]
    write_json(base / "groups.json", groups)
    write_json(
        base / "permission-sets" / "Billing.json",
        {"name": "Billing", "managed_policies": ["arn:aws:iam::aws:policy/job-function/Billing"]},
    )
    names = [group["name"] for group in groups["groups"]]
    write_json(
        base / "assignments.json",
        {
            "assignments": [
                {"permission_set": name, "groups": names, "accounts": ["prod", "staging"]}
                for name in ("AdministratorAccess", "DeveloperAccess", "ReadOnlyAccess", "Billing")
            ]
        },
    )
    commit_all(repository, "200 assignments")


def test_case_10_an_emptied_assignments_file_is_refused_with_no_write_call(
    access_repo: Path, sandbox: Sandbox
) -> None:
    two_hundred_assignments(access_repo)
    apply_ok(access_repo)
    assert len(take_inventory(sandbox).assignments) == 200
    write_json(folder(access_repo) / "assignments.json", {"assignments": []})
    commit_all(access_repo, "Emptied by mistake")
    baseline = len(sandbox.recorder.write_calls())

    with pytest.raises(PlanRefusedError, match="deletion guard"):
        pass_on(access_repo, apply=True)

    assert writes_since(sandbox, baseline) == []
    assert len(take_inventory(sandbox).assignments) == 200


def test_case_10_allow_deletions_lets_the_emptied_file_through(
    access_repo: Path, sandbox: Sandbox
) -> None:
    two_hundred_assignments(access_repo)
    apply_ok(access_repo)
    write_json(folder(access_repo) / "assignments.json", {"assignments": []})
    commit_all(access_repo, "Emptied on purpose")

    apply_ok(access_repo, allow_deletions=True)

    assert len(take_inventory(sandbox).assignments) == 0


# --- case 9: not ours, not touched ------------------------------------------------------------


def control_tower_objects(organization: SeededOrganization) -> None:
    """Control Tower's sets (tagged as if ours) and group, assigned in prod."""
    clients = make_clients(rates=UNLIMITED)
    group_id = clients.identitystore.create_group(
        IdentityStoreId=organization.identity_store_id, DisplayName="AWSControlTowerAdmins"
    )["GroupId"]
    for name in ("AWSControlTowerAdmin", "AWSServiceCatalogEndUserAccess"):
        arn = clients.sso_admin.create_permission_set(
            InstanceArn=organization.instance_arn,
            Name=name,
            Tags=[{"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE}],
        )["PermissionSet"]["PermissionSetArn"]
        clients.sso_admin.create_account_assignment(
            InstanceArn=organization.instance_arn,
            TargetId=organization.accounts["prod"],
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=arn,
            PrincipalType="GROUP",
            PrincipalId=group_id,
        )


def test_case_9_control_tower_objects_survive_every_prune_even_tagged_as_ours(
    access_repo: Path, sandbox: Sandbox, organization: SeededOrganization
) -> None:
    control_tower_objects(organization)
    sandbox.complete_operations()
    config = read_json(folder(access_repo) / "reconciler.json")
    config["prune"] = dict.fromkeys(config["prune"], True)
    write_json(folder(access_repo) / "reconciler.json", config)
    commit_all(access_repo, "Prune everything")

    apply_ok(access_repo, allow_deletions=True)

    held = take_inventory(sandbox)
    assert {"AWSControlTowerAdmin", "AWSServiceCatalogEndUserAccess"} <= set(held.permission_sets)
    assert "AWSControlTowerAdmins" in held.groups
    prod = organization.accounts["prod"]
    assert {
        (prod, name, "GROUP", "AWSControlTowerAdmins")
        for name in ("AWSControlTowerAdmin", "AWSServiceCatalogEndUserAccess")
    } <= set(held.assignments)
    assert pass_on(access_repo, apply=False).plan.is_empty


def test_case_9_control_tower_assignments_do_not_let_an_emptied_file_through_the_cli(
    access_repo: Path, sandbox: Sandbox, organization: SeededOrganization
) -> None:
    apply_ok(access_repo)
    control_tower_objects(organization)
    sandbox.complete_operations()
    write_json(folder(access_repo) / "assignments.json", {"assignments": []})
    commit_all(access_repo, "Emptied by mistake")
    baseline = len(sandbox.recorder.write_calls())

    refused = cli_zygote.run(["apply", "--repo", str(access_repo)], env=os.environ, timeout=120)

    assert refused.returncode == 1, refused.stdout
    assert "deletes all 7 managed assignments and creates none" in refused.stdout
    assert "2 live assignments left out of the count (outside the prune scope" in refused.stdout
    assert writes_since(sandbox, baseline) == []
    assert len(take_inventory(sandbox).assignments) == 9


# --- case 12: rename without a gap --------------------------------------------------------------


def test_case_12_rename_creates_the_new_set_and_its_assignments_before_deleting_the_old(
    access_repo: Path, sandbox: Sandbox
) -> None:
    apply_ok(access_repo)
    base = folder(access_repo)
    developer = read_json(base / "permission-sets" / "DeveloperAccess.json")
    (base / "permission-sets" / "DeveloperAccess.json").unlink()
    write_json(base / "permission-sets" / "PowerUsers.json", {**developer, "name": "PowerUsers"})
    assignments = read_json(base / "assignments.json")
    for entry in assignments["assignments"]:
        if entry["permission_set"] == "DeveloperAccess":
            entry["permission_set"] = "PowerUsers"
    write_json(base / "assignments.json", assignments)
    commit_all(access_repo, "Rename DeveloperAccess to PowerUsers")
    baseline = len(sandbox.recorder.write_calls())

    apply_ok(access_repo)

    writes = writes_since(sandbox, baseline)
    assert writes.index("CreatePermissionSet") < writes.index("CreateAccountAssignment")
    last_create = max(i for i, op in enumerate(writes) if op == "CreateAccountAssignment")
    deletes = [i for i, op in enumerate(writes) if op == "DeleteAccountAssignment"]
    assert deletes
    assert last_create < min(deletes)
    assert max(deletes) < writes.index("DeletePermissionSet")
    # The new assignment was in place (SUCCEEDED) before the old one's deletion was requested.
    center = sandbox.identity_center
    with center.lock:
        created = [
            sequence
            for assignment, sequence in center.assignments.items()
            if center.permission_sets[assignment.permission_set_arn].name == "PowerUsers"
        ]
        deletion_requests = [
            op.sequence for op in center.operations.values() if op.kind == "DELETE_ASSIGNMENT"
        ]
    assert created
    assert max(created) < min(deletion_requests)
    held = take_inventory(sandbox)
    assert "DeveloperAccess" not in held.permission_sets
    assert "PowerUsers" in held.permission_sets


# --- case 11: a user who is still a member ------------------------------------------------------


def test_case_11_removing_a_user_in_two_groups_removes_memberships_then_the_user_in_one_pass(
    access_repo: Path, sandbox: Sandbox
) -> None:
    apply_ok(access_repo)
    base = folder(access_repo)
    config = read_json(base / "reconciler.json")
    config["prune"]["users"] = True
    write_json(base / "reconciler.json", config)
    users = read_json(base / "users.json")
    users["users"] = [u for u in users["users"] if u["user_name"] != "sam.lee"]
    write_json(base / "users.json", users)
    groups = read_json(base / "groups.json")
    for group in groups["groups"]:
        group["members"] = [m for m in group["members"] if m != "sam.lee"]
    write_json(base / "groups.json", groups)
    commit_all(access_repo, "sam.lee leaves")
    baseline = len(sandbox.recorder.write_calls())

    apply_ok(access_repo)

    assert writes_since(sandbox, baseline) == [
        "DeleteGroupMembership",
        "DeleteGroupMembership",
        "DeleteUser",
    ]
    held = take_inventory(sandbox)
    assert "sam.lee" not in held.users
    assert not [m for m in held.memberships if m[1] == "sam.lee"]
    assert pass_on(access_repo, apply=False).plan.is_empty


# --- case 8: deleting a permission set assigned in several accounts -----------------------------


def test_case_8_deleting_a_set_assigned_in_four_accounts_reaches_no_conflict_to_the_user(
    access_repo: Path, sandbox: Sandbox
) -> None:
    sandbox.add_account(name="dev")
    sandbox.add_account(name="sandbox")
    base = folder(access_repo)
    assignments = read_json(base / "assignments.json")
    for entry in assignments["assignments"]:
        if entry["permission_set"] == "AdministratorAccess":
            entry["accounts"] = ["prod", "staging", "dev", "sandbox"]
            entry["users"] = ["jane.doe", "sam.lee"]
    write_json(base / "assignments.json", assignments)
    commit_all(access_repo, "Administrators everywhere")
    apply_ok(access_repo)
    (base / "permission-sets" / "AdministratorAccess.json").unlink()
    assignments["assignments"] = [
        e for e in assignments["assignments"] if e["permission_set"] != "AdministratorAccess"
    ]
    write_json(base / "assignments.json", assignments)
    commit_all(access_repo, "No more AdministratorAccess")

    result = pass_on(access_repo, apply=True, allow_deletions=True)  # 12 of 17 assignments

    assert result.outcome is not None
    failures = [(r.operation.key, r.reason) for r in result.outcome.results if r.reason]
    assert failures == []
    assert "AdministratorAccess" not in take_inventory(sandbox).permission_sets


# --- case 7: asynchronous failure is a failure --------------------------------------------------


def test_case_7_failed_assignment_is_reported_with_awss_reason_and_the_others_are_created(
    access_repo: Path, sandbox: Sandbox
) -> None:
    lab = sandbox.add_account(name="lab")  # holds none of DeveloperAccess's customer policies
    base = folder(access_repo)
    assignments = read_json(base / "assignments.json")
    for entry in assignments["assignments"]:
        if entry["permission_set"] == "DeveloperAccess":
            entry["accounts"] = ["staging", "lab"]
    write_json(base / "assignments.json", assignments)
    commit_all(access_repo, "Developers in the lab")

    result = cli_zygote.run(
        ["apply", "--repo", str(access_repo), "--format", "json"], env=os.environ, timeout=120
    )

    assert result.returncode == 1
    document: dict[str, Any] = json.loads(result.stdout)
    failed = [c for c in document["changes"] if c["status"] == "failed"]
    assert [c["key"] for c in failed] == [f"assignment/{lab}/DeveloperAccess/GROUP/Developers"]
    assert "DeveloperExtras does not exist in account" in failed[0]["reason"]
    assert all(c["status"] == "succeeded" for c in document["changes"] if c not in failed)
    created = [
        c
        for c in document["changes"]
        if c["key"].startswith("assignment/") and c["status"] == "succeeded"
    ]
    assert len(created) == 7
    assert len(take_inventory(sandbox).assignments) == 7
