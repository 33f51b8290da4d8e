"""Targeting against the sandbox: assignments by OU, nested OU, tag, all accounts and exclusion,
resolved again at every pass (an account moved out of an OU, a tag removed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.clients import make_clients
from reconciler.engine import PassResult, Revision, reconcile
from reconciler.model.state import PrincipalType
from reconciler.planning.plans import CreateAssignment, DeleteAssignment
from reconciler.sandbox import Sandbox
from tests.adoption.conftest import Console

ADMIN = {"name": "Admin", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}


class Organization:
    """Root/Workloads (staging) → Root/Workloads/Prod (prod, old: SUSPENDED); management at the
    root; prod tagged env=prod."""

    def __init__(self, console: Console, sandbox: Sandbox) -> None:
        self.console = console
        self.client = console.organizations
        self.accounts = dict(console.org.accounts)
        self.accounts["old"] = sandbox.add_account(name="old", status="SUSPENDED")
        self.root = self.client.list_roots()["Roots"][0]["Id"]
        self.workloads = self.unit(self.root, "Workloads")
        self.prod_ou = self.unit(self.workloads, "Prod")
        self.move("staging", self.workloads)
        self.move("prod", self.prod_ou)
        self.move("old", self.prod_ou)
        self.client.tag_resource(
            ResourceId=self.accounts["prod"], Tags=[{"Key": "env", "Value": "prod"}]
        )

    def unit(self, parent: str, name: str) -> str:
        return str(
            self.client.create_organizational_unit(ParentId=parent, Name=name)[
                "OrganizationalUnit"
            ]["Id"]
        )

    def move(self, account: str, destination: str) -> None:
        account_id = self.accounts[account]
        source = self.client.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        self.client.move_account(
            AccountId=account_id, SourceParentId=source, DestinationParentId=destination
        )


@pytest.fixture
def organization_tree(console: Console, sandbox: Sandbox) -> Organization:
    return Organization(console, sandbox)


def _pass(
    folder: Path, assignment: dict[str, Any], *, apply: bool = True, allow_deletions: bool = False
) -> PassResult:
    (folder / "permission-sets").mkdir(parents=True, exist_ok=True)
    (folder / "permission-sets/Admin.json").write_text(json.dumps(ADMIN))
    (folder / "groups.json").write_text(json.dumps({"groups": [{"name": "Ops"}]}))
    (folder / "users.json").write_text(json.dumps({"users": []}))
    (folder / "reconciler.json").write_text("{}")
    entry = {"permission_set": "Admin", "groups": ["Ops"], **assignment}
    (folder / "assignments.json").write_text(json.dumps({"assignments": [entry]}))
    return reconcile(
        revision=Revision(revision=None, folder=folder),
        aws=make_clients(),
        apply=apply,
        allow_deletions=allow_deletions,
    )


def _assigned(result: PassResult, organization: Organization) -> set[str]:
    """Names of the accounts where group Ops holds Admin after the pass."""
    names = {account_id: name for name, account_id in organization.accounts.items()}
    live = result.live.state.assignments
    keys = {key for key in live if key.principal_type is PrincipalType.GROUP}
    for operation in result.plan.operations:
        if isinstance(operation, CreateAssignment):
            keys.add(operation.assignment)
        elif isinstance(operation, DeleteAssignment):
            keys.discard(operation.assignment)
    return {names[key.account_id] for key in keys}


def test_ou_path_targets_active_accounts_of_the_ou_and_below(
    organization_tree: Organization, tmp_path: Path
) -> None:
    result = _pass(tmp_path, {"organizational_units": [{"path": "Root/Workloads"}]})

    assert result.outcome is not None
    assert result.outcome.succeeded
    assert _assigned(result, organization_tree) == {"staging", "prod"}
    assert any("old" in note and "SUSPENDED" in note for note in result.plan.notes)


def test_plan_shows_the_rule_behind_each_new_assignment(
    organization_tree: Organization, tmp_path: Path
) -> None:
    result = _pass(
        tmp_path, {"organizational_units": [{"path": "Root/Workloads/Prod"}]}, apply=False
    )

    rules = {op.rule for op in result.plan.operations if isinstance(op, CreateAssignment)}
    assert rules == {"assignments.json $.assignments[0]: OU Root/Workloads/Prod (recursive)"}


def test_account_moved_out_of_a_targeted_ou_loses_access_at_the_next_pass(
    organization_tree: Organization, tmp_path: Path
) -> None:
    target = {"organizational_units": [{"path": "Root/Workloads"}]}
    _pass(tmp_path, target)
    organization_tree.move("staging", organization_tree.root)

    second = _pass(tmp_path, target)

    deleted = [op.key for op in second.plan.operations if op.action.value == "delete"]
    assert deleted == [f"assignment/{organization_tree.accounts['staging']}/Admin/GROUP/Ops"]
    assert _pass(tmp_path, target, apply=False).plan.is_empty


def test_account_moved_into_a_targeted_ou_gains_access_at_the_next_pass(
    organization_tree: Organization, tmp_path: Path
) -> None:
    target = {"organizational_units": [{"id": organization_tree.prod_ou, "recursive": False}]}
    _pass(tmp_path, target)
    organization_tree.move("staging", organization_tree.prod_ou)

    second = _pass(tmp_path, target)

    assert _assigned(second, organization_tree) == {"prod", "staging"}


def test_tag_removed_between_passes_removes_the_access(
    organization_tree: Organization, tmp_path: Path
) -> None:
    target = {"account_tags": {"env": "prod"}}
    first = _pass(tmp_path, target)
    assert _assigned(first, organization_tree) == {"prod"}
    organization_tree.client.untag_resource(
        ResourceId=organization_tree.accounts["prod"], TagKeys=["env"]
    )

    # The only managed assignment goes: the guard's emptied-kind rule refuses it by default.
    second = _pass(tmp_path, target, allow_deletions=True)

    assert [op.action.value for op in second.plan.operations] == ["delete"]
    assert _assigned(second, organization_tree) == set()


def test_all_accounts_with_exclusion_skips_management_and_excluded(
    organization_tree: Organization, tmp_path: Path
) -> None:
    result = _pass(tmp_path, {"all_accounts": True, "exclude_accounts": ["staging"]})

    assert _assigned(result, organization_tree) == {"prod"}
    assert any("management account" in note for note in result.plan.notes)


def test_tags_are_read_only_when_an_assignment_targets_by_tag(
    organization_tree: Organization, sandbox: Sandbox, tmp_path: Path
) -> None:
    def calls(operation: str) -> int:
        return sum(1 for call in sandbox.calls if call.operation == operation)

    before = calls("ListTagsForResource"), calls("ListRoots")
    _pass(tmp_path, {"accounts": ["prod"]}, apply=False)
    after_named = calls("ListTagsForResource"), calls("ListRoots")
    _pass(tmp_path, {"account_tags": {"env": "prod"}}, apply=False)
    organization_calls = calls("ListTagsForResource") - after_named[0]

    assert after_named == before
    assert organization_calls == len(organization_tree.accounts)


def test_account_moved_into_a_targeted_ou_shows_the_members_gaining_access_there(
    organization_tree: Organization, tmp_path: Path
) -> None:
    target = {"organizational_units": [{"id": organization_tree.prod_ou, "recursive": False}]}
    _pass(tmp_path, target, apply=False)  # writes the files
    ann = {"user_name": "ann", "display_name": "Ann", "given_name": "Ann", "family_name": "Lee"}
    (tmp_path / "users.json").write_text(json.dumps({"users": [ann]}))
    (tmp_path / "groups.json").write_text(
        json.dumps({"groups": [{"name": "Ops", "members": ["ann"]}]})
    )
    revision = Revision(revision=None, folder=tmp_path)
    assert reconcile(revision=revision, aws=make_clients(), apply=True).outcome is not None
    organization_tree.move("staging", organization_tree.prod_ou)

    second = reconcile(revision=revision, aws=make_clients(), apply=False)

    assert second.plan.access is not None
    assert [str(grant) for grant in second.plan.access.gained] == [
        f"ann: Admin in {organization_tree.accounts['staging']} (via group Ops)"
    ]
