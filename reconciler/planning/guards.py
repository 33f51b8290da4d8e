"""Safety rules a plan must pass before anything is applied.

The deletion guard refuses a plan that deletes more than ``deletion_guard.max_deletions``
objects in all, or more than ``deletion_guard.max_fraction`` of the live objects of one kind
(checked for kinds with at least ``FRACTION_APPLIES_FROM`` live objects, so that removing one
of two assignments in a small organization is not refused), or that would leave none of a
kind's live objects (at least two) with nothing created in their place: an emptied file in an
organization too small for the other two rules. An emptied or truncated file thus never wipes
access; ``--allow-deletions`` lifts the guard for one run.
"""

from __future__ import annotations

from collections import Counter

from reconciler.errors import PlanRefusedError
from reconciler.model.documents import DeletionGuard
from reconciler.model.state import LiveState
from reconciler.planning.plans import Action, Kind, Plan

FRACTION_APPLIES_FROM = 10


def _live_counts(live: LiveState) -> dict[Kind, int]:
    state = live.state
    return {
        Kind.USER: len(state.users),
        Kind.GROUP: len(state.groups),
        Kind.MEMBERSHIP: len(state.memberships),
        Kind.PERMISSION_SET: len(state.permission_sets),
        Kind.ASSIGNMENT: len(state.assignments),
    }


def deletion_guard_violations(plan: Plan, live: LiveState, guard: DeletionGuard) -> list[str]:
    """Why the deletion guard refuses ``plan`` (empty when it passes), one sentence per rule."""
    deletions = Counter(operation.kind for operation in plan.deletions())
    creations = Counter(
        operation.kind for operation in plan.operations if operation.action is Action.CREATE
    )
    total = sum(deletions.values())
    reasons = []
    if total > guard.max_deletions:
        reasons.append(
            f"the plan deletes {total} objects, more than the limit of {guard.max_deletions} "
            "(deletion_guard.max_deletions)"
        )
    live_counts = _live_counts(live)
    for kind, count in sorted(deletions.items()):
        existing = live_counts[kind]
        if existing >= FRACTION_APPLIES_FROM and count / existing > guard.max_fraction:
            reasons.append(
                f"the plan deletes {count} of {existing} {kind.value.replace('_', ' ')}s "
                f"({count / existing:.0%}), more than {guard.max_fraction:.0%} "
                "(deletion_guard.max_fraction)"
            )
        elif existing >= 2 and count == existing and not creations[kind]:
            reasons.append(
                f"the plan deletes all {existing} {kind.value.replace('_', ' ')}s and creates "
                "none: is a file emptied or truncated?"
            )
    return reasons


def check_deletion_guard(
    plan: Plan, live: LiveState, guard: DeletionGuard, *, allow_deletions: bool
) -> None:
    """Raise ``PlanRefusedError`` when the deletion guard refuses ``plan``.

    ``allow_deletions`` lifts the guard (the CLI's ``--allow-deletions``).
    """
    if allow_deletions:
        return
    reasons = deletion_guard_violations(plan, live, guard)
    if reasons:
        raise PlanRefusedError(
            "deletion guard: " + "; ".join(reasons) + ". Nothing was applied. If these "
            "deletions are intended, run again with --allow-deletions."
        )
