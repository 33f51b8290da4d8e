"""Access beside the desired state is reported, never called "matches" (issue 10, first "Why").

Each test applies the example repository to the sandbox, makes a change by hand the way a
person in the console would (or edits the files), and runs ``reconciler plan`` as a user does.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.sandbox import SeededOrganization
from tests.e2e.test_cli import run_cli, run_json
from tests.support import HandMade, commit_all

pytestmark = pytest.mark.usefixtures("aws_environment")

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def _edit(repository: Path, file: str, change: Callable[[Any], None]) -> None:
    path = repository / "desired-state" / file
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))
    commit_all(repository, f"Edit {file}")


def _prune(repository: Path, **switches: bool) -> None:
    _edit(repository, "reconciler.json", lambda document: document["prune"].update(switches))


def _applied(repository: Path) -> None:
    result = run_cli("apply", "--repo", str(repository))
    assert result.returncode == 0, result.stdout + result.stderr


def _assign(
    hand: HandMade, organization: SeededOrganization, *, permission_set: str, user_id: str
) -> None:
    sso = boto3.client("sso-admin")
    arn = next(
        arn
        for page in sso.get_paginator("list_permission_sets").paginate(
            InstanceArn=organization.instance_arn
        )
        for arn in page["PermissionSets"]
        if sso.describe_permission_set(InstanceArn=organization.instance_arn, PermissionSetArn=arn)[
            "PermissionSet"
        ]["Name"]
        == permission_set
    )
    sso.create_account_assignment(
        InstanceArn=organization.instance_arn,
        TargetId=organization.accounts["prod"],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=arn,
        PrincipalType="USER",
        PrincipalId=user_id,
    )


def _unmanaged(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {item["key"]: item for item in document["unmanaged"]}


def _plan_text(repository: Path) -> str:
    result = run_cli("plan", "--repo", str(repository))
    return result.stdout


def test_hand_made_admin_in_prod_with_prune_assignments_off_is_reported(
    access_repo: Path, organization: SeededOrganization
) -> None:
    _prune(access_repo, assignments=False)
    _applied(access_repo)
    hand = HandMade(organization)
    _assign(hand, organization, permission_set="AdministratorAccess", user_id=hand.user("mallory"))

    code, document = run_json("plan", "--repo", str(access_repo))

    prod = organization.accounts["prod"]
    found = _unmanaged(document)
    assert code == 0
    assert document["changes"] == []
    assert (
        "prune.assignments is false"
        in (found[f"assignment/{prod}/AdministratorAccess/USER/mallory"]["reason"])
    )
    assert "user/mallory" in found
    text = _plan_text(access_repo)
    assert "matches the desired state" not in text
    assert "AdministratorAccess for user mallory in prod" in text


def test_hand_made_admin_set_assigned_to_a_new_user_is_reported(
    access_repo: Path, organization: SeededOrganization
) -> None:
    _applied(access_repo)
    hand = HandMade(organization)
    arn = hand.permission_set("ShadowAdmin")
    boto3.client("sso-admin").attach_managed_policy_to_permission_set(
        InstanceArn=organization.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=ADMIN_POLICY
    )
    _assign(hand, organization, permission_set="ShadowAdmin", user_id=hand.user("eve"))

    code, document = run_json("plan", "--repo", str(access_repo))

    found = _unmanaged(document)
    prod = organization.accounts["prod"]
    assert code == 0
    assert "managed-by tag" in found["permission-set/ShadowAdmin"]["reason"]
    assert (
        "ShadowAdmin is not managed" in (found[f"assignment/{prod}/ShadowAdmin/USER/eve"]["reason"])
    )
    assert "user/eve" in found


def test_undeclared_live_users_groups_and_memberships_are_reported(
    access_repo: Path, organization: SeededOrganization
) -> None:
    _applied(access_repo)
    hand = HandMade(organization)
    hand.member(hand.group("Contractors"), hand.user("carol"))

    code, document = run_json("plan", "--repo", str(access_repo))

    found = _unmanaged(document)
    assert code == 0
    assert {"user/carol", "group/Contractors", "membership/Contractors/carol"} <= set(found)
    assert found["group/Contractors"]["kind"] == "group"
    assert "prune.users is false" in found["user/carol"]["reason"]


def test_set_adopted_through_export_then_removed_from_the_files_is_reported(
    access_repo: Path, organization: SeededOrganization, tmp_path: Path
) -> None:
    _applied(access_repo)
    hand = HandMade(organization)
    arn = hand.permission_set("LegacyAdmin", SessionDuration="PT2H")
    boto3.client("sso-admin").attach_managed_policy_to_permission_set(
        InstanceArn=organization.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=ADMIN_POLICY
    )
    exported = tmp_path / "exported"
    result = run_cli("export", "--out", str(exported), "--kinds", "permission_sets")
    assert result.returncode == 0, result.stdout + result.stderr
    sets = access_repo / "desired-state" / "permission-sets"
    shutil.copy(exported / "permission-sets" / "LegacyAdmin.json", sets / "LegacyAdmin.json")
    commit_all(access_repo, "Adopt LegacyAdmin")
    code, adopted = run_json("plan", "--repo", str(access_repo))
    assert (code, adopted["changes"], adopted["unmanaged"]) == (0, [], [])

    (sets / "LegacyAdmin.json").unlink()
    commit_all(access_repo, "Remove LegacyAdmin")
    code, document = run_json("plan", "--repo", str(access_repo))

    assert code == 0
    assert (
        "adopted and its file since removed"
        in (_unmanaged(document)["permission-set/LegacyAdmin"]["reason"])
    )


def test_user_removed_from_users_json_with_prune_users_off_is_reported(
    access_repo: Path,
) -> None:
    _applied(access_repo)
    _edit(
        access_repo,
        "users.json",
        lambda document: document.update(
            users=[user for user in document["users"] if user["user_name"] != "jane.doe"]
        ),
    )

    code, document = run_json("plan", "--repo", str(access_repo))

    reason = _unmanaged(document)["user/jane.doe"]["reason"]
    assert code == 0
    assert "refers to it" in reason
    assert "prune.users is false" in reason


def test_unmanaged_fail_makes_plan_exit_2(
    access_repo: Path, organization: SeededOrganization
) -> None:
    _edit(access_repo, "reconciler.json", lambda document: document.update(unmanaged="fail"))
    _applied(access_repo)
    HandMade(organization).user("carol")

    result = run_cli("plan", "--repo", str(access_repo))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "user carol" in result.stdout
    assert '"unmanaged": "fail"' in result.stdout


def test_unmanaged_report_keeps_plan_exit_0(
    access_repo: Path, organization: SeededOrganization
) -> None:
    _applied(access_repo)
    HandMade(organization).user("carol")

    assert run_cli("plan", "--repo", str(access_repo)).returncode == 0


def test_apply_beside_failing_unmanaged_objects_does_not_claim_its_own_exit_2(
    access_repo: Path, organization: SeededOrganization
) -> None:
    _edit(access_repo, "reconciler.json", lambda document: document.update(unmanaged="fail"))
    _applied(access_repo)
    HandMade(organization).user("carol")
    _edit(access_repo, "groups.json", lambda document: document)  # a new revision to apply

    result = run_cli("apply", "--repo", str(access_repo))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "user carol" in result.stdout
    verdict = next(line for line in result.stdout.splitlines() if line.startswith('✗ "unmanaged"'))
    assert "`apply` still applies" in verdict
