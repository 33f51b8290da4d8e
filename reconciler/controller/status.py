"""The status of a running controller as one value: what the status page (``/``) shows and
``/api/status`` returns.

Pure: :func:`collect_status` takes the controller's values (its state, the records of its
last passes, its settings' facts) and returns a :class:`StatusView`; :func:`status_json` makes
that a JSON document. Nothing here reads a clock, a file or the network, so the page shows
exactly what the values say. Rendering the HTML is ``status_page``.

Nothing secret enters the view: the repository is shown without the user information of its
URL (tokens, passwords), the Slack webhook URL and other settings are never read, and the
repository's web URL must be a plain ``http(s)://`` URL (the settings refuse others).

The JSON document (``version`` changes only when a field changes meaning or goes away; fields
may be added)::

    {
      "version": 1,
      "generated_at": "<ISO-8601 UTC>",
      "controller": {"instance_arn": str | null, "region": str | null,
                     "mode": "heal" | "detect", "suspended": bool, "ready": bool,
                     "lock": "none" | "file" | "dynamodb", "lock_holder": str | null},
      "repository": {"location": str, "ref": str | null, "path": str,
                     "web_url": str | null},
      "applied": revision | null,          # the last applied revision, in force
      "attempted": revision | null,        # the last revision seen (attempted)
      "passes": [pass],                    # newest first
      "drift": {"pass_id": str, "found_at": "<ISO-8601>", "current": bool,
                "items": [item]} | null,   # the newest pass that found drift
      "failures": [item],                  # the last pass's, AWS's reason in "reason"
      "refusals": [{"revision": revision | null, "phase": str, "reason": str,
                    "first_at": "<ISO-8601>", "last_at": "<ISO-8601>"}],  # newest first
      "pending": [item],                   # what the last pass left to do
      "unmanaged": [{"kind", "key", "description", "reason", "remedy", "privileged"}],
      "notes": [str],                      # the last pass's
      "access_report": "/access" | null    # the live access report, once live state was read
    }

A ``revision`` is ``{"sha": str, "since": "<ISO-8601>" | null, "url": str | null}`` (``url``
is ``<web_url>/commit/<sha>``); a ``pass`` is ``{"pass_id", "started_at", "seconds",
"status", "revision", "applied_revision", "api_calls": int, "changes": int, "drift": int,
"failures": int, "error": str | null, "phase": str | null, "read": "complete" | "hybrid" |
null}`` (``read``: how the pass read live state, ``PassReport.read``); an ``item`` is ``{"action",
"kind", "key", "description", "status", "reason", "detail": [str]}`` as in the pass report
(``report_json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.adapters.source import redact_credentials
from reconciler.adapters.source.urls import REDACTED
from reconciler.controller.records import PassRecords, RefusedRevision
from reconciler.controller.state import ControllerState
from reconciler.planning.outcomes import Status
from reconciler.planning.plans import Unmanaged
from reconciler.planning.rendering import unmanaged_json
from reconciler.planning.reports import Mode, PassReport, ReportItem, item_json

__all__ = [
    "ACCESS_REPORT_PATH",
    "JSON_VERSION",
    "ControllerFacts",
    "DriftView",
    "PassView",
    "RefusalView",
    "RepositoryView",
    "RevisionView",
    "StatusView",
    "collect_status",
    "commit_url",
    "shown_repository",
    "status_json",
]

JSON_VERSION = 1
ACCESS_REPORT_PATH = "/access"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepositoryView:
    """Where the desired state comes from: ``location`` without credentials, ``ref``,
    ``path`` (the folder), ``web_url`` (``https://github.com/org/access``) or ``None``."""

    location: str
    ref: str | None
    path: str
    web_url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerFacts:
    """What the page says about the controller itself: the Identity Center ``instance_arn``
    and ``region`` (``None`` when unknown), ``mode``, ``suspended`` (writes paused),
    ``ready`` (live state was read), the writer ``lock`` kind and who held it last
    (``lock_holder``)."""

    instance_arn: str | None
    region: str | None
    mode: Mode
    suspended: bool
    ready: bool
    lock: str
    lock_holder: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RevisionView:
    """A commit: ``sha`` (full), ``since`` when it took its place (``None``: unknown),
    ``url`` its page in the repository's web interface (``None`` without a web URL)."""

    sha: str
    since: datetime | None
    url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PassView:
    """One pass in the list of the last passes (counts of its report's sections)."""

    pass_id: str
    started_at: datetime
    seconds: float
    status: str
    revision: RevisionView | None
    applied_revision: RevisionView | None
    api_calls: int
    changes: int
    drift: int
    failures: int
    error: str | None
    phase: str | None
    read: str | None = None
    """``complete`` or ``hybrid`` (``LiveRead``); ``None`` when the pass read no live state."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftView:
    """The drift the newest pass that found any found: ``current`` when that pass is the last
    one (else a later pass found none); ``items`` with their results (``succeeded``: healed)."""

    pass_id: str
    found_at: datetime
    current: bool
    items: tuple[ReportItem, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RefusalView:
    """A refused revision (:class:`~reconciler.controller.records.RefusedRevision`) with its
    link."""

    revision: RevisionView | None
    phase: str
    reason: str
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusView:
    """Everything the status page shows; see the module docstring for each part."""

    generated_at: datetime
    controller: ControllerFacts
    repository: RepositoryView
    applied: RevisionView | None
    attempted: RevisionView | None
    passes: tuple[PassView, ...]
    drift: DriftView | None
    failures: tuple[ReportItem, ...]
    refusals: tuple[RefusalView, ...]
    pending: tuple[ReportItem, ...]
    unmanaged: tuple[Unmanaged, ...]
    notes: tuple[str, ...]
    access_report: str | None
    last_pass: PassView | None


def shown_repository(repository: str) -> str:
    """``repository`` without the user information of its URL: ``https://user:token@host/r``
    is shown ``https://host/r`` (``reconciler.adapters.source.redact_credentials`` finds it);
    an ssh account name (``ssh://git@host/r``, ``git@host:r``) is not a secret and stays."""
    return redact_credentials(repository).replace(f"{REDACTED}@", "")


def commit_url(web_url: str | None, sha: str | None) -> str | None:
    """``<web_url>/commit/<sha>``, or ``None`` without a web URL or for anything but a commit
    SHA (lowercase hex)."""
    if not web_url or not sha or not set(sha) <= _HEX:
        return None
    return f"{web_url.rstrip('/')}/commit/{sha}"


def _revision(sha: str | None, since: datetime | None, web_url: str | None) -> RevisionView | None:
    if sha is None:
        return None
    return RevisionView(sha=sha, since=since, url=commit_url(web_url, sha))


def _pass_view(report: PassReport, web_url: str | None) -> PassView:
    return PassView(
        pass_id=report.pass_id,
        started_at=report.started_at,
        seconds=report.seconds,
        status=report.status.value,
        revision=_revision(report.revision, None, web_url),
        applied_revision=_revision(report.applied_revision, None, web_url),
        api_calls=sum(report.api_calls.values()),
        changes=len(report.changes),
        drift=len(report.drift),
        failures=len(report.failures),
        error=report.error,
        phase=report.phase,
        read=report.read.value if report.read is not None else None,
    )


def _drift(passes: Sequence[PassReport]) -> DriftView | None:
    for index in range(len(passes) - 1, -1, -1):
        report = passes[index]
        if report.drift:
            return DriftView(
                pass_id=report.pass_id,
                found_at=report.started_at,
                current=index == len(passes) - 1,
                items=report.drift,
            )
    return None


def _refusal(refused: RefusedRevision, web_url: str | None) -> RefusalView:
    return RefusalView(
        revision=_revision(refused.revision, None, web_url),
        phase=refused.phase,
        reason=refused.reason,
        first_at=refused.first_at,
        last_at=refused.last_at,
    )


_NOT_DONE = (None, Status.SKIPPED.value)


def collect_status(
    *,
    state: ControllerState,
    records: PassRecords,
    controller: ControllerFacts,
    repository: RepositoryView,
    live_read: bool,
    now: datetime,
) -> StatusView:
    """The status of a controller whose state is ``state`` and whose last passes are
    ``records``; ``live_read`` tells whether live state was read (then the access report
    exists); ``now`` is the time the view is of (UTC).

    ``failures`` are the last pass's, the refusals of revisions aside (they are
    ``refusals``); ``pending`` the operations of the last pass not done (not attempted, or
    skipped); ``drift`` the newest pass's that found any.
    """
    web_url = repository.web_url
    last = records.last
    pending: tuple[ReportItem, ...] = ()
    failures: tuple[ReportItem, ...] = ()
    if last is not None:
        pending = tuple(item for item in (*last.changes, *last.drift) if item.status in _NOT_DONE)
        failures = tuple(item for item in last.failures if item.kind != "revision")
    return StatusView(
        generated_at=now,
        controller=controller,
        repository=repository,
        applied=_revision(state.last_applied_revision, state.last_applied_at, web_url),
        attempted=_revision(state.last_attempted_revision, state.last_attempted_at, web_url),
        passes=tuple(_pass_view(report, web_url) for report in reversed(records.passes)),
        drift=_drift(records.passes),
        failures=failures,
        refusals=tuple(_refusal(entry, web_url) for entry in reversed(records.refusals)),
        pending=pending,
        unmanaged=last.unmanaged if last is not None else (),
        notes=last.notes if last is not None else (),
        access_report=ACCESS_REPORT_PATH if live_read else None,
        last_pass=_pass_view(last, web_url) if last is not None else None,
    )


def _time(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _revision_json(revision: RevisionView | None) -> dict[str, Any] | None:
    if revision is None:
        return None
    return {"sha": revision.sha, "since": _time(revision.since), "url": revision.url}


def _pass_json(view: PassView) -> dict[str, Any]:
    return {
        "pass_id": view.pass_id,
        "started_at": view.started_at.isoformat(),
        "seconds": round(view.seconds, 3),
        "status": view.status,
        "revision": _revision_json(view.revision),
        "applied_revision": _revision_json(view.applied_revision),
        "api_calls": view.api_calls,
        "changes": view.changes,
        "drift": view.drift,
        "failures": view.failures,
        "error": view.error,
        "phase": view.phase,
        "read": view.read,
    }


def status_json(view: StatusView) -> dict[str, Any]:
    """``view`` as the JSON document of the module docstring."""
    facts = view.controller
    drift = view.drift
    return {
        "version": JSON_VERSION,
        "generated_at": view.generated_at.isoformat(),
        "controller": {
            "instance_arn": facts.instance_arn,
            "region": facts.region,
            "mode": facts.mode.value,
            "suspended": facts.suspended,
            "ready": facts.ready,
            "lock": facts.lock,
            "lock_holder": facts.lock_holder,
        },
        "repository": {
            "location": view.repository.location,
            "ref": view.repository.ref,
            "path": view.repository.path,
            "web_url": view.repository.web_url,
        },
        "applied": _revision_json(view.applied),
        "attempted": _revision_json(view.attempted),
        "passes": [_pass_json(entry) for entry in view.passes],
        "drift": None
        if drift is None
        else {
            "pass_id": drift.pass_id,
            "found_at": drift.found_at.isoformat(),
            "current": drift.current,
            "items": [item_json(item) for item in drift.items],
        },
        "failures": [item_json(item) for item in view.failures],
        "refusals": [
            {
                "revision": _revision_json(entry.revision),
                "phase": entry.phase,
                "reason": entry.reason,
                "first_at": entry.first_at.isoformat(),
                "last_at": entry.last_at.isoformat(),
            }
            for entry in view.refusals
        ],
        "pending": [item_json(item) for item in view.pending],
        "unmanaged": unmanaged_json(view.unmanaged),
        "notes": list(view.notes),
        "access_report": view.access_report,
    }
