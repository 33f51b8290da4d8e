"""Unmanaged objects: every live object the revision neither declares nor may prune is listed,
with why it is left alone and how to manage it (``planning.unmanaged``), in every rendering."""

from __future__ import annotations

import json

from reconciler.model.documents import ReconcilerFile
from reconciler.model.state import AssignmentKey, PrincipalType
from reconciler.planning.diffing import plan
from reconciler.planning.plans import Kind, Plan, Unmanaged
from reconciler.planning.rendering import UNMANAGED_FAIL_MARKER, plan_json, plan_markdown, plan_text
from reconciler.planning.unmanaged import unmanaged
from tests.unit.states import (
    PROD,
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

ADMIN = "AdministratorAccess"


def _by_key(items: tuple[Unmanaged, ...]) -> dict[str, Unmanaged]:
    return {item.key: item for item in items}


def _only(items: tuple[Unmanaged, ...]) -> Unmanaged:
    assert len(items) == 1, items
    return items[0]


# -- nothing unmanaged ---------------------------------------------------------------------


def test_live_state_equal_to_the_desired_state_has_nothing_unmanaged() -> None:
    current = state(
        users=[user("alice")],
        groups=[group("Admins")],
        memberships=[member("Admins", "alice")],
        permission_sets=[permission_set(ADMIN)],
        assignments=[to_group("Admins", ADMIN)],
    )

    assert unmanaged(desired(current), live(current)) == ()


def test_objects_the_plan_deletes_are_not_unmanaged() -> None:
    wanted = state(permission_sets=[permission_set(ADMIN)])
    current = state(
        permission_sets=[permission_set(ADMIN), permission_set("Old")],
        assignments=[to_user("alice", ADMIN), to_user("alice", "Old")],
        users=[user("alice")],
    )

    found = _by_key(unmanaged(desired(wanted, config(users=True)), live(current)))

    assert found == {}


# -- users and groups ------------------------------------------------------------------------


def test_undeclared_user_is_unmanaged_while_prune_users_is_off() -> None:
    item = _only(unmanaged(desired(state()), live(state(users=[user("bob")]))))

    assert (item.kind, item.key) == (Kind.USER, "user/bob")
    assert "prune.users is false" in item.reason
    assert "users.json" in item.remedy
    assert "prune.users" in item.remedy


def test_protected_user_is_unmanaged_naming_the_pattern() -> None:
    settings = config(users=True, protected={"users": ["break-glass*"]})

    item = _only(unmanaged(desired(state(), settings), live(state(users=[user("break-glass")]))))

    assert "protected" in item.reason
    assert "'break-glass*'" in item.reason


def test_user_referred_to_but_not_declared_is_unmanaged_as_referenced() -> None:
    wanted = state(groups=[group("Admins")], memberships=[member("Admins", "bob")])
    current = state(users=[user("bob")], groups=[group("Admins")], memberships=wanted.memberships)

    item = _only(unmanaged(desired(wanted, config(users=True)), live(current)))

    assert item.key == "user/bob"
    assert "refers to it" in item.reason
    assert "remove the references" in item.remedy


def test_user_removed_from_the_files_but_still_a_member_says_prune_users_is_off_too() -> None:
    wanted = state(groups=[group("Admins")], memberships=[member("Admins", "bob")])
    current = state(users=[user("bob")], groups=[group("Admins")], memberships=wanted.memberships)

    item = _only(unmanaged(desired(wanted), live(current)))

    assert "refers to it" in item.reason
    assert "prune.users is false" in item.reason


def test_undeclared_group_is_unmanaged_while_prune_groups_is_off() -> None:
    item = _only(unmanaged(desired(state()), live(state(groups=[group("Contractors")]))))

    assert (item.kind, item.key) == (Kind.GROUP, "group/Contractors")
    assert "prune.groups is false" in item.reason


def test_control_tower_group_is_unmanaged_as_protected_by_default() -> None:
    current = state(groups=[group("AWSControlTowerAdmins")])

    item = _only(unmanaged(desired(state(), config(groups=True)), live(current)))

    assert "protected.groups: 'AWSControlTower*'" in item.reason


def test_group_assigned_but_not_declared_is_unmanaged_as_referenced() -> None:
    wanted = state(permission_sets=[permission_set(ADMIN)], assignments=[to_group("Ops", ADMIN)])
    current = state(
        groups=[group("Ops")], permission_sets=wanted.permission_sets.values(), assignments=[]
    )

    item = _only(unmanaged(desired(wanted, config(groups=True)), live(current)))

    assert item.key == "group/Ops"
    assert "refers to it" in item.reason


# -- memberships -----------------------------------------------------------------------------


def test_membership_of_an_undeclared_group_is_unmanaged() -> None:
    current = state(
        users=[user("bob")], groups=[group("Hand")], memberships=[member("Hand", "bob")]
    )

    found = _by_key(unmanaged(desired(state(users=[user("bob")])), live(current)))

    item = found["membership/Hand/bob"]
    assert item.kind is Kind.MEMBERSHIP
    assert "group Hand is not declared" in item.reason
    assert "group/Hand" in found


def test_undeclared_member_of_a_declared_group_is_unmanaged_while_prune_memberships_is_off() -> (
    None
):
    wanted = state(users=[user("bob")], groups=[group("Admins")])
    current = state(
        users=[user("bob")], groups=[group("Admins")], memberships=[member("Admins", "bob")]
    )

    item = _only(unmanaged(desired(wanted, config(memberships=False)), live(current)))

    assert item.key == "membership/Admins/bob"
    assert "prune.memberships is false" in item.reason


# -- permission sets -------------------------------------------------------------------------


def test_hand_made_permission_set_without_the_managed_by_tag_is_unmanaged() -> None:
    current = state(permission_sets=[permission_set("HandAdmin", managed=False)])

    item = _only(unmanaged(desired(state()), live(current)))

    assert (item.kind, item.key) == (Kind.PERMISSION_SET, "permission-set/HandAdmin")
    assert "managed-by tag" in item.reason
    assert "adopted" in item.reason
    assert "export --kinds permission_sets" in item.remedy


def test_tagged_permission_set_is_unmanaged_while_prune_permission_sets_is_off() -> None:
    current = state(permission_sets=[permission_set("Old")])

    item = _only(unmanaged(desired(state(), config(permission_sets=False)), live(current)))

    assert "prune.permission_sets is false" in item.reason


def test_control_tower_permission_set_is_unmanaged_as_protected() -> None:
    current = state(permission_sets=[permission_set("AWSControlTowerAdmin")])

    item = _only(unmanaged(desired(state()), live(current)))

    assert "protected.permission_sets: 'AWSControlTower*'" in item.reason


# -- assignments -----------------------------------------------------------------------------


def test_assignment_of_a_declared_set_is_unmanaged_while_prune_assignments_is_off() -> None:
    wanted = state(permission_sets=[permission_set(ADMIN)])
    current = state(
        users=[user("mallory")],
        permission_sets=[permission_set(ADMIN)],
        assignments=[to_user("mallory", ADMIN)],
    )

    found = _by_key(unmanaged(desired(wanted, config(assignments=False)), live(current)))

    item = found[f"assignment/{PROD.id}/{ADMIN}/USER/mallory"]
    assert item.description == f"{ADMIN} for user mallory in prod ({PROD.id})"
    assert "prune.assignments is false" in item.reason
    assert "assignments.json" in item.remedy


def test_assignment_of_a_hand_made_set_is_unmanaged_with_the_set() -> None:
    current = state(
        users=[user("mallory")],
        permission_sets=[permission_set("HandAdmin", managed=False)],
        assignments=[to_user("mallory", "HandAdmin")],
    )

    found = _by_key(unmanaged(desired(state(users=[user("mallory")])), live(current)))

    assert set(found) == {
        "permission-set/HandAdmin",
        f"assignment/{PROD.id}/HandAdmin/USER/mallory",
    }
    assignment = found[f"assignment/{PROD.id}/HandAdmin/USER/mallory"]
    assert "HandAdmin is not managed" in assignment.reason
    assert "export --kinds permission_sets,assignments" in assignment.remedy


def test_assignment_of_a_protected_set_is_unmanaged() -> None:
    current = state(
        groups=[group("Ops")],
        permission_sets=[permission_set("AWSReservedSupport")],
        assignments=[to_group("Ops", "AWSReservedSupport")],
    )
    wanted = state(groups=[group("Ops")], permission_sets=current.permission_sets.values())

    found = _by_key(unmanaged(desired(wanted), live(current)))

    item = found[f"assignment/{PROD.id}/AWSReservedSupport/GROUP/Ops"]
    assert "its permission set is protected" in item.reason


def test_assignment_to_a_protected_principal_is_unmanaged() -> None:
    settings = config(protected={"users": ["break-glass"]})
    wanted = state(users=[user("break-glass")], permission_sets=[permission_set(ADMIN)])
    current = state(
        users=[user("break-glass")],
        permission_sets=[permission_set(ADMIN)],
        assignments=[to_user("break-glass", ADMIN)],
    )

    item = _only(unmanaged(desired(wanted, settings), live(current)))

    assert "its user is protected (protected.users: 'break-glass')" in item.reason


def test_assignment_of_a_deleted_principal_is_unmanaged_as_deleted() -> None:
    deleted = AssignmentKey(PROD.id, ADMIN, PrincipalType.USER, "<deleted user 9067-abc>")
    wanted = state(permission_sets=[permission_set(ADMIN)])
    current = state(permission_sets=[permission_set(ADMIN)], assignments=[deleted])

    item = _only(unmanaged(desired(wanted, config(assignments=False)), live(current)))

    assert "deleted from the identity store" in item.reason


def test_assignment_of_a_deleted_principal_is_deleted_not_listed_when_in_prune_scope() -> None:
    deleted = AssignmentKey(PROD.id, ADMIN, PrincipalType.USER, "<deleted user 9067-abc>")
    wanted = state(permission_sets=[permission_set(ADMIN)])
    current = state(permission_sets=[permission_set(ADMIN)], assignments=[deleted])

    assert unmanaged(desired(wanted), live(current)) == ()


# -- external identities ---------------------------------------------------------------------


def test_external_identities_list_no_user_group_or_membership() -> None:
    current = state(
        users=[user("bob")], groups=[group("Okta")], memberships=[member("Okta", "bob")]
    )

    assert unmanaged(desired(state(), ReconcilerFile(identities="external")), live(current)) == ()


def test_external_identities_still_list_access_outside_the_files() -> None:
    settings = ReconcilerFile.model_validate(
        {"identities": "external", "prune": {"assignments": False}}
    )
    wanted = state(permission_sets=[permission_set(ADMIN)])
    current = state(
        users=[user("bob")],
        permission_sets=[permission_set(ADMIN)],
        assignments=[to_user("bob", ADMIN)],
    )

    item = _only(unmanaged(desired(wanted, settings), live(current)))

    assert item.kind is Kind.ASSIGNMENT


# -- the plan and its renderings -------------------------------------------------------------


def _plan_with_a_hand_made_admin() -> Plan:
    wanted = state(permission_sets=[permission_set(ADMIN)])
    current = state(
        users=[user("mallory")],
        permission_sets=[permission_set(ADMIN)],
        assignments=[to_user("mallory", ADMIN)],
    )
    return plan(desired(wanted, config(assignments=False)), live(current), revision="a" * 40)


def test_plan_carries_the_unmanaged_objects() -> None:
    the_plan = _plan_with_a_hand_made_admin()

    assert the_plan.is_empty
    assert [item.key for item in the_plan.unmanaged] == [
        "user/mallory",
        f"assignment/{PROD.id}/{ADMIN}/USER/mallory",
    ]


def test_plan_text_never_says_matches_while_unmanaged_objects_exist() -> None:
    text = plan_text(_plan_with_a_hand_made_admin(), account_names={PROD.id: "prod"})

    assert "matches the desired state" not in text
    assert "2 unmanaged objects exist beside them" in text
    assert f"! {ADMIN} for user mallory in prod ({PROD.id})" in text
    assert "to manage: declare it in assignments.json" in text


def test_plan_text_says_matches_when_nothing_is_unmanaged() -> None:
    text = plan_text(Plan(revision=None, operations=()))

    assert "Identity Center matches the desired state" in text


def test_plan_markdown_lists_the_unmanaged_objects_instead_of_matches() -> None:
    (markdown,) = plan_markdown(_plan_with_a_hand_made_admin(), account_names={PROD.id: "prod"})

    assert "matches the desired state" not in markdown
    assert "#### Unmanaged: 2 live objects" in markdown
    assert (
        f"| ⚠️ **privileged** {ADMIN} for user mallory in prod ({PROD.id}) | not declared"
        in markdown
    )


def test_plan_json_has_a_separate_unmanaged_list() -> None:
    document = json.loads(json.dumps(plan_json(_plan_with_a_hand_made_admin())))

    assert document["changes"] == []
    assert document["unmanaged"][1] == {
        "kind": "assignment",
        "key": f"assignment/{PROD.id}/{ADMIN}/USER/mallory",
        "description": f"{ADMIN} for user mallory in prod ({PROD.id})",
        "reason": "not declared in assignments.json, and prune.assignments is false",
        "remedy": "declare it in assignments.json (`reconciler export --kinds assignments` "
        "writes it), or set prune.assignments to true to delete it",
        "privileged": True,
    }


def test_an_unmanaged_privileged_assignment_is_marked_in_text_and_report() -> None:
    """The hand-made AdministratorAccess assignment is the access a reviewer most needs to
    see; the read-only objects beside it are not marked."""
    made = _plan_with_a_hand_made_admin()
    text = plan_text(made, account_names={PROD.id: "prod"})

    marked = [line for line in text.splitlines() if "⚠ privileged" in line]
    assert len(marked) == 1
    assert "mallory" in marked[0]
    assert [item.privileged for item in made.unmanaged].count(True) == 1


def _failing_plan() -> Plan:
    wanted = state()
    current = state(users=[user("carol")])
    settings = ReconcilerFile(unmanaged="fail")
    return plan(desired(wanted, settings), live(current), revision="a" * 40)


def test_unmanaged_fail_in_the_files_fails_a_plan_with_unmanaged_objects() -> None:
    assert _failing_plan().failed_by_unmanaged


def test_unmanaged_fail_does_not_fail_a_plan_without_unmanaged_objects() -> None:
    the_plan = plan(
        desired(state(), ReconcilerFile(unmanaged="fail")), live(state()), revision=None
    )

    assert not the_plan.failed_by_unmanaged


def test_unmanaged_report_is_the_default_and_never_fails_a_plan() -> None:
    the_plan = plan(desired(state()), live(state(users=[user("carol")])), revision=None)

    assert the_plan.unmanaged
    assert not the_plan.failed_by_unmanaged


def test_a_plan_failed_by_unmanaged_objects_says_so_in_every_format() -> None:
    the_plan = _failing_plan()

    assert plan_json(the_plan)["unmanaged_fail"] is True
    assert '✗ "unmanaged": "fail" in reconciler.json' in plan_text(the_plan)
    (markdown,) = plan_markdown(the_plan)
    assert UNMANAGED_FAIL_MARKER in markdown


def test_a_plan_failed_by_unmanaged_objects_says_so_in_its_first_line() -> None:
    first = plan_text(_failing_plan()).splitlines()[0]

    assert "✗ not converged: 1 unmanaged object exists beside the declared objects" in first
    assert "they match Identity Center" not in first
