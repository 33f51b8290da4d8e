"""Effective access: assignments expanded into grants (reconciler.planning.access)."""

from __future__ import annotations

from reconciler.model.state import AssignmentKey, IdentityCenterState, Membership, PrincipalType
from reconciler.planning.access import Grant, access_changes, effective_access

PROD = "111122223333"


def _state(*, memberships=(), assignments=()) -> IdentityCenterState:
    return IdentityCenterState(
        memberships=frozenset(memberships), assignments=frozenset(assignments)
    )


def test_a_group_assignment_grants_every_member_through_the_group() -> None:
    state = _state(
        memberships=[Membership("Admins", "jane"), Membership("Admins", "li")],
        assignments=[AssignmentKey(PROD, "AdministratorAccess", PrincipalType.GROUP, "Admins")],
    )

    assert effective_access(state) == {
        Grant("jane", PROD, "AdministratorAccess", "Admins"),
        Grant("li", PROD, "AdministratorAccess", "Admins"),
    }


def test_a_user_assignment_grants_directly_and_an_empty_group_grants_nothing() -> None:
    state = _state(
        assignments=[
            AssignmentKey(PROD, "ReadOnly", PrincipalType.USER, "jane"),
            AssignmentKey(PROD, "AdministratorAccess", PrincipalType.GROUP, "Nobody"),
        ],
    )

    assert effective_access(state) == {Grant("jane", PROD, "ReadOnly")}


def test_access_kept_through_another_route_is_neither_gained_nor_lost() -> None:
    before = {Grant("jane", PROD, "ReadOnly", "Readers")}
    after = {Grant("jane", PROD, "ReadOnly"), Grant("li", PROD, "ReadOnly", "Readers")}

    changes = access_changes(before, after)

    assert changes.gained == (Grant("li", PROD, "ReadOnly", "Readers"),)
    assert changes.lost == ()
