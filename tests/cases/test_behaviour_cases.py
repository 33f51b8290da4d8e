"""Behaviour users expect, at the planning level: desired-state files in, plan out, no I/O.

The numbers are those of the shared case list. Live state is what an earlier revision left
behind (``applied``), changed where the case says AWS holds something else. Each case stands for
its kind, so each is parametrized over the ways the same thing happens.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.errors import InvalidRevisionError, PlanRefusedError
from reconciler.model.policies import parse_policy_text
from reconciler.model.state import (
    MANAGED_TAG_KEY,
    MANAGED_TAG_VALUE,
    AssignmentKey,
    Group,
    IdentityCenterState,
    LiveState,
    PermissionSet,
    PrincipalType,
)
from reconciler.planning.diffing import plan
from reconciler.planning.guards import check_deletion_guard
from reconciler.planning.plans import (
    CreateAssignment,
    CreatePermissionSet,
    DeleteAssignment,
    DeletePermissionSet,
    Plan,
    ProvisionPermissionSet,
    UpdatePermissionSet,
)
from tests.cases.folders import (
    PROD,
    READ_ONLY_ARN,
    REVISION,
    STAGING,
    applied,
    base_folder,
    directory_of,
    encode,
    live_state,
    resolve_folder,
    user,
)

PS = "permission-sets"
VIEW_ONLY_ARN = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
SECURITY_AUDIT_ARN = "arn:aws:iam::aws:policy/SecurityAudit"


def _plan(files: dict[str, bytes], live: LiveState) -> Plan:
    return plan(resolve_folder(files, directory_of(live)), live, revision=REVISION)


def _set_file(document: dict[str, Any]) -> dict[str, bytes]:
    """The base folder with ``document`` as ``permission-sets/Dev.json``, assigned to the admin
    group in prod and staging."""
    files = base_folder()
    files[f"{PS}/Dev.json"] = encode({"name": "Dev", **document})
    files["assignments.json"] = encode(
        {
            "assignments": [
                {"permission_set": "ReadOnly", "groups": ["AdminAccess"], "accounts": ["prod"]},
                {
                    "permission_set": "Dev",
                    "groups": ["AdminAccess"],
                    "accounts": ["prod", "staging"],
                },
            ]
        }
    )
    return files


def _with_live_set(live: LiveState, permission_set: PermissionSet) -> LiveState:
    sets = {**live.state.permission_sets, permission_set.name: permission_set}
    return dataclasses.replace(live, state=dataclasses.replace(live.state, permission_sets=sets))


def _keys(result: Plan) -> list[str]:
    return [f"{operation.action.value} {operation.key}" for operation in result.operations]


# 1. Equivalent policies are equal.

WRITTEN_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents", "logs:FilterLogEvents"],
            "Resource": "*",
        }
    ],
}

AWS_RETURNED = [
    pytest.param(json.dumps(WRITTEN_POLICY, separators=(",", ":")), id="compact"),
    pytest.param(json.dumps(WRITTEN_POLICY, indent=4), id="indented"),
    pytest.param(json.dumps(WRITTEN_POLICY, sort_keys=True), id="keys-sorted"),
    pytest.param(
        '{"Statement":{"Resource":"*","Effect":"Allow","Sid":"Logs",'
        '"Action":["logs:FilterLogEvents","logs:GetLogEvents"]},"Version":"2012-10-17"}',
        id="statement-object-reordered-actions",
    ),
    pytest.param(
        '{"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow",'
        '"Action":["logs:GetLogEvents","logs:FilterLogEvents"],"Resource":["*"]}]}',
        id="resource-as-list",
    ),
    pytest.param(
        '{"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow",'
        '"Action":["logs:GetLogEvents","logs:FilterLogEvents","logs:GetLogEvents"],'
        '"Resource":"*"}]}',
        id="repeated-action",
    ),
    pytest.param(
        '{"Version":"2012-10-17","Statement":[{"Sid":"\\u004cogs","Effect":"Allow",'
        '"Action":["logs:GetLogEvents","logs:FilterLogEvents"],"Resource":"*"}]}',
        id="escaped-characters",
    ),
]


@pytest.mark.parametrize("returned", AWS_RETURNED)
def test_case_1_policy_as_aws_returns_it_gives_no_change(returned: str) -> None:
    files = _set_file({"inline_policy": WRITTEN_POLICY})
    live = applied(files)
    aws_copy = dataclasses.replace(
        live.state.permission_sets["Dev"], inline_policy=parse_policy_text(returned)
    )
    assert _plan(files, _with_live_set(live, aws_copy)).is_empty


def test_case_1_inline_policy_reordered_in_the_file_gives_no_change() -> None:
    before = _set_file({"inline_policy": WRITTEN_POLICY})
    statement = WRITTEN_POLICY["Statement"][0]
    reordered = {
        "Statement": {
            **{key: statement[key] for key in reversed(list(statement))},
            "Action": list(reversed(statement["Action"])),
        },
        "Version": "2012-10-17",
    }
    after = _set_file({"inline_policy": reordered})
    assert _plan(after, applied(before)).is_empty


def test_case_1_a_real_policy_change_is_still_seen() -> None:
    before = _set_file({"inline_policy": WRITTEN_POLICY})
    changed = json.loads(json.dumps(WRITTEN_POLICY))
    changed["Statement"][0]["Effect"] = "Deny"
    result = _plan(_set_file({"inline_policy": changed}), applied(before))
    assert [type(operation) for operation in result.operations] == [
        UpdatePermissionSet,
        ProvisionPermissionSet,
    ]


# 2. Order is not identity.


def _reverse_assignments(files: dict[str, bytes]) -> None:
    document = json.loads(files["assignments.json"])
    document["assignments"].reverse()
    for assignment in document["assignments"]:
        assignment["accounts"].reverse()
        assignment["groups"].reverse()
        assignment.get("users", []).reverse()
    files["assignments.json"] = encode(document)


def _reverse_members(files: dict[str, bytes]) -> None:
    document = json.loads(files["groups.json"])
    document["groups"].reverse()
    for group in document["groups"]:
        group["members"].reverse()
    files["groups.json"] = encode(document)


def _reverse_policies(files: dict[str, bytes]) -> None:
    document = json.loads(files[f"{PS}/Dev.json"])
    document["managed_policies"].reverse()
    document["customer_managed_policies"].reverse()
    document["tags"] = dict(reversed(list(document["tags"].items())))
    files[f"{PS}/Dev.json"] = encode(dict(reversed(list(document.items()))))


def _reverse_users(files: dict[str, bytes]) -> None:
    document = json.loads(files["users.json"])
    document["users"] = [dict(reversed(list(u.items()))) for u in reversed(document["users"])]
    files["users.json"] = encode(document)


def _rich_folder() -> dict[str, bytes]:
    files = _set_file(
        {
            "managed_policies": [READ_ONLY_ARN, VIEW_ONLY_ARN, SECURITY_AUDIT_ARN],
            "customer_managed_policies": [{"name": "A"}, {"name": "B", "path": "/team/"}],
            "tags": {"team": "platform", "cost-center": "42"},
        }
    )
    files["users.json"] = encode({"users": [user(name) for name in ("ann", "bob", "cat")]})
    files["groups.json"] = encode(
        {
            "groups": [
                {"name": "AdminAccess", "members": ["ann", "bob", "cat"]},
                {"name": "Auditors", "members": ["cat", "ann"]},
            ]
        }
    )
    files["assignments.json"] = encode(
        {
            "assignments": [
                {
                    "permission_set": "Dev",
                    "groups": ["AdminAccess", "Auditors"],
                    "users": ["ann", "bob"],
                    "accounts": ["prod", STAGING.id],
                },
                {"permission_set": "ReadOnly", "groups": ["Auditors"], "accounts": ["staging"]},
            ]
        }
    )
    return files


@pytest.mark.parametrize(
    "reorder",
    [
        pytest.param(_reverse_assignments, id="assignments-accounts-principals"),
        pytest.param(_reverse_members, id="groups-and-members"),
        pytest.param(_reverse_policies, id="policies-tags-and-keys"),
        pytest.param(_reverse_users, id="users-and-keys"),
    ],
)
def test_case_2_reordering_entries_gives_no_change(
    reorder: Callable[[dict[str, bytes]], None],
) -> None:
    before = _rich_folder()
    after = dict(before)
    reorder(after)
    assert after != before
    assert _plan(after, applied(before)).is_empty


def test_case_2_reordering_never_recreates_an_assignment() -> None:
    before = _rich_folder()
    after = dict(before)
    for reorder in (_reverse_assignments, _reverse_members, _reverse_policies, _reverse_users):
        reorder(after)
    result = _plan(after, applied(before))
    assert not [
        op for op in result.operations if isinstance(op, CreateAssignment | DeleteAssignment)
    ]


# 3. Policy paths are valid.


@pytest.mark.parametrize(
    "arn",
    [
        VIEW_ONLY_ARN,
        "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator",
        "arn:aws:iam::aws:policy/service-role/AWSConfigRole",
        "arn:aws:iam::aws:policy/aws-service-role/AWSSupportServiceRolePolicy",
    ],
)
def test_case_3_aws_managed_policy_with_a_path_is_created_as_written(arn: str) -> None:
    files = _set_file({"managed_policies": [arn]})
    result = _plan(files, applied(base_folder()))
    (created,) = [op for op in result.operations if isinstance(op, CreatePermissionSet)]
    assert created.permission_set.managed_policies == frozenset({arn})


def test_case_3_aws_managed_policy_with_a_path_may_be_a_permissions_boundary() -> None:
    files = _set_file({"permissions_boundary": {"managed_policy_arn": VIEW_ONLY_ARN}})
    desired = resolve_folder(files)
    boundary = desired.state.permission_sets["Dev"].permissions_boundary
    assert boundary is not None
    assert boundary.managed_policy_arn == VIEW_ONLY_ARN


# 4. A change that reaches the roles reprovisions the set to its accounts in the same pass.

BEFORE_4: dict[str, Any] = {
    "managed_policies": [READ_ONLY_ARN, VIEW_ONLY_ARN],
    "customer_managed_policies": [{"name": "DevExtras", "path": "/platform/"}],
    "inline_policy": WRITTEN_POLICY,
    "permissions_boundary": {"customer_managed_policy": {"name": "Boundary"}},
    "session_duration": "PT4H",
    "relay_state": "https://console.aws.amazon.com/",
}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"managed_policies": [READ_ONLY_ARN]}, id="managed-policy-detached"),
        pytest.param(
            {"managed_policies": [READ_ONLY_ARN, VIEW_ONLY_ARN, SECURITY_AUDIT_ARN]},
            id="managed-policy-attached",
        ),
        pytest.param({"customer_managed_policies": []}, id="customer-policy-detached"),
        pytest.param({"inline_policy": None}, id="inline-policy-removed"),
        pytest.param(
            {"inline_policy": {**WRITTEN_POLICY, "Statement": [{"Effect": "Deny", "Action": "*"}]}},
            id="inline-policy-changed",
        ),
        pytest.param(
            {"permissions_boundary": {"managed_policy_arn": READ_ONLY_ARN}}, id="boundary-changed"
        ),
        pytest.param({"permissions_boundary": None}, id="boundary-removed"),
        pytest.param({"session_duration": "PT8H"}, id="session-duration"),
    ],
)
def test_case_4_changing_what_the_role_may_do_reprovisions_to_both_accounts(
    change: dict[str, Any],
) -> None:
    before = _set_file(BEFORE_4)
    after = _set_file(
        {key: value for key, value in {**BEFORE_4, **change}.items() if value is not None}
    )
    result = _plan(after, applied(before))
    provisions = [op for op in result.operations if isinstance(op, ProvisionPermissionSet)]
    assert provisions == [
        ProvisionPermissionSet(name="Dev", accounts=frozenset({PROD.id, STAGING.id}))
    ]
    assert _keys(result) == ["update permission-set/Dev", "provision permission-set/Dev"]


def test_case_4_a_tag_change_does_not_reprovision() -> None:
    result = _plan(_set_file({**BEFORE_4, "tags": {"team": "x"}}), applied(_set_file(BEFORE_4)))
    assert _keys(result) == ["update permission-set/Dev"]


# 5. Relay state survives.


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"description": "Developers, with logs"}, id="description-changed"),
        pytest.param({"tags": {"team": "platform"}}, id="tags-changed"),
    ],
)
def test_case_5_changing_only_the_description_keeps_the_relay_state(
    change: dict[str, Any],
) -> None:
    relay = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logs:"
    before = {"description": "Developers", "relay_state": relay, "session_duration": "PT2H"}
    after = {key: value for key, value in {**before, **change}.items() if value is not None}
    result = _plan(_set_file(after), applied(_set_file(before)))
    (update,) = [op for op in result.operations if isinstance(op, UpdatePermissionSet)]
    assert update.permission_set.relay_state == relay
    assert update.permission_set.session_duration == "PT2H"
    assert "relay_state" not in {change.attribute for change in update.diff}


# 9. Not ours, not touched.

PRUNE_EVERYTHING = {
    "prune": {
        "users": True,
        "groups": True,
        "memberships": True,
        "permission_sets": True,
        "assignments": True,
    }
}


def _control_tower_live(*, tagged: bool) -> LiveState:
    tags = {MANAGED_TAG_KEY: MANAGED_TAG_VALUE} if tagged else {}
    live = applied(base_folder())
    names = ("AWSControlTowerAdmin", "AWSServiceCatalogEndUserAccess")
    sets = {
        **live.state.permission_sets,
        **{name: PermissionSet(name=name, tags=tags) for name in names},
    }
    groups = {**live.state.groups, "AWSControlTowerAdmins": Group(name="AWSControlTowerAdmins")}
    assignments = live.state.assignments | {
        AssignmentKey(
            account_id=account.id,
            permission_set=name,
            principal_type=PrincipalType.GROUP,
            principal_name="AWSControlTowerAdmins",
        )
        for name in names
        for account in (PROD, STAGING)
    }
    current = IdentityCenterState(
        users=live.state.users,
        groups=groups,
        memberships=live.state.memberships,
        permission_sets=sets,
        assignments=assignments,
    )
    return live_state(current)


@pytest.mark.parametrize("tagged", [False, True], ids=["untagged", "tagged-managed"])
def test_case_9_control_tower_objects_are_never_deleted_even_with_pruning_on(tagged: bool) -> None:
    files = base_folder()
    files["reconciler.json"] = encode(PRUNE_EVERYTHING)
    result = _plan(files, _control_tower_live(tagged=tagged))
    assert result.deletions() == ()


def test_case_9_assignment_of_a_declared_set_to_a_control_tower_group_is_kept() -> None:
    files = base_folder()
    files["reconciler.json"] = encode(PRUNE_EVERYTHING)
    live = _control_tower_live(tagged=False)
    key = AssignmentKey(
        account_id=PROD.id,
        permission_set="ReadOnly",
        principal_type=PrincipalType.GROUP,
        principal_name="AWSControlTowerAdmins",
    )
    live = dataclasses.replace(
        live, state=dataclasses.replace(live.state, assignments=live.state.assignments | {key})
    )
    assert _plan(files, live).deletions() == ()


# 10. An emptied file is not an instruction to delete everything.


def _two_hundred_assignments() -> dict[str, bytes]:
    files = base_folder()
    groups = [{"name": f"Team{index:03d}"} for index in range(100)]
    files["groups.json"] = encode({"groups": groups})
    files["assignments.json"] = encode(
        {
            "assignments": [
                {
                    "permission_set": "ReadOnly",
                    "groups": [group["name"] for group in groups],
                    "accounts": ["prod", "staging"],
                }
            ]
        }
    )
    return files


def _emptied(files: dict[str, bytes]) -> None:
    files["assignments.json"] = encode({"assignments": []})


def _deleted(files: dict[str, bytes]) -> None:
    del files["assignments.json"]


def _truncated(files: dict[str, bytes]) -> None:
    document = json.loads(files["assignments.json"])
    document["assignments"][0]["groups"] = document["assignments"][0]["groups"][:10]
    files["assignments.json"] = encode(document)


@pytest.mark.parametrize(
    "empty",
    [pytest.param(_emptied, id="emptied"), pytest.param(_truncated, id="truncated")],
)
def test_case_10_emptied_assignments_are_refused_by_the_deletion_guard(
    empty: Callable[[dict[str, bytes]], None],
) -> None:
    before = _two_hundred_assignments()
    live = applied(before)
    assert len(live.state.assignments) == 200
    after = dict(before)
    empty(after)
    desired = resolve_folder(after)
    result = plan(desired, live, revision=REVISION)
    with pytest.raises(PlanRefusedError, match="deletion guard"):
        check_deletion_guard(result, desired, live, allow_deletions=False)


def test_case_10_a_deleted_assignments_file_is_a_problem_naming_it() -> None:
    after = _two_hundred_assignments()
    _deleted(after)

    with pytest.raises(InvalidRevisionError) as raised:
        resolve_folder(after)

    assert [(problem.file, problem.rule) for problem in raised.value.problems] == [
        ("assignments.json", "missing_file")
    ]


def test_case_10_emptied_assignments_pass_when_deletions_are_allowed() -> None:
    before = _two_hundred_assignments()
    live = applied(before)
    after = dict(before)
    _emptied(after)
    desired = resolve_folder(after)
    result = plan(desired, live, revision=REVISION)
    assert len(result.deletions()) == 200
    check_deletion_guard(result, desired, live, allow_deletions=True)


# 11. A user who is still a member.


def _two_members() -> dict[str, bytes]:
    files = base_folder()
    files["reconciler.json"] = encode({"prune": {"users": True}})
    files["users.json"] = encode({"users": [user("jane.doe"), user("john.roe")]})
    files["groups.json"] = encode(
        {
            "groups": [
                {"name": "AdminAccess", "members": ["jane.doe", "john.roe"]},
                {"name": "Auditors", "members": ["john.roe"]},
            ]
        }
    )
    return files


def test_case_11_removing_a_user_in_two_groups_removes_memberships_then_the_user() -> None:
    before = _two_members()
    after = dict(before)
    after["users.json"] = encode({"users": [user("jane.doe")]})
    after["groups.json"] = encode(
        {"groups": [{"name": "AdminAccess", "members": ["jane.doe"]}, {"name": "Auditors"}]}
    )
    assert _keys(_plan(after, applied(before))) == [
        "delete membership/AdminAccess/john.roe",
        "delete membership/Auditors/john.roe",
        "delete user/john.roe",
    ]


def test_case_11_user_removed_from_users_but_still_a_listed_member_is_kept() -> None:
    before = _two_members()
    after = dict(before)
    after["users.json"] = encode({"users": [user("jane.doe")]})
    assert _plan(after, applied(before)).is_empty


# 12. Rename without a gap.


def test_case_12_rename_creates_the_new_set_and_its_assignments_before_deleting_the_old() -> None:
    document = {"description": "Developers", "managed_policies": [READ_ONLY_ARN]}
    before = base_folder()
    before[f"{PS}/Developers.json"] = encode({"name": "Developers", **document})
    before["users.json"] = encode({"users": [user("jane.doe"), user("john.roe")]})
    before["assignments.json"] = encode(
        {
            "assignments": [
                {"permission_set": "ReadOnly", "groups": ["AdminAccess"], "accounts": ["prod"]},
                {
                    "permission_set": "Developers",
                    "groups": ["AdminAccess"],
                    "users": ["john.roe"],
                    "accounts": ["prod", "staging"],
                },
            ]
        }
    )
    after = dict(before)
    after[f"{PS}/PowerUsers.json"] = encode({"name": "PowerUsers", **document})
    del after[f"{PS}/Developers.json"]
    after["assignments.json"] = before["assignments.json"].replace(b"Developers", b"PowerUsers")
    result = _plan(after, applied(before))
    kinds = [(type(op), getattr(op, "assignment", None)) for op in result.operations]
    created_set = _keys(result).index("create permission-set/PowerUsers")
    creates = [i for i, (kind, _) in enumerate(kinds) if kind is CreateAssignment]
    deletes = [i for i, (kind, _) in enumerate(kinds) if kind is DeleteAssignment]
    deleted_set = _keys(result).index("delete permission-set/Developers")
    assert len(creates) == len(deletes) == 4
    assert created_set < min(creates)
    assert max(creates) < min(deletes)
    assert max(deletes) < deleted_set
    assert all(
        op.assignment.permission_set == "PowerUsers"
        for op in result.operations
        if isinstance(op, CreateAssignment)
    )
    assert all(
        op.assignment.permission_set == "Developers"
        for op in result.operations
        if isinstance(op, DeleteAssignment)
    )
    assert [op for op in result.operations if isinstance(op, DeletePermissionSet)] == [
        DeletePermissionSet(name="Developers")
    ]
