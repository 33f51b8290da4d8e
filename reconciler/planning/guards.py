"""Safety rules a plan must pass before anything is applied: the deletion guard.

It counts only what the reconciler manages: the live objects in the revision's prune scope
(``pruning.prune_scope``: kind's prune switch on, not protected, permission sets carrying the
managed-by tag, assignments of declared sets or of sets being deleted, memberships of declared
groups...). Live objects outside the scope are left out of every count, and refusals say how
many. Deletions are counted gross: creating objects never offsets deleting others.

Rules, for the limits in force (below), where *window* is the deletions already made within the
sliding window (the controller records them; the CLI has none):

1. **max_deletions**: the plan's deletions plus the window's, all kinds together, may not exceed
   ``max_deletions``.
2. **max_fraction**: per kind, the plan's deletions plus the window's may not exceed
   ``max_fraction`` of the managed objects at the window's start, counted as the managed objects
   now plus those deleted in the window (objects created within the window count as if they
   were there at its start). Checked when that count is at least ``FRACTION_APPLIES_FROM``, so
   removing one of two assignments in a small organization is not refused by this rule.
3. **emptied kind**: a plan that deletes every managed object of a kind and creates none of
   that kind is refused whatever their number, one of one included: an emptied or truncated
   file looks exactly like that. (Replacing every object, a rename, creates some and passes;
   assignments removed because their ``expires_at`` passed, still declared in the file, are
   left out of this rule: removing the only one on expiry passes.)

Limits in force: the strictest (smallest ``max_deletions``, smallest ``max_fraction``) of the
target revision's ``reconciler.json`` and every other source given (the last applied revision's
``reconciler.json``, the controller's settings), so a commit can lower its limits but never
raise them. ``--allow-deletions`` (CLI) or the controller's ``allow_deletions_revision`` lifts
the guard for one run or one revision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.errors import PlanRefusedError
from reconciler.model.documents import DeletionGuard
from reconciler.model.resolving import DesiredState
from reconciler.model.state import LiveState
from reconciler.model.wording import count, noun
from reconciler.planning.plans import Action, Kind, Plan
from reconciler.planning.pruning import live_counts, prune_scope

__all__ = [
    "FRACTION_APPLIES_FROM",
    "DeletionWindow",
    "GuardLimit",
    "RecordedDeletion",
    "check_deletion_guard",
    "deletion_guard_violations",
    "limits_in_force",
]

FRACTION_APPLIES_FROM = 10
"""The fraction rule applies to kinds with at least this many managed objects (window's start)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardLimit:
    """Limits from one source; ``None`` where that source sets none.

    ``source`` names it in refusals (``reconciler.json of revision 1a2b3c4``, ``the controller
    settings``); ``max_deletions`` is a count of objects, ``max_fraction`` a share from 0 to 1.
    """

    source: str
    max_deletions: int | None = None
    max_fraction: float | None = None

    @classmethod
    def of(cls, guard: DeletionGuard, *, source: str) -> GuardLimit:
        """The limits of a ``reconciler.json``'s ``deletion_guard``."""
        return cls(
            source=source, max_deletions=guard.max_deletions, max_fraction=guard.max_fraction
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsInForce:
    """The strictest limits of several sources, each with the source that set it."""

    max_deletions: int
    max_deletions_source: str
    max_fraction: float
    max_fraction_source: str


def limits_in_force(limits: Iterable[GuardLimit]) -> LimitsInForce:
    """The smallest ``max_deletions`` and the smallest ``max_fraction`` of ``limits`` (the first
    source wins a tie). Raises ``ValueError`` when no source sets one of them."""
    given = list(limits)
    counts = [
        (limit.max_deletions, limit.source) for limit in given if limit.max_deletions is not None
    ]
    shares = [
        (limit.max_fraction, limit.source) for limit in given if limit.max_fraction is not None
    ]
    if not counts or not shares:
        raise ValueError("the deletion guard needs max_deletions and max_fraction from a source")
    max_deletions, deletions_source = min(counts, key=lambda item: item[0])
    max_fraction, fraction_source = min(shares, key=lambda item: item[0])
    return LimitsInForce(
        max_deletions=max_deletions,
        max_deletions_source=deletions_source,
        max_fraction=max_fraction,
        max_fraction_source=fraction_source,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedDeletion:
    """Deletions that succeeded in one pass: ``count`` objects of ``kind``, applying
    ``revision`` (a commit SHA, or None), finished at ``at`` (timezone-aware, UTC).

    ``allowed`` is True when the guard was lifted for that revision (an audited override):
    such deletions were approved one by one and are not counted against the window.
    """

    kind: Kind
    count: int
    revision: str | None
    at: datetime
    allowed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DeletionWindow:
    """The sliding window: its length in ``seconds`` and every deletion recorded, of which the
    guard counts those made within ``seconds`` before ``now`` (timezone-aware) and not
    ``allowed``."""

    seconds: float
    now: datetime
    deletions: tuple[RecordedDeletion, ...] = ()

    def counted(self) -> tuple[RecordedDeletion, ...]:
        """The deletions counted against the limits (a record from the future, after a clock
        step back, counts too)."""
        start = self.now - timedelta(seconds=self.seconds)
        return tuple(
            record for record in self.deletions if record.at > start and not record.allowed
        )

    def describe(self) -> str:
        """``the last 24 hours`` (the window in words, for messages)."""
        seconds = self.seconds
        if seconds % 3600 == 0:
            hours = int(seconds // 3600)
            return f"the last {count(hours, 'hour')}"
        if seconds % 60 == 0:
            return f"the last {count(int(seconds // 60), 'minute')}"
        return f"the last {seconds:g} {noun(1 if seconds == 1 else 2, 'second')}"


_LEFT_OUT_WHY = (
    "(outside the prune scope, protected, or made by hand since the last applied revision)"
)
"""Why live objects are left out of the guard's counts, as refusals say it."""


def _noun(kind: Kind, number: int) -> str:
    return noun(number, kind.value.replace("_", " "))


def _left_out(kind: Kind, unmanaged: int) -> str:
    if not unmanaged:
        return ""
    return f"; {unmanaged} live {_noun(kind, unmanaged)} left out of the count {_LEFT_OUT_WHY}"


def deletion_guard_violations(
    plan: Plan,
    desired: DesiredState,
    live: LiveState,
    *,
    limits: Sequence[GuardLimit] = (),
    window: DeletionWindow | None = None,
    undeclared: frozenset[str] = frozenset(),
) -> list[str]:
    """Why the deletion guard refuses ``plan`` (empty when it passes), one sentence per rule.

    ``plan`` must be the plan of ``desired`` against ``live``. The limits in force are the
    strictest of ``desired.config.deletion_guard`` (the target revision's) and ``limits``;
    ``window`` holds the deletions already made (none: this plan alone is judged).
    ``undeclared`` holds the keys (``Operation.key``) of live objects that no applied revision
    declares, made by hand since (the controller passes the deletions of its drift plan): their
    deletion removes access the repository never granted, so they are left out of every count,
    deletions and managed objects alike.
    """
    revision = plan.revision[:12] if plan.revision else "the working tree"
    force = limits_in_force(
        [
            GuardLimit.of(
                desired.config.deletion_guard, source=f"reconciler.json of revision {revision}"
            ),
            *limits,
        ]
    )
    planned = Counter(
        operation.kind for operation in plan.deletions() if operation.key not in undeclared
    )
    hand_made = Counter(
        operation.kind for operation in plan.deletions() if operation.key in undeclared
    )
    created = Counter(
        operation.kind for operation in plan.operations if operation.action is Action.CREATE
    )
    counted = window.counted() if window is not None else ()
    past = Counter[Kind]()
    for record in counted:
        past[record.kind] += record.count
    during = window.describe() if window is not None else ""
    scope = prune_scope(desired, live)
    managed = Counter(scope.counts()) - hand_made
    # Expired assignments still declared are removed on purpose: not a sign of an emptied file.
    expired = Counter(
        {Kind.ASSIGNMENT: len(desired.expired & scope.assignments & live.state.assignments)}
    )
    total_live = live_counts(live)
    reasons: list[str] = []

    total = sum(planned.values())
    total_past = sum(past.values())
    if total and total + total_past > force.max_deletions:
        managed_all = sum(managed.values())
        unmanaged_all = sum(total_live.values()) - managed_all
        past_text = (
            f" and {total_past} {noun(total_past, 'was')} deleted in {during}" if total_past else ""
        )
        left_out = (
            f"; {count(unmanaged_all, 'live object')} left out {_LEFT_OUT_WHY}"
            if unmanaged_all
            else ""
        )
        reasons.append(
            f"the plan deletes {count(total, 'object')}{past_text}, more than the limit of "
            f"{force.max_deletions} (deletion_guard.max_deletions, {force.max_deletions_source}); "
            f"{count(managed_all, 'object')} {noun(managed_all, 'is')} managed{left_out}"
        )
    for kind, deleting in sorted(planned.items()):
        now_managed = managed[kind]
        unmanaged = total_live[kind] - now_managed
        at_start = max(now_managed + past[kind], deleting)
        deleted = deleting + past[kind]
        if at_start >= FRACTION_APPLIES_FROM and deleted / at_start > force.max_fraction:
            past_text = (
                f" after {past[kind]} deleted in {during} (of {at_start} managed then)"
                if past[kind]
                else ""
            )
            reasons.append(
                f"the plan deletes {deleting} of {now_managed} managed {_noun(kind, now_managed)}"
                f"{past_text}: {deleted / at_start:.0%}, more than {force.max_fraction:.0%} "
                f"(deletion_guard.max_fraction, {force.max_fraction_source})"
                f"{_left_out(kind, unmanaged)}"
            )
        elif deleting >= now_managed > expired[kind] and not created[kind]:
            reasons.append(
                f"the plan deletes all {now_managed} managed {_noun(kind, now_managed)} and "
                f"creates none{_left_out(kind, unmanaged)}: is a file emptied or truncated?"
            )
    return reasons


def check_deletion_guard(
    plan: Plan,
    desired: DesiredState,
    live: LiveState,
    *,
    allow_deletions: bool,
    limits: Sequence[GuardLimit] = (),
    window: DeletionWindow | None = None,
) -> None:
    """Raise ``PlanRefusedError`` when the deletion guard refuses ``plan`` (arguments as in
    ``deletion_guard_violations``); the message says to run again with ``--allow-deletions``.

    ``allow_deletions`` lifts the guard (the CLI's ``--allow-deletions``).
    """
    if allow_deletions:
        return
    reasons = deletion_guard_violations(plan, desired, live, limits=limits, window=window)
    if reasons:
        joined = "; ".join(reasons)
        stop = "" if joined.endswith(("?", ".")) else "."
        raise PlanRefusedError(
            f"deletion guard: {joined}{stop} Nothing was applied. If these "
            "deletions are intended, run again with --allow-deletions."
        )
