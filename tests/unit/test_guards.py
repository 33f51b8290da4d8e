"""The deletion guard: counts only managed objects, gross deletions, over a window, under the
strictest limits of every source."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.errors import PlanRefusedError
from reconciler.model.documents import DeletionGuard, ReconcilerFile
from reconciler.model.resolving import DesiredState
from reconciler.model.state import LiveState
from reconciler.planning.diffing import plan
from reconciler.planning.guards import (
    DeletionWindow,
    GuardLimit,
    RecordedDeletion,
    check_deletion_guard,
    deletion_guard_violations,
    limits_in_force,
)
from reconciler.planning.plans import Kind, Plan
from reconciler.planning.pruning import prune_scope
from tests.unit.states import desired, group, live, permission_set, state, to_group

REVISION = "0123456789abcdef0123456789abcdef01234567"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = 24 * 3600.0

Case = tuple[Plan, DesiredState, LiveState]


def _case(
    *,
    managed: int,
    kept: int,
    created: int = 0,
    unmanaged: int = 0,
    guard: DeletionGuard | None = None,
) -> Case:
    """``managed`` live assignments of the declared set Admin, of which the revision keeps the
    first ``kept`` and adds ``created`` new ones; ``unmanaged`` live assignments of a protected
    Control Tower set (tagged as if ours) that no revision may delete."""
    old = [to_group(f"G{index:03d}", "Admin") for index in range(managed)]
    new = [to_group(f"N{index:03d}", "Admin") for index in range(created)]
    outside = [to_group(f"U{index:03d}", "AWSControlTowerAdmin") for index in range(unmanaged)]
    groups = [group(key.principal_name) for key in (*old, *new, *outside)]
    current = live(
        state(
            groups=groups,
            permission_sets=[permission_set("Admin"), permission_set("AWSControlTowerAdmin")],
            assignments=[*old, *outside],
        )
    )
    wanted = desired(
        state(
            groups=groups,
            permission_sets=[permission_set("Admin")],
            assignments=[*old[:kept], *new],
        ),
        ReconcilerFile(deletion_guard=guard or DeletionGuard()),
    )
    return plan(wanted, current, revision=REVISION), wanted, current


def _violations(case: Case, **options: object) -> list[str]:
    result, wanted, current = case
    return deletion_guard_violations(result, wanted, current, **options)  # type: ignore[arg-type]


def _window(*deletions: tuple[int, timedelta], allowed: bool = False) -> DeletionWindow:
    return DeletionWindow(
        seconds=DAY,
        now=NOW,
        deletions=tuple(
            RecordedDeletion(
                kind=Kind.ASSIGNMENT, count=count, revision=REVISION, at=NOW - ago, allowed=allowed
            )
            for count, ago in deletions
        ),
    )


# --- only managed objects count ---------------------------------------------------------------


def test_emptied_assignments_with_an_unmanaged_protected_assignment_present_are_refused() -> None:
    case = _case(managed=7, kept=0, unmanaged=1)

    (reason,) = _violations(case)

    assert "deletes all 7 managed assignments and creates none" in reason


def _keys_of_first(case: Case, count: int) -> frozenset[str]:
    """The keys of the first ``count`` deletions of the case's plan."""
    return frozenset(operation.key for operation in case[0].deletions()[:count])


def test_deleting_objects_made_by_hand_is_not_counted() -> None:
    case = _case(managed=20, kept=10)  # 10 of 20 deleted: 50%, past 25%
    assert _violations(case)

    assert _violations(case, undeclared=_keys_of_first(case, 10)) == []


def test_objects_made_by_hand_are_left_out_of_the_managed_count_too() -> None:
    case = _case(managed=10, kept=0)  # an emptied file; 3 of the 10 were made by hand

    (reason,) = _violations(case, undeclared=_keys_of_first(case, 3))

    assert "deletes all 7 managed assignments and creates none" in reason
    assert "3 live assignments left out of the count" in reason


def test_the_scope_leaves_out_assignments_of_protected_sets() -> None:
    _, wanted, current = _case(managed=7, kept=7, unmanaged=3)

    assert len(prune_scope(wanted, current).assignments) == 7


def test_a_refusal_says_how_many_objects_are_managed_and_how_many_are_left_out() -> None:
    (reason,) = _violations(_case(managed=7, kept=0, unmanaged=3))

    assert "7 managed assignments" in reason
    assert "3 live assignments left out of the count (outside the prune scope" in reason


def test_the_fraction_is_of_managed_objects_in_a_partly_managed_organization() -> None:
    # 3 of 10 managed is 30%; 3 of the 15 live would be 20%.
    (reason,) = _violations(_case(managed=10, kept=7, unmanaged=5))

    assert "deletes 3 of 10 managed assignments: 30%" in reason


def test_unmanaged_objects_do_not_bring_a_small_kind_under_the_fraction_rule() -> None:
    # 9 managed (under the threshold) and 1 unmanaged: 10 live, but the fraction rule is off.
    assert _violations(_case(managed=9, kept=6, unmanaged=1)) == []


# --- the threshold of the fraction rule ---------------------------------------------------------


def test_the_fraction_rule_applies_from_exactly_ten_managed_objects() -> None:
    (reason,) = _violations(_case(managed=10, kept=7))

    assert "deletes 3 of 10 managed assignments" in reason


def test_the_fraction_rule_does_not_apply_below_ten_managed_objects() -> None:
    assert _violations(_case(managed=9, kept=4)) == []


# --- the emptied-kind rule, for any size --------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 7, 9])
def test_emptying_a_kind_is_refused_whatever_its_size(count: int) -> None:
    (reason,) = _violations(_case(managed=count, kept=0))

    assert f"deletes all {count} managed assignment" in reason


def test_removing_the_only_assignment_when_it_expires_passes() -> None:
    result, wanted, current = _case(managed=1, kept=0)
    expired = dataclasses.replace(wanted, expired=current.state.assignments)

    assert deletion_guard_violations(result, expired, current) == []


def test_an_expired_assignment_does_not_hide_an_emptied_file() -> None:
    result, wanted, current = _case(managed=3, kept=0)
    one = frozenset(sorted(current.state.assignments)[:1])

    (reason,) = deletion_guard_violations(result, dataclasses.replace(wanted, expired=one), current)

    assert "deletes all 3 managed assignments" in reason


def test_replacing_every_object_of_a_kind_passes() -> None:
    assert _violations(_case(managed=2, kept=0, created=2)) == []


# --- gross deletions: creating never offsets deleting -----------------------------------------


def test_moving_24_of_100_assignments_is_refused_by_max_deletions() -> None:
    (reason,) = _violations(_case(managed=100, kept=76, created=24))

    assert "the plan deletes 24 objects, more than the limit of 20" in reason


def test_creations_do_not_offset_deletions_in_the_fraction() -> None:
    case = _case(managed=40, kept=28, created=12, guard=DeletionGuard(max_deletions=100))

    (reason,) = _violations(case)

    assert "deletes 12 of 40 managed assignments: 30%" in reason


def test_deletions_within_both_limits_pass() -> None:
    result, wanted, current = _case(managed=40, kept=35, created=3)

    check_deletion_guard(result, wanted, current, allow_deletions=False)


def test_more_deletions_than_the_limit_are_refused_with_how_to_allow_them() -> None:
    result, wanted, current = _case(managed=200, kept=0)

    with pytest.raises(PlanRefusedError, match=r"deletes 200 objects.*--allow-deletions"):
        check_deletion_guard(result, wanted, current, allow_deletions=False)


def test_a_refusal_ending_in_a_question_gets_no_stray_full_stop() -> None:
    result, wanted, current = _case(managed=7, kept=0, guard=DeletionGuard(max_deletions=100))

    with pytest.raises(PlanRefusedError) as refused:
        check_deletion_guard(result, wanted, current, allow_deletions=False)

    assert "truncated? Nothing was applied." in str(refused.value)


def test_allowing_deletions_lifts_the_guard() -> None:
    result, wanted, current = _case(managed=200, kept=0)

    check_deletion_guard(result, wanted, current, allow_deletions=True)


# --- the limits in force: the strictest of every source -----------------------------------------


def test_a_revision_cannot_raise_a_limit_set_by_another_source() -> None:
    case = _case(managed=100, kept=70, guard=DeletionGuard(max_deletions=1000, max_fraction=1.0))
    parent = GuardLimit.of(DeletionGuard(), source="reconciler.json of revision parent")

    (count, share) = _violations(case, limits=[parent])

    assert (
        "more than the limit of 20 (deletion_guard.max_deletions, reconciler.json of "
        "revision parent)" in count
    )
    assert "more than 25%" in share


def test_a_revision_can_lower_its_limits() -> None:
    case = _case(managed=100, kept=95, guard=DeletionGuard(max_deletions=2))
    parent = GuardLimit.of(DeletionGuard(), source="parent")

    (reason,) = _violations(case, limits=[parent])

    assert "more than the limit of 2" in reason


def test_a_source_may_set_one_limit_only() -> None:
    force = limits_in_force(
        [
            GuardLimit.of(DeletionGuard(), source="revision"),
            GuardLimit(source="settings", max_fraction=0.1),
        ]
    )

    assert (force.max_deletions, force.max_fraction) == (20, 0.1)
    assert (force.max_deletions_source, force.max_fraction_source) == ("revision", "settings")


# --- the sliding window -------------------------------------------------------------------------


def test_deletions_in_the_window_count_towards_max_deletions() -> None:
    case = _case(managed=100, kept=94)  # 6 now

    (reason,) = _violations(case, window=_window((15, timedelta(hours=3))))

    assert "deletes 6 objects and 15 were deleted in the last 24 hours" in reason


def test_deletions_older_than_the_window_do_not_count() -> None:
    case = _case(managed=100, kept=94)

    assert _violations(case, window=_window((15, timedelta(hours=25)))) == []


def test_deletions_allowed_by_an_override_do_not_count() -> None:
    case = _case(managed=100, kept=94)

    assert _violations(case, window=_window((15, timedelta(hours=1)), allowed=True)) == []


def test_the_window_fraction_is_of_the_managed_objects_at_its_start() -> None:
    # 24 of 100 deleted earlier; 18 of the 76 left now: 42 of 100 in the window (alone: 24%).
    case = _case(managed=76, kept=58, guard=DeletionGuard(max_deletions=1000))

    (reason,) = _violations(case, window=_window((24, timedelta(hours=2))))

    assert "deletes 18 of 76 managed assignments after 24 deleted" in reason
    assert "(of 100 managed then): 42%" in reason


def test_the_same_plan_passes_without_the_window() -> None:
    case = _case(managed=76, kept=58, guard=DeletionGuard(max_deletions=1000))

    assert _violations(case) == []
