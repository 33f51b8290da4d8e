"""One report per reconcile pass: what changed, what drifted, what failed.

Pure values for the controller's logs, Slack summaries and metrics. ``changes`` are the
operations of the plan for the revision in force (the target revision when it is accepted, else
the last applied one), with their results when applied; ``drift`` are the differences between
live state and the last *applied* revision's desired state, that is, what someone changed by
hand since, with their results when healed; ``failures`` are the operations that failed, with
AWS's reasons, and the pass-level error when the pass could not complete. An item is listed
once: a hand change that the revision in force heals is drift, not a change too
(``pass_items``). ``access`` is the effect of ``changes`` on who can sign in where
(``Plan.access``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.model.wording import count
from reconciler.planning.access import route_json
from reconciler.planning.details import detail_lines
from reconciler.planning.escaping import one_line
from reconciler.planning.onboarding import (
    Onboarding,
    onboarding_heading,
    onboarding_json,
    onboarding_notes,
)
from reconciler.planning.outcomes import OperationResult, Outcome, Status
from reconciler.planning.plans import Operation, Plan, Unmanaged
from reconciler.planning.rendering import (
    access_entries,
    access_line,
    describe,
    unmanaged_json,
    unmanaged_marker,
)


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
    """Drift was found and not healed (detect mode, or writes suspended), or unmanaged objects
    exist while the revision says ``"unmanaged": "fail"`` (they are never healed)."""
    PENDING = "pending"
    """The revision in force has changes not applied yet (detect mode, writes suspended, or the
    pass stopped before applying them), and nothing drifted."""
    FAILED = "failed"
    """Some operations failed; the rest were applied."""
    ABANDONED = "abandoned"
    """The writer lock was lost (taken over, or its lease about to lapse) during the apply:
    writing stopped, the operations not started were skipped, and the revision was not
    recorded as applied (phase ``lock``)."""
    INVALID = "invalid"
    """The revision was refused (invalid, unsigned, or refused by the deletion guard)."""
    ERROR = "error"
    """The pass could not complete (Git, AWS or the lock unavailable)."""

    @property
    def severity(self) -> int:
        """Rank from best (0, ``in_sync``) to worst (``error``): the order of declaration."""
        return list(PassStatus).index(self)

    @property
    def converged(self) -> bool:
        """Whether live state matched the revision in force at the end of the pass."""
        return self in (PassStatus.IN_SYNC, PassStatus.APPLIED)

    @property
    def completed(self) -> bool:
        """Whether the pass did its work: read, planned and applied (or reported) without error.

        ``invalid`` is not completed: a person must fix the revision.
        """
        return self.severity <= PassStatus.PENDING.severity


class LiveRead(StrEnum):
    """How a pass read the account assignments of live state (the controller's choice; see
    ``reconciler.adapters.aws.reading.read_live_state``)."""

    COMPLETE = "complete"
    """Per permission set: every provisioned (set, account) pair, blind to nothing."""
    HYBRID = "hybrid"
    """Per principal, given the pass's previous read: fewer calls, blind only to an assignment
    of a principal created and deleted between the two reads that shares its (set, account)
    with a live principal's assignment, until the next complete read."""


def worst(statuses: Iterable[PassStatus]) -> PassStatus:
    """The worst of ``statuses`` (``in_sync`` for none)."""
    return max(statuses, key=lambda status: status.severity, default=PassStatus.IN_SYNC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportItem:
    """One change, drift item or failure: ``key`` is the stable plan key; ``detail`` the lines
    a plan shows under the operation (``managed_policies: -arn:…``, ``session_duration: PT4H
    (4 hours)``, see ``reconciler.planning.details``), none for failures."""

    action: str
    kind: str
    key: str
    description: str
    status: str | None = None
    reason: str | None = None
    detail: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessItem:
    """One access gained or lost: ``user`` (a user name) ``gained`` (else lost) the permission
    set ``permission_set`` in account ``account_id`` (12 digits; ``account_name`` None when
    unknown) ``via`` a group (its name) or directly (None); ``privileged`` when the set matches
    ``privileged_permission_sets``; ``description`` the line plans print."""

    gained: bool
    user: str
    account_id: str
    account_name: str | None
    permission_set: str
    via: str | None
    privileged: bool
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PassReport:
    """The report of one pass.

    ``revision`` is the commit the pass worked on (the newest fetched; ``None`` when the
    repository could not be read); ``applied_revision`` the last revision applied after the
    pass (the last good one, in force and the base of drift detection); ``started_at`` is
    timezone-aware UTC; ``seconds`` the pass's wall time; ``api_calls`` the AWS calls made, by
    operation; ``error`` the pass-level failure, if any, and ``phase`` where it happened
    (``fetch``, ``verify``, ``load``, ``read``, ``guard``, ``lock`` (also when the lock was lost
    during the apply: status ``abandoned``), ``internal``); ``suspended``
    whether writes were paused by the suspend switch; ``unmanaged`` the live objects beside the
    revision in force, which the reconciler leaves alone (``planning.unmanaged``); ``read``
    how live state was read (``LiveRead``), ``None`` when the pass did not read it.
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
    phase: str | None = None
    suspended: bool = False
    unmanaged: tuple[Unmanaged, ...] = ()
    access: tuple[AccessItem, ...] = ()
    onboarding: Onboarding | None = None
    """The users the pass created (or, not applied, would create) and what AWS does not do for
    them (``reconciler.planning.onboarding``); None when it creates none."""
    read: LiveRead | None = None
    """How the pass read live state; ``None`` when it did not (or the read failed)."""


def access_items(plan: Plan | None, *, account_names: Mapping[str, str]) -> tuple[AccessItem, ...]:
    """The access ``plan`` gives and takes, privileged gains first, then the other gains, then
    the losses (empty when there is no plan or its access was not computed)."""
    if plan is None or plan.access is None:
        return ()
    changes = plan.access
    return tuple(
        AccessItem(
            gained=gained,
            user=grant.user,
            account_id=grant.account_id,
            account_name=account_names.get(grant.account_id),
            permission_set=grant.permission_set,
            via=grant.via,
            privileged=changes.is_privileged(grant),
            description=access_line(grant, gained=gained, account_names=account_names),
        )
        for grant, gained in access_entries(changes)
    )


def plan_items(
    plan: Plan, *, account_names: Mapping[str, str], outcome: Outcome | None = None
) -> tuple[ReportItem, ...]:
    """The operations of ``plan`` as report items, with their results when ``outcome`` is given."""
    if outcome is None:
        return tuple(_item(operation, account_names, None) for operation in plan.operations)
    return tuple(_item(result.operation, account_names, result) for result in outcome.results)


def pass_items(
    changes: Plan | None,
    drift: Plan | None,
    *,
    account_names: Mapping[str, str],
    outcome: Outcome | None = None,
) -> tuple[tuple[ReportItem, ...], tuple[ReportItem, ...]]:
    """The ``(changes, drift)`` items of a pass, each operation listed once.

    ``changes`` is the plan of the revision in force (applied with ``outcome``, when given);
    ``drift`` the plan of the last applied revision against live state. An operation of
    ``changes`` equal to one of ``drift`` (the same key, the same content) is a hand change
    being healed: it is listed under drift only, with its result. With no new revision the two
    plans are one and every item is drift; operations of a new revision are changes.
    """
    results: list[tuple[Operation, OperationResult | None]]
    if outcome is not None:
        results = [(result.operation, result) for result in outcome.results]
    else:
        results = [(operation, None) for operation in changes.operations] if changes else []
    by_key: dict[str, list[int]] = defaultdict(list)
    for index, (operation, _) in enumerate(results):
        by_key[operation.key].append(index)
    healed: set[int] = set()
    drift_items = []
    for operation in drift.operations if drift else ():
        match = next(
            (
                index
                for index in by_key.get(operation.key, ())
                if index not in healed and results[index][0] == operation
            ),
            None,
        )
        if match is not None:
            healed.add(match)
        result = results[match][1] if match is not None else None
        drift_items.append(_item(operation, account_names, result))
    change_items = tuple(
        _item(operation, account_names, result)
        for index, (operation, result) in enumerate(results)
        if index not in healed
    )
    return change_items, tuple(drift_items)


def _item(
    operation: Operation, account_names: Mapping[str, str], result: OperationResult | None
) -> ReportItem:
    return ReportItem(
        action=operation.action.value,
        kind=operation.kind.value,
        key=operation.key,
        description=describe(operation, account_names),
        status=result.status.value if result is not None else None,
        reason=result.reason if result is not None else None,
        detail=detail_lines(operation),
    )


def failed_items(items: tuple[ReportItem, ...]) -> tuple[ReportItem, ...]:
    """The items whose operation failed."""
    return tuple(item for item in items if item.status == Status.FAILED.value)


def item_json(item: ReportItem) -> dict[str, Any]:
    """A change, drift or failure item as every JSON document writes it: ``{"action", "kind",
    "key", "description", "status", "reason", "detail": [str]}``."""
    return {
        "action": item.action,
        "kind": item.kind,
        "key": item.key,
        "description": item.description,
        "status": item.status,
        "reason": item.reason,
        "detail": list(item.detail),
    }


def _access_json(item: AccessItem) -> dict[str, Any]:
    return {
        "user": item.user,
        "account_id": item.account_id,
        "account_name": item.account_name,
        "permission_set": item.permission_set,
        **route_json(item.via),
        "privileged": item.privileged,
    }


def report_json(report: PassReport) -> dict[str, Any]:
    """``report`` as a JSON-ready document (``started_at`` ISO-8601, ``seconds`` rounded to ms).

    Shape: ``{"pass_id", "started_at", "seconds", "mode", "status", "revision",
    "applied_revision", "suspended", "error", "phase", "changes": [item], "drift": [item],
    "failures": [item], "notes": [str], "api_calls": {operation: count}, "unmanaged":
    [{"kind", "key", "description", "reason", "remedy"}], "access": {"gained": [grant],
    "lost": [grant]}}``; an item is ``{"action", "kind", "key", "description", "status",
    "reason", "detail": [str]}``, a grant ``{"user", "account_id", "account_name",
    "permission_set", "via", "group", "privileged"}`` as in ``plan --format json``;
    ``"onboarding"`` as in ``plan --format json`` (``onboarding.onboarding_json``), null when no
    user is created; ``"read"``: ``"complete"`` or ``"hybrid"`` (``LiveRead``), null when the
    pass did not read live state.
    """
    return {
        "pass_id": report.pass_id,
        "started_at": report.started_at.isoformat(),
        "seconds": round(report.seconds, 3),
        "mode": report.mode.value,
        "status": report.status.value,
        "revision": report.revision,
        "applied_revision": report.applied_revision,
        "suspended": report.suspended,
        "error": report.error,
        "phase": report.phase,
        "changes": [item_json(item) for item in report.changes],
        "drift": [item_json(item) for item in report.drift],
        "failures": [item_json(item) for item in report.failures],
        "notes": list(report.notes),
        "api_calls": dict(report.api_calls),
        "unmanaged": unmanaged_json(report.unmanaged),
        "access": {
            "gained": [_access_json(item) for item in report.access if item.gained],
            "lost": [_access_json(item) for item in report.access if not item.gained],
        },
        "onboarding": onboarding_json(report.onboarding),
        "read": report.read.value if report.read is not None else None,
    }


def report_text(report: PassReport) -> str:
    """``report`` as plain text for a terminal: a status line, then changes (with results),
    drift, access, failures, unmanaged objects and notes, one line each, the attribute detail
    of changes and drift indented under them. Every value is made one line
    (``escaping.one_line``): a name holding a newline cannot write a line of its own."""
    revision = (report.revision or "unknown")[:12]
    applied = (report.applied_revision or "none")[:12]
    lines = [
        f"pass {one_line(report.pass_id)}: {report.status.value} (mode {report.mode.value}"
        f"{', writes suspended' if report.suspended else ''}) at revision {revision}, "
        f"last applied {applied}, {report.seconds:.1f} s, "
        f"{count(sum(report.api_calls.values()), 'AWS call')}"
    ]
    if report.error:
        lines.append(_indented(f"error ({report.phase}): {report.error}", "  "))
    sections = (("changes", report.changes), ("drift", report.drift))
    for title, items in sections:
        if items:
            lines.append(f"{title}:")
            for item in items:
                suffix = f" [{item.status}]" if item.status else ""
                reason = f": {item.reason}" if item.reason else ""
                description = one_line(item.description)
                lines.append(_indented(f"  {description}{suffix}{reason}", "    "))
                lines.extend(f"      {one_line(line)}" for line in item.detail)
    lines.extend(_access_lines(report.access))
    failures = [
        item
        for item in report.failures
        if item.kind in ("pass", "revision") and not repeats_error(report, item)
    ]
    if failures:
        lines.append("failures:")
        lines.extend(
            _indented(f"  {one_line(item.description)}: {item.reason}", "    ") for item in failures
        )
    lines.extend(unmanaged_report_lines(report))
    if report.onboarding is not None:
        lines.append(one_line(onboarding_heading(report.onboarding)))
        lines.extend(f"  - {one_line(note)}" for note in onboarding_notes(report.onboarding))
    lines.extend(_indented(f"note: {note}", "  ") for note in report.notes)
    return "\n".join(lines)


def unmanaged_report_lines(report: PassReport) -> list[str]:
    """The report's unmanaged section in text: a heading, then a line an object (description:
    reason) and its remedy."""
    if not report.unmanaged:
        return []
    lines = [f"unmanaged ({count(len(report.unmanaged), 'live object')} left alone):"]
    for item in report.unmanaged:
        lines.append(
            f"  {one_line(item.description or item.key)}{unmanaged_marker(item)}: "
            f"{one_line(item.reason)}"
        )
        lines.append(f"    to manage: {one_line(item.remedy)}")
    return lines


MAX_ACCESS_LINES = 50
"""Access items listed in ``report_text`` before "… and N more" (``report_json`` lists all)."""


def _access_lines(items: tuple[AccessItem, ...]) -> list[str]:
    """``access: 2 gains (1 privileged), 1 loss`` then one line an item, privileged gains
    marked ``⚠ privileged``."""
    if not items:
        return []
    gains = [item for item in items if item.gained]
    privileged = sum(1 for item in gains if item.privileged)
    flagged = f" ({privileged} privileged)" if privileged else ""
    lines = [
        f"access: {count(len(gains), 'gain')}{flagged}, "
        f"{count(len(items) - len(gains), 'loss', 'losses')}"
    ]
    for item in items[:MAX_ACCESS_LINES]:
        marker = " ⚠ privileged" if item.privileged and item.gained else ""
        lines.append(f"  {'+' if item.gained else '-'} {one_line(item.description)}{marker}")
    rest = items[MAX_ACCESS_LINES:]
    if rest:
        cut = sum(1 for item in rest if item.gained and item.privileged)
        lines.append(f"  … and {len(rest)} more" + (f" ({cut} privileged)" if cut else ""))
    return lines


def repeats_error(report: PassReport, item: ReportItem) -> bool:
    """Whether the failure ``item`` only repeats the pass's ``error`` (the refused revision's
    or failed phase's own item): renderers show it once."""
    return (
        item.kind in ("pass", "revision")
        and bool(item.reason)
        and report.error is not None
        and str(item.reason) in report.error
    )


def _indented(text: str, indent: str) -> str:
    """``text`` with every line after the first indented by ``indent`` (one problem a line),
    each line made one line (``escaping.one_line``: a ``\\r`` cannot return to its start)."""
    first, *rest = text.split("\n")
    return "\n".join([one_line(first), *(indent + one_line(line) for line in rest)])
