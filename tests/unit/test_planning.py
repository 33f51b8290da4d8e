"""Planning: desired state against live state gives ordered, scoped operations."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import Problem
from reconciler.model.state import (
    Account,
    AccountStatus,
    IdentityCenterState,
    LiveState,
    PrincipalType,
)
from reconciler.planning.diffing import plan
from reconciler.planning.plans import (
    Action,
    AddMembership,
    CreateAssignment,
    CreateGroup,
    CreatePermissionSet,
    CreateUser,
    DeleteAssignment,
    DeleteGroup,
    DeletePermissionSet,
    DeleteUser,
    Kind,
    Operation,
    Plan,
    ProvisionPermissionSet,
    RemoveMembership,
    UpdateGroup,
    UpdatePermissionSet,
    UpdateUser,
)
from reconciler.planning.pruning import prune_scope
from tests.unit.states import (
    MANAGED_TAGS,
    PROD,
    READ_ONLY_ARN,
    STAGING,
    VIEW_ONLY_ARN,
    config,
    desired,
    group,
    live,
    member,
    permission_set,
    state,
    to_group,
    to_user,
    user,
)

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _plan(
    wanted: IdentityCenterState, current: IdentityCenterState | LiveState, **settings: Any
) -> Plan:
    current_live = current if isinstance(current, LiveState) else live(current)
    return plan(desired(wanted, config(**settings)), current_live, revision=REVISION)


def _ops(plan_: Plan, kind: type[Any]) -> list[Any]:
    return [operation for operation in plan_.operations if isinstance(operation, kind)]


def _keys(plan_: Plan) -> list[str]:
    return [f"{operation.action.value} {operation.key}" for operation in plan_.operations]


# Users


def test_declared_user_missing_live_is_created() -> None:
    jane = user("jane")
    assert _plan(state(users=[jane]), state()).operations == (CreateUser(user=jane),)


def test_user_with_a_changed_attribute_is_updated_with_its_diff() -> None:
    result = _plan(
        state(users=[user("jane", display_name="Jane D.")]),
        state(users=[user("jane", display_name="Jane")]),
    )
    (update,) = _ops(result, UpdateUser)
    assert update.user.display_name == "Jane D."
    assert [(c.attribute, c.old, c.new) for c in update.diff] == [
        ("display_name", "Jane", "Jane D.")
    ]
    assert len(result.operations) == 1


def test_an_email_differing_only_in_letter_case_is_updated_to_the_files_spelling() -> None:
    result = _plan(
        state(users=[user("jane", email="jane.doe@example.com")]),
        state(users=[user("jane", email="Jane.Doe@Example.com")]),
    )
    (update,) = _ops(result, UpdateUser)
    assert [(c.attribute, c.old, c.new) for c in update.diff] == [
        ("email", "Jane.Doe@Example.com", "jane.doe@example.com")
    ]
    assert result.notes == (
        "user jane: the email address differs from the live one only in letter case "
        "(Jane.Doe@Example.com → jane.doe@example.com); addresses are kept as written, so the "
        "file's spelling is applied",
    )


def test_an_email_change_beyond_letter_case_has_no_case_note() -> None:
    result = _plan(
        state(users=[user("jane", email="jane@example.org")]),
        state(users=[user("jane", email="Jane@example.com")]),
    )
    assert len(_ops(result, UpdateUser)) == 1
    assert result.notes == ()


def test_equal_user_gives_no_operation() -> None:
    assert _plan(state(users=[user("jane")]), state(users=[user("jane")])).is_empty


def test_undeclared_live_user_is_kept_by_default() -> None:
    assert _plan(state(), state(users=[user("legacy")])).is_empty


def test_undeclared_live_user_is_deleted_when_pruning_users() -> None:
    result = _plan(state(), state(users=[user("legacy")]), users=True)
    assert result.operations == (DeleteUser(user_name="legacy"),)


def test_protected_user_is_kept_when_pruning_users() -> None:
    result = _plan(
        state(),
        state(users=[user("breakglass")]),
        users=True,
        protected={"users": ["break*"]},
    )
    assert result.is_empty


def test_removing_a_user_in_two_groups_removes_the_memberships_then_the_user() -> None:
    groups = [group("Ops"), group("Dev")]
    result = _plan(
        state(groups=groups),
        state(
            users=[user("jane")],
            groups=groups,
            memberships=[member("Ops", "jane"), member("Dev", "jane")],
        ),
        users=True,
    )
    assert _keys(result) == [
        "delete membership/Dev/jane",
        "delete membership/Ops/jane",
        "delete user/jane",
    ]


def test_memberships_of_a_pruned_user_are_removed_even_in_undeclared_groups() -> None:
    result = _plan(
        state(),
        state(
            users=[user("jane")], groups=[group("Legacy")], memberships=[member("Legacy", "jane")]
        ),
        users=True,
    )
    assert _keys(result) == ["delete membership/Legacy/jane", "delete user/jane"]


def test_live_user_still_listed_as_a_member_is_not_pruned() -> None:
    result = _plan(
        state(groups=[group("Ops")], memberships=[member("Ops", "legacy")]),
        state(users=[user("legacy")], groups=[group("Ops")], memberships=[member("Ops", "legacy")]),
        users=True,
    )
    assert result.is_empty


def test_live_user_assigned_in_the_desired_state_is_not_pruned() -> None:
    key = to_user("legacy", "Admin")
    result = _plan(
        state(permission_sets=[permission_set("Admin")], assignments=[key]),
        state(users=[user("legacy")], permission_sets=[permission_set("Admin")]),
        users=True,
    )
    assert result.operations == (CreateAssignment(assignment=key),)


# Groups


def test_declared_group_missing_live_is_created() -> None:
    assert _plan(state(groups=[group("Ops")]), state()).operations == (
        CreateGroup(group=group("Ops")),
    )


def test_group_with_a_changed_description_is_updated() -> None:
    result = _plan(state(groups=[group("Ops", "Operators")]), state(groups=[group("Ops", "Old")]))
    (update,) = _ops(result, UpdateGroup)
    assert [(c.attribute, c.old, c.new) for c in update.diff] == [
        ("description", "Old", "Operators")
    ]


def test_undeclared_live_group_is_kept_by_default() -> None:
    assert _plan(state(), state(groups=[group("Legacy")])).is_empty


def test_undeclared_live_group_is_deleted_when_pruning_groups() -> None:
    result = _plan(state(), state(groups=[group("Legacy")]), groups=True)
    assert result.operations == (DeleteGroup(name="Legacy"),)


def test_live_group_assigned_in_the_desired_state_is_not_pruned() -> None:
    key = to_group("Legacy", "Admin")
    result = _plan(
        state(permission_sets=[permission_set("Admin")], assignments=[key]),
        state(
            groups=[group("Legacy")], permission_sets=[permission_set("Admin")], assignments=[key]
        ),
        groups=True,
    )
    assert result.is_empty


@pytest.mark.parametrize(
    "name", ["AWSControlTowerAdmins", "AWSSecurityAuditors", "AWSLogArchiveViewers"]
)
def test_control_tower_groups_are_protected_by_default(name: str) -> None:
    assert _plan(state(), state(groups=[group(name)]), groups=True).is_empty


# Memberships


def test_declared_membership_missing_live_is_added() -> None:
    result = _plan(
        state(users=[user("jane")], groups=[group("Ops")], memberships=[member("Ops", "jane")]),
        state(users=[user("jane")], groups=[group("Ops")]),
    )
    assert result.operations == (AddMembership(membership=member("Ops", "jane")),)


def test_live_membership_not_declared_in_a_declared_group_is_removed() -> None:
    result = _plan(
        state(users=[user("jane")], groups=[group("Ops")]),
        state(users=[user("jane")], groups=[group("Ops")], memberships=[member("Ops", "jane")]),
    )
    assert result.operations == (RemoveMembership(membership=member("Ops", "jane")),)


def test_live_membership_is_kept_when_pruning_memberships_is_off() -> None:
    result = _plan(
        state(users=[user("jane")], groups=[group("Ops")]),
        state(users=[user("jane")], groups=[group("Ops")], memberships=[member("Ops", "jane")]),
        memberships=False,
    )
    assert result.is_empty


def test_memberships_of_undeclared_groups_are_untouched() -> None:
    result = _plan(
        state(users=[user("jane")]),
        state(
            users=[user("jane")], groups=[group("Legacy")], memberships=[member("Legacy", "jane")]
        ),
    )
    assert result.is_empty


def test_reordered_members_give_no_change() -> None:
    memberships = [member("Ops", name) for name in ("ann", "bob", "cat")]
    users = [user(name) for name in ("ann", "bob", "cat")]
    result = _plan(
        state(users=users, groups=[group("Ops")], memberships=memberships),
        state(users=reversed(users), groups=[group("Ops")], memberships=reversed(memberships)),
    )
    assert result.is_empty


# Permission sets


def test_declared_permission_set_missing_live_is_created() -> None:
    admin = permission_set("Admin")
    assert _plan(state(permission_sets=[admin]), state()).operations == (
        CreatePermissionSet(permission_set=admin),
    )


def test_equal_permission_set_gives_no_operation() -> None:
    result = _plan(
        state(
            permission_sets=[
                permission_set("Admin", managed_policies=[READ_ONLY_ARN, VIEW_ONLY_ARN])
            ]
        ),
        state(
            permission_sets=[
                permission_set("Admin", managed_policies=[VIEW_ONLY_ARN, READ_ONLY_ARN])
            ]
        ),
    )
    assert result.is_empty


def test_changed_permission_set_is_updated_with_added_and_removed_policies() -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin", managed_policies=[VIEW_ONLY_ARN])]),
        state(permission_sets=[permission_set("Admin", managed_policies=[READ_ONLY_ARN])]),
    )
    (update,) = _ops(result, UpdatePermissionSet)
    (change,) = update.diff
    assert change.attribute == "managed_policies"
    assert (change.added, change.removed) == ((VIEW_ONLY_ARN,), (READ_ONLY_ARN,))
    assert (change.old, change.new) == ([READ_ONLY_ARN], [VIEW_ONLY_ARN])
    assert update.live.managed_policies == frozenset({READ_ONLY_ARN})


def test_changed_inline_policy_diff_shows_both_documents() -> None:
    old_policy = {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
    new_policy = {"Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}
    result = _plan(
        state(permission_sets=[permission_set("Admin", inline_policy=new_policy)]),
        state(permission_sets=[permission_set("Admin", inline_policy=old_policy)]),
    )
    (update,) = _ops(result, UpdatePermissionSet)
    assert [(c.attribute, c.old, c.new) for c in update.diff] == [
        ("inline_policy", old_policy, new_policy)
    ]


def test_equivalent_inline_policy_gives_no_change() -> None:
    written = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:Get*"]}]}
    returned = {"Statement": {"Action": "s3:Get*", "Effect": "Allow"}, "Version": "2012-10-17"}
    result = _plan(
        state(permission_sets=[permission_set("Admin", inline_policy=written)]),
        state(permission_sets=[permission_set("Admin", inline_policy=returned)]),
    )
    assert result.is_empty


def test_description_only_change_keeps_the_relay_state_in_the_update() -> None:
    relay = "https://console.aws.amazon.com/s3/home"
    result = _plan(
        state(permission_sets=[permission_set("Admin", description="New", relay_state=relay)]),
        state(permission_sets=[permission_set("Admin", description="Old", relay_state=relay)]),
    )
    (update,) = _ops(result, UpdatePermissionSet)
    assert [change.attribute for change in update.diff] == ["description"]
    assert update.permission_set.relay_state == relay
    assert update.permission_set.session_duration == update.live.session_duration


def test_undeclared_managed_permission_set_is_deleted() -> None:
    result = _plan(state(), state(permission_sets=[permission_set("Old")]))
    assert result.operations == (DeletePermissionSet(name="Old"),)


def test_undeclared_unmanaged_permission_set_is_kept() -> None:
    assert _plan(state(), state(permission_sets=[permission_set("Theirs", managed=False)])).is_empty


def test_undeclared_managed_permission_set_is_kept_when_pruning_sets_is_off() -> None:
    result = _plan(state(), state(permission_sets=[permission_set("Old")]), permission_sets=False)
    assert result.is_empty


@pytest.mark.parametrize(
    "name",
    ["AWSControlTowerAdmin", "AWSServiceCatalogEndUserAccess", "AWSReservedSSO_Admin"],
)
def test_protected_permission_set_is_kept_even_when_tagged_managed(name: str) -> None:
    assert _plan(state(), state(permission_sets=[permission_set(name)])).is_empty


def test_configured_protected_permission_set_is_kept() -> None:
    result = _plan(
        state(),
        state(permission_sets=[permission_set("BreakGlass")]),
        protected={"permission_sets": ["Break*"]},
    )
    assert result.is_empty


def test_declared_unmanaged_live_set_is_adopted_silently_with_a_note() -> None:
    assigned: dict[str, Any] = {"groups": [group("Ops")], "assignments": [to_group("Ops", "Admin")]}
    result = _plan(
        state(permission_sets=[permission_set("Admin")], **assigned),
        state(permission_sets=[permission_set("Admin", managed=False)], **assigned),
    )
    assert result.is_empty
    assert any("managed-by tag" in note and "Admin" in note for note in result.notes)


def test_adopted_set_gets_the_managed_by_tag_with_its_first_real_change() -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin", description="new")]),
        state(permission_sets=[permission_set("Admin", managed=False)]),
    )
    (update,) = result.operations
    assert isinstance(update, UpdatePermissionSet)
    assert [change.attribute for change in update.diff] == ["description", "tags"]
    assert update.permission_set.tags == MANAGED_TAGS


# Provisioning


def test_changed_permission_set_is_provisioned_once_to_its_accounts() -> None:
    result = _plan(
        state(
            permission_sets=[
                permission_set("Admin", managed_policies=[VIEW_ONLY_ARN], session_duration="PT2H")
            ],
            assignments=[to_group("Ops", "Admin", PROD), to_group("Ops", "Admin", STAGING)],
        ),
        live(
            state(
                groups=[],
                permission_sets=[permission_set("Admin")],
                assignments=[to_group("Ops", "Admin", PROD), to_group("Ops", "Admin", STAGING)],
            )
        ),
    )
    assert _ops(result, ProvisionPermissionSet) == [
        ProvisionPermissionSet(name="Admin", accounts=frozenset({PROD.id, STAGING.id}))
    ]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"managed_policies": [VIEW_ONLY_ARN]}, id="managed-policy"),
        pytest.param({"managed_policies": []}, id="policy-removed"),
        pytest.param({"session_duration": "PT4H"}, id="session-duration"),
        pytest.param(
            {"inline_policy": {"Statement": [{"Effect": "Deny", "Action": "*"}]}}, id="inline"
        ),
    ],
)
def test_change_that_reaches_the_role_is_provisioned(change: dict[str, Any]) -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin", **change)]),
        live(state(permission_sets=[permission_set("Admin")]), provisioned={"Admin": [PROD.id]}),
    )
    assert _ops(result, ProvisionPermissionSet) == [
        ProvisionPermissionSet(name="Admin", accounts=frozenset({PROD.id}))
    ]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"tags": {"team": "platform"}}, id="tags"),
        pytest.param({"description": "Changed"}, id="description"),
        pytest.param({"relay_state": "https://example.com"}, id="relay-state"),
    ],
)
def test_change_that_stays_on_the_set_is_not_provisioned(change: dict[str, Any]) -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin", **change)]),
        live(state(permission_sets=[permission_set("Admin")]), provisioned={"Admin": [PROD.id]}),
    )
    assert _ops(result, ProvisionPermissionSet) == []
    assert len(_ops(result, UpdatePermissionSet)) == 1


def test_changed_set_provisioned_nowhere_is_not_provisioned() -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin", session_duration="PT4H")]),
        state(permission_sets=[permission_set("Admin")]),
    )
    assert _ops(result, ProvisionPermissionSet) == []


def test_new_permission_set_is_not_provisioned_separately() -> None:
    result = _plan(
        state(
            groups=[group("Ops")],
            permission_sets=[permission_set("Admin")],
            assignments=[to_group("Ops", "Admin")],
        ),
        state(groups=[group("Ops")]),
    )
    assert _ops(result, ProvisionPermissionSet) == []


def test_unchanged_set_with_stale_accounts_is_reprovisioned() -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin")]),
        live(
            state(permission_sets=[permission_set("Admin")]),
            provisioned={"Admin": [PROD.id, STAGING.id]},
            stale={"Admin": [STAGING.id]},
        ),
    )
    assert result.operations == (
        ProvisionPermissionSet(name="Admin", accounts=frozenset({PROD.id, STAGING.id})),
    )


def test_undeclared_set_with_stale_accounts_is_not_provisioned() -> None:
    result = _plan(
        state(),
        live(
            state(permission_sets=[permission_set("Theirs", managed=False)]),
            provisioned={"Theirs": [PROD.id]},
            stale={"Theirs": [PROD.id]},
        ),
    )
    assert result.is_empty


# Assignments


def test_declared_assignment_missing_live_is_created() -> None:
    key = to_group("Ops", "Admin")
    result = _plan(
        state(groups=[group("Ops")], permission_sets=[permission_set("Admin")], assignments=[key]),
        state(groups=[group("Ops")], permission_sets=[permission_set("Admin")]),
    )
    assert result.operations == (CreateAssignment(assignment=key),)


def test_undeclared_assignment_of_a_declared_set_is_deleted() -> None:
    key = to_user("jane", "Admin")
    result = _plan(
        state(users=[user("jane")], permission_sets=[permission_set("Admin")]),
        state(users=[user("jane")], permission_sets=[permission_set("Admin")], assignments=[key]),
    )
    assert result.operations == (DeleteAssignment(assignment=key),)


def test_undeclared_assignment_is_kept_when_pruning_assignments_is_off() -> None:
    result = _plan(
        state(users=[user("jane")], permission_sets=[permission_set("Admin")]),
        state(
            users=[user("jane")],
            permission_sets=[permission_set("Admin")],
            assignments=[to_user("jane", "Admin")],
        ),
        assignments=False,
    )
    assert result.is_empty


def test_assignments_of_undeclared_sets_are_untouched() -> None:
    result = _plan(
        state(groups=[group("Ops")]),
        state(
            groups=[group("Ops")],
            permission_sets=[permission_set("Theirs", managed=False)],
            assignments=[to_group("Ops", "Theirs")],
        ),
    )
    assert result.is_empty


def test_assignment_of_a_declared_set_to_a_protected_group_is_kept() -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin")]),
        state(
            groups=[group("AWSControlTowerAdmins")],
            permission_sets=[permission_set("Admin")],
            assignments=[to_group("AWSControlTowerAdmins", "Admin")],
        ),
    )
    assert result.is_empty


def test_assignments_of_a_deleted_set_are_deleted_before_the_set() -> None:
    keys = [to_group("Ops", "Old", PROD), to_group("Ops", "Old", STAGING)]
    result = _plan(
        state(groups=[group("Ops")]),
        state(groups=[group("Ops")], permission_sets=[permission_set("Old")], assignments=keys),
        assignments=False,
    )
    assert _keys(result) == [
        f"delete assignment/{PROD.id}/Old/GROUP/Ops",
        f"delete assignment/{STAGING.id}/Old/GROUP/Ops",
        "delete permission-set/Old",
    ]


def test_set_with_an_assignment_to_a_protected_group_is_not_deleted_and_says_why() -> None:
    protected_key = to_group("AWSControlTowerAdmins", "Old")
    other = to_group("Ops", "Old")
    result = _plan(
        state(),
        state(
            groups=[group("AWSControlTowerAdmins"), group("Ops")],
            permission_sets=[permission_set("Old")],
            assignments=[protected_key, other],
        ),
    )
    assert _ops(result, DeletePermissionSet) == []
    assert DeleteAssignment(assignment=protected_key) not in result.operations
    assert any("Old" in note and "protected" in note for note in result.notes)


def test_reordered_assignments_give_no_change() -> None:
    keys = [to_group(name, "Admin", account) for name in ("A", "B") for account in (PROD, STAGING)]
    common: dict[str, Any] = {
        "groups": [group("A"), group("B")],
        "permission_sets": [permission_set("Admin")],
    }
    assert _plan(
        state(**common, assignments=keys), state(**common, assignments=keys[::-1])
    ).is_empty


# Rename and order


def test_rename_creates_the_new_set_and_its_assignments_before_removing_the_old() -> None:
    result = _plan(
        state(
            groups=[group("Devs")],
            permission_sets=[permission_set("PowerUsers")],
            assignments=[to_group("Devs", "PowerUsers")],
        ),
        state(
            groups=[group("Devs")],
            permission_sets=[permission_set("Developers")],
            assignments=[to_group("Devs", "Developers")],
        ),
    )
    assert _keys(result) == [
        "create permission-set/PowerUsers",
        f"create assignment/{PROD.id}/PowerUsers/GROUP/Devs",
        f"delete assignment/{PROD.id}/Developers/GROUP/Devs",
        "delete permission-set/Developers",
    ]


def test_operations_follow_the_safe_order() -> None:
    current = state(
        users=[user("gone"), user("changed", display_name="Old")],
        groups=[group("GoneGroup"), group("Changed", "Old")],
        memberships=[member("Changed", "gone")],
        permission_sets=[permission_set("Old"), permission_set("Edited")],
        assignments=[to_user("gone", "Edited"), to_group("GoneGroup", "Old")],
    )
    wanted = state(
        users=[user("new"), user("changed", display_name="New")],
        groups=[group("NewGroup"), group("Changed", "New")],
        memberships=[member("NewGroup", "new")],
        permission_sets=[permission_set("New"), permission_set("Edited", session_duration="PT2H")],
        assignments=[to_group("NewGroup", "New"), to_user("new", "Edited")],
    )
    result = _plan(wanted, current, users=True, groups=True)
    assert [type(operation) for operation in result.operations] == [
        CreateUser,
        UpdateUser,
        CreateGroup,
        UpdateGroup,
        AddMembership,
        CreatePermissionSet,
        UpdatePermissionSet,
        ProvisionPermissionSet,
        CreateAssignment,
        CreateAssignment,
        DeleteAssignment,
        DeleteAssignment,
        DeletePermissionSet,
        RemoveMembership,
        DeleteGroup,
        DeleteUser,
    ]


def test_same_inputs_give_the_same_plan_whatever_the_insertion_order() -> None:
    names = ["d", "a", "c", "b"]
    forward = _plan(
        state(users=[user(n) for n in names], permission_sets=[permission_set(n) for n in names]),
        state(),
    )
    backward = _plan(
        state(
            users=[user(n) for n in reversed(names)],
            permission_sets=[permission_set(n) for n in reversed(names)],
        ),
        state(),
    )
    assert forward == backward
    assert _keys(forward)[:4] == [
        "create user/a",
        "create user/b",
        "create user/c",
        "create user/d",
    ]


def test_plan_carries_the_revision_and_the_validation_warnings() -> None:
    warning = Problem(file="permission-sets/X.json", path="$.name", rule="file_name", message="m")
    wanted = dataclasses.replace(desired(state()), warnings=(warning,))
    result = plan(wanted, live(state()), revision=REVISION)
    assert result.revision == REVISION
    assert result.notes == (str(warning),)


# The plan as data


def test_plan_summary_counts_operations_by_action() -> None:
    result = _plan(
        state(
            users=[user("a"), user("b")],
            permission_sets=[permission_set("S", session_duration="PT2H")],
        ),
        live(
            state(permission_sets=[permission_set("S"), permission_set("Old")]),
            provisioned={"S": [PROD.id]},
        ),
    )
    assert result.summary() == {"create": 2, "update": 1, "delete": 1, "provision": 1}
    assert [operation.key for operation in result.deletions()] == ["permission-set/Old"]


@pytest.mark.parametrize(
    ("operation", "action", "kind", "key"),
    [
        (CreateUser(user=user("jane")), Action.CREATE, Kind.USER, "user/jane"),
        (DeleteGroup(name="Ops"), Action.DELETE, Kind.GROUP, "group/Ops"),
        (
            AddMembership(membership=member("Ops", "jane")),
            Action.CREATE,
            Kind.MEMBERSHIP,
            "membership/Ops/jane",
        ),
        (
            ProvisionPermissionSet(name="Admin", accounts=frozenset()),
            Action.PROVISION,
            Kind.PERMISSION_SET,
            "permission-set/Admin",
        ),
        (
            DeleteAssignment(assignment=to_group("Ops", "Admin")),
            Action.DELETE,
            Kind.ASSIGNMENT,
            f"assignment/{PROD.id}/Admin/GROUP/Ops",
        ),
    ],
)
def test_operation_has_a_stable_readable_key(
    operation: Operation, action: Action, kind: Kind, key: str
) -> None:
    assert (operation.action, operation.kind, operation.key) == (action, kind, key)


# Property: applying a plan, then planning again, gives an empty plan.


def _apply(current: LiveState, operations: tuple[Operation, ...]) -> LiveState:
    """Apply ``operations`` to ``current`` as Identity Center would, refusing what AWS refuses
    (creating what exists, changing what does not, deleting an assigned set, assigning to a
    principal or set that does not exist)."""
    users = dict(current.state.users)
    groups = dict(current.state.groups)
    memberships = set(current.state.memberships)
    sets = dict(current.state.permission_sets)
    assignments = set(current.state.assignments)
    provisioned = defaultdict(set, {k: set(v) for k, v in current.provisioned_accounts.items()})
    stale = {k: set(v) for k, v in current.stale_accounts.items()}
    for operation in operations:
        match operation:
            case CreateUser(user=new):
                assert new.user_name not in users
                users[new.user_name] = new
            case UpdateUser(user=new):
                assert new.user_name in users
                users[new.user_name] = new
            case DeleteUser(user_name=name):
                del users[name]
                memberships = {m for m in memberships if m.user != name}
            case CreateGroup(group=new):
                assert new.name not in groups
                groups[new.name] = new
            case UpdateGroup(group=new):
                assert new.name in groups
                groups[new.name] = new
            case DeleteGroup(name=name):
                del groups[name]
                memberships = {m for m in memberships if m.group != name}
            case AddMembership(membership=new):
                assert new.user in users
                assert new.group in groups
                assert new not in memberships
                memberships.add(new)
            case RemoveMembership(membership=old):
                memberships.remove(old)
            case CreatePermissionSet(permission_set=new):
                assert new.name not in sets
                sets[new.name] = new
            case UpdatePermissionSet(permission_set=new, live=old):
                assert sets[new.name] == old
                sets[new.name] = new
                role_fields = (
                    "session_duration",
                    "managed_policies",
                    "customer_managed_policies",
                    "inline_policy",
                    "permissions_boundary",
                )
                if any(getattr(old, name) != getattr(new, name) for name in role_fields):
                    # The accounts now run an outdated copy until it is provisioned again.
                    stale[new.name] = set(provisioned[new.name])
            case ProvisionPermissionSet(name=name):
                assert name in sets
                stale.pop(name, None)
            case DeletePermissionSet(name=name):
                assert not any(key.permission_set == name for key in assignments), name
                del sets[name]
            case CreateAssignment(assignment=key):
                assert key.permission_set in sets
                principals = users if key.principal_type is PrincipalType.USER else groups
                assert key.principal_name in principals
                assert key not in assignments
                assignments.add(key)
                provisioned[key.permission_set].add(key.account_id)
            case DeleteAssignment(assignment=key):
                assignments.remove(key)
    return dataclasses.replace(
        current,
        state=IdentityCenterState(
            users=users,
            groups=groups,
            memberships=frozenset(memberships),
            permission_sets=sets,
            assignments=frozenset(assignments),
        ),
        provisioned_accounts={k: frozenset(v) for k, v in provisioned.items()},
        stale_accounts={k: frozenset(v) for k, v in stale.items()},
    )


_USER_NAMES = ["ann", "bob", "cat", "dan"]
_GROUP_NAMES = ["Ops", "Dev", "AWSControlTowerAdmins"]
_SET_NAMES = ["Admin", "ReadOnly", "Dev", "AWSControlTowerAdmin"]
_ACCOUNTS: list[Account] = [PROD, STAGING]
_POLICY = {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}


def _subset(draw: st.DrawFn, items: list[Any]) -> list[Any]:
    return draw(st.lists(st.sampled_from(items), unique=True)) if items else []


@st.composite
def _users(draw: st.DrawFn) -> list[Any]:
    return [
        user(
            name,
            display_name=draw(st.sampled_from(["A", "B"])),
            email=draw(st.sampled_from([None, "x@example.com"])),
        )
        for name in _subset(draw, _USER_NAMES)
    ]


@st.composite
def _groups(draw: st.DrawFn) -> list[Any]:
    return [
        group(name, draw(st.sampled_from([None, "a", "b"]))) for name in _subset(draw, _GROUP_NAMES)
    ]


@st.composite
def _permission_sets(draw: st.DrawFn, *, always_managed: bool) -> list[Any]:
    return [
        permission_set(
            name,
            managed=always_managed or draw(st.booleans()),
            description=draw(st.sampled_from([None, "a", "b"])),
            session_duration=draw(st.sampled_from(["PT1H", "PT2H"])),
            relay_state=draw(st.sampled_from([None, "https://example.com"])),
            managed_policies=_subset(draw, [READ_ONLY_ARN, VIEW_ONLY_ARN]),
            inline_policy=draw(st.sampled_from([None, _POLICY])),
            tags=draw(st.sampled_from([{}, {"team": "a"}])),
        )
        for name in _subset(draw, _SET_NAMES)
    ]


@st.composite
def _states(
    draw: st.DrawFn, *, always_managed: bool, live: IdentityCenterState | None = None
) -> IdentityCenterState:
    """A state; with ``live``, members and assignments may also name principals that exist
    only in ``live``, as resolving allows a desired state to."""
    users = draw(_users())
    groups = draw(_groups())
    sets = draw(_permission_sets(always_managed=always_managed))
    user_names = sorted({u.user_name for u in users} | set(live.users if live else ()))
    group_names = sorted({g.name for g in groups} | set(live.groups if live else ()))
    pairs = [member(g.name, u) for g in groups for u in user_names]
    keys = [
        factory(name, permission.name, account)
        for permission in sets
        for account in _ACCOUNTS
        for factory, names in ((to_user, user_names), (to_group, group_names))
        for name in names
    ]
    return state(
        users=users,
        groups=groups,
        memberships=_subset(draw, pairs),
        permission_sets=sets,
        assignments=_subset(draw, keys),
    )


@st.composite
def _live_states(draw: st.DrawFn, *, always_managed: bool) -> LiveState:
    current = draw(_states(always_managed=always_managed))
    provisioned: dict[str, set[str]] = defaultdict(set)
    for key in current.assignments:
        provisioned[key.permission_set].add(key.account_id)
    stale = {name: _subset(draw, sorted(ids)) for name, ids in provisioned.items()}
    return live(current, provisioned=provisioned, stale=stale)


@st.composite
def _live_and_desired(draw: st.DrawFn) -> tuple[LiveState, IdentityCenterState]:
    current = draw(_live_states(always_managed=False))
    return current, draw(_states(always_managed=True, live=current.state))


_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(
    states=_live_and_desired(),
    prune=st.fixed_dictionaries(
        {
            kind: st.booleans()
            for kind in ("users", "groups", "memberships", "permission_sets", "assignments")
        }
    ),
    default_protection=st.booleans(),
)
def test_planning_again_after_applying_a_plan_gives_an_empty_plan(
    states: tuple[LiveState, IdentityCenterState],
    prune: dict[str, bool],
    default_protection: bool,
) -> None:
    current, wanted = states
    protected: dict[str, list[str]] | None = (
        None if default_protection else {"users": [], "groups": [], "permission_sets": []}
    )
    wanted_desired = desired(wanted, config(protected=protected, **prune))
    first = plan(wanted_desired, current, revision=REVISION)
    after = _apply(current, first.operations)
    second = plan(wanted_desired, after, revision=REVISION)
    assert second.operations == ()
    assert not any(after.stale_accounts.get(name) for name in wanted.permission_sets)


@_PROPERTY
@given(
    states=_live_and_desired(),
    prune=st.fixed_dictionaries(
        {
            kind: st.booleans()
            for kind in ("users", "groups", "memberships", "permission_sets", "assignments")
        }
    ),
)
def test_every_deletion_is_of_a_live_object_in_the_prune_scope(
    states: tuple[LiveState, IdentityCenterState], prune: dict[str, bool]
) -> None:
    current, wanted = states
    wanted_desired = desired(wanted, config(**prune))
    scope = prune_scope(wanted_desired, current)
    in_scope = {
        Kind.USER: {f"user/{name}" for name in scope.users},
        Kind.GROUP: {f"group/{name}" for name in scope.groups},
        Kind.MEMBERSHIP: {f"membership/{m.group}/{m.user}" for m in scope.memberships},
        Kind.PERMISSION_SET: {f"permission-set/{name}" for name in scope.permission_sets},
        Kind.ASSIGNMENT: {DeleteAssignment(assignment=key).key for key in scope.assignments},
    }

    deletions = plan(wanted_desired, current, revision=REVISION).deletions()

    assert all(operation.key in in_scope[operation.kind] for operation in deletions)


@_PROPERTY
@given(wanted=_states(always_managed=True), current=_live_states(always_managed=True))
def test_applying_a_plan_with_everything_managed_and_pruned_reaches_the_desired_state(
    wanted: IdentityCenterState, current: LiveState
) -> None:
    everything = config(
        protected={"users": [], "groups": [], "permission_sets": []},
        users=True,
        groups=True,
        memberships=True,
        permission_sets=True,
        assignments=True,
    )
    after = _apply(
        current, plan(desired(wanted, everything), current, revision=REVISION).operations
    )
    # A description cannot be cleared in AWS: a set declared without one keeps the live one.
    kept = {
        name: dataclasses.replace(
            permission_set,
            description=after.state.permission_sets[name].description
            if permission_set.description is None
            else permission_set.description,
        )
        for name, permission_set in wanted.permission_sets.items()
    }
    assert after.state == dataclasses.replace(wanted, permission_sets=kept)


def test_a_set_declared_without_description_keeps_the_live_one() -> None:
    result = _plan(
        state(permission_sets=[permission_set("Admin", description=None)]),
        live(state(permission_sets=[permission_set("Admin", description="Set by hand")])),
    )
    assert result.operations == ()


def test_notes_name_inactive_accounts_beside_their_ids() -> None:
    suspended = dataclasses.replace(STAGING, status=AccountStatus.SUSPENDED)
    wanted = state(groups=[group("Ops")], assignments=[to_group("Ops", "Admin", STAGING)])
    have = dataclasses.replace(
        live(state(groups=[group("Ops")])), accounts={PROD.id: PROD, suspended.id: suspended}
    )

    result = plan(desired(wanted), have, revision=REVISION)

    (note,) = [note for note in result.notes if "not ACTIVE" in note]
    assert note.startswith("1 account assignment is not created: its account is not ACTIVE")
    assert "(staging (222222222222) SUSPENDED)" in note
    assert "first: Admin for group Ops in staging (222222222222)" in note


def test_one_adopted_permission_set_is_worded_in_the_singular() -> None:
    assigned: dict[str, Any] = {"groups": [group("Ops")], "assignments": [to_group("Ops", "Admin")]}
    result = _plan(
        state(permission_sets=[permission_set("Admin")], **assigned),
        state(permission_sets=[permission_set("Admin", managed=False)], **assigned),
    )

    assert any(
        note.startswith("1 declared permission set matches its live copy") for note in result.notes
    )
