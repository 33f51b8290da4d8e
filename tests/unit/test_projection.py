"""The plan's effect on access: live state projected through the operations
(reconciler.planning.projection) and the access gained and lost (``Plan.access``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.model.policies import policy_document
from reconciler.model.state import IdentityCenterState, LiveState
from reconciler.planning.access import (
    Grant,
    access_changes,
    access_effect,
    effective_access,
)
from reconciler.planning.diffing import plan
from reconciler.planning.plans import (
    AddMembership,
    CreateAssignment,
    DeleteAssignment,
    DeleteGroup,
    DeletePermissionSet,
    DeleteUser,
    RemoveMembership,
)
from reconciler.planning.projection import project
from reconciler.planning.pruning import prune_scope
from tests.unit.states import (
    PROD,
    STAGING,
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
from tests.unit.test_planning import _live_and_desired

ADMIN = "AdministratorAccess"
ADMINS = state(
    users=[user("jane.doe"), user("li")],
    groups=[group("AdminAccess")],
    memberships=[member("AdminAccess", "li")],
    permission_sets=[permission_set(ADMIN)],
    assignments=[to_group("AdminAccess", ADMIN, PROD), to_group("AdminAccess", ADMIN, STAGING)],
)


# Projection, one kind of change at a time


def test_an_added_membership_is_in_the_projection() -> None:
    added = member("AdminAccess", "jane.doe")

    projected = project(ADMINS, [AddMembership(membership=added)])

    assert added in projected.memberships


def test_a_removed_membership_is_not_in_the_projection() -> None:
    removed = member("AdminAccess", "li")

    projected = project(ADMINS, [RemoveMembership(membership=removed)])

    assert removed not in projected.memberships


def test_a_created_assignment_is_in_the_projection() -> None:
    key = to_user("jane.doe", ADMIN, PROD)

    assert key in project(ADMINS, [CreateAssignment(assignment=key)]).assignments


def test_a_deleted_assignment_is_not_in_the_projection() -> None:
    key = to_group("AdminAccess", ADMIN, PROD)

    assert key not in project(ADMINS, [DeleteAssignment(assignment=key)]).assignments


def test_a_deleted_user_takes_its_memberships_and_assignments_along() -> None:
    current = dataclasses.replace(
        ADMINS, assignments=ADMINS.assignments | {to_user("li", "ReadOnly", PROD)}
    )

    projected = project(current, [DeleteUser(user_name="li")])

    assert "li" not in projected.users
    assert not any(m.user == "li" for m in projected.memberships)
    assert to_user("li", "ReadOnly", PROD) not in projected.assignments
    assert effective_access(projected) == frozenset()


def test_a_deleted_group_takes_its_memberships_and_assignments_along() -> None:
    projected = project(ADMINS, [DeleteGroup(name="AdminAccess")])

    assert "AdminAccess" not in projected.groups
    assert projected.memberships == frozenset()
    assert projected.assignments == frozenset()


def test_a_deleted_permission_set_takes_its_assignments_along() -> None:
    projected = project(ADMINS, [DeletePermissionSet(name=ADMIN)])

    assert ADMIN not in projected.permission_sets
    assert projected.assignments == frozenset()


def test_projecting_leaves_the_live_state_unchanged() -> None:
    before = dataclasses.replace(ADMINS)

    project(ADMINS, [DeleteGroup(name="AdminAccess")])

    assert before == ADMINS


# The access effect of a plan


def _plan_access(wanted: IdentityCenterState, current: IdentityCenterState, **prune: bool):  # type: ignore[no-untyped-def]
    result = plan(desired(wanted, config(**prune)), live(current), revision=None)
    assert result.access is not None
    return result.access


def test_adding_jane_to_admin_access_gains_her_administrator_access_in_prod_and_staging() -> None:
    wanted = dataclasses.replace(
        ADMINS, memberships=ADMINS.memberships | {member("AdminAccess", "jane.doe")}
    )

    access = _plan_access(wanted, ADMINS)

    assert access.gained == (
        Grant("jane.doe", PROD.id, ADMIN, "AdminAccess"),
        Grant("jane.doe", STAGING.id, ADMIN, "AdminAccess"),
    )
    assert access.lost == ()
    assert access.privileged == {ADMIN}


def test_removing_a_member_loses_the_groups_access() -> None:
    wanted = dataclasses.replace(ADMINS, memberships=frozenset())

    access = _plan_access(wanted, ADMINS)

    assert access.gained == ()
    assert access.lost == (
        Grant("li", PROD.id, ADMIN, "AdminAccess"),
        Grant("li", STAGING.id, ADMIN, "AdminAccess"),
    )


def test_an_assignment_in_another_account_gains_access_there() -> None:
    """What an OU or tag target that now matches another account gives: one more assignment."""
    current = dataclasses.replace(ADMINS, assignments=frozenset({to_group("AdminAccess", ADMIN)}))

    access = _plan_access(ADMINS, current)

    assert access.gained == (Grant("li", STAGING.id, ADMIN, "AdminAccess"),)


def test_a_pruned_user_loses_its_direct_access() -> None:
    current = dataclasses.replace(
        ADMINS,
        users={**ADMINS.users, "sam": user("sam")},
        assignments=ADMINS.assignments | {to_user("sam", ADMIN, PROD)},
    )

    access = _plan_access(ADMINS, current, users=True)

    assert access.lost == (Grant("sam", PROD.id, ADMIN),)


def test_a_pruned_group_takes_its_members_access() -> None:
    wanted = state(users=ADMINS.users.values(), permission_sets=ADMINS.permission_sets.values())

    access = _plan_access(wanted, ADMINS, groups=True)

    assert {grant.access for grant in access.lost} == {
        ("li", PROD.id, ADMIN),
        ("li", STAGING.id, ADMIN),
    }


def test_access_kept_directly_while_the_group_route_goes_is_not_lost() -> None:
    wanted = dataclasses.replace(
        ADMINS,
        memberships=frozenset(),
        assignments=ADMINS.assignments
        | {to_user("li", ADMIN, PROD), to_user("li", ADMIN, STAGING)},
    )

    access = _plan_access(wanted, ADMINS)

    assert access.is_empty


def test_an_empty_plan_changes_no_access() -> None:
    assert _plan_access(ADMINS, ADMINS).is_empty


def test_configured_privileged_patterns_replace_the_defaults() -> None:
    wanted = dataclasses.replace(
        ADMINS, memberships=ADMINS.memberships | {member("AdminAccess", "jane.doe")}
    )
    settings_ = config().model_copy(update={"privileged_permission_sets": ["Billing*"]})

    result = plan(desired(wanted, settings_), live(ADMINS), revision=None)

    assert result.access is not None
    assert result.access.privileged == frozenset()


@pytest.mark.parametrize(
    "definition",
    [
        {"managed_policies": frozenset({"arn:aws:iam::aws:policy/AdministratorAccess"})},
        {"managed_policies": frozenset({"arn:aws-us-gov:iam::aws:policy/IAMFullAccess"})},
        {
            "inline_policy": policy_document(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            )
        },
        {
            "inline_policy": policy_document(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}],
                }
            )
        },
    ],
    ids=["AdministratorAccess", "IAMFullAccess-us-gov", "inline-star", "inline-not-action"],
)
def test_a_set_whose_policies_give_the_run_of_an_account_is_privileged_whatever_its_name(
    definition: dict[str, Any],
) -> None:
    """Named "superadmin", outside the default patterns (``*Admin*`` is case-sensitive)."""
    sneaky = dataclasses.replace(permission_set("superadmin"), **definition)
    current = dataclasses.replace(
        ADMINS, permission_sets={**ADMINS.permission_sets, "superadmin": sneaky}
    )
    wanted = dataclasses.replace(
        current, assignments=current.assignments | {to_user("jane.doe", "superadmin", PROD)}
    )

    access = _plan_access(wanted, current)

    assert access.gained == (Grant("jane.doe", PROD.id, "superadmin"),)
    assert access.privileged == {"superadmin"}


def test_a_set_with_narrow_policies_and_an_ordinary_name_is_not_privileged() -> None:
    reader = dataclasses.replace(
        permission_set("reader"),
        managed_policies=frozenset({"arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        inline_policy=policy_document(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
            }
        ),
    )
    current = dataclasses.replace(
        ADMINS, permission_sets={**ADMINS.permission_sets, "reader": reader}
    )
    wanted = dataclasses.replace(
        current, assignments=current.assignments | {to_user("jane.doe", "reader", PROD)}
    )

    assert _plan_access(wanted, current).privileged == frozenset()


def test_privileged_sets_default_to_admin_and_power_user_patterns() -> None:
    changes = access_changes(
        [],
        [
            Grant("jane", PROD.id, "AdministratorAccess"),
            Grant("jane", PROD.id, "PowerUserAccess"),
            Grant("jane", PROD.id, "ReadOnlyAccess"),
        ],
        privileged=config().privileged_permission_sets,
    )

    assert changes.privileged == {"AdministratorAccess", "PowerUserAccess"}


# Properties

_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PRUNE = st.fixed_dictionaries(
    {
        kind: st.booleans()
        for kind in ("users", "groups", "memberships", "permission_sets", "assignments")
    }
)


def _in_scope(grant: Grant, after: IdentityCenterState, wanted: IdentityCenterState, scope) -> bool:  # type: ignore[no-untyped-def]
    """Whether every route to ``grant``'s access in ``after`` is the desired state's to decide:
    each assignment giving it is declared or prunable, and each membership giving it too."""
    user_name, account_id, set_name = grant.access
    state_ = after
    for key in state_.assignments:
        if (key.account_id, key.permission_set) != (account_id, set_name):
            continue
        if key.principal_type.value == "USER" and key.principal_name != user_name:
            continue
        if key.principal_type.value == "GROUP" and (
            member(key.principal_name, user_name) not in state_.memberships
        ):
            continue
        if key not in wanted.assignments and key not in scope.assignments:
            return False
        via = key.principal_name if key.principal_type.value == "GROUP" else None
        if via is not None:
            membership = member(via, user_name)
            if membership not in wanted.memberships and membership not in scope.memberships:
                return False
    return True


@_PROPERTY
@given(states=_live_and_desired(), prune=_PRUNE)
def test_the_projected_plan_gives_the_desired_access_within_the_prune_scope(
    states: tuple[LiveState, IdentityCenterState], prune: dict[str, bool]
) -> None:
    current, wanted = states
    everything_active = desired(
        wanted, config(protected={"users": [], "groups": [], "permission_sets": []}, **prune)
    )
    result = plan(everything_active, current, revision=None)
    scope = prune_scope(everything_active, current)

    after = project(current.state, result.operations)
    projected = effective_access(after)
    wanted_access = {grant.access for grant in effective_access(wanted)}
    projected_access = {grant.access for grant in projected}

    # Everything desired is given; what is given beyond it is out of the prune scope.
    assert wanted_access <= projected_access
    extra = {grant for grant in projected if grant.access not in wanted_access}
    assert not any(_in_scope(grant, after, wanted, scope) for grant in extra)


@_PROPERTY
@given(states=_live_and_desired(), prune=_PRUNE)
def test_the_access_effect_equals_the_difference_of_the_whole_grant_sets(
    states: tuple[LiveState, IdentityCenterState], prune: dict[str, bool]
) -> None:
    current, wanted = states
    result = plan(desired(wanted, config(**prune)), current, revision=None)
    after = project(current.state, result.operations)

    assert result.access == access_changes(
        effective_access(current.state),
        effective_access(after),
        privileged=config().privileged_permission_sets,
    )
    assert access_effect(current.state, after) == access_changes(
        effective_access(current.state), effective_access(after)
    )
