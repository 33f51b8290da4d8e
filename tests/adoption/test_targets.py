"""Pure units of ``reconciler.model.targets``: which accounts an assignment targets."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import documents as docs
from reconciler.model.state import Account, Organization, OrganizationalUnit
from reconciler.model.targets import (
    TargetDirectory,
    TargetReads,
    Targets,
    resolve_targets,
    target_reads,
)

MANAGEMENT = Account(id="100000000000", name="management")
SHARED = Account(id="100000000001", name="shared")
PROD = Account(id="100000000002", name="prod")
DEV = Account(id="100000000003", name="dev")
OLD = Account(id="100000000004", name="old", status="SUSPENDED")
ACCOUNTS = {account.id: account for account in (MANAGEMENT, SHARED, PROD, DEV, OLD)}
ROOT, WORKLOADS = "r-ab12", "ou-ab12-workload"
PROD_OU, DEV_OU = "ou-ab12-prod0000", "ou-ab12-dev00000"
ORGANIZATION = Organization(
    root_id=ROOT,
    units={
        ROOT: OrganizationalUnit(id=ROOT, name="Root"),
        WORKLOADS: OrganizationalUnit(id=WORKLOADS, name="Workloads", parent_id=ROOT),
        PROD_OU: OrganizationalUnit(id=PROD_OU, name="Prod", parent_id=WORKLOADS),
        DEV_OU: OrganizationalUnit(id=DEV_OU, name="Dev", parent_id=WORKLOADS),
    },
    account_parents={
        MANAGEMENT.id: ROOT,
        SHARED.id: WORKLOADS,
        PROD.id: PROD_OU,
        OLD.id: PROD_OU,
        DEV.id: DEV_OU,
    },
    management_account_id=MANAGEMENT.id,
)
TAGS = {
    MANAGEMENT.id: {"env": "prod"},
    SHARED.id: {},
    PROD.id: {"env": "prod", "team": "web"},
    DEV.id: {"env": "dev"},
    OLD.id: {"env": "prod"},
}
DIRECTORY = TargetDirectory(accounts=ACCOUNTS, organization=ORGANIZATION, account_tags=TAGS)


def _targets(directory: TargetDirectory = DIRECTORY, **targets: Any) -> Targets:
    assignment = docs.Assignment(permission_set="Admin", groups=["Ops"], **targets)
    return resolve_targets(assignment, directory, file="assignments.json", path="$.assignments[0]")


def _names(targets: Targets) -> set[str]:
    return {ACCOUNTS[account].name for account in targets.accounts}


def test_ou_path_without_recursion_targets_its_own_accounts_only() -> None:
    targets = _targets(organizational_units=[{"path": "Root/Workloads", "recursive": False}])

    assert _names(targets) == {"shared"}


def test_ou_path_is_recursive_by_default() -> None:
    assert _names(_targets(organizational_units=[{"path": "Root/Workloads"}])) == {
        "shared",
        "prod",
        "dev",
    }


def test_nested_ou_path_targets_the_nested_ou() -> None:
    assert _names(_targets(organizational_units=[{"path": "Root/Workloads/Prod"}])) == {"prod"}


def test_ou_by_id_targets_its_accounts() -> None:
    assert _names(_targets(organizational_units=[{"id": DEV_OU}])) == {"dev"}


def test_unknown_ou_path_is_a_problem_at_its_json_path() -> None:
    targets = _targets(organizational_units=[{"path": "Root/Nowhere"}])

    (problem,) = targets.problems
    assert (problem.path, problem.rule) == (
        "$.assignments[0].organizational_units[0].path",
        "unknown_organizational_unit",
    )
    assert "Root/Workloads/Prod" in problem.message


def test_ou_path_not_starting_at_the_root_is_refused_by_the_file_model() -> None:
    with pytest.raises(ValueError, match="does not start at the root"):
        docs.OrganizationalUnitTarget(path="Workloads/Prod")


def test_suspended_account_in_a_targeted_ou_is_skipped_with_a_note() -> None:
    targets = _targets(organizational_units=[{"path": "Root/Workloads/Prod"}])

    assert OLD.id not in targets.accounts
    (note,) = targets.notes
    assert "old (100000000004): SUSPENDED" in note.message


def test_tag_targets_active_accounts_carrying_every_tag() -> None:
    assert _names(_targets(account_tags={"env": "prod"})) == {"prod"}
    assert _names(_targets(account_tags={"env": "prod", "team": "web"})) == {"prod"}
    assert _names(_targets(account_tags={"env": "prod", "team": "db"})) == set()


def test_all_accounts_skips_the_management_account_with_a_note() -> None:
    targets = _targets(all_accounts=True)

    assert _names(targets) == {"shared", "prod", "dev"}
    assert any("management account" in note.message for note in targets.notes)


def test_management_account_named_explicitly_is_targeted() -> None:
    targets = _targets(all_accounts=True, accounts=["management"])

    assert "management" in _names(targets)
    assert targets.accounts[MANAGEMENT.id] == "account management, all accounts"


def test_excluded_account_is_not_targeted_whatever_selected_it() -> None:
    targets = _targets(all_accounts=True, accounts=["dev"], exclude_accounts=["dev", PROD.id])

    assert _names(targets) == {"shared"}


def test_unknown_excluded_account_is_a_problem() -> None:
    (problem,) = _targets(all_accounts=True, exclude_accounts=["nope"]).problems

    assert (problem.path, problem.rule) == (
        "$.assignments[0].exclude_accounts[0]",
        "unknown_account",
    )


def test_each_account_carries_the_rules_that_selected_it() -> None:
    targets = _targets(
        organizational_units=[{"path": "Root/Workloads"}], account_tags={"env": "prod"}
    )

    assert targets.accounts[PROD.id] == "OU Root/Workloads (recursive), tag env=prod"
    assert targets.accounts[SHARED.id] == "OU Root/Workloads (recursive)"


def test_rules_without_the_tree_read_are_a_problem_not_an_empty_target() -> None:
    bare = TargetDirectory(accounts=ACCOUNTS)

    rules = {problem.rule for problem in _targets(bare, account_tags={"env": "prod"}).problems}

    assert rules == {"targets_not_read"}


def test_reads_follow_the_rules_in_use() -> None:
    def reads(**targets: Any) -> TargetReads:
        return target_reads([docs.Assignment(permission_set="A", groups=["G"], **targets)])

    assert reads(accounts=["prod"]) == TargetReads()
    assert reads(all_accounts=True) == TargetReads(organization=True)
    assert reads(account_tags={"env": "prod"}) == TargetReads(organization=True, account_tags=True)
    assert reads(organizational_units=[{"id": DEV_OU}]) == TargetReads(
        organization=True, units=True
    )
