"""Adoption: ``reconciler export`` writes the live state as desired-state files; committed to a
new repository, ``plan`` against the same live state shows no change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.model.loading import load_documents
from tests.adoption.conftest import Console, new_repository, plan_json, run_cli
from tests.support import commit_all

INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}],
}


@pytest.fixture
def rich_live_state(console: Console) -> None:
    """Every kind and attribute the format knows, made by hand as the console would."""
    sso, instance = console.sso, console.org.instance_arn
    alice = console.user(
        "alice", Emails=[{"Value": "alice@example.com", "Type": "work", "Primary": True}]
    )
    bob = console.user("bob")
    admins = console.group("Admins", Description="Full access")
    readers = console.group("Readers")
    console.member(admins, alice)
    console.member(admins, bob)

    admin = console.permission_set(
        "Admin",
        Description="Administrators",
        SessionDuration="PT4H",
        RelayState="https://console.aws.amazon.com/ec2/",
        Tags=[{"Key": "team", "Value": "platform"}],
    )
    for arn in (
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    ):
        sso.attach_managed_policy_to_permission_set(
            InstanceArn=instance, PermissionSetArn=admin, ManagedPolicyArn=arn
        )
    dev = console.permission_set("Dev", SessionDuration="PT1H")
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=instance,
        PermissionSetArn=dev,
        CustomerManagedPolicyReference={"Name": "DeveloperExtras", "Path": "/platform/"},
    )
    sso.put_permissions_boundary_to_permission_set(
        InstanceArn=instance,
        PermissionSetArn=dev,
        PermissionsBoundary={
            "CustomerManagedPolicyReference": {"Name": "DeveloperBoundary", "Path": "/platform/"}
        },
    )
    sso.put_inline_policy_to_permission_set(
        InstanceArn=instance, PermissionSetArn=dev, InlinePolicy=json.dumps(INLINE)
    )
    audit = console.permission_set("Audit")
    sso.put_permissions_boundary_to_permission_set(
        InstanceArn=instance,
        PermissionSetArn=audit,
        PermissionsBoundary={"ManagedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    )

    console.assign(admin, "prod", admins, "GROUP")
    console.assign(admin, "staging", admins, "GROUP")
    console.assign(admin, "prod", bob, "USER")
    console.assign(dev, "staging", readers, "GROUP")
    for account in ("prod", "staging"):
        console.assign(audit, account, alice, "USER")
        console.assign(audit, account, admins, "GROUP")


def _export(repository: Path, *kinds: str) -> Path:
    folder = repository / "desired-state"
    options = ["--kinds", ",".join(kinds)] if kinds else []
    assert run_cli("export", "--out", str(folder), *options) == 0
    commit_all(repository, "Adopt the live state")
    return folder


@pytest.mark.usefixtures("rich_live_state")
def test_plan_after_exporting_everything_shows_no_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = new_repository(tmp_path)
    _export(repository)

    code, plan = plan_json(repository, capsys)

    assert plan["changes"] == []
    assert code == 0


@pytest.mark.usefixtures("rich_live_state")
@pytest.mark.parametrize(
    "kinds",
    [("users",), ("groups",), ("permission_sets",), ("permission_sets", "assignments")],
    ids="+".join,
)
def test_plan_after_exporting_one_kind_shows_no_change(
    kinds: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = new_repository(tmp_path)
    _export(repository, *kinds)

    code, plan = plan_json(repository, capsys)

    assert (code, plan["changes"]) == (0, [])


@pytest.mark.usefixtures("rich_live_state")
def test_exported_files_are_valid_and_name_accounts_by_name(tmp_path: Path) -> None:
    folder = _export(new_repository(tmp_path))
    files = {
        path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*.json")
    }

    documents = load_documents(files)

    assert sorted(files) == [
        "assignments.json",
        "groups.json",
        "permission-sets/Admin.json",
        "permission-sets/Audit.json",
        "permission-sets/Dev.json",
        "reconciler.json",
        "users.json",
    ]
    assert [item.value.model_dump(exclude_defaults=True) for item in documents.assignments] == [
        {"permission_set": "Admin", "groups": ["Admins"], "accounts": ["prod", "staging"]},
        {"permission_set": "Admin", "users": ["bob"], "accounts": ["prod"]},
        {
            "permission_set": "Audit",
            "groups": ["Admins"],
            "users": ["alice"],
            "accounts": ["prod", "staging"],
        },
        {"permission_set": "Dev", "groups": ["Readers"], "accounts": ["staging"]},
    ]


@pytest.mark.usefixtures("rich_live_state")
def test_first_change_after_adoption_adds_the_managed_by_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = new_repository(tmp_path)
    folder = _export(repository)
    admin = json.loads((folder / "permission-sets/Admin.json").read_text())
    admin["description"] = "Administrators of every account"
    (folder / "permission-sets/Admin.json").write_text(json.dumps(admin))
    commit_all(repository, "Describe Admin")

    code, plan = plan_json(repository, capsys)

    (change,) = plan["changes"]
    assert code == 2
    assert [diff["attribute"] for diff in change["diff"]] == ["description", "tags"]


def test_export_refuses_a_folder_that_holds_desired_state(console: Console, tmp_path: Path) -> None:
    (tmp_path / "users.json").write_text('{"users": []}')

    assert run_cli("export", "--out", str(tmp_path)) == 1


@pytest.mark.usefixtures("rich_live_state")
def test_plan_after_exporting_with_external_identities_shows_no_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = new_repository(tmp_path)
    folder = repository / "desired-state"
    assert run_cli("export", "--out", str(folder), "--identities", "external") == 0
    commit_all(repository, "Adopt, identities from the IdP")

    code, plan = plan_json(repository, capsys)

    assert not (folder / "users.json").exists()
    assert (code, plan["changes"]) == (0, [])
