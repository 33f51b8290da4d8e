"""Saved plans, pure: the fingerprint of each kind of object a plan touches, and what
``differences`` names when a live object, the revision or the settings changed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.model.state import IdentityCenterState, LiveState, Membership
from reconciler.planning.plans import (
    AddMembership,
    CreateAssignment,
    Plan,
    UpdateGroup,
    UpdatePermissionSet,
    UpdateUser,
)
from reconciler.planning.saved_plans import (
    SavedPlan,
    SavedPlanFileError,
    SavedSettings,
    differences,
    parse_saved_plan,
    saved_plan_bytes,
)
from tests.unit.states import INSTANCE_ARN, group, permission_set, to_group, user

REVISION = "a" * 40
SETTINGS = SavedSettings(path="desired-state")
ADMIN = permission_set("Admin", description="admins")
MEMBERSHIP = Membership(group="Ops", user="ann")
STATE = IdentityCenterState(
    users={"ann": user("ann"), "bob": user("bob")},
    groups={"Ops": group("Ops", "operators"), "Other": group("Other")},
    permission_sets={"Admin": ADMIN},
)
LIVE = LiveState(
    state=STATE,
    instance_arn=INSTANCE_ARN,
    identity_store_id="d-1",
    user_ids={"ann": "u-ann", "bob": "u-bob"},
    group_ids={"Ops": "g-ops", "Other": "g-other"},
    permission_set_arns={"Admin": "arn:ps-admin"},
)
PLAN = Plan(
    revision=REVISION,
    operations=(
        UpdateUser(user=user("ann", display_name="Ann"), diff=()),
        UpdateGroup(group=group("Ops", "ops"), diff=()),
        AddMembership(membership=MEMBERSHIP),
        UpdatePermissionSet(permission_set=replace(ADMIN, description="new"), live=ADMIN, diff=()),
        CreateAssignment(assignment=to_group("Ops", "Admin")),
    ),
)


def saved() -> SavedPlan:
    content = saved_plan_bytes(PLAN, LIVE, settings=SETTINGS, created_at="2026-12-01T00:00:00Z")
    return parse_saved_plan(content, name="plan.json")


def _with_state(**changes: object) -> LiveState:
    return replace(LIVE, state=replace(STATE, **changes))


@pytest.mark.parametrize(
    ("live", "named"),
    [
        (
            _with_state(users={**STATE.users, "ann": user("ann", email="x@example.com")}),
            "user/ann changed since the plan was made: email ann@example.com → x@example.com",
        ),
        (
            replace(LIVE, user_ids={**LIVE.user_ids, "ann": "u-new"}),
            "user/ann changed since the plan was made: id u-ann → u-new",
        ),
        (
            _with_state(groups={**STATE.groups, "Ops": group("Ops", "changed")}),
            "group/Ops changed since the plan was made: description operators → changed",
        ),
        (
            _with_state(memberships=frozenset({MEMBERSHIP})),
            "membership/Ops/ann was created since the plan was made",
        ),
        (
            _with_state(permission_sets={"Admin": replace(ADMIN, session_duration="PT2H")}),
            "permission-set/Admin changed since the plan was made: session_duration PT1H → PT2H",
        ),
        (
            replace(LIVE, stale_accounts={"Admin": frozenset({"111111111111"})}),
            "permission-set/Admin changed since the plan was made: stale_accounts +111111111111",
        ),
        (
            _with_state(assignments=frozenset({to_group("Ops", "Admin")})),
            "assignment/111111111111/Admin/GROUP/Ops was created since the plan was made",
        ),
    ],
    ids=[
        "user-attribute",
        "user-id",
        "group",
        "membership",
        "permission-set-attribute",
        "permission-set-provisioning",
        "assignment",
    ],
)
def test_a_changed_live_object_the_plan_touches_is_named(live: LiveState, named: str) -> None:
    assert differences(saved(), PLAN, live, settings=SETTINGS) == [named]


def test_a_managed_policy_attached_since_the_plan_is_named_with_its_arn() -> None:
    admin_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    policies = ADMIN.managed_policies | {admin_arn}
    live = _with_state(permission_sets={"Admin": replace(ADMIN, managed_policies=policies)})

    assert differences(saved(), PLAN, live, settings=SETTINGS) == [
        f"permission-set/Admin changed since the plan was made: managed_policies +{admin_arn}"
    ]


def test_a_deletion_setting_other_than_the_plans_says_to_pass_the_same_flags() -> None:
    now = replace(SETTINGS, allow_deletions=True)

    assert differences(saved(), PLAN, LIVE, settings=now) == [
        "setting allow_deletions changed: the plan was made without --allow-deletions, this "
        "apply is run with it: pass the same flags as `plan --out` had"
    ]


def test_a_changed_live_object_the_plan_does_not_touch_is_no_difference() -> None:
    live = _with_state(
        users={**STATE.users, "bob": user("bob", email="b@example.com")},
        groups={**STATE.groups, "Other": group("Other", "changed")},
    )

    assert differences(saved(), PLAN, live, settings=SETTINGS) == []


def test_a_different_plan_lists_the_operations_that_differ() -> None:
    other = replace(PLAN, operations=PLAN.operations[1:])

    assert differences(saved(), other, LIVE, settings=SETTINGS) == [
        "operation no longer planned: update user/ann"
    ]


def test_a_plan_without_a_revision_cannot_be_saved() -> None:
    with pytest.raises(SavedPlanFileError, match="committed revision"):
        saved_plan_bytes(
            replace(PLAN, revision=None), LIVE, settings=SETTINGS, created_at="2026-12-01"
        )


def test_an_operation_with_the_same_key_but_other_content_is_a_difference() -> None:
    operations = list(PLAN.operations)
    operations[3] = UpdatePermissionSet(
        permission_set=replace(ADMIN, description="other"), live=ADMIN, diff=()
    )
    other = replace(PLAN, operations=tuple(operations))

    assert differences(saved(), other, LIVE, settings=SETTINGS) == [
        "operation differs from the saved plan: update permission-set/Admin"
    ]
