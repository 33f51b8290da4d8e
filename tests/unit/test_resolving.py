"""Resolving validated documents against live state: accounts, principals, expansion."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model.loading import load_documents
from reconciler.model.resolving import (
    DesiredState,
    LiveDirectory,
    live_directory,
    permission_set_from_document,
    resolve,
)
from reconciler.model.state import (
    MANAGED_TAG_KEY,
    MANAGED_TAG_VALUE,
    Account,
    AssignmentKey,
    Membership,
    PrincipalType,
)

PROD = Account(id="111111111111", name="prod")
STAGING = Account(id="222222222222", name="staging")
READ_ONLY = {"name": "ReadOnly", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}


def _user(user_name: str) -> dict[str, str]:
    return {
        "user_name": user_name,
        "display_name": user_name.title(),
        "given_name": "Given",
        "family_name": "Family",
    }


def _files(
    *,
    users: Sequence[str] = (),
    groups: Sequence[dict[str, Any]] = (),
    assignments: Sequence[dict[str, Any]] = (),
) -> dict[str, bytes]:
    return {
        "reconciler.json": b"{}",
        "users.json": json.dumps({"users": [_user(name) for name in users]}).encode(),
        "groups.json": json.dumps({"groups": list(groups)}).encode(),
        "permission-sets/ReadOnly.json": json.dumps(READ_ONLY).encode(),
        "assignments.json": json.dumps({"assignments": list(assignments)}).encode(),
    }


def _directory(
    *,
    accounts: tuple[Account, ...] = (PROD, STAGING),
    user_names: tuple[str, ...] = (),
    group_names: tuple[str, ...] = (),
) -> LiveDirectory:
    return LiveDirectory(
        accounts=accounts, user_names=frozenset(user_names), group_names=frozenset(group_names)
    )


def _resolve(files: dict[str, bytes], directory: LiveDirectory | None = None) -> DesiredState:
    return resolve(load_documents(files), directory or _directory())


def _problems(files: dict[str, bytes], directory: LiveDirectory | None = None) -> list[Problem]:
    with pytest.raises(InvalidRevisionError) as raised:
        _resolve(files, directory)
    return list(raised.value.problems)


def _assignment(accounts: list[str], **principals: list[str]) -> dict[str, Any]:
    return {"permission_set": "ReadOnly", "accounts": accounts, **principals}


def _key(account: Account, principal_type: PrincipalType, name: str) -> AssignmentKey:
    return AssignmentKey(
        account_id=account.id,
        permission_set="ReadOnly",
        principal_type=principal_type,
        principal_name=name,
    )


def test_account_named_by_name_resolves_to_its_id() -> None:
    desired = _resolve(
        _files(groups=[{"name": "Ops"}], assignments=[_assignment(["prod"], groups=["Ops"])])
    )
    assert desired.state.assignments == {_key(PROD, PrincipalType.GROUP, "Ops")}


def test_account_named_by_id_resolves_to_itself() -> None:
    desired = _resolve(
        _files(groups=[{"name": "Ops"}], assignments=[_assignment([STAGING.id], groups=["Ops"])])
    )
    assert desired.state.assignments == {_key(STAGING, PrincipalType.GROUP, "Ops")}


def test_account_named_by_name_and_by_id_gives_one_assignment() -> None:
    desired = _resolve(
        _files(
            groups=[{"name": "Ops"}],
            assignments=[_assignment(["prod", PROD.id], groups=["Ops"])],
        )
    )
    assert desired.state.assignments == {_key(PROD, PrincipalType.GROUP, "Ops")}


def test_account_name_matches_exactly() -> None:
    problems = _problems(
        _files(groups=[{"name": "Ops"}], assignments=[_assignment(["Prod"], groups=["Ops"])])
    )
    assert [problem.rule for problem in problems] == ["unknown_account"]


def test_unknown_account_name_is_reported_at_its_reference() -> None:
    problems = _problems(
        _files(
            groups=[{"name": "Ops"}],
            assignments=[_assignment(["prod", "sandbox"], groups=["Ops"])],
        )
    )
    assert [(p.file, p.path, p.rule) for p in problems] == [
        ("assignments.json", "$.assignments[0].accounts[1]", "unknown_account")
    ]
    assert "'sandbox'" in problems[0].message


def test_unknown_account_id_is_reported() -> None:
    problems = _problems(
        _files(
            groups=[{"name": "Ops"}], assignments=[_assignment(["999999999999"], groups=["Ops"])]
        )
    )
    assert [(p.path, p.rule) for p in problems] == [
        ("$.assignments[0].accounts[0]", "unknown_account")
    ]
    assert "999999999999" in problems[0].message


def test_account_name_shared_by_two_accounts_is_ambiguous_naming_both_ids() -> None:
    twin = Account(id="333333333333", name="prod")
    problems = _problems(
        _files(groups=[{"name": "Ops"}], assignments=[_assignment(["prod"], groups=["Ops"])]),
        _directory(accounts=(PROD, STAGING, twin)),
    )
    assert [(p.path, p.rule) for p in problems] == [
        ("$.assignments[0].accounts[0]", "ambiguous_account")
    ]
    assert PROD.id in problems[0].message
    assert twin.id in problems[0].message


def test_ambiguous_account_may_be_named_by_id() -> None:
    twin = Account(id="333333333333", name="prod")
    desired = _resolve(
        _files(groups=[{"name": "Ops"}], assignments=[_assignment([twin.id], groups=["Ops"])]),
        _directory(accounts=(PROD, twin)),
    )
    assert desired.state.assignments == {_key(twin, PrincipalType.GROUP, "Ops")}


def test_account_whose_name_looks_like_an_id_is_resolved_by_id() -> None:
    numeric = Account(id="444444444444", name="555555555555")
    problems = _problems(
        _files(
            groups=[{"name": "Ops"}], assignments=[_assignment(["555555555555"], groups=["Ops"])]
        ),
        _directory(accounts=(numeric,)),
    )
    assert [p.rule for p in problems] == ["unknown_account"]


def test_group_member_that_is_neither_declared_nor_live_is_refused() -> None:
    problems = _problems(_files(groups=[{"name": "Ops", "members": ["no.such.user"]}]))
    assert [(p.file, p.path, p.rule) for p in problems] == [
        ("groups.json", "$.groups[0].members[0]", "unknown_user")
    ]
    assert "'no.such.user'" in problems[0].message


def test_group_member_that_is_declared_resolves() -> None:
    desired = _resolve(_files(users=["jane"], groups=[{"name": "Ops", "members": ["jane"]}]))
    assert desired.state.memberships == {Membership(group="Ops", user="jane")}


def test_group_member_that_exists_only_live_resolves() -> None:
    desired = _resolve(
        _files(groups=[{"name": "Ops", "members": ["legacy"]}]),
        _directory(user_names=("legacy",)),
    )
    assert desired.state.memberships == {Membership(group="Ops", user="legacy")}
    assert desired.state.users == {}


def test_assignment_to_unknown_user_is_refused() -> None:
    problems = _problems(_files(assignments=[_assignment(["prod"], users=["ghost"])]))
    assert [(p.path, p.rule) for p in problems] == [("$.assignments[0].users[0]", "unknown_user")]


def test_assignment_to_unknown_group_is_refused() -> None:
    problems = _problems(_files(assignments=[_assignment(["prod"], groups=["Ghosts"])]))
    assert [(p.path, p.rule) for p in problems] == [("$.assignments[0].groups[0]", "unknown_group")]


def test_assignment_to_live_only_principals_resolves() -> None:
    desired = _resolve(
        _files(assignments=[_assignment(["prod"], users=["legacy"], groups=["LegacyOps"])]),
        _directory(user_names=("legacy",), group_names=("LegacyOps",)),
    )
    assert desired.state.assignments == {
        _key(PROD, PrincipalType.USER, "legacy"),
        _key(PROD, PrincipalType.GROUP, "LegacyOps"),
    }


def test_user_and_group_of_the_same_name_are_distinct_principals() -> None:
    desired = _resolve(
        _files(
            users=["ops"],
            groups=[{"name": "ops"}],
            assignments=[_assignment(["prod"], users=["ops"], groups=["ops"])],
        )
    )
    assert desired.state.assignments == {
        _key(PROD, PrincipalType.USER, "ops"),
        _key(PROD, PrincipalType.GROUP, "ops"),
    }


def test_every_unresolvable_reference_is_reported_together() -> None:
    problems = _problems(
        _files(
            groups=[{"name": "Ops", "members": ["ghost"]}],
            assignments=[
                _assignment(["nowhere"], groups=["Ops"]),
                _assignment(["prod"], users=["phantom"], groups=["Ghosts"]),
            ],
        )
    )
    assert {(p.path, p.rule) for p in problems} == {
        ("$.groups[0].members[0]", "unknown_user"),
        ("$.assignments[0].accounts[0]", "unknown_account"),
        ("$.assignments[1].users[0]", "unknown_user"),
        ("$.assignments[1].groups[0]", "unknown_group"),
    }


def test_assignment_expands_to_every_principal_in_every_account() -> None:
    desired = _resolve(
        _files(
            users=["jane"],
            groups=[{"name": "Ops"}, {"name": "Dev"}],
            assignments=[_assignment(["prod", "staging"], groups=["Ops", "Dev"], users=["jane"])],
        )
    )
    assert desired.state.assignments == {
        _key(account, principal_type, name)
        for account in (PROD, STAGING)
        for principal_type, name in (
            (PrincipalType.GROUP, "Ops"),
            (PrincipalType.GROUP, "Dev"),
            (PrincipalType.USER, "jane"),
        )
    }


def test_overlapping_assignments_give_each_key_once() -> None:
    desired = _resolve(
        _files(
            groups=[{"name": "Ops"}],
            assignments=[
                _assignment(["prod", "staging"], groups=["Ops"]),
                _assignment(["prod"], groups=["Ops"]),
            ],
        )
    )
    assert len(desired.state.assignments) == 2


def test_declared_users_and_groups_become_state() -> None:
    desired = _resolve(_files(users=["jane"], groups=[{"name": "Ops", "description": "Operators"}]))
    assert set(desired.state.users) == {"jane"}
    assert desired.state.users["jane"].display_name == "Jane"
    assert desired.state.groups["Ops"].description == "Operators"


def test_declared_permission_set_carries_the_managed_by_tag() -> None:
    desired = _resolve(_files())
    assert desired.state.permission_sets["ReadOnly"].tags == {MANAGED_TAG_KEY: MANAGED_TAG_VALUE}
    assert desired.state.permission_sets["ReadOnly"].is_managed


def test_session_duration_is_canonical_in_state() -> None:
    documents = load_documents(
        {
            **_files(),
            "permission-sets/ReadOnly.json": json.dumps(
                {**READ_ONLY, "session_duration": "PT90M"}
            ).encode(),
        }
    )
    permission_set = permission_set_from_document(documents.permission_sets[0].value)
    assert permission_set.session_duration == "PT1H30M"


def test_permission_set_policies_are_unordered_in_state() -> None:
    arns = [f"arn:aws:iam::aws:policy/P{index}" for index in range(3)]

    def state_of(order: list[str]) -> Any:
        document = {"name": "ReadOnly", "managed_policies": order}
        files = {**_files(), "permission-sets/ReadOnly.json": json.dumps(document).encode()}
        return permission_set_from_document(load_documents(files).permission_sets[0].value)

    assert state_of(arns) == state_of(list(reversed(arns)))


def test_warnings_of_the_documents_are_kept() -> None:
    files = _files()
    files["permission-sets/Readonly.json"] = files.pop("permission-sets/ReadOnly.json")
    desired = _resolve(files)
    assert [warning.rule for warning in desired.warnings] == ["file_name"]


def test_live_directory_is_built_from_live_state_parts() -> None:
    directory = live_directory(
        accounts={PROD.id: PROD}, user_names=["jane", "jane"], group_names=("Ops",)
    )
    assert tuple(directory.accounts) == (PROD,)
    assert directory.user_names == frozenset({"jane"})
    assert directory.group_names == frozenset({"Ops"})


def test_declared_user_differing_only_in_case_from_a_live_user_is_refused() -> None:
    (problem,) = _problems(_files(users=["Jane.Doe"]), _directory(user_names=("jane.doe",)))

    assert (problem.file, problem.path, problem.rule) == (
        "users.json",
        "$.users[0].user_name",
        "user_name_case",
    )
    assert "'jane.doe'" in problem.message


def test_declared_group_differing_only_in_case_from_a_live_group_is_refused() -> None:
    groups = [{"name": "adminaccess"}]

    (problem,) = _problems(_files(groups=groups), _directory(group_names=("AdminAccess",)))

    assert (problem.path, problem.rule) == ("$.groups[0].name", "group_name_case")


def test_two_declared_users_differing_only_in_case_are_duplicates() -> None:
    with pytest.raises(InvalidRevisionError) as raised:
        load_documents(_files(users=["jane.doe", "Jane.Doe"]))

    assert [(p.path, p.rule) for p in raised.value.problems] == [
        ("$.users[1].user_name", "duplicate_user")
    ]
