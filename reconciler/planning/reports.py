"""One report per reconcile pass: what changed, what drifted, what failed.

Pure values for the controller's logs, Slack summaries and metrics. ``changes`` are the
operations of the plan for the target revision (with their results when applied); ``drift``
are the differences between live state and the last *applied* revision's desired state, that
is, what someone changed by hand since; ``failures`` are the operations that failed, with AWS's
reasons, and the pass-level error when the pass could not complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.planning.outcomes import Outcome, Status
from reconciler.planning.plans import Plan
from reconciler.planning.rendering import describe


class Mode(StrEnum):
    """What a pass may do: ``heal`` applies (new revisions and drift); ``detect`` only reports."""

    HEAL = "heal"
    DETECT = "detect"


class PassStatus(StrEnum):
    """How a pass ended, from best to worst."""

    IN_SYNC = "in_sync"
    """Nothing to do: live state matches the revision in force."""
    APPLIED = "applied"
    """Changes (a new revision or healed drift) were applied, every operation succeeded."""
    DRIFTED = "drifted"
    """Drift was found and not healed (detect mode, or writes suspended)."""
    FAILED = "failed"
    """Some operations failed; the rest were applied."""
    INVALID = "invalid"
    """The revision was refused (invalid, unsigned, or refused by the deletion guard)."""
    ERROR = "error"
    """The pass could not complete (Git, AWS or the lock unavailable)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportItem:
    """One change, drift item or failure: ``key`` is the stable plan key."""

    action: str
    kind: str
    key: str
    description: str
    status: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PassReport:
    """The report of one pass.

    ``revision`` is the commit the pass worked on; ``applied_revision`` the revision in force
    after it (the last one applied successfully); ``seconds`` the pass's wall time;
    ``api_calls`` the AWS calls made, by operation; ``error`` the pass-level failure, if any.
    """

    pass_id: str
    started_at: datetime
    seconds: float
    mode: Mode
    status: PassStatus
    revision: str | None
    applied_revision: str | None
    changes: tuple[ReportItem, ...] = ()
    drift: tuple[ReportItem, ...] = ()
    failures: tuple[ReportItem, ...] = ()
    notes: tuple[str, ...] = ()
    api_calls: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    suspended: bool = False


def plan_items(
    plan: Plan, *, account_names: Mapping[str, str], outcome: Outcome | None = None
) -> tuple[ReportItem, ...]:
    """The operations of ``plan`` as report items, with their results when ``outcome`` is given."""
    if outcome is None:
        return tuple(
            ReportItem(
                action=operation.action.value,
                kind=operation.kind.value,
                key=operation.key,
                description=describe(operation, account_names),
            )
            for operation in plan.operations
        )
    return tuple(
        ReportItem(
            action=result.operation.action.value,
            kind=result.operation.kind.value,
            key=result.operation.key,
            description=describe(result.operation, account_names),
            status=result.status.value,
            reason=result.reason,
        )
        for result in outcome.results
    )


def failed_items(items: tuple[ReportItem, ...]) -> tuple[ReportItem, ...]:
    """The items whose operation failed."""
    return tuple(item for item in items if item.status == Status.FAILED.value)
